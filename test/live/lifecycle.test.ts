// What a dtrace process leaves in the kernel (nothing, on every exit path), privileges, two
// dtraces at once, and lost events reported.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { test } from 'node:test';
import { Tracing, bpfPrograms, cli, instancesOf, liveUnavailable, runDtrace, workload } from './harness.js';
import { bpfUnavailable } from '../../src/kernel/bpf/sys.js';

const skip = liveUnavailable() ?? false;

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  test(`${sig} ends tracing, prints the aggregations and removes the instance`, { skip }, async () => {
    // a clause-local string keeps the clause in dtrace: its events come through tracefs instances
    const d = new Tracing(['-n', 'syscall::chdir:entry { this->x = execname; @ = count(); }']);
    await d.ready();
    // one instance for the probes' events, one for the process table's
    assert.equal(instancesOf(d.child.pid!).length, 2);
    workload('cd /; cd /; cd /');
    const r = await d.stop(sig);
    assert.match(r.stdout, /^ +[3-9]\d*$/m);
    assert.equal(r.code, 0);
    assert.deepEqual(instancesOf(d.child.pid!), []);
  });
}

test('a program whose clauses all run in the kernel makes no instance, and leaves no BPF program', { skip: skip || (bpfUnavailable() ?? false) }, async () => {
  const d = new Tracing(['-n', 'syscall::chdir:entry { @ = count(); }']);
  await d.ready();
  assert.deepEqual(instancesOf(d.child.pid!), []);
  assert.ok(bpfPrograms(d.child.pid!) >= 1);
  workload('cd /; cd /; cd /');
  const r = await d.stop('SIGINT');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ +[3-9]\d*$/m);
  assert.deepEqual(instancesOf(r.pid), []);
});

test('an instance left by a dtrace killed with SIGKILL is removed by the next one', { skip }, async () => {
  // (a clause-local string keeps the clause in dtrace: its events come through tracefs instances)
  const d = new Tracing(['-n', 'syscall::chdir:entry { this->x = execname; }']);
  await d.ready();
  const r = await d.stop('SIGKILL', 0);
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(instancesOf(d.child.pid!).length, 2);
  const next = runDtrace(['-q', '-n', 'syscall::chdir:entry', '-n', 'BEGIN { exit(0); }']);
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual(instancesOf(d.child.pid!), []);
  assert.deepEqual(instancesOf(next.pid), []);
});

test('a compile error touches nothing in the kernel', { skip }, () => {
  const r = runDtrace(['-n', 'syscall::chdir:entry { x = ; }']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'dtrace: invalid probe specifier syscall::chdir:entry { x = ; }: syntax error near ";"\n');
  assert.deepEqual(instancesOf(r.pid), []);
});

test('two dtraces at once never see each other\'s events', { skip }, async () => {
  const a = new Tracing(['-q', '-n', 'syscall::chdir:entry { printf("A %s\\n", probefunc); }']);
  const b = new Tracing(['-q', '-n', 'syscall::mkdir:entry { printf("B %s\\n", probefunc); }']);
  await Promise.all([a.ready(), b.ready()]);
  workload('for i in 1 2 3 4 5; do cd /; mkdir /nonexistent-dir/x 2>/dev/null; done');
  const [ra, rb] = await Promise.all([a.stop(), b.stop()]);
  const la = ra.stdout.split('\n').filter((l) => l !== '');
  const lb = rb.stdout.split('\n').filter((l) => l !== '');
  assert.ok(la.length >= 5 && la.every((l) => l === 'A chdir'), ra.stdout);
  assert.ok(lb.length >= 5 && lb.every((l) => l === 'B mkdir'), rb.stdout);
  assert.deepEqual([...instancesOf(ra.pid), ...instancesOf(rb.pid)], []);
});

test('not root: a plain error, and nothing created', { skip }, () => {
  const r = runDtrace(['-n', 'syscall::chdir:entry'], { uid: 65534, gid: 65534 });
  assert.equal(r.stderr, 'dtrace: failed to initialize dtrace: DTrace requires additional privileges (run it as root)\n');
  assert.equal(r.code, 1);
  // BEGIN-only programs need no privileges
  const b = runDtrace(['-q', '-n', 'BEGIN { printf("hi\\n"); exit(0); }'], { uid: 65534, gid: 65534 });
  assert.equal(b.stdout, 'hi\n\n');
});

test('a flood into a tiny buffer is reported as drops per CPU', { skip }, async () => {
  // the tracefs path's buffers (in the kernel, with BPF, this clause has none to fill)
  const d = new Tracing(['-x', 'bufsize=4k', '-x', 'switchrate=2hz', '-n', 'syscall:::entry { @ = count(); }'], { DTRACE_TS_NO_BPF: '1' });
  await d.ready();
  workload('i=0; while [ $i -lt 20000 ]; do i=$((i+1)); cd /; done');
  const r = await d.stop('SIGINT', 600);
  assert.match(r.stderr, /^dtrace: \d+ drops? on CPU \d+$/m, r.stderr);
  assert.deepEqual(instancesOf(r.pid), []);
});

test('a failure while enabling says what failed and leaves nothing behind', { skip }, () => {
  const r = runDtrace(['-b', '64g', '-n', 'syscall::chdir:entry']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^dtrace: could not enable tracing: Cannot allocate memory$/m);
  assert.deepEqual(instancesOf(r.pid), []);
});

test('a reader that goes away (dtrace | head -3) ends dtrace, and it leaves nothing behind', { skip }, async () => {
  const d = new Tracing(['-q', '-n', 'syscall:::entry { printf("%s\\n", probefunc); }']);
  await d.ready();
  await d.until(/(?:.*\n){3}/);
  d.child.stdout!.destroy();
  workload('cd /; cd /');
  const r = await d.finished();
  assert.equal(r.code, 141, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(instancesOf(r.pid), []);
});

test('output to a full device: one DTrace error line, and nothing left behind', { skip }, () => {
  const full = openSync('/dev/full', 'w');
  try {
    const r = spawnSync(process.execPath, [cli, '-n', 'syscall::chdir:entry', '-n', 'BEGIN { exit(0); }'], { stdio: ['ignore', full, 'pipe'], timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.toString(), "dtrace: description 'syscall::chdir:entry' matched 1 probe\ndtrace: description 'BEGIN ' matched 1 probe\ndtrace: processing aborted: No space left on device\n");
    assert.deepEqual(instancesOf(r.pid), []);
  } finally {
    closeSync(full);
  }
});
