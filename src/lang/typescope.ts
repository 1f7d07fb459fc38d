// The type namespace: C base types, D's typedefs, struct/union/enum tags, enum constants.
// The parser consults it to tell type names from identifiers, as C parsers must.  [dt_decl.c, dt_open.c]

import { DType, Kind, VOID, intType, pointerTo, stringType, taggedType, typedefOf } from './types.js';

/** The intrinsic C types of LP64 Linux, by the spelling that names them. */
function intrinsics(): Map<string, DType> {
  const m = new Map<string, DType>();
  const add = (names: string[], t: DType) => {
    for (const n of names) m.set(n, t);
  };
  add(['char'], intType('char', 1, true));
  add(['signed char'], intType('signed char', 1, true));
  add(['unsigned char'], intType('unsigned char', 1, false));
  add(['short', 'short int', 'signed short', 'signed short int'], intType('short', 2, true));
  add(['unsigned short', 'unsigned short int'], intType('unsigned short', 2, false));
  add(['int', 'signed', 'signed int'], intType('int', 4, true));
  add(['unsigned', 'unsigned int'], intType('unsigned int', 4, false));
  add(['long', 'long int', 'signed long', 'signed long int'], intType('long', 8, true));
  add(['unsigned long', 'unsigned long int'], intType('unsigned long', 8, false));
  add(['long long', 'long long int', 'signed long long', 'signed long long int'], intType('long long', 8, true));
  add(['unsigned long long', 'unsigned long long int'], intType('unsigned long long', 8, false));
  add(['_Bool'], intType('_Bool', 1, false));
  const f = (name: string, size: number) => new DType(Kind.Float, name, size, true, null, 0);
  add(['float'], f('float', 4));
  add(['double'], f('double', 8));
  add(['long double'], f('long double', 16));
  add(['void'], VOID);
  return m;
}

/** D's own typedefs on 64-bit Linux (dt_open.c's _dtrace_typedefs_64 plus the kernel's usual ones). */
const TYPEDEFS_64: Array<[string, string]> = [
  ['signed char', 'int8_t'],
  ['short', 'int16_t'],
  ['int', 'int32_t'],
  ['long', 'int64_t'],
  ['long', 'intptr_t'],
  ['long', 'ssize_t'],
  ['unsigned char', 'uint8_t'],
  ['unsigned short', 'uint16_t'],
  ['unsigned', 'uint32_t'],
  ['unsigned long', 'uint64_t'],
  ['unsigned char', 'uchar_t'],
  ['unsigned short', 'ushort_t'],
  ['unsigned', 'uint_t'],
  ['unsigned long', 'ulong_t'],
  ['unsigned long long', 'u_longlong_t'],
  ['long long', 'longlong_t'],
  ['long', 'ptrdiff_t'],
  ['unsigned long', 'uintptr_t'],
  ['unsigned long', 'size_t'],
  ['int', 'id_t'],
  ['int', 'pid_t'],
  ['int', 'processorid_t'],
  ['unsigned', 'uid_t'],
  ['unsigned', 'gid_t'],
  ['long', 'off_t'],
  ['long long', 'off64_t'],
  ['long', 'time_t'],
  ['unsigned', 'dev_t'],
  ['unsigned', 'mode_t'],
  ['unsigned long', 'ino_t'],
  ['unsigned long', 'nlink_t'],
  ['long', 'clock_t'],
  ['long', 'hrtime_t'],
  ['int', 'key_t'],
  ['unsigned short', 'sa_family_t'],
  ['unsigned', 'in_addr_t'],
  ['unsigned', 'ipaddr_t'],
  ['unsigned short', 'in_port_t'],
  ['int', 'boolean_t'],
  ['_Bool', 'bool'],
  // the Linux kernel's own integer typedefs (linux/types.h, asm-generic/int-ll64.h)
  ['unsigned char', 'u_char'],
  ['unsigned short', 'u_short'],
  ['unsigned', 'u_int'],
  ['unsigned long', 'u_long'],
  ['unsigned char', 'unchar'],
  ['unsigned short', 'ushort'],
  ['unsigned', 'uint'],
  ['unsigned long', 'ulong'],
  ['signed char', '__s8'],
  ['unsigned char', '__u8'],
  ['short', '__s16'],
  ['unsigned short', '__u16'],
  ['int', '__s32'],
  ['unsigned', '__u32'],
  ['long long', '__s64'],
  ['unsigned long long', '__u64'],
  ['signed char', 's8'],
  ['unsigned char', 'u8'],
  ['short', 's16'],
  ['unsigned short', 'u16'],
  ['int', 's32'],
  ['unsigned', 'u32'],
  ['long long', 's64'],
  ['unsigned long long', 'u64'],
  ['unsigned short', '__le16'],
  ['unsigned short', '__be16'],
  ['unsigned', '__le32'],
  ['unsigned', '__be32'],
  ['unsigned long long', '__le64'],
  ['unsigned long long', '__be64'],
  ['long long', 'loff_t'],
  ['unsigned', 'gfp_t'],
  ['long', '__kernel_long_t'],
  ['unsigned long', '__kernel_ulong_t'],
  ['int', '__kernel_pid_t'],
];

/** Types a program may name without declaring them: the kernel's own (BTF), where it has them. */
export interface ExternalTypes {
  /** `struct X`, `union X`, `enum X`, or a typedef's name; undefined if there is none */
  lookup(name: string): DType | undefined;
  /**
   * A kernel variable a program names with a backquote (`jiffies, vmlinux`jiffies): its address
   * and type (null: the kernel has the symbol but says nothing of its type); null if none
   */
  variable?(name: string): KernelVariable | null;
}

export interface KernelVariable {
  /** "vmlinux" or a module's name, and the symbol's */
  object: string;
  name: string;
  address: bigint;
  type: DType | null;
}

/**
 * Whether an unknown identifier is worth asking the kernel's types about: its typedefs end in
 * `_t` (atomic_t, sector_t, fmode_t...), and the short ones (u8, __be32...) are D's own already.
 * Asking about every identifier would read the kernel's BTF for every script.
 */
function mayBeKernelTypedef(name: string): boolean {
  return name.endsWith('_t');
}

export class TypeScope {
  /** where types the program names but does not declare come from (null: nowhere) */
  external: ExternalTypes | null = null;
  private readonly names = new Map<string, DType>();
  private readonly tags = new Map<string, DType>();
  /** enum constants: name -> value and enum type */
  readonly enumConsts = new Map<string, { value: number; type: DType }>();
  readonly strsizeType: DType;

  constructor(strsize: number) {
    for (const [n, t] of intrinsics()) this.names.set(n, t);
    for (const [base, name] of TYPEDEFS_64) this.names.set(name, typedefOf(name, this.names.get(base)!));
    this.strsizeType = stringType(strsize);
    this.names.set('string', this.strsizeType);
    this.names.set('caddr_t', typedefOf('caddr_t', pointerTo(this.names.get('char')!)));
  }

  /** A type by its full name: "int", "unsigned long", "uint64_t", "struct foo", "string". */
  lookup(name: string): DType | undefined {
    const scoped = name !== unscoped(name) && !name.startsWith('D`');
    name = unscoped(name);
    const t = this.names.get(name);
    if (t) return t;
    const m = /^(struct|union|enum) (.+)$/.exec(name);
    if (m) {
      const own = this.tags.get(name);
      return own?.complete ? own : (this.external?.lookup(name) ?? own);
    }
    if (scoped || mayBeKernelTypedef(name)) return this.external?.lookup(name);
    return undefined;
  }

  /** A type name of D's or the program's own (never the kernel's): what a typedef may not redeclare. */
  ownType(name: string): DType | undefined {
    return this.names.get(unscoped(name));
  }

  /** Whether an identifier names a type (a typedef or intrinsic), as the lexer's id_or_type asks. */
  isTypeName(name: string): boolean {
    if (this.names.has(unscoped(name))) return true;
    const scoped = name !== unscoped(name) && !name.startsWith('D`');
    return (scoped || mayBeKernelTypedef(name)) && this.external?.lookup(unscoped(name)) !== undefined;
  }

  get(name: string): DType {
    const t = this.lookup(name);
    if (!t) throw new Error(`internal: no type ${name}`);
    return t;
  }

  defineTypedef(name: string, t: DType): void {
    this.names.set(name, typedefOf(name, t));
  }

  hasOwnTypedef(name: string): boolean {
    return this.names.has(name);
  }

  /** The struct/union/enum with this tag, declared (incomplete) if it is new. */
  tag(kind: Kind.Struct | Kind.Union | Kind.Enum, tag: string): DType {
    tag = unscoped(tag);
    const word = kind === Kind.Struct ? 'struct' : kind === Kind.Union ? 'union' : 'enum';
    const key = `${word} ${tag}`;
    let t = this.tags.get(key);
    if (!t) {
      t = taggedType(kind, tag);
      this.tags.set(key, t);
    }
    return t;
  }

  /**
   * A struct/union/enum named without a body: the program's own, else the kernel's, else a new
   * incomplete one (a body always declares the program's own: tag()).
   */
  tagReference(kind: Kind.Struct | Kind.Union | Kind.Enum, tag: string): DType {
    const word = kind === Kind.Struct ? 'struct' : kind === Kind.Union ? 'union' : 'enum';
    const key = `${word} ${unscoped(tag)}`;
    const own = this.tags.get(key);
    if (own?.complete) return own;
    // a forward declaration of the program's (or of D's library) gives way to the kernel's type
    const kernel = this.external?.lookup(key);
    if (kernel && kernel.kind === kind) return kernel;
    return own ?? this.tag(kind, tag);
  }

  findTag(word: 'struct' | 'union' | 'enum', tag: string): DType | undefined {
    return this.tags.get(`${word} ${tag}`);
  }
}

/** A name without its module scope: D`s and vmlinux`int name s and int. */
export function unscoped(name: string): string {
  const i = name.lastIndexOf('`');
  return i < 0 ? name : name.slice(i + 1);
}
