// The pid provider on objects a process loads while it is traced (dlopen): their probes are made
// when the loader says the new objects are in place, and (with BPF) before any of their code runs,
// so that every call is counted.

import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { bpfUnavailable } from '../../src/kernel/bpf/sys.js';
import { TRACEFS, Tracing, liveUnavailable, root, runDtrace } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'dlopen-live-'));
const prog = join(dir, 'dlopen-target');
const lib = join(dir, 'libx.so');
const started: ChildProcess[] = [];
after(() => {
  for (const c of started) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function unavailable(): string | false {
  const why = liveUnavailable();
  if (why !== null) return why;
  if (!existsSync(join(TRACEFS, 'uprobe_events'))) return 'the kernel has no uprobe events';
  const src = join(root, 'test', 'live', 'programs');
  const a = spawnSync('cc', ['-O2', '-o', prog, join(src, 'dlopen-target.c'), '-ldl'], { encoding: 'latin1' });
  const b = spawnSync('cc', ['-O2', '-shared', '-fPIC', '-o', lib, join(src, 'dlopen-lib.c')], { encoding: 'latin1' });
  for (const r of [a, b]) if (r.error || r.status !== 0) return `no C compiler: ${r.error?.message ?? r.stderr}`;
  return false;
}
const skip = unavailable();
/** Exact counts need the process stopped while the new probes are made: BPF's bpf_send_signal. */
const exact = skip || (bpfUnavailable() !== null ? `no BPF: ${bpfUnavailable()}` : false);

function uprobesOf(pid: number): string[] {
  return readFileSync(join(TRACEFS, 'uprobe_events'), 'latin1')
    .split('\n')
    .filter((l) => l.includes(`:dtrace_tsu_${pid}_`));
}

test('a function of a library dlopen()ed after dtrace started: every call counted (-Z, as DTrace wants)', { skip: exact }, () => {
  const r = runDtrace(['-Z', '-n', 'pid$target:libx.so:f:entry { @ = count(); }', '-c', `${prog} ${lib} 1000`]);
  assert.equal(r.stdout, '\n             1000\n');
  assert.match(r.stderr, /^dtrace: description 'pid\$target:libx\.so:f:entry ' matched 0 probes\n$/);
  assert.equal(r.code, 0);
  assert.deepEqual(uprobesOf(r.pid), []);
});

test('globs over functions and modules take in the new object; its name is its module; return probes too', { skip: exact }, () => {
  const r = runDtrace([
    '-q', '-Z',
    '-n', 'pid$target::[fg]:entry { @[probemod, probefunc, probename] = count(); }',
    '-n', 'pid$target:libx*:g:return { printf("g returned %d\\n", arg1); }',
    '-c', `${prog} ${lib} 300 glob`,
  ]);
  assert.equal(r.stderr, '');
  // sum of f(i) = i + 1 for i < 300 is 45150; g doubles it
  assert.match(r.stdout, /^g returned 90300\n\n  libx\.so +g +entry +1\n  libx\.so +f +entry +300\n$/);
});

test('one clause, two descriptions: one matches at the start, the other an object loaded later', { skip: exact }, () => {
  const r = runDtrace(['-q', '-Z', '-n', 'pid$target:*:main:entry, pid$target:lib?.so:f:entry { @[probemod, probefunc] = count(); }', '-c', `${prog} ${lib} 7`]);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^\n  dlopen-target +main +1\n  libx\.so +f +7\n$/);
});

test('-p: a running process that loads the library later; it goes on after dtrace exits, and every uprobe event goes', { skip: exact }, async () => {
  const p = spawn(prog, [lib, '20', 'glob', '1500'], { stdio: 'ignore' });
  started.push(p);
  const exited = new Promise((res) => p.on('exit', (c) => res(c)));
  const d = new Tracing(['-q', '-Z', '-n', 'pid$target:libx.so::entry { @[probefunc] = count(); } pid$target:libx.so:g:entry { exit(0); }', '-p', String(p.pid)]);
  await d.ready();
  const r = await d.finished();
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^\n  g +1\n  f +20\n$/);
  assert.deepEqual(uprobesOf(r.pid), []);
  // not left stopped: it ends by itself
  assert.equal(await exited, 0);
});

test('without BPF the new object still gets its probes (calls made before they are in place are missed)', { skip }, () => {
  const r = runDtrace(['-q', '-Z', '-n', 'pid$target:libx.so:f:entry { @ = count(); }', '-c', `${prog} ${lib} 3000`], { env: { DTRACE_TS_NO_BPF: '1' } });
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.deepEqual(uprobesOf(r.pid), []);
});

/** libc's start-up and _start under main, as ustack() prints them */
const START = [/^libc\.so\.6`__libc_start_call_main\+0x[0-9a-f]+$/, /^libc\.so\.6`__libc_start_main(@@GLIBC_[0-9.]+)?\+0x[0-9a-f]+$/, /^dlopen-target`_start\+0x[0-9a-f]+$/];

function checkLateStack(stdout: string, calls: number): void {
  const lines = stdout.split('\n').filter((l) => l !== '').map((l) => l.trim());
  const at = lines.indexOf('libx.so`f');
  assert.ok(at >= 0, stdout);
  const st = lines.slice(at);
  assert.match(st[1], /^dlopen-target`main\+0x[0-9a-f]+$/, stdout);
  START.forEach((re, i) => assert.match(st[2 + i], re, stdout));
  assert.deepEqual(st.slice(5), [String(calls)], stdout);
}

test('ustack() on a probe of an object loaded later: the library, then its caller, named (no stacks taken before)', { skip: exact }, () => {
  const r = runDtrace(['-q', '-Z', '-n', 'pid$target:libx.so:f:entry { @[ustack()] = count(); }', '-c', `${prog} ${lib} 25`]);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  checkLateStack(r.stdout, 25);
  assert.deepEqual(uprobesOf(r.pid), []);
});

test('ustack() on a late probe beside one taken from the start; ufunc()/usym() of it too', { skip: exact }, () => {
  const r = runDtrace([
    '-q', '-Z',
    '-n', 'pid$target:a.out:main:entry { ustack(1); }',
    '-n', 'pid$target:libx.so:f:entry { @[ustack()] = count(); @u[ufunc(ucaller), usym(uregs[R_PC])] = count(); }',
    '-c', `${prog} ${lib} 12`,
  ]);
  assert.equal(r.stderr, '');
  assert.ok(r.stdout.startsWith(`\n${' '.repeat(14)}dlopen-target\`main\n`), r.stdout);
  const lines = r.stdout.trimEnd().split('\n');
  // the last line: @u's key (ucaller's function, the probe's own symbol) and count
  assert.match(lines.at(-1)!, /^ {2}dlopen-target`main {34}libx\.so`f {49,}12$/, r.stdout);
  checkLateStack(lines.slice(0, -1).join('\n'), 12);
});
