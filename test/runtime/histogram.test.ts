import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import {
  formatLLQuantize,
  formatLQuantize,
  formatQuantize,
  type Int64Vector,
  LD_HALF,
  ldAdd,
  ldCmp,
  ldDiv,
  ldFromInt,
  ldMul,
  ldTrunc,
  LLQuantizeParams,
  llquantizeBucket,
  llquantizeBucketBig,
  llquantizeSortKey,
  LQuantizeParams,
  lquantizeBucket,
  lquantizeBucketBig,
  lquantizeSortKey,
  normalizeCount,
  QUANTIZE_NBUCKETS,
  quantizeBucket,
  quantizeBucketBig,
  quantizeBucketValue,
  quantizeSortKey,
  sortNumCmp,
} from '../../src/runtime/histogram.js';

const HEADER = '\n           value  ------------- Distribution ------------- count    \n';

function hist(lines: string[]): string {
  return HEADER + lines.map((l) => l + '\n').join('');
}

/** An Int64Vector of n buckets, counts given as {bucket: count} */
function vec(n: number, counts: Record<number, number | bigint>): Int64Vector {
  const num = new Float64Array(n);
  let needBig = false;
  for (const [k, v] of Object.entries(counts)) {
    num[Number(k)] = Number(v);
    if (typeof v === 'bigint' && (v > 2n ** 53n || v < -(2n ** 53n))) needBig = true;
  }
  if (!needBig) return { num, big: null };
  const big = new BigInt64Array(n);
  for (const [k, v] of Object.entries(counts)) big[Number(k)] = BigInt(v);
  return { num, big };
}

// -- buckets -----------------------------------------------------------------------------------

test('quantize buckets (Number values)', () => {
  const cases: Array<[number, number]> = [
    [0, 63],
    [1, 64],
    [2, 65],
    [3, 65],
    [4, 66],
    [1023, 73],
    [1024, 74],
    [-1, 62],
    [-2, 61],
    [-3, 61],
    [-4, 60],
    [2147483647, 94],
    [-2147483648, 31],
    [4294967295, 95],
  ];
  for (const [v, b] of cases) assert.equal(quantizeBucket(v), b, `quantize(${v})`);
});

test('quantize buckets (BigInt values)', () => {
  const cases: Array<[bigint, number]> = [
    [0n, 63],
    [7n, 66],
    [-(2n ** 31n), 31],
    [2n ** 32n, 96],
    [2n ** 62n, 126],
    [2n ** 63n - 1n, 126],
    [-(2n ** 63n), 0],
    [-(2n ** 62n), 0],
    [-(2n ** 62n) + 1n, 1],
    [2n ** 64n - 1n, 62], // an unsigned 64-bit value acts as -1
    [2n ** 63n, 0], // ... and 2^63 as INT64_MIN
  ];
  for (const [v, b] of cases) assert.equal(quantizeBucketBig(v), b, `quantize(${v})`);
});

test('quantize bucket values', () => {
  const cases: Array<[number, bigint]> = [
    [0, -(2n ** 62n)],
    [61, -2n],
    [62, -1n],
    [63, 0n],
    [64, 1n],
    [65, 2n],
    [126, 2n ** 62n],
  ];
  for (const [i, v] of cases) assert.equal(quantizeBucketValue(i), v);
  assert.equal(QUANTIZE_NBUCKETS, 127);
});

test('lquantize buckets', () => {
  const cases: Array<[LQuantizeParams, number, number]> = [
    [new LQuantizeParams(0, 10, 1), -1, 0],
    [new LQuantizeParams(0, 10, 1), 0, 1],
    [new LQuantizeParams(0, 10, 1), 9, 10],
    [new LQuantizeParams(0, 10, 1), 10, 11],
    [new LQuantizeParams(0, 10, 1), 1000, 11],
    [new LQuantizeParams(-10, 10, 5), -11, 0],
    [new LQuantizeParams(-10, 10, 5), -10, 1],
    [new LQuantizeParams(-10, 10, 5), -6, 1],
    [new LQuantizeParams(-10, 10, 5), -5, 2],
    [new LQuantizeParams(-10, 10, 5), 9, 4],
    [new LQuantizeParams(-10, 10, 5), 10, 5],
    // (limit - base) not a multiple of step: 3 levels, the top one from 9
    [new LQuantizeParams(0, 10, 3), 8, 3],
    [new LQuantizeParams(0, 10, 3), 9, 4],
  ];
  for (const [p, v, b] of cases) {
    assert.equal(lquantizeBucket(v, p), b, `lquantize(${v}, ${p.base}, ${p.limit}, ${p.step})`);
    assert.equal(lquantizeBucketBig(BigInt(v), p), b);
  }
  const p = new LQuantizeParams(-5, 5, 1);
  assert.equal(lquantizeBucketBig(2n ** 62n, p), 11);
  assert.equal(lquantizeBucketBig(-(2n ** 62n), p), 0);
  assert.equal(lquantizeBucketBig(2n ** 64n - 3n, p), 3); // unsigned: -3
  assert.equal(new LQuantizeParams(0, 10, 3).levels, 3);
  assert.equal(new LQuantizeParams(0, 10, 3).nbuckets, 5);
});

test('llquantize buckets', () => {
  const p = new LLQuantizeParams(10, 0, 2, 10); // 27 buckets each side of 28
  assert.equal(p.bin0, 28);
  assert.equal(p.nbuckets, 57);
  const cases: Array<[number, number]> = [
    [0, 28],
    [1, 29],
    [9, 37],
    [10, 38],
    [99, 46],
    [100, 47],
    [999, 55],
    [1000, 56],
    [123456, 56],
    [-1, 27],
    [-10, 18],
    [-1000, 0],
  ];
  for (const [v, b] of cases) {
    assert.equal(llquantizeBucket(v, p), b, `llquantize(${v})`);
    assert.equal(llquantizeBucketBig(BigInt(v), p), b);
  }
  // steps > factor with lmag 0: some buckets of the lowest magnitude are never used
  const g = new LLQuantizeParams(2, 0, 1, 4);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 100, -1, -3].map((v) => llquantizeBucket(v, g)),
    [5, 6, 8, 9, 10, 10, 4, 1],
  );
  // a higher low magnitude: |v| < 27 is the middle bucket
  const s = new LLQuantizeParams(3, 3, 5, 27);
  assert.deepEqual(
    [0, 26, 27, 29, 30, 80, 81, 728, 729, -27].map((v) => llquantizeBucket(v, s)),
    [s.bin0, s.bin0, s.bin0 + 1, s.bin0 + 1, s.bin0 + 2, s.bin0 + 18, s.bin0 + 19, s.bin0 + 54, s.bin0 + 55, s.bin0 - 1],
  );
  // 64-bit values
  const h = new LLQuantizeParams(10, 14, 15, 10);
  assert.equal(llquantizeBucketBig(-(10n ** 14n), h), h.bin0 - 1);
  assert.equal(llquantizeBucketBig(10n ** 16n, h), h.nbuckets - 1);
  assert.equal(llquantizeBucketBig(99999999999999n, h), h.bin0);
});

// -- drawing -----------------------------------------------------------------------------------

test('quantize: rows from the bucket before the first count to the one after the last', () => {
  // quantize(1), quantize(2) twice
  const d = vec(QUANTIZE_NBUCKETS, { 64: 1, 65: 2 });
  assert.equal(
    formatQuantize(d, 1n),
    hist([
      '               0 |                                         0        ',
      '               1 |@@@@@@@@@@@@@                            1        ',
      '               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@              2        ',
      '               4 |                                         0        ',
    ]),
  );
});

test('quantize: only negative counts draw right-aligned bars', () => {
  const d = vec(QUANTIZE_NBUCKETS, { 65: -2, 70: -1 });
  assert.equal(
    formatQuantize(d, 1n),
    hist([
      '               1                                         | 0        ',
      '               2              @@@@@@@@@@@@@@@@@@@@@@@@@@@| -2       ',
      '               4                                         | 0        ',
      '               8                                         | 0        ',
      '              16                                         | 0        ',
      '              32                                         | 0        ',
      '              64                            @@@@@@@@@@@@@| -1       ',
      '             128                                         | 0        ',
    ]),
  );
});

test('quantize: counts of both signs draw half bars around a centre line', () => {
  const d = vec(QUANTIZE_NBUCKETS, { 60: -1, 66: 3 });
  assert.equal(
    formatQuantize(d, 1n),
    hist([
      '              -8                     |                     0        ',
      '              -4                @@@@@|                     -1       ',
      '              -2                     |                     0        ',
      '              -1                     |                     0        ',
      '               0                     |                     0        ',
      '               1                     |                     0        ',
      '               2                     |                     0        ',
      '               4                     |@@@@@@@@@@@@@@@      3        ',
      '               8                     |                     0        ',
    ]),
  );
  // positive counts in negative buckets are ordinary bars
  assert.equal(
    formatQuantize(vec(QUANTIZE_NBUCKETS, { 60: 1, 66: 3 }), 1n),
    hist([
      '              -8 |                                         0        ',
      '              -4 |@@@@@@@@@@                               1        ',
      '              -2 |                                         0        ',
      '              -1 |                                         0        ',
      '               0 |                                         0        ',
      '               1 |                                         0        ',
      '               2 |                                         0        ',
      '               4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@           3        ',
      '               8 |                                         0        ',
    ]),
  );
});

test('quantize: no counts at all shows the buckets around zero', () => {
  assert.equal(
    formatQuantize(vec(QUANTIZE_NBUCKETS, {}), 1n),
    hist([
      '              -1 |                                         0        ',
      '               0 |                                         0        ',
      '               1 |                                         0        ',
    ]),
  );
});

test('quantize: normalize() divides the counts (unsigned), not the bars', () => {
  assert.equal(
    formatQuantize(vec(QUANTIZE_NBUCKETS, { 64: 4, 65: 1 }), 2n),
    hist([
      '               0 |                                         0        ',
      '               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@         2        ',
      '               2 |@@@@@@@@                                 0        ',
      '               4 |                                         0        ',
    ]),
  );
  assert.equal(
    formatQuantize(vec(QUANTIZE_NBUCKETS, { 64: -4, 65: -1 }), 2n),
    hist([
      '               0                                         | 0        ',
      '               1         @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@| 9223372036854775806',
      '               2                                 @@@@@@@@| 9223372036854775807',
      '               4                                         | 0        ',
    ]),
  );
});

test('quantize: the last bucket has no row after it; wide labels are not cut', () => {
  assert.equal(
    formatQuantize(vec(QUANTIZE_NBUCKETS, { 126: 3 }), 1n),
    hist([
      '2305843009213693952 |                                         0        ',
      '4611686018427387904 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@ 3        ',
    ]),
  );
});

test('lquantize: "< base" and ">= top" rows', () => {
  // lquantize(x, 0, 10): -3 once, 4 twice, 12 once
  assert.equal(
    formatLQuantize(vec(12, { 0: 1, 5: 2, 11: 1 }), 1n, new LQuantizeParams(0, 10, 1)),
    hist([
      '             < 0 |@@@@@@@@@@                               1        ',
      '               0 |                                         0        ',
      '               1 |                                         0        ',
      '               2 |                                         0        ',
      '               3 |                                         0        ',
      '               4 |@@@@@@@@@@@@@@@@@@@@                     2        ',
      '               5 |                                         0        ',
      '               6 |                                         0        ',
      '               7 |                                         0        ',
      '               8 |                                         0        ',
      '               9 |                                         0        ',
      '           >= 10 |@@@@@@@@@@                               1        ',
    ]),
  );
});

test('lquantize: steps, uneven limits, no data', () => {
  assert.equal(
    formatLQuantize(vec(6, { 3: 1 }), 1n, new LQuantizeParams(-10, 10, 5)),
    hist([
      '              -5 |                                         0        ',
      '               0 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@ 1        ',
      '               5 |                                         0        ',
    ]),
  );
  // limit 10 with step 3: the top row is ">= 9"
  assert.equal(
    formatLQuantize(vec(5, { 4: 7 }), 1n, new LQuantizeParams(0, 10, 3)),
    hist([
      '               6 |                                         0        ',
      '            >= 9 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@ 7        ',
    ]),
  );
  assert.equal(
    formatLQuantize(vec(4, {}), 1n, new LQuantizeParams(-3, 1, 2)),
    hist([
      '            < -3 |                                         0        ',
      '              -3 |                                         0        ',
      '              -1 |                                         0        ',
    ]),
  );
});

test('bars of huge counts are computed in long double, as DTrace does', () => {
  // 40 * v1 / (v1 + v2) + 0.5 is just below 10: a double rounds it up to 10, long double does not
  const v1 = 19n * 2n ** 54n - 1n;
  const v2 = 61n * 2n ** 54n + 1n;
  assert.equal(
    formatLQuantize(vec(4, { 1: v1, 2: v2 }), 1n, new LQuantizeParams(0, 2, 1)),
    hist([
      '             < 0 |                                         0        ',
      '               0 |@@@@@@@@@                                342273571680157695',
      '               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@          1098878309078401025',
      '            >= 2 |                                         0        ',
    ]),
  );
});

test('llquantize: linear steps within each power of the factor', () => {
  const p = new LLQuantizeParams(10, 0, 2, 10);
  // 0 once, 5 once, 50 twice
  const d = vec(p.nbuckets, { 28: 1, 33: 1, 42: 2 });
  assert.equal(
    formatLLQuantize(d, 1n, p),
    hist([
      '              -1 |                                         0        ',
      '               0 |@@@@@@@@@@                               1        ',
      '               1 |                                         0        ',
      '               2 |                                         0        ',
      '               3 |                                         0        ',
      '               4 |                                         0        ',
      '               5 |@@@@@@@@@@                               1        ',
      '               6 |                                         0        ',
      '               7 |                                         0        ',
      '               8 |                                         0        ',
      '               9 |                                         0        ',
      '              10 |                                         0        ',
      '              20 |                                         0        ',
      '              30 |                                         0        ',
      '              40 |                                         0        ',
      '              50 |@@@@@@@@@@@@@@@@@@@@                     2        ',
      '              60 |                                         0        ',
    ]),
  );
  // no data: the bucket of 0 and the two above it
  assert.equal(
    formatLLQuantize(vec(p.nbuckets, {}), 1n, p),
    hist([
      '               0 |                                         0        ',
      '               1 |                                         0        ',
      '               2 |                                         0        ',
    ]),
  );
});

test('llquantize: unused buckets of the lowest magnitude are not printed', () => {
  const p = new LLQuantizeParams(2, 0, 1, 4);
  // 1 three times, 3 once
  assert.equal(
    formatLLQuantize(vec(p.nbuckets, { 6: 3, 9: 1 }), 1n, p),
    hist([
      '               0 |                                         0        ',
      '               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@           3        ',
      '               2 |                                         0        ',
      '               3 |@@@@@@@@@@                               1        ',
      '            >= 4 |                                         0        ',
    ]),
  );
});

test('llquantize: the middle bucket reads "< scale" or "abs() < scale"', () => {
  const p = new LLQuantizeParams(10, 1, 2, 10);
  const d = (...vals: number[]): Int64Vector => {
    const counts: Record<number, number> = {};
    for (const v of vals) counts[llquantizeBucket(v, p)] = 1;
    return vec(p.nbuckets, counts);
  };
  // the first row shown (one before the first count) is above the middle bucket's negative side
  assert.equal(
    formatLLQuantize(d(15, 25), 1n, p),
    hist([
      '            < 10 |                                         0        ',
      '              10 |@@@@@@@@@@@@@@@@@@@@                     1        ',
      '              20 |@@@@@@@@@@@@@@@@@@@@                     1        ',
      '              30 |                                         0        ',
    ]),
  );
  // counts in the middle bucket: the row before it is negative, so "abs()"
  assert.equal(
    formatLLQuantize(d(5, 25), 1n, p),
    hist([
      '             -10 |                                         0        ',
      '      abs() < 10 |@@@@@@@@@@@@@@@@@@@@                     1        ',
      '              10 |                                         0        ',
      '              20 |@@@@@@@@@@@@@@@@@@@@                     1        ',
      '              30 |                                         0        ',
    ]),
  );
  assert.equal(
    formatLLQuantize(d(-15, 5), 1n, p),
    hist([
      '             -20 |                                         0        ',
      '             -10 |@@@@@@@@@@@@@@@@@@@@                     1        ',
      '      abs() < 10 |@@@@@@@@@@@@@@@@@@@@                     1        ',
      '              10 |                                         0        ',
    ]),
  );
});

test('llquantize: labels are cut to 15 characters, as in DTrace', () => {
  const p = new LLQuantizeParams(10, 14, 15, 10);
  const d = vec(p.nbuckets, { [llquantizeBucketBig(-(10n ** 14n), p)]: 1, [llquantizeBucketBig(0n, p)]: 1 });
  assert.equal(
    formatLLQuantize(d, 1n, p),
    hist([
      ' -20000000000000 |                                         0        ',
      ' -10000000000000 |@@@@@@@@@@@@@@@@@@@@                     1        ',
      ' abs() < 1000000 |@@@@@@@@@@@@@@@@@@@@                     1        ',
      ' 100000000000000 |                                         0        ',
    ]),
  );
});

test('normalizeCount divides unsigned, like (long long)val / normal', () => {
  const cases: Array<[number | bigint, bigint, string]> = [
    [10, 1n, '10'],
    [-10, 1n, '-10'],
    [10, 3n, '3'],
    [-10, 2n, '9223372036854775803'],
    [2n ** 63n - 1n, 1n, '9223372036854775807'],
  ];
  for (const [v, n, s] of cases) assert.equal(normalizeCount(v, n), s);
});

// -- long double -------------------------------------------------------------------------------

test('long double arithmetic rounds to a 64-bit mantissa, ties to even', () => {
  assert.equal(ldTrunc(ldFromInt(2n ** 64n - 1n)), 2n ** 64n - 1n);
  assert.equal(ldTrunc(ldFromInt(2n ** 64n + 1n)), 2n ** 64n); // tie, to even
  assert.equal(ldTrunc(ldFromInt(2n ** 64n + 3n)), 2n ** 64n + 4n); // tie, to even
  assert.equal(ldTrunc(ldFromInt(2n ** 65n + 3n)), 2n ** 65n + 4n); // above half
  assert.equal(ldTrunc(ldAdd(ldFromInt(2n ** 64n), ldFromInt(1))), 2n ** 64n);
  assert.equal(ldTrunc(ldMul(ldFromInt(3), ldFromInt(-7))), -21n);
  assert.equal(ldTrunc(ldDiv(ldFromInt(7), ldFromInt(2))), 3n);
  assert.equal(ldTrunc(ldDiv(ldFromInt(-7), ldFromInt(2))), -3n);
  assert.equal(ldTrunc(ldAdd(ldDiv(ldFromInt(7), ldFromInt(2)), LD_HALF)), 4n);
  // 1/3 * 3 is exactly 1 in long double (the product rounds up to 1)
  assert.equal(ldCmp(ldMul(ldDiv(ldFromInt(1), ldFromInt(3)), ldFromInt(3)), ldFromInt(1)), 0);
  assert.equal(ldCmp(ldFromInt(-5), ldFromInt(3)), -1);
  assert.equal(ldCmp(ldFromInt(-5), ldFromInt(-6)), 1);
  assert.equal(ldCmp(ldFromInt(0), ldFromInt(-1)), 1);
  assert.equal(ldCmp(ldDiv(ldFromInt(1), ldFromInt(4)), ldDiv(ldFromInt(1), ldFromInt(3))), -1);
  assert.equal(sortNumCmp(3, 4n), -1);
  assert.equal(sortNumCmp(ldFromInt(2n ** 70n), 2n ** 63n), 1);
});

// -- sort keys ---------------------------------------------------------------------------------

test('histogram sort keys: weighted sums and the zero bucket', () => {
  // quantize: 1*3 + 4*2 - 2*1 = 9; zero bucket 5
  assert.deepEqual(quantizeSortKey(vec(QUANTIZE_NBUCKETS, { 64: 3, 66: 2, 61: 1, 63: 5 })), { total: 9, zero: 5 });
  // exceeding 2^53 switches to long double, still ordered correctly
  const big = quantizeSortKey(vec(QUANTIZE_NBUCKETS, { 126: 2n ** 40n }));
  assert.equal(sortNumCmp(big.total, 2n ** 102n), 0);
  assert.equal(sortNumCmp(big.total, 2n ** 102n + 2n ** 40n), -1);

  // lquantize(x, 0, 3): "< 0" weighs -1, levels weigh their base, ">= 3" weighs 4
  const lp = new LQuantizeParams(0, 3, 1);
  assert.deepEqual(lquantizeSortKey(vec(5, { 0: 2, 2: 3, 4: 1 }), lp), { total: 5, zero: 0 });
  assert.deepEqual(lquantizeSortKey(vec(5, { 1: 7 }), lp), { total: 0, zero: 7 });
  // DTrace counts "< 1" as the zero bucket when base is 1, and ">= -1" ... when the top is -1
  assert.deepEqual(lquantizeSortKey(vec(4, { 0: 6 }), new LQuantizeParams(1, 3, 1)), { total: 0, zero: 6 });
  assert.deepEqual(lquantizeSortKey(vec(4, { 3: 6 }), new LQuantizeParams(-3, -1, 1)), { total: 0, zero: 6 });

  // llquantize(x, 10, 0, 2, 10): the weighted sum uses bucket values; 0 is the middle bucket
  const llp = new LLQuantizeParams(10, 0, 2, 10);
  assert.deepEqual(llquantizeSortKey(vec(llp.nbuckets, { 28: 4, 29: 1, 42: 2, 20: 1 }), llp), {
    total: 1 + 2 * 50 - 8,
    zero: 4,
  });
});
