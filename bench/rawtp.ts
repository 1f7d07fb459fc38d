// rawtp benchmarks (not tests), medians, on the live kernel, beside bpftrace where it applies:
//   1. start-up of one raw tracepoint, exiting at once (dtrace rawtp:::sys_enter; bpftrace's
//      tracepoint:raw_syscalls:sys_enter: bpftrace 0.17 has no rawtracepoint probes);
//   2. probe effect: ns each getppid() call gains while sys_enter (every system call) is traced:
//      counted in the kernel (`/arg1 == 110/ { @ = count(); }` compiles to BPF), each event
//      through the perf ring to dtrace (a clause that stays in dtrace), the same clause on the
//      tracefs event sdt:raw_syscalls::sys_enter, and bpftrace's count on the tracepoint;
//   3. consumer: a getppid() flood while every sys_enter goes through the ring to dtrace: the
//      event rate, drops and dtrace's CPU seconds per million events.
// Needs root, BPF and cc; BENCH_RUNS, BENCH_BPFTRACE=0.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const withBpftrace = process.env.BENCH_BPFTRACE !== '0' && spawnSync('bpftrace', ['--version']).status === 0;
const work = mkdtempSync(join(tmpdir(), 'dtrace-ts-bench-rawtp-'));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `getppid N`: N getppid() calls, printing the ns each took. */
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

class Tracer {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  constructor(cmd: string, args: string[]) {
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (b: Buffer) => (this.stdout += b.toString('latin1')));
    this.child.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString('latin1')));
  }
  async ready(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!/ready/.test(this.stdout)) {
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

const READY = 'BEGIN { printf("ready\\n"); }';
/** counted in the kernel: a predicate and an aggregation */
const IN_KERNEL = `rawtp:::sys_enter /arg1 == 110/ { @ = count(); } ${READY}`;
/** through the ring: a global variable keeps the clause in dtrace */
const IN_DTRACE = `rawtp:::sys_enter /arg1 == 110/ { x = arg1; @ = count(); } ${READY}`;
const ON_TRACEFS = `sdt:raw_syscalls::sys_enter /arg1 == 110/ { x = arg1; @ = count(); } ${READY}`;
const BPFTRACE = 'tracepoint:raw_syscalls:sys_enter /args->id == 110/ { @ = count(); } BEGIN { printf("ready\\n"); }';

async function main(): Promise<void> {
  const line = (s: string) => process.stdout.write(s + '\n');
  const dt: number[] = [];
  for (let i = 0; i < RUNS; i++) dt.push(timeRun(process.execPath, [cli, '-q', '-n', 'rawtp:::sys_enter { @ = count(); } BEGIN { exit(0); }']));
  line(`startup, rawtp:::sys_enter, exit at once: dtrace-ts ${median(dt).toFixed(3)} s (median of ${RUNS})`);
  if (withBpftrace) {
    const bt: number[] = [];
    for (let i = 0; i < Math.min(RUNS, 3); i++) bt.push(timeRun('bpftrace', ['-e', 'tracepoint:raw_syscalls:sys_enter { @ = count(); } BEGIN { exit(); }']));
    line(`startup, tracepoint:raw_syscalls:sys_enter, exit at once: bpftrace ${median(bt).toFixed(3)} s`);
  }

  const bin = buildLoop();
  const N = 1_000_000;
  const base = nsPerCall(bin, N);
  line(`getppid() untraced: ${base.toFixed(1)} ns per call`);
  const added = async (name: string, cmd: string, args: string[]) => {
    const t = new Tracer(cmd, args);
    await t.ready(120_000);
    const ns = nsPerCall(bin, N);
    await t.stop();
    line(`getppid() while ${name}: +${(ns - base).toFixed(1)} ns per call`);
  };
  await added('rawtp:::sys_enter counts in the kernel', process.execPath, [cli, '-q', '-n', IN_KERNEL]);
  await added('rawtp:::sys_enter sends each event to dtrace', process.execPath, [cli, '-q', '-n', IN_DTRACE]);
  await added('sdt:raw_syscalls::sys_enter sends each event to dtrace (tracefs)', process.execPath, [cli, '-q', '-n', ON_TRACEFS]);
  if (withBpftrace) await added('bpftrace counts tracepoint:raw_syscalls:sys_enter', 'bpftrace', ['-e', BPFTRACE]);

  // 3. consumer
  const t = new Tracer(process.execPath, [cli, '-n', IN_DTRACE]);
  await t.ready(60_000);
  const cpu0 = cpuSeconds(t.child.pid!);
  const t0 = process.hrtime.bigint();
  spawnSync(bin, [String(4 * N)]);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await sleep(500);
  const cpu = cpuSeconds(t.child.pid!) - cpu0;
  await t.stop();
  const counted = Number(/^\s+(\d+)\s*$/m.exec(t.stdout)?.[1] ?? 0);
  const drops = [...t.stderr.matchAll(/(\d+) drops? on CPU/g)].reduce((n, m) => n + Number(m[1]), 0);
  line(
    `consumer: ${counted} of ${4 * N} getppid() events through the ring in ${secs.toFixed(2)} s (${(counted / secs / 1e6).toFixed(2)} M/s), ` +
      `${drops} dropped, dtrace ${cpu.toFixed(2)} CPU s (${((cpu / Math.max(1, counted)) * 1e6).toFixed(2)} CPU s per million events)`,
  );
}

main()
  .catch((e) => {
    process.stderr.write(`bench failed: ${(e as Error).message}\n`);
  })
  .finally(() => rmSync(work, { recursive: true, force: true }));
