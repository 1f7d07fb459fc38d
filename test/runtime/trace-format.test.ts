import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import {
  DType,
  Kind,
  VOID,
  type MemberDecl,
  arrayOf,
  intType,
  layoutStruct,
  pointerTo,
  resolve,
  stringType,
  taggedType,
  typedefOf,
} from '../../src/lang/types.js';
import {
  formatAggKey,
  formatAggValue,
  formatBytesDatum,
  formatRawBytes,
  formatTraceValue,
  formatTracemem,
  recordBytes,
  tracememLength,
} from '../../src/runtime/trace-format.js';
import { formatPrint } from '../../src/runtime/trace-format-print.js';

const CHAR = intType('char', 1, true);
const UCHAR = intType('unsigned char', 1, false);
const SHORT = intType('short', 2, true);
const USHORT = intType('unsigned short', 2, false);
const INT = intType('int', 4, true);
const UINT = intType('unsigned int', 4, false);
const LONG = intType('long', 8, true);
const ULONG = intType('unsigned long', 8, false);
const LLONG = intType('long long', 8, true);
const INT8 = typedefOf('int8_t', intType('signed char', 1, true));
const INT16 = typedefOf('int16_t', SHORT);
const INT32 = typedefOf('int32_t', INT);
const INT64 = typedefOf('int64_t', LONG);
const UINT8 = typedefOf('uint8_t', UCHAR);
const UINT16 = typedefOf('uint16_t', USHORT);
const UINT32 = typedefOf('uint32_t', UINT);
const UINT64 = typedefOf('uint64_t', ULONG);
const BOOL = intType('bool', 1, false);
const STRING = stringType(256);
const DOUBLE = new DType(Kind.Float, 'double', 8, true, null, 0);

function struct(kind: Kind.Struct | Kind.Union, tag: string, members: Array<[string, DType, number?]>): DType {
  const t = taggedType(kind, tag);
  const decls: MemberDecl[] = members.map(([name, type, bits]) => ({ name, type, bits: bits ?? -1 }));
  layoutStruct(t, decls);
  return t;
}

function enumType(tag: string, values: Array<[string, number]>): DType {
  const t = taggedType(Kind.Enum, tag);
  t.enumerators = values;
  t.complete = true;
  return t;
}

const HDR = '\n             0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f  0123456789abcdef\n';

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

// -- trace() ---------------------------------------------------------------------------------------

test('formatTraceValue: integers by size and sign', () => {
  const cases: Array<[DType, number | bigint, string, string]> = [
    [INT8, -1, '  -1', '-1'],
    [INT16, -1, '    -1', '-1'],
    [INT32, -1, '         -1', '-1'],
    [INT64, -1n, '                  -1', '-1'],
    [UINT8, 255, ' 255', '255'],
    [UINT16, 65535, ' 65535', '65535'],
    [UINT32, 4294967295, ' 4294967295', '4294967295'],
    [UINT64, 18446744073709551615n, ' 18446744073709551615', '18446744073709551615'],
    [INT, 7, '          7', '7'],
    [LONG, -9223372036854775808n, ' -9223372036854775808', '-9223372036854775808'],
    [CHAR, 97, '  97', '97'],
    // pointers and enums are unsigned
    [pointerTo(INT), 0xffffffff81000000n, ' 18446744071578845184', '18446744071578845184'],
    [enumType('e', [['A', -1]]), -1, ' 4294967295', '4294967295'],
  ];
  for (const [t, v, loud, quiet] of cases) {
    assert.equal(formatTraceValue(t, v, false), loud, `${t.name} ${v}`);
    assert.equal(formatTraceValue(t, v, true), quiet, `${t.name} ${v} quiet`);
  }
  // a double traces its bits, unsigned
  assert.equal(formatTraceValue(DOUBLE, 1, true), '4607182418800017408');
});

test('formatTraceValue: strings and by-reference data', () => {
  assert.equal(formatTraceValue(STRING, 'a', false), '  a' + ' '.repeat(32));
  assert.equal(formatTraceValue(STRING, 'a', true), 'a');
  assert.equal(formatTraceValue(STRING, 'x'.repeat(40), false), '  ' + 'x'.repeat(40));
  // a char array of text (then NULs) is a string; one that is not text is a hex dump
  const comm = new Uint8Array(16);
  comm.set(ascii('dtrace'));
  assert.equal(formatTraceValue(arrayOf(CHAR, 16), comm, false), '  dtrace' + ' '.repeat(27));
  assert.equal(formatTraceValue(arrayOf(CHAR, 16), comm, true), 'dtrace');
  assert.equal(formatTraceValue(arrayOf(CHAR, 4), ascii('abcd'), false), '  abcd' + ' '.repeat(29));
  const binary = Uint8Array.from([0x01, 0x41, 0x00, 0x00]);
  assert.equal(formatTraceValue(arrayOf(CHAR, 4), binary, false), HDR + '         0: 01 41 00 00                                      .A..\n');
  const st = struct(Kind.Struct, '', [
    ['a', INT],
    ['b', CHAR],
    ['c', INT],
  ]);
  const b = new Uint8Array(12);
  b.set([0x34, 0x12], 0);
  b.set([0x76, 0x98], 8);
  assert.equal(formatTraceValue(st, b, false), HDR + '         0: 34 12 00 00 00 00 00 00 76 98 00 00              4.......v...\n');
  const one = struct(Kind.Struct, '', [['x', INT8]]);
  assert.equal(formatTraceValue(one, new Uint8Array([0x34]), true), HDR + '         0: 34' + ' '.repeat(45) + '  4\n');
  const u = struct(Kind.Union, '', [
    ['a', INT],
    ['b', arrayOf(CHAR, 3)],
    ['c', SHORT],
  ]);
  assert.equal(
    formatTraceValue(u, new Uint8Array([0x78, 0x56, 0x34, 0x12]), false),
    HDR + '         0: 78 56 34 12                                      xV4.\n',
  );
});

test('formatTraceValue: the rawbytes option dumps everything', () => {
  assert.equal(
    formatTraceValue(stringType(5), '123', true, { rawbytes: true }),
    HDR + '         0: 31 32 33 00 00 00                                123...\n',
  );
  assert.equal(
    formatTraceValue(stringType(10), 'dtraceBEGI', true, { rawbytes: true }),
    HDR + '         0: 64 74 72 61 63 65 42 45 47 49 00                 dtraceBEGI.\n',
  );
  assert.equal(
    formatTraceValue(INT, 0x01020304, false, { rawbytes: true }),
    HDR + '         0: 04 03 02 01                                      ....\n',
  );
  assert.deepEqual(recordBytes(SHORT, -2), new Uint8Array([0xfe, 0xff]));
});

// -- tracemem() ---------------------------------------------------------------------------------------

test('formatTracemem: rows of 16, partial rows padded', () => {
  const banner = ascii('Linux version ');
  const row = '         0: 4c 69 6e 75 78 20 76 65 72 73 69 6f 6e 20        Linux version \n';
  assert.equal(formatTracemem(banner), HDR + row);
  assert.equal(formatTracemem(banner, 0), '');
  assert.equal(formatTracemem(banner, 2), HDR + '         0: 4c 69' + ' '.repeat(42) + '  Li\n');
  const bytes = new Uint8Array(40);
  for (let i = 0; i < 40; i++) bytes[i] = 0x20 + i * 3;
  assert.equal(
    formatRawBytes(bytes),
    HDR +
      '         0: 20 23 26 29 2c 2f 32 35 38 3b 3e 41 44 47 4a 4d   #&),/258;>ADGJM\n' +
      '        10: 50 53 56 59 5c 5f 62 65 68 6b 6e 71 74 77 7a 7d  PSVY\\_behknqtwz}\n' +
      '        20: 80 83 86 89 8c 8f 92 95                          ........\n',
  );
});

test('tracememLength: the dynamic size argument', () => {
  assert.equal(tracememLength(14, -1, INT), 14); // negative: all
  assert.equal(tracememLength(14, 0, INT), 0);
  assert.equal(tracememLength(14, 2, INT), 2);
  assert.equal(tracememLength(14, 14, INT), 14);
  assert.equal(tracememLength(14, 15, INT), 14);
  assert.equal(tracememLength(14, 4294967295, UINT), 14); // unsigned: larger
  assert.equal(tracememLength(14, -1n, LONG), 14);
  assert.equal(tracememLength(14, 3n, UINT64), 3);
  assert.equal(tracememLength(14, 0x80000003n, LONG), 14); // C's (1 << 63) on an int tests bit 31 up
  assert.equal(tracememLength(14, 0xff, UCHAR), 14);
  assert.equal(tracememLength(14, -1, CHAR), 14);
  assert.equal(tracememLength(14, 5, CHAR), 5);
});

// -- printa() defaults ------------------------------------------------------------------------------

test('formatAggKey: keys by record size', () => {
  const cases: Array<[DType, number | bigint, string]> = [
    [INT, 1, '        1'],
    [INT, -1, '       -1'],
    [UINT, 4294967295, '       -1'], // 4-byte keys print as a signed int
    [SHORT, -1, ' 65535'], // 2- and 1-byte keys are zero-extended
    [CHAR, -1, ' 255'],
    [LONG, -1n, '               -1'],
    [UINT64, 18446744073709551615n, '               -1'],
    [pointerTo(VOID), 0x1000n, '             4096'],
  ];
  for (const [t, v, want] of cases) assert.equal(formatAggKey(t, v), want, `${t.name} ${v}`);
  assert.equal(formatAggKey(STRING, 'bash'), '  bash' + ' '.repeat(46));
  assert.equal(formatAggKey(stringType(4), 'a\x01'), HDR + '         0: 61 01 00 00 00' + ' '.repeat(33) + '  a....\n');
  assert.equal(formatAggKey(stringType(2), ''), HDR + '         0: 00 00 00' + ' '.repeat(39) + '  ...\n');
  assert.equal(
    formatAggKey(stringType(3), 'abc', { rawbytes: true }),
    HDR + '         0: 61 62 63 00' + ' '.repeat(36) + '  abc.\n',
  );
});

test('formatBytesDatum: text or hex', () => {
  assert.equal(formatBytesDatum(ascii('hi\0\0'), 5), '  hi   ');
  assert.equal(formatBytesDatum(ascii('hi\0\0'), 5, true), 'hi');
  assert.equal(formatBytesDatum(ascii('tab\there'), 3), '  tab\there');
  assert.equal(formatBytesDatum(ascii('hi\0x'), 5), HDR + '         0: 68 69 00 78' + ' '.repeat(36) + '  hi.x\n');
  assert.equal(formatBytesDatum(new Uint8Array(0)), '');
});

test('formatAggValue: scalar results', () => {
  assert.equal(formatAggValue(1n), '                1');
  assert.equal(formatAggValue(-5n), '               -5');
  assert.equal(formatAggValue(-1n, true), ' 18446744073709551615');
  assert.equal(formatAggValue(42), '               42');
});

// -- print() ----------------------------------------------------------------------------------------

const PAD = ' '.repeat(44);
function lines(...ls: string[]): string {
  return ls.map((l) => l.replace(/^\|/, PAD) + '\n').join('');
}

const U8 = typedefOf('__u8', UCHAR);
const U64 = typedefOf('__u64', intType('unsigned long long', 8, false));
const EH = enumType('eh', [
  ['FIRSTVAL', 0],
  ['SECONDVAL', 1],
  ['THIRDVAL', 3],
]);
const TEST_STRUCT = struct(Kind.Struct, 'test_struct', [
  ['a', INT],
  ['b', arrayOf(CHAR, 5)],
  [
    'u',
    struct(Kind.Union, '', [
      ['c', U8],
      ['d', U64],
    ]),
  ],
  [
    's',
    struct(Kind.Struct, '', [
      ['e', pointerTo(VOID)],
      ['f', UINT64],
    ]),
  ],
  ['g', BOOL],
  ['h', EH],
]);

function testData(): Uint8Array {
  const b = new Uint8Array(TEST_STRUCT.size);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, 1, true);
  b.set(ascii('test\0'), 4);
  dv.setBigUint64(16, 123456789n, true);
  dv.setBigUint64(24, 0xffff9b7aca7e0000n, true);
  dv.setBigUint64(32, 987654321n, true);
  b[40] = 1;
  dv.setInt32(44, 1, true);
  return b;
}

test('formatPrint: a struct member by member', () => {
  assert.equal(TEST_STRUCT.size, 48);
  assert.equal(
    formatPrint(TEST_STRUCT, 0xffff9b7ac0001230n, testData()),
    '0xffff9b7ac0001230 = *\n' +
      lines(
        '|(struct test_struct) {',
        '| .a = (int)1,',
        '| .b = (char [5]) [',
        "|  (char)'t',",
        "|  (char)'e',",
        "|  (char)'s',",
        "|  (char)'t',",
        '| ],',
        '| .u = (union) {',
        '|  .c = (__u8)21,',
        '|  .d = (__u64)123456789,',
        '| },',
        '| .s = (struct) {',
        '|  .e = (void *)0xffff9b7aca7e0000,',
        '|  .f = (uint64_t)987654321,',
        '| },',
        '| .g = (bool)1,',
        '| .h = (enum eh)SECONDVAL,',
        '|}',
      ),
  );
});

test('formatPrint: printsize truncates with "..."', () => {
  const head = ['|(struct test_struct) {', '| .a = (int)1,', '| .b = (char [5]) [', "|  (char)'t',", "|  (char)'e',", "|  (char)'s',", "|  (char)'t',", '| ],'];
  assert.equal(formatPrint(TEST_STRUCT, 1n, testData(), 8), '0x1 = *\n' + lines(...head, '| ...', '|}'));
  assert.equal(
    formatPrint(TEST_STRUCT, 1n, testData(), 24),
    '0x1 = *\n' + lines(...head, '| .u = (union) {', '|  .c = (__u8)21,', '|  .d = (__u64)123456789,', '| ...', '| },', '|}'),
  );
});

test('formatPrint: zero members are left out, char arrays stop at NUL', () => {
  const b = new Uint8Array(TEST_STRUCT.size);
  b.set(ascii('\0est\0'), 4);
  b[40] = 1;
  b[44] = 0; // FIRSTVAL: zero, so left out
  assert.equal(
    formatPrint(TEST_STRUCT, 0n, b),
    '(nil) = *\n' + lines('|(struct test_struct) {', '| .b = (char [5]) [', '| ],', '| .g = (bool)1,', '|}'),
  );
  // an all-zero struct still opens and closes at the top
  assert.equal(formatPrint(TEST_STRUCT, 16n, new Uint8Array(48)), '0x10 = *\n' + lines('|(struct test_struct) {', '|}'));
  // an enum value with no name prints as a number
  const e = new Uint8Array(48);
  e[44] = 7;
  assert.equal(
    formatPrint(TEST_STRUCT, 16n, e),
    '0x10 = *\n' + lines('|(struct test_struct) {', '| .h = (enum eh)7,', '|}'),
  );
});

test('formatPrint: nesting closes every level; depth 10 and printsize end the walk', () => {
  let t = struct(Kind.Struct, '', [['x', LLONG]]);
  const names = ['g', 'f', 'e', 'd', 'c', 'b', 'a'];
  for (const n of names) t = struct(Kind.Struct, '', [['x', LLONG], [n, t]]);
  const top = struct(Kind.Struct, 'test_struct', [['x', LLONG], ['a', t]]);
  // the innermost struct is `g`; rename chain: top.a is the struct whose member is 'a'...
  assert.equal(top.size, 72);
  const data = new Uint8Array(72);
  const dv = new DataView(data.buffer);
  for (let i = 0; i < 9; i++) dv.setBigInt64(i * 8, BigInt(i + 1), true);
  const out = formatPrint(top, 1n, data, 56);
  const want = ['|(struct test_struct) {', '| .x = (long long)1,', '| .a = (struct) {', '|  .x = (long long)2,'];
  // depth 2: top.a.a ; member names come from the chain above
  assert.ok(out.startsWith('0x1 = *\n' + lines(...want)), out);
  const tail = out.split('\n').slice(-9).join('\n');
  assert.equal(
    tail,
    [
      PAD + '       ...',
      PAD + '      },',
      PAD + '     },',
      PAD + '    },',
      PAD + '   },',
      PAD + '  },',
      PAD + ' },',
      PAD + '}',
      '',
    ].join('\n'),
  );
  // depth limit: 10 levels of nesting
  let deep = struct(Kind.Struct, 'leaf', [['v', INT]]);
  for (let i = 0; i < 11; i++) deep = struct(Kind.Struct, `s${i}`, [['m', deep]]);
  const o2 = formatPrint(deep, 1n, new Uint8Array([1, 0, 0, 0]));
  assert.ok(o2.includes(' '.repeat(54) + '...\n'), o2);
  assert.ok(!o2.includes('.v = '), o2);
});

test('formatPrint: integers, chars, pointers and bit-fields', () => {
  const t = struct(Kind.Struct, 'mix', [
    ['c', CHAR],
    ['uc', UCHAR],
    ['s', SHORT],
    ['i', INT],
    ['ul', ULONG],
    ['l', LONG],
    ['p', pointerTo(struct(Kind.Struct, 'page', [['x', INT]]))],
  ]);
  const b = new Uint8Array(t.size);
  const dv = new DataView(b.buffer);
  b[0] = 0x41;
  b[1] = 200;
  dv.setInt16(2, -2, true);
  dv.setInt32(4, -3, true);
  dv.setBigUint64(8, 18446744073709551615n, true);
  dv.setBigInt64(16, -4n, true);
  dv.setBigUint64(24, 0xfeedfacefeedfacen, true);
  assert.equal(
    formatPrint(t, 0x10n, b),
    '0x10 = *\n' +
      lines(
        '|(struct mix) {',
        "| .c = (char)'A',",
        '| .uc = (unsigned char)200,',
        '| .s = (short)-2,',
        '| .i = (int)-3,',
        '| .ul = (unsigned long)18446744073709551615,',
        '| .l = (long)-4,',
        '| .p = (struct page *)0xfeedfacefeedface,',
        '|}',
      ),
  );
  // a top-level scalar ends with a comma and has no braces
  assert.equal(formatPrint(INT, 0x20n, new Uint8Array([5, 0, 0, 0])), '0x20 = *\n' + lines('|(int)5,'));
  // bit-fields: 8-bit wide ones read normally; others with DTrace's shifts
  const bf = struct(Kind.Struct, 'bf', [
    ['lo', UINT, 8],
    ['top', ULONG, 1],
  ]);
  const bb = new Uint8Array(bf.size);
  bb[0] = 0x7f;
  bb[1] = 0x01; // `top` is bit 8: DTrace shifts it left by 63 - 8 and right by 63
  assert.equal(formatPrint(bf, 1n, bb), '0x1 = *\n' + lines('|(struct bf) {', '| .lo = (unsigned int)127,', '|}'));
  const bf0 = struct(Kind.Struct, 'bf0', [['top', UINT, 1]]);
  assert.equal(
    formatPrint(bf0, 1n, new Uint8Array([1, 0, 0, 0])),
    '0x1 = *\n' + lines('|(struct bf0) {', '| .top = (unsigned int)1,', '|}'),
  );
});

test('formatPrint: arrays', () => {
  const ints = struct(Kind.Struct, 'arr', [['v', arrayOf(INT, 3)]]);
  const b = new Uint8Array(12);
  b[0] = 1;
  b[8] = 3;
  assert.equal(
    formatPrint(ints, 1n, b),
    '0x1 = *\n' + lines('|(struct arr) {', '| .v = (int [3]) [', '|  (int)1,', '|  (int)3,', '| ],', '|}'),
  );
  // libctf has no encoding for a struct (or pointer, or typedef) element: the walk ends there
  const pt = struct(Kind.Struct, 'pt', [['x', INT]]);
  const pts = struct(Kind.Struct, 'pts', [
    ['p', arrayOf(pt, 2)],
    ['n', INT],
  ]);
  assert.equal(
    formatPrint(pts, 1n, new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0])),
    '0x1 = *\n' + lines('|(struct pts) {', '| .p = (struct pt [2]) [', '|}'),
  );
  // an element type libctf has no encoding for (a typedef) ends the walk after the header
  const td = struct(Kind.Struct, 'td', [
    ['v', arrayOf(U8, 2)],
    ['w', INT],
  ]);
  assert.equal(
    formatPrint(td, 1n, new Uint8Array([1, 2, 0, 0, 9, 0, 0, 0])),
    '0x1 = *\n' + lines('|(struct td) {', '| .v = (__u8 [2]) [', '|}'),
  );
  // a flexible array member at the end lies past the data
  const z = struct(Kind.Struct, 'z', [
    ['n', INT],
    ['v', arrayOf(INT, 0)],
  ]);
  assert.equal(
    formatPrint(z, 1n, new Uint8Array([1, 0, 0, 0])),
    '0x1 = *\n' + lines('|(struct z) {', '| .n = (int)1,', '| ...', '|}'),
  );
});

test('trace() of an integer prints the same digits from a Number as from a BigInt, as the record reads it by size and sign', () => {
  // the record's value, as dt_print_trace reads it (sign- or zero-extended by size)
  const reference = (t: DType, v: bigint, quiet: boolean): string => {
    const r = resolve(t);
    const signed = r.kind === Kind.Int && r.signed;
    const bits = r.size * 8;
    const s = (signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v)).toString();
    const w = { 1: 3, 2: 5, 4: 10, 8: signed ? 19 : 20 }[r.size]!;
    return quiet ? s : ' ' + s.padStart(w);
  };
  const SAFE = 2 ** 53 - 1;
  for (const t of [CHAR, UCHAR, SHORT, USHORT, INT, UINT, LONG, ULONG, INT64, UINT64, pointerTo(INT)]) {
    for (const v of [0, 1, -1, 127, 128, 255, 256, -129, 65535, -32769, 2 ** 31, -(2 ** 31) - 1, 2 ** 32 + 5, SAFE, -SAFE]) {
      for (const quiet of [true, false]) {
        const want = reference(t, BigInt(v), quiet);
        assert.equal(formatTraceValue(t, BigInt(v), quiet), want, `${t.name} ${v}n`);
        // a Number holds what its type can (Numbers are <= 32-bit values, or exact 64-bit ones)
        if (resolve(t).size === 8 || Number.isSafeInteger(v)) assert.equal(formatTraceValue(t, v, quiet), want, `${t.name} ${v}`);
      }
    }
  }
});
