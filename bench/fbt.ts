// fbt benchmarks (not tests), on a kernel with kprobe events (the lab runs them in its guests),
// medians of BENCH_RUNS:
//   1. listing every fbt probe: dtrace -l -P fbt (reads available_filter_functions);
//   2. start-up with one kprobe, exiting at once: fbt::sys_chdir:entry, beside a tracepoint
//      probe's (syscall::chdir:entry);
//   3. start-up with every vfs_* function's entry probe (dozens of kprobes in one write);
//   4. probe effect: ns each chdir() of a shell loop gains while fbt::sys_chdir:entry counts.
// bpftrace, where installed, runs the same beside it.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const LOOPS = 20_000;
const withBpftrace = process.env.BENCH_BPFTRACE !== '0' && spawnSync('bpftrace', ['--version']).status === 0;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timed(cmd: string, args: string[]): { seconds: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return { seconds, stdout: r.stdout };
}

function report(what: string, seconds: number[], extra = ''): void {
  process.stdout.write(`BENCH ${what}: ${median(seconds).toFixed(3)} s${extra}\n`);
}

/** ns per iteration of a shell loop of `cd /`. */
function loopNs(): number {
  const t0 = process.hrtime.bigint();
  spawnSync('sh', ['-c', `i=0; while [ $i -lt ${LOOPS} ]; do cd /; i=$((i+1)); done`]);
  return Number(process.hrtime.bigint() - t0) / LOOPS;
}

async function probeEffect(cmd: string, args: string[], ready: RegExp | null): Promise<number> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  child.stdout.on('data', (b: Buffer) => (err += b.toString()));
  // ready: dtrace's instance is tracing (on, with its events), bpftrace says "Attaching"
  for (let i = 0; i < 3000; i++) {
    if (ready ? ready.test(err) : tracingStarted(child.pid!)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ns = median(Array.from({ length: 3 }, loopNs));
  child.kill('SIGINT');
  await new Promise((r) => child.on('close', r));
  return ns;
}

function tracingStarted(pid: number): boolean {
  const r = spawnSync('sh', ['-c', `for d in /sys/kernel/tracing/instances/dtrace-ts-${pid}-*; do [ -s $d/set_event ] && cat $d/tracing_on; done`], { encoding: 'utf8' });
  return r.stdout.trim() === '1';
}

async function main(): Promise<void> {
  if (!existsSync('/sys/kernel/tracing/kprobe_events')) {
    process.stdout.write('BENCH skipped: this kernel has no kprobe events\n');
    return;
  }
  const runs = (f: () => number) => Array.from({ length: RUNS }, f);
  let count = 0;
  report('dtrace -l -P fbt', runs(() => {
    const r = timed(process.execPath, [cli, '-l', '-P', 'fbt']);
    count = r.stdout.split('\n').length - 2;
    return r.seconds;
  }), ` (${count} probes)`);
  // the yardstick: a probe that is one tracefs event, no kprobe to create
  report('dtrace syscall::chdir:entry start-up', runs(() => timed(process.execPath, [cli, '-q', '-n', 'syscall::chdir:entry', '-n', 'BEGIN { exit(0); }']).seconds));
  report('dtrace fbt::sys_chdir:entry start-up', runs(() => timed(process.execPath, [cli, '-q', '-n', 'fbt::sys_chdir:entry', '-n', 'BEGIN { exit(0); }']).seconds));
  const vfs = timed(process.execPath, [cli, '-l', '-n', 'fbt::vfs_*:entry']).stdout.split('\n').length - 2;
  report(`dtrace fbt::vfs_*:entry start-up (${vfs} kprobes)`, runs(() => timed(process.execPath, [cli, '-q', '-n', 'fbt::vfs_*:entry { @ = count(); }', '-n', 'BEGIN { exit(0); }']).seconds));
  if (withBpftrace) {
    report('bpftrace kprobe:__x64_sys_chdir start-up', runs(() => timed('bpftrace', ['-e', 'kprobe:__x64_sys_chdir {} BEGIN { exit(); }']).seconds));
    report('bpftrace kprobe:vfs_* start-up', runs(() => timed('bpftrace', ['-e', 'kprobe:vfs_* { @ = count(); } BEGIN { exit(); }']).seconds));
  }
  const base = median(Array.from({ length: 3 }, loopNs));
  const traced = await probeEffect(process.execPath, [cli, '-n', 'fbt::sys_chdir:entry { @[execname] = count(); }'], null);
  let line = `untraced ${base.toFixed(0)} ns, dtrace-ts +${(traced - base).toFixed(0)} ns`;
  if (withBpftrace) {
    const b = await probeEffect('bpftrace', ['-e', 'kprobe:__x64_sys_chdir { @[comm] = count(); }'], /Attaching/);
    line += `, bpftrace +${(b - base).toFixed(0)} ns`;
  }
  process.stdout.write(`BENCH probe effect per cd / (shell loop): ${line}\n`);
}

await main();
