// Integer expressions as DTrace evaluates them: in 64-bit registers. Narrow types matter only
// when a value is loaded (sign- or zero-extended), cast, or stored; arithmetic in between does
// not wrap at 32 bits, and signedness picks how compare, divide and shift read the register.
//
// Generated code keeps a value in a JS Number while its range provably fits in 2^53 (the
// common, fast case, STYLE rule 4) and switches to a BigInt otherwise. Each value carries its
// range [lo, hi] so the choice is made at compile time.

import { DType, Kind, resolve } from '../lang/types.js';
import { rtCall } from './abi-call.js';

/** A compiled integer (or pointer) value. */
export interface IntVal {
  code: string;
  /** held in a BigInt (else a Number) */
  big: boolean;
  /** bounds of the value as its type reads it (the register read signed or unsigned) */
  lo: bigint;
  hi: bigint;
  /** a BigInt is normalised with asIntN(64) (true) or asUintN(64) (false) */
  sig: boolean;
}

const SAFE = 2n ** 53n - 1n;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;

export function typeSigned(t: DType): boolean {
  const r = resolve(t);
  return (r.signed || r.kind === Kind.Enum) && r.kind !== Kind.Pointer;
}

export function typeSize(t: DType): number {
  const r = resolve(t);
  if (r.kind === Kind.Enum) return 4;
  if (r.kind === Kind.Pointer || r.kind === Kind.Array || r.kind === Kind.String) return 8;
  return Math.max(1, r.size);
}

export function typeRange(t: DType): [bigint, bigint] {
  const bits = BigInt(typeSize(t) * 8);
  if (resolve(t).name === '_Bool') return [0n, 1n];
  return typeSigned(t) ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
}

function fitsNumber(lo: bigint, hi: bigint): boolean {
  return lo >= -SAFE && hi <= SAFE;
}

/** A value loaded from storage of type t (its storage representation). */
export function loaded(code: string, t: DType): IntVal {
  const [lo, hi] = typeRange(t);
  return { code, big: typeSize(t) === 8, lo, hi, sig: typeSigned(t) };
}

export function constant(v: bigint): IntVal {
  if (v >= -SAFE && v <= SAFE) return { code: v < 0n ? `(${v})` : `${v}`, big: false, lo: v, hi: v, sig: true };
  const sig = v < 0n || v <= I64_MAX;
  return { code: `${v}n`, big: true, lo: v, hi: v, sig };
}

/** The value as a BigInt read signed (asIntN) or unsigned (asUintN). */
export function asBig(v: IntVal, signed: boolean): string {
  if (v.big) {
    if (v.sig === signed) return v.code;
    return signed ? `BigInt.asIntN(64, ${v.code})` : `BigInt.asUintN(64, ${v.code})`;
  }
  if (signed || v.lo >= 0n) return v.lo === v.hi ? `${v.lo}n` : `BigInt(${v.code})`;
  return `BigInt.asUintN(64, BigInt(${v.code}))`;
}

/** Bounds of v read with the given signedness. */
function rangeAs(v: IntVal, signed: boolean): [bigint, bigint] {
  if (signed) {
    if (v.hi > I64_MAX) return [I64_MIN, I64_MAX];
    return [v.lo, v.hi];
  }
  if (v.lo < 0n) return [0n, U64_MAX];
  return [v.lo, v.hi];
}

function bigResult(code: string, signed: boolean): IntVal {
  return {
    code: signed ? `BigInt.asIntN(64, ${code})` : `BigInt.asUintN(64, ${code})`,
    big: true,
    lo: signed ? I64_MIN : 0n,
    hi: signed ? I64_MAX : U64_MAX,
    sig: signed,
  };
}

/** +, -, * in 64-bit registers, read with the result type's signedness. */
export function addSubMul(op: '+' | '-' | '*', l: IntVal, r: IntVal, signed: boolean): IntVal {
  const [llo, lhi] = rangeAs(l, signed);
  const [rlo, rhi] = rangeAs(r, signed);
  let lo: bigint;
  let hi: bigint;
  if (op === '+') {
    lo = llo + rlo;
    hi = lhi + rhi;
  } else if (op === '-') {
    lo = llo - rhi;
    hi = lhi - rlo;
  } else {
    const p = [llo * rlo, llo * rhi, lhi * rlo, lhi * rhi];
    lo = p.reduce((a, b) => (a < b ? a : b));
    hi = p.reduce((a, b) => (a > b ? a : b));
  }
  const ok = !l.big && !r.big && fitsNumber(lo, hi) && (signed || lo >= 0n) && fitsNumber(llo, lhi) && fitsNumber(rlo, rhi);
  if (ok && (signed || (l.lo >= 0n && r.lo >= 0n))) return { code: `(${l.code} ${op} ${r.code})`, big: false, lo, hi, sig: true };
  return bigResult(`${asBig(l, signed)} ${op} ${asBig(r, signed)}`, signed);
}

/** / and % (Oracle's signed algorithm: both operands made positive, the result negated when
 * exactly one was negative, for the remainder too). Division by zero faults. */
export function divMod(op: '/' | '%', l: IntVal, r: IntVal, signed: boolean): IntVal {
  const [llo, lhi] = rangeAs(l, signed);
  const mag = llo < 0n ? (-llo > lhi ? -llo : lhi) : lhi;
  if (!l.big && !r.big && (signed || (l.lo >= 0n && r.lo >= 0n))) {
    return { code: rtCall(op === '/' ? 'ndiv' : 'nmod', l.code, r.code), big: false, lo: -mag, hi: mag, sig: true };
  }
  const v = bigResult('', signed);
  v.code = rtCall(op === '/' ? 'bdiv' : 'bmod', asBig(l, signed), asBig(r, signed), signed);
  return v;
}

const I32_MIN = -(2n ** 31n);
const I32_MAX = 2n ** 31n - 1n;
const U32_MAX = 2n ** 32n - 1n;

function inInt32(v: IntVal): boolean {
  return !v.big && v.lo >= I32_MIN && v.hi <= I32_MAX;
}

function inUint32(v: IntVal): boolean {
  return !v.big && v.lo >= 0n && v.hi <= U32_MAX;
}

export function bitwise(op: '&' | '|' | '^', l: IntVal, r: IntVal, signed: boolean): IntVal {
  if (inInt32(l) && inInt32(r) && signed) {
    return { code: `(${l.code} ${op} ${r.code})`, big: false, lo: I32_MIN, hi: I32_MAX, sig: true };
  }
  if (inUint32(l) && inUint32(r)) {
    return { code: `((${l.code} ${op} ${r.code}) >>> 0)`, big: false, lo: 0n, hi: U32_MAX, sig: true };
  }
  if (op === '&' && ((inUint32(l) && l.lo >= 0n) || (inUint32(r) && r.lo >= 0n)) && (inInt32(l) || inUint32(l)) && (inInt32(r) || inUint32(r))) {
    // masking with a non-negative 32-bit value gives a non-negative 32-bit value
    return { code: `((${l.code} & ${r.code}) >>> 0)`, big: false, lo: 0n, hi: U32_MAX, sig: true };
  }
  return bigResult(`${asBig(l, signed)} ${op} ${asBig(r, signed)}`, signed);
}

export function complement(v: IntVal, signed: boolean): IntVal {
  if (inInt32(v) && signed) return { code: `(~${v.code})`, big: false, lo: I32_MIN, hi: I32_MAX, sig: true };
  return bigResult(`~${asBig(v, signed)}`, signed);
}

export function negate(v: IntVal, signed: boolean): IntVal {
  const [lo, hi] = rangeAs(v, signed);
  if (!v.big && signed && fitsNumber(-hi, -lo)) return { code: `(-${v.code})`, big: false, lo: -hi, hi: -lo, sig: true };
  return bigResult(`-${asBig(v, signed)}`, signed);
}

export function shift(op: '<<' | '>>', l: IntVal, r: IntVal, signed: boolean): IntVal {
  const amount = r.lo === r.hi ? Number(r.lo & 63n) : -1;
  if (op === '<<') {
    if (amount >= 0 && !l.big) {
      const f = 2n ** BigInt(amount);
      const [llo, lhi] = rangeAs(l, signed);
      const lo = llo * f;
      const hi = lhi * f;
      if (fitsNumber(lo, hi) && (signed || lo >= 0n)) return { code: `(${l.code} * ${f})`, big: false, lo, hi, sig: true };
    }
    return bigResult(`${asBig(l, signed)} << (${asBig(r, false)} & 63n)`, signed);
  }
  // >>: arithmetic for signed types, logical for unsigned ones
  if (!l.big && amount >= 0 && (signed || l.lo >= 0n)) {
    const [llo, lhi] = rangeAs(l, signed);
    const f = 2n ** BigInt(amount);
    return { code: `Math.floor(${l.code} / ${f})`, big: false, lo: llo < 0n ? llo / f - 1n : llo / f, hi: lhi / f, sig: true };
  }
  const sh = `(${asBig(l, signed)} >> (${asBig(r, false)} & 63n))`;
  return { code: sh, big: true, lo: signed ? I64_MIN : 0n, hi: signed ? I64_MAX : U64_MAX, sig: signed };
}

/** A comparison, as a JS boolean expression, with the promoted type's signedness. */
export function compare(op: string, l: IntVal, r: IntVal, signed: boolean): string {
  const jsop = op === '==' ? '===' : op === '!=' ? '!==' : op;
  const numOk = (v: IntVal) => !v.big && (signed || v.lo >= 0n);
  if (numOk(l) && numOk(r)) return `(${l.code} ${jsop} ${r.code})`;
  return `(${asBig(l, signed)} ${jsop} ${asBig(r, signed)})`;
}

export function truth(v: IntVal): string {
  return v.big ? `(${v.code} !== 0n)` : `(${v.code} !== 0)`;
}

/** The value converted to the storage representation of type t (truncated as a cast does). */
export function toStorage(v: IntVal, t: DType): string {
  const size = typeSize(t);
  const signed = typeSigned(t);
  const [tlo, thi] = typeRange(t);
  if (resolve(t).name === '_Bool') return v.big ? `(${v.code} !== 0n ? 1 : 0)` : `(${v.code} !== 0 ? 1 : 0)`;
  if (size === 8) {
    if (v.big) return v.sig === signed ? v.code : asBig(v, signed);
    if (v.lo >= tlo && v.hi <= thi) return v.lo === v.hi ? `${v.lo}n` : `BigInt(${v.code})`;
    return asBig(v, signed);
  }
  if (!v.big) {
    if (v.lo >= tlo && v.hi <= thi) return v.code;
    switch (size) {
      case 1:
        return signed ? `(${v.code} << 24 >> 24)` : `(${v.code} & 255)`;
      case 2:
        return signed ? `(${v.code} << 16 >> 16)` : `(${v.code} & 65535)`;
      default:
        return signed ? `(${v.code} | 0)` : `(${v.code} >>> 0)`;
    }
  }
  const bits = size * 8;
  return signed ? `Number(BigInt.asIntN(${bits}, ${v.code}))` : `Number(BigInt.asUintN(${bits}, ${v.code}))`;
}

/** Union of two values' ranges and representations (the arms of ?:). */
export function join(a: IntVal, b: IntVal, signed: boolean): [string, string, IntVal] {
  if (!a.big && !b.big) {
    const lo = a.lo < b.lo ? a.lo : b.lo;
    const hi = a.hi > b.hi ? a.hi : b.hi;
    return [a.code, b.code, { code: '', big: false, lo, hi, sig: true }];
  }
  return [asBig(a, signed), asBig(b, signed), { code: '', big: true, lo: signed ? I64_MIN : 0n, hi: signed ? I64_MAX : U64_MAX, sig: signed }];
}
