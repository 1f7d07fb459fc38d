import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { Compiler } from '../../src/compile/compile.js';
import { Options } from '../../src/runtime/options.js';
import { ProbeRegistry } from '../../src/providers/registry.js';
import { DtraceProvider } from '../../src/providers/dtrace.js';

/** The record layout of each clause of a BEGIN program. */
function layouts(text: string, strsize = '256'): Array<[number, number, number]> {
  const opts = new Options();
  opts.set('strsize', strsize);
  const reg = new ProbeRegistry();
  reg.add(new DtraceProvider());
  const c = new Compiler(opts, reg, { args: ['t.d'], defaultArgs: false, vars: new Map(), used: new Set() });
  const p = c.compile({ text, fromFile: true, name: 't.d', level: 3 });
  return p.clauses.map((cl) => [cl.record.needed, cl.record.size, cl.record.align]);
}

test('records: the enabled probe ID, then each record aligned to its size', () => {
  assert.deepEqual(layouts('BEGIN { trace((int)1); }'), [[8, 8, 4]]);
  assert.deepEqual(layouts('BEGIN { trace(1LL); }'), [[16, 16, 8]]);
  assert.deepEqual(layouts('BEGIN { printf("x"); }'), [[16, 16, 8]]);
  assert.deepEqual(layouts('BEGIN { exit(0); }'), [[8, 8, 4]]);
  assert.deepEqual(layouts('BEGIN { trace("a"); trace("b"); }', '2k'), [[4104, 4104, 8]]);
});

test('records: a clause with no data-recording action writes nothing; an empty one its ID', () => {
  assert.deepEqual(layouts('BEGIN { x = 1; }'), [[0, 0, 4]]);
  assert.deepEqual(layouts('BEGIN { }'), [[4, 4, 4]]);
  // an aggregation reserves its tuple but keeps nothing in the principal buffer
  const [agg] = layouts('BEGIN { @[1] = count(); }');
  assert.equal(agg[1], 0);
  assert.ok(agg[0] > 4);
});
