// C printf's field formatting, as glibc renders it for the conversions DTrace passes on to
// printf(3): flags, width and precision around integer, character, string and floating-point
// conversions.                                                  [dt_printf.c dt_printf_format]
//
// Floating-point output is exact (the binary value's full decimal expansion, rounded half to
// even, as glibc does) so it is computed with BigInt; D programs rarely print floats.

import { F_ALT, F_LEFT, F_SPACE, F_SPOS, F_ZPAD } from '../lang/printf-parse.js';

/** Pads `s` with spaces to `width`, on the right if `left`. */
export function padField(s: string, width: number, left: boolean): string {
  const n = width - s.length;
  if (n <= 0) return s;
  return left ? s + ' '.repeat(n) : ' '.repeat(n) + s;
}

/**
 * Lays out an integer conversion: `sign` ('' '-' '+' ' '), `prefix` ('' '0x' '0X'), the
 * magnitude's `digits`; `prec` < 0 when none was given.
 */
export function layoutInt(
  sign: string,
  prefix: string,
  digits: string,
  flags: number,
  width: number,
  prec: number,
): string {
  if (prec >= 0) {
    if (prec === 0 && digits === '0') digits = '';
    else if (digits.length < prec) digits = '0'.repeat(prec - digits.length) + digits;
  }
  const len = sign.length + prefix.length + digits.length;
  if (len >= width) return sign + prefix + digits;
  if (flags & F_LEFT) return sign + prefix + digits + ' '.repeat(width - len);
  if (flags & F_ZPAD && prec < 0) return sign + prefix + '0'.repeat(width - len) + digits;
  return ' '.repeat(width - len) + sign + prefix + digits;
}

/** %d / %i of a signed value. */
export function fmtSigned(v: number | bigint, flags: number, width: number, prec: number): string {
  let digits: string;
  let sign: string;
  if (v < 0) {
    sign = '-';
    digits = (-v).toString();
  } else {
    sign = flags & F_SPOS ? '+' : flags & F_SPACE ? ' ' : '';
    digits = v.toString();
  }
  return layoutInt(sign, '', digits, flags, width, prec);
}

/** %u %o %x %X of a non-negative value; `conv` is the conversion character. */
export function fmtUnsigned(v: number | bigint, conv: string, flags: number, width: number, prec: number): string {
  switch (conv) {
    case 'o': {
      let digits = v.toString(8);
      if (flags & F_ALT) {
        if (prec > digits.length) digits = '0'.repeat(prec - digits.length) + digits;
        if (digits.charCodeAt(0) !== 48) digits = '0' + digits;
      }
      return layoutInt('', '', digits, flags, width, prec);
    }
    case 'x':
      return layoutInt('', flags & F_ALT && v != 0 ? '0x' : '', v.toString(16), flags, width, prec);
    case 'X':
      return layoutInt('', flags & F_ALT && v != 0 ? '0X' : '', v.toString(16).toUpperCase(), flags, width, prec);
    default:
      return layoutInt('', '', v.toString(), flags, width, prec);
  }
}

/** %s: at most `prec` characters (prec < 0: all), space-padded to width. */
export function fmtString(s: string, flags: number, width: number, prec: number): string {
  if (prec >= 0 && s.length > prec) s = s.substring(0, prec);
  return width > s.length ? padField(s, width, (flags & F_LEFT) !== 0) : s;
}

// -- floating point ----------------------------------------------------------------------------

const F64 = new Float64Array(1);
const U64 = new BigUint64Array(F64.buffer);
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** A binary floating-point value: (-1)^neg * mant * 2^exp, or an infinity / NaN. */
export interface BinFloat {
  neg: boolean;
  mant: bigint;
  exp: number;
  special: '' | 'inf' | 'nan';
}

export function doubleBits(x: number): bigint {
  F64[0] = x;
  return U64[0];
}

export function floatFromBits32(bits: number): number {
  U32[0] = bits >>> 0;
  return F32[0];
}

/** Decomposes an IEEE-754 binary64 bit pattern. */
export function decodeDouble(bits: bigint): BinFloat {
  bits = BigInt.asUintN(64, bits);
  const neg = bits >> 63n === 1n;
  const e = Number((bits >> 52n) & 0x7ffn);
  const f = bits & 0xfffffffffffffn;
  if (e === 0x7ff) return { neg, mant: 0n, exp: 0, special: f === 0n ? 'inf' : 'nan' };
  if (e === 0) return { neg, mant: f, exp: -1074, special: '' };
  return { neg, mant: f | 0x10000000000000n, exp: e - 1075, special: '' };
}

/** Decomposes an x87 80-bit extended value held in the first 10 bytes (long double). */
export function decodeLongDouble(b: Uint8Array): BinFloat {
  let mant = 0n;
  for (let i = 7; i >= 0; i--) mant = (mant << 8n) | BigInt(b[i] ?? 0);
  const se = (b[8] ?? 0) | ((b[9] ?? 0) << 8);
  const neg = (se & 0x8000) !== 0;
  const e = se & 0x7fff;
  if (e === 0x7fff) {
    return { neg, mant: 0n, exp: 0, special: (mant & 0x7fffffffffffffffn) === 0n ? 'inf' : 'nan' };
  }
  return { neg, mant, exp: (e === 0 ? 1 : e) - 16383 - 63, special: '' };
}

const LOG10_2 = Math.log10(2);
const POW10: bigint[] = [1n];
/** Powers of ten a double's digits need are kept; larger ones (long doubles) are computed. */
const POW10_KEPT = 400;
function pow10(n: number): bigint {
  if (n > POW10_KEPT) return 10n ** BigInt(n);
  while (POW10.length <= n) POW10.push(POW10[POW10.length - 1] * 10n);
  return POW10[n];
}

/** round-half-even(mant * 2^exp * 10^s) */
function scaleRound(mant: bigint, exp: number, s: number): bigint {
  let num = mant;
  let den = 1n;
  if (s >= 0) num *= pow10(s);
  else den = pow10(-s);
  if (exp >= 0) num <<= BigInt(exp);
  else den <<= BigInt(-exp);
  if (den === 1n) return num;
  const q = num / den;
  const r2 = (num - q * den) * 2n;
  if (r2 > den || (r2 === den && (q & 1n) === 1n)) return q + 1n;
  return q;
}

/** floor(log10(mant * 2^exp)) for mant > 0 */
function decimalExponent(mant: bigint, exp: number): number {
  const bitlen = mant.toString(2).length;
  // mant * 2^exp is in [2^(bitlen-1+exp), 2^(bitlen+exp)); estimate, then correct exactly
  let e = Math.floor((bitlen - 1 + exp) * LOG10_2);
  for (;;) {
    // is 10^e <= v ?   compare mant * 2^exp with 10^e
    if (cmpPow10(mant, exp, e) < 0) e--;
    else if (cmpPow10(mant, exp, e + 1) >= 0) e++;
    else return e;
  }
}

/** sign(mant * 2^exp - 10^e) */
function cmpPow10(mant: bigint, exp: number, e: number): number {
  let l = mant;
  let r = 1n;
  if (exp >= 0) l <<= BigInt(exp);
  else r <<= BigInt(-exp);
  if (e >= 0) r *= pow10(e);
  else l *= pow10(-e);
  return l < r ? -1 : l > r ? 1 : 0;
}

function expSuffix(x: number, upper: boolean): string {
  const a = x < 0 ? -x : x;
  return (upper ? 'E' : 'e') + (x < 0 ? '-' : '+') + (a < 10 ? '0' + a : String(a));
}

/**
 * mant * 2^exp has at most max(0, -exp) fraction digits: past them every digit is 0, so a large
 * precision costs only its zeros, not a BigInt of that many digits.
 */
function exactFractionDigits(exp: number): number {
  return exp >= 0 ? 0 : -exp;
}

/** digits of round(v * 10^p) with the point inserted p places from the right */
function fixedDigits(mant: bigint, exp: number, p: number, alt: boolean): string {
  const zeros = Math.max(0, p - exactFractionDigits(exp));
  const q = p - zeros;
  let d = mant === 0n ? '0' : scaleRound(mant, exp, q).toString();
  if (d.length <= q) d = '0'.repeat(q + 1 - d.length) + d;
  if (p === 0) return alt ? d + '.' : d;
  const s = q === 0 ? d + '.' : d.substring(0, d.length - q) + '.' + d.substring(d.length - q);
  return zeros > 0 ? s + '0'.repeat(zeros) : s;
}

/** mantissa digits (p + 1 of them) and decimal exponent for %e */
function expDigits(mant: bigint, exp: number, p: number): [string, number] {
  if (mant === 0n) return ['0'.repeat(p + 1), 0];
  let x = decimalExponent(mant, exp);
  const exact = exactFractionDigits(exp);
  // every digit past the exact expansion is 0 (and nothing rounds)
  if (p - x > exact) return [scaleRound(mant, exp, exact).toString() + '0'.repeat(p - x - exact), x];
  let n = scaleRound(mant, exp, p - x);
  if (n >= pow10(p + 1)) {
    x++;
    n = scaleRound(mant, exp, p - x);
  }
  return [n.toString(), x];
}

function withPoint(digits: string, alt: boolean): string {
  if (digits.length === 1) return alt ? digits + '.' : digits;
  return digits[0] + '.' + digits.substring(1);
}

/** The body (no sign) of %e %E %f %g %G for a finite value; prec < 0: default 6. */
function floatBody(f: BinFloat, conv: string, prec: number, alt: boolean): string {
  const p = prec < 0 ? 6 : prec;
  switch (conv) {
    case 'f':
    case 'F':
      return fixedDigits(f.mant, f.exp, p, alt);
    case 'e':
    case 'E': {
      const [d, x] = expDigits(f.mant, f.exp, p);
      return withPoint(d, alt) + expSuffix(x, conv === 'E');
    }
    default: {
      // %g %G
      const P = p === 0 ? 1 : p;
      const [d, x] = expDigits(f.mant, f.exp, P - 1);
      let s: string;
      let suffix = '';
      if (P > x && x >= -4) {
        s = fixedDigits(f.mant, f.exp, P - 1 - x, alt);
      } else {
        // glibc quirk: when rounding carries a value that would print in style f (exponent
        // P - 1) up to exponent P, it switches to style e keeping style f's zero fraction
        // digits, so %#g of 999999.5 is "1.e+06" rather than "1.00000e+06"
        s = alt && x === P && decimalExponent(f.mant, f.exp) === P - 1 ? d[0] + '.' : withPoint(d, alt);
        suffix = expSuffix(x, conv === 'G');
      }
      if (!alt && s.indexOf('.') >= 0) {
        let end = s.length;
        while (s.charCodeAt(end - 1) === 48) end--;
        if (s.charCodeAt(end - 1) === 46) end--;
        s = s.substring(0, end);
      }
      return s + suffix;
    }
  }
}

/** A floating-point conversion (%e %E %f %g %G) of `f`, laid out in its field. */
export function fmtFloat(f: BinFloat, conv: string, flags: number, width: number, prec: number): string {
  const sign = f.neg ? '-' : flags & F_SPOS ? '+' : flags & F_SPACE ? ' ' : '';
  let body: string;
  let zpad = (flags & F_ZPAD) !== 0;
  if (f.special !== '') {
    const upper = conv === 'E' || conv === 'G' || conv === 'F';
    body = upper ? f.special.toUpperCase() : f.special;
    zpad = false;
  } else {
    body = floatBody(f, conv, prec, (flags & F_ALT) !== 0);
  }
  const len = sign.length + body.length;
  if (len >= width) return sign + body;
  if (flags & F_LEFT) return sign + body + ' '.repeat(width - len);
  if (zpad) return sign + '0'.repeat(width - len) + body;
  return ' '.repeat(width - len) + sign + body;
}
