// ustack() on a program built with gcc -O2 (no frame pointers: test/live/programs/ustack-chain.c,
// main -> a -> b -> c), beside bpftrace in the same run where it is installed (a benchmark, not
// a test: it never fails). Prints:
//   - frames per stack at c's entry: dtrace `pid$target::c:entry { ustack(); }` (perf's copy of
//     the user stack, unwound with CFI) vs bpftrace `uprobe:...:c { print(ustack); }` (the
//     kernel's frame-pointer walk);
//   - cost per stack: the CPU (tracer + target, user + system: the kernel's copy of the stack is
//     the target's) of `syscall::write:entry /pid == $target/ { @[ustack()] = count(); }` over
//     N writes, less the same with `@[probefunc]` (no stack), divided by N; and bpftrace's same
//     pair with `@[ustack]` and `@[probe]`.
// Medians of BENCH_RUNS (default 3); BENCH_WRITES (default 100000) writes; BENCH_BPFTRACE=0
// skips bpftrace. Needs root and cc.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WRITES = Number(process.env.BENCH_WRITES ?? 100000);
const withBpftrace = process.env.BENCH_BPFTRACE !== '0' && spawnSync('bpftrace', ['--version']).status === 0;

const dir = mkdtempSync(join(tmpdir(), 'bench-ustack-'));
const prog = join(dir, 'ustack-chain');
const cc = spawnSync('cc', ['-O2', '-o', prog, join(root, 'test', 'live', 'programs', 'ustack-chain.c')], { encoding: 'latin1' });
if (cc.status !== 0) {
  console.log(`no C compiler: ${cc.stderr}`);
  process.exit(0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs a command under bash's `time`: its output and the CPU seconds it and its children used. */
function timed(argv: string[]): { out: string; cpu: number } {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='CPU %U %S'; time ${quoted} 2>/dev/null`], { encoding: 'latin1', maxBuffer: 64 << 20, timeout: 600_000 });
  const m = /CPU ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { out: r.stdout, cpu: m ? Number(m[1]) + Number(m[2]) : NaN };
}

/** Frame lines of a printed stack: indented lines that are not counts. */
function frames(out: string): string[] {
  return out.split('\n').filter((l) => /^\s+\S/.test(l) && !/^\s+\d+$/.test(l)).map((l) => l.trim());
}

const dt = (d: string, cmd: string) => [process.execPath, cli, '-q', '-n', d, '-c', cmd];
const bt = (p: string, cmd: string) => ['bpftrace', '-e', p, '-c', cmd];

console.log(`ustack() on ${prog} (gcc -O2), ${WRITES} writes, medians of ${RUNS}`);
const ours = frames(timed(dt('pid$target::c:entry { ustack(); }', `${prog} chain 1`)).out);
console.log(`dtrace   frames at c's entry: ${ours.length}   (${ours.join(' <- ')})`);
if (withBpftrace) {
  const theirs = frames(timed(bt(`uprobe:${prog}:c { print(ustack); exit(); }`, `${prog} chain 1`)).out);
  console.log(`bpftrace frames at c's entry: ${theirs.length}   (${theirs.join(' <- ')})`);
}

function perStack(name: string, withStack: string[], without: string[]): void {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    a.push(timed(withStack).cpu);
    b.push(timed(without).cpu);
  }
  const us = ((median(a) - median(b)) / WRITES) * 1e6;
  console.log(`${name.padEnd(10)} CPU with stacks ${median(a).toFixed(2)} s, without ${median(b).toFixed(2)} s: ${us.toFixed(2)} us per stack (capture + unwind + aggregate)`);
}

const cmd = `${prog} chain ${WRITES}`;
perStack('dtrace', dt('syscall::write:entry /pid == $target/ { @[ustack()] = count(); }', cmd), dt('syscall::write:entry /pid == $target/ { @[probefunc] = count(); }', cmd));
if (withBpftrace) perStack('bpftrace', bt('tracepoint:syscalls:sys_enter_write /pid == cpid/ { @[ustack] = count(); }', cmd), bt('tracepoint:syscalls:sys_enter_write /pid == cpid/ { @[probe] = count(); }', cmd));
else console.log('bpftrace: not installed (or BENCH_BPFTRACE=0)');
rmSync(dir, { recursive: true, force: true });
