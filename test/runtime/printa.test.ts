import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { arrayOf, intType, pointerTo, stringType, VOID, type DType } from '../../src/lang/types.js';
import {
  AggFn,
  type Aggregation,
  createAggregation,
  keyFieldOf,
  type KeyType,
  type OpaqueKeyType,
} from '../../src/runtime/aggregate.js';
import {
  DEFAULT_PRINT_OPTIONS,
  formatAggregations,
  formatKeys,
  formatKeyValue,
  formatPrinta,
  joinAggregations,
} from '../../src/runtime/printa.js';
import { formatRawBytes } from '../../src/runtime/trace-format.js';
import type { Value } from '../../src/runtime/values.js';

const CHAR = intType('char', 1, true);
const SHORT = intType('short', 2, true);
const INT = intType('int', 4, true);
const UINT = intType('unsigned int', 4, false);
const LONG = intType('long', 8, true);
const ULONG = intType('unsigned long', 8, false);
const STR = stringType(256);

const HEADER = '\n           value  ------------- Distribution ------------- count    \n';
const ZERO_QUANTIZE =
  HEADER +
  '              -1 |                                         0        \n' +
  '               0 |                                         0        \n' +
  '               1 |                                         0        \n';
const DUMP_HEADER = '\n             0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f  0123456789abcdef\n';

function make(fn: AggFn, keys: readonly KeyType[], id: number): Aggregation {
  return createAggregation({ name: `a${id}`, id, fn, keys });
}

function opts(o: object = {}): typeof DEFAULT_PRINT_OPTIONS {
  return { ...DEFAULT_PRINT_OPTIONS, ...o };
}

// -- keys --------------------------------------------------------------------------------------

test('integer keys print by record size', () => {
  const cases: Array<[DType, Value, string]> = [
    [CHAR, -2, ' 254'],
    [CHAR, 65, '  65'],
    [SHORT, -1, ' 65535'],
    [SHORT, 7, '     7'],
    [INT, -1, '       -1'],
    [UINT, 4294967295, '       -1'],
    [INT, 123456789, ' 123456789'],
    [LONG, -5n, '               -5'],
    [ULONG, 2n ** 64n - 1n, '               -1'],
    [pointerTo(VOID), 0xffffffff81000000n, '      -2130706432'],
  ];
  for (const [t, v, want] of cases) assert.equal(formatKeyValue(keyFieldOf(t), v), want, `${t.name} ${String(v)}`);
});

test('string keys print as "  %-50s" when printable', () => {
  const cases: Array<[DType, Value, string]> = [
    [STR, 'foo', '  foo                                               '],
    [STR, 'a\tb', '  a\tb' + ' '.repeat(47)],
    [STR, 'x'.repeat(60), '  ' + 'x'.repeat(60)],
    // a record of 1, 2, 4 or 8 bytes is printed as an integer, whatever its type
    [stringType(7), 'abc', '          6513249'],
    [stringType(3), 'ab', '    25185'],
    // other byte records that read as strings
    [arrayOf(CHAR, 12), new TextEncoder().encode('hello world!'), '  hello world!                                      '],
    [arrayOf(CHAR, 12), new Uint8Array([0x68, 0x69, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), '  hi                                                '],
    [arrayOf(CHAR, 4), new Uint8Array([1, 0, 0, 0x80]), ' -2147483647'],
  ];
  for (const [t, v, want] of cases) assert.equal(formatKeyValue(keyFieldOf(t), v), want, JSON.stringify(String(v)));
});

test('byte records that are not strings print as a hex dump', () => {
  const zeros17 = DUMP_HEADER + '         0:' + ' 00'.repeat(16) + '  ................\n' + '        10: 00' + ' '.repeat(45) + '  .\n';
  // the empty string: its first byte is NUL
  assert.equal(formatKeyValue(keyFieldOf(stringType(16)), ''), zeros17);
  assert.equal(
    formatKeyValue(keyFieldOf(stringType(16)), 'a\x01'),
    DUMP_HEADER + '         0: 61 01' + ' 00'.repeat(14) + '  a...............\n' + '        10: 00' + ' '.repeat(45) + '  .\n',
  );
  assert.equal(
    formatKeyValue(keyFieldOf(stringType(16)), '\xe9t\xe9'),
    DUMP_HEADER + '         0: e9 74 e9' + ' 00'.repeat(13) + '  .t..............\n' + '        10: 00' + ' '.repeat(45) + '  .\n',
  );
  // more bytes after a NUL
  assert.equal(
    formatKeyValue(keyFieldOf(arrayOf(CHAR, 12)), new Uint8Array([0x68, 0x69, 0, 0x78, 0, 0, 0, 0, 0, 0, 0, 0])),
    DUMP_HEADER + '         0: 68 69 00 78 00 00 00 00 00 00 00 00' + ' '.repeat(12) + '  hi.x........\n',
  );
  // -x rawbytes dumps strings too
  assert.equal(
    formatKeyValue(keyFieldOf(stringType(4)), 'foo', true),
    DUMP_HEADER + '         0: 66 6f 6f 00 00' + ' '.repeat(33) + '  foo..\n',
  );
  assert.equal(formatRawBytes('', 0), '');
  const bytes = [...'ABCDEFGHIJKLMNOPQRST'].map((c) => c.charCodeAt(0));
  assert.equal(
    formatRawBytes(Uint8Array.from(bytes)),
    DUMP_HEADER +
      '         0: 41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50  ABCDEFGHIJKLMNOP\n' +
      '        10: 51 52 53 54' + ' '.repeat(36) + '  QRST\n',
  );
});

test('opaque keys print through their own formatter', () => {
  const stack: OpaqueKeyType = {
    opaque: true,
    size: 16,
    compare: (a, b) => Number(a) - Number(b),
    format: (v) => `\n              kernel\`func${String(v)}\n`,
  };
  const a = make(AggFn.Sum, [stack, INT], 1);
  a.add(a.slot2(2, 7), 5, 1);
  a.add(a.slot2(1, 7), 5, 1);
  assert.equal(formatKeys(a, a.slot2(1, 7)), '\n              kernel`func1\n        7');
  assert.equal(
    formatPrinta([a]),
    '\n' +
      '\n              kernel`func1\n        7                5\n' +
      '\n              kernel`func2\n        7                5\n',
  );
});

// -- printa() and exit output ------------------------------------------------------------------

test('printa(@a): a newline, then rows sorted by value', () => {
  const a = make(AggFn.Sum, [STR], 1);
  a.add(a.slot1('read'), 10, 1);
  a.add(a.slot1('write'), 5, 1);
  a.add(a.slot1('open'), 10, 1);
  assert.equal(
    formatPrinta([a]),
    '\n' +
      '  write                                                             5\n' +
      '  open                                                             10\n' +
      '  read                                                             10\n',
  );
  assert.equal(a.printed, true);
  // already printed: not printed again at exit
  assert.equal(formatAggregations([a]), '');

  const empty = make(AggFn.Count, [INT], 2);
  assert.equal(formatPrinta([empty]), '\n');
  assert.equal(empty.printed, false);
});

test('histogram rows: key line, the histogram, a blank line', () => {
  const q = make(AggFn.Quantize, [STR], 1);
  q.add(q.slot1('foo'), 1, 2);
  const rows =
    HEADER +
    '               0 |                                         0        \n' +
    '               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@ 2        \n' +
    '               2 |                                         0        \n';
  assert.equal(formatPrinta([q]), '\n  foo                                               ' + rows + '\n');

  // no keys: the histogram follows the blank line dtrace prints first
  const k = make(AggFn.Quantize, [], 2);
  k.add(k.slot0(), 1, 2);
  assert.equal(formatAggregations([k]), rows + '\n');
});

test('exit output: unprinted, non-empty aggregations in id order', () => {
  const b = make(AggFn.Sum, [INT], 2);
  b.add(b.slot1(1), 7, 1);
  const a = make(AggFn.Count, [], 1);
  for (let i = 0; i < 3; i++) a.add(a.slot0(), 0, 1);
  const c = make(AggFn.Count, [], 3);
  c.add(c.slot0(), 0, 1);
  c.printed = true;
  const d = make(AggFn.Max, [INT], 4); // never updated
  const avg = make(AggFn.Avg, [], 5);
  avg.add(avg.slot0(), 0, 1);
  avg.add(avg.slot0(), -900, 1);
  const sd = make(AggFn.Stddev, [], 6);
  sd.addBig(sd.slot0(), 5000000000n, 1);
  sd.addBig(sd.slot0(), 5000000100n, 1);
  const all = [b, d, c, a, avg, sd];
  assert.equal(
    formatAggregations(all),
    '                3\n' + '        1                7\n' + '             -450\n' + '               50\n',
  );
  assert.equal(
    formatAggregations(all, opts({ aggsortrev: true })),
    '               50\n' + '             -450\n' + '        1                7\n' + '                3\n',
  );
});

test('printa(@a, @b): keys of either, zero where one has none', () => {
  const a = make(AggFn.Count, [INT], 1);
  const b = make(AggFn.Sum, [INT], 2);
  const q = make(AggFn.Quantize, [INT], 3); // never updated
  for (let i = 0; i < 3; i++) a.add(a.slot1(1), 0, 1);
  a.add(a.slot1(2), 0, 1);
  b.add(b.slot1(2), 10, 1);
  b.add(b.slot1(3), 5, 1);
  const r3 = '        3                0                5';
  const r2 = '        2                1               10';
  const r1 = '        1                3                0';
  assert.equal(formatPrinta([a, b]), '\n' + [r3, r2, r1].map((r) => r + '\n').join(''));
  assert.equal(formatPrinta([a, b], opts({ aggsortpos: 1 })), '\n' + [r1, r3, r2].map((r) => r + '\n').join(''));
  assert.equal(formatPrinta([a, b], opts({ aggsortpos: 2 })), '\n' + [r3, r2, r1].map((r) => r + '\n').join(''));
  assert.equal(formatPrinta([a, b], opts({ aggsortkey: true })), '\n' + [r1, r2, r3].map((r) => r + '\n').join(''));
  assert.equal(formatPrinta([a, b], opts({ aggsortrev: true })), '\n' + [r1, r2, r3].map((r) => r + '\n').join(''));
  assert.equal(
    formatPrinta([a, b, q]),
    '\n' + [r3, r2, r1].map((r) => r + ZERO_QUANTIZE + '\n').join(''),
  );
  assert.equal(a.printed && b.printed && q.printed, true);
  assert.equal(formatAggregations([a, b, q]), '');

  // nothing at all: just the newline, and nothing is marked printed
  const e = make(AggFn.Sum, [INT], 4);
  const f = make(AggFn.Sum, [INT], 5);
  assert.equal(formatPrinta([e, f]), '\n');
  assert.equal(e.printed || f.printed, false);
});

test('joined keys match by record, whatever their declared signedness', () => {
  const x = make(AggFn.Sum, [INT], 1);
  const y = make(AggFn.Sum, [UINT], 2);
  x.add(x.slot1(-1), 1, 1);
  y.add(y.slot1(4294967295), 2, 1);
  y.add(y.slot1(5), 3, 1);
  const rows = joinAggregations([x, y]);
  assert.equal(rows.length, 2);
  assert.equal(rows[0]!.rep, y);
  assert.deepEqual([...rows[0]!.slots], [-1, y.slot1(5)]);
  assert.equal(rows[1]!.rep, x); // the lowest aggregation id holding the key
  assert.deepEqual([...rows[1]!.slots], [x.slot1(-1), y.slot1(4294967295)]);
  assert.equal(
    formatPrinta([x, y]),
    '\n' + '        5                0                3\n' + '       -1                1                2\n',
  );

  // the same aggregation twice
  const dup = joinAggregations([x, x]);
  assert.equal(dup.length, 1);
  assert.deepEqual([...dup[0]!.slots], [x.slot1(-1), x.slot1(-1)]);
});

test('joined rows are ordered by the values at aggsortpos, then the following ones', () => {
  const aggs = [0, 1, 2].map((i) => make(AggFn.Sum, [INT], i + 1));
  const vals = [
    [1, 2, 3],
    [2, 1, 1],
    [3, 3, 2],
  ];
  vals.forEach((row, key) => row.forEach((v, i) => aggs[i]!.add(aggs[i]!.slot1(key), v, 1)));
  const order = (o: object): number[] => joinAggregations(aggs, opts(o)).map((r) => r.rep.key(r.repSlot, 0) as number);
  assert.deepEqual(order({}), [0, 1, 2]);
  assert.deepEqual(order({ aggsortpos: 1 }), [1, 0, 2]);
  assert.deepEqual(order({ aggsortpos: 2 }), [1, 2, 0]);
  assert.deepEqual(order({ aggsortpos: 2, aggsortrev: true }), [0, 2, 1]);
  assert.deepEqual(order({ aggsortpos: 7 }), [0, 1, 2]);
  // ties at aggsortpos fall through to the next aggregation
  const p = make(AggFn.Sum, [INT], 9);
  const r = make(AggFn.Sum, [INT], 10);
  for (const [k, v1, v2] of [[1, 5, 9], [2, 5, 1], [3, 4, 7]]) {
    p.add(p.slot1(k!), v1!, 1);
    r.add(r.slot1(k!), v2!, 1);
  }
  assert.deepEqual(
    joinAggregations([p, r]).map((row) => row.rep.key(row.repSlot, 0)),
    [3, 2, 1],
  );
});
