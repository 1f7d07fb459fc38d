// Start-up and compile benchmarks (not tests): median wall time of
//   1. dtrace -n 'BEGIN { exit(0); }'            (dtrace-ts, end to end)
//   2. dtrace -e -s <large script>               (compile only, a few thousand lines of D)
//   3. bpftrace -e 'BEGIN { exit(); }'            (when bpftrace is installed and can run)
//   4. node -e 0                                 (the floor: Node's own start-up)
// Run with `npm run bench`; prints one line per measurement.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 21);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median seconds of running a command RUNS times (after one warm-up), or null if it fails. */
function time(cmd: string, args: string[]): number | null {
  const warm = spawnSync(cmd, args, { stdio: 'ignore' });
  if (warm.error || warm.status !== 0) return null;
  const ts: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync(cmd, args, { stdio: 'ignore' });
    ts.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return median(ts);
}

/** A large D script: declarations, many clauses, every kind of expression and action. */
function largeScript(clauses: number): string {
  let s = '#pragma D option quiet\nstruct rec { int a; long b; char name[16]; };\nstruct rec r;\ninline int LIMIT = 100;\n';
  for (let i = 0; i < clauses; i++) {
    s += `tick-${(i % 50) + 1}s\n/ (v${i % 40} = timestamp % 1000) > LIMIT && pid != ${i} /\n{\n`;
    s += `\tself->t${i % 20} = timestamp;\n\tthis->x = v${i % 40} * 3 + (r.a << 2) - ${i};\n`;
    s += `\t@c${i % 30}[execname, probename] = count();\n\t@q${i % 10} = quantize(this->x);\n`;
    s += `\tprintf("%s %d %u %x\\n", strjoin(execname, "-x"), this->x, r.b, ${i});\n`;
    s += `\ta${i % 25}[pid, "k"] = substr(probefunc, 1, 3);\n}\n`;
  }
  return s + 'END { printa(@c0); exit(0); }\n';
}

const dir = mkdtempSync(join(tmpdir(), 'dtrace-ts-bench-'));
try {
  const script = join(dir, 'large.d');
  const text = largeScript(500);
  writeFileSync(script, text);
  const lines = text.split('\n').length;
  const rows: Array<[string, number | null]> = [
    ["dtrace-ts -n 'BEGIN { exit(0); }'", time(process.execPath, [cli, '-n', 'BEGIN { exit(0); }'])],
    [`dtrace-ts -e -s large.d (${lines} lines, 500 clauses)`, time(process.execPath, [cli, '-e', '-s', script])],
    ["bpftrace -e 'BEGIN { exit(); }'", time('bpftrace', ['-e', 'BEGIN { exit(); }'])],
    ['node -e 0', time(process.execPath, ['-e', '0'])],
  ];
  for (const [name, t] of rows) {
    console.log(`${name.padEnd(52)} ${t === null ? 'not available' : `median ${t.toFixed(3)} s`} (${RUNS} runs)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
