// profile-N's consumer cost (a benchmark, not a test: it never fails). Runs, beside bpftrace in
// the same run where it is installed, medians of BENCH_RUNS (default 3):
//   dtrace   -n 'profile-997 { @[cpu] = count(); }'   (and profile-4999, and with @[stack()]; and
//            profile-97: the per-sample figure is the slope from it, polling's cost left out)
//   bpftrace -e 'profile:hz:997 { @[cpu] = count(); }'
// for BENCH_SECONDS (default 6) each, and prints the samples taken per second and the
// consumer's CPU (user + system, from /proc/PID/stat) per second and per sample, measured from
// 1 s after the start to the end (start-up left out). bpftrace counts in the kernel (a BPF map),
// so its consumer does next to nothing per sample; so does dtrace-ts where the clauses compile
// to BPF (the "kernel" lines), and its own sampler reads each sample in user space otherwise
// (the "sampler" lines: DTRACE_TS_NO_BPF=1, as where BPF is not available).
// Needs root. BENCH_BPFTRACE=0 skips bpftrace; BENCH_CLI=path runs another build of dtrace.

import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, median, sleep } from './common.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = process.env.BENCH_CLI ?? join(root, 'dist', 'cli.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const withBpftrace = process.env.BENCH_BPFTRACE !== '0' && spawnSync('bpftrace', ['--version']).status === 0;

interface Run {
  samplesPerSec: number;
  cpuPerSec: number;
}

/** Runs a tracer that prints its counts at SIGINT; measures CPU from 1 s in to the end. */
async function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  c.stdout!.on('data', (b: Buffer) => (out += b.toString('latin1')));
  c.stderr!.on('data', () => {});
  const done = new Promise<void>((r) => c.on('close', () => r()));
  await sleep(1000);
  const cpu0 = cpuSeconds(c.pid!);
  const t0 = Date.now();
  await sleep((SECONDS - 1) * 1000);
  const cpu1 = cpuSeconds(c.pid!);
  const dt = (Date.now() - t0) / 1000;
  c.kill('SIGINT');
  // a tracer still starting up may miss the first (bpftrace did, once): again, then for good
  const again = setTimeout(() => c.kill('SIGINT'), 5000);
  const last = setTimeout(() => c.kill('SIGKILL'), 20000);
  await done;
  clearTimeout(again);
  clearTimeout(last);
  // the counts: "  0   1234" (dtrace) or "@[0]: 1234" (bpftrace), summed over CPUs
  let samples = 0;
  for (const m of out.matchAll(/^(?:[ \t]*\d+[ \t]+|@\[\d+\]: )(\d+)$/gm)) samples += Number(m[1]);
  return { samplesPerSec: samples / SECONDS, cpuPerSec: (cpu1 - cpu0) / dt };
}

/**
 * Prints a tracer's figures; `base` is another run's [samples/s, CPU/s], at a low rate that
 * keeps the rings polled as often (every 10 ms): the per-sample figure is the slope between them.
 */
async function bench(name: string, cmd: string, args: string[], base: [number, number] | null = null, env: NodeJS.ProcessEnv = {}): Promise<[number, number]> {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await measure(cmd, args, env));
  const rate = median(runs.map((r) => r.samplesPerSec));
  const cpu = median(runs.map((r) => r.cpuPerSec));
  const perSample = base !== null && rate > base[0] ? ((cpu - base[1]) / (rate - base[0])) * 1e6 : NaN;
  const each = Number.isNaN(perSample) ? '' : `   ${perSample.toFixed(2)} us per sample more`;
  console.log(`${name.padEnd(56)} ${rate.toFixed(0).padStart(6)} samples/s   consumer CPU ${(cpu * 100).toFixed(2).padStart(6)} % of a core${each}`);
  return [rate, cpu];
}

for (const [mode, env] of [
  ['kernel', {}],
  ['sampler', { DTRACE_TS_NO_BPF: '1' }],
] as const) {
  const base = await bench(`dtrace (${mode}) profile-97 @[cpu] = count()`, process.execPath, [cli, '-q', '-n', 'profile-97 { @[cpu] = count(); }'], null, env);
  await bench(`dtrace (${mode}) profile-997 @[cpu] = count()`, process.execPath, [cli, '-q', '-n', 'profile-997 { @[cpu] = count(); }'], base, env);
  await bench(`dtrace (${mode}) profile-4999 @[cpu] = count()`, process.execPath, [cli, '-q', '-n', 'profile-4999 { @[cpu] = count(); }'], base, env);
  await bench(`dtrace (${mode}) profile-997 @[stack()] = count()`, process.execPath, [cli, '-q', '-n', 'profile-997 { @[stack()] = count(); @n[cpu] = count(); }'], base, env);
}
if (withBpftrace) {
  await bench('bpftrace profile:hz:997 @[cpu] = count()', 'bpftrace', ['-e', 'profile:hz:997 { @[cpu] = count(); }']);
  await bench('bpftrace profile:hz:997 @[kstack] = count()', 'bpftrace', ['-e', 'profile:hz:997 { @s[kstack] = count(); @[cpu] = count(); }']);
} else console.log('bpftrace: not installed (or BENCH_BPFTRACE=0)');
