import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { DCompileError } from '../../src/lang/diagnostics.js';
import {
  DType,
  Kind,
  VOID,
  arrayOf,
  intType,
  pointerTo,
  stringType,
  taggedType,
  typedefOf,
} from '../../src/lang/types.js';
import {
  AGGREGATION_ARG,
  type FormatContext,
  type FormatKind,
  MAX_FIELD,
  PrintfDataError,
  type ValidateOptions,
  compileFormatter,
  formatPrinta,
  formatPrintf,
  formatSprintf,
  formatStack,
  parseFormat,
  validateFormat,
} from '../../src/runtime/printf.js';
import { hostName, hostsTable, serviceName, servicesTable } from '../../src/runtime/printf-net.js';
import type { Value } from '../../src/runtime/values.js';

// -- types as the D compiler names them ----------------------------------------------------------

const CHAR = intType('char', 1, true);
const UCHAR = intType('unsigned char', 1, false);
const SHORT = intType('short', 2, true);
const USHORT = intType('unsigned short', 2, false);
const INT = intType('int', 4, true);
const UINT = intType('unsigned int', 4, false);
const LONG = intType('long', 8, true);
const ULONG = intType('unsigned long', 8, false);
const LLONG = intType('long long', 8, true);
const ULLONG = intType('unsigned long long', 8, false);
const INT64 = typedefOf('int64_t', LONG);
const UINT64 = typedefOf('uint64_t', ULONG);
const USHORT_T = typedefOf('ushort_t', USHORT);
const ULONG_T = typedefOf('ulong_t', ULONG);
const STRING = stringType(256);
const VOIDP = pointerTo(VOID);
const INTP = pointerTo(INT);
const CHARP = pointerTo(CHAR);
const FLOAT = new DType(Kind.Float, 'float', 4, true, null, 0);
const DOUBLE = new DType(Kind.Float, 'double', 8, true, null, 0);
const LDOUBLE = new DType(Kind.Float, 'long double', 16, true, null, 0);
const STACK = typedefOf('stack', VOID);
const SYMADDR = typedefOf('_symaddr', VOID);
const USYMADDR = typedefOf('_usymaddr', VOID);
const ENUM = taggedType(Kind.Enum, 'color');
ENUM.enumerators = [['RED', 0]];
ENUM.complete = true;

type Arg = [DType, Value];

function plan(fmt: string, types: DType[], kind: FormatKind = 'printf', opts: ValidateOptions = {}) {
  return validateFormat(parseFormat(fmt, 7, kind), types, 7, opts);
}

/** printf(fmt, args...), checked to come out the same (text or error) through the plan's compiled formatter */
function pf(fmt: string, ...args: Arg[]): string {
  const p = plan(
    fmt,
    args.map((a) => a[0]),
  );
  const values = args.map((a) => a[1]);
  const run = (f: () => string): string | Error => {
    try {
      return f();
    } catch (e) {
      return e as Error;
    }
  };
  const general = run(() => formatPrintf(p, values));
  const compiled = run(() => compileFormatter(p)(values, values.length));
  if (typeof general === 'string') assert.equal(compiled, general, `compiled formatter of ${fmt}`);
  else {
    assert.ok(compiled instanceof Error && compiled.message === general.message, `compiled formatter of ${fmt}: ${String(compiled)}`);
    throw general;
  }
  return general;
}

function compileError(fn: () => unknown): { tag: string; line: number; message: string } {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DCompileError, String(e));
    return { tag: e.tag, line: e.line, message: e.message };
  }
  assert.fail('expected a compile error');
}

// -- parsing -------------------------------------------------------------------------------------

test('parseFormat: syntax errors carry D_SYNTAX and DTrace wording', () => {
  const cases: Array<[string, string]> = [
    ['%z', 'format conversion #1 is undefined: %z'],
    ['%Z', 'format conversion #1 is undefined: %Z'],
    ['%d %hhd', 'format conversion #2 is undefined: %hhd'],
    ['%zd', 'format conversion #1 is undefined: %z'],
    ['%jd', 'format conversion #1 is undefined: %j'],
    ['%**d', "format conversion #1 has more than one '*' specified for the output width"],
    ['%.**d', "format conversion #1 has more than one '*' specified for the output precision"],
    ['%.*.*d', "format conversion #1 has more than one '.' specified"],
    ['%1$d', 'format conversion #1 uses unsupported positional format (%n$)'],
    ['%*1$d', 'format conversion #1 uses unsupported positional format (%n$)'],
    ['%.*1$d', 'format conversion #1 uses unsupported positional format (%n$)'],
    ['%%%3$d', 'format conversion #2 uses unsupported positional format (%n$)'],
    ['%', 'format conversion #1 name expected before end of format string'],
    ['%*', 'format conversion #1 name expected before end of format string'],
    ['%.*', 'format conversion #1 name expected before end of format string'],
    ['abc %3', 'format conversion #1 name expected before end of format string'],
    ['%d %l', 'format conversion #2 name expected before end of format string'],
    ['%-%', 'format conversion #1 cannot be combined with other format flags: %%'],
    ['%5%', 'format conversion #1 cannot be combined with other format flags: %%'],
  ];
  for (const [fmt, msg] of cases) {
    const e = compileError(() => parseFormat(fmt, 19));
    assert.deepEqual(e, { tag: 'D_SYNTAX', line: 19, message: msg }, fmt);
  }
});

test('parseFormat: conversions, flags, widths and literal text', () => {
  const p = parseFormat('a%%b%-08.3lld|%?x%@u tail', 1);
  assert.equal(p.convs.length, 4);
  assert.deepEqual(
    p.convs.map((c) => [c.prefix, c.name, c.flags, c.width, c.prec]),
    [
      ['a', '%', 0, 0, 0],
      ['b', 'lld', 0x2, 8, 3], // the '0' after '-' clears it
      ['|', 'x', 0, 16, 0],
      ['', 'u', 0x100, 0, 0],
    ],
  );
  assert.equal(p.suffix, ' tail');
  // '-' after '0' clears ZPAD; '0' after '-' clears LEFT (DTrace keeps whichever came last)
  assert.equal(parseFormat('%0-5d', 1).convs[0].flags, 0x4);
  assert.equal(parseFormat('%-05d', 1).convs[0].flags, 0x2);
  assert.equal(parseFormat('', 1).convs.length, 0);
  assert.equal(parseFormat('no conversions', 1).suffix, 'no conversions');
  // the format is a C string
  assert.equal(parseFormat('ab\0%z', 1).suffix, 'ab');
});

test('parseFormat: freopen("") restores stdout; "." itself is rejected', () => {
  const p = parseFormat('', 3, 'freopen');
  assert.equal(p.restore, true);
  assert.equal(p.format, '.');
  validateFormat(p, [], 3);
  assert.equal(formatSprintf(p, [], 256), '.');
  assert.deepEqual(
    compileError(() => parseFormat('.', 3, 'freopen')),
    { tag: 'D_FREOPEN_INVALID', line: 3, message: 'freopen( ) argument #1 cannot be "."' },
  );
  assert.equal(parseFormat('.', 3, 'printf').restore, false);
});

// -- validation ----------------------------------------------------------------------------------

test('validateFormat: prototype errors', () => {
  const cases: Array<[string, DType[], FormatKind, ValidateOptions, string, string]> = [
    ['', [], 'printf', {}, 'D_PRINTF_FMT_EMPTY', 'printf( ) format string is empty'],
    ['', [], 'printa', {}, 'D_PRINTF_FMT_EMPTY', 'printa( ) format string is empty'],
    ['', [], 'system', {}, 'D_PRINTF_FMT_EMPTY', 'system( ) format string is empty'],
    [
      '%d',
      [],
      'printf',
      {},
      'D_PRINTF_ARG_PROTO',
      'printf( ) prototype mismatch: conversion #1 (%d) is missing a corresponding value argument',
    ],
    [
      '%d %d %d %d %d',
      [INT, INT, INT],
      'printf',
      {},
      'D_PRINTF_ARG_PROTO',
      'printf( ) prototype mismatch: conversion #4 (%d) is missing a corresponding value argument',
    ],
    [
      '%.*d',
      [INT],
      'printf',
      {},
      'D_PRINTF_ARG_PROTO',
      'printf( ) prototype mismatch: conversion #1 (%d) is missing a corresponding value argument',
    ],
    [
      '%*.*d',
      [INT, INT],
      'printf',
      {},
      'D_PRINTF_ARG_PROTO',
      'printf( ) prototype mismatch: conversion #1 (%d) is missing a corresponding value argument',
    ],
    [
      '%s',
      [],
      'printf',
      {},
      'D_PRINTF_ARG_PROTO',
      'printf( ) prototype mismatch: conversion #1 (%s) is missing a corresponding value argument',
    ],
    [
      '%lld',
      [],
      'printf',
      {},
      'D_PRINTF_ARG_PROTO',
      'printf( ) prototype mismatch: conversion #1 (%lld) is missing a corresponding value argument',
    ],
    [
      '%*d',
      [],
      'printf',
      {},
      'D_PRINTF_DYN_PROTO',
      'printf( ) prototype mismatch: conversion #1 (%d) is missing a corresponding "*" argument',
    ],
    [
      '%*.*d',
      [],
      'printf',
      {},
      'D_PRINTF_DYN_PROTO',
      'printf( ) prototype mismatch: conversion #1 (%d) is missing a corresponding "*" argument',
    ],
    [
      '%.*d',
      [],
      'printf',
      {},
      'D_PRINTF_DYN_PROTO',
      'printf( ) prototype mismatch: conversion #1 (%d) is missing a corresponding ".*" argument',
    ],
    [
      '%*.*d',
      [INT],
      'printf',
      {},
      'D_PRINTF_DYN_PROTO',
      'printf( ) prototype mismatch: conversion #1 (%d) is missing a corresponding ".*" argument',
    ],
    [
      '%s %.*d\n',
      [STRING],
      'printf',
      {},
      'D_PRINTF_DYN_PROTO',
      'printf( ) prototype mismatch: conversion #2 (%d) is missing a corresponding ".*" argument',
    ],
    [
      '%*d',
      [STRING, INT],
      'printf',
      {},
      'D_PRINTF_DYN_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: % * d\n\t prototype: int\n\t  argument: string',
    ],
    [
      '%.*d',
      [STRING, INT],
      'printf',
      {},
      'D_PRINTF_DYN_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: % .* d\n\t prototype: int\n\t  argument: string',
    ],
    [
      '%*.*d',
      [INT, STRING, INT],
      'printf',
      {},
      'D_PRINTF_DYN_TYPE',
      'printf( ) argument #3 is incompatible with conversion #1 prototype:\n\tconversion: % .* d\n\t prototype: int\n\t  argument: string',
    ],
    [
      '%d',
      [STRING],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %d\n\t prototype: char, short, int, long, or long long\n\t  argument: string',
    ],
    [
      '%d',
      [VOID],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %d\n\t prototype: char, short, int, long, or long long\n\t  argument: void',
    ],
    [
      'hello %d %d',
      [INT, AGGREGATION_ARG],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #3 is incompatible with conversion #2 prototype:\n\tconversion: %d\n\t prototype: char, short, int, long, or long long\n\t  argument: aggregation',
    ],
    [
      '%*.*d',
      [INT, INT, STRING],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #4 is incompatible with conversion #1 prototype:\n\tconversion: %d\n\t prototype: char, short, int, long, or long long\n\t  argument: string',
    ],
    [
      '%s\n',
      [VOID],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %s\n\t prototype: char [] or string (or use stringof)\n\t  argument: void',
    ],
    [
      '%s',
      [CHARP],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %s\n\t prototype: char [] or string (or use stringof)\n\t  argument: char *',
    ],
    [
      '%c',
      [LONG],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %c\n\t prototype: char, short, or int\n\t  argument: long',
    ],
    [
      '%f',
      [INT],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %f\n\t prototype: float, double, or long double\n\t  argument: int',
    ],
    [
      '%hd',
      [INT],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %hd\n\t prototype: short\n\t  argument: int',
    ],
    [
      '%hu',
      [SHORT],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %hu\n\t prototype: unsigned short\n\t  argument: short',
    ],
    [
      '%lx',
      [INT],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %lx\n\t prototype: long\n\t  argument: int',
    ],
    [
      '%llx',
      [LONG],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %llx\n\t prototype: long long\n\t  argument: long',
    ],
    [
      '%Y',
      [INT],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %Y\n\t prototype: int64_t\n\t  argument: int',
    ],
    [
      '%p',
      [STRING],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %p\n\t prototype: pointer or integer\n\t  argument: string',
    ],
    [
      '%A',
      [VOIDP],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %A\n\t prototype: pointer or integer (with -p/-c) or _usymaddr (without -p/-c)\n\t  argument: void *',
    ],
    [
      '%P',
      [INT],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %P\n\t prototype: uint16_t\n\t  argument: int',
    ],
    [
      '%I',
      [INT],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %I\n\t prototype: char [] or string (or use stringof)\n\t  argument: int',
    ],
    [
      '%k',
      [INT],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %k\n\t prototype: stack\n\t  argument: int',
    ],
    [
      '%ls',
      [arrayOf(CHAR, 4)],
      'printf',
      {},
      'D_PRINTF_ARG_TYPE',
      'printf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %ls\n\t prototype: wchar_t []\n\t  argument: char [4]',
    ],
    [
      '%d',
      [INT, INT, INT],
      'printf',
      {},
      'D_PRINTF_ARG_EXTRA',
      'printf( ) prototype mismatch: only 1 arguments required by this format string',
    ],
    [
      'x = %d y = %d\n',
      [INT, INT, INT],
      'printf',
      {},
      'D_PRINTF_ARG_EXTRA',
      'printf( ) prototype mismatch: only 2 arguments required by this format string',
    ],
    [
      '%?d\n',
      [INT, INT],
      'printf',
      {},
      'D_PRINTF_ARG_EXTRA',
      'printf( ) prototype mismatch: only 1 arguments required by this format string',
    ],
    [
      'no args',
      [INT],
      'printf',
      {},
      'D_PRINTF_ARG_EXTRA',
      'printf( ) prototype mismatch: only 0 arguments required by this format string',
    ],
    [
      '%@d',
      [INT],
      'printf',
      {},
      'D_PRINTF_AGG_CONV',
      '%@ conversion requires an aggregation and is not for use with printf( )',
    ],
    [
      'hello %@d',
      [],
      'system',
      {},
      'D_PRINTF_AGG_CONV',
      '%@ conversion requires an aggregation and is not for use with system( )',
    ],
    // printa(): keys are the value arguments; %@ is the aggregation's value
    [
      '%d',
      [],
      'printa',
      {},
      'D_PRINTF_ARG_PROTO',
      'printa( ) prototype mismatch: conversion #1 (%d) is missing a corresponding value argument',
    ],
    [
      '%p\n',
      [STACK],
      'printa',
      {},
      'D_PRINTF_ARG_TYPE',
      'printa( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %p\n\t prototype: pointer or integer\n\t  argument: stack',
    ],
    [
      '%@s',
      [],
      'printa',
      {},
      'D_PRINTF_ARG_TYPE',
      'printa( ) aggregating action is incompatible with conversion #1 prototype:\n\tconversion: %s\n\t prototype: char [] or string (or use stringof)\n\t  argument: int64_t',
    ],
    [
      '%@c',
      [],
      'printa',
      { aggFunc: 'count' },
      'D_PRINTF_ARG_TYPE',
      'printa( ) aggregating action is incompatible with conversion #1 prototype:\n\tconversion: %c\n\t prototype: char, short, or int\n\t  argument: uint64_t',
    ],
    // the action's name is a parameter
    [
      '%d',
      [STRING],
      'printf',
      { func: 'fprintf' },
      'D_PRINTF_ARG_TYPE',
      'fprintf( ) argument #2 is incompatible with conversion #1 prototype:\n\tconversion: %d\n\t prototype: char, short, int, long, or long long\n\t  argument: string',
    ],
  ];
  for (const [fmt, types, kind, opts, tag, msg] of cases) {
    const e = compileError(() => plan(fmt, types, kind, opts));
    assert.deepEqual(e, { tag, line: 7, message: msg }, `${kind}(${JSON.stringify(fmt)})`);
  }
});

test('validateFormat: accepted argument types', () => {
  const ok: Array<[string, DType[], ValidateOptions?]> = [
    ['%d %i %u %o %x %X', [CHAR, SHORT, INT, LONG, UINT64, ENUM]],
    ['%c %c %c %C', [CHAR, USHORT, INT, UCHAR]],
    ['%hd %hi %ho %hu %hx %hX', [SHORT, SHORT, USHORT, USHORT_T, SHORT, USHORT_T]],
    ['%ld %li %lo %lu %lx %lX', [LONG, INT64, ULONG, ULONG_T, LONG, ULONG_T]],
    ['%lld %lli %llo %llu %llx %llX', [LLONG, LONG, ULLONG, ULONG, UINT64, INT64]],
    ['%lc %wc', [INT, INT]],
    ['%p %p %p %a %a %a', [VOIDP, INT, arrayOf(INT, 2), INTP, LONG, SYMADDR]],
    ['%A', [USYMADDR]],
    ['%A %A', [VOIDP, LONG], { hasTarget: true }],
    ['%s %s %S %S', [STRING, arrayOf(CHAR, 8), STRING, arrayOf(UCHAR, 3)]],
    ['%ls %ws', [arrayOf(INT, 4), arrayOf(UINT, 4)]],
    ['%e %E %f %g %G %Lf %Le', [FLOAT, DOUBLE, LDOUBLE, DOUBLE, FLOAT, LDOUBLE, LDOUBLE]],
    ['%Y %T', [INT64, UINT64]],
    ['%I %I %P %P', [STRING, arrayOf(CHAR, 16), typedefOf('uint16_t', USHORT), typedefOf('in_port_t', USHORT)]],
    ['%k', [STACK]],
    ['%*.*d %*s', [CHAR, LONG, INT, UINT, STRING]],
    ['100%% sure', []],
  ];
  for (const [fmt, types, opts] of ok) {
    const p = plan(fmt, types, 'printf', opts);
    assert.ok(p.validated, fmt);
    assert.equal(p.nvalues, types.length, fmt);
  }
  // printa: fewer conversions than keys is fine, extra %@ conversions reuse the value
  const p = plan('%@u %@u: %d\n', [INT, STRING, INT], 'printa', { aggFunc: 'count' });
  assert.equal(p.nvalues, 1);
  assert.equal(p.naggs, 2);
});

// -- formatting ------------------------------------------------------------------------------------

test('formatPrintf: every conversion of an int', () => {
  const i = 97; // 'a'
  const cases: Array<[string, Arg, string]> = [
    ['%c', [INT, i], 'a'],
    ['%d', [INT, i], '97'],
    ['%hd', [SHORT, i], '97'],
    ['%hi', [SHORT, i], '97'],
    ['%ho', [USHORT_T, i], '141'],
    ['%hu', [USHORT_T, i], '97'],
    ['%hx', [USHORT_T, i], '61'],
    ['%hX', [USHORT_T, 0xab], 'AB'],
    ['%i', [INT, i], '97'],
    ['%lc', [INT, i], 'a'],
    ['%ld', [LONG, 97n], '97'],
    ['%li', [LONG, 97n], '97'],
    ['%lo', [ULONG_T, 97n], '141'],
    ['%lu', [ULONG_T, 97n], '97'],
    ['%lx', [ULONG_T, 97n], '61'],
    ['%lX', [ULONG_T, 0xabn], 'AB'],
    ['%o', [UINT, i], '141'],
    ['%p', [VOIDP, 97n], '61'],
    ['%u', [UINT, i], '97'],
    ['%x', [UINT, i], '61'],
    ['%X', [UINT, 0xbeef], 'BEEF'],
    ['%%', [INT, 0], '%'],
  ];
  for (const [fmt, arg, want] of cases) {
    const args = fmt === '%%' ? [] : [arg];
    assert.equal(pf(fmt, ...args), want, fmt);
  }
});

test('formatPrintf: integers print by their type size and signedness', () => {
  const cases: Array<[string, Arg, string]> = [
    // %d of an unsigned type prints unsigned (DTrace turns it into %u)
    ['%d', [CHAR, -17], '-17'],
    ['%d', [UCHAR, 239], '239'],
    ['%d', [SHORT, -12817], '-12817'],
    ['%d', [USHORT, 52719], '52719'],
    ['%d', [INT, -1867788817], '-1867788817'],
    ['%d', [UINT, 2427178479], '2427178479'],
    ['%d', [LONG, 1311768467294899695n], '1311768467294899695'],
    ['%d', [ULONG, 0xffffffffffffffffn], '18446744073709551615'],
    ['%i', [UINT, 4294967295], '4294967295'],
    ['%d', [ENUM, -1], '4294967295'], // enums are not signed to DTrace
    ['%d', [LONG, -9223372036854775808n], '-9223372036854775808'],
    // %u %x %o of a signed type: the record's bits, unsigned, at the type's width
    ['%u', [CHAR, -17], '239'],
    ['%u', [SHORT, -1], '65535'],
    ['%u', [INT, -1], '4294967295'],
    ['%u', [LONG, -1n], '18446744073709551615'],
    ['%x', [CHAR, -1], 'ff'],
    ['%x', [SHORT, -2], 'fffe'],
    ['%x', [INT, -1867788817], '90abcdef'],
    ['%x', [LLONG, 0x1234567890abcdefn], '1234567890abcdef'],
    ['%X', [LONG, -1n], 'FFFFFFFFFFFFFFFF'],
    ['%o', [UCHAR, 0xef], '357'],
    ['%o', [CHAR, -17], '357'],
    ['%o', [SHORT, -12817], '146757'],
    ['%o', [INT, -1867788817], '22052746757'],
    ['%o', [LONG, 0x1234567890abcdefn], '110642547422052746757'],
    ['%p', [INTP, 0x90abcdefn], '90abcdef'],
    ['%p', [UINT64, 0x67890abcn], '67890abc'],
    ['%p', [INT, -1], 'ffffffff'],
    ['%#p', [VOIDP, 0xffffffff81000000n], '0xffffffff81000000'],
    ['%c', [UCHAR, 200], '\xc8'],
    ['%c', [INT, 0x141], 'A'],
    ['%u', [UINT64, 53114233149441n], '53114233149441'],
    // a number passed for a 64-bit type is accepted too
    ['%d', [LONG, -5], '-5'],
  ];
  for (const [fmt, arg, want] of cases) assert.equal(pf(fmt, arg), want, `${fmt} ${arg[0].name} ${arg[1]}`);
});

test('formatPrintf: flags, widths and precisions as glibc lays them out', () => {
  const cases: Array<[string, Arg, string]> = [
    ['# %#8x', [INT, 0x123], '#    0x123'],
    ['0 %08x', [INT, 0x123], '0 00000123'],
    ['- %-8x|', [INT, 0x123], '- 123     |'],
    ['+ %+8d', [INT, 123], '+     +123'],
    ['  % 8d', [INT, 123], '       123'],
    ['%+d', [INT, 0], '+0'],
    ['% d', [INT, 0], ' 0'],
    ['% +d', [INT, 5], '+5'],
    ['%+u', [UINT, 5], '5'],
    ['% x', [UINT, 5], '5'],
    ['%05d', [INT, -42], '-0042'],
    ['%-05d|', [INT, -42], '-0042|'], // '0' after '-' wins in DTrace
    ['%0-5d|', [INT, -42], '-42  |'],
    ['%.3d', [INT, 7], '007'],
    ['%8.3d', [INT, -7], '    -007'],
    ['%08.3d', [INT, 7], '     007'],
    ['%.0d', [INT, 0], '0'], // a precision of 0 is not passed on
    ['%#o', [INT, 8], '010'],
    ['%#o', [INT, 0], '0'],
    ['%#.3o', [INT, 8], '010'],
    ['%#x', [INT, 0], '0'],
    ['%#X', [INT, 255], '0XFF'],
    ['%#08x', [INT, 255], '0x0000ff'],
    ["%'d", [INT, 1234567], '1234567'],
    ['%0d', [INT, 1], '1'],
    ['%5d|', [INT, 1], '    1|'],
    ['%?d', [INT, 3], '               3'],
    ['%-?p|', [VOIDP, 0x10n], '10              |'],
    ['%10000d', [INT, 1], ' '.repeat(9999) + '1'],
    ['%.10000d', [INT, 1], '0'.repeat(9999) + '1'],
    ['%5c|', [INT, 0x61], '    a|'],
    ['%-5c|', [INT, 0x61], 'a    |'],
    ['%05c|', [INT, 0x61], '    a|'],
    ['%.0s', [STRING, 'hello'], 'hello'],
    ['%.1s', [STRING, 'hello'], 'h'],
    ['%.5s', [STRING, 'hello'], 'hello'],
    ['%0.0s', [STRING, 'hello'], 'hello'],
    ['%3.3s|', [STRING, 'hello'], 'hel|'],
    ['%7.7s|', [STRING, 'hello'], '  hello|'],
    ['%-7s|', [STRING, 'hi'], 'hi     |'],
    ['%07s|', [STRING, 'hi'], '     hi|'],
    ['%+ #s', [STRING, 'hi'], 'hi'],
  ];
  for (const [fmt, arg, want] of cases) assert.equal(pf(fmt, arg), want, fmt);
});

test('formatPrintf: dynamic widths and precisions', () => {
  const widths = [0, 1, 2, 3, 4, 5].map((x) => pf('%*d|', [INT, x], [INT, 1]));
  assert.deepEqual(widths, ['1|', '1|', ' 1|', '  1|', '   1|', '    1|']);
  const precs = [0, 1, 2, 3, 4, 5].map((x) => pf('%.*s|', [INT, x], [STRING, 'hello']));
  assert.deepEqual(precs, ['hello|', 'h|', 'he|', 'hel|', 'hell|', 'hello|']);
  const both = [0, 1, 5, 6, 9].map((x) => pf('%*.*s|', [INT, x], [INT, x], [STRING, 'hello']));
  assert.deepEqual(both, ['hello|', 'h|', 'hello|', ' hello|', '    hello|']);
  // a negative width left-aligns; a negative precision is ignored
  assert.equal(pf('%*d|', [INT, -6], [INT, 42]), '42    |');
  assert.equal(pf('%.*d|', [INT, -3], [INT, 42]), '42|');
  // the record is read by size and cast to int
  assert.equal(pf('%*d|', [CHAR, -3], [INT, 1]), '1  |');
  assert.equal(pf('%*d|', [LONG, 0x100000004n], [INT, 1]), '   1|');
  assert.equal(pf('%*d|', [UCHAR, 255], [INT, 1]), '1|'); // (int8_t)255 = -1
});

test('formatPrintf: a field beyond MAX_FIELD fails as printf(3) fails past INT_MAX (EOVERFLOW)', () => {
  const overflow = (partial: string) => (e: unknown) =>
    e instanceof PrintfDataError && e.message === 'Value too large for defined data type' && e.partial === partial;
  // up to the bound, exactly as glibc lays it out
  assert.equal(pf('%*d', [INT, MAX_FIELD], [INT, 1]), ' '.repeat(MAX_FIELD - 1) + '1');
  assert.equal(pf('%-*d|', [INT, -MAX_FIELD], [INT, 1]), '1' + ' '.repeat(MAX_FIELD - 1) + '|');
  assert.equal(pf('%.*d', [INT, MAX_FIELD], [INT, 7]), '0'.repeat(MAX_FIELD - 1) + '7');
  // beyond it: widths from traced data, static widths, precisions that add digits
  assert.throws(() => pf('a%*d|', [INT, 2147483647], [INT, 1]), overflow('a'));
  assert.throws(() => pf('%*d|', [INT, -2147483648], [INT, 1]), overflow(''));
  assert.throws(() => pf('%*d|', [LONG, 0x7fffffffn], [INT, 1]), overflow(''));
  assert.throws(() => pf('%1000000000s|', [STRING, 'a']), overflow(''));
  assert.throws(() => pf('%.*d|', [INT, 2147483647], [INT, 1]), overflow(''));
  assert.throws(() => pf('%.*x|', [INT, MAX_FIELD + 1], [UINT, 1]), overflow(''));
  assert.throws(() => pf('%.*e|', [INT, 2147483647], [DOUBLE, 0n]), overflow(''));
  // the record is cast to int first: 2^32 + 5 is a width of 5
  assert.equal(pf('%*d|', [LONG, 0x100000005n], [INT, 1]), '    1|');
  // a precision only cuts a string, however large
  assert.equal(pf('%.*s|', [INT, 2147483647], [STRING, 'abc']), 'abc|');
  // system() and freopen() format into strsize bytes: the same bound applies
  const sp = plan('%*s', [INT, STRING], 'system');
  assert.throws(() => formatSprintf(sp, [2147483647, 'x'], 256), overflow(''));
});

test('formatPrintf: a large precision costs its digits, not a BigInt of them', () => {
  const f64 = new Float64Array(1);
  const bits = (x: number): bigint => {
    f64[0] = x;
    return new BigUint64Array(f64.buffer)[0];
  };
  // past a double's exact expansion every digit is 0: computed directly, in linear time
  const fixed = pf('%.*f', [INT, MAX_FIELD], [DOUBLE, bits(1.5)]);
  assert.equal(fixed, '1.5' + '0'.repeat(MAX_FIELD - 1));
  const tiny = pf('%.*e', [INT, MAX_FIELD], [DOUBLE, bits(5e-324)]);
  assert.equal(tiny.length, MAX_FIELD + 7);
  assert.ok(tiny.startsWith('4.940656458412465441765687928682213723650598026143247644255856825006755072702087518652998363616359923797965646954457177309266567103559397963987747960107818781263007131903114045278458171678489821036887186360569987307230500063874091535649843873124733972731696151400317153853980741262385655911710266585566867681870395603106249319452715914924553293054565444011274801297099995419319894090804165633245247571478690147267801593552386115501348035264934720193790268107107491703332226844753335720832431936092382893458368060106011506169809753078342277318329247904982524730776375927247874656084778203734469699533647017972677717585125660551199131504891101451037862738167250955837389733598993664809941164205702637090279242767544565229087538682506419718265533447265625'));
  assert.ok(tiny.endsWith('0e-324'));
  // the same digits as a small precision would give, where both have them
  assert.equal(pf('%.20g', [DOUBLE, bits(0.1)]), '0.10000000000000000555');
  assert.equal(pf('%.60f', [DOUBLE, bits(0.1)]), '0.100000000000000005551115123125782702118158340454101562500000');
  assert.equal(pf('%.3e', [DOUBLE, bits(1e300)]), '1.000e+300');
  assert.equal(pf('%.*e', [INT, 400], [DOUBLE, bits(1e300)]).slice(0, 30), '1.0000000000000000525047602552');
});

test('formatPrintf: strings, char arrays and escapes', () => {
  const bytes = new Uint8Array([0x68, 0x69, 0, 0x78]);
  assert.equal(pf('%s|', [arrayOf(CHAR, 4), bytes]), 'hi|');
  assert.equal(pf('%s|', [arrayOf(CHAR, 2), new Uint8Array([0x41, 0x42])]), 'AB|');
  assert.equal(pf("'%s'", [STRING, 'BEGIN']), "'BEGIN'");
  assert.equal(pf('%s', [STRING, '']), '');
  // %S escapes and shows the string's terminating NUL; %C escapes one char
  assert.equal(pf('%S', [STRING, 'a\tb"c\\ d\x01\xff']), 'a\\tb\\"c\\\\ d\\001\\377\\0');
  assert.equal(pf('%S', [arrayOf(CHAR, 3), new Uint8Array([0x61, 0x0a, 0x62])]), 'a\\nb');
  assert.equal(pf('%S', [arrayOf(CHAR, 3), new Uint8Array([0x61, 0, 0x62])]), 'a\\0');
  assert.equal(pf('%8S|', [STRING, 'ab']), '    ab\\0|');
  const chars: Array<[number, string]> = [
    [0, '\\0'],
    [7, '\\a'],
    [8, '\\b'],
    [12, '\\f'],
    [10, '\\n'],
    [13, '\\r'],
    [9, '\\t'],
    [11, '\\v'],
    [0x22, '\\"'],
    [0x5c, '\\\\'],
    [0x20, ' '],
    [0x41, 'A'],
    [0x7f, '\\177'],
    [0x1b, '\\033'],
    [0x341, 'A'], // only the low byte
    [-1, '\\377'],
  ];
  for (const [c, want] of chars) assert.equal(pf('%C', [INT, c]), want, String(c));
  // wide strings: the C locale converts ASCII
  const w = new Uint8Array(16);
  w.set([0x68, 0, 0, 0, 0x69, 0, 0, 0]);
  assert.equal(pf('%ls|%5ls|%.1ls', [arrayOf(INT, 4), w], [arrayOf(INT, 4), w], [arrayOf(INT, 4), w]), 'hi|   hi|h');
  // glibc does not know %wc / %ws: they print as written
  assert.equal(pf('%wc|%-5ws', [INT, 97], [arrayOf(INT, 4), w]), '%wc|%-5ws');
});

test('formatPrintf: addresses, with and without a symbol resolver', () => {
  assert.equal(pf('%a', [VOIDP, 0xffffffff81000000n]), '0xffffffff81000000');
  assert.equal(pf('%a', [INT, -1]), '0xffffffff');
  assert.equal(pf('%20a|', [LONG, 0x1234n]), '              0x1234|');
  assert.equal(pf('%.3a|', [LONG, 0x1234n]), '0x1|');
  // a pre-resolved string is used as is (e.g. a sym()/mod() record)
  assert.equal(pf('%-12a|', [SYMADDR, 'vmlinux`foo']), 'vmlinux`foo |');
  const ctx: FormatContext = {
    addr2str: (a) => (a === 0x1000n ? 'vmlinux`max_pfn' : a > 0x1000n ? `vmlinux\`max_pfn+0x${(a - 0x1000n).toString(16)}` : null),
    uaddr2str: (a) => `libc.so.6\`0x${a.toString(16)}`,
  };
  const p = plan('%a %a %a %A', [VOIDP, VOIDP, VOIDP, USYMADDR]);
  assert.equal(formatPrintf(p, [0x1000n, 0x1010n, 0x10n, 0x7fn], ctx), 'vmlinux`max_pfn vmlinux`max_pfn+0x10 0x10 libc.so.6`0x7f');
  assert.equal(formatPrintf(p, [0x1000n, 0x1010n, 0x10n, 0x7fn]), '0x1000 0x1010 0x10 0x7f');
  // %a of a record that is not 4 or 8 bytes is a data mismatch at run time
  assert.throws(() => pf('%a', [SHORT, 1]), (e: unknown) => e instanceof PrintfDataError && e.message === 'Data record list does not match statement');
});

test('formatPrintf: %Y and %T in local time', () => {
  const saved = process.env.TZ;
  process.env.TZ = 'US/Pacific';
  try {
    const NS = 1000000000n;
    const times = [0n, 1062609821n * NS, 0x7fffffffn * NS, 1075064400n * NS];
    assert.deepEqual(
      times.map((t) => pf('%Y', [UINT64, t])),
      ['1969 Dec 31 16:00:00', '2003 Sep  3 10:23:41', '2038 Jan 18 19:14:07', '2004 Jan 25 13:00:00'],
    );
    // %G in DTrace's strftime format: the ISO week year (1970 for 31 Dec 1969)
    assert.deepEqual(
      times.map((t) => pf('%T', [INT64, t])),
      [
        'Wed, 31 Dec 1970 16:00:00 PST',
        'Wed, 03 Sep 2003 10:23:41 PDT',
        'Mon, 18 Jan 2038 19:14:07 PST',
        'Sun, 25 Jan 2004 13:00:00 PST',
      ],
    );
    assert.equal(pf('%-22Y|%.4Y', [UINT64, 0n], [UINT64, 0n]), '1969 Dec 31 16:00:00  |1969');
    process.env.TZ = 'UTC';
    assert.equal(pf('%Y', [UINT64, 1062609821n * NS + 999999999n]), '2003 Sep  3 17:23:41');
    assert.equal(pf('%T', [UINT64, 1062609821n * NS]), 'Wed, 03 Sep 2003 17:23:41 UTC');
    process.env.TZ = 'Europe/Berlin';
    assert.equal(pf('%T', [UINT64, 1062609821n * NS]), 'Wed, 03 Sep 2003 19:23:41 CEST');
    assert.equal(pf('%T', [UINT64, 1075064400n * NS]), 'Sun, 25 Jan 2004 22:00:00 CET');
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});

test('formatPrintf: floating point conversions are exact', () => {
  const f64 = new Float64Array(1);
  const bits = (x: number): bigint => {
    f64[0] = x;
    return new BigUint64Array(f64.buffer)[0];
  };
  const cases: Array<[string, Arg, string]> = [
    ['%e', [DOUBLE, 0n], '0.000000e+00'],
    ['%E', [DOUBLE, 0n], '0.000000E+00'],
    ['%f', [DOUBLE, 0n], '0.000000'],
    ['%g', [DOUBLE, 0n], '0'],
    ['%G', [FLOAT, 0], '0'],
    ['%f', [FLOAT, 0], '0.000000'],
    ['%e', [FLOAT, 0], '0.000000e+00'],
    ['%f', [DOUBLE, bits(3.14159)], '3.141590'],
    ['%5.1f', [DOUBLE, bits(-2.25)], ' -2.2'], // ties round to even
    ['%.0f', [DOUBLE, bits(0.5)], '0.500000'], // a precision of 0 is not passed on
    ['%.1f', [DOUBLE, bits(0.25)], '0.2'],
    ['%.1f', [DOUBLE, bits(0.75)], '0.8'],
    ['%.1e', [DOUBLE, bits(2.25)], '2.2e+00'],
    ['%#.1g', [DOUBLE, bits(9.5)], '1.e+01'],
    ['%.2f', [DOUBLE, bits(1.005)], '1.00'],
    ['%-8.3e|', [DOUBLE, bits(12345.678)], '1.235e+04|'],
    ['%08.2f', [DOUBLE, bits(-3.14159)], '-0003.14'],
    ['%+g', [DOUBLE, bits(2)], '+2'],
    ['% g', [DOUBLE, bits(2)], ' 2'],
    ['%#.3g', [DOUBLE, bits(1)], '1.00'],
    ['%g', [DOUBLE, bits(1e-4)], '0.0001'],
    ['%g', [DOUBLE, bits(1e-5)], '1e-05'],
    ['%g', [DOUBLE, bits(123456789)], '1.23457e+08'],
    ['%.10g', [DOUBLE, bits(1 / 3)], '0.3333333333'],
    ['%g', [DOUBLE, bits(999999.5)], '1e+06'],
    ['%#g', [DOUBLE, bits(999999.5)], '1.e+06'], // glibc's own rounding quirk
    ['%#g', [DOUBLE, bits(9.9999999)], '10.0000'],
    ['%G', [DOUBLE, bits(1e-300)], '1E-300'],
    ['%e', [DOUBLE, bits(5e-324)], '4.940656e-324'],
    ['%.1e', [DOUBLE, bits(5e-324)], '4.9e-324'],
    ['%f', [DOUBLE, bits(1e21)], '1000000000000000000000.000000'],
    ['%e', [DOUBLE, bits(-0)], '-0.000000e+00'],
    ['%f', [DOUBLE, bits(Infinity)], 'inf'],
    ['%08f', [DOUBLE, bits(Infinity)], '     inf'],
    ['%E', [DOUBLE, bits(-Infinity)], '-INF'],
    ['%g', [DOUBLE, bits(NaN)], 'nan'],
    ['%f', [DOUBLE, 0xfff8000000000000n], '-nan'],
    ['%f', [FLOAT, 0.1], '0.100000'],
    ['%.10f', [FLOAT, 0.1], '0.1000000015'], // a float holds float precision
    ['%.10f', [FLOAT, 0x3dcccccdn], '0.1000000015'], // a float's bits
    ['%.3f', [DOUBLE, 2.5], '2.500'], // a number is taken as the value itself
  ];
  for (const [fmt, arg, want] of cases) assert.equal(pf(fmt, arg), want, fmt);
  // long double: x87 80-bit extended in the first 10 bytes
  const ld = new Uint8Array(16);
  ld.set([0, 0, 0, 0, 0, 0, 0, 0xc0, 0x00, 0x40]); // 1.5 * 2^1 = 3
  assert.equal(pf('%Lf %Le', [LDOUBLE, ld], [LDOUBLE, ld]), '3.000000 3.000000e+00');
});

test("formatPrintf: %I and %P, illumos's host and service names (/etc/hosts, /etc/services)", () => {
  const hosts = hostsTable('# comment\n127.0.0.1\tlocalhost loopback\n127.0.0.1 other\n10.1.2.3 db1.example db1 # x\n::1 ip6-localhost\nfe80:0:0::5 link5\n');
  assert.equal(hostName('127.0.0.1', hosts), 'localhost');
  assert.equal(hostName('10.1.2.3', hosts), 'db1.example');
  assert.equal(hostName('0:0:0:0:0:0:0:1', hosts), 'ip6-localhost');
  assert.equal(hostName('fe80::5', hosts), 'link5');
  assert.equal(hostName('10.1.2.4', hosts), null);
  assert.equal(hostName('<unknown>', hosts), null);
  const services = servicesTable('ssh\t\t22/tcp\t\t# SSH\nhttp 80/tcp www\nhttp-udp 80/udp\ndomain 53/udp\n');
  assert.deepEqual([22, 80, 53, 9].map((p) => serviceName(p, services)), ['ssh', 'http', 'domain', null]);
  // no name: the string, the port in decimal, laid out as %s lays out a string
  assert.equal(pf('[%I] [%-9I] [%5I]', [STRING, '<unknown>'], [STRING, 'no.addr'], [STRING, 'x']), '[<unknown>] [no.addr  ] [    x]');
  const U16 = typedefOf('uint16_t', USHORT);
  assert.equal(pf('[%P] [%-6P] [%6P]', [U16, 0], [U16, 0], [U16, 0]), '[0] [0     ] [     0]');
});

test('formatPrintf: literal text and %%', () => {
  assert.equal(pf('hello'), 'hello');
  assert.equal(pf('one '), 'one ');
  assert.equal(pf('%d%%', [INT, 50]), '50%');
  assert.equal(pf('%%%d%%%s%%', [INT, 1], [STRING, 'x']), '%1%x%');
  assert.equal(pf('a\nb %d c\n', [INT, 3]), 'a\nb 3 c\n');
});

test('formatPrintf: too few values is a data mismatch', () => {
  const p = plan('x=%d y=%d', [INT, INT]);
  assert.throws(
    () => formatPrintf(p, [1]),
    (e: unknown) => e instanceof PrintfDataError && e.partial === 'x=1 y=',
  );
  assert.throws(() => pf('%lc', [INT, 0xe9]), (e: unknown) => e instanceof PrintfDataError);
});

test('formatPrinta: keys and aggregation values', () => {
  const p1 = plan('@a = %@u\n', [], 'printa', { aggFunc: 'avg' });
  assert.equal(formatPrinta(p1, [], [1n]), '@a = 1\n');
  // count() is unsigned, everything else signed
  const cnt = plan('%@d', [], 'printa', { aggFunc: 'count' });
  assert.equal(formatPrinta(cnt, [], [-1n]), '18446744073709551615');
  const sum = plan('%@d', [], 'printa', { aggFunc: 'sum' });
  assert.equal(formatPrinta(sum, [], [-1n]), '-1');
  assert.equal(formatPrinta(sum, [], [-1]), '-1');
  // a rendered histogram is printed as is, whatever the conversion
  const q = plan('@g = %@d\n', [], 'printa', { aggFunc: 'quantize' });
  assert.equal(formatPrinta(q, [], ['\n  value  ---\n']), '@g = \n  value  ---\n\n');
  // keys feed the other conversions in order; extra keys are left out
  const tuple = ['%@u: -\n', '%@u: %d\n', '%@u: %d %d\n', '%@u: %d %d %d %d %d\n'].map((f) =>
    formatPrinta(plan(f, [INT, INT, INT, INT, INT], 'printa', { aggFunc: 'count' }), [1, 2, 3, 4, 5], [1n]),
  );
  assert.deepEqual(tuple, ['1: -\n', '1: 1\n', '1: 1 2\n', '1: 1 2 3 4 5\n']);
  // every %@ beyond the aggregations given repeats the last one
  const many = plan('%@u %@u %@u\n', [], 'printa', { aggFunc: 'count' });
  assert.equal(formatPrinta(many, [], [1n]), '1 1 1\n');
  assert.equal(formatPrinta(many, [], [1n, 2n]), '1 2 2\n');
  // dynamic widths come from keys
  const dyn = plan('-->%-*d<--\n', [INT, INT], 'printa', { aggFunc: 'sum' });
  assert.equal(formatPrinta(dyn, [10, 100], [1n]), '-->100       <--\n');
  assert.equal(formatPrinta(dyn, [-10, 200], [2n]), '-->200       <--\n');
  const dyn2 = plan('-->%*d<--\n', [INT, INT], 'printa', { aggFunc: 'sum' });
  assert.equal(formatPrinta(dyn2, [10, 100], [1n]), '-->       100<--\n');
  assert.equal(formatPrinta(dyn2, [-10, 200], [2n]), '-->200       <--\n');
  // %@ with time conversions
  const saved = process.env.TZ;
  process.env.TZ = 'US/Pacific';
  try {
    const t = plan('%@T\n%@Y', [], 'printa', { aggFunc: 'min' });
    assert.equal(formatPrinta(t, [], [1075064400000000000n]), 'Sun, 25 Jan 2004 13:00:00 PST\n2004 Jan 25 13:00:00');
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});

test('validateFormat: a second aggregation of the same printa only checks', () => {
  const p = plan('%@d\n', [], 'printa', { aggFunc: 'sum' });
  validateFormat(p, [], 7, { aggFunc: 'count' });
  // the first aggregation's binding (signed) is kept
  assert.equal(formatPrinta(p, [], [-1n, -1n]), '-1\n');
  const k = plan('%d %@d\n', [INT], 'printa', { aggFunc: 'sum' });
  assert.equal(
    compileError(() => validateFormat(k, [STRING], 7, { aggFunc: 'count' })).tag,
    'D_PRINTF_ARG_TYPE',
  );
  assert.equal(formatPrinta(k, [3], [-1n]), '3 -1\n');
  const p2 = plan('%d %@d', [INT], 'printa');
  assert.equal(
    compileError(() => validateFormat(p2, [], 7)).message,
    'printa( ) prototype mismatch: conversion #1 (%d) is missing a corresponding value argument',
  );
});

test('formatPrintf: %k prints stack frames', () => {
  const frames = 'vmlinux`foo+0x10\nvmlinux`bar';
  assert.equal(pf('%k', [STACK, frames]), '\nvmlinux`foo+0x10\nvmlinux`bar\n');
  assert.equal(pf('%-20k|', [STACK, frames]), '\n' + ' '.repeat(20) + 'vmlinux`foo+0x10\n' + ' '.repeat(20) + 'vmlinux`bar\n|');
  assert.equal(pf('%20k', [STACK, 'a']), '\n' + ' '.repeat(19) + 'a\n');
  assert.equal(pf('%k\n', [STACK, '']), '\n\n');
  assert.equal(pf('%*k', [INT, -3], [STACK, 'ab']), '\n   ab \n');
  assert.equal(formatStack(['a', 'b']), '\n              a\n              b\n');
});

test('formatSprintf: the strsize buffer of system() and freopen()', () => {
  const p = plan('echo %s %d', [STRING, INT], 'system');
  assert.equal(formatSprintf(p, ['hello', 42], 256), 'echo hello 42');
  assert.equal(formatSprintf(p, ['hello', 42], 8), 'echo he');
  const c = plan('a%cb', [INT], 'system');
  assert.equal(formatSprintf(c, [0], 256), 'ab');
  assert.equal(formatPrintf(c, [0]), 'a\0b');
  const f = plan('/tmp/out.%d', [INT], 'freopen');
  assert.equal(formatSprintf(f, [3], 256), '/tmp/out.3');
});

test('formatPrintf: many events reuse one plan', () => {
  const p = plan('%s:%d:%x\n', [STRING, INT, UINT]);
  let out = '';
  for (let i = 0; i < 1000; i++) out = formatPrintf(p, ['e', i, i]);
  assert.equal(out, 'e:999:3e7\n');
});

test('formatPrintf: a 64-bit argument given as a Number (an exact one, as rt.argValue() gives) prints as its BigInt does', () => {
  const SAFE = 2 ** 53 - 1;
  for (const v of [0, 5, -1, -300, SAFE, -SAFE, 0x7ffd12345000]) {
    for (const fmt of ['%d', '%i', '%u', '%x', '%X', '%o', '%5d', '%-22u|', '%#x', '%p', '%lld', '%Y']) {
      assert.equal(pf(fmt, [INT64, v]), pf(fmt, [INT64, BigInt(v)]), `${fmt} ${v}`);
    }
  }
});
