// pid provider benchmarks (not tests: they never fail), beside bpftrace in the same run where it
// is installed, medians of BENCH_RUNS (default 3), with the load average (this machine's CPUs are
// shared: figures under load are worse):
//   1. ns added per call of a traced function in a tight loop: test/live/programs/call-loop.c
//      (gcc -O2) calls f() BENCH_CALLS times (default 200000) and times its loop; each less the
//      untraced loop, per call:
//        dtrace   `pid$target::f:entry { @ = count(); }`          (a clause that runs in the kernel)
//        dtrace   `pid$target::f:entry { printf("%d\n", arg0); }` (a clause that runs in dtrace)
//        bpftrace `uprobe:PROG:f { @ = count(); }` and `uprobe:PROG:f { printf("%d\n", arg0); }`
//      and the same for a USDT probe: test/live/programs/usdt-kinds.c (dtrace -h, gcc -O2,
//      dtrace -G) fires kinds:::reg (arguments in registers) BENCH_CALLS times:
//        dtrace   `kinds$target:::reg { @ = count(); }`, in the kernel and with BPF denied
//                 (DTRACE_TS_NO_BPF=1: the clause runs in dtrace, on the uprobe event's records)
//        bpftrace `usdt:PROG:kinds:reg { @ = count(); }`
//   2. start-up and tear-down with every function entry of libc on a running process (-p of a
//      sleep): `pid$target:libc.so.6::entry { @ = count(); } BEGIN { printf("ready\n"); }` vs
//      bpftrace `uprobe:LIBC:* { @ = count(); } BEGIN { printf("ready\n"); }`: seconds until
//      "ready" (every probe attached), then from SIGINT to the exit, median of
//      BENCH_STARTUP_RUNS (default 1: bpftrace's take minutes); then the same with libc's
//      functions named s* (about 220), and with those named a* to z* but p* (about 1,300 for
//      dtrace, one per address; 2,500 for bpftrace, one per name), the largest set bpftrace can
//      attach to (it fails on all of libc).
// BENCH_BPFTRACE=0 skips bpftrace. Needs root and cc.

import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
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
  if (cmd === 'bpftrace' && r.pid) reapBpftrace(r.pid);
  return r;
}

/** Removes the uprobe events a bpftrace (by pid) left. */
function reapBpftrace(pid: number): void {
  const file = '/sys/kernel/tracing/uprobe_events';
  try {
    for (const line of readFileSync(file, 'latin1').split('\n')) {
      const m = new RegExp(`^[pr]:(\\S+_bcc_${pid}) `).exec(line);
      if (m) appendFileSync(file, `-:${m[1]}\n`);
    }
  } catch {
    // nothing left, or no tracefs here
  }
}

/** The loop's ns in a run's output, or NaN (with why) if it failed. */
function loopNs(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  const r = run(cmd, args, env);
  const m = /^loop-ns (\d+)$/m.exec(r.stdout ?? '');
  if (!m) {
    process.stdout.write(`  (${cmd === process.execPath ? 'dtrace' : cmd} failed: ${(r.stderr ?? '').trim().split('\n').at(-1) ?? r.error?.message})\n`);
    return NaN;
  }
  return Number(m[1]);
}

function libc(): string {
  const m = /\s(\/\S*\/libc\.so\.6)$/m.exec(readFileSync('/proc/self/maps', 'latin1'));
  return m ? m[1] : '/lib/x86_64-linux-gnu/libc.so.6';
}

/** The load averages over 1, 5 and 15 minutes. */
function load(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

interface Startup {
  /** seconds until the tracer printed "ready" (NaN: it never did) */
  ready: number;
  /** seconds from SIGINT to its exit */
  end: number;
}

/** Starts a tracer on a sleeping process, times it to "ready", then stops it and times its exit. */
async function startup(cmd: string, args: (pid: number) => string[], env: NodeJS.ProcessEnv = {}): Promise<Startup> {
  const target = spawn('sleep', ['3600'], { stdio: 'ignore' });
  const t0 = process.hrtime.bigint();
  const t = spawn(cmd, args(target.pid!), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  t.stdout.setEncoding('latin1').on('data', (x: string) => (out += x));
  t.stderr.setEncoding('latin1').on('data', (x: string) => (err += x));
  const closed = new Promise<void>((r) => t.on('close', () => r()));
  let exited = false;
  void closed.then(() => (exited = true));
  while (!/^ready$/m.test(out) && !exited && Number(process.hrtime.bigint() - t0) < 900e9) await new Promise((r) => setTimeout(r, 20));
  const ready = /^ready$/m.test(out) ? Number(process.hrtime.bigint() - t0) / 1e9 : NaN;
  if (Number.isNaN(ready)) process.stdout.write(`  (${cmd === process.execPath ? 'dtrace' : cmd} failed: ${err.trim().split('\n').at(-1)})\n`);
  const t1 = process.hrtime.bigint();
  t.kill('SIGINT');
  await closed;
  const end = Number(process.hrtime.bigint() - t1) / 1e9;
  target.kill('SIGKILL');
  if (cmd === 'bpftrace' && t.pid) reapBpftrace(t.pid);
  return { ready, end };
}

const dir = mkdtempSync(join(tmpdir(), 'bench-pid-'));
/** usdt-kinds built as a DTrace user builds it (dtrace -h, gcc -O2, dtrace -G); an Error says why not. */
function buildUsdt(): string | Error | null {
  if (RUNS <= 0) return null;
  const src = join(root, 'test', 'live', 'programs');
  const step = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'latin1', cwd: dir });
    return r.status === 0 ? null : new Error(`${[cmd, ...args].join(' ')}: ${r.stderr}`);
  };
  const prog = join(dir, 'usdt-kinds');
  return (
    step(process.execPath, [cli, '-h', '-s', join(src, 'usdt-kinds.d'), '-o', join(dir, 'usdt-kinds.h')]) ??
    step('cc', ['-O2', '-I', dir, '-c', '-o', `${prog}.o`, join(src, 'usdt-kinds.c')]) ??
    step(process.execPath, [cli, '-G', '-s', join(src, 'usdt-kinds.d'), '-o', `${prog}-probes.o`, `${prog}.o`]) ??
    step('cc', ['-o', prog, `${prog}.o`, `${prog}-probes.o`]) ??
    prog
  );
}

/** How many probes dtrace makes for libc's functions a glob names. */
function probes(glob: string): number {
  return spawnSync(process.execPath, [cli, '-l', '-n', `pid$target:libc.so.6:${glob}:entry`, '-c', '/bin/true'], { encoding: 'latin1', maxBuffer: 64 << 20 }).stdout.split('\n').length - 2;
}
try {
  const prog = join(dir, 'call-loop');
  const cc = spawnSync('cc', ['-O2', '-o', prog, join(root, 'test', 'live', 'programs', 'call-loop.c')], { encoding: 'latin1' });
  if (cc.status !== 0) {
    process.stdout.write(`no C compiler: ${cc.stderr}\n`);
  } else if (RUNS > 0) {
    const base: number[] = [];
    const dt: number[] = [];
    const dp: number[] = [];
    const bt: number[] = [];
    const bp: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      base.push(loopNs(prog, [String(CALLS)]));
      dt.push(loopNs(process.execPath, [cli, '-q', '-n', 'pid$target::f:entry { @ = count(); }', '-c', `${prog} ${CALLS}`]));
      dp.push(loopNs(process.execPath, [cli, '-q', '-n', 'pid$target::f:entry { printf("%d\\n", arg0); }', '-c', `${prog} ${CALLS}`]));
      if (withBpftrace) {
        bt.push(loopNs('bpftrace', ['-q', '-e', `uprobe:${prog}:f { @ = count(); }`, '-c', `${prog} ${CALLS}`]));
        bp.push(loopNs('bpftrace', ['-q', '-e', `uprobe:${prog}:f { printf("%d\\n", arg0); }`, '-c', `${prog} ${CALLS}`]));
      }
    }
    const per = (xs: number[]) => ((median(xs) - median(base)) / CALLS).toFixed(0);
    const ratio = (a: number[], b: number[]) => ((median(a) - median(base)) / (median(b) - median(base))).toFixed(2);
    process.stdout.write(`BENCH pid per call (untraced loop ${(median(base) / CALLS).toFixed(1)} ns/call, ${CALLS} calls, load ${load()}):\n`);
    process.stdout.write(`  count(), in the kernel: dtrace +${per(dt)} ns/call`);
    process.stdout.write(withBpftrace ? `, bpftrace +${per(bt)} ns/call, ratio ${ratio(dt, bt)}x\n` : '\n');
    process.stdout.write(`  printf(), in dtrace:    dtrace +${per(dp)} ns/call`);
    process.stdout.write(withBpftrace ? `, bpftrace +${per(bp)} ns/call, ratio ${ratio(dp, bp)}x\n` : '\n');
  }
  const usdt = buildUsdt();
  if (typeof usdt === 'string' && RUNS > 0) {
    const base: number[] = [];
    const dk: number[] = [];
    const dd: number[] = [];
    const bt: number[] = [];
    const d = 'kinds$target:::reg { @ = count(); }';
    for (let i = 0; i < RUNS; i++) {
      base.push(loopNs(usdt, [String(CALLS), 'loop']));
      dk.push(loopNs(process.execPath, [cli, '-q', '-n', d, '-c', `${usdt} ${CALLS} loop`]));
      dd.push(loopNs(process.execPath, [cli, '-q', '-n', d, '-c', `${usdt} ${CALLS} loop`], { DTRACE_TS_NO_BPF: '1' }));
      if (withBpftrace) bt.push(loopNs('bpftrace', ['-q', '-e', `usdt:${usdt}:kinds:reg { @ = count(); }`, '-c', `${usdt} ${CALLS} loop`]));
    }
    const per = (xs: number[]) => ((median(xs) - median(base)) / CALLS).toFixed(0);
    process.stdout.write(`BENCH usdt per call (untraced loop ${(median(base) / CALLS).toFixed(1)} ns/call, ${CALLS} calls, load ${load()}):\n`);
    process.stdout.write(`  count(), in the kernel: dtrace +${per(dk)} ns/call${withBpftrace ? `, bpftrace +${per(bt)} ns/call` : ''}\n`);
    process.stdout.write(`  count(), BPF denied (in dtrace): dtrace +${per(dd)} ns/call\n`);
  } else if (usdt instanceof Error) process.stdout.write(`usdt: ${usdt.message}\n`);
  const lib = libc();
  // all of libc (bpftrace fails on it, and on its functions named _* and p*: it cannot attach to
  // a function beginning with a lock or xbegin prefix, which dtrace leaves out with a warning);
  // its functions named s*; and the largest set both attach to: the functions named a* to z*
  // but p* (BENCH_STARTUP_GLOBS: others, comma-separated, '+' joining globs into one set)
  const letters = [...'abcdefghijklmnoqrstuvwxyz'].map((c) => `${c}*`).join('+');
  // BENCH_STARTUP_RUNS=0: the per-call figures only
  for (const set of STARTUP_RUNS > 0 ? (process.env.BENCH_STARTUP_GLOBS ?? `all,s*,${letters}`).split(',') : []) {
    const globs = set === 'all' ? [''] : set.split('+');
    const name = set === 'all' ? 'all' : set === letters ? 'a* to z* but p*' : set;
    const ds: Startup[] = [];
    const bs: Startup[] = [];
    for (let i = 0; i < STARTUP_RUNS; i++) {
      const descs = globs.map((g) => `pid$target:libc.so.6:${g}:entry`).join(', ');
      ds.push(await startup(process.execPath, (pid) => [cli, '-Z', '-q', '-n', `${descs} { @ = count(); } BEGIN { printf("ready\\n"); }`, '-p', String(pid)]));
      // bpftrace refuses more than 512 probes unless told
      const probes = globs.map((g) => `uprobe:${lib}:${g || '*'}`).join(', ');
      if (withBpftrace) bs.push(await startup('bpftrace', (pid) => ['-q', '-e', `${probes} { @ = count(); } BEGIN { printf("ready\\n"); }`, '-p', String(pid)], { BPFTRACE_MAX_PROBES: '100000' }));
    }
    const show = (xs: Startup[]) => `${median(xs.map((x) => x.ready)).toFixed(2)} s to start, ${median(xs.map((x) => x.end)).toFixed(2)} s to end`;
    const n = globs.reduce((sum, g) => sum + probes(g), 0);
    process.stdout.write(`BENCH libc's function entries, ${name} (${n} probes), load ${load()}: dtrace ${show(ds)}`);
    process.stdout.write(withBpftrace ? `; bpftrace ${show(bs)}\n` : '\n');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
