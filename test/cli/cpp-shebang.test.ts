// -C as dt_preproc runs cpp: a script's interpreter line (#!/usr/sbin/dtrace -Cs) is not given
// to cpp, line numbers in messages stay those of the file (dt_preproc keeps its newline), and
// cpp's own messages name the input /dev/stdin.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');
const noCpp = !existsSync('/usr/bin/cpp') && !existsSync('/bin/cpp') ? 'cpp is not installed' : false;

function run(script: string, env: Record<string, string> = {}): { status: number | null; out: string; err: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-shebang-'));
  try {
    const file = join(dir, 's.d');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [cli, '-q', '-C', '-s', file], { timeout: 30_000, env: { ...process.env, ...env } });
    return { status: r.status, out: r.stdout.toString(), err: r.stderr.toString().replace(file, 'FILE') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('-C: a #! first line is not given to cpp', { skip: noCpp }, () => {
  const r = run('#!/usr/sbin/dtrace -Cs\n#define X 3\nBEGIN { trace(X); exit(0); }\n');
  assert.deepEqual(r, { status: 0, out: '3\n', err: '' });
});

test('-C: after a #! line, errors give the line of the file', { skip: noCpp }, () => {
  const r = run('#!/usr/sbin/dtrace -Cs\n#define X 3\nBEGIN { trace(X); y = ; }\n');
  assert.deepEqual(r, { status: 1, out: '', err: 'dtrace: failed to compile script FILE: line 3: syntax error near ";"\n' });
});

test('-C: a file that is only a #! line is an empty program', { skip: noCpp }, () => {
  const r = run('#!/usr/sbin/dtrace -Cs');
  assert.deepEqual(r, { status: 1, out: '', err: 'dtrace: failed to compile script FILE: line 1: empty D program translation unit\n' });
});

test('-C: cpp messages name the script /dev/stdin, with its line numbers', { skip: noCpp }, () => {
  const r = run('#!/usr/sbin/dtrace -Cs\n#if 1\nBEGIN { exit(0); }\n#else\n#else\n#endif\n', { DTRACE_OPT_CPPARGS: '-fno-show-column' });
  assert.equal(r.status, 1);
  assert.match(r.err, /^\/dev\/stdin:5: error: #else after #else\n/m);
  assert.ok(r.err.endsWith('dtrace: failed to compile script FILE: Preprocessor failed to process input program\n'), r.err);
});

test('-C: cpp runs as dt_open.c sets it up (system headers without GNU inlines, no "linux" macro)', { skip: noCpp }, () => {
  const r = run('#include <endian.h>\n#if defined(linux) || defined(__GNUC__) || !defined(__SVR4) || !defined(__SUNW_D_64)\n#error wrong\n#endif\nBEGIN { trace(__BYTE_ORDER == __LITTLE_ENDIAN || __BYTE_ORDER == __BIG_ENDIAN); exit(0); }\n');
  assert.deepEqual(r, { status: 0, out: '1\n', err: '' });
});
