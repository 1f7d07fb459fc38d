// What -x oformat=json costs against text output (not a test): a C loop makes N getppid() calls
// (1,000,000 by default) under `dtrace -c`, and `syscall::getppid:entry /pid == $target/
// { printf(...) }` writes one record each, as text and as JSON (one object per line), to
// /dev/null. Printed: the dtrace process's CPU seconds (user + system, by /usr/bin/time) per
// million records, the records' drops if any (a consumer that fell behind), and bpftrace's text
// and `-f json` beside them when bpftrace runs here. Never fails on a number.
//   node build/bench/json.js [N]        BENCH_RUNS (runs each, median; default 3)

import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
const N = Number(process.argv[2] ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const work = mkdtempSync(join(tmpdir(), 'dtrace-ts-bench-json-'));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** A C program: `getppid N` makes N getppid() calls. */
function buildLoop(): string {
  const src = join(work, 'getppid.c');
  writeFileSync(
    src,
    `#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  return 0;
}
`,
  );
  const bin = join(work, 'getppid');
  const r = spawnSync('cc', ['-O2', '-o', bin, src], { encoding: 'latin1' });
  if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
  return bin;
}

interface Run {
  cpu: number;
  wall: number;
  drops: number;
}

/** Runs a command with its output to /dev/null: its CPU and wall seconds and the drops it reported. */
function measure(cmd: string, args: string[]): Run | null {
  const times = join(work, 'times');
  const out = openSync('/dev/null', 'w');
  const r = spawnSync('/usr/bin/time', ['-o', times, '-f', '%U %S %e', cmd, ...args], { stdio: ['ignore', out, 'pipe'], encoding: 'latin1', timeout: 600_000 });
  if (r.status !== 0) {
    process.stderr.write(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr.slice(0, 500)}\n`);
    return null;
  }
  const [u, s, e] = readFileSync(times, 'latin1').trim().split('\n').pop()!.split(' ').map(Number);
  let drops = 0;
  // dtrace: "dtrace: 12 drops on CPU 0"; bpftrace: "Lost 12 events"
  for (const m of r.stderr.matchAll(/(\d+) (?:drops on CPU|dynamic variable drops)|Lost (\d+) events/g)) drops += Number(m[1] ?? m[2]);
  return { cpu: u! + s!, wall: e!, drops };
}

function row(label: string, cmd: string, args: string[]): void {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = measure(cmd, args);
    if (r === null) {
      console.log(`${label.padEnd(34)} (did not run)`);
      return;
    }
    runs.push(r);
  }
  const cpu = median(runs.map((r) => r.cpu));
  const wall = median(runs.map((r) => r.wall));
  const drops = Math.max(...runs.map((r) => r.drops));
  const perM = (x: number) => ((x * 1e6) / N).toFixed(2);
  console.log(`${label.padEnd(34)} ${perM(cpu).padStart(7)} s CPU/M records  ${perM(wall).padStart(7)} s wall/M${drops > 0 ? `  (up to ${drops} drops)` : ''}`);
}

try {
  const loop = buildLoop();
  const d = 'syscall::getppid:entry /pid == $target/ { printf("%d %s %d\\n", pid, execname, timestamp); }';
  console.log(`${N} printf records (getppid() calls), median of ${RUNS} runs; output to /dev/null`);
  const common = ['-q', '-x', 'bufsize=16m', '-x', 'switchrate=50hz', '-c', `${loop} ${N}`, '-n', d];
  row('dtrace-ts (text)', process.execPath, [cli, ...common]);
  row('dtrace-ts -x oformat=json', process.execPath, [cli, '-x', 'oformat=json', ...common]);
  const b = 'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("%d %s %d\\n", pid, comm, nsecs); }';
  if (spawnSync('bpftrace', ['--version']).status === 0) {
    row('bpftrace (text)', 'bpftrace', ['-c', `${loop} ${N}`, '-e', b]);
    row('bpftrace -f json', 'bpftrace', ['-f', 'json', '-c', `${loop} ${N}`, '-e', b]);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
