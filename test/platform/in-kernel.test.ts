// D in the kernel on this platform: clauses compiled to BPF on a syscall tracepoint and on an
// fbt kprobe, aggregating in per-CPU kernel maps, with curthread read from the kernel's types
// (BTF), checked against the classic `cd /` loop.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Tracing, bpfPrograms, instancesOf } from '../live/harness.js';
import { READY_MS, kprobesOf, skipUnless, workload } from './lab.js';

const LOOPS = 300;
const loop = `i=0; while [ $i -lt ${LOOPS} ]; do cd /; i=$((i+1)); done`;

async function shellName(probe: string): Promise<void> {
  const d = new Tracing(['-q', '-n', `${probe} { @[stringof(curthread->comm), curthread->pid == pid, curthread->mm != NULL] = count(); }`]);
  await d.ready(READY_MS);
  const programs = bpfPrograms(d.child.pid!);
  workload(loop);
  const r = await d.stop('SIGINT', 500);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(programs >= 1, `BPF programs held: ${programs}; stderr: ${r.stderr}`);
  const row = /^ +sh +1 +1 +(\d+)$/m.exec(r.stdout);
  assert.ok(row, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(Number(row[1]), LOOPS, r.stdout);
  assert.deepEqual(instancesOf(r.pid), []);
  assert.deepEqual(kprobesOf(r.pid), []);
}

test('syscall::chdir:entry runs in the kernel: curthread->comm is the shell\'s, every cd counted', { skip: skipUnless('kernel') }, () => shellName('syscall::chdir:entry'));

test('fbt::sys_chdir:entry runs in the kernel as a kprobe program: curthread->comm is the shell\'s', { skip: skipUnless('kprobes') }, () => shellName('fbt::sys_chdir:entry'));

test('fbt args[] are typed from BTF and read in the kernel: the name of the file vfs_read() reads', { skip: skipUnless('kprobes') }, async () => {
  const d = new Tracing(['-q', '-n', 'fbt::vfs_read:entry /execname == "dd"/ { @[stringof(args[0]->f_path.dentry->d_name.name)] = count(); }']);
  await d.ready(READY_MS);
  workload('dd if=/proc/version of=/dev/null 2>/dev/null');
  const r = await d.stop('SIGINT', 500);
  assert.equal(r.code, 0, r.stderr);
  // the data, then the end of the file
  const row = /^ +version +(\d+)$/m.exec(r.stdout);
  assert.ok(row && Number(row[1]) >= 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.deepEqual(kprobesOf(r.pid), []);
});
