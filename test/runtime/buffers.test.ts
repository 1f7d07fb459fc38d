import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { type BufferNeeds, EDT_BUFTOOSMALL, EDT_ENDTOOBIG, ENOMEM, aggCapacity, sizeBuffers } from '../../src/runtime/buffers.js';
import { Options } from '../../src/runtime/options.js';

const MB = 1024n * 1024n;
const BUDGET = 64n * MB;

/** Options as dtrace(1) starts them, then -x settings. */
function options(...xs: Array<[string, string | null]>): Options {
  const o = new Options();
  o.set('bufsize', '4m');
  o.set('aggsize', '4m');
  for (const [name, value] of xs) o.set(name, value);
  return o;
}

const NOTHING: BufferNeeds = { aggRecord: null, dynvars: false, dynvarSlot: 0, speculates: false };
/** @[int] = count() */
const COUNT_BY_INT: BufferNeeds = { ...NOTHING, aggRecord: { tuple: 16, data: 16, nkeys: 1 } };

function size(o: Options, needs: BufferNeeds, budget = BUDGET): { refusal: string | null; warnings: string[] } {
  const warnings: string[] = [];
  const refusal = sizeBuffers(o, needs, (m) => warnings.push(m), budget);
  return { refusal, warnings };
}

test('buffers: aggsize holds aggsize / (key record + data record) entries', () => {
  assert.equal(aggCapacity(4n * MB, { tuple: 16, data: 16 }), 131072);
  assert.equal(aggCapacity(1024n, { tuple: 525, data: 16 }), 1);
  assert.equal(aggCapacity(540n, { tuple: 525, data: 16 }), 0);
});

test('buffers: a buffer too small for what the program stores is refused', () => {
  assert.equal(size(options(['bufsize', '32']), NOTHING).refusal, EDT_BUFTOOSMALL);
  assert.equal(size(options(['aggsize', '31']), COUNT_BY_INT).refusal, EDT_BUFTOOSMALL);
  assert.equal(size(options(['aggsize', '32']), COUNT_BY_INT).refusal, null);
  // no aggregations: aggsize does not matter
  assert.equal(size(options(['aggsize', '1']), NOTHING).refusal, null);
  const assoc: BufferNeeds = { ...NOTHING, dynvars: true, dynvarSlot: 128 };
  assert.equal(size(options(['dynvarsize', '127']), assoc).refusal, EDT_BUFTOOSMALL);
  assert.equal(size(options(['dynvarsize', '128']), assoc).refusal, null);
});

test('buffers: more speculations than DTrace can count, or can hold, are refused', () => {
  assert.equal(size(options(['nspec', '2147483648']), NOTHING).refusal, ENOMEM);
  // each speculation's state is there whether used or not
  assert.equal(size(options(['nspec', '100000000']), NOTHING, 2048n * MB).refusal, ENOMEM);
  assert.equal(size(options(['nspec', '1000']), NOTHING).refusal, null);
});

test('buffers: bufresize=auto halves a buffer until it fits and says so, as dtrace(1) does', () => {
  const o = options(['aggsize', '1g']);
  const r = size(o, COUNT_BY_INT);
  assert.equal(r.refusal, null);
  // 64 MB of heap at (16 + 16 + 64) bytes an entry: 22 MB would be too much, 16m fits
  assert.deepEqual(r.warnings, ['aggregation size lowered to 16m']);
  assert.equal(o.get('aggsize'), 16n * MB);
  // quietresize keeps it quiet
  const q = options(['aggsize', '1g'], ['quietresize', null]);
  assert.deepEqual(size(q, COUNT_BY_INT).warnings, []);
  assert.equal(q.get('aggsize'), 16n * MB);
  // manual: refused
  assert.equal(size(options(['aggsize', '1g'], ['bufresize', 'manual']), COUNT_BY_INT).refusal, ENOMEM);
  // a size that is not a round number of kilobytes is told in bytes
  const odd = options(['dynvarsize', '100000000']);
  assert.deepEqual(size(odd, { ...NOTHING, dynvars: true }).warnings, ['dynamic variable size lowered to 12500000 bytes']);
});

test('buffers: speculation buffers count only when the program speculates', () => {
  const o = options(['nspec', '100'], ['specsize', '1g']);
  assert.deepEqual(size(o, NOTHING).warnings, []);
  assert.equal(o.get('specsize'), 1024n * MB);
  const r = size(o, { ...NOTHING, speculates: true });
  assert.equal(r.refusal, null);
  assert.deepEqual(r.warnings, ['speculation size lowered to 256k']);
});

test('buffers: an absurd size that cannot be lowered into a usable buffer is refused', () => {
  // one key record alone is larger than what can be had
  const huge: BufferNeeds = { ...NOTHING, aggRecord: { tuple: 100 * 1024 * 1024, data: 16, nkeys: 1 } };
  assert.equal(size(options(['aggsize', '1g']), huge).refusal, ENOMEM);
  assert.equal(size(options(['scratchsize', '1g']), NOTHING).refusal, ENOMEM);
});

test('buffers: ring and fill take any buffer of 8 bytes or more; fill must hold END reserve', () => {
  const rec: BufferNeeds = { ...NOTHING, records: true, endReserve: 0 };
  // switch keeps Oracle's minimum
  assert.equal(size(options(['bufsize', '59']), rec).refusal, EDT_BUFTOOSMALL);
  assert.equal(size(options(['bufpolicy', 'ring'], ['bufsize', '16']), rec).refusal, null);
  assert.equal(size(options(['bufpolicy', 'ring'], ['bufsize', '7']), rec).refusal, EDT_BUFTOOSMALL);
  assert.equal(size(options(['bufpolicy', 'fill'], ['bufsize', '64']), { ...rec, endReserve: 64 }).refusal, null);
  assert.equal(size(options(['bufpolicy', 'fill'], ['bufsize', '70']), { ...rec, endReserve: 72 }).refusal, EDT_ENDTOOBIG);
});
