// Thread-local variables across CPUs: a sleep starts on CPU 0 and is moved to CPU 1 while it
// sleeps, so its entry and return probes fire on different CPUs (their events are in different
// per-CPU buffers). Every sleep must be matched, and each latency must be the sleep's.

import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Tracing } from '../live/harness.js';
import { READY_MS, skipUnless } from './lab.js';

const SLEEPS = 6;
const SLEEP_NS = 400_000_000;

function later(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A shell that starts one `sleep` pinned to CPU 0 per line it reads, and prints its pid: the
 * sleeps are its children, so a predicate on ppid traces these and no other process's.
 */
function sleepStarter(): ChildProcess {
  return spawn('/bin/sh', ['-c', `while read x; do taskset -c 0 sleep ${SLEEP_NS / 1e9} & echo $!; done`], { stdio: ['pipe', 'pipe', 'ignore'] });
}

/** Whether a process has ended (gone, or a zombie its parent has not reaped). */
function ended(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/** Starts `SLEEPS` sleeps on CPU 0 one after another, moving each to CPU 1 while it sleeps. */
async function migratingSleeps(starter: ChildProcess): Promise<void> {
  const pids: number[] = [];
  starter.stdout!.on('data', (b: Buffer) => pids.push(...b.toString().split('\n').filter((l) => l !== '').map(Number)));
  for (let i = 0; i < SLEEPS; i++) {
    starter.stdin!.write('\n');
    while (pids.length <= i) await later(5);
    await later(SLEEP_NS / 1e6 / 2);
    spawnSync('taskset', ['-p', '-c', '1', String(pids[i])], { stdio: 'ignore' });
    while (!ended(pids[i])) await later(10);
  }
}

async function latencies(entry: string, ret: string): Promise<void> {
  const starter = sleepStarter();
  const d = new Tracing([
    '-q',
    '-n', `${entry} /ppid == ${starter.pid} && execname == "sleep"/ { self->ts = timestamp; self->cpu = cpu; }`,
    '-n', `${ret} /self->ts/ { @n[self->cpu == cpu ? "stayed" : "migrated"] = count(); @lo = min(timestamp - self->ts); @hi = max(timestamp - self->ts); self->ts = 0; }`,
    '-n', 'END { printa("%s %@d\\n", @n); printa("min %@d\\n", @lo); printa("max %@d\\n", @hi); }',
    '-n', 'BEGIN { printf("begun\\n"); }',
  ]);
  await d.ready(READY_MS);
  // no probe fires before BEGIN, which under emulation can come seconds after dtrace looks ready
  await d.until(/^begun$/m, READY_MS);
  try {
    await migratingSleeps(starter);
  } finally {
    starter.kill();
  }
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
