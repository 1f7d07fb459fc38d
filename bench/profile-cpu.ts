// The consumer's CPU for the two profiling one-liners, side by side in one run (a benchmark, not
// a test: it never fails):
//   dtrace   -n 'profile-997 { @[stack()] = count(); }'    kernel path (BPF) and dtrace's sampler (DTRACE_TS_NO_BPF=1)
//   bpftrace -e 'profile:hz:997 { @[kstack] = count(); }'
//   dtrace   -n 'profile-997 { @[ustack()] = count(); }'   (dtrace's sampler only: ustack() is unwound in dtrace, with CFI)
//   bpftrace -e 'profile:hz:997 { @[ustack] = count(); }'
// each for BENCH_SECONDS (default 10) while a busy loop runs (niced) on every CPU, so that every
// sample has a stack; medians of BENCH_RUNS (default 3). Prints the load average before and
// after, then for each: samples per second (what the output counted) and the consumer's CPU
// (user + system of the tracer's own process, /proc/PID/stat) per 10 s, measured from 1 s after
// it traces (start-up left out) to the end. Needs root. BENCH_BPFTRACE=0 skips bpftrace.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, median, sleep } from './common.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = process.env.BENCH_CLI ?? join(root, 'dist', 'cli.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const withBpftrace = process.env.BENCH_BPFTRACE !== '0' && spawnSync('bpftrace', ['--version']).status === 0;

interface Run {
  samplesPerSec: number;
  cpuPer10s: number;
}

/** Runs a tracer that prints its stack aggregation at SIGINT; measures its CPU from 1 s in to the end. */
async function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  c.stdout!.on('data', (b: Buffer) => (out += b.toString('latin1')));
  c.stderr!.on('data', (b: Buffer) => {
    if (!/^(go|Attaching)/m.test(out) && b.toString('latin1').includes('Attaching')) out += 'Attaching\n';
  });
  const done = new Promise<void>((r) => c.on('close', () => r()));
  // from when it traces (dtrace's BEGIN prints "go", bpftrace says "Attaching"), a second on
  const live = Date.now();
  while (!/^(go|Attaching)/m.test(out) && Date.now() - live < 60_000) await sleep(50);
  await sleep(1000);
  const cpu0 = cpuSeconds(c.pid!);
  const t0 = Date.now();
  await sleep((SECONDS - 1) * 1000);
  const cpu1 = cpuSeconds(c.pid!);
  const dt = (Date.now() - t0) / 1000;
  // once: a second SIGINT stops bpftrace while it prints (symbolising user stacks takes seconds)
  c.kill('SIGINT');
  // (bpftrace symbolises tens of thousands of user stacks at exit: on a loaded machine, minutes)
  const last = setTimeout(() => c.kill('SIGKILL'), 180_000);
  await done;
  clearTimeout(last);
  // a stack's count: alone on its line (dtrace) or after its closing bracket (bpftrace: "]: 12", "@[]: 12" for an empty stack)
  let samples = 0;
  for (const m of out.matchAll(/^(?:[ \t]+|\]: |@\[\]: )(\d+)$/gm)) samples += Number(m[1]);
  return { samplesPerSec: samples / SECONDS, cpuPer10s: ((cpu1 - cpu0) / dt) * 10 };
}

async function bench(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await measure(cmd, args, env));
  const rate = median(runs.map((r) => r.samplesPerSec));
  const cpu = median(runs.map((r) => r.cpuPer10s));
  const per10k = rate > 0 ? (cpu / (rate * 10)) * 10_000 : NaN;
  console.log(`${name.padEnd(60)} ${rate.toFixed(0).padStart(6)} samples/s   consumer CPU ${cpu.toFixed(3).padStart(7)} s per 10 s   ${per10k.toFixed(3).padStart(7)} s per 10,000 samples`);
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
const loads: ChildProcess[] = [];
for (let c = 0; c < cpus().length; c++) loads.push(spawn('nice', ['-n', '19', 'taskset', '-c', String(c), 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }));
try {
  console.log(`load average before: ${load()}   (${cpus().length} CPUs, a niced busy loop on each; ${RUNS} runs of ${SECONDS} s, medians)`);
  await bench('dtrace (kernel) profile-997 @[stack()] = count()', process.execPath, [cli, '-q', '-n', 'BEGIN { printf("go\\n"); } profile-997 { @[stack()] = count(); }']);
  await bench('dtrace (sampler) profile-997 @[stack()] = count()', process.execPath, [cli, '-q', '-n', 'BEGIN { printf("go\\n"); } profile-997 { @[stack()] = count(); }'], { DTRACE_TS_NO_BPF: '1' });
  if (withBpftrace) await bench('bpftrace profile:hz:997 @[kstack] = count()', 'bpftrace', ['-e', 'profile:hz:997 { @[kstack] = count(); }']);
  await bench('dtrace (sampler) profile-997 @[ustack()] = count()', process.execPath, [cli, '-q', '-n', 'BEGIN { printf("go\\n"); } profile-997 { @[ustack()] = count(); }']);
  if (withBpftrace) await bench('bpftrace profile:hz:997 @[ustack] = count()', 'bpftrace', ['-e', 'profile:hz:997 { @[ustack] = count(); }']);
  if (!withBpftrace) console.log('bpftrace: not installed (or BENCH_BPFTRACE=0)');
  console.log(`load average after: ${load()}`);
} finally {
  for (const l of loads) l.kill('SIGKILL');
}
