import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { ndigits, packedWidth } from '../../src/runtime/aggdisplay.js';

test('aggdisplay: ndigits counts digits and a sign, at least 4, as dt_ndigits does', () => {
  assert.equal(ndigits(0n), 4);
  assert.equal(ndigits(128n), 4);
  assert.equal(ndigits(12345n), 5);
  assert.equal(ndigits(-12345n), 6);
  // dt_ndigits compares with >: a power of ten has one digit fewer
  assert.equal(ndigits(100000n), 5);
  assert.equal(ndigits(-(1n << 63n)), 20);
});

test('aggdisplay: packed key widths by record size', () => {
  assert.deepEqual([1, 2, 4, 8, 256].map(packedWidth), [3, 5, 8, 16, 16]);
});
