// The kernel tracer's poll schedule: rare polls while idle, quick ones while rings fill.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { nextPollMs } from '../../src/kernel/tracer.js';

test('poll interval: doubles up to the idle limit while no events come, back to the base at the first', () => {
  let ms = 10;
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) seen.push((ms = nextPollMs(ms, 10, 40, 0, 0)));
  assert.deepEqual(seen, [20, 40, 40, 40, 40]);
  assert.equal(nextPollMs(40, 10, 40, 3, 0.01), 10);
});

test('poll interval: halves down to 1 ms while the fullest ring gives over a quarter of itself per poll, recovers below a tenth', () => {
  let ms = 10;
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) seen.push((ms = nextPollMs(ms, 10, 40, 1000, 0.5)));
  assert.deepEqual(seen, [5, 2.5, 1.25, 1, 1]);
  assert.equal(nextPollMs(1, 10, 40, 1000, 0.15), 1, 'between a tenth and a quarter: kept');
  assert.equal(nextPollMs(1, 10, 40, 1000, 0.05), 2);
  assert.equal(nextPollMs(8, 10, 40, 1000, 0.05), 10, 'never past the base while events come');
  assert.equal(nextPollMs(10, 10, 40, 1000, Infinity), 5, 'a ring cut short by the per-drain page limit counts as full');
});
