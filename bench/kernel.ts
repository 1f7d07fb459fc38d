// Live-kernel benchmarks (not tests), each beside bpftrace in the same run, medians:
//   1. start-up of every-syscall tracing, exiting at once:
//        dtrace   -n 'syscall:::entry { @[probefunc] = count(); } BEGIN { exit(0); }'
//        bpftrace -e 'tracepoint:syscalls:sys_enter_* { @[probe] = count(); } BEGIN { exit(); }'
//   2. probe effect: ns each getppid() call gains (a C loop built here) while every syscall is
//      counted by probe function;
//   3. consumer: getppid() floods from one CPU while `@[execname, probefunc] = count()` runs:
//      the event rate, drops, and the consumer's CPU seconds per million events;
//   4. idle: the consumer's CPU, as % of one core, over 10 s in which its probe never fires;
//   5. inkernel: ns each getppid() call gains under `@ = count()`, `@[pid] = count()` and
//      `@[execname] = quantize(arg0)` on syscall::getppid:entry: in the kernel (BPF), on the
//      tracefs path (DTRACE_TS_NO_BPF=1) and bpftrace's;
//   6. print: ns each getppid() call gains under the classic latency script (a thread-local set
//      at entry, printed at return), printing every call and printing none (a predicate no
//      call passes): in the kernel, on the tracefs path and bpftrace's, with the lines printed,
//      the drops reported and the tracer's CPU seconds over the 5 x N calls.
// Needs root, tracefs and cc; bpftrace is optional. BENCH_RUNS, BENCH_BPFTRACE=0 to skip it,
// BENCH_ONLY=consumer,idle (any of startup, effect, consumer, idle, inkernel, print) to run some parts only.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const withBpftrace = process.env.BENCH_BPFTRACE !== '0' && spawnSync('bpftrace', ['--version']).status === 0;
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : null;
const part = (name: string) => ONLY === null || ONLY.has(name);
const work = mkdtempSync(join(tmpdir(), 'dtrace-ts-bench-'));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A C program: `getppid N` makes N getppid() calls and prints the ns each took. */
function buildLoop(): string {
  const src = join(work, 'getppid.c');
  writeFileSync(
    src,
    `#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.1f\\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
  return 0;
}
`,
  );
  const bin = join(work, 'getppid');
  const r = spawnSync('cc', ['-O2', '-o', bin, src]);
  if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
  return bin;
}

function nsPerCall(bin: string, n: number): number {
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) xs.push(Number(spawnSync(bin, [String(n)], { encoding: 'latin1' }).stdout.trim()));
  return median(xs);
}

/** CPU seconds a process has used (utime + stime). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function timeRun(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'latin1' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** A tracer running until stopped; `ready` resolves once its probes are live. */
class Tracer {
  readonly child: ChildProcess;
  stderr = '';
  private out = '';
  /**
   * `outFile`: its standard output goes to that file, not a pipe (a pipe the benchmark, blocked
   * in the workload's spawnSync, does not read would stop a tracer that prints on every event)
   */
  constructor(
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
    private readonly outFile: string | null = null,
  ) {
    const fd = outFile === null ? 'pipe' : openSync(outFile, 'w');
    this.child = spawn(cmd, args, { stdio: ['ignore', fd, 'pipe'], env });
    if (typeof fd === 'number') closeSync(fd);
    this.child.stdout?.on('data', (b: Buffer) => (this.out += b.toString('latin1')));
    this.child.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString('latin1')));
  }
  get stdout(): string {
    return this.outFile === null ? this.out : readFileSync(this.outFile, 'latin1');
  }
  async ready(marker: RegExp, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!marker.test(this.stdout)) {
      if (Date.now() > end || this.child.exitCode !== null) throw new Error(`tracer did not start: ${this.stderr}`);
      await sleep(20);
    }
    await sleep(200);
  }
  async stop(): Promise<void> {
    this.child.kill('SIGINT');
    await new Promise((r) => this.child.on('close', r));
  }
}

const DTRACE_COUNT = 'syscall:::entry { @[probefunc] = count(); } BEGIN { printf("ready\\n"); }';
const BPF_COUNT = 'tracepoint:syscalls:sys_enter_* { @[probe] = count(); } BEGIN { printf("ready\\n"); }';
const DTRACE_CONSUMER = 'syscall:::entry { @[execname, probefunc] = count(); } BEGIN { printf("ready\\n"); }';
const BPF_CONSUMER = 'tracepoint:syscalls:sys_enter_* { @[comm, probe] = count(); } BEGIN { printf("ready\\n"); }';
// a probe nothing here fires (acct(2) is called by process accounting tools only)
const DTRACE_IDLE = 'syscall::acct:entry { @ = count(); } BEGIN { printf("ready\\n"); }';
const BPF_IDLE = 'tracepoint:syscalls:sys_enter_acct { @ = count(); } BEGIN { printf("ready\\n"); }';
const IDLE_SECONDS = 10;

async function main(): Promise<void> {
  const line = (s: string) => process.stdout.write(s + '\n');
  if (part('startup')) await startup(line);
  const bin = buildLoop();
  if (part('effect')) await probeEffect(line, bin);
  if (part('consumer')) await consumer(line, bin);
  if (part('idle')) await idle(line);
  if (part('inkernel')) await inKernel(line, bin);
  if (part('print')) await printing(line, bin);
}

/** 6. clauses that print: every call, or none (the predicate filters in the kernel) */
async function printing(line: (s: string) => void, bin: string): Promise<void> {
  const N = 200_000;
  const cases: Array<[string, string, string]> = [
    ['every call', '/self->ts/', '/@ts[tid]/'],
    ['no call (over 1 s)', '/self->ts && timestamp - self->ts > 1000000000/', '/@ts[tid] && nsecs - @ts[tid] > 1000000000/'],
  ];
  for (const [name, dp, bp] of cases) {
    const base = nsPerCall(bin, N);
    const run = async (t: Tracer, timeoutMs: number) => {
      await t.ready(/ready/, timeoutMs);
      const cpu0 = cpuSeconds(t.child.pid!);
      const ns = nsPerCall(bin, N);
      // what the tracer's process spent meanwhile (its output written, the events it read)
      await sleep(500);
      const cpu = cpuSeconds(t.child.pid!) - cpu0;
      await t.stop();
      const lines = t.stdout.split('\n').filter((l) => /^\d+$/.test(l)).length;
      let drops = 0;
      for (const m of t.stderr.matchAll(/(\d+) drops? on CPU/g)) drops += Number(m[1]);
      // bpftrace says "Lost N events" on standard output
      for (const m of (t.stdout + t.stderr).matchAll(/Lost (\d+) events/g)) drops += Number(m[1]);
      return `+${(ns - base).toFixed(1)} ns, ${lines} lines, ${drops} drops, tracer ${cpu.toFixed(2)} CPU-s`;
    };
    const prog = `syscall::getppid:entry { self->ts = timestamp; } syscall::getppid:return ${dp} { printf("%d\\n", timestamp - self->ts); self->ts = 0; } BEGIN { printf("ready\\n"); }`;
    const out = join(work, 'printed');
    const k = await run(new Tracer(process.execPath, [cli, '-q', '-n', prog], process.env, out), 30_000);
    const t = await run(new Tracer(process.execPath, [cli, '-q', '-n', prog], { ...process.env, DTRACE_TS_NO_BPF: '1' }, out), 30_000);
    let bt = 'not run';
    if (withBpftrace) {
      const b = `tracepoint:syscalls:sys_enter_getppid { @ts[tid] = nsecs; } tracepoint:syscalls:sys_exit_getppid ${bp} { printf("%d\\n", nsecs - @ts[tid]); delete(@ts[tid]); } BEGIN { printf("ready\\n"); }`;
      bt = await run(new Tracer('bpftrace', ['-e', b], process.env, out), 120_000);
    }
    line(`getppid() x ${N}, latency printed for ${name}: dtrace-ts in the kernel ${k}; on tracefs ${t}; bpftrace ${bt} (untraced ${base.toFixed(1)} ns)`);
  }
}

/** 5. the clauses of issue 15's first benchmark, in the kernel and not, beside bpftrace */
async function inKernel(line: (s: string) => void, bin: string): Promise<void> {
  const N = 2_000_000;
  const cases: Array<[string, string, string]> = [
    ['@ = count()', '@ = count();', '@ = count();'],
    ['@[pid] = count()', '@[pid] = count();', '@[pid] = count();'],
    ['@[execname] = quantize(arg0)', '@[execname] = quantize(arg0);', '@[comm] = hist(args->__syscall_nr);'],
  ];
  for (const [name, d, b] of cases) {
    const base = nsPerCall(bin, N);
    const added = async (t: Tracer, timeoutMs: number) => {
      await t.ready(/ready/, timeoutMs);
      const ns = nsPerCall(bin, N);
      await t.stop();
      return ns - base;
    };
    const prog = `syscall::getppid:entry { ${d} } BEGIN { printf("ready\\n"); }`;
    const k = await added(new Tracer(process.execPath, [cli, '-q', '-n', prog]), 30_000);
    const env = { ...process.env, DTRACE_TS_NO_BPF: '1' };
    const t = await added(new Tracer(process.execPath, [cli, '-q', '-n', prog], env), 30_000);
    let bt = NaN;
    if (withBpftrace) bt = await added(new Tracer('bpftrace', ['-e', `tracepoint:syscalls:sys_enter_getppid { ${b} } BEGIN { printf("ready\\n"); }`]), 120_000);
    line(
      `getppid() +ns per call, ${name}: dtrace-ts in the kernel +${k.toFixed(1)}, on tracefs +${t.toFixed(1)}` +
        (withBpftrace ? `, bpftrace +${bt.toFixed(1)} (in the kernel ${(k / bt).toFixed(2)}x bpftrace's)` : '') +
        ` (untraced ${base.toFixed(1)} ns)`,
    );
  }
}

/** 1. start-up */
async function startup(line: (s: string) => void): Promise<void> {
  const dt: number[] = [];
  for (let i = 0; i < RUNS; i++) dt.push(timeRun(process.execPath, [cli, '-q', '-n', 'syscall:::entry { @[probefunc] = count(); } BEGIN { exit(0); }']));
  line(`startup, every syscall, exit at once: dtrace-ts ${median(dt).toFixed(3)} s (median of ${RUNS})`);
  if (withBpftrace) {
    const bt = timeRun('bpftrace', ['-e', 'tracepoint:syscalls:sys_enter_* { @[probe] = count(); } BEGIN { exit(); }']);
    line(`startup, every syscall, exit at once: bpftrace ${bt.toFixed(3)} s (one run)`);
  }
}

/** 2. probe effect */
async function probeEffect(line: (s: string) => void, bin: string): Promise<void> {
  const N = 2_000_000;
  const base = nsPerCall(bin, N);
  line(`getppid() untraced: ${base.toFixed(1)} ns per call`);
  const effect = async (name: string, t: Tracer, timeoutMs: number) => {
    await t.ready(/ready/, timeoutMs);
    const ns = nsPerCall(bin, N);
    line(`getppid() while ${name} counts every syscall: ${ns.toFixed(1)} ns per call, +${(ns - base).toFixed(1)} ns`);
    return t;
  };
  const d = await effect('dtrace-ts', new Tracer(process.execPath, [cli, '-q', '-n', DTRACE_COUNT]), 30_000);
  await d.stop();
  if (withBpftrace) {
    const b = await effect('bpftrace', new Tracer('bpftrace', ['-e', BPF_COUNT]), 120_000);
    await b.stop();
  }
}

/** 3. consumer: a flood from one CPU (taskset keeps the consumer on the other) */
async function consumer(line: (s: string) => void, bin: string): Promise<void> {
  const flood = async (name: string, t: Tracer, timeoutMs: number) => {
    await t.ready(/ready/, timeoutMs);
    const cpu0 = cpuSeconds(t.child.pid!);
    const calls = 10_000_000;
    const t0 = process.hrtime.bigint();
    const ns = Number(spawnSync('taskset', ['-c', '0', bin, String(calls)], { encoding: 'latin1' }).stdout.trim());
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    await sleep(300);
    const cpu = cpuSeconds(t.child.pid!) - cpu0;
    await t.stop();
    const drops = [...t.stderr.matchAll(/(\d+) drops? on CPU/g)].reduce((a, m) => a + Number(m[1]), 0);
    line(
      `consumer, ${name}: ${(calls / secs / 1e6).toFixed(2)} M events/s from one CPU (${ns.toFixed(0)} ns/call), ` +
        `${drops} drops, ${((cpu / calls) * 1e6).toFixed(3)} CPU s per million events ` +
        `(${((cpu / Math.max(1, calls - drops)) * 1e6).toFixed(3)} per million handled)`,
    );
  };
  await flood('dtrace-ts', new Tracer('taskset', ['-c', '1', process.execPath, cli, '-q', '-n', DTRACE_CONSUMER]), 30_000);
  if (withBpftrace) await flood('bpftrace', new Tracer('taskset', ['-c', '1', 'bpftrace', '-e', BPF_CONSUMER]), 120_000);
  // the same clause on the one probe the flood fires: in the kernel (BPF), and on tracefs
  const one = 'syscall::getppid:entry { @[execname, probefunc] = count(); } BEGIN { printf("ready\\n"); }';
  await flood('dtrace-ts getppid only, in the kernel', new Tracer('taskset', ['-c', '1', process.execPath, cli, '-q', '-n', one]), 30_000);
  const noBpf = { ...process.env, DTRACE_TS_NO_BPF: '1' };
  await flood('dtrace-ts getppid only, on tracefs', new Tracer('taskset', ['-c', '1', process.execPath, cli, '-q', '-n', one], noBpf), 30_000);
  if (withBpftrace) {
    const bone = 'tracepoint:syscalls:sys_enter_getppid { @[comm, probe] = count(); } BEGIN { printf("ready\\n"); }';
    await flood('bpftrace getppid only', new Tracer('taskset', ['-c', '1', 'bpftrace', '-e', bone]), 120_000);
  }
}

/** 4. idle: what the consumer costs while its probe never fires (timers, polling). */
async function idle(line: (s: string) => void): Promise<void> {
  const measure = async (name: string, t: Tracer, timeoutMs: number) => {
    await t.ready(/ready/, timeoutMs);
    await sleep(1000);
    const cpu0 = cpuSeconds(t.child.pid!);
    const t0 = process.hrtime.bigint();
    await sleep(IDLE_SECONDS * 1000);
    const cpu = cpuSeconds(t.child.pid!) - cpu0;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    await t.stop();
    line(`idle, ${name}: ${((cpu / secs) * 100).toFixed(2)}% of a core over ${secs.toFixed(1)} s with no events`);
  };
  await measure('dtrace-ts', new Tracer(process.execPath, [cli, '-q', '-n', DTRACE_IDLE]), 30_000);
  if (withBpftrace) await measure('bpftrace', new Tracer('bpftrace', ['-e', BPF_IDLE]), 120_000);
}

main()
  .catch((e) => {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    process.exitCode = 1;
  })
  .finally(() => rmSync(work, { recursive: true, force: true }));
