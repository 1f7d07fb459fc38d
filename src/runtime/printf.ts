// printf(), printa(), system() and freopen() formats: parsed and checked once at compile time
// into a FormatPlan, then filled in per event.                 [dt_printf.c, dt_printf.h]
//
//   parseFormat     dt_printf_create: the format's syntax (D_SYNTAX, D_FREOPEN_INVALID)
//   validateFormat  dt_printf_validate: the arguments against the conversions (D_PRINTF_*)
//                   (both in printf-parse.ts, re-exported here)
//   formatPrintf    dt_printf_format for printf(): the output text of one event
//   formatPrinta    the same for one printa() row: tuple keys and aggregation value(s)
//   formatSprintf   dtrace_sprintf: system()'s command / freopen()'s file name
//
// Values are passed as the compiler declared them (runtime/values.ts): the record DTrace would
// have written for an argument is rebuilt from the value and its type's size, and printed the
// way the matching pfprint_* function does (sign-extended or not, by size).

import type { Value } from './values.js';
import {
  type BinFloat,
  decodeDouble,
  decodeLongDouble,
  doubleBits,
  floatFromBits32,
  fmtFloat,
  fmtSigned,
  fmtString,
  fmtUnsigned,
  padField,
} from './printf-num.js';
import {
  F_AGG,
  F_ALT,
  F_DYNPREC,
  F_DYNWIDTH,
  F_GROUP,
  F_LEFT,
  F_SPACE,
  F_SPOS,
  F_ZPAD,
  type FormatConv,
  type FormatPlan,
  P_ADDR,
  P_CSTR,
  P_ECHR,
  P_ESTR,
  P_FP,
  P_INETADDR,
  P_PCT,
  P_PORT,
  P_SINT,
  P_STACK,
  P_TIME,
  P_TIME822,
  P_UADDR,
  P_UINT,
  P_WSTR,
} from '../lang/printf-parse.js';
import { hostName, serviceName } from './printf-net.js';
import { formatTimeT, formatTimeY } from './printf-time.js';

export { F_AGG, F_ALT, F_DYNPREC, F_DYNWIDTH, F_GROUP, F_LEFT, F_SPACE, F_SPOS, F_ZPAD } from '../lang/printf-parse.js';
export {
  AGGREGATION_ARG,
  FormatConv,
  type FormatKind,
  type FormatPlan,
  STACK_TYPE,
  SYMADDR_TYPE,
  USYMADDR_TYPE,
  type ValidateOptions,
  isSignedArg,
  parseFormat,
  validateFormat,
} from '../lang/printf-parse.js';

// -- formatting ----------------------------------------------------------------------------------

/** Resolves addresses for %a (kernel) and %A (user) conversions; absent: printed in hex. */
export interface FormatContext {
  /** "module`symbol+0x10", "module`0x...", or null if nothing is known of the address */
  addr2str?(addr: bigint): string | null;
  uaddr2str?(addr: bigint): string | null;
}

/** A record that cannot be printed with its conversion (DTrace's EDT_* consumer errors). */
export class PrintfDataError extends Error {
  /** the output produced before the failure */
  partial = '';
}

const EDT_DMISMATCH = 'Data record list does not match statement';
const EILSEQ = 'Invalid or incomplete multibyte or wide character';
/** printf(3)'s EOVERFLOW: the field cannot be produced */
const EOVERFLOW = 'Value too large for defined data type';

/**
 * The widest field one conversion may produce, and the largest precision that adds digits.
 * DTrace hands widths and precisions (C ints) to printf(3), which writes up to INT_MAX bytes for
 * one conversion; a value from traced data could thus make dtrace build gigabytes of padding.
 * Beyond this bound the conversion fails as printf(3) fails past INT_MAX (EOVERFLOW), and the
 * runtime reports it as DTrace reports a consumer error, without ending the run.
 */
export const MAX_FIELD = 1 << 20;

/**
 * The output of printf() (or fprintf-like actions) for one event's argument values: the first
 * `n` of `values` (default: all; the runtime passes a reused array, STYLE rule 2).
 */
export function formatPrintf(plan: FormatPlan, values: readonly Value[], ctx?: FormatContext, n = values.length): string {
  return run(plan, values, null, ctx, n);
}

/**
 * The output of printa() with a format for one aggregation tuple: `keys` feed the ordinary
 * conversions in order, `aggs` the %@ ones (the first %@ takes aggs[0], the next aggs[1], ...,
 * repeating the last). An aggregation value is a number/bigint already normalized, or a string
 * that is printed as is (a quantize() histogram rendered by its owner).
 */
export function formatPrinta(
  plan: FormatPlan,
  keys: readonly Value[],
  aggs: readonly Value[],
  ctx?: FormatContext,
): string {
  return run(plan, keys, aggs, ctx, keys.length);
}

/**
 * dtrace_sprintf, for system() and freopen(): the output built in a strsize-byte buffer, i.e.
 * cut to strsize - 1 bytes; NUL bytes written by %c do not survive (each piece is appended at
 * the buffer's string length).
 */
export function formatSprintf(
  plan: FormatPlan,
  values: readonly Value[],
  strsize: number,
  ctx?: FormatContext,
): string {
  let s = run(plan, values, null, ctx, values.length);
  if (s.indexOf('\0') >= 0) s = s.split('\0').join('');
  return s.length > strsize - 1 ? s.substring(0, Math.max(0, strsize - 1)) : s;
}

/** A printf() plan made into one function of its values (STYLE rule 6): `n` values are given. */
export type Formatter = (values: readonly Value[], n: number) => string;

/**
 * Generates the formatter of a plan: its literal text and conversions joined in one expression,
 * the commonest conversions (%d %i %u of 64 bits, %s, with no flag, width or precision) inlined,
 * every other one through convert() with its constants. Output and errors are formatPrintf()'s:
 * a plan with dynamic widths or precisions, %@ or stacks, a value count other than the plan's,
 * and any failure, take the general path (which throws the error with its partial output).
 */
export function compileFormatter(plan: FormatPlan): Formatter {
  const general: Formatter = (values, n) => run(plan, values, null, undefined, n);
  const parts: string[] = [];
  let vi = 0;
  for (let i = 0; i < plan.convs.length; i++) {
    const cv = plan.convs[i];
    if (cv.prefix !== '') parts.push(JSON.stringify(cv.prefix));
    if (cv.print === P_PCT) {
      parts.push('"%"');
      continue;
    }
    if (cv.flags & (F_DYNWIDTH | F_DYNPREC | F_AGG) || cv.print === P_STACK || cv.width > MAX_FIELD || cv.prec > MAX_FIELD) return general;
    const prec = cv.prec <= 0 ? -1 : cv.prec;
    const v = `v[${vi++}]`;
    const plain = cv.flags === 0 && cv.width === 0 && prec < 0;
    if (plain && cv.print === P_SINT && cv.size === 8 && cv.ofmt !== 'c' && cv.ofmt !== 'lc' && cv.ofmt !== 'wc') parts.push(`("" + signed64(${v}))`);
    else if (plain && cv.print === P_UINT && cv.size === 8 && cv.ofmt !== 'o' && cv.ofmt !== 'x' && cv.ofmt !== 'X') parts.push(`("" + unsigned64(${v}))`);
    else if (plain && cv.print === P_CSTR) parts.push(`cString(${v})`);
    else parts.push(`convert(C[${i}], ${v}, ${cv.flags}, ${cv.width}, ${prec}, undefined, "")`);
  }
  if (plan.suffix !== '') parts.push(JSON.stringify(plan.suffix));
  const body = `return function format(v, n) {
  if (n !== ${vi}) return general(v, n);
  try {
    return "" + ${parts.length > 0 ? parts.join(' + ') : '""'};
  } catch {
    return general(v, n);
  }
};`;
  return new Function('general', 'C', 'signed64', 'unsigned64', 'cString', 'convert', body)(general, plan.convs, signed64, unsigned64, cString, convert) as Formatter;
}

function run(plan: FormatPlan, values: readonly Value[], aggs: readonly Value[] | null, ctx: FormatContext | undefined, nvalues: number): string {
  const convs = plan.convs;
  let out = '';
  let vi = 0;
  let ai = 0;
  for (let i = 0; i < convs.length; i++) {
    const cv = convs[i];
    out += cv.prefix;
    if (cv.print === P_PCT) {
      out += '%';
      continue;
    }
    let flags = cv.flags;
    let width = cv.width;
    let prec = cv.prec;
    let dynwidth = 0;
    if (flags & F_DYNWIDTH) {
      width = dynwidth = recordInt(values[vi++], cv.wsize, out);
      if (width < 0) {
        flags |= F_LEFT;
        width = -width;
      }
    }
    if (flags & F_DYNPREC) prec = recordInt(values[vi++], cv.psize, out);
    if (prec <= 0) prec = -1;
    // a precision only cuts strings; it adds digits to numbers
    if (width > MAX_FIELD || (prec > MAX_FIELD && (cv.print === P_SINT || cv.print === P_UINT || cv.print === P_FP))) {
      throw dataError(EOVERFLOW, out);
    }
    let v: Value;
    if (flags & F_AGG) {
      if (aggs === null || aggs.length === 0) throw dataError(EDT_DMISMATCH, out);
      v = aggs[ai];
      if (ai < aggs.length - 1) ai++;
      if (typeof v === 'string') {
        out += v;
        continue;
      }
    } else {
      if (vi >= nvalues) throw dataError(EDT_DMISMATCH, out);
      v = values[vi++];
    }
    if (cv.print === P_STACK) {
      out += formatStackConv(typeof v === 'string' ? v : '', cv, flags, width, dynwidth, prec);
      continue;
    }
    out += convert(cv, v, flags, width, prec, ctx, out);
  }
  return out + plan.suffix;
}

function dataError(msg: string, partial: string): PrintfDataError {
  const e = new PrintfDataError(msg);
  e.partial = partial;
  return e;
}

/** dt_printf_getint: a dynamic width/precision record, read by size and cast to int. */
function recordInt(v: Value | undefined, size: number, out: string): number {
  if (v === undefined || typeof v === 'string' || v instanceof Uint8Array) throw dataError(EDT_DMISMATCH, out);
  switch (size) {
    case 1:
      return (Number(typeof v === 'bigint' ? BigInt.asIntN(8, v) : v) << 24) >> 24;
    case 2:
      return (Number(typeof v === 'bigint' ? BigInt.asIntN(16, v) : v) << 16) >> 16;
    case 4:
    case 8:
      return typeof v === 'bigint' ? Number(BigInt.asIntN(32, v)) : v | 0;
    default:
      throw dataError(EDT_DMISMATCH, out);
  }
}

/** The value's low `size` bytes as a signed integer (a record read by pfprint_sint). */
export function signedBySize(v: Value, size: number): number | bigint {
  if (size === 8) return BigInt.asIntN(64, typeof v === 'bigint' ? v : BigInt(scalarNum(v)));
  const n = typeof v === 'bigint' ? Number(BigInt.asIntN(32, v)) : scalarNum(v);
  if (size === 1) return (n << 24) >> 24;
  if (size === 2) return (n << 16) >> 16;
  return n | 0;
}

/** The value's low `size` bytes as an unsigned integer (a record read by pfprint_uint). */
export function unsignedBySize(v: Value, size: number): number | bigint {
  if (size === 8) return BigInt.asUintN(64, typeof v === 'bigint' ? v : BigInt(scalarNum(v)));
  const n = typeof v === 'bigint' ? Number(BigInt.asUintN(32, v)) : scalarNum(v);
  if (size === 1) return n & 0xff;
  if (size === 2) return n & 0xffff;
  return n >>> 0;
}

/** A 64-bit value as a Number where that is exact: its digits come out the same, faster. */
function exactNumber(v: number | bigint): number | bigint {
  return typeof v === 'bigint' && v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

/**
 * A value read as a signed 64-bit record, as a Number where that is exact: a BigInt within
 * ±(2^53 - 1) is its own int64 image, so it skips asIntN's new BigInt.
 */
function signed64(v: Value): number | bigint {
  if (typeof v === 'bigint') return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : exactNumber(BigInt.asIntN(64, v));
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  return exactNumber(signedBySize(v, 8));
}

/** The same as an unsigned 64-bit record. */
function unsigned64(v: Value): number | bigint {
  if (typeof v === 'bigint') return v >= 0n && v <= 9007199254740991n ? Number(v) : exactNumber(BigInt.asUintN(64, v));
  if (typeof v === 'number' && v >= 0 && Number.isSafeInteger(v)) return v;
  return exactNumber(unsignedBySize(v, 8));
}

function scalarNum(v: Value): number {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'string') return 0;
  if (v instanceof Uint8Array) {
    let n = 0;
    for (let i = Math.min(v.length, 4) - 1; i >= 0; i--) n = n * 256 + v[i];
    return n;
  }
  return Number(v);
}

function convert(
  cv: FormatConv,
  v: Value,
  flags: number,
  width: number,
  prec: number,
  ctx: FormatContext | undefined,
  out: string,
): string {
  const size = cv.size;
  switch (cv.print) {
    case P_SINT: {
      if (size !== 1 && size !== 2 && size !== 4 && size !== 8) throw dataError(EDT_DMISMATCH, out);
      const n = size === 8 ? signed64(v) : signedBySize(v, size);
      switch (cv.ofmt) {
        case 'c':
          return padField(String.fromCharCode(Number(n) & 0xff), width, (flags & F_LEFT) !== 0);
        case 'lc': {
          const c = Number(n);
          if (c < 0 || c > 0x7f) throw dataError(EILSEQ, out);
          return padField(String.fromCharCode(c), width, (flags & F_LEFT) !== 0);
        }
        case 'wc':
          return literalConv(flags, width, prec, 'wc');
        default:
          return fmtSigned(n, flags, width, prec);
      }
    }
    case P_UINT:
      if (size !== 1 && size !== 2 && size !== 4 && size !== 8) throw dataError(EDT_DMISMATCH, out);
      return fmtUnsigned(size === 8 ? unsigned64(v) : unsignedBySize(v, size), cv.ofmt, flags, width, prec);
    case P_FP:
      return fmtFloat(toBinFloat(v, size), cv.ofmt, flags, width, prec);
    case P_ADDR:
    case P_UADDR: {
      let s: string;
      if (typeof v === 'string') s = v;
      else {
        // a _symaddr / _usymaddr value (type size 0) is the address itself
        const asize = size === 0 ? 8 : size;
        if (asize !== 4 && asize !== 8) throw dataError(EDT_DMISMATCH, out);
        const a = BigInt(unsignedBySize(v, asize));
        const r = cv.print === P_ADDR ? ctx?.addr2str?.(a) : ctx?.uaddr2str?.(a);
        s = r ?? '0x' + a.toString(16);
      }
      return fmtString(s, flags, width, prec);
    }
    case P_CSTR:
      return fmtString(cString(v), flags, width, prec);
    case P_ESTR:
      return fmtString(escapeRecord(v), flags, width, prec);
    case P_ECHR: {
      if (size !== 1 && size !== 2 && size !== 4) throw dataError(EDT_DMISMATCH, out);
      const c = Number(unsignedBySize(v, 1));
      return fmtString(c === 0 ? '\\0' : escapeChar(c), flags, width, prec);
    }
    case P_WSTR: {
      if (cv.ofmt === 'ws') return literalConv(flags, width, prec, 'ws');
      return fmtString(wideString(v, out), flags, width, prec);
    }
    case P_TIME:
      return fmtString(formatTimeY(BigInt(signedBySize(v, 8))), flags, width, prec);
    case P_TIME822:
      return fmtString(formatTimeT(BigInt(signedBySize(v, 8))), flags, width, prec);
    case P_INETADDR: {
      const s = cString(v);
      return fmtString(hostName(s) ?? s, flags, width, prec);
    }
    case P_PORT: {
      if (size !== 2) throw dataError(EDT_DMISMATCH, out);
      const port = Number(unsignedBySize(v, 2));
      return fmtString(serviceName(port) ?? String(port), flags, width, prec);
    }
    default:
      throw dataError(EDT_DMISMATCH, out);
  }
}

/** glibc prints a conversion it does not know (%wc, %ws) as its own text, consuming nothing. */
function literalConv(flags: number, width: number, prec: number, conv: string): string {
  let s = '%';
  if (flags & F_ALT) s += '#';
  if (flags & F_ZPAD) s += '0';
  if (flags & F_LEFT) s += '-';
  if (flags & F_SPOS) s += '+';
  if (flags & F_GROUP) s += "'";
  if (flags & F_SPACE) s += ' ';
  if (width !== 0) s += width;
  if (prec > 0) s += '.' + prec;
  return s + conv;
}

/** A string or char array's text up to its first NUL. */
export function cString(v: Value): string {
  if (typeof v === 'string') {
    const z = v.indexOf('\0');
    return z < 0 ? v : v.substring(0, z);
  }
  if (v instanceof Uint8Array) {
    let end = v.indexOf(0);
    if (end < 0) end = v.length;
    let s = '';
    for (let i = 0; i < end; i++) s += String.fromCharCode(v[i]);
    return s;
  }
  return '';
}

function escapeChar(c: number): string {
  switch (c) {
    case 0x07:
      return '\\a';
    case 0x08:
      return '\\b';
    case 0x0c:
      return '\\f';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x0b:
      return '\\v';
    case 0x22:
      return '\\"';
    case 0x5c:
      return '\\\\';
    case 0x20:
      return ' ';
    default:
      if (c < 0x21 || c > 0x7e) return '\\' + ((c >> 6) & 3) + ((c >> 3) & 7) + (c & 7);
      return String.fromCharCode(c);
  }
}

/**
 * strchr2esc over a record: C escapes for the bytes up to and including the first NUL (shown as
 * "\0"). A string's record always holds its terminating NUL, so %S of "ab" is `ab\0`.
 */
function escapeRecord(v: Value): string {
  let s = '';
  if (typeof v === 'string') {
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i) & 0xff;
      if (c === 0) break;
      s += escapeChar(c);
    }
    return s + '\\0';
  }
  if (v instanceof Uint8Array) {
    for (let i = 0; i < v.length; i++) {
      if (v[i] === 0) return s + '\\0';
      s += escapeChar(v[i]);
    }
  }
  return s;
}

/** %ls: a wchar_t array, converted as the C locale does (ASCII only). */
function wideString(v: Value, out: string): string {
  if (!(v instanceof Uint8Array)) return typeof v === 'string' ? cString(v) : '';
  let s = '';
  for (let i = 0; i + 4 <= v.length; i += 4) {
    const c = (v[i] | (v[i + 1] << 8) | (v[i + 2] << 16) | (v[i + 3] << 24)) >>> 0;
    if (c === 0) break;
    if (c > 0x7f) throw dataError(EILSEQ, out);
    s += String.fromCharCode(c);
  }
  return s;
}

function toBinFloat(v: Value, size: number): BinFloat {
  if (v instanceof Uint8Array) {
    if (size === 16 || v.length >= 10) return decodeLongDouble(v);
    if (size === 4 || v.length === 4) {
      return decodeDouble(doubleBits(floatFromBits32(v[0] | (v[1] << 8) | (v[2] << 16) | (v[3] << 24))));
    }
    let b = 0n;
    for (let i = Math.min(v.length, 8) - 1; i >= 0; i--) b = (b << 8n) | BigInt(v[i]);
    return decodeDouble(b);
  }
  if (typeof v === 'bigint') {
    return size === 4 ? decodeDouble(doubleBits(floatFromBits32(Number(BigInt.asUintN(32, v))))) : decodeDouble(v);
  }
  const x = typeof v === 'number' ? v : 0;
  return decodeDouble(doubleBits(size === 4 ? Math.fround(x) : x));
}

/**
 * pfprint_stack for %k: `frames` are the stack's symbolized frames separated by newlines. The
 * stack indent becomes the width for a left-aligned field (and the field itself then has no
 * width) or a negative dynamic width, else 0.
 */
function formatStackConv(
  frames: string,
  cv: FormatConv,
  flags: number,
  width: number,
  dynwidth: number,
  prec: number,
): string {
  const staticLeft = (cv.flags & F_LEFT) !== 0;
  const indent = dynwidth < 0 ? -dynwidth : staticLeft ? dynwidth || cv.width : 0;
  return formatStack(
    frames === '' ? [] : frames.split('\n'),
    indent,
    staticLeft ? 0 : width,
    prec,
    (flags & F_LEFT) !== 0,
  );
}

/**
 * dt_print_stack's layout: a newline, then each frame on its own line after `indent` spaces
 * (the stackindent option, 14 by default, for trace(stack()) and printa's default output).
 */
export function formatStack(
  frames: readonly string[],
  indent = 14,
  width = 0,
  prec = -1,
  left = false,
): string {
  const pad = indent > 0 ? ' '.repeat(indent) : '';
  let s = '\n';
  for (const f of frames) s += pad + fmtString(f, left ? F_LEFT : 0, width, prec) + '\n';
  return s;
}
