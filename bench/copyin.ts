// copyinstr() under a flood, beside bpftrace in the same run (not a test): one process makes
// 1,000,000 openat() calls on distinct paths built in one reused buffer, at several rates, and
// each tracer prints every path as the call was made:
//        dtrace   -n 'syscall::openat:entry /execname == "flood-PID"/ { printf("%s\n", copyinstr(arg1)); }'
//        bpftrace -e 'tracepoint:syscalls:sys_enter_openat /comm == "flood-PID"/ { printf("%s\n", str(args->filename)); }'
// For each: paths printed, wrong or repeated paths (must be 0), losses reported, and whether
// printed + reported accounts for every call. Needs root, tracefs and cc; bpftrace is optional
// (BENCH_BPFTRACE=0 skips it). BENCH_CALLS changes the number of calls.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
const CALLS = Number(process.env.BENCH_CALLS ?? 1_000_000);
const RATES = [100_000, 200_000, 400_000, 0];
const PREFIX = '/nonexistent/dtrace-ts-flood/';
const withBpftrace = process.env.BENCH_BPFTRACE !== '0' && spawnSync('bpftrace', ['--version']).status === 0;
const work = mkdtempSync(join(tmpdir(), 'dtrace-ts-bench-'));
// a name of its own (execname and comm are what the tracers filter on): a test's flood running
// at the same time must not count
const floodName = `flood-${process.pid}`.slice(0, 15);
const flood = join(work, floodName);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Result {
  printed: number;
  wrong: number;
  reported: number;
}

/** Starts a tracer, waits `readyMs`, runs the flood, stops the tracer with SIGINT; counts. */
async function run(cmd: string, args: string[], readyMs: number, lossRe: RegExp, rate: number): Promise<Result> {
  const t = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  t.stdout.setEncoding('latin1').on('data', (s: string) => (out += s));
  t.stderr.setEncoding('latin1').on('data', (s: string) => (err += s));
  await sleep(readyMs);
  // not spawnSync: that would stop this process reading the tracer's output, whose pipe then
  // fills and stalls the tracer, which is then measured losing events it never had a chance at
  const f = spawn(flood, [String(CALLS), String(rate)], { stdio: 'ignore' });
  await new Promise((r) => f.on('close', r));
  await sleep(1000);
  t.kill('SIGINT');
  await new Promise((r) => t.on('close', r));
  const seen = new Set<string>();
  let printed = 0;
  let wrong = 0;
  for (const line of out.split('\n')) {
    if (!line.startsWith(PREFIX)) continue;
    printed++;
    const i = Number(line.slice(PREFIX.length));
    if (!/^\d{7}$/.test(line.slice(PREFIX.length)) || i >= CALLS || seen.has(line)) wrong++;
    seen.add(line);
  }
  let reported = 0;
  for (const m of err.matchAll(lossRe)) reported += Number(m[1]);
  return { printed, wrong, reported };
}

function line(name: string, rate: number, r: Result): void {
  const accounted = r.printed + r.reported >= CALLS ? 'all accounted' : `${CALLS - r.printed - r.reported} unaccounted`;
  console.log(
    `BENCH copyinstr-flood ${name.padEnd(9)} rate=${rate === 0 ? 'max' : rate}/s printed=${r.printed} wrong=${r.wrong} lost-reported=${r.reported} (${accounted})`,
  );
}

async function main(): Promise<void> {
  const cc = spawnSync('cc', ['-O2', '-o', flood, join(root, 'test', 'live', 'programs', 'openat-flood.c')]);
  if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`);
  for (const rate of RATES) {
    const d = await run(
      process.execPath,
      [cli, '-q', '-n', `syscall::openat:entry /execname == "${floodName}"/ { printf("%s\\n", copyinstr(arg1)); }`],
      2000,
      /^dtrace: (\d+) drops? on CPU \d+$/gm,
      rate,
    );
    line('dtrace-ts', rate, d);
    if (withBpftrace) {
      const b = await run(
        'bpftrace',
        ['-e', `tracepoint:syscalls:sys_enter_openat /comm == "${floodName}"/ { printf("%s\\n", str(args->filename)); }`],
        4000,
        /Lost (\d+) events/g,
        rate,
      );
      line('bpftrace', rate, b);
    }
  }
}

main()
  .catch((e) => {
    console.error(`bench/copyin: ${(e as Error).message}`);
  })
  .finally(() => rmSync(work, { recursive: true, force: true }));
