// End-to-end cases: each test/e2e/cases/<area>/<name>.d runs through the dtrace command, as a
// user would run it, and must produce exactly <name>.out: its stdout, then (if any) a line
// "-- stderr --" and stderr, then a line "-- exit N --".
//
// A case's first line may be a comment giving the command line: /* dtrace: -q -x strsize=8 */
// ($FILE stands for the script; "-s $FILE" is appended unless the line names $FILE or gives
// its programs itself with -n, -P, -m, -f, -i, or is -l / -V).

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// build/test/e2e -> the repository root
const root = join(here, '..', '..', '..');
const casesDir = join(root, 'test', 'e2e', 'cases');
const cli = join(root, 'dist', 'cli.js');

function* cases(dir: string): Generator<string> {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* cases(p);
    else if (name.endsWith('.d')) yield p;
  }
}

/** Runs one case the way its header says and renders the result as .out files hold it. */
export function runCase(file: string): string {
  const text = readFileSync(file, 'latin1');
  const m = /^\/\*\s*dtrace:(.*?)\*\//.exec(text);
  const rel = relative(root, file);
  let args = m ? m[1].trim().split(/\s+/).filter((a) => a !== '') : [];
  const ownPrograms = args.some((a) => /^-(n|P|m|f|i|l|lv|V)$/.test(a) || a === '-Q');
  if (!args.includes('$FILE') && !ownPrograms) args.push('-s', '$FILE');
  args = args.map((a) => (a === '$FILE' ? rel : a));
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: root,
    env: { ...process.env, _DTRACE_TESTING: '', LANG: 'C', TZ: 'UTC' },
    timeout: 20_000,
  });
  let out = r.stdout.toString('latin1');
  const err = r.stderr.toString('latin1');
  if (err !== '') out += '-- stderr --\n' + err;
  out += `-- exit ${r.status ?? 'signal ' + r.signal} --\n`;
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

for (const file of cases(casesDir)) {
  const expectFile = file.replace(/\.d$/, '.out');
  test(relative(casesDir, file), () => {
    assert.ok(existsSync(expectFile), `missing ${relative(root, expectFile)}`);
    const expected = readFileSync(expectFile, 'latin1');
    const actual = runCase(file);
    // {CPU} stands for the number of whichever CPU the probe fired on ("3 drops on CPU {CPU}")
    if (!expected.includes('{CPU}')) assert.equal(actual, expected);
    else assert.match(actual, new RegExp(`^${expected.split('{CPU}').map(escapeRegExp).join('\\d+')}$`));
  });
}
