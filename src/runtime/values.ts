// Run-time values. Each D type has exactly one representation (lang/types.ts `Repr`):
//   integers of at most 32 bits, enums     -> number (normalised to the type's range)
//   64-bit integers, pointers              -> bigint (normalised with BigInt.asIntN/asUintN(64))
//   string                                 -> string, one char per byte (latin1)
//   struct, union, array                   -> Uint8Array of the value's bytes (little-endian)

export type Value = number | bigint | string | Uint8Array;

/** A value as a 64-bit two's complement BigInt (for printing and arithmetic across widths). */
export function toBig(v: Value): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  return 0n;
}
