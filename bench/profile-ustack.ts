// Sampling user stacks, side by side in one run (a benchmark, not a test: it never fails):
//   dtrace   -n 'profile-997 { @[ustack()] = count(); }'
//   perf record -F 997 -g -a                 (where a perf binary runs here)
//   bpftrace -e 'profile:hz:997 { @[ustack] = count(); }'   (where installed)
// each while a CPU-bound program (built by this bench, -O2 with frame pointers, so that all
// three can walk its stacks: main -> work -> hot -> spin) runs a fixed amount of work on every
// CPU. Prints, medians of BENCH_RUNS (default 3):
//   - the program's slowdown (wall time against a run with no tracer just before): the kernel's part of each
//     sample (the interrupt, the copy of the stack) lands on the program;
//   - samples delivered per CPU per second;
//   - the consumer's CPU (user + system of the tracer's process, /proc/PID/stat) per 10,000
//     samples with stacks.
// BENCH_WORK scales the program's work (default 1: ~3 s alone on an idle CPU). Needs root and cc.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, sleep } from './common.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WORK = Number(process.env.BENCH_WORK ?? 1);
const NCPU = cpus().length;

const PROGRAM = `
#include <stdlib.h>
volatile long sink;
__attribute__((noinline)) void spin(long n) { for (long i = 0; i < n; i++) sink += i * i; }
__attribute__((noinline)) void hot(long n) { spin(n); sink++; }
__attribute__((noinline)) void work(long rounds) { for (long r = 0; r < rounds; r++) hot(1000000); sink++; }
int main(int argc, char **argv) { work(atol(argv[1])); return 0; }
`;

const dir = mkdtempSync(join(tmpdir(), 'bench-profile-ustack-'));
const prog = join(dir, 'spinner');
writeFileSync(join(dir, 'spinner.c'), PROGRAM);
const cc = spawnSync('cc', ['-O2', '-fno-omit-frame-pointer', '-o', prog, join(dir, 'spinner.c')], { encoding: 'latin1' });
if (cc.status !== 0) {
  console.log(`no C compiler: ${cc.stderr}`);
  process.exit(0);
}
const ROUNDS = String(Math.round(2500 * WORK));

function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}

/** Runs the program on every CPU at once (one pinned copy each); resolves with the wall time (s). */
async function workload(): Promise<number> {
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: NCPU }, (_, cpu) => {
      const c = spawn('taskset', ['-c', String(cpu), prog, ROUNDS], { stdio: 'ignore' });
      return new Promise<void>((r) => c.on('close', () => r()));
    }),
  );
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

interface Run {
  wall: number;
  samples: number;
  cpu: number;
}

interface Tracer {
  name: string;
  cmd: string;
  args: string[];
  /** the tracer is tracing: after this many ms, or once its output says so */
  ready: (out: string) => boolean;
  samples: (out: string) => number;
}

async function measure(t: Tracer): Promise<Run> {
  const c: ChildProcess = spawn(t.cmd, t.args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let out = '';
  c.stdout!.on('data', (b: Buffer) => (out += b.toString('latin1')));
  c.stderr!.on('data', (b: Buffer) => (out += b.toString('latin1')));
  const done = new Promise<void>((r) => c.on('close', () => r()));
  for (let i = 0; i < 100 && !t.ready(out); i++) await sleep(100);
  await sleep(300);
  const cpu0 = cpuSeconds(c.pid!);
  const wall = await workload();
  const cpu1 = cpuSeconds(c.pid!);
  c.kill('SIGINT');
  await done;
  return { wall, samples: t.samples(out), cpu: cpu1 - cpu0 };
}

const tracers: Tracer[] = [
  {
    name: "dtrace profile-997 { @[ustack()] = count(); }",
    cmd: process.execPath,
    args: [cli, '-q', '-n', 'BEGIN { printf("ready\\n"); } profile-997 { @[ustack()] = count(); n++; } END { printf("samples %d\\n", n); }'],
    ready: (o) => o.includes('ready'),
    samples: (o) => Number(/samples (\d+)/.exec(o)?.[1] ?? NaN),
  },
];
const perfWorks = spawnSync('perf', ['record', '-F', '997', '-g', '-a', '-o', join(dir, 'probe.data'), '--', 'true'], { encoding: 'latin1' }).status === 0;
if (perfWorks) {
  tracers.push({
    name: 'perf record -F 997 -g -a',
    cmd: 'perf',
    args: ['record', '-F', '997', '-g', '-a', '-o', join(dir, 'perf.data')],
    ready: () => true,
    samples: (o) => Number(/\((\d+) samples\)/.exec(o)?.[1] ?? NaN),
  });
}
const bpftraceWorks = spawnSync('bpftrace', ['--version']).status === 0;
if (bpftraceWorks) {
  tracers.push({
    name: 'bpftrace profile:hz:997 { @[ustack] = count(); }',
    cmd: 'bpftrace',
    args: ['-e', 'profile:hz:997 { @[ustack] = count(); @n = count(); }'],
    ready: (o) => o.includes('Attaching'),
    samples: (o) => Number(/@n: (\d+)/.exec(o)?.[1] ?? NaN),
  });
}

// the machine may be shared: each tracer's run is paired with a run of the program alone just before it
const alone: number[] = [];
const results = tracers.map(() => [] as Array<Run & { base: number }>);
for (let i = 0; i < RUNS; i++) {
  for (let j = 0; j < tracers.length; j++) {
    const base = await workload();
    alone.push(base);
    results[j].push({ ...(await measure(tracers[j])), base });
  }
}
console.log(`${NCPU} CPUs; the program alone: ${median(alone).toFixed(2)} s (median of ${alone.length})`);
tracers.forEach((t, j) => {
  const runs = results[j];
  const slowdown = median(runs.map((r) => (r.wall - r.base) / r.base));
  const perCpuSec = median(runs.map((r) => r.samples / NCPU / r.wall));
  const per10k = median(runs.map((r) => (r.cpu / r.samples) * 1e4));
  console.log(
    `${t.name.padEnd(52)} slowdown ${(slowdown * 100).toFixed(1).padStart(5)} %   ${perCpuSec.toFixed(0).padStart(4)} samples/CPU/s   consumer ${per10k.toFixed(3)} CPU-s per 10,000 samples`,
  );
});
if (!perfWorks) console.log('perf record: no perf binary that runs on this kernel');
if (!bpftraceWorks) console.log('bpftrace: not installed');
rmSync(dir, { recursive: true, force: true });
