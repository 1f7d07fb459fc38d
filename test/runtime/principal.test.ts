import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { BufPolicy, PrincipalBuffers } from '../../src/runtime/principal.js';

/** Fires a clause of `needed` bytes (kept whole) on CPU 0; false if it was not recorded. */
function fire(pb: PrincipalBuffers<string>, rec: string, needed: number, align = 4): boolean {
  const offs = pb.reserve(0, needed, align);
  if (offs < 0) return false;
  pb.commit(0, offs, needed, rec);
  return true;
}

test('principal: a ring keeps the newest records that fit, oldest first', () => {
  const pb = new PrincipalBuffers<string>(BufPolicy.Ring, 48, 0);
  for (let i = 0; i < 300; i++) assert.ok(fire(pb, `r${i}`, 8));
  assert.deepEqual(pb.consume(0), ['r294', 'r295', 'r296', 'r297', 'r298', 'r299']);
});

test('principal: a ring record larger than the buffer is dropped; one that fills it evicts all', () => {
  const pb = new PrincipalBuffers<string>(BufPolicy.Ring, 16, 0);
  assert.equal(fire(pb, 'big', 24), false);
  const drops: Array<[number, number]> = [];
  pb.takeDrops((cpu, n) => drops.push([cpu, n]));
  assert.deepEqual(drops, [[0, 1]]);
  for (let i = 0; i < 5; i++) assert.ok(fire(pb, `w${i}`, 16, 8));
  assert.ok(fire(pb, 'exit', 8));
  assert.deepEqual(pb.consume(0), ['exit']);
});

test('principal: an unused reservation that wrapped evicts what it needed', () => {
  const pb = new PrincipalBuffers<string>(BufPolicy.Ring, 32, 0);
  for (let i = 0; i < 4; i++) fire(pb, `r${i}`, 8);
  // reserved (a predicate then fails): r0 gives way though nothing is written
  assert.ok(pb.reserve(0, 8, 4) >= 0);
  assert.ok(fire(pb, 'r4', 8));
  assert.deepEqual(pb.consume(0), ['r1', 'r2', 'r3', 'r4']);
});

test('principal: fill stops recording at the first record that does not fit, keeping END reserve', () => {
  const pb = new PrincipalBuffers<string>(BufPolicy.Fill, 64, 16);
  let kept = 0;
  for (let i = 0; i < 12; i++) if (fire(pb, `f${i}`, 8)) kept++;
  assert.equal(kept, 6);
  assert.ok(pb.filled());
  // full: even a smaller record is refused, until tracing stops and END's may use the reserve
  assert.equal(fire(pb, 'late', 4), false);
  pb.stop();
  assert.ok(fire(pb, 'end', 8));
  assert.deepEqual(pb.consume(0), ['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'end']);
});

test('principal: switch drops a firing that does not fit what is left, until drained', () => {
  const pb = new PrincipalBuffers<string>(BufPolicy.Switch, 64, 0);
  assert.ok(fire(pb, 'a', 40));
  assert.equal(fire(pb, 'b', 40), false);
  pb.drained(0);
  assert.ok(fire(pb, 'c', 40));
  const drops: number[] = [];
  pb.takeDrops((_cpu, n) => drops.push(n));
  assert.deepEqual(drops, [1]);
});

test('principal: records print CPU by CPU, the END CPU last', () => {
  const pb = new PrincipalBuffers<string>(BufPolicy.Fill, 64, 0);
  for (const cpu of [2, 0, 1]) {
    const offs = pb.reserve(cpu, 8, 4);
    pb.commit(cpu, offs, 8, `cpu${cpu}`);
  }
  assert.deepEqual(pb.consume(1), ['cpu0', 'cpu2', 'cpu1']);
});
