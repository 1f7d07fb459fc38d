// Thread-local variables across CPUs: a sleep starts on CPU 0 and is moved to CPU 1 while it
// sleeps, so its entry and return probes fire on different CPUs (their events are in different
// per-CPU buffers). Every sleep must be matched, and each latency must be the sleep's.

import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Tracing } from '../live/harness.js';
import { READY_MS, skipUnless } from './lab.js';

const SLEEPS = 6;
const SLEEP_NS = 400_000_000;

function later(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `sleep` pinned to CPU 0, and moves it to CPU 1 while it sleeps; `SLEEPS` times. */
async function migratingSleeps(): Promise<void> {
  for (let i = 0; i < SLEEPS; i++) {
    const child = spawn('taskset', ['-c', '0', 'sleep', String(SLEEP_NS / 1e9)], { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    await later(SLEEP_NS / 1e6 / 2);
    spawnSync('taskset', ['-p', '-c', '1', String(child.pid)], { stdio: 'ignore' });
    await exited;
  }
}

async function latencies(entry: string, ret: string): Promise<void> {
  const d = new Tracing([
    '-q',
    '-n', `${entry} /execname == "sleep"/ { self->ts = timestamp; self->cpu = cpu; }`,
    '-n', `${ret} /self->ts/ { @n[self->cpu == cpu ? "stayed" : "migrated"] = count(); @lo = min(timestamp - self->ts); @hi = max(timestamp - self->ts); self->ts = 0; }`,
    '-n', 'END { printa("%s %@d\\n", @n); printa("min %@d\\n", @lo); printa("max %@d\\n", @hi); }',
  ]);
  await d.ready(READY_MS);
  await migratingSleeps();
  const r = await d.stop('SIGINT', 500);
  assert.equal(r.code, 0, r.stderr);
  const num = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(r.stdout)?.[1] ?? 0);
  assert.equal(num("stayed") + num("migrated"), SLEEPS, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.ok(num('migrated') >= 1, `no sleep moved CPU:\n${r.stdout}`);
  assert.ok(num('min') >= SLEEP_NS, r.stdout);
  assert.ok(num('max') < SLEEP_NS * 10, r.stdout);
}

test('syscall entry/return latency with self-> across CPUs', { skip: skipUnless('kernel') }, () =>
  latencies('syscall::clock_nanosleep:entry,syscall::nanosleep:entry', 'syscall::clock_nanosleep:return,syscall::nanosleep:return'));

test('fbt entry/return latency with self-> across CPUs', { skip: skipUnless('kprobes') }, () =>
  latencies('fbt::sys_clock_nanosleep:entry,fbt::sys_nanosleep:entry', 'fbt::sys_clock_nanosleep:return,fbt::sys_nanosleep:return'));
