// pid provider benchmarks (not tests: they never fail), beside bpftrace in the same run where it
// is installed, medians of BENCH_RUNS (default 3):
//   1. ns added per call of a traced function in a tight loop: test/live/programs/call-loop.c
//      (gcc -O2) calls f() BENCH_CALLS times (default 200000) and times its loop; dtrace
//      `pid$target::f:entry { @ = count(); }` vs bpftrace `uprobe:PROG:f { @ = count(); }`, each
//      less the untraced loop, per call;
//   2. start-up with every function entry of libc: `pid$target:libc.so.6::entry { @ = count(); }`
//      -c /bin/true vs bpftrace `uprobe:LIBC:* { @ = count(); }` -c /bin/true, wall time, median of
//      BENCH_STARTUP_RUNS (default 1: each takes a minute or more here).
// BENCH_BPFTRACE=0 skips bpftrace. Needs root and cc.

import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** runs of the start-up with every libc function (each takes a minute or more) */
const STARTUP_RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 1);
const CALLS = Number(process.env.BENCH_CALLS ?? 200000);
const withBpftrace = process.env.BENCH_BPFTRACE !== '0' && spawnSync('bpftrace', ['--version']).status === 0;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Runs a tracer to its end. bpftrace, when it fails part-way through attaching (as it does on
 * all of libc), leaves uprobe events named after its pid (`..._bcc_PID`): those are removed.
 */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { encoding: 'latin1', maxBuffer: 64 << 20, timeout: 600_000, env: { ...process.env, ...env } });
  if (cmd === 'bpftrace' && r.pid) {
    const file = '/sys/kernel/tracing/uprobe_events';
    try {
      for (const line of readFileSync(file, 'latin1').split('\n')) {
        const m = new RegExp(`^[pr]:(\\S+_bcc_${r.pid}) `).exec(line);
        if (m) appendFileSync(file, `-:${m[1]}\n`);
      }
    } catch {
      // nothing left, or no tracefs here
    }
  }
  return r;
}

/** The loop's ns in a run's output, or NaN (with why) if it failed. */
function loopNs(cmd: string, args: string[]): number {
  const r = run(cmd, args);
  const m = /^loop-ns (\d+)$/m.exec(r.stdout ?? '');
  if (!m) {
    process.stdout.write(`  (${cmd === process.execPath ? 'dtrace' : cmd} failed: ${(r.stderr ?? '').trim().split('\n').at(-1) ?? r.error?.message})\n`);
    return NaN;
  }
  return Number(m[1]);
}

/** Wall seconds of a run, or NaN if it failed. */
function wall(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  const t0 = process.hrtime.bigint();
  const r = run(cmd, args, env);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    process.stdout.write(`  (${cmd === process.execPath ? 'dtrace' : cmd} failed: ${(r.stderr ?? '').trim().split('\n').at(-1) ?? r.error?.message})\n`);
    return NaN;
  }
  return s;
}

function libc(): string {
  const m = /\s(\/\S*\/libc\.so\.6)$/m.exec(readFileSync('/proc/self/maps', 'latin1'));
  return m ? m[1] : '/lib/x86_64-linux-gnu/libc.so.6';
}

const dir = mkdtempSync(join(tmpdir(), 'bench-pid-'));
try {
  const prog = join(dir, 'call-loop');
  const cc = spawnSync('cc', ['-O2', '-o', prog, join(root, 'test', 'live', 'programs', 'call-loop.c')], { encoding: 'latin1' });
  if (cc.status !== 0) {
    process.stdout.write(`no C compiler: ${cc.stderr}\n`);
  } else {
    const base: number[] = [];
    const dt: number[] = [];
    const bt: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      base.push(loopNs(prog, [String(CALLS)]));
      dt.push(loopNs(process.execPath, [cli, '-q', '-n', 'pid$target::f:entry { @ = count(); }', '-c', `${prog} ${CALLS}`]));
      if (withBpftrace) bt.push(loopNs('bpftrace', ['-q', '-e', `uprobe:${prog}:f { @ = count(); }`, '-c', `${prog} ${CALLS}`]));
    }
    const per = (xs: number[]) => ((median(xs) - median(base)) / CALLS).toFixed(0);
    process.stdout.write(`BENCH pid per call (untraced loop ${(median(base) / CALLS).toFixed(1)} ns/call): dtrace +${per(dt)} ns/call`);
    process.stdout.write(withBpftrace ? `, bpftrace +${per(bt)} ns/call, ratio ${((median(dt) - median(base)) / (median(bt) - median(base))).toFixed(2)}x\n` : '\n');
  }
  const lib = libc();
  const ds: number[] = [];
  const bs: number[] = [];
  for (let i = 0; i < STARTUP_RUNS; i++) {
    ds.push(wall(process.execPath, [cli, '-q', '-n', 'pid$target:libc.so.6::entry { @ = count(); }', '-c', '/bin/true']));
    // bpftrace refuses more than 512 probes unless told
    if (withBpftrace) bs.push(wall('bpftrace', ['-q', '-e', `uprobe:${lib}:* { @ = count(); }`, '-c', '/bin/true'], { BPFTRACE_MAX_PROBES: '100000' }));
  }
  if (ds.length > 0) {
    process.stdout.write(`BENCH start-up, every libc function's entry: dtrace ${median(ds).toFixed(2)} s`);
    process.stdout.write(withBpftrace ? `, bpftrace ${median(bs).toFixed(2)} s\n` : '\n');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
