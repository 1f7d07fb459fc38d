// DTrace's cppargs option, from -x cppargs=... or DTRACE_OPT_CPPARGS: more arguments for cpp
// under -C, split at blanks.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');
const noCpp = spawnSync('cpp', ['--version']).status !== 0 ? 'no cpp' : false;

test('-x cppargs and DTRACE_OPT_CPPARGS reach cpp; without them, nothing more does', { skip: noCpp }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cppargs-'));
  try {
    const script = join(dir, 'a.d');
    writeFileSync(script, '#if defined(A) && defined(B)\nBEGIN { printf("both\\n"); exit(0); }\n#else\nBEGIN { printf("not both\\n"); exit(0); }\n#endif\n');
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      spawnSync(process.execPath, [cli, '-q', '-C', ...args, '-s', script], { env: { ...process.env, ...env }, encoding: 'latin1' }).stdout;
    assert.equal(run([]), 'not both\n\n');
    assert.equal(run(['-x', 'cppargs=-DA -DB']), 'both\n\n');
    assert.equal(run([], { DTRACE_OPT_CPPARGS: '-DA\t-DB' }), 'both\n\n');
    assert.equal(run(['-x', 'cppargs=-DB'], { DTRACE_OPT_CPPARGS: '-DA' }), 'both\n\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
