// The library: the README's example runs as written (importing 'dtrace-ts' resolves to this
// package's own exports), and the API's records, stop(), AbortSignal and errors.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { root } from '../live/harness.js';
import { DTraceError, compile, run } from '../../src/api/index.js';
import type { DRecord } from '../../src/api/records.js';

/** The README's code blocks after "This example runs as a test:": the program, then its output. */
function readmeExample(): { code: string; output: string } {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const from = readme.indexOf('This example runs as a test:');
  const blocks = [...readme.slice(from).matchAll(/```(js)?\n([\s\S]*?)```/g)];
  return { code: blocks[0][2], output: blocks[1][2] };
}

// inside the package, so that 'dtrace-ts' is the package itself (Node's self-reference)
const dir = mkdtempSync(join(root, 'build', 'readme-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the README's example runs and prints what the README says", () => {
  const { code, output } = readmeExample();
  assert.match(code, /from 'dtrace-ts'/);
  const file = join(dir, 'example.mjs');
  writeFileSync(file, code);
  const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, output);
  assert.equal(r.status, 0);
});

test('records are the JSON schema: a BEGIN-only program with an aggregation', async () => {
  const t = run('BEGIN { printf("%s", "hi"); @a["k"] = quantize(3); exit(2); }');
  const all: DRecord[] = await t.collect();
  assert.equal(await t.status, 2);
  assert.equal(all.length, 3);
  const [p, a, e] = all;
  assert.equal(p.type, 'probe');
  if (p.type === 'probe') assert.deepEqual(p.data, [{ action: 'printf', text: 'hi' }, { action: 'exit', status: 2 }]);
  assert.deepEqual(a, { type: 'aggregation', name: 'a', function: 'quantize', entries: [{ keys: ['k'], value: [{ min: 2, max: 3, count: 1 }] }] });
  assert.deepEqual(e, { type: 'exit', status: 2 });
});

test('stop() and an AbortSignal end tracing as Ctrl-C does: END, the aggregations, exit', async () => {
  const t = compile('profile:::tick-10ms { @n = count(); } END { printf("end"); }').run();
  setTimeout(() => t.stop(), 150);
  const kinds = (await t.collect()).map((r) => (r.type === 'probe' ? r.probe.name : r.type));
  assert.deepEqual(kinds, ['END', 'aggregation', 'exit']);

  const ac = new AbortController();
  const t2 = run('profile:::tick-10ms { @n = count(); }', { signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  const recs = await t2.collect();
  assert.deepEqual(recs.map((r) => r.type), ['aggregation', 'exit']);

  // leaving the loop early stops it too
  const t3 = run('profile:::tick-10ms { trace(1); }');
  for await (const r of t3) {
    assert.equal(r.type, 'probe');
    break;
  }
  assert.equal(await t3.status, 0);
});

test('errors are DTraceErrors, with the tag of a compile error', () => {
  const err = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof DTraceError);
      return [e.tag, e.message];
    }
    assert.fail('no error');
  };
  assert.deepEqual(err(() => compile('BEGIN { x = ; }')), ['D_SYNTAX', 'failed to compile program: line 1: syntax error near ";"']);
  assert.deepEqual(err(() => compile('nosuch:::probe {}')), ['D_PDESC_ZERO', 'failed to compile program: line 1: probe description nosuch:::probe does not match any probes']);
  assert.deepEqual(err(() => compile('BEGIN {}', { options: { bufpolicy: 'bad' } })), [null, 'failed to set -x bufpolicy: Invalid value for specified option']);
  assert.deepEqual(err(() => compile('BEGIN { raise(9); }').run()), [null, 'could not enable tracing: Destructive actions not allowed']);
  const p = compile('BEGIN { exit(0); }');
  void p.run().collect();
  assert.deepEqual(err(() => p.run()), [null, 'a program runs once: compile it again']);
});

test('the flamegraph option writes its SVG when tracing ends, as the command does', async () => {
  const file = join(dir, 'flame.svg');
  const t = run('BEGIN { @a[probename, "f"] = count(); @b[probename, "g"] = sum(3); exit(0); }', { options: { flamegraph: file } });
  await t.collect();
  assert.equal(await t.status, 0);
  const svg = readFileSync(file, 'utf8');
  // no stack keys: every count() and sum(), each on a frame of its own, keys as frames
  assert.match(svg, /<title>all \(4, 100\.00%\)<\/title>/);
  assert.match(svg, /<title>@b \(3, 75\.00%\)<\/title>/);
  assert.match(svg, /<title>g \(3, 75\.00%\)<\/title>/);
});
