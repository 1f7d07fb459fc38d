// The lockstat provider's acquire and release probes where the kernel has kprobe events (every
// lab guest): kprobes on the kernel's lock functions, as Oracle's dtrace traces them with fbt.
// A shell writing lines into a pipe takes and drops the pipe's mutex once a write; fork and
// wait take the task list's rw lock, as writer and as reader.

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { instancesOf, runDtrace } from '../live/harness.js';
import { READY_MS, kprobesOf, skipUnless } from './lab.js';

const WRITES = 300;

const dir = mkdtempSync(join(tmpdir(), 'lab-lockstat-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A shell script to run under -c (which splits its command at blanks: no shell parses it). */
function script(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return `sh ${path}`;
}

/** "<tag> <pid> <lock> <count>" lines: counts by tag, then by pid and lock. */
function counts(stdout: string, tag: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const m = /^(\w+) (\d+) (\S+) (\d+)$/.exec(line);
    if (m !== null && m[1] === tag) out.set(`${m[2]} ${m[3]}`, Number(m[4]));
  }
  return out;
}

test(`lockstat adaptive-acquire and adaptive-release: every mutex a shell and cat take over ${WRITES} pipe writes taken by mutex_lock() is released as often, the pipe's at least once a write`, { skip: skipUnless('kernel', 'kprobes') }, () => {
  const r = runDtrace([
    '-q',
    '-n', 'lockstat:::adaptive-acquire /progenyof($target)/ { @a[pid, args[0]] = count(); }',
    '-n', 'lockstat:::adaptive-release /progenyof($target)/ { @r[pid, args[0]] = count(); }',
    '-n', 'END { printa("a %d %p %@d\\n", @a); printa("r %d %p %@d\\n", @r); }',
    '-c', script('pipe.sh', `i=0; while [ $i -lt ${WRITES} ]; do echo x; i=$((i+1)); done | cat > /dev/null\n`),
  ], { timeout: READY_MS });
  assert.equal(r.code, 0, r.stderr);
  const acquired = counts(r.stdout, 'a');
  const released = counts(r.stdout, 'r');
  assert.ok(acquired.size > 0, r.stdout);
  // a mutex is released by the task that took it: the same pid, the same count (releases of
  // mutexes taken otherwise, mutex_lock_interruptible() or a trylock, are not acquires here, as in Oracle's dtrace)
  for (const [key, n] of acquired) assert.equal(released.get(key), n, `${key}: ${r.stdout}`);
  assert.ok(Math.max(...acquired.values()) >= WRITES, r.stdout);
  assert.deepEqual(kprobesOf(r.pid), []);
  assert.deepEqual(instancesOf(r.pid), []);
});

test('lockstat rw-acquire, rw-release, spin-acquire and spin-release: a shell that forks and waits takes the task list lock as writer and as reader, and spin locks', { skip: skipUnless('kernel', 'kprobes') }, () => {
  const r = runDtrace([
    '-q',
    '-n', 'lockstat:::rw-acquire, lockstat:::rw-release /pid == $target/ { @[probename, args[1]] = count(); }',
    '-n', 'lockstat:::spin-acquire, lockstat:::spin-release /pid == $target/ { @[probename, 0] = count(); }',
    '-n', 'END { printa("%s %d %@d\\n", @); }',
    '-c', script('fork.sh', 'sleep 0; sleep 0\n'),
  ], { timeout: READY_MS });
  assert.equal(r.code, 0, r.stderr);
  const seen = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+) (\d+) (\d+)$/.exec(line);
    if (m !== null) seen.set(`${m[1]} ${m[2]}`, Number(m[3]));
  }
  // fork (copy_process) takes tasklist_lock as writer (RW_WRITER, 0); wait (do_wait) as reader (RW_READER, 1)
  for (const key of ['rw-acquire 0', 'rw-acquire 1', 'rw-release 0', 'rw-release 1', 'spin-acquire 0', 'spin-release 0']) {
    assert.ok((seen.get(key) ?? 0) > 0, `${key}: ${r.stdout}`);
  }
  assert.deepEqual(kprobesOf(r.pid), []);
  assert.deepEqual(instancesOf(r.pid), []);
});
