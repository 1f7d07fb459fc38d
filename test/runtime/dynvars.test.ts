import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { DynArray, DynSpace, ThreadLocals } from '../../src/runtime/dynvars.js';

/** The number of maps and entries an array holds, all levels counted. */
function footprint(a: DynArray): number {
  const count = (m: Map<unknown, unknown>): number => {
    let n = 1;
    for (const v of m.values()) n += v instanceof Map ? count(v) : 1;
    return n;
  };
  return count((a as unknown as { root: Map<unknown, unknown> }).root);
}

test('dynvars: a drop leaves nothing behind, whatever the number of keys', () => {
  const space = new DynSpace(3 * 100);
  const a = new DynArray(3, space, 100);
  a.set(1, 'a', 1, 1);
  a.set(2, 'b', 2, 2);
  a.set(3, 'c', 3, 3);
  const before = footprint(a);
  // the space is full: a million new keys are a million drops, and take no memory
  for (let i = 0; i < 1000; i++) a.set(7, `k${i}`, i, i);
  assert.equal(space.drops, 1000);
  assert.equal(footprint(a), before);
  assert.equal(a.get('k1', 1, 1), undefined);
  // existing elements still update, and zero deletes with the emptied levels
  a.set(9, 'a', 1, 1);
  assert.equal(a.get('a', 1, 1), 9);
  a.set(0, 'a', 1, 1);
  assert.equal(footprint(a), before - 3);
  assert.equal(space.used, 200);
  // the freed room is there again
  a.set(4, 'd', 4, 4);
  assert.equal(a.get('d', 4, 4), 4);
  assert.equal(space.drops, 1000);
});

test('dynvars: thread-locals take room only while a thread has a non-zero variable', () => {
  const space = new DynSpace(3 * 64);
  const tls = new ThreadLocals(space, [64, 64], [1, 1]);
  const threads = (tls as unknown as { threads: Map<number, unknown> }).threads;
  tls.set(1, 0, 5);
  tls.set(2, 0, 6);
  tls.set(3, 0, 7);
  // full: more threads are drops and are not remembered
  for (let tid = 4; tid < 1000; tid++) tls.set(tid, 1, 7);
  assert.equal(space.drops, 996);
  assert.equal(threads.size, 3);
  // a thread whose variables are all zero again is forgotten
  tls.set(1, 0, 0);
  assert.equal(threads.size, 2);
  assert.equal(tls.get(1, 0), undefined);
  assert.equal(tls.get(2, 0), 6);
});
