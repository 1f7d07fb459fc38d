// Clauses that print, on an fbt probe, on this platform: the kernel memory they read and who
// fired the probe come from the kprobe's BPF program as it fires (it writes the event's record
// from the registers, with those values), not from dtrace after the event (which can read no
// kernel memory, and would find dd gone).

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Tracing, instancesOf } from '../live/harness.js';
import { READY_MS, kprobesOf, skipUnless, workload } from './lab.js';
import { bpfUnavailable } from '../../src/kernel/bpf/sys.js';

test('an fbt clause that prints reads the file vfs_read() reads, and who read it, as the probe fired', { skip: skipUnless('kprobes') || bpfUnavailable() || false }, async () => {
  const d = new Tracing(['-q', '-n', 'fbt::vfs_read:entry /execname == "dd"/ { printf("%s %s uid=%d\\n", execname, stringof(args[0]->f_path.dentry->d_name.name), uid); }', '-n', 'BEGIN { printf("begun\\n"); }']);
  await d.ready(READY_MS);
  // under emulation dtrace can look ready before all its events are on: BEGIN fires after
  await d.until(/^begun$/m, READY_MS);
  workload('dd if=/proc/version of=/dev/null 2>/dev/null');
  const r = await d.stop('SIGINT', 500);
  assert.equal(r.code, 0, r.stderr);
  // dd reads the file until its end: at least two reads of it
  const reads = r.stdout.split('\n').filter((l) => l === 'dd version uid=0');
  assert.ok(reads.length >= 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /invalid address/);
  assert.deepEqual(instancesOf(r.pid), []);
  assert.deepEqual(kprobesOf(r.pid), []);
});

test('a system call wrapper\'s arguments (behind the pointer to the caller\'s registers) are read in the kernel: copyinstr() keys in an fbt clause there, and a clause that prints with kernel memory', { skip: skipUnless('kprobes') || bpfUnavailable() || false }, async () => {
  const d = new Tracing([
    '-q', '-S',
    '-n', 'fbt::sys_openat:entry /execname == "cat"/ { @[copyinstr(arg1)] = count(); }',
    '-n', 'fbt::sys_openat:entry /execname == "cat" && arg1 != 0/ { printf("open %s %d\\n", stringof(curthread->comm), arg2 & 3); }',
    '-n', 'END { printa("path %s %@d\\n", @); }',
    '-n', 'BEGIN { printf("begun\\n"); }',
  ]);
  await d.ready(READY_MS);
  // under emulation dtrace can look ready before BEGIN: a record stamped before it is not printed
  await d.until(/^begun$/m, READY_MS);
  workload('cat /etc/hostname > /dev/null');
  const r = await d.stop('SIGINT', 500);
  assert.equal(r.code, 0, r.stderr);
  // the aggregation's clause ran as the kprobe's BPF program
  assert.match(r.stderr, /Disassembly of the BPF program on fbt:vmlinux:sys_openat:entry /);
  assert.match(r.stdout, /^path \/etc\/hostname 1$/m, r.stdout);
  // every open: the loader's, the locale's, the file's (read-only: flags & 3 = 0)
  assert.match(r.stdout, /^open cat 0$/m, r.stdout);
  assert.doesNotMatch(r.stderr, /invalid address/);
  assert.deepEqual(instancesOf(r.pid), []);
  assert.deepEqual(kprobesOf(r.pid), []);
});
