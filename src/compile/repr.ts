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
