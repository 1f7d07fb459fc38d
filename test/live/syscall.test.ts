// The syscall provider against the live kernel.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { TRACEFS, Tracing, instancesOf, liveUnavailable, perfEvents, root, runDtrace, workload } from './harness.js';
import { bpfUnavailable } from '../../src/kernel/bpf/sys.js';
import { syscallNumbers } from '../../src/kernel/syscall-numbers.js';

const skip = liveUnavailable() ?? false;

test('syscall::chdir:entry prints the default lines', { skip }, async () => {
  const d = new Tracing(['-n', 'syscall::chdir:entry']);
  await d.ready();
  workload('for i in 1 2 3 4 5 6 7 8 9 10; do cd /; done');
  const r = await d.stop();
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'CPU     ID                    FUNCTION:NAME');
  const hits = lines.filter((l) => / chdir:entry $/.test(l));
  assert.ok(hits.length >= 10, r.stdout);
  for (const l of hits) assert.match(l, /^ +\d+ +\d+ +chdir:entry $/);
  assert.equal(r.stderr, "dtrace: description 'syscall::chdir:entry' matched 1 probe\n");
  assert.equal(r.code, 0);
  assert.deepEqual(instancesOf(r.pid), []);
});

test('pid, tid and execname are the thread that made the call', { skip }, async () => {
  const d = new Tracing(['-q', '-n', 'syscall::chdir:entry /execname == "sh"/ { printf("%s %d %d\\n", execname, pid, tid); }']);
  await d.ready();
  const pid = workload('cd /; cd /tmp; cd /');
  const r = await d.stop();
  const mine = r.stdout.split('\n').filter((l) => l === `sh ${pid} ${pid}`);
  assert.equal(mine.length, 3, r.stdout);
});

test('return probes give the return value in arg0 and arg1, and errno', { skip }, async () => {
  const d = new Tracing(['-q', '-n', 'syscall::chdir:return /execname == "sh"/ { printf("%d %d %d\\n", arg0, arg1, errno); }']);
  await d.ready();
  workload('cd /nonexistent-dtrace-ts 2>/dev/null; cd /');
  const r = await d.stop();
  assert.match(r.stdout, /^-2 -2 2$/m);
  assert.match(r.stdout, /^0 0 0$/m);
});

test('every syscall: the count table prints on Ctrl-C', { skip }, async () => {
  const d = new Tracing(['-n', 'syscall:::entry { @[probefunc] = count(); }']);
  await d.ready();
  workload('for i in 1 2 3 4 5 6 7 8 9 10 11 12; do cd /; done');
  const r = await d.stop();
  const m = /^  chdir +(\d+)$/m.exec(r.stdout);
  assert.ok(m && Number(m[1]) >= 12, r.stdout);
  assert.match(r.stderr, /^dtrace: description 'syscall:::entry ' matched \d{3} probes\n$/);
});

test('read latency: entry and return of one thread match across CPUs', { skip }, async () => {
  const d = new Tracing([
    '-n',
    'syscall::read:entry { self->ts = timestamp; } syscall::read:return /self->ts/ { @[execname] = quantize(timestamp - self->ts); @n[execname] = count(); self->ts = 0; }',
  ]);
  await d.ready();
  workload('dd if=/dev/zero of=/dev/null bs=1 count=3000 2>/dev/null');
  const r = await d.stop();
  const n = /^  dd +(\d+)$/m.exec(r.stdout);
  assert.ok(n && Number(n[1]) >= 3000, r.stdout);
  // a histogram for dd, with all its values in rows of positive nanoseconds
  const hist = r.stdout.slice(r.stdout.search(/^  dd +\n/m));
  assert.match(hist, /value  -* Distribution -* count/);
  assert.doesNotMatch(hist.split('\n\n')[0], /^ +-\d+ \|/m);
});

test('exit() in a clause ends tracing and removes the instance', { skip }, async () => {
  const d = new Tracing(['-q', '-n', 'syscall::chdir:entry { printf("got it\\n"); exit(3); }']);
  await d.ready();
  workload('cd /; cd /');
  const r = await d.finished();
  assert.equal(r.stdout, 'got it\n\n');
  assert.equal(r.code, 3);
  assert.deepEqual(instancesOf(r.pid), []);
});

test('stack() gives symbolised kernel stacks, as an action and as an aggregation key', { skip }, async () => {
  const d = new Tracing(['-q', '-n', 'syscall::chdir:entry /execname == "sh"/ { @[stack()] = count(); @depth = max(stackdepth); }']);
  await d.ready();
  workload('cd /; cd /; cd /');
  const r = await d.stop();
  // frames are module`function+0xoffset, innermost first, ending in the syscall entry
  assert.match(r.stdout, /^ {14}vmlinux`do_syscall_64\+0x[0-9a-f]+$/m);
  assert.match(r.stdout, /^ {14}vmlinux`entry_SYSCALL_64[a-z_]*\+0x[0-9a-f]+\n +3$/m);
  assert.doesNotMatch(r.stdout, /trace_event_raw_event|ftrace_syscall_enter/);
});

test('copyinstr() returns the string as it was when the probe fired, for every call, in order', { skip }, async () => {
  const d = new Tracing(['-q', '-n', 'syscall::chdir:entry /execname == "sh"/ { printf("%s\\n", copyinstr(arg0)); }']);
  await d.ready();
  // one shell reuses one buffer for every path: read afterwards, all would show the last one;
  // paths of this process's own (other shells may change directory meanwhile)
  const dir = `/nonexistent-dtrace-ts-${process.pid}`;
  workload(`for i in $(seq 1 300); do cd ${dir}/$i 2>/dev/null; done; cd ${dir}/end 2>/dev/null`);
  const r = await d.stop();
  const expected = [...Array.from({ length: 300 }, (_, i) => `${dir}/${i + 1}`), `${dir}/end`];
  assert.deepEqual(r.stdout.split('\n').filter((l) => l.startsWith(`${dir}/`)), expected);
});

test('copyin() of a buffer with its length: the bytes written', { skip }, async () => {
  const d = new Tracing(['-q', '-n', 'syscall::write:entry /execname == "printf" && arg2 == 4/ { printf("%x\\n", *(uint32_t *)copyin(arg1, 4)); }']);
  await d.ready();
  workload('/usr/bin/printf abcd > /dev/null; /usr/bin/printf efgh > /dev/null');
  const r = await d.stop();
  assert.deepEqual(r.stdout.split('\n').filter((l) => l !== ''), ['64636261', '68676665']);
});

test('copyinstr(addr, size) and strsize: a string of that many bytes, its NUL among them (Oracle\'s tst.copyinstr*)', { skip }, () => {
  const script = 'syscall::write:entry /pid == $target/ { printf("\'%s\' \'%s\' \'%s\'\\n", copyinstr(arg1, 8), copyinstr(arg1, 96), copyinstr(arg1)); exit(0); }';
  // the same process (exec), its output not dtrace's
  const cmd = join(mkdtempSync(join(tmpdir(), 'copyinstr-')), 'writer');
  writeFileSync(cmd, '#!/bin/sh\nexec /bin/echo Delay in ns needed in delay env var. > /dev/null\n', { mode: 0o755 });
  const r = runDtrace(['-q', '-n', script, '-c', cmd]);
  assert.equal(r.stdout, "'Delay i' 'Delay in ns needed in delay env var.\n' 'Delay in ns needed in delay env var.\n'\n\n");
  const small = runDtrace(['-q', '-x', 'strsize=12', '-n', script, '-c', cmd]);
  assert.equal(small.stdout, "'Delay i' 'Delay in ns' 'Delay in ns'\n\n");
  rmSync(dirname(cmd), { recursive: true, force: true });
});

test('copyinstr() on every system call, in dtrace: one perf event runs their capture programs, and dtrace exits at once', { skip: skip || bpfUnavailable() || false }, async () => {
  // (a clause-local string keeps the clause in dtrace)
  const d = new Tracing(['-q', '-n', 'syscall:::entry /execname == "sh"/ { this->s = "x"; printf("%s %s\\n", probefunc, copyinstr(arg1)); }']);
  await d.ready(30_000);
  // the program on raw_syscalls:sys_enter runs every call's, beside the rings (one a CPU): a
  // perf event a system call took half a minute to close, past finished()'s timeout
  const held = perfEvents(d.child.pid!);
  const dir = `/nonexistent-dtrace-ts-wide-${process.pid}`;
  workload(`exec 2>/dev/null; for i in $(seq 1 200); do true < ${dir}/$i; done`);
  const r = await d.stop();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(held, readdirSync(join(TRACEFS, 'per_cpu')).length + 1);
  const expected = Array.from({ length: 200 }, (_, i) => `openat ${dir}/${i + 1}`);
  assert.deepEqual(r.stdout.split('\n').filter((l) => l.startsWith(`openat ${dir}/`)), expected);
});

test('-S shows the programs on raw_syscalls that run the system calls\' capture programs', { skip: skip || bpfUnavailable() || false }, () => {
  // (clause-local strings keep the clauses in dtrace)
  const r = runDtrace(['-S', '-q', '-n', 'syscall:::entry /execname == "no-such-task"/ { this->s = "x"; printf("%s\\n", copyinstr(arg0)); } syscall:::return /execname == "no-such-task"/ { this->s = "x"; printf("%s\\n", execname); } BEGIN { exit(0); }']);
  assert.equal(r.code, 0, r.stderr);
  const numbers = syscallNumbers();
  const events = readFileSync(join(TRACEFS, 'available_events'), 'latin1').split('\n');
  const calls = (dir: string) => events.filter((e) => e.startsWith(`syscalls:sys_${dir}_`) && numbers.has(e.slice(`syscalls:sys_${dir}_`.length))).length;
  for (const [event, dir] of [['sys_enter', 'enter'], ['sys_exit', 'exit']]) {
    const header = new RegExp(`\\nDisassembly of the BPF program on raw_syscalls:${event} \\(it runs the capture programs of ${calls(dir)} system calls' probes, found by the call's number; (\\d+) different programs?\\):\\n`);
    const m = header.exec(r.stderr);
    assert.ok(m, r.stderr);
    // calls whose programs differ only in the call share one (they differ in the arguments they copy)
    assert.ok(Number(m[1]) >= 1 && Number(m[1]) < calls(dir), m[0]);
    const listing = r.stderr.slice(m.index + m[0].length).split('\n\n')[0];
    assert.match(listing, /^INS OFF  OPCODE  +INSTRUCTION\n000 0000: /);
    assert.match(listing, / call bpf_tail_call\n/);
  }
  // who fired the return probes is written on every one of their events
  assert.match(r.stderr, /\nwith who fired the probe \(execname\) as each probe's BPF program writes it, 40 bytes a record\n/);
});

test('32-bit system calls are not captured as the 64-bit ones of the same number', { skip: skip || bpfUnavailable() || (process.arch !== 'x64' && 'x86-64 only') || false }, () => {
  const work = mkdtempSync(join(tmpdir(), 'dtrace-ts-syscall-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  const ia32 = join(work, 'ia32-calls');
  const cc = spawnSync('cc', ['-O2', '-o', ia32, join(root, 'test', 'live', 'programs', 'ia32-calls.c')], { encoding: 'latin1' });
  assert.equal(cc.status, 0, cc.stderr);
  // the kernel has no 32-bit system calls (CONFIG_IA32_EMULATION off): nothing to tell apart
  if (spawnSync(ia32, ['1']).status !== 0) return;
  // execname: who fired each call, written by its capture program
  const r = runDtrace(['-q', '-n', 'syscall:::entry /pid == $target/ { printf("%s %s\\n", probefunc, execname); }', '-c', `${ia32} 7`]);
  assert.equal(r.code, 0, r.stderr);
  // int $0x80 with eax 20 is getpid in i386's table, writev in x86-64's
  const calls = r.stdout.split('\n').filter((l) => l.endsWith(' ia32-calls'));
  assert.ok(calls.includes('write ia32-calls'), r.stdout);
  assert.ok(!calls.some((l) => l.startsWith('writev ')), r.stdout);
});
