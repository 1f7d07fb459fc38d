// The dtrace command as a process: output columns, signals, output files, exit statuses.

import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');
const env: NodeJS.ProcessEnv = { ...process.env, LANG: 'C' };
delete env._DTRACE_TESTING;

function run(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { env, timeout: 20_000 });
}

test('default output has the CPU, ID and FUNCTION:NAME columns', () => {
  const r = run(['-n', 'BEGIN { printf("hi"); exit(0); }']);
  assert.equal(r.status, 0);
  const lines = r.stdout.toString().split('\n');
  assert.equal(lines[0], 'CPU     ID                    FUNCTION:NAME');
  assert.match(lines[1], /^ {0,2}\d+ {6}1 {27}:BEGIN hi$/);
  assert.equal(r.stderr.toString(), "dtrace: description 'BEGIN ' matched 1 probe\n");
});

test('exit statuses: 0 success, 1 failure, 2 usage, exit(N) sets it', () => {
  assert.equal(run(['-qn', 'BEGIN { exit(0); }']).status, 0);
  assert.equal(run(['-qn', 'BEGIN { exit(7); }']).status, 7);
  assert.equal(run(['-n', 'BEGIN { x = ; }']).status, 1);
  assert.equal(run(['-Q']).status, 2);
  assert.equal(run([]).status, 2);
});

test('-o appends the output to a file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-ts-'));
  try {
    const out = join(dir, 'out.txt');
    assert.equal(run(['-q', '-o', out, '-n', 'BEGIN { printf("one\\n"); exit(0); }']).status, 0);
    assert.equal(run(['-q', '-o', out, '-n', 'BEGIN { printf("two\\n"); exit(0); }']).status, 0);
    assert.equal(readFileSync(out, 'latin1'), 'one\n\ntwo\n\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Starts dtrace, waits for its first output, sends a signal, and collects what it printed. */
async function interrupt(signal: NodeJS.Signals): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [cli, '-q', '-n', 'tick-10ms { @ticks = count(); printf("."); } END { printf("END\\n"); }'], { env });
  let out = '';
  let signalled = false;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (!signalled && out.includes('.')) {
      signalled = true;
      child.kill(signal);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, out };
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  test(`${sig} runs END and prints the aggregations`, async () => {
    const { code, out } = await interrupt(sig);
    assert.equal(code, 0);
    // dtrace(1) prints a newline on the interrupt, then END's output, a blank line, the aggregation
    assert.match(out, /^\.+\nEND\n\n {16}\d+\n$/);
  });
}

test('-S shows each clause as it compiled, on standard error, and the program still runs', () => {
  const r = run(['-S', '-q', '-n', 'BEGIN /1/ { x = 41; printf("%d\\n", x + 1); } BEGIN, END { exit(0); }']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout.toString(), '42\n\n');
  const err = r.stderr.toString();
  const blocks = err.split('\nDisassembly of clause ').slice(1);
  assert.equal(blocks.length, 2, err);
  assert.match(blocks[0], /^BEGIN, <dt_clause_0>:\nruns in the consumer, as JavaScript, on each event of its 1 probe\n/);
  assert.match(blocks[1], /^BEGIN, END, <dt_clause_1>:\nruns in the consumer, as JavaScript, on each event of its 2 probes\n/);
  // numbered lines of code: the predicate, the store of 41, the exit
  assert.match(blocks[0], /\n1 {2}.*\n2 {2}/);
  assert.match(blocks[0], /41/);
  assert.match(blocks[1], /exit/);
});

test('-l: a description that lists nothing says so on standard error; the status stays 0', () => {
  const r = run(['-l', '-n', 'nonexistent-dtrace-ts:::', '-n', 'BEGIN']);
  assert.equal(r.status, 0);
  assert.equal(r.stderr.toString(), 'dtrace: failed to match nonexistent-dtrace-ts:::: No probe matches description\n');
  assert.match(r.stdout.toString(), /^ {3}ID {3}PROVIDER {12}MODULE {26}FUNCTION NAME\n *\d+ +dtrace +BEGIN\n$/);
});

test('-64 is the data model dtrace-ts compiles for; -32 and -L are refused, not ignored', () => {
  assert.equal(run(['-64', '-qn', 'BEGIN { exit(0); }']).status, 0);
  const i32 = run(['-32', '-n', 'BEGIN']);
  assert.equal(i32.status, 1);
  assert.equal(i32.stderr.toString(), 'dtrace: failed to initialize dtrace: -32 is not supported: dtrace-ts compiles D for the LP64 data model only\n');
  const lib = run(['-L', '/tmp', '-n', 'BEGIN']);
  assert.equal(lib.status, 1);
  assert.equal(lib.stderr.toString(), 'dtrace: failed to set -L /tmp: dtrace-ts does not load D libraries from a directory yet\n');
});
