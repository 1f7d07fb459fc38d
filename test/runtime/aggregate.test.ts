import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { arrayOf, intType, Kind, layoutStruct, pointerTo, stringType, taggedType, VOID } from '../../src/lang/types.js';
import {
  AggFn,
  AggSpace,
  aggDataBytes,
  aggTupleBytes,
  type Aggregation,
  AvgAggregation,
  compareKeyValues,
  CountAggregation,
  createAggregation,
  dtStddev,
  isqrt,
  keyFieldOf,
  KeyKind,
  LLQuantizeAggregation,
  LQuantizeAggregation,
  MaxAggregation,
  MinAggregation,
  QuantizeAggregation,
  StddevAggregation,
  SumAggregation,
  type KeyType,
} from '../../src/runtime/aggregate.js';
import type { Value } from '../../src/runtime/values.js';
import { ProbeContext } from '../../src/runtime/context.js';

const CHAR = intType('char', 1, true);
const SHORT = intType('short', 2, true);
const INT = intType('int', 4, true);
const UINT = intType('unsigned int', 4, false);
const LONG = intType('long', 8, true);
const STR = stringType(256);

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

function agg(fn: AggFn, keys: readonly KeyType[] = [], id = 1): Aggregation {
  return createAggregation({
    name: 'a',
    id,
    fn,
    keys,
    lquantize: { base: 0, limit: 10, step: 1 },
    llquantize: { factor: 10, lmag: 0, hmag: 2, steps: 10 },
  });
}

/** one update: a Number value, a BigInt value, or [value, increment] */
type Op = number | bigint | [number | bigint, number | bigint];

function apply(a: Aggregation, slot: number, ops: readonly Op[]): void {
  for (const op of ops) {
    const [v, incr] = Array.isArray(op) ? op : [op, 1];
    if (typeof v === 'bigint') a.addBig(slot, v, incr);
    else a.add(slot, v, incr);
  }
}

const col = (v: string | number | bigint): string => ' ' + String(v).padStart(16);

// -- keys --------------------------------------------------------------------------------------

test('keys intern to stable slots', () => {
  const a = agg(AggFn.Sum, [STR, INT]);
  const x1 = a.slot2('x', 1);
  const x2 = a.slot2('x', 2);
  const y1 = a.slot2('y', 1);
  assert.equal(new Set([x1, x2, y1]).size, 3);
  assert.equal(a.slot2('x', 1), x1);
  assert.equal(a.slotN(['x', 1]), x1);
  assert.equal(a.find(['y', 1]), y1);
  assert.equal(a.find(['z', 1]), -1);
  assert.equal(a.find(['x', 3]), -1);
  assert.equal(a.size, 3);
  assert.deepEqual(a.keyValues(x2), ['x', 2]);
  assert.equal(a.key(y1, 0), 'y');

  const b = agg(AggFn.Count, [INT, STR, LONG]);
  const s = b.slot3(7, 'q', -1n);
  assert.equal(b.slotN([7, 'q', -1n]), s);
  assert.equal(b.slot3(7, 'q', 1n) === s, false);

  const c = agg(AggFn.Count, [INT]);
  assert.equal(c.slot1(5), c.slotN([5]));

  const d = agg(AggFn.Count);
  assert.equal(d.slot0(), d.slot0());
  assert.equal(d.slotN([]), d.slot0());
  assert.equal(d.find([]), d.slot0());
});

test('byte keys are compared by content and copied', () => {
  const st = taggedType(Kind.Struct, 'pt');
  layoutStruct(st, [
    { name: 'x', type: INT, bits: -1 },
    { name: 'y', type: INT, bits: -1 },
    { name: 'z', type: INT, bits: -1 },
  ]);
  const a = agg(AggFn.Count, [st]);
  const buf = new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
  const s = a.slot1(buf);
  assert.equal(a.slot1(new Uint8Array(buf)), s);
  buf[0] = 9; // the caller reuses its buffer
  const t = a.slot1(buf);
  assert.notEqual(t, s);
  assert.deepEqual([...(a.key(s, 0) as Uint8Array)], [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
});

test('key fields follow the record DTrace stores for each type', () => {
  const cases: Array<[KeyType, KeyKind, number]> = [
    [CHAR, KeyKind.Int, 1],
    [SHORT, KeyKind.Int, 2],
    [UINT, KeyKind.Int, 4],
    [LONG, KeyKind.Int, 8],
    [pointerTo(CHAR), KeyKind.Int, 8],
    [pointerTo(VOID), KeyKind.Int, 8],
    [stringType(256), KeyKind.Str, 257],
    [stringType(7), KeyKind.Str, 8],
    [arrayOf(CHAR, 6), KeyKind.Bytes, 6],
  ];
  for (const [t, kind, size] of cases) {
    const f = keyFieldOf(t);
    assert.equal(f.kind, kind, String(t));
    assert.equal(f.size, size, String(t));
  }
  const opaque = { opaque: true as const, size: 16, compare: () => 0, format: () => '' };
  assert.equal(keyFieldOf(opaque).kind, KeyKind.Opaque);
  assert.equal(keyFieldOf(opaque).opaque, opaque);
});

test('key comparison: record size, then unsigned value or bytes', () => {
  const f = (t: KeyType) => keyFieldOf(t);
  const cases: Array<[KeyType, Value, KeyType, Value, number]> = [
    [INT, 1, INT, 2, -1],
    [INT, -1, INT, 1, 1], // 0xffffffff > 1
    [INT, -1, UINT, 4294967295, 0], // same record
    [CHAR, -2, CHAR, 2, 1], // 254 > 2
    [SHORT, -1, SHORT, 0, 1],
    [LONG, -1n, LONG, 1n, 1],
    [LONG, 5n, LONG, 5n, 0],
    [CHAR, 100, INT, 1, -1], // smaller record first
    [STR, 'ab', STR, 'abc', -1],
    [STR, 'b', STR, 'abc', 1],
    [STR, 'same', STR, 'same', 0],
    [arrayOf(CHAR, 3), new Uint8Array([1, 2, 3]), arrayOf(CHAR, 3), new Uint8Array([1, 3, 0]), -1],
  ];
  for (const [ta, a, tb, b, want] of cases) {
    assert.equal(Math.sign(compareKeyValues(f(ta), a, f(tb), b)), want, `${String(a)} vs ${String(b)}`);
  }
});

// -- aggregating functions ---------------------------------------------------------------------

test('values of each aggregating function', () => {
  const cases: Array<{ name: string; fn: AggFn; ops: Op[]; data: bigint[]; text: string }> = [
    { name: 'count', fn: AggFn.Count, ops: [0, 9n, 0], data: [3n], text: col(3) },
    { name: 'sum', fn: AggFn.Sum, ops: [5, -7, 2147483647], data: [2147483645n], text: col(2147483645) },
    { name: 'sum mixed', fn: AggFn.Sum, ops: [10, 5n, -20], data: [-5n], text: col(-5) },
    { name: 'sum wraps as int64', fn: AggFn.Sum, ops: [INT64_MAX, 1], data: [INT64_MIN], text: col(INT64_MIN) },
    { name: 'sum of unsigned 64-bit', fn: AggFn.Sum, ops: [2n ** 64n - 1n, 2], data: [1n], text: col(1) },
    { name: 'avg', fn: AggFn.Avg, ops: [1, 2, 4], data: [3n, 7n], text: col(2) },
    { name: 'avg truncates toward 0', fn: AggFn.Avg, ops: [-7, 0], data: [2n, -7n], text: col(-3) },
    { name: 'avg of 64-bit', fn: AggFn.Avg, ops: [2n ** 40n, 2n ** 40n + 2n], data: [2n, 2n ** 41n + 2n], text: col(2n ** 40n + 1n) },
    { name: 'min', fn: AggFn.Min, ops: [5, -3n, 7], data: [-3n], text: col(-3) },
    { name: 'min Number below BigInt', fn: AggFn.Min, ops: [-10, -5n], data: [-10n], text: col(-10) },
    { name: 'max', fn: AggFn.Max, ops: [5, -3n, 7], data: [7n], text: col(7) },
    { name: 'max BigInt above Number', fn: AggFn.Max, ops: [7, 2n ** 40n], data: [2n ** 40n], text: col(2n ** 40n) },
    { name: 'max of unsigned 2^63 is INT64_MIN', fn: AggFn.Max, ops: [2n ** 63n, -5], data: [-5n], text: col(-5) },
    { name: 'stddev', fn: AggFn.Stddev, ops: [2, 4, 4, 4, 5, 5, 7, 9], data: [8n, 40n, 232n, 0n], text: col(2) },
    {
      name: 'stddev with a 128-bit sum of squares',
      fn: AggFn.Stddev,
      ops: [5000000000n, -5000000000n],
      data: [2n, 0n, -5340232221128654848n, 2n],
      text: col(5000000000),
    },
  ];
  for (const c of cases) {
    const a = agg(c.fn, [INT]);
    const s = a.slot1(1);
    apply(a, s, c.ops);
    assert.deepEqual(a.data(s), c.data, c.name);
    assert.equal(a.valueText(s), c.text, c.name);
  }
});

test('Number accumulators stay exact beyond 2^53', () => {
  const sum = agg(AggFn.Sum);
  const s = sum.slot0();
  for (let i = 0; i < 1 << 22; i++) sum.add(s, 4294967295, 1);
  assert.deepEqual(sum.data(s), [4294967295n * 2n ** 22n]);

  const q = agg(AggFn.Quantize);
  const qs = q.slot0();
  for (let i = 0; i < 1 << 21; i++) q.add(qs, 0, 4294967295);
  assert.equal(q.data(qs)[63], 4294967295n * 2n ** 21n);
  q.addBig(qs, 1n, 2n ** 62n);
  q.addBig(qs, 1n, 2n ** 62n); // bucket counts wrap as int64, as DTrace's do
  assert.equal(q.data(qs)[64], INT64_MIN);
  assert.equal(q.data(qs)[63], 4294967295n * 2n ** 21n);

  // stddev: the sum of squares of Numbers is exact too
  const sd = agg(AggFn.Stddev);
  const t = sd.slot0();
  const big = agg(AggFn.Stddev, [], 2);
  const u = big.slot0();
  for (let i = 0; i < 1000; i++) {
    sd.add(t, 4294967295, 1);
    sd.add(t, 1, 1);
    big.addBig(u, 4294967295n, 1);
    big.addBig(u, 1n, 1);
  }
  const sq = 1000n * (4294967295n ** 2n + 1n);
  assert.deepEqual(sd.data(t), [2000n, 4294967296000n, BigInt.asIntN(64, sq), sq >> 64n]);
  assert.deepEqual(big.data(u), sd.data(t));
  assert.equal(sd.valueText(t), col(2147483647));
});

test('histograms add increments (negative, BigInt) to the value\'s bucket', () => {
  const q = agg(AggFn.Quantize, [INT]);
  const s = q.slot1(0);
  apply(q, s, [[5, 1], [5, 2n], [5n, -1], [-1, 3], [0n, 1]]);
  const d = q.data(s);
  assert.equal(d.length, 127);
  assert.equal(d[66], 2n);
  assert.equal(d[62], 3n);
  assert.equal(d[63], 1n);
  assert.equal(d.reduce((x, y) => x + y), 6n);

  const l = agg(AggFn.LQuantize); // lquantize(v, 0, 10)
  const ls = l.slot0();
  apply(l, ls, [-5, 0, 3, [3, 4], 10, 99n]);
  assert.deepEqual(l.data(ls), [1n, 1n, 0n, 0n, 5n, 0n, 0n, 0n, 0n, 0n, 0n, 2n]);

  const ll = agg(AggFn.LLQuantize); // llquantize(v, 10, 0, 2, 10)
  const lls = ll.slot0();
  apply(ll, lls, [0, 7, 70, 700, 7000, -7, [-70n, 2]]);
  const lld = ll.data(lls);
  assert.equal(lld.length, 57);
  const nonzero = lld.flatMap((v, i) => (v !== 0n ? [[i, v]] : []));
  assert.deepEqual(nonzero, [
    [12, 2n], // -70, twice
    [21, 1n], // -7
    [28, 1n], // 0
    [35, 1n], // 7
    [44, 1n], // 70
    [53, 1n], // 700
    [56, 1n], // 7000: >= 1000
  ]);
});

test('clear() zeroes values and keeps keys', () => {
  const sum = agg(AggFn.Sum, [STR]);
  sum.add(sum.slot1('a'), 5, 1);
  sum.addBig(sum.slot1('b'), 2n ** 60n, 1);
  sum.clear();
  assert.equal(sum.size, 2);
  assert.equal(sum.valueText(sum.slot1('a')), col(0));
  assert.equal(sum.valueText(sum.slot1('b')), col(0));
  sum.add(sum.slot1('a'), 3, 1);
  assert.equal(sum.valueText(sum.slot1('a')), col(3));

  const min = agg(AggFn.Min, [INT]);
  min.add(min.slot1(1), 3, 1);
  min.clear();
  assert.equal(min.valueText(min.slot1(1)), col(INT64_MAX));
  const max = agg(AggFn.Max, [INT]);
  max.addBig(max.slot1(1), 3n, 1);
  max.clear();
  assert.equal(max.valueText(max.slot1(1)), col(INT64_MIN));

  const q = agg(AggFn.Quantize);
  q.add(q.slot0(), 4, 1);
  q.addBig(q.slot0(), 4n, 2n ** 60n);
  q.clear();
  assert.equal(q.data(q.slot0()).some((v) => v !== 0n), false);

  const sd = agg(AggFn.Stddev);
  sd.add(sd.slot0(), 9, 1);
  sd.clear();
  assert.deepEqual(sd.data(sd.slot0()), [0n, 0n, 0n, 0n]);
});

function keysOf(a: Aggregation): Value[][] {
  return a.sortedSlots().map((s) => a.keyValues(s));
}

test('trunc() keeps the largest values, or the smallest for a negative count', () => {
  const make = (): Aggregation => {
    const a = agg(AggFn.Sum, [INT]);
    [5, 1, 5, 3, 9, 0].forEach((v, i) => a.add(a.slot1(i + 1), v, 1));
    return a;
  };
  const cases: Array<[number | bigint, number[]]> = [
    [2, [3, 5]], // 9, then the tie at 5 keeps the larger key
    [-2, [6, 2]],
    [3n, [1, 3, 5]],
    [-1n, [6]],
    [0, []],
    [10, [6, 2, 4, 1, 3, 5]],
  ];
  for (const [n, keys] of cases) {
    const a = make();
    a.trunc(n);
    assert.deepEqual(keysOf(a), keys.map((k) => [k]), `trunc(${n})`);
    assert.equal(a.size, keys.length);
  }

  // removed keys are gone and their slots are reused
  const a = make();
  a.trunc(1);
  assert.equal(a.find([1]), -1);
  const s = a.slot1(1);
  assert.equal(a.valueText(s), col(0));
  assert.equal(a.hw, 6);
  a.trunc();
  assert.equal(a.size, 0);
  assert.deepEqual(a.slots(), []);

  // the same for nested keys and for no keys
  const b = agg(AggFn.Count, [STR, INT]);
  b.add(b.slot2('x', 1), 0, 1);
  b.add(b.slot2('x', 2), 0, 1);
  b.add(b.slot2('x', 2), 0, 1);
  b.trunc(1);
  assert.deepEqual(keysOf(b), [['x', 2]]);
  assert.equal(b.find(['x', 1]), -1);
  const c = agg(AggFn.Count);
  c.add(c.slot0(), 0, 1);
  c.trunc();
  assert.equal(c.size, 0);
  assert.equal(c.valueText(c.slot0()), col(0));
});

test('normalize() and denormalize()', () => {
  const sum = agg(AggFn.Sum);
  sum.add(sum.slot0(), 10, 1);
  sum.normalize(3);
  assert.equal(sum.valueText(sum.slot0()), col(3));
  sum.denormalize();
  assert.equal(sum.valueText(sum.slot0()), col(10));

  // dtrace divides an int64 sum by the factor as unsigned
  const neg = agg(AggFn.Sum);
  neg.add(neg.slot0(), -10, 1);
  neg.normalize(2n);
  assert.equal(neg.valueText(neg.slot0()), col('9223372036854775803'));

  // avg divides signed: sum / normal / count
  const avg = agg(AggFn.Avg);
  apply(avg, avg.slot0(), [-90, -110]);
  avg.normalize(10);
  assert.equal(avg.valueText(avg.slot0()), col(-10));

  // stddev normalises the sum of squares and the sum before taking the root
  const sd = agg(AggFn.Stddev);
  apply(sd, sd.slot0(), [0, 20]);
  assert.equal(sd.valueText(sd.slot0()), col(10));
  sd.normalize(2);
  assert.equal(sd.valueText(sd.slot0()), col(8));
});

test('printfValue(): the integer a %@ conversion receives, or a histogram\'s text', () => {
  const sum = agg(AggFn.Sum);
  sum.add(sum.slot0(), -10, 1);
  assert.equal(sum.printfValue(sum.slot0(), true), -10n);
  assert.equal(sum.printfValue(sum.slot0(), false), 2n ** 64n - 10n);
  sum.normalize(2);
  assert.equal(sum.printfValue(sum.slot0(), true), -5n);
  assert.equal(sum.printfValue(sum.slot0(), false), 9223372036854775803n);

  // avg: DTrace's printf divides in unsigned arithmetic
  const avg = agg(AggFn.Avg);
  apply(avg, avg.slot0(), [-4, -6]);
  assert.equal(avg.printfValue(avg.slot0(), false), 9223372036854775803n);
  assert.equal(avg.printfValue(avg.slot0(), true), 9223372036854775803n);
  const pavg = agg(AggFn.Avg);
  apply(pavg, pavg.slot0(), [4, 7]);
  assert.equal(pavg.printfValue(pavg.slot0(), true), 5n);

  const sd = agg(AggFn.Stddev);
  apply(sd, sd.slot0(), [2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(sd.printfValue(sd.slot0(), true), 2n);

  const q = agg(AggFn.Quantize);
  q.add(q.slot0(), 1, 1);
  assert.equal(q.printfValue(q.slot0(), true), q.valueText(q.slot0()));
  assert.ok((q.printfValue(q.slot0(), true) as string).startsWith('\n           value  '));

  // slot -1: the zero value a missing key prints in a printa() of several aggregations
  assert.equal(sum.printfValue(-1, true), 0n);
  assert.equal(avg.printfValue(-1, true), 0n);
  assert.equal(sd.valueText(-1), col(0));
  assert.deepEqual(q.data(-1), new Array<bigint>(127).fill(0n));
});

// -- ordering ----------------------------------------------------------------------------------

test('sortedSlots(): by value then key; aggsortkey, aggsortrev, aggsortkeypos', () => {
  const a = agg(AggFn.Sum, [STR]);
  for (const [k, v] of [['b', 2], ['a', 2], ['c', 1], ['d', 3]] as const) a.add(a.slot1(k), v, 1);
  const order = (o: object): Value[] =>
    a.sortedSlots({ aggsortkey: false, aggsortrev: false, aggsortpos: 0, aggsortkeypos: 0, ...o }).map((s) => a.key(s, 0));
  assert.deepEqual(order({}), ['c', 'a', 'b', 'd']);
  assert.deepEqual(order({ aggsortrev: true }), ['d', 'b', 'a', 'c']);
  assert.deepEqual(order({ aggsortkey: true }), ['a', 'b', 'c', 'd']);
  assert.deepEqual(order({ aggsortkey: true, aggsortrev: true }), ['d', 'c', 'b', 'a']);

  const b = agg(AggFn.Sum, [INT, INT]);
  for (const [x, y] of [[1, 3], [2, 2], [3, 1]]) b.add(b.slot2(x, y), 0, 1);
  const border = (o: object): Value[][] =>
    b.sortedSlots({ aggsortkey: false, aggsortrev: false, aggsortpos: 0, aggsortkeypos: 0, ...o }).map((s) => b.keyValues(s));
  assert.deepEqual(border({}), [[1, 3], [2, 2], [3, 1]]);
  assert.deepEqual(border({ aggsortkeypos: 1 }), [[3, 1], [2, 2], [1, 3]]);
  assert.deepEqual(border({ aggsortkeypos: 2 }), [[1, 3], [2, 2], [3, 1]]); // out of range: 0
  assert.deepEqual(border({ aggsortkey: true, aggsortkeypos: 1, aggsortrev: true }), [[1, 3], [2, 2], [3, 1]]);
});

test('keys sort as unsigned records', () => {
  const cases: Array<[KeyType, Value[], Value[]]> = [
    [CHAR, [-2, -1, 0, 1, 2], [0, 1, 2, -2, -1]],
    [SHORT, [-1, 300, 0], [0, 300, -1]],
    [INT, [-5, 5, -1], [5, -5, -1]],
    [LONG, [-1n, 1n, 2n ** 62n], [1n, 2n ** 62n, -1n]],
    [STR, ['abc', 'ab', 'b', 'B'], ['B', 'ab', 'abc', 'b']],
  ];
  for (const [t, keys, want] of cases) {
    const a = agg(AggFn.Count, [t]);
    for (const k of keys) a.add(a.slot1(k), 0, 1);
    assert.deepEqual(
      a.sortedSlots().map((s) => a.key(s, 0)),
      want,
      String(t),
    );
  }
});

test('values sort by what each function compares', () => {
  const order = (fn: AggFn, entries: Array<[number, Op[]]>): number[] => {
    const a = agg(fn, [INT]);
    for (const [k, ops] of entries) apply(a, a.slot1(k), ops);
    return a.sortedSlots().map((s) => a.key(s, 0) as number);
  };
  // int64 order, BigInts and Numbers alike
  assert.deepEqual(order(AggFn.Max, [[1, [2n ** 60n + 1n]], [2, [2n ** 60n]], [3, [-1]], [4, [5]]]), [3, 4, 2, 1]);
  assert.deepEqual(order(AggFn.Sum, [[1, [INT64_MAX, 1]], [2, [0]]]), [1, 2]);
  // avg by its truncated value; ties by key
  assert.deepEqual(order(AggFn.Avg, [[1, [3, 4]], [2, [3]], [3, [1, 2]]]), [3, 1, 2]);
  // stddev
  assert.deepEqual(order(AggFn.Stddev, [[1, [0, 100]], [2, [5, 5]], [3, [0, 10]]]), [2, 3, 1]);
  // quantize: weighted sum of bucket values, then the count at zero, then the key
  assert.deepEqual(
    order(AggFn.Quantize, [
      [1, [0, 0]],
      [2, [0]],
      [3, [1, -1]],
      [4, [2]],
      [5, [[1, -1]]],
    ]),
    [5, 3, 2, 1, 4],
  );
  // lquantize(v, 0, 10): "< 0" weighs -1
  assert.deepEqual(order(AggFn.LQuantize, [[1, [-100]], [2, [0]], [3, [[0, 2]]], [4, [9]]]), [1, 2, 3, 4]);
  // llquantize(v, 10, 0, 2, 10): by bucket values
  assert.deepEqual(order(AggFn.LLQuantize, [[1, [15]], [2, [-3]], [3, [0]], [4, [1000000]]]), [2, 3, 1, 4]);
});

test('createAggregation() makes each function\'s table', () => {
  const cases: Array<[AggFn, Function]> = [
    [AggFn.Count, CountAggregation],
    [AggFn.Sum, SumAggregation],
    [AggFn.Avg, AvgAggregation],
    [AggFn.Min, MinAggregation],
    [AggFn.Max, MaxAggregation],
    [AggFn.Stddev, StddevAggregation],
    [AggFn.Quantize, QuantizeAggregation],
    [AggFn.LQuantize, LQuantizeAggregation],
    [AggFn.LLQuantize, LLQuantizeAggregation],
  ];
  for (const [fn, cls] of cases) {
    const a = createAggregation({
      name: 'x',
      id: 3,
      fn,
      keys: [INT],
      lquantize: { base: -5, limit: 5 },
      llquantize: { factor: 2, lmag: 0, hmag: 3, steps: 2 },
    });
    assert.ok(a instanceof cls);
    assert.equal(a.fn, fn);
    assert.equal(a.name, 'x');
    assert.equal(a.id, 3);
    assert.equal(a.nkeys, 1);
  }
  const l = createAggregation({ name: 'l', id: 1, fn: AggFn.LQuantize, keys: [], lquantize: { base: -5, limit: 5 } });
  assert.equal((l as LQuantizeAggregation).params.step, 1);
  assert.equal((l as LQuantizeAggregation).nb, 12);
  assert.throws(() => createAggregation({ name: 'l', id: 1, fn: AggFn.LQuantize, keys: [] }));
  assert.throws(() => createAggregation({ name: 'l', id: 1, fn: AggFn.LLQuantize, keys: [] }));
});

test('dt_stddev integer arithmetic', () => {
  assert.equal(isqrt(0n), 0n);
  assert.equal(isqrt(15n), 3n);
  assert.equal(isqrt(16n), 4n);
  assert.equal(isqrt(2n ** 128n - 1n), 2n ** 64n - 1n);
  // 10 values 5000000000 + 100 * i: variance 82500
  const n = 10n;
  let sum = 0n;
  let sq = 0n;
  for (let i = 0n; i < n; i++) {
    const v = 5000000000n + 100n * i;
    sum += v;
    sq += v * v;
  }
  assert.equal(dtStddev(n, sum, sq, 1n), 287n);
  assert.equal(dtStddev(n, -sum, sq, 1n), 287n);
  assert.equal(dtStddev(0n, 0n, 0n, 1n), 0n);
});

test('the aggregation buffer: new keys past its entries are dropped, counted per CPU, never stored', () => {
  const space = new AggSpace(3);
  const make = (fn: AggFn, keys: readonly KeyType[], id: number) =>
    createAggregation({ name: 'a' + id, id, fn, keys }, space);
  const one = make(AggFn.Count, [INT], 1);
  const two = make(AggFn.Sum, [INT, STR], 2);
  const three = make(AggFn.Max, [INT, INT, INT], 3);
  const many = make(AggFn.Count, [INT, INT, INT, INT], 4);
  const none = make(AggFn.Count, [], 5);
  space.cpu = 1;
  one.add(one.slot1(10), 0, 1);
  two.add(two.slot2(1, 'x'), 5, 1);
  // the buffer is shared: the third entry fills it
  three.add(three.slot3(1, 2, 3), 7, 1);
  assert.equal(space.used, 3);
  // known keys still update; new ones, of any arity, are dropped
  one.add(one.slot1(10), 0, 1);
  one.add(one.slot1(11), 0, 1);
  two.add(two.slot2(2, 'y'), 100, 1);
  space.cpu = 0;
  three.add(three.slot3(9, 9, 9), 100, 1);
  many.add(many.slotN([1, 2, 3, 4]), 0, 1);
  none.add(none.slot0(), 0, 1);
  assert.deepEqual([...space.drops], [3, 2]);
  assert.equal(space.used, 3);
  assert.deepEqual(one.slots().map((s) => [one.keyValues(s), one.data(s)]), [[[10], [2n]]]);
  assert.deepEqual(two.slots().map((s) => [two.keyValues(s), two.data(s)]), [[[1, 'x'], [5n]]]);
  assert.deepEqual(three.slots().map((s) => three.data(s)), [[7n]]);
  assert.equal(many.size + none.size, 0);
  // nothing was left behind for a dropped key: a lookup does not find it
  assert.equal(two.find([2, 'y']), -1);
  assert.equal(three.find([9, 9, 9]), -1);
  // trunc() gives room back
  one.trunc(0);
  assert.equal(space.used, 2);
  many.add(many.slotN([1, 2, 3, 4]), 0, 1);
  assert.equal(many.size, 1);
  assert.equal(space.used, 3);
});

test('aggregation record sizes as Oracle DTrace lays them out (dt_cg_arglist, dt_cg_agg_*)', () => {
  // the aggregation id (4), the keys (scalars aligned, strings strsize + 1), the TLS key (8)
  assert.equal(aggTupleBytes([]), 12);
  assert.equal(aggTupleBytes([INT]), 16);
  assert.equal(aggTupleBytes([LONG]), 24);
  assert.equal(aggTupleBytes([CHAR, LONG]), 24);
  assert.equal(aggTupleBytes([stringType(512)]), 4 + 513 + 8);
  assert.equal(aggTupleBytes([STR, INT]), 4 + 257 + 3 + 4 + 8);
  // a generation counter (8) and the data
  assert.equal(aggDataBytes(AggFn.Count, 0), 16);
  assert.equal(aggDataBytes(AggFn.Avg, 0), 24);
  assert.equal(aggDataBytes(AggFn.Stddev, 0), 40);
  assert.equal(aggDataBytes(AggFn.Quantize, 127), 8 + 127 * 8);
});

test('addArg() of a firing\'s argument aggregates as addBig() of its 64-bit value does, from a Number or a BigInt', () => {
  const SAFE = 2 ** 53 - 1;
  const values = [0n, 3n, -7n, 1000n, 2n ** 31n - 1n, 2n ** 31n, -(2n ** 31n) - 1n, BigInt(SAFE), -BigInt(SAFE), 2n ** 53n + 1n, INT64_MAX, INT64_MIN];
  for (const fn of [AggFn.Sum, AggFn.Min, AggFn.Max, AggFn.Avg, AggFn.Stddev, AggFn.Quantize, AggFn.LQuantize, AggFn.LLQuantize]) {
    const want = agg(fn);
    const viaArg = agg(fn);
    const noNumber = agg(fn);
    const ctx = new ProbeContext();
    for (const v of values) {
      want.addBig(want.slot0(), v, 1);
      // as a decoder leaves it: the Number, and the BigInt only where the Number is not exact
      ctx.argnSet = 1 << 4;
      ctx.argn[4] = Number(v);
      ctx.args[4] = v >= -BigInt(SAFE) && v <= BigInt(SAFE) ? 12345n : v;
      viaArg.addArg(viaArg.slot0(), ctx, 4, 1);
      // a provider that fills only ctx.args
      ctx.argnSet = 0;
      ctx.args[4] = v;
      noNumber.addArg(noNumber.slot0(), ctx, 4, 1);
    }
    assert.equal(viaArg.valueText(viaArg.slot0()), want.valueText(want.slot0()), AggFn[fn]);
    assert.equal(noNumber.valueText(noNumber.slot0()), want.valueText(want.slot0()), AggFn[fn]);
  }
});
