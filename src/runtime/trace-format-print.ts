// print(ptr): the pointed-to value laid out member by member, as dt_print_type walks its CTF
// type (ctf_type_visit calling dt_print_visit).                  [dt_printf.c dt_print_type]
//
//   0xffff9b7aca7e0000 = *
//                                               (struct test_struct) {
//                                                .a = (int)1,
//                                                .b = (char [5]) [
//                                                 (char)'t',
//                                                ],
//                                               }
//
// Lines are indented 44 columns plus one per level. Members whose bytes are all zero are left
// out (below the top level); char arrays stop at their first NUL. Data past `printsize` bytes,
// or nesting 10 deep, ends the walk with "...". The quirks are DTrace's: an array's elements
// are printed only if its element type is itself (not through a typedef) an integer or float:
// libctf gives the encoding of nothing else, and the whole walk stops after the array's opening
// line; bit-fields other than 8/16/32/64 bits wide are extracted with DTrace's shift
// arithmetic, which is off for fields not at bit 63 of their 64-bit word.

import { DType, Kind, resolve } from '../lang/types.js';

const START_INDENT = 44;
const MAX_DEPTH = 10;
const DEFAULT_PRINTSIZE = 8192;

interface Walk {
  out: string;
  readonly data: Uint8Array;
  /** bytes that may be shown (the printsize option) */
  readonly size: number;
  /** kind of the type shown at each depth, for closing braces */
  kinds: Kind[];
  lastDepth: number;
}

/**
 * The output of print() for a pointer `addr` to a value of type `t` whose bytes are `data`:
 * "%p = *" then the typed layout. `printsize` is the printsize option (bytes shown).
 */
export function formatPrint(t: DType, addr: bigint, data: Uint8Array, printsize = DEFAULT_PRINTSIZE): string {
  const a = BigInt.asUintN(64, addr);
  const size = Math.min(resolve(t).size, printsize);
  const w: Walk = { out: a === 0n ? '(nil) = *\n' : `0x${a.toString(16)} = *\n`, data, size, kinds: [], lastDepth: 0 };
  typeVisit(w, '', t, 0, 0, -1);
  closeParens(w, 0);
  return w.out;
}

function spaces(n: number): string {
  return ' '.repeat(n);
}

/** ctf_type_visit: the type, then (for structs and unions) its members one level deeper. */
function typeVisit(w: Walk, name: string, t: DType, bitOff: number, depth: number, bits: number): number {
  const rc = visit(w, name, t, bitOff, depth, bits);
  if (rc !== 0) return rc;
  const r = resolve(t);
  if (r.kind !== Kind.Struct && r.kind !== Kind.Union) return 0;
  for (const m of r.members) {
    const bf = m.bitWidth >= 0;
    const rc2 = typeVisit(w, m.name, m.type, bitOff + (bf ? m.bitOffset : m.offset * 8), depth + 1, bf ? m.bitWidth : -1);
    if (rc2 !== 0) return rc2;
  }
  return 0;
}

/** dt_print_close_parens */
function closeParens(w: Walk, depth: number): void {
  const k = w.kinds[depth];
  if (k !== Kind.Struct && k !== Kind.Union) return;
  if (depth === 0 && w.lastDepth === 0) w.lastDepth = 1;
  for (let i = w.lastDepth - depth; i > 0; i--) {
    w.out += spaces(START_INDENT + depth + i - 1) + '}' + (depth > 0 || i > 1 ? ',' : '') + '\n';
    w.lastDepth = depth;
  }
}

function allZero(b: Uint8Array, off: number, n: number): boolean {
  const end = Math.min(off + n, b.length);
  for (let i = off; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/** little-endian unsigned read of n bytes at off (bytes past the data read as 0) */
function readU(b: Uint8Array, off: number, n: number): bigint {
  let x = 0n;
  for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[off + i] ?? 0);
  return x;
}

/** the type's name as printed: an anonymous struct/union/enum is just "struct" etc. */
function printName(t: DType): string {
  const n = t.name;
  return n.endsWith(' ') ? n.substring(0, n.length - 1) : n;
}

/** ctf_type_size of a bit-field's integer type: its bits rounded up to a power-of-2 of bytes */
function bitfieldSize(bits: number): number {
  let n = Math.ceil(bits / 8);
  let p = 1;
  while (p < n) p <<= 1;
  n = p;
  return n;
}

/** dt_print_visit: one line for the value at bitOff; 0 to go on, -1 to end the walk. */
function visit(w: Walk, name: string, t: DType, bitOff: number, depth: number, bits: number): number {
  const off = Math.floor(bitOff / 8);
  if (off >= w.size || depth >= MAX_DEPTH) {
    w.out += spaces(START_INDENT + depth) + '...\n';
    return -1;
  }
  const r = resolve(t);
  const rkind = r.kind;
  if (w.lastDepth > depth) closeParens(w, depth);

  const isBitfield = bits >= 0 && rkind === Kind.Int;
  if (depth > 0) {
    const typesize = isBitfield ? bitfieldSize(bits) : r.size;
    if (typesize < 65536 && allZero(w.data, off, typesize)) return 0;
  }
  w.kinds[depth] = rkind;
  w.lastDepth = depth;

  const typename = printName(t);
  const member = depth > 0 && name !== '' ? `.${name} = ` : '';
  let datastr: string;
  switch (rkind) {
    case Kind.Struct:
    case Kind.Union:
      datastr = `(${typename}) {`;
      break;
    case Kind.Array:
      datastr = `(${typename}) [${r.count === 0 ? '],' : ''}`;
      break;
    case Kind.Int: {
      const ebits = isBitfield ? bits : r.size * 8;
      let v: bigint;
      switch (ebits) {
        case 8:
        case 16:
        case 32:
        case 64: {
          const u = readU(w.data, off, ebits / 8);
          if (ebits === 64 && !r.signed) {
            datastr = `(${typename})${u},`;
            w.out += spaces(START_INDENT + depth) + member + datastr + '\n';
            return 0;
          }
          v = r.signed ? BigInt.asIntN(ebits, u) : u;
          break;
        }
        default: {
          if (ebits > 64) {
            datastr = `(${typename})?(${ebits} bit value),`;
            w.out += spaces(START_INDENT + depth) + member + datastr + '\n';
            return 0;
          }
          // DTrace's extraction: the 64-bit word at the field's byte, shifted left by
          // 63 - (bit % 64), then logically right by 64 - bits
          const word = readU(w.data, off, 8);
          const lshift = BigInt(63 - (bitOff % 64));
          const rshift = BigInt(64 - ebits);
          v = BigInt.asUintN(64, word << lshift) >> rshift;
          v = BigInt.asIntN(64, v);
          if (v === 0n) return 0;
        }
      }
      if (typename === 'char') {
        datastr = `(${typename})'${String.fromCharCode(Number(BigInt.asUintN(8, v)))}',`;
      } else {
        datastr = `(${typename})${v},`;
      }
      break;
    }
    case Kind.Enum: {
      const n = Number(BigInt.asIntN(32, readU(w.data, off, 4)));
      let ename: string | null = null;
      for (const [en, ev] of r.enumerators) {
        if (ev === n) {
          ename = en;
          break;
        }
      }
      datastr = `(${typename})${ename ?? n},`;
      break;
    }
    case Kind.Pointer:
      datastr = `(${typename})0x${readU(w.data, off, 8).toString(16)},`;
      break;
    default:
      return 0;
  }
  w.out += spaces(START_INDENT + depth) + member + datastr + '\n';

  if (rkind === Kind.Array) {
    const elem = r.base!;
    // ctf_type_encoding of the (unresolved) element type: integers and floats only
    if (elem.kind !== Kind.Int && elem.kind !== Kind.Float) return -1;
    const esize = elem.size;
    if (allZero(w.data, off, esize * r.count)) return 0;
    const ischar = elem.kind === Kind.Int && esize === 1;
    // the elements are shown with a walk state of their own
    const w2: Walk = { out: w.out, data: w.data, size: w.size, kinds: [], lastDepth: w.lastDepth };
    for (let i = 0; i < r.count; i++) {
      if (ischar && (w.data[off + i] ?? 0) === 0) break;
      if (visit(w2, '', elem, bitOff + esize * 8 * i, depth + 1, -1) < 0) {
        w.out = w2.out;
        return -1;
      }
    }
    w.out = w2.out;
    if (r.count > 0) w.out += spaces(START_INDENT + depth) + '],\n';
  }
  return 0;
}

/**
 * print(v) of a value that is no pointer (illumos's dt_print_member at the top level): the type's
 * name, a space, the value. Integers in hex (C's %#x, so 0 is "0"), chars quoted ('a', '\0',
 * octal escapes), enums by enumerator name, strings quoted.          [illumos dt_print.c]
 */
export function formatPrintValue(t: DType, v: bigint | number | string): string {
  const r = resolve(t);
  const name = printName(t);
  let data: string;
  if (typeof v === 'string') {
    data = `"${v}"`;
  } else if (r.kind === Kind.Enum) {
    const n = Number(BigInt.asIntN(32, BigInt(v)));
    const e = r.enumerators.find((x) => x[1] === n);
    data = e ? e[0] : String(n);
  } else if (r.kind === Kind.Int && r.size === 1 && r.signed && /\bchar$/.test(r.name.trim())) {
    // CTF_IS_CHAR: a signed 8-bit char (unsigned char and uint8_t print in hex); C's %03o of
    // a negative char promoted to int
    const c = Number(BigInt.asIntN(8, BigInt(v)));
    if (c >= 0x20 && c < 0x7f) data = `'${String.fromCharCode(c)}'`;
    else if (c === 0) data = "'\\0'";
    else data = `'\\${(c >>> 0).toString(8).padStart(3, '0')}'`;
  } else {
    const u = BigInt.asUintN(Math.max(1, Math.min(8, r.size)) * 8, BigInt(v));
    data = u === 0n ? '0' : `0x${u.toString(16)}`;
  }
  return `${name} ${data}\n`;
}
