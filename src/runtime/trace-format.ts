// How DTrace prints data without a format: trace(), tracemem(), printa()'s default keys and
// values, and print()'s typed layout.        [dt_consume.c dt_print_trace, dt_print_rawbytes,
//                                             dt_print_bytes, dt_print_datum; dt_printf.c
//                                             dt_print_type]

import { DType, Kind, isCharArray, resolve } from '../lang/types.js';
import { cString, isSignedArg } from './printf.js';
import { doubleBits } from './printf-num.js';
import type { Value } from './values.js';

export interface TraceFormatOptions {
  /** the rawbytes option: every traced value is shown as a hex dump */
  rawbytes?: boolean;
  /** the strsize option, for string types of no size: a string's record holds strsize + 1 bytes
   *  (a string type's size is the strsize it was compiled with) */
  strsize?: number;
}

const DEFAULT_STRSIZE = 256;

// -- byte images -------------------------------------------------------------------------------

/** The record a string is traced into: its bytes, NUL-padded to strsize + 1. */
export function stringRecord(s: string, strsize: number): Uint8Array {
  const n = Math.max(strsize + 1, 1);
  const b = new Uint8Array(n);
  const len = Math.min(s.length, n - 1);
  for (let i = 0; i < len; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

/** A scalar's little-endian bytes at the given size. */
export function scalarBytes(v: Value, size: number): Uint8Array {
  const b = new Uint8Array(size);
  if (v instanceof Uint8Array) {
    b.set(v.subarray(0, size));
    return b;
  }
  let x = typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(Math.trunc(v)) : 0n;
  x = BigInt.asUintN(size * 8, x);
  for (let i = 0; i < size; i++) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return b;
}

/** A float's record: its IEEE bits (a number is the value, a bigint already the bits). */
function floatBits(v: Value, size: number): Value {
  if (typeof v !== 'number') return v;
  if (size === 4) {
    const f = new Float32Array([v]);
    return new Uint32Array(f.buffer)[0];
  }
  return doubleBits(v);
}

/** The bytes DTrace records for a value of type t (a string: its type's size + 1). */
export function recordBytes(t: DType, v: Value, strsize = DEFAULT_STRSIZE): Uint8Array {
  const r = resolve(t);
  if (r.kind === Kind.String) {
    return stringRecord(typeof v === 'string' ? v : cString(v), r.size > 0 ? r.size : strsize);
  }
  if (v instanceof Uint8Array) {
    if (v.length === r.size || r.size === 0) return v;
    const b = new Uint8Array(r.size);
    b.set(v.subarray(0, r.size));
    return b;
  }
  return scalarBytes(r.kind === Kind.Float ? floatBits(v, r.size) : v, r.size);
}

// -- hex dumps -----------------------------------------------------------------------------------

const HEADER = '\n' + ' '.repeat(11) + '  0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f  0123456789abcdef\n';
const HEX = '0123456789abcdef';

/**
 * A record's bytes: those of a byte image, or of a string (a D string is Latin-1, one byte a
 * character); the record may be longer than its value (a string in a strsize record), and
 * the bytes past the value are NULs.
 */
export type ByteRecord = Uint8Array | string;

function byteAt(v: ByteRecord, i: number): number {
  if (i >= v.length) return 0;
  return typeof v === 'string' ? v.charCodeAt(i) & 0xff : v[i];
}

/**
 * dt_print_rawbytes: the first n bytes of a record as rows of 16 in hex and as characters,
 * under a header line; nothing at all for n = 0. Also tracemem()'s output.
 */
export function formatRawBytes(v: ByteRecord, n = v.length): string {
  if (n <= 0) return '';
  let s = HEADER;
  for (let i = 0; i < n; i += 16) {
    const off = i.toString(16);
    s += ' '.repeat(5) + (off.length < 5 ? ' '.repeat(5 - off.length) : '') + off + ':';
    let j = i;
    for (; j < i + 16 && j < n; j++) {
      const b = byteAt(v, j);
      s += ' ' + HEX[b >> 4] + HEX[b & 15];
    }
    for (; j % 16 !== 0; j++) s += '   ';
    s += '  ';
    for (j = i; j < i + 16 && j < n; j++) {
      const c = byteAt(v, j);
      s += c < 0x20 || c > 0x7e ? '.' : String.fromCharCode(c);
    }
    s += '\n';
  }
  return s;
}

/** tracemem(addr, size[, dsize]): the dump of the first n recorded bytes (at most bytes.length). */
export function formatTracemem(bytes: Uint8Array, n = bytes.length): string {
  return formatRawBytes(bytes, Math.min(n, bytes.length));
}

/**
 * How many of tracemem()'s `size` bytes are printed given the dynamic size argument (of type
 * dsizeType): dt_print_tracemem takes the smaller of the two unless a signed dsize is
 * negative. The sign test copies C's `1 << (bits - 1)` on an int, which for a 64-bit dsize
 * tests every bit from 31 up.
 */
export function tracememLength(size: number, dsize: Value, dsizeType: DType): number {
  const dsz = resolve(dsizeType).size;
  const bytes = dsz === 1 || dsz === 2 || dsz === 4 || dsz === 8 ? dsz : 8;
  const d = BigInt.asUintN(bytes * 8, typeof dsize === 'bigint' ? dsize : BigInt(Math.trunc(Number(dsize))));
  let positive = true;
  if (isSignedArg(dsizeType)) {
    const mask = bytes === 1 ? 0x80n : bytes === 2 ? 0x8000n : 0xffffffff80000000n;
    positive = (d & mask) === 0n;
  }
  return positive && d < BigInt(size) ? Number(d) : size;
}

// -- trace() -------------------------------------------------------------------------------------

/**
 * The output of trace(v) for a value of type t (dt_print_trace). Not quiet: integers
 * right-aligned after a space (widths 3/5/10/19 signed, 3/5/10/20 unsigned by size), strings
 * "  %-33s"; quiet: bare. A char array (pr_fname, pr_psargs) is text if it looks like text, as
 * illumos's dt_print_bytes decides (Oracle's 2.x dumps it; scripts written for DTrace expect
 * text); structs, unions, other arrays and long doubles are hex dumps, as is everything under
 * the rawbytes option. Enums and pointers print unsigned.
 */
export function formatTraceValue(t: DType, v: Value, quiet: boolean, opts: TraceFormatOptions = {}): string {
  const r = resolve(t);
  const strsize = opts.strsize ?? DEFAULT_STRSIZE;
  if (opts.rawbytes) return formatRawBytes(recordBytes(t, v, strsize));
  if (r.kind === Kind.String) {
    const s = cString(v);
    return quiet ? s : '  ' + (s.length < 33 ? s + ' '.repeat(33 - s.length) : s);
  }
  const size = r.size;
  const scalar =
    r.kind === Kind.Int || r.kind === Kind.Enum || r.kind === Kind.Pointer || (r.kind === Kind.Float && size <= 8);
  if (!scalar || v instanceof Uint8Array || typeof v === 'string') {
    const bytes = recordBytes(t, v, strsize);
    return isCharArray(t) ? formatBytesDatum(bytes, 33, quiet) : formatRawBytes(bytes);
  }
  const x = r.kind === Kind.Float ? floatBits(v, size) : v;
  let s: string;
  let w: number;
  // an integer within 2^53 (a Number, or a BigInt of 64 bits): its digits without BigInt work
  if (r.kind === Kind.Int || r.kind === Kind.Pointer || r.kind === Kind.Enum) {
    const t = intText(x, size, r.kind === Kind.Int && r.signed);
    if (t !== null) {
      w = size === 8 ? (r.kind === Kind.Int && r.signed ? 19 : 20) : size === 4 ? 10 : size === 2 ? 5 : 3;
      return quiet ? t : ' ' + (t.length < w ? ' '.repeat(w - t.length) + t : t);
    }
  }
  if (r.kind === Kind.Int && r.signed) {
    switch (size) {
      case 8:
        s = BigInt.asIntN(64, toBig(x)).toString();
        w = 19;
        break;
      case 4:
        s = String(Number(BigInt.asIntN(32, toBig(x))));
        w = 10;
        break;
      case 2:
        s = String(Number(BigInt.asIntN(16, toBig(x))));
        w = 5;
        break;
      case 1:
        s = String(Number(BigInt.asIntN(8, toBig(x))));
        w = 3;
        break;
      default:
        return formatRawBytes(recordBytes(t, v, strsize));
    }
  } else {
    switch (size) {
      case 8:
        w = 20;
        break;
      case 4:
        w = 10;
        break;
      case 2:
        w = 5;
        break;
      case 1:
        w = 3;
        break;
      default:
        return formatRawBytes(recordBytes(t, v, strsize));
    }
    s = BigInt.asUintN(size * 8, toBig(x)).toString();
  }
  return quiet ? s : ' ' + (s.length < w ? ' '.repeat(w - s.length) + s : s);
}

const SAFE = 9007199254740991;

/** The decimal text of an integer record of `size` bytes where Numbers do it exactly, else null. */
function intText(x: Value, size: number, signed: boolean): string | null {
  if (typeof x === 'number') {
    if (!Number.isInteger(x)) return null;
    switch (size) {
      case 4:
        return String(signed ? x | 0 : x >>> 0);
      case 2:
        return String(signed ? (x << 16) >> 16 : x & 0xffff);
      case 1:
        return String(signed ? (x << 24) >> 24 : x & 0xff);
      case 8:
        return x <= SAFE && (signed ? x >= -SAFE : x >= 0) ? String(x) : null;
      default:
        return null;
    }
  }
  if (typeof x === 'bigint' && size === 8 && x <= 9007199254740991n && (signed ? x >= -9007199254740991n : x >= 0n)) return String(Number(x));
  return null;
}

function toBig(v: Value): bigint {
  return typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(Math.trunc(v)) : 0n;
}

// -- printa() without a format -------------------------------------------------------------------

/**
 * dt_print_bytes: a byte record of n bytes as a string if it is printable text (optionally
 * NUL-terminated, then NULs to the end), as "  %-*s"; otherwise a hex dump. `quiet` prints a
 * terminated string bare. Used by trace() of a char array and by printa() for byte-valued keys.
 */
export function formatBytesDatum(v: ByteRecord, width = 50, quiet = false, rawbytes = false, n = v.length, packed = false): string {
  if (n === 0) return '';
  if (rawbytes) return formatRawBytes(v, n);
  // past the value's own bytes the record holds NULs: no need to look at them (strsize may be huge)
  const end = Math.min(n, v.length);
  let i = 0;
  for (; i < n; i++) {
    const c = byteAt(v, i);
    // isprint() || isspace() || '\b' || '\a' in the C locale
    if ((c >= 0x20 && c <= 0x7e) || (c >= 0x07 && c <= 0x0d)) continue;
    if (c === 0 && i > 0) {
      let j = i + 1;
      while (j < end && byteAt(v, j) === 0) j++;
      if (j < end) break;
      const s = text(v, i);
      // packed (agghist, aggpack): " %*s", right-aligned; else " %s%-*s"
      if (packed && !quiet) return ' ' + s.padStart(width);
      return quiet ? s : '  ' + (s.length < width ? s + ' '.repeat(width - s.length) : s);
    }
    break;
  }
  if (i === n) {
    const s = text(v, n);
    return '  ' + (s.length < width ? s + ' '.repeat(width - s.length) : s);
  }
  return formatRawBytes(v, n);
}

/** The first len characters of a record's text. */
function text(v: ByteRecord, len: number): string {
  if (typeof v === 'string') return v.length > len ? v.slice(0, len) : v;
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(v[i]);
  return s;
}

/**
 * One aggregation key as printa() prints it without a format (dt_print_datum, normal 1): by
 * record size " %16lld" (8 bytes), " %8d" (4, as a signed int), " %5d" (2) and " %3d" (1, both
 * zero-extended); strings and other by-reference data through formatBytesDatum, width 50.
 * (stack(), sym() and the like are printed by their own code.)
 */
export function formatAggKey(t: DType, v: Value, opts: TraceFormatOptions = {}): string {
  const r = resolve(t);
  const strsize = opts.strsize ?? DEFAULT_STRSIZE;
  const scalar =
    (r.kind === Kind.Int || r.kind === Kind.Enum || r.kind === Kind.Pointer || r.kind === Kind.Float) &&
    !(v instanceof Uint8Array) &&
    typeof v !== 'string';
  if (scalar) {
    const x = toBig(r.kind === Kind.Float ? floatBits(v, r.size) : v);
    switch (r.size) {
      case 8:
        return ' ' + padLeft(BigInt.asIntN(64, x).toString(), 16);
      case 4:
        return ' ' + padLeft(String(Number(BigInt.asIntN(32, x))), 8);
      case 2:
        return ' ' + padLeft(String(Number(BigInt.asUintN(16, x))), 5);
      case 1:
        return ' ' + padLeft(String(Number(BigInt.asUintN(8, x))), 3);
    }
  }
  return formatBytesDatum(recordBytes(t, v, strsize), 50, false, opts.rawbytes ?? false);
}

/**
 * A scalar aggregation result as printa() prints it without a format: " %16lld" (count, sum,
 * min, max, avg) or, with `unsigned`, " %16llu" (stddev). The value is already normalized.
 */
export function formatAggValue(v: number | bigint, unsigned = false): string {
  const x = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
  return ' ' + padLeft((unsigned ? BigInt.asUintN(64, x) : BigInt.asIntN(64, x)).toString(), 16);
}

function padLeft(s: string, w: number): string {
  return s.length < w ? ' '.repeat(w - s.length) + s : s;
}
