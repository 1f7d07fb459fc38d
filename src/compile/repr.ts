// How generated JavaScript holds and converts D values of each type (lang/types.ts Repr).

import { DType, Kind, Repr, reprOf, resolve } from '../lang/types.js';

/** The JavaScript source of the zero value of a type (Bytes types get a fresh buffer). */
export function zeroCode(t: DType): string {
  switch (reprOf(t)) {
    case Repr.Num:
      return '0';
    case Repr.Big:
      return '0n';
    case Repr.Str:
      return '""';
    case Repr.Bytes:
      return `new Uint8Array(${resolve(t).size})`;
    default:
      return 'undefined';
  }
}

/** A literal integer in the representation of `t`. */
export function intLiteral(v: bigint, t: DType): string {
  const r = resolve(t);
  const bits = Math.max(1, r.size) * 8;
  if (reprOf(t) === Repr.Big) {
    const n = r.signed ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v);
    return `${n}n`;
  }
  const n = r.signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v);
  return n < 0n ? `(${n})` : `${n}`;
}

/** Normalises a Number-represented integer expression to the range of `t`. */
export function narrowNum(code: string, t: DType): string {
  const r = resolve(t);
  const size = r.kind === Kind.Enum ? 4 : r.size;
  if (r.kind === Kind.Int && r.name === '_Bool') return `((${code}) !== 0 ? 1 : 0)`;
  switch (size) {
    case 1:
      return r.signed ? `((${code}) << 24 >> 24)` : `((${code}) & 255)`;
    case 2:
      return r.signed ? `((${code}) << 16 >> 16)` : `((${code}) & 65535)`;
    default:
      return r.signed ? `((${code}) | 0)` : `((${code}) >>> 0)`;
  }
}

/** Normalises a BigInt-represented integer expression to the range of `t` (64-bit). */
export function narrowBig(code: string, t: DType): string {
  return resolve(t).signed || resolve(t).kind === Kind.Enum ? `BigInt.asIntN(64, ${code})` : `BigInt.asUintN(64, ${code})`;
}

/** Whether values of this integer type (as a Num) are already within `to`'s range. */
function numFits(from: DType, to: DType): boolean {
  const f = resolve(from);
  const t = resolve(to);
  const fs = f.kind === Kind.Enum ? 4 : f.size;
  const ts = t.kind === Kind.Enum ? 4 : t.size;
  const fsigned = f.signed || f.kind === Kind.Enum;
  const tsigned = t.signed || t.kind === Kind.Enum;
  if (t.name === '_Bool') return f.name === '_Bool';
  if (fs === ts) return fsigned === tsigned;
  if (fs < ts) return tsigned || !fsigned;
  return false;
}

/**
 * Converts integer/pointer code from type `from` to type `to`, as a C cast does (the value
 * is reduced modulo 2^bits of the target and read with its signedness).
 */
export function convertScalar(code: string, from: DType, to: DType): string {
  const fr = reprOf(from);
  const tr = reprOf(to);
  if (fr === Repr.Num && tr === Repr.Num) return numFits(from, to) ? code : narrowNum(code, to);
  if (fr === Repr.Big && tr === Repr.Big) {
    const fs = resolve(from).signed && resolve(from).kind !== Kind.Pointer;
    const ts = resolve(to).signed && resolve(to).kind !== Kind.Pointer;
    return fs === ts ? code : narrowBig(code, to);
  }
  if (fr === Repr.Num && tr === Repr.Big) {
    const fsigned = resolve(from).signed || resolve(from).kind === Kind.Enum;
    const tsigned = resolve(to).signed && resolve(to).kind !== Kind.Pointer;
    if (!fsigned || tsigned) return `BigInt(${code})`;
    return `BigInt.asUintN(64, BigInt(${code}))`;
  }
  if (fr === Repr.Big && tr === Repr.Num) {
    const t = resolve(to);
    const bits = (t.kind === Kind.Enum ? 4 : t.size) * 8;
    if (t.name === '_Bool') return `((${code}) !== 0n ? 1 : 0)`;
    return t.signed || t.kind === Kind.Enum ? `Number(BigInt.asIntN(${bits}, ${code}))` : `Number(BigInt.asUintN(${bits}, ${code}))`;
  }
  return code;
}

/** The JavaScript truth test of a scalar value of type `t`. */
export function truthCode(code: string, t: DType): string {
  switch (reprOf(t)) {
    case Repr.Num:
      return `(${code}) !== 0`;
    case Repr.Big:
      return `(${code}) !== 0n`;
    case Repr.Str:
      return `(${code}) !== ""`;
    default:
      return 'true';
  }
}

/** Load/store accessor suffix for an integer or pointer type: i8 u8 i16 u16 i32 u32 i64 u64. */
export type Accessor = `${'i' | 'u'}${8 | 16 | 32 | 64}`;

export function accessor(t: DType): Accessor {
  const r = resolve(t);
  const size = r.kind === Kind.Enum ? 4 : r.kind === Kind.Pointer ? 8 : r.size;
  const signed = (r.signed || r.kind === Kind.Enum) && r.kind !== Kind.Pointer;
  return `${signed ? 'i' : 'u'}${(size * 8) as 8 | 16 | 32 | 64}`;
}
