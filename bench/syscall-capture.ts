// Start-up and exit of system-call-wide clauses whose events come from capture programs (not a
// test): for each script, the median over BENCH_RUNS runs of the time from starting dtrace to
// BEGIN's output, and from SIGINT (a second after BEGIN) to its exit. Closing a perf event
// waits for an RCU grace period, so one perf event per system call made these take tens of
// seconds to exit. BENCH_CLI runs another build's dist/cli.js (an older one, to compare).
//   1. syscall:::entry { printf("%s %s\n", execname, copyinstr(arg0)); }   (copies, who fired)
//   2. syscall:::entry /uid == 1234/ { printf("%d\n", ppid); }             (who fired only)

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, sleep } from './common.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = process.env.BENCH_CLI ?? join(root, 'dist', 'cli.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SCRIPTS = ['syscall:::entry { printf("%s %s\\n", execname, copyinstr(arg0)); }', 'syscall:::entry /uid == 1234/ { printf("%d\\n", ppid); }'];

/** Seconds from start to BEGIN's line, and from SIGINT to exit; null if dtrace ended first. */
async function once(script: string): Promise<{ begin: number; exit: number } | null> {
  const t0 = process.hrtime.bigint();
  const d = spawn(process.execPath, [cli, '-q', '-n', 'BEGIN { printf("BEGIN-MARK\\n"); }', '-n', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  let began = 0n;
  let head = '';
  d.stdout.setEncoding('latin1').on('data', (s: string) => {
    if (began !== 0n) return;
    head += s;
    if (head.includes('BEGIN-MARK')) began = process.hrtime.bigint();
  });
  const closed = new Promise((r) => d.on('close', r));
  while (began === 0n && d.exitCode === null) await sleep(5);
  if (began === 0n) return null;
  await sleep(1000);
  const t1 = process.hrtime.bigint();
  d.kill('SIGINT');
  await closed;
  return { begin: Number(began - t0) / 1e9, exit: Number(process.hrtime.bigint() - t1) / 1e9 };
}

async function main(): Promise<void> {
  for (const script of SCRIPTS) {
    const begins: number[] = [];
    const exits: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await once(script);
      if (r === null) continue;
      begins.push(r.begin);
      exits.push(r.exit);
    }
    if (begins.length === 0) {
      console.log(`BENCH syscall-capture '${script}': dtrace did not start`);
      continue;
    }
    console.log(`BENCH syscall-capture '${script}': start to BEGIN ${median(begins).toFixed(2)} s, SIGINT to exit ${median(exits).toFixed(2)} s (medians of ${begins.length})`);
  }
}

main().catch((e) => console.error(`bench/syscall-capture: ${(e as Error).message}`));
