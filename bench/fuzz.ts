// Fuzzing benchmark (not a test: it never fails): a larger run of the hostile programs of
// test/compile/fuzz.test.ts, through the compiler in-process as `dtrace -e` compiles them, then
// a sample through the dtrace command itself. Prints programs/s, the outcomes (DTrace errors by
// tag) and the slowest programs.
//   node build/bench/fuzz.js [programs] [seed]       (default 5000 programs, seed 1)

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileProgram, mutants, seedPrograms } from '../test/compile/mutate.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
const N = Number(process.argv[2] ?? 5000);
const SEED = Number(process.argv[3] ?? 1);
const CLI_SAMPLE = Number(process.env.FUZZ_CLI ?? 100);

const programs = mutants(seedPrograms(join(root, 'test', 'e2e', 'cases')), SEED, N);
const kinds = { ok: 0, error: 0, internal: 0 };
const tags = new Map<string, number>();
const times: Array<{ ms: number; name: string; ops: string[]; kind: string }> = [];
const internals: string[] = [];
const t0 = process.hrtime.bigint();
for (const p of programs) {
  const o = await compileProgram(p);
  kinds[o.kind]++;
  if (o.kind === 'error') {
    let tag = /\[(D_[A-Z_]+)\]/.exec(o.message)?.[1] ?? (/Preprocessor|cpp/.test(o.message) ? 'cpp' : 'other');
    if (o.message.includes('memory exhausted')) tag += ' (nesting)';
    tags.set(tag, (tags.get(tag) ?? 0) + 1);
  }
  if (o.kind === 'internal') internals.push(`${p.name} [${p.ops.join(' ')}]: ${o.message}`);
  times.push({ ms: o.ms, name: p.name, ops: p.ops, kind: o.kind });
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
times.sort((a, b) => b.ms - a.ms);
const median = [...times].sort((a, b) => a.ms - b.ms)[Math.floor(times.length / 2)]?.ms ?? 0;

console.log(`in-process: ${N} programs (seed ${SEED}) in ${secs.toFixed(1)} s: ${(N / secs).toFixed(0)} programs/s, median ${median.toFixed(1)} ms`);
console.log(`outcomes: ${kinds.ok} compiled, ${kinds.error} DTrace errors, ${kinds.internal} internal errors`);
console.log(`errors by tag: ${[...tags].sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${n}`).join(', ')}`);
for (const x of internals.slice(0, 10)) console.log(`INTERNAL ${x}`);
console.log('slowest:');
for (const x of times.slice(0, 8)) console.log(`  ${x.ms.toFixed(0).padStart(6)} ms  ${x.kind.padEnd(5)} ${x.name} [${x.ops.join(' ').slice(0, 90)}]`);

// a sample through the command: exit status and stderr as a user sees them
const dir = mkdtempSync(join(tmpdir(), 'dtrace-fuzz-bench-'));
try {
  const status = new Map<string, number>();
  let slowest = { ms: 0, name: '' };
  const step = Math.max(1, Math.floor(N / CLI_SAMPLE));
  const c0 = process.hrtime.bigint();
  let runs = 0;
  for (let i = 0; i < N && runs < CLI_SAMPLE; i += step, runs++) {
    const p = programs[i];
    const file = join(dir, `p${i}.d`);
    writeFileSync(file, p.text, 'latin1');
    const s0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [cli, ...p.args.filter((a) => a === '-C'), '-e', '-s', file], { timeout: 120_000 });
    const ms = Number(process.hrtime.bigint() - s0) / 1e6;
    if (ms > slowest.ms) slowest = { ms, name: `${p.name} [${p.ops.join(' ').slice(0, 60)}]` };
    const err = r.stderr.toString('latin1');
    const key = /internal error|\n\s+at /.test(err) ? 'internal error' : `exit ${r.status ?? r.signal}`;
    status.set(key, (status.get(key) ?? 0) + 1);
  }
  const cs = Number(process.hrtime.bigint() - c0) / 1e9;
  console.log(`dtrace -e: ${runs} programs in ${cs.toFixed(1)} s: ${[...status].map(([k, n]) => `${k}: ${n}`).join(', ')}; slowest ${slowest.ms.toFixed(0)} ms ${slowest.name}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
