// Run-time values. Each D type has exactly one representation (lang/types.ts `Repr`):
//   integers of at most 32 bits, enums     -> number (normalised to the type's range)
//   64-bit integers, pointers              -> bigint (normalised with BigInt.asIntN/asUintN(64))
//   string                                 -> string, one char per byte (latin1), at most
//                                             strsize chars; null is D's NULL string
//   struct, union, array                   -> Uint8Array of the value's bytes (little-endian)

export type Value = number | bigint | string | Uint8Array;

/** A value as a 64-bit two's complement BigInt (for printing and arithmetic across widths). */
export function toBig(v: Value): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  return 0n;
}

/** Bytes as a latin1 string (one char per byte), up to the first NUL. */
export function bytesToStr(b: Uint8Array): string {
  let end = b.indexOf(0);
  if (end < 0) end = b.length;
  return Buffer.from(b.buffer, b.byteOffset, end).toString('latin1');
}

/** A latin1 string as bytes in a buffer of `size` bytes (NUL padded, truncated to fit). */
export function strToBytes(s: string, size: number): Uint8Array {
  const b = new Uint8Array(size);
  const n = Math.min(s.length, size);
  for (let i = 0; i < n; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}
