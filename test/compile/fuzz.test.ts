// The compiler on hostile input: a few hundred programs mutated from the e2e cases (deep
// nesting, long chains, huge literals, globs, chained inlines, cpp directives, random bytes),
// the same ones every run. Each must compile or fail with a DTrace error, never anything else.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compileProgram, mutants, seedPrograms } from './mutate.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');
const seeds = seedPrograms(join(root, 'test', 'e2e', 'cases'));
const programs = mutants(seeds, 8, 400);

// the time limits are hang guards only: nothing here asserts how fast the compiler is
test('400 mutated programs compile or give a DTrace error', { timeout: 300_000 }, async () => {
  const bad: string[] = [];
  const kinds = { ok: 0, error: 0, internal: 0 };
  for (const p of programs) {
    const o = await compileProgram(p);
    kinds[o.kind]++;
    if (o.kind === 'internal') bad.push(`${p.name} [${p.ops.join(' ')}]: ${o.message}`);
    else if (o.kind === 'error') assert.match(o.message, /^dtrace: /);
  }
  assert.deepEqual(bad, []);
  // the mutations reach both outcomes
  assert.ok(kinds.ok > 0 && kinds.error > 0, JSON.stringify(kinds));
});

test('mutated programs through the dtrace command: exit 0 or 1, a dtrace: message, no internal error', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-fuzz-'));
  try {
    // every 25th program, and the nastiest inputs of the issue
    const picked = programs.filter((_, i) => i % 25 === 0).map((p) => ({ text: p.text, args: p.args.filter((a) => a === '-C') }));
    picked.push({ text: `BEGIN { x = ${'('.repeat(659)}1${')'.repeat(659)}; }\n`, args: [] });
    picked.push({ text: '*******BEGINX { }\n', args: [] });
    picked.push({ text: '#include "/dev/zero"\nBEGIN { }\n', args: ['-C'] });
    for (const [i, p] of picked.entries()) {
      const file = join(dir, `p${i}.d`);
      writeFileSync(file, p.text, 'latin1');
      const r = spawnSync(process.execPath, [cli, ...p.args, '-e', '-s', file], { timeout: 60_000, env: { ...process.env, LANG: 'C' } });
      const err = r.stderr.toString('latin1');
      assert.ok(r.status === 0 || r.status === 1, `p${i}: exit ${r.status ?? r.signal}: ${err}`);
      if (r.status === 1) assert.match(err, /dtrace: /, `p${i}`);
      assert.doesNotMatch(err, /internal error|\n\s+at /, `p${i}: ${err}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
