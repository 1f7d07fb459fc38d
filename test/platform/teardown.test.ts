// fbt's kprobe events are global (kprobe_events), not per instance: they must go on every way
// out, and a dtrace killed with SIGKILL leaves them for the next dtrace to remove.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Tracing, instancesOf, runDtrace } from '../live/harness.js';
import { READY_MS, kprobesOf, skipUnless } from './lab.js';

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  test(`${sig} removes the instance and the kprobe events`, { skip: skipUnless('kprobes') }, async () => {
    const d = new Tracing(['-n', 'fbt::vfs_read:entry,fbt::vfs_read:return,fbt::sys_chdir:entry { @[probefunc] = count(); }']);
    await d.ready(READY_MS);
    assert.equal(kprobesOf(d.child.pid!).length, 3);
    const r = await d.stop(sig);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(instancesOf(r.pid), []);
    assert.deepEqual(kprobesOf(r.pid), []);
  });
}

// the others end dtrace by their default action, after it removed everything
for (const sig of ['SIGUSR1', 'SIGUSR2', 'SIGQUIT', 'SIGALRM', 'SIGXCPU', 'SIGVTALRM', 'SIGPROF', 'SIGTRAP'] as const) {
  test(`${sig} removes the instance and the kprobe events, then ends dtrace by ${sig}`, { skip: skipUnless('kprobes') }, async () => {
    const d = new Tracing(['-n', 'fbt::vfs_read:entry { @ = count(); }']);
    // no core file from the signals that dump one
    spawnSync('prlimit', ['--pid', String(d.child.pid), '--core=0:0']);
    await d.ready(READY_MS);
    assert.equal(kprobesOf(d.child.pid!).length, 1);
    const r = await d.stop(sig, 0);
    assert.equal(r.signal, sig, r.stderr);
    assert.deepEqual(instancesOf(r.pid), []);
    assert.deepEqual(kprobesOf(r.pid), []);
  });
}

test('kprobe events left by a dtrace killed with SIGKILL are removed by the next one', { skip: skipUnless('kprobes') }, async () => {
  // (a clause-local string keeps the clause in dtrace: its events come through tracefs instances)
  const d = new Tracing(['-n', 'fbt::vfs_read:entry { this->x = "x"; }']);
  await d.ready(READY_MS);
  const r = await d.stop('SIGKILL', 0);
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(instancesOf(d.child.pid!).length, 2);
  assert.equal(kprobesOf(r.pid).length, 1);
  const next = runDtrace(['-q', '-n', 'syscall::chdir:entry', '-n', 'BEGIN { exit(0); }'], { timeout: READY_MS });
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual(instancesOf(r.pid), []);
  assert.deepEqual(kprobesOf(r.pid), []);
  assert.deepEqual(instancesOf(next.pid), []);
  assert.deepEqual(kprobesOf(next.pid), []);
});

test('a function the kernel cannot probe: an error, and nothing left', { skip: skipUnless('kprobes') }, () => {
  const r = runDtrace(['-n', 'fbt::no_such_function_anywhere:entry'], { timeout: READY_MS });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'dtrace: invalid probe specifier fbt::no_such_function_anywhere:entry: probe description fbt::no_such_function_anywhere:entry does not match any probes\n');
  assert.deepEqual(instancesOf(r.pid), []);
  assert.deepEqual(kprobesOf(r.pid), []);
});
