// D types: integers by width and sign, string, pointers, arrays, structs, unions, enums,
// typedefs and function prototypes.                                        [dt_decl.c, CTF]
//
// Types are compile-time objects. Each one also fixes how its values are represented at run
// time (see `Repr`), so generated code never has to test a value's JavaScript type.

export const enum Kind {
  Void,
  Int,
  Float,
  Pointer,
  Array,
  Struct,
  Union,
  Enum,
  String,
  Function,
  Typedef,
}

/** How a value of a type is held in JavaScript (STYLE rule 4: one representation per site). */
export const enum Repr {
  /** integers of at most 32 bits and enums: a Number, always normalised to the type's range */
  Num,
  /** 64-bit integers and pointers: a BigInt, always normalised with BigInt.asIntN/asUintN(64) */
  Big,
  /** string: a JavaScript string, one char per byte (latin1), at most strsize long (null: NULL) */
  Str,
  /** struct, union, array: a Uint8Array holding the value's bytes (little-endian, C layout) */
  Bytes,
  /** void, functions: no value */
  None,
}

export interface Member {
  name: string;
  type: DType;
  /** byte offset of the member (of its storage unit for a bit-field) */
  offset: number;
  /** bit-fields only: offset in bits from the start of the struct, and width in bits */
  bitOffset: number;
  bitWidth: number;
}

export class DType {
  /** struct/union members, in declaration order; enum: none */
  members: Member[] = [];
  /** enum constants, in declaration order */
  enumerators: Array<[string, number]> = [];
  /** false for a struct/union/enum that was named but not yet defined */
  complete = true;
  /** alignment in bytes */
  align: number;
  /** function prototypes: parameters; `variadic` for "..." and `optionalFrom` for [args] */
  params: DType[] = [];
  variadic = false;
  optionalFrom = -1;
  /** `const` qualification (affects assignment checks only) */
  isConst = false;

  constructor(
    readonly kind: Kind,
    public name: string,
    public size: number,
    readonly signed: boolean,
    /** pointer target, array element, typedef target, function return type */
    readonly base: DType | null,
    /** array element count */
    readonly count: number,
  ) {
    this.align = Math.max(1, Math.min(size, 8));
  }

  toString(): string {
    return this.name;
  }
}

// -- constructors ------------------------------------------------------------------------------

export function intType(name: string, size: number, signed: boolean): DType {
  return new DType(Kind.Int, name, size, signed, null, 0);
}

export const VOID = new DType(Kind.Void, 'void', 0, false, null, 0);
VOID.align = 1;

const pointerCache = new WeakMap<DType, DType>();

export function pointerTo(target: DType): DType {
  let p = pointerCache.get(target);
  if (p === undefined) {
    p = new DType(Kind.Pointer, pointerName(target), 8, false, target, 0);
    pointerCache.set(target, p);
  }
  return p;
}

function pointerName(target: DType): string {
  if (target.kind === Kind.Function) {
    return `${target.base!.name} (*)(${target.params.map((p) => p.name).join(', ')})`;
  }
  const n = target.name;
  return n.endsWith('*') ? `${n}*` : `${n} *`;
}

export function arrayOf(elem: DType, count: number): DType {
  const name = elem.kind === Kind.Array ? elem.name.replace(/ \[/, ` [${count}][`) : `${elem.name} [${count}]`;
  const t = new DType(Kind.Array, name, elem.size * count, false, elem, count);
  t.align = elem.align;
  return t;
}

export function typedefOf(name: string, target: DType): DType {
  const t = new DType(Kind.Typedef, name, target.size, target.signed, target, target.count);
  t.align = target.align;
  return t;
}

export function stringType(strsize: number): DType {
  const t = new DType(Kind.String, 'string', strsize, false, null, 0);
  t.align = 1;
  return t;
}

export function functionType(ret: DType, params: DType[], variadic: boolean, optionalFrom = -1): DType {
  const t = new DType(Kind.Function, `${ret.name}()`, 0, false, ret, 0);
  t.params = params;
  t.variadic = variadic;
  t.optionalFrom = optionalFrom;
  return t;
}

export function constOf(t: DType): DType {
  if (t.isConst) return t;
  const c = Object.assign(Object.create(Object.getPrototypeOf(t)) as DType, t);
  c.isConst = true;
  return c;
}

/** A new, incomplete struct/union/enum; define it later with `layoutStruct` or its enumerators. */
export function taggedType(kind: Kind.Struct | Kind.Union | Kind.Enum, tag: string): DType {
  const word = kind === Kind.Struct ? 'struct' : kind === Kind.Union ? 'union' : 'enum';
  const name = tag === '' ? `${word} ` : `${word} ${tag}`;
  const t = new DType(kind, name, kind === Kind.Enum ? 4 : 0, kind === Kind.Enum, null, 0);
  t.complete = false;
  if (kind === Kind.Enum) t.align = 4;
  return t;
}

export interface MemberDecl {
  name: string;
  type: DType;
  /** bit-field width, or -1 */
  bits: number;
}

/**
 * Lays out struct/union members with C's natural alignment (LP64). Bit-fields are laid out as
 * DTrace's own (libctf) declarations do: each takes ceil(width/8) bytes of its own, aligned to
 * the largest power of two not above that, with the value in its low bits; a struct whose
 * members are all bit-fields gets no tail padding.
 */
export function layoutStruct(t: DType, decls: MemberDecl[]): void {
  const isUnion = t.kind === Kind.Union;
  let pos = 0; // bytes
  let maxSize = 0;
  let align = 1;
  let onlyBits = decls.length > 0;
  const members: Member[] = [];
  for (const d of decls) {
    const mt = d.type;
    if (d.bits >= 0) {
      if (d.bits === 0) continue;
      const nbytes = Math.ceil(d.bits / 8);
      let a = 1;
      while (a * 2 <= nbytes) a *= 2;
      const off = isUnion ? 0 : Math.ceil(pos / a) * a;
      members.push({ name: d.name, type: mt, offset: off, bitOffset: off * 8, bitWidth: d.bits });
      if (isUnion) maxSize = Math.max(maxSize, nbytes);
      else pos = off + nbytes;
      align = Math.max(align, a);
      continue;
    }
    onlyBits = false;
    const a = Math.max(1, resolve(mt).align);
    align = Math.max(align, a);
    if (isUnion) {
      members.push({ name: d.name, type: mt, offset: 0, bitOffset: 0, bitWidth: -1 });
      maxSize = Math.max(maxSize, mt.size);
    } else {
      const off = Math.ceil(pos / a) * a;
      members.push({ name: d.name, type: mt, offset: off, bitOffset: off * 8, bitWidth: -1 });
      pos = off + mt.size;
    }
  }
  const raw = isUnion ? maxSize : pos;
  t.size = onlyBits ? raw : Math.ceil(raw / align) * align;
  t.align = align;
  t.members = members;
  t.complete = true;
}

// -- queries -----------------------------------------------------------------------------------

/** The type with typedefs peeled off. */
export function resolve(t: DType): DType {
  while (t.kind === Kind.Typedef) t = t.base!;
  return t;
}

export function isInteger(t: DType): boolean {
  const k = resolve(t).kind;
  return k === Kind.Int || k === Kind.Enum;
}

export function isArithmetic(t: DType): boolean {
  const k = resolve(t).kind;
  return k === Kind.Int || k === Kind.Enum || k === Kind.Float;
}

export function isPointer(t: DType): boolean {
  return resolve(t).kind === Kind.Pointer;
}

/** Integer, enum or pointer: what D can test, compare and do arithmetic on. */
export function isScalar(t: DType): boolean {
  const k = resolve(t).kind;
  return k === Kind.Int || k === Kind.Enum || k === Kind.Pointer;
}

export function isString(t: DType): boolean {
  return resolve(t).kind === Kind.String;
}

export function isVoid(t: DType): boolean {
  return resolve(t).kind === Kind.Void;
}

export function isStructLike(t: DType): boolean {
  const k = resolve(t).kind;
  return k === Kind.Struct || k === Kind.Union;
}

export function isArray(t: DType): boolean {
  return resolve(t).kind === Kind.Array;
}

/** char arrays and char pointers behave as strings in several D contexts */
export function isCharArray(t: DType): boolean {
  const r = resolve(t);
  return r.kind === Kind.Array && isCharType(r.base!);
}

export function isCharPointer(t: DType): boolean {
  const r = resolve(t);
  return r.kind === Kind.Pointer && isCharType(r.base!);
}

export function isCharType(t: DType): boolean {
  const r = resolve(t);
  return r.kind === Kind.Int && r.size === 1;
}

/** A type that can be used where D wants a string: string, char [N], char *. */
export function isStringLike(t: DType): boolean {
  return isString(t) || isCharArray(t) || isCharPointer(t);
}

export function reprOf(t: DType): Repr {
  const r = resolve(t);
  switch (r.kind) {
    case Kind.Int:
      return r.size <= 4 ? Repr.Num : Repr.Big;
    case Kind.Enum:
      return Repr.Num;
    case Kind.Pointer:
      return Repr.Big;
    case Kind.String:
      return Repr.Str;
    case Kind.Array:
    case Kind.Struct:
    case Kind.Union:
      return Repr.Bytes;
    case Kind.Float:
      return r.size <= 4 ? Repr.Num : Repr.Big;
    default:
      return Repr.None;
  }
}

export function findMember(t: DType, name: string): Member | undefined {
  const r = resolve(t);
  for (const m of r.members) {
    if (m.name === name) return m;
    // anonymous struct/union members make their members visible
    if (m.name === '' && isStructLike(m.type)) {
      const inner = findMember(m.type, name);
      if (inner) {
        return { ...inner, offset: inner.offset + m.offset, bitOffset: inner.bitOffset + m.offset * 8 };
      }
    }
  }
  return undefined;
}

/** Same type, as DTrace's ctf_type_compat sees it for assignment and comparison. */
export function sameType(a: DType, b: DType): boolean {
  const x = resolve(a);
  const y = resolve(b);
  if (x === y) return true;
  if (x.kind !== y.kind) return false;
  switch (x.kind) {
    case Kind.Int:
    case Kind.Float:
      return x.size === y.size && x.signed === y.signed;
    case Kind.Pointer:
      return sameType(x.base!, y.base!);
    case Kind.Array:
      return x.count === y.count && sameType(x.base!, y.base!);
    case Kind.String:
    case Kind.Void:
      return true;
    case Kind.Struct:
    case Kind.Union:
    case Kind.Enum:
      return x.name === y.name && x.size === y.size;
    default:
      return false;
  }
}
