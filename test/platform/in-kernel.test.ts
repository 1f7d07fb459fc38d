// D in the kernel on this platform: clauses compiled to BPF on a syscall tracepoint and on an
// fbt kprobe, aggregating in per-CPU kernel maps, with curthread read from the kernel's types
// (BTF), checked against the classic `cd /` loop.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Tracing, bpfPrograms, instancesOf, runDtrace } from '../live/harness.js';
import { READY_MS, kprobesOf, skipUnless, workload } from './lab.js';
import { bpfUnavailable } from '../../src/kernel/bpf/sys.js';

const LOOPS = 300;
const loop = `i=0; while [ $i -lt ${LOOPS} ]; do cd /; i=$((i+1)); done`;

async function shellName(probe: string): Promise<void> {
  const d = new Tracing(['-q', '-n', `${probe} { @[stringof(curthread->comm), curthread->pid == pid, curthread->mm != NULL] = count(); }`, '-n', 'BEGIN { printf("begun\\n"); }']);
  await d.ready(READY_MS);
  // its programs act once BEGIN has fired, which under emulation can be seconds after they are attached
  await d.until(/^begun$/m, READY_MS);
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
  const d = new Tracing(['-q', '-n', 'fbt::vfs_read:entry /execname == "dd"/ { @[stringof(args[0]->f_path.dentry->d_name.name)] = count(); }', '-n', 'BEGIN { printf("begun\\n"); }']);
  await d.ready(READY_MS);
  await d.until(/^begun$/m, READY_MS);
  workload('dd if=/proc/version of=/dev/null 2>/dev/null');
  const r = await d.stop('SIGINT', 500);
  assert.equal(r.code, 0, r.stderr);
  // the data, then the end of the file
  const row = /^ +version +(\d+)$/m.exec(r.stdout);
  assert.ok(row && Number(row[1]) >= 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.deepEqual(kprobesOf(r.pid), []);
});

test('string variables, copyin() and a printing clause pass this kernel\'s verifier: the cd loop\'s path, counted and printed', { skip: skipUnless('kernel') || bpfUnavailable() || false }, async () => {
  const program =
    'syscall::chdir:entry /execname == "sh"/ { self->p = copyinstr(arg0); self->c = *(char *)copyin(arg0, 1); } ' +
    'syscall::chdir:return /self->p != NULL/ { @[self->p, self->c] = count(); self->p = 0; } ' +
    'syscall::chdir:return /execname == "sh" && !shown/ { shown = 1; printf("[%s]\\n", execname); }';
  const s = runDtrace(['-S', '-e', '-q', '-n', program], { timeout: READY_MS });
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stderr.split('\n').filter((l) => l.startsWith('runs in the kernel, as BPF')).length, 3, s.stderr);
  const d = new Tracing(['-q', '-n', program, '-n', 'BEGIN { printf("begun\\n"); }']);
  await d.ready(READY_MS);
  // under emulation dtrace can look ready before BEGIN, and no probe fires before it
  await d.until(/^begun$/m, READY_MS);
  workload(loop);
  const r = await d.stop('SIGINT', 500);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  // the first cd's line, once
  assert.equal(r.stdout.split('\n').filter((l) => l === '[sh]').length, 1, r.stdout);
  // "/" and its first byte, once for each cd
  assert.match(r.stdout, new RegExp(`^ +/ +47 +${LOOPS}$`, 'm'), r.stdout);
  assert.deepEqual(instancesOf(r.pid), []);
});
