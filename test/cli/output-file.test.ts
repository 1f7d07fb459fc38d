// -o and freopen() through the dtrace command: a link another user planted in a sticky
// directory gives DTrace's message and touches nothing; /dev/stdout still works.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, lchownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');
const env: NodeJS.ProcessEnv = { ...process.env, LANG: 'C' };
delete env._DTRACE_TESTING;
const skip = process.geteuid?.() !== 0 ? 'needs root (a link owned by another user)' : false;

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { env, timeout: 20_000, encoding: 'latin1' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A sticky world-writable directory holding `out`, another user's link to a file beside it. */
function planted(): { base: string; link: string; victim: string } {
  const base = mkdtempSync(join(tmpdir(), 'dtrace-o-'));
  const sticky = join(base, 'tmp');
  mkdirSync(sticky);
  chmodSync(sticky, 0o1777);
  const victim = join(base, 'victim');
  writeFileSync(victim, 'precious\n');
  const link = join(sticky, 'out');
  symlinkSync(victim, link);
  lchownSync(link, 65534, 65534);
  return { base, link, victim };
}

test('-o to another user\'s link in a sticky directory: DTrace\'s message, exit 1, the file untouched', { skip }, () => {
  const { base, link, victim } = planted();
  try {
    for (const args of [['-q', '-n', 'BEGIN { printf("x\\n"); exit(0); }'], ['-l', '-n', 'BEGIN']]) {
      const r = run(['-o', link, ...args]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `dtrace: failed to open output file '${link}': Permission denied (${link} is another user's symbolic link in a world-writable sticky directory)\n`);
      assert.equal(readFileSync(victim, 'latin1'), 'precious\n');
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('freopen() to such a link: refused with a warning, output stays where it was', { skip }, () => {
  const { base, link, victim } = planted();
  try {
    const r = run(['-q', '-w', '-n', `BEGIN { freopen("${link}"); printf("x\\n"); exit(0); }`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /failed to freopen\(\) ".*": Permission denied \(.* is another user's symbolic link in a world-writable sticky directory\)/);
    assert.equal(r.stdout, 'x\n\n');
    assert.equal(readFileSync(victim, 'latin1'), 'precious\n');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('-o creates its file 0600; -o /dev/stdout writes to the pipe that is stdout; a failure with -l is a message', () => {
  const base = mkdtempSync(join(tmpdir(), 'dtrace-o-'));
  try {
    const out = join(base, 'out');
    assert.equal(run(['-q', '-o', out, '-n', 'BEGIN { printf("x\\n"); exit(0); }']).code, 0);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    // a pipe (node's own stdio "pipes" are sockets, which /dev/stdout cannot reopen)
    const r = spawnSync('/bin/sh', ['-c', '"$0" "$1" -q -o /dev/stdout -n \'BEGIN { printf("x\\n"); exit(0); }\' | cat', process.execPath, cli], { env, encoding: 'latin1' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'x\n\n');
    const l = run(['-l', '-o', join(base, 'no', 'such'), '-n', 'BEGIN']);
    assert.equal(l.stderr, `dtrace: failed to open output file '${join(base, 'no', 'such')}': No such file or directory\n`);
    assert.equal(l.code, 1);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
