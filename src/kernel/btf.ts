// The kernel's own type information (BTF, /sys/kernel/btf/vmlinux and one file per module), as
// D types: what DTrace reads from CTF on illumos. Read on first use and cached, so a script that
// names no kernel type never pays for it; a type is converted when it is first looked up, with
// the types it reaches.                          [linux: Documentation/bpf/btf.rst, include/uapi/linux/btf.h]

import { readFileSync } from 'node:fs';
import {
  DType,
  Kind,
  VOID,
  arrayOf,
  constOf,
  findMember,
  functionType,
  intType,
  pointerTo,
  taggedType,
  typedefOf,
  type Member,
} from '../lang/types.js';
import type { ExternalTypes, KernelVariable } from '../lang/typescope.js';
import { dataSymbolAddress } from './ksyms.js';

const BTF_MAGIC = 0xeb9f;

/** BTF_KIND_* */
export const enum BtfKind {
  Unknown = 0,
  Int = 1,
  Ptr = 2,
  Array = 3,
  Struct = 4,
  Union = 5,
  Enum = 6,
  Fwd = 7,
  Typedef = 8,
  Volatile = 9,
  Const = 10,
  Restrict = 11,
  Func = 12,
  FuncProto = 13,
  Var = 14,
  Datasec = 15,
  Float = 16,
  DeclTag = 17,
  TypeTag = 18,
  Enum64 = 19,
}

const BTF_INT_SIGNED = 1;
const BTF_INT_BOOL = 4;

/** Bytes of kind-specific data after a type's 12-byte header. */
function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case BtfKind.Int:
      return 4;
    case BtfKind.Array:
      return 12;
    case BtfKind.Struct:
    case BtfKind.Union:
      return 12 * vlen;
    case BtfKind.Enum:
      return 8 * vlen;
    case BtfKind.FuncProto:
      return 8 * vlen;
    case BtfKind.Var:
      return 4;
    case BtfKind.Datasec:
      return 12 * vlen;
    case BtfKind.DeclTag:
      return 4;
    case BtfKind.Enum64:
      return 12 * vlen;
    default:
      return 0;
  }
}

/** A malformed BTF file. */
export class BtfError extends Error {}

/**
 * One BTF object: vmlinux's, or a module's split on top of it (its type IDs and string offsets
 * continue the base's).
 */
export class Btf {
  private readonly v: DataView;
  private readonly typesAt: number;
  private readonly stringsAt: number;
  private readonly stringsLen: number;
  /** byte offset of each type's header, by type ID (less the base's count) */
  private readonly offsets: Uint32Array;
  /** the first type ID of this object (1 for vmlinux) */
  readonly firstId: number;
  private readonly base: Btf | null;
  private names: Map<string, number> | null = null;
  private readonly converted = new Map<number, DType>();

  constructor(
    private readonly bytes: Buffer,
    base: Btf | null = null,
  ) {
    this.base = base;
    this.v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 24 || this.v.getUint16(0, true) !== BTF_MAGIC) throw new BtfError('not BTF (bad magic)');
    const hdrLen = this.v.getUint32(4, true);
    const typeOff = this.v.getUint32(8, true);
    const typeLen = this.v.getUint32(12, true);
    const strOff = this.v.getUint32(16, true);
    const strLen = this.v.getUint32(20, true);
    this.typesAt = hdrLen + typeOff;
    this.stringsAt = hdrLen + strOff;
    this.stringsLen = strLen;
    if (this.typesAt + typeLen > bytes.length || this.stringsAt + strLen > bytes.length) throw new BtfError('truncated BTF');
    this.firstId = base ? base.firstId + base.count : 1;
    // one pass over the type section: where each type starts
    let offsets = new Uint32Array(1024);
    let n = 0;
    const end = this.typesAt + typeLen;
    for (let off = this.typesAt; off < end; ) {
      if (n === offsets.length) {
        const more = new Uint32Array(n * 2);
        more.set(offsets);
        offsets = more;
      }
      offsets[n++] = off;
      const info = this.v.getUint32(off + 4, true);
      off += 12 + extraBytes((info >>> 24) & 0x1f, info & 0xffff);
      if (off > end) throw new BtfError('truncated BTF type');
    }
    this.offsets = offsets.subarray(0, n);
  }

  /** Types in this object (not counting the base's). */
  get count(): number {
    return this.offsets.length;
  }

  /** The string at a name offset (offsets past the base's strings are this object's). */
  str(off: number): string {
    if (this.base) {
      if (off < this.base.stringsLen) return this.base.str(off);
      off -= this.base.stringsLen;
    }
    const at = this.stringsAt + off;
    const nul = this.bytes.indexOf(0, at);
    return this.bytes.toString('latin1', at, nul < 0 ? this.stringsAt + this.stringsLen : nul);
  }

  private owner(id: number): Btf {
    return id < this.firstId && this.base ? this.base.owner(id) : this;
  }

  private header(id: number): number {
    const off = this.offsets[id - this.firstId];
    if (off === undefined) throw new BtfError(`no BTF type ${id}`);
    return off;
  }

  kind(id: number): BtfKind {
    if (id === 0) return BtfKind.Unknown;
    const o = this.owner(id);
    return ((o.v.getUint32(o.header(id) + 4, true) >>> 24) & 0x1f) as BtfKind;
  }

  name(id: number): string {
    if (id === 0) return 'void';
    const o = this.owner(id);
    return o.str(o.v.getUint32(o.header(id), true));
  }

  /**
   * The ID of a named type: `struct task_struct`, `union X`, `enum X`, a typedef's name, or a
   * function's or variable's (`func:NAME`, `var:NAME`). Structs and unions win over their
   * forward declarations.
   */
  find(name: string): number | undefined {
    return this.index().get(name) ?? this.base?.find(name);
  }

  private index(): Map<string, number> {
    if (this.names) return this.names;
    const m = new Map<string, number>();
    for (let i = 0; i < this.offsets.length; i++) {
      const off = this.offsets[i];
      const nameOff = this.v.getUint32(off, true);
      if (nameOff === 0) continue;
      const info = this.v.getUint32(off + 4, true);
      const kind = (info >>> 24) & 0x1f;
      let key: string;
      switch (kind) {
        case BtfKind.Struct:
          key = `struct ${this.str(nameOff)}`;
          break;
        case BtfKind.Union:
          key = `union ${this.str(nameOff)}`;
          break;
        case BtfKind.Enum:
        case BtfKind.Enum64:
          key = `enum ${this.str(nameOff)}`;
          break;
        case BtfKind.Fwd:
          key = `${info >>> 31 ? 'union' : 'struct'} ${this.str(nameOff)}`;
          if (m.has(key)) continue;
          break;
        case BtfKind.Typedef:
        case BtfKind.Int:
        case BtfKind.Float:
          key = this.str(nameOff);
          break;
        case BtfKind.Func:
          key = `func:${this.str(nameOff)}`;
          break;
        case BtfKind.Var:
          key = `var:${this.str(nameOff)}`;
          break;
        default:
          continue;
      }
      const prev = m.get(key);
      // a definition replaces a forward declaration, never the other way round
      if (prev !== undefined && this.kind(prev) !== BtfKind.Fwd) continue;
      m.set(key, i + this.firstId);
    }
    this.names = m;
    return m;
  }

  /** The D type of a BTF type (and of every type it reaches), converted once. */
  type(id: number): DType {
    const o = this.owner(id);
    if (o !== this) return o.type(id);
    return this.convert(id);
  }

  private convert(id: number): DType {
    if (id === 0) return VOID;
    const done = this.converted.get(id);
    if (done) return done;
    const off = this.header(id);
    const v = this.v;
    const nameOff = v.getUint32(off, true);
    const info = v.getUint32(off + 4, true);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kindFlag = info >>> 31;
    const sizeOrType = v.getUint32(off + 8, true);
    const name = this.str(nameOff);
    const at = off + 12;
    let t: DType;
    switch (kind) {
      case BtfKind.Int: {
        const enc = v.getUint32(at, true);
        const encoding = (enc >>> 24) & 0x0f;
        t = intType(name, sizeOrType, (encoding & BTF_INT_SIGNED) !== 0 && (encoding & BTF_INT_BOOL) === 0);
        break;
      }
      case BtfKind.Float:
        t = new DType(Kind.Float, name, sizeOrType, true, null, 0);
        break;
      case BtfKind.Ptr:
        t = pointerTo(this.type(sizeOrType));
        break;
      case BtfKind.Array: {
        const elem = this.type(v.getUint32(at, true));
        t = arrayOf(elem, v.getUint32(at + 8, true));
        break;
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        t = taggedType(kind === BtfKind.Struct ? Kind.Struct : Kind.Union, name);
        // before the members: they may point back at it
        this.converted.set(id, t);
        const members: Member[] = [];
        let align = 1;
        for (let i = 0; i < vlen; i++) {
          const m = at + 12 * i;
          const mt = this.type(v.getUint32(m + 4, true));
          const raw = v.getUint32(m + 8, true);
          const bitOffset = kindFlag ? raw & 0xffffff : raw;
          const bitWidth = kindFlag ? raw >>> 24 : 0;
          members.push({ name: this.str(v.getUint32(m, true)), type: mt, offset: bitOffset >>> 3, bitOffset, bitWidth: bitWidth > 0 ? bitWidth : -1 });
          align = Math.max(align, mt.align);
        }
        t.members = members;
        t.size = sizeOrType;
        t.align = align;
        t.complete = true;
        return t;
      }
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        t = taggedType(Kind.Enum, name);
        t.size = sizeOrType;
        const signed = kindFlag !== 0;
        for (let i = 0; i < vlen; i++) {
          const e = at + (kind === BtfKind.Enum ? 8 : 12) * i;
          const lo = kind === BtfKind.Enum && signed ? v.getInt32(e + 4, true) : v.getUint32(e + 4, true);
          // D's enumerators are ints: a 64-bit one keeps its low 32 bits, as ctf does
          const value = kind === BtfKind.Enum64 ? lo | 0 : lo;
          t.enumerators.push([this.str(v.getUint32(e, true)), value]);
        }
        t.complete = true;
        break;
      }
      case BtfKind.Fwd:
        t = taggedType(kindFlag ? Kind.Union : Kind.Struct, name);
        break;
      case BtfKind.Typedef:
        t = typedefOf(name, this.type(sizeOrType));
        break;
      case BtfKind.Const:
        t = constOf(this.type(sizeOrType));
        break;
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        // qualifiers D does not track
        t = this.type(sizeOrType);
        break;
      case BtfKind.FuncProto: {
        const params: DType[] = [];
        let variadic = false;
        for (let i = 0; i < vlen; i++) {
          const pt = v.getUint32(at + 8 * i + 4, true);
          if (pt === 0 && i === vlen - 1) variadic = true;
          else params.push(this.type(pt));
        }
        t = functionType(this.type(sizeOrType), params, variadic);
        break;
      }
      case BtfKind.Func:
      case BtfKind.Var:
        t = this.type(sizeOrType);
        break;
      default:
        throw new BtfError(`BTF type ${id} has a kind D has no type for (${kind})`);
    }
    this.converted.set(id, t);
    return t;
  }

  /**
   * A typedef's ID by name, found without building the index of every name (a pass over the
   * type headers comparing bytes: a few ms where the index takes a few hundred) unless it is
   * built already.
   */
  findTypedef(name: string): number | undefined {
    if (this.names !== null) {
      const id = this.find(name);
      return id !== undefined && this.kind(id) === BtfKind.Typedef ? id : undefined;
    }
    const want = Buffer.from(name, 'latin1');
    const bytes = this.bytes;
    const baseLen = this.base ? this.base.stringsLen : 0;
    for (let i = 0; i < this.offsets.length; i++) {
      const off = this.offsets[i];
      if (((this.v.getUint32(off + 4, true) >>> 24) & 0x1f) !== BtfKind.Typedef) continue;
      const nameOff = this.v.getUint32(off, true);
      // a split object's names may be its base's: compare those as strings
      if (nameOff < baseLen) {
        if (this.str(nameOff) === name) return i + this.firstId;
        continue;
      }
      const at = this.stringsAt + nameOff - baseLen;
      if (bytes[at + want.length] !== 0) continue;
      let k = 0;
      while (k < want.length && bytes[at + k] === want[k]) k++;
      if (k === want.length) return i + this.firstId;
    }
    return this.base?.findTypedef(name);
  }

  /** A type's header: kind, vlen, and its size or referenced type. */
  private info(id: number): { kind: BtfKind; vlen: number; ref: number; at: number; o: Btf } {
    const o = this.owner(id);
    const off = o.header(id);
    const info = o.v.getUint32(off + 4, true);
    return { kind: ((info >>> 24) & 0x1f) as BtfKind, vlen: info & 0xffff, ref: o.v.getUint32(off + 8, true), at: off + 12, o };
  }

  /**
   * The parameter types (IDs) of the function a typedef of a pointer to a function names (a
   * raw tracepoint's btf_trace_<name>), or null if there is no such typedef.
   */
  functionPointerParams(typedef: string): number[] | null {
    const id = this.findTypedef(typedef);
    if (id === undefined || this.kind(id) !== BtfKind.Typedef) return null;
    const ptr = this.info(id).ref;
    if (this.kind(ptr) !== BtfKind.Ptr) return null;
    const fn = this.info(ptr).ref;
    if (this.kind(fn) !== BtfKind.FuncProto) return null;
    const { vlen, at, o } = this.info(fn);
    const out: number[] = [];
    for (let i = 0; i < vlen; i++) out.push(o.v.getUint32(at + 8 * i + 4, true));
    return out;
  }

  /** A type as C writes it: "struct task_struct *", "const char *", "u64" (for dtrace -lv). */
  cName(id: number): string {
    if (id === 0) return 'void';
    const { kind, ref, at, o } = this.info(id);
    const star = (inner: string) => (inner.endsWith('*') ? `${inner}*` : `${inner} *`);
    switch (kind) {
      case BtfKind.Struct:
      case BtfKind.Fwd:
        return `${kind === BtfKind.Fwd && this.isUnionFwd(id) ? 'union' : 'struct'} ${this.name(id)}`;
      case BtfKind.Union:
        return `union ${this.name(id)}`;
      case BtfKind.Enum:
      case BtfKind.Enum64:
        return `enum ${this.name(id)}`;
      case BtfKind.Ptr:
        if (this.kind(ref) === BtfKind.FuncProto) return `${this.cName(this.info(ref).ref)} (*)()`;
        return star(this.cName(ref));
      case BtfKind.Const:
      case BtfKind.Volatile: {
        const q = kind === BtfKind.Const ? 'const' : 'volatile';
        const inner = this.cName(ref);
        return inner.endsWith('*') ? `${inner}${q}` : `${q} ${inner}`;
      }
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        return this.cName(ref);
      case BtfKind.Array:
        return `${this.cName(o.v.getUint32(at, true))} [${o.v.getUint32(at + 8, true)}]`;
      default:
        return this.name(id);
    }
  }

  private isUnionFwd(id: number): boolean {
    const o = this.owner(id);
    return o.v.getUint32(o.header(id) + 4, true) >>> 31 === 1;
  }

  /** Names of a function's parameters (for fbt's args[]), in order; empty if unnamed. */
  paramNames(funcId: number): string[] {
    const o = this.owner(funcId);
    if (o !== this) return o.paramNames(funcId);
    const proto = this.v.getUint32(this.header(funcId) + 8, true);
    const p = this.owner(proto);
    const off = p.header(proto);
    const vlen = p.v.getUint32(off + 4, true) & 0xffff;
    const out: string[] = [];
    for (let i = 0; i < vlen; i++) out.push(p.str(p.v.getUint32(off + 12 + 8 * i, true)));
    return out;
  }
}

const DEFAULT_DIR = '/sys/kernel/btf';
let vmlinux: Btf | null | undefined;
let vmlinuxError = '';
const modules = new Map<string, Btf | null>();

/** The kernel's BTF (read once), or null with kernelBtfError() saying why. */
export function kernelBtf(dir = DEFAULT_DIR): Btf | null {
  if (vmlinux !== undefined) return vmlinux;
  try {
    vmlinux = new Btf(readFileSync(`${dir}/vmlinux`));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    vmlinuxError = err.code === 'ENOENT' ? 'this kernel has no BTF (CONFIG_DEBUG_INFO_BTF is off)' : err.message;
    vmlinux = null;
  }
  return vmlinux;
}

/** Whether the kernel's BTF has been read (a script that names no kernel type must not read it). */
export function kernelBtfRead(): boolean {
  return vmlinux !== undefined;
}

export function kernelBtfError(): string {
  return vmlinuxError;
}

/** A module's BTF, split on top of vmlinux's, or null if it has none. */
export function moduleBtf(module: string, dir = DEFAULT_DIR): Btf | null {
  if (modules.has(module)) return modules.get(module)!;
  const base = kernelBtf(dir);
  let b: Btf | null = null;
  if (base && /^[\w-]+$/.test(module)) {
    try {
      b = new Btf(readFileSync(`${dir}/${module}`), base);
    } catch {
      b = null;
    }
  }
  modules.set(module, b);
  return b;
}

/** The kernel's types for D programs (TypeScope.external): read on the first lookup. */
export const kernelTypes: ExternalTypes = {
  lookup(name: string): DType | undefined {
    const b = kernelBtf();
    if (b === null) return undefined;
    const id = b.find(name);
    if (id === undefined) return undefined;
    // an unscoped name is a typedef's, never a function's or an int's spelling
    const k = b.kind(id);
    if (!name.includes(' ') && k !== BtfKind.Typedef) return undefined;
    return b.type(id);
  },

  variable(scoped: string): KernelVariable | null {
    const tick = scoped.indexOf('`');
    const object = tick > 0 ? scoped.slice(0, tick) : 'vmlinux';
    const name = scoped.slice(tick + 1);
    const address = dataSymbolAddress(object, name);
    if (address === null) return null;
    const b = kernelBtf();
    const c = VARIABLE_TYPES.get(name);
    const id = b === null || c === undefined ? undefined : b.find(c);
    return { object, name, address, type: id === undefined ? null : b!.type(id) };
  },
};

/**
 * The C types of kernel variables D programs read whose types the kernel's BTF leaves out (it
 * describes per-CPU variables only), as <linux/jiffies.h> declares them.
 */
const VARIABLE_TYPES: ReadonlyMap<string, string> = new Map([
  ['jiffies', 'long unsigned int'],
  ['jiffies_64', 'long long unsigned int'],
]);

/**
 * Where a member is in a kernel struct, through nested members (`['f_path', 'dentry']`), from
 * the struct's start; null if some name is not there or is a bit-field.
 */
export function memberOffset(t: DType | undefined, path: readonly string[]): number | null {
  let off = 0;
  let cur = t;
  for (const name of path) {
    if (cur === undefined) return null;
    const m = findMember(cur, name);
    if (m === undefined || m.bitWidth >= 0) return null;
    off += m.offset;
    // a struct member may name its type before BTF's conversion has filled it in: by name
    cur = m.type.members.length === 0 && m.type.name !== '' ? (kernelTypes.lookup(m.type.name) ?? m.type) : m.type;
  }
  return off;
}
