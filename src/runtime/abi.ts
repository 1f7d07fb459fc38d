// The interface between a compiled clause and the runtime: every entry point the generated
// JavaScript calls. compile/jsgen.ts (and compile/intval.ts) build those calls through typed
// helpers (compile/abi-call.ts) that take a name of these interfaces, so the compiler checks that
// each entry point exists and is called with as many arguments as it takes; the runtime's
// classes `implement` them, so a renamed or removed entry point does not compile either.
//
// A clause is `function clause(ctx)` built in a scope holding:
//   rt  the Runtime (ClauseAbi), with rt.mem the scratch and kernel memory (MemoryAbi)
//   G   global scalars by variable id; D global associative arrays (DynArrayAbi) by id
//   AG  aggregations (AggregationAbi) by id; K the constant pool (format plans, types, strings)
// and `ctx` the firing's ProbeContext (the built-in variables read its fields directly).

import type { DType } from '../lang/types.js';
import type { ProbeContext } from './context.js';
import type { FormatPlan, Formatter } from './printf.js';
import type { Value } from './values.js';

/** An associative-array key as the generated code passes it. */
export type DynKey = number | bigint | string;

/** The methods of the runtime a clause calls as rt.NAME(...). */
export interface ClauseAbi {
  readonly mem: MemoryAbi;

  // -- records, faults, unsupported features
  beginRecord(ctx: ProbeContext): void;
  endRecord(ctx: ProbeContext): void;
  faultIndex(i: bigint): never;
  /** the fault the kernel met computing firing value `slot` (ctx.firingFault[slot], at address ctx.firing[slot]) */
  firingFault(ctx: ProbeContext, slot: number): never;
  unsupported(name: string): never;

  // -- integer division (Number and BigInt forms; zero divisors fault)
  ndiv(a: number, b: number): number;
  nmod(a: number, b: number): number;
  bdiv(a: bigint, b: bigint, signed: boolean): bigint;
  bmod(a: bigint, b: bigint, signed: boolean): bigint;

  // -- built-in variables that need work
  timestamp(ctx: ProbeContext): bigint;
  vtimestamp(ctx: ProbeContext): bigint;
  walltimestamp(ctx: ProbeContext): bigint;
  stackdepth(ctx: ProbeContext): number;
  ustackdepth(ctx: ProbeContext): number;
  ucaller(ctx: ProbeContext): bigint;
  userSymbolValue(ctx: ProbeContext, kind: string, addr: bigint): string;
  caller(ctx: ProbeContext): bigint;
  curpsinfo(ctx: ProbeContext): bigint;
  curlwpsinfo(ctx: ProbeContext): bigint;
  curcpu(ctx: ProbeContext): bigint;
  /** fds[fd]: the address of a fileinfo_t view of the current process's descriptor fd */
  fds(ctx: ProbeContext, fd: number): bigint;
  cpuChip(ctx: ProbeContext): number;
  cpuLgrp(ctx: ProbeContext): number;
  arg(ctx: ProbeContext, i: number): bigint;
  /** argN as a value to print: its Number where exact, else its BigInt */
  argValue(ctx: ProbeContext, i: number): number | bigint;
  /** argN's low 32 bits as a Number, for args[N] of a type of 32 bits or less */
  argLow(ctx: ProbeContext, i: number): number;
  argStr(ctx: ProbeContext, i: number): string;
  uregs(ctx: ProbeContext, i: number): bigint;

  // -- thread-local and clause-local variables
  tlsGet<V extends Value | null>(ctx: ProbeContext, id: number, zero: V): Value | V;
  tlsSet<V extends Value | null>(ctx: ProbeContext, id: number, v: V): V;
  tlsArray(ctx: ProbeContext, id: number): DynArrayAbi;
  tlsBytes(ctx: ProbeContext, id: number, size: number): Uint8Array;
  localStr(ctx: ProbeContext, id: number): string | null;

  // -- byte images (arrays, structs held by value): loads, stores, bit-fields
  bld_i8(b: Uint8Array, o: number): number;
  bld_u8(b: Uint8Array, o: number): number;
  bld_i16(b: Uint8Array, o: number): number;
  bld_u16(b: Uint8Array, o: number): number;
  bld_i32(b: Uint8Array, o: number): number;
  bld_u32(b: Uint8Array, o: number): number;
  bld_i64(b: Uint8Array, o: number): bigint;
  bld_u64(b: Uint8Array, o: number): bigint;
  bst_i8(b: Uint8Array, o: number, v: number): void;
  bst_u8(b: Uint8Array, o: number, v: number): void;
  bst_i16(b: Uint8Array, o: number, v: number): void;
  bst_u16(b: Uint8Array, o: number, v: number): void;
  bst_i32(b: Uint8Array, o: number, v: number): void;
  bst_u32(b: Uint8Array, o: number, v: number): void;
  bst_i64(b: Uint8Array, o: number, v: bigint): void;
  bst_u64(b: Uint8Array, o: number, v: bigint): void;
  bfld(b: Uint8Array, off: number, nbytes: number, bits: number, signed: boolean, big: boolean): number | bigint;
  bfst(b: Uint8Array, off: number, nbytes: number, bits: number, value: number | bigint): void;
  bfldMem(addr: bigint, nbytes: number, bits: number, signed: boolean, big: boolean): number | bigint;
  bfstMem(addr: bigint, nbytes: number, bits: number, value: number | bigint): void;
  bcopyInto(dst: Uint8Array, off: number, src: Uint8Array, size: number): void;

  // -- strings and their conversions
  bytesStr(b: Uint8Array | string | null): string | null;
  strBytes(s: string | null, size: number): Uint8Array;
  bytesKey(b: Uint8Array): string;
  strKey(s: string | null): string;
  bytesAddr(b: Uint8Array): bigint;
  strAddr(s: string | null): bigint;
  strByte(s: string | null, i: number): number;
  strOffset(s: string | null, n: bigint, neg?: boolean): string | null;
  strcmp(a: string | null, b: string | null): number;
  intStr(v: number | bigint): string;

  // -- subroutines
  strlen(s: string | null): bigint;
  strjoin(a: string | null, b: string | null): string;
  substr(s: string | null, i: number, n?: number): string;
  index(s: string | null, t: string | null, start?: number): number;
  rindex(s: string | null, t: string | null, start?: number): number;
  strchr(s: string | null, c: number): string | null;
  strrchr(s: string | null, c: number): string | null;
  strstr(s: string | null, t: string | null): string | null;
  strtok(ctx: ProbeContext, s: string | null, d: string | null): string | null;
  strtokNext(ctx: ProbeContext, d: string | null): string | null;
  basename(s: string | null): string;
  dirname(s: string | null): string;
  cleanpath(s: string | null): string;
  toupper(s: string | null): string;
  tolower(s: string | null): string;
  lltostr(v: bigint, base?: number): string;
  strtoll(s: string | null, base?: number): bigint;
  bswap16(v: number): number;
  bswap32(v: number): number;
  bswap64(v: bigint): bigint;
  rand(): number;
  inet_ntoa(addr: bigint): string;
  inet_ntoa6(addr: bigint): string;
  inet_ntop(af: number, addr: bigint): string;
  link_ntop(type: number, addr: bigint): string;
  copyin(ctx: ProbeContext, addr: bigint, size: bigint): bigint;
  copyinstr(ctx: ProbeContext, addr: bigint, size?: bigint): string;
  copyinto(ctx: ProbeContext, addr: bigint, size: bigint, dst: bigint): void;
  progenyof(ctx: ProbeContext, pid: number): number;
  speculation(ctx: ProbeContext): number;
  stackValue(ctx: ProbeContext, kind: string, n: number): string;
  /** sym(addr), func(addr) as a value: the start of the kernel function it is in (else addr) */
  symbolStart(addr: bigint): bigint;

  // -- actions
  trace(t: DType, v: Value | null): void;
  tracemem(addr: bigint, n: bigint, dyn?: bigint, dynType?: DType): void;
  print(t: DType, v: Value | null): void;
  /** print(v) of a value that is no pointer: the value with its type (illumos) */
  printValue(t: DType, v: Value | null): void;
  /** printf(): the values in `args` (the runtime's own pargs array) [0, n); `format` compiled from the plan */
  printf(ctx: ProbeContext, plan: FormatPlan, args: Array<Value | null>, n: number, format: Formatter): void;
  /** printf()'s one argument array, filled by the generated code before each call */
  readonly pargs: Array<Value | null>;
  system(ctx: ProbeContext, plan: FormatPlan, args: Array<Value | null>): void;
  freopen(ctx: ProbeContext, plan: FormatPlan, args: Array<Value | null>): void;
  printa(ctx: ProbeContext, plan: FormatPlan | null, ids: number[]): void;
  stack(ctx: ProbeContext, kind: string, n: number): void;
  symbol(ctx: ProbeContext, kind: string, addr: bigint): void;
  exit(ctx: ProbeContext, status: number): void;
  aggClear(id: number): void;
  aggTrunc(id: number, n?: bigint): void;
  aggNormalize(id: number, n: bigint): void;
  aggDenormalize(id: number): void;
  speculate(ctx: ProbeContext, id: number): void;
  commit(ctx: ProbeContext, id: number): void;
  discard(ctx: ProbeContext, id: number): void;
  setopt(ctx: ProbeContext, name: string | null, value?: string | null): void;
  raise(ctx: ProbeContext, sig: number): void;
  ftruncate(): void;
  chill(ns: number): void;
}

/** Memory by address (scratch, alloca, kernel and user views) as a clause reads and writes it: rt.mem.NAME(...). */
export interface MemoryAbi {
  ld_i8(a: bigint): number;
  ld_u8(a: bigint): number;
  ld_i16(a: bigint): number;
  ld_u16(a: bigint): number;
  ld_i32(a: bigint): number;
  ld_u32(a: bigint): number;
  ld_i64(a: bigint): bigint;
  ld_u64(a: bigint): bigint;
  st_i8(a: bigint, v: number): void;
  st_u8(a: bigint, v: number): void;
  st_i16(a: bigint, v: number): void;
  st_u16(a: bigint, v: number): void;
  st_i32(a: bigint, v: number): void;
  st_u32(a: bigint, v: number): void;
  st_i64(a: bigint, v: bigint): void;
  st_u64(a: bigint, v: bigint): void;
  bytes(addr: bigint, size: number): Uint8Array;
  str(addr: bigint): string;
  copyIn(addr: bigint, src: Uint8Array, size: number): void;
  alloca(size: bigint): bigint;
  bcopy(src: bigint, dst: bigint, size: bigint): void;
}

/** An aggregation as a clause updates it: AG[id].NAME(...) (the slot of a key, then its update). */
export interface AggregationAbi {
  slot0(): number;
  slot1(k0: Value): number;
  slot2(k0: Value, k1: Value): number;
  slot3(k0: Value, k1: Value, k2: Value): number;
  slotN(keys: readonly Value[]): number;
  add(slot: number, v: number, incr: number | bigint): void;
  addBig(slot: number, v: bigint, incr: number | bigint): void;
  /** the same, of argument i of the firing: its Number where the decoder made one, else its BigInt */
  addArg(slot: number, ctx: ProbeContext, i: number, incr: number | bigint): void;
}

/** A global or thread-local associative array as a clause reads and writes it: D[id].NAME(...). */
export interface DynArrayAbi {
  get(k0: DynKey, k1?: DynKey, k2?: DynKey, ...rest: DynKey[]): Value | undefined;
  set<V extends Value | null>(v: V, ...keys: DynKey[]): V;
}
