// dtrace -l and -lv for kernel probes: every syscall and tracepoint, typed arguments with names.

import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { TRACEFS, liveUnavailable, runDtrace } from './harness.js';

const skip = liveUnavailable() ?? false;

test('-l lists an entry and a return probe for every syscall event', { skip }, () => {
  const events = readFileSync(`${TRACEFS}/available_events`, 'latin1').split('\n').filter((l) => l.startsWith('syscalls:'));
  const r = runDtrace(['-l', '-n', 'syscall:::']);
  const lines = r.stdout.split('\n').slice(1).filter((l) => l !== '');
  assert.equal(lines.length, events.length);
  assert.match(r.stdout, /^ +\d+ +syscall +vmlinux +chdir entry$/m);
  assert.match(r.stdout, /^ +\d+ +syscall +vmlinux +chdir return$/m);
});

test('-l lists every tracepoint as sdt:<group>::<event>', { skip }, () => {
  const events = readFileSync(`${TRACEFS}/available_events`, 'latin1')
    .split('\n')
    .filter((l) => l !== '' && !/^(syscalls|kprobes|uprobes|ftrace):/.test(l));
  const r = runDtrace(['-l', '-P', 'sdt']);
  assert.equal(r.stdout.split('\n').slice(1).filter((l) => l !== '').length, events.length);
  assert.match(r.stdout, /^ +\d+ +sdt +sched +sched_switch$/m);
});

test('-lv shows argument types and names from the format file', { skip }, () => {
  const r = runDtrace(['-lv', '-n', 'syscall::openat:entry']);
  assert.match(r.stdout, /\t\targs\[0\]: int dfd\n\t\targs\[1\]: const char \* filename\n\t\targs\[2\]: int flags\n/);
  const s = runDtrace(['-lv', '-n', 'sdt:sched::sched_switch']);
  assert.match(s.stdout, /\t\targs\[0\]: char\[16\] prev_comm\n\t\targs\[1\]: pid_t prev_pid\n/);
});

test('a tracepoint fires with its fields as arguments (strings included)', { skip }, async () => {
  const { Tracing, workload } = await import('./harness.js');
  const d = new Tracing(['-q', '-n', 'sdt:sched::sched_process_exec /args[1] == pid/ { printf("%s|%s\\n", args[0], execname); }']);
  await d.ready();
  workload('/bin/true');
  const r = await d.stop();
  assert.match(r.stdout, /^\/(usr\/)?bin\/true\|true$/m);
});

test('fbt on a kernel without kprobe events: why, and the probe to use instead', { skip }, () => {
  const r = runDtrace(['-n', 'fbt::sys_chdir:entry']);
  assert.equal(r.code, 1);
  const why = existsSync(`${TRACEFS}/kprobe_events`)
    ? 'dtrace-ts does not implement fbt probes yet'
    : `the kernel has no kprobe events (${TRACEFS}/kprobe_events is missing: it was built without CONFIG_KPROBE_EVENTS)`;
  assert.equal(
    r.stderr,
    `dtrace: invalid probe specifier fbt::sys_chdir:entry: fbt probes are not available: ${why}; syscall::chdir:entry traces the same system call\n`,
  );
});
