// D to BPF, for the clauses that can run whole in the kernel: a predicate and aggregations,
// on a probe whose record a tracepoint program sees. The aggregations then live in per-CPU
// kernel maps (keys and values as below) that the consumer reads when it prints them, and such
// a firing never reaches user space: nothing to decode, nothing to drop.       [dt_cg.c]
// A clause that prints (printf(), trace(), exit(), or none: the default action) sends one
// record per firing whose predicate held: the values its output actions print, computed as
// the probe fires, which the consumer formats (DTrace's per-CPU buffer record of an ECB).
// It does so only where every clause on its probes runs in the kernel, so that a firing's
// output comes in clause order.
//
// What compiles (anything else keeps the clause in dtrace, on the JavaScript path):
//   integers and enum constants; arg0..arg9 and args[N] (integers in the record); pid, tid,
//   uid, gid, cpu, timestamp; thread-local integers (self->x, read, and assigned with =, with
//   op= of an operator below and with ++ and --: kept in a kernel map by thread, where every
//   clause that uses them runs in the kernel; the other variables below are assigned alike);
//   clause-local integers (this->x, up to 4, that no other clause names: stack slots); global
//   integers and associative arrays of integers by one or two integer keys (x, a[k]: maps all
//   CPUs share, where every clause that uses them runs in the kernel);
//   thread-local and global strings (self->s, s: strsize bytes at most 256, in kernel maps as
//   the integers are): assigned copyinstr() of an integer, execname, a literal, stringof() of a
//   kernel char pointer, a kernel char array (or stringof() of one) shorter than strsize,
//   another such variable, or 0 (which frees a thread-local; a global, never unset in its
//   map, is not assigned 0 or a thread-local in the kernel); used as a key, printed, and
//   compared (== !=) with a literal, with NULL (whether it is set) and with another such
//   variable (clause-local strings, this->s, stay in dtrace: the stack has no room for them);
//   copyin(addr, n) of an integer address and a constant n (an integer or sizeof (type)), read
//   as the probe fires: *(T *)copyin(), ((struct s *)copyin())->m and members of that member
//   (within the n bytes, each call's copy in a per-CPU map), and stringof(copyin()) of fewer
//   bytes than strsize (printed, a key, assigned to a string variable);
//   execname compared (== !=) with a string or used as a key; copyinstr() compared with a
//   string in the predicate; string literals as keys; probeprov,
//   probemod, probefunc, probename compared with a string or used as a key; + - * / % & | ^, <<
//   and >> by a constant, comparisons, ! ~ unary -, && || ^^, ?: and casts between integer types;
//   count(), sum(), avg(), min(), max(), stddev(), quantize(), lquantize() and llquantize()
//   (with an increment argument or not) keyed by integers and those strings, by copyinstr() of an
//   integer (the user string read as the probe fires, strsize bytes at most), by
//   func(), sym() and mod() of an integer, and, on sampling probes (profile-N), by stack();
//   printf(), trace() and exit() of integers, execname, copyinstr() of an integer, kernel char
//   arrays and stringof() of kernel strings, those string variables, string literals, the
//   probe's names and walltimestamp; printa() (the consumer prints the aggregations as it reads
//   the record); stack() and stack(N) on sampling probes (bpf_get_stack()'s frames).
// Values are held in 64-bit registers: a loaded value as its D type's value sign- or
// zero-extended; an arithmetic result in all 64 bits, as DTrace's registers and the consumer's
// values hold it, narrowed to its type where it is stored, printed, compared or cast.

import { Alu, CURRENT_CPU, Helper, Jmp, Program, R0, R1, R10, R2, R3, R4, R5, R6, R7, R8, type Size } from '../kernel/bpf/asm.js';
import * as A from '../lang/ast.js';
import { type CheckedClause, promoteTypes } from '../lang/check.js';
import { MAX_STACK_FRAMES } from '../runtime/context.js';
import { LLQuantizeParams, LQuantizeParams } from '../runtime/histogram.js';
import { type DType, Kind, findMember, intType, isCharArray, isCharPointer, isString, resolve } from '../lang/types.js';
import {
  FIRING_HEADER,
  type FiringValue,
  type FiringValues,
  type KernelAggregation,
  type KernelClause,
  type KernelKeyPart,
  type KernelMaps,
  type KernelOutput,
  type KernelOutputMaps,
  type KernelProbe,
  ACTIVITY_DRAINING,
  FAULT_PLACE,
  FAULT_RECORD_BYTES,
  FAULT_VALUE,
  OUTPUT_CLAUSE,
  OUTPUT_FAULT,
  OUTPUT_HEADER,
  OUTPUT_PID,
  OUTPUT_PROBE,
  OUTPUT_TID,
  OUTPUT_TIME,
  PROBE_ID_REGISTER,
  PROGRAM_END,
  keyPartSize,
  loadActivity,
} from '../providers/clause-plan.js';

/** An integer's width and signedness, as a register holds it. */
interface IntShape {
  size: 1 | 2 | 4 | 8;
  signed: boolean;
  /** a _Bool: 0 or 1, whatever is converted to it */
  bool?: boolean;
}

const KERNEL_FNS = new Set(['count', 'sum', 'avg', 'min', 'max', 'stddev', 'quantize', 'lquantize', 'llquantize']);
/** words of each function's value in the map (min and max: [has a value, value]); lquantize and llquantize: their buckets */
const WORDS: Record<'count' | 'sum' | 'avg' | 'min' | 'max' | 'stddev' | 'quantize', number> = { count: 1, sum: 1, avg: 2, min: 2, max: 2, stddev: 4, quantize: 127 };
/**
 * the most buckets an lquantize() or llquantize() kept in the kernel may have (a per-CPU map's
 * value is at most 32 KiB); one with more stays in dtrace
 */
const MAX_KERNEL_BUCKETS = 4000;
const PROBE_FIELDS: Record<string, 'provider' | 'module' | 'func' | 'name'> = {
  probeprov: 'provider',
  probemod: 'module',
  probefunc: 'func',
  probename: 'name',
};
const INT_BUILTINS = new Set(['pid', 'tid', 'uid', 'gid', 'cpu', 'timestamp']);
/** the drop counters' slots (KernelMaps.drops) */
const DROPS_AGGREGATION = 0;
/** DTrace's fault codes (runtime/subr.ts FLT_*) the kernel's code reports */
const FLT_BADADDR = 1;
const FLT_DIVZERO = 4;
const DROPS_DYNAMIC = 1;
/** the deepest expression the code keeps intermediate values for (8 bytes each) */
const MAX_DEPTH = 20;
const TEMPS = MAX_DEPTH * 8;
/** clause-local integers (this->x) a kernel clause may have, 8 bytes each below the temporaries */
const LOCAL_SLOTS = 4;
const LOCALS_END = TEMPS + LOCAL_SLOTS * 8;
/** where a comm copy goes, below the locals */
const COMM_AT = LOCALS_END + 16;
/** where keys are built, below that */
const KEY_BASE = COMM_AT;
const MAX_KEY = 288;
/** where a string variable's value is made, in the keys' room (an assignment builds no key) */
const STRING_AT = -(KEY_BASE + MAX_KEY);
/** the key's byte count plus what lies above it must stay within BPF's 512-byte stack */
const STACK = KEY_BASE + MAX_KEY + 8;
/** a clause that prints: the pointer to the record it makes, below all that */
const RECORD_AT = -(STACK + 8);
/** the largest record a clause that prints may send (a larger one stays in dtrace) */
export const MAX_RECORD = 8192;
/** bpf_perf_event_output()'s error for a ring with no room (-ENOSPC); one with no ring yet (before tracing starts) is no loss */
const RING_FULL = -28;

/** an aggregation's increment, while its entry is found: the second temporary (the first holds the value as the increment is computed) */
const INCREMENT_AT = -16;

/** A clause-local's stack slot's offset from the frame pointer. */
function localAt(slot: number): number {
  return -(TEMPS + 8 * (slot + 1));
}

function shapeOf(t: DType): IntShape | null {
  const r = resolve(t);
  if (r.kind === Kind.Pointer) return { size: 8, signed: false };
  if (r.kind === Kind.Enum) return { size: 4, signed: true };
  if (r.kind !== Kind.Int) return null;
  // a _Bool holds 0 or 1 (intval.ts toStorage), which a register's truncation to a byte is not
  if (r.name === '_Bool') return { size: 1, signed: false, bool: true };
  if (r.size !== 1 && r.size !== 2 && r.size !== 4 && r.size !== 8) return null;
  return { size: r.size, signed: r.signed };
}

/** C's usual arithmetic conversions, on shapes: what two operands are compared or combined as. */
function commonShape(a: IntShape, b: IntShape): IntShape {
  const pa: IntShape = a.size < 4 ? { size: 4, signed: true } : a;
  const pb: IntShape = b.size < 4 ? { size: 4, signed: true } : b;
  if (pa.signed === pb.signed) return { size: pa.size >= pb.size ? pa.size : pb.size, signed: pa.signed };
  const [u, s] = pa.signed ? [pb, pa] : [pa, pb];
  return u.size >= s.size ? u : s;
}

function isBuiltin(e: A.Expr, names: Set<string> | string): boolean {
  if (e.kind !== A.N.Ident || e.resolved !== A.IdentKind.Builtin) return false;
  return typeof names === 'string' ? e.name === names : names.has(e.name);
}

/** argN, or args[N] with a constant N: N; else -1. */
function argIndex(e: A.Expr): number {
  if (e.kind === A.N.Ident && e.resolved === A.IdentKind.Builtin) {
    const m = /^arg([0-9])$/.exec(e.name);
    return m ? Number(m[1]) : -1;
  }
  if (e.kind === A.N.Index && e.mode === 'args' && e.args[0].kind === A.N.Int && e.args[0].value <= 9n) return Number(e.args[0].value);
  return -1;
}

/** uregs[N] with a constant N (a number or a register's name, R_SP): N; else -1. */
function uregIndex(e: A.Expr): number {
  if (e.kind !== A.N.Index || e.mode !== 'builtin' || e.base.kind !== A.N.Ident || e.base.name !== 'uregs') return -1;
  const ix = e.args[0];
  if (ix.kind === A.N.Int) return ix.value <= 255n ? Number(ix.value) : -1;
  if (ix.kind === A.N.Ident && ix.resolved === A.IdentKind.EnumConst && ix.constValue >= 0n && ix.constValue <= 255n) return Number(ix.constValue);
  return -1;
}

/** A string side of a comparison the kernel can make: execname, a probe field, a literal, or (in a predicate) copyinstr(). */
function stringOperand(e: A.Expr, budget: Budget): boolean {
  if (e.kind === A.N.Str || isBuiltin(e, 'execname') || (e.kind === A.N.Ident && e.resolved === A.IdentKind.Builtin && e.name in PROBE_FIELDS)) return true;
  return budget.vars.userCompare === true && copyinstrOf(e, budget) !== null;
}

/** the most nodes a kernel expression may have (a longer one stays in dtrace, whose code is flat) */
const MAX_NODES = 512;

/** Which variables a kernel clause's code may name: thread-locals that live in the kernel, and its own clause-locals' stack slots. */
interface Vars {
  self(id: number): boolean;
  /** a global variable (scalar or associative array) that lives in the kernel */
  global(id: number): boolean;
  /** a clause-local's slot, or -1 */
  local(v: A.VarInfo): number;
  /** the strsize option: copyinstr()'s most bytes, its NUL included (0: copyinstr() stays in dtrace) */
  strsize: number;
  /**
   * copyinstr() compared with a string literal: in the predicate only, whose code runs before
   * any key is built (the string is read into the keys' room)
   */
  userCompare?: boolean;
  /**
   * copyin() may be read: its copies go to KernelMaps.userCopy (a kernel clause's; the programs
   * that compute firing values for clauses in dtrace have no such map)
   */
  copyin?: boolean;
}

const NO_VARS: Vars = { self: () => false, global: () => false, local: () => -1, strsize: 0 };

/** the most keys of a global associative array in the kernel (its key is built in 16 bytes) */
const MAX_ARRAY_KEYS = 2;

/** A global scalar integer variable, as x names it. */
export function globalOf(e: A.Expr): A.VarInfo | null {
  if (e.kind !== A.N.Ident || e.resolved !== A.IdentKind.Global || e.ref === null || 'fn' in e.ref) return null;
  const v = e.ref;
  if (v.scope !== 'global' || v.kind !== 'scalar' || v.type === null || shapeOf(v.type) === null) return null;
  return v;
}

/** A global associative array of integers with integer keys (at most MAX_ARRAY_KEYS), as a[k] names an element. */
export function globalArrayOf(e: A.Expr): A.VarInfo | null {
  if (e.kind !== A.N.Index || e.mode !== 'assoc' || e.ref === null || 'fn' in e.ref) return null;
  const v = e.ref;
  if (v.scope !== 'global' || v.kind !== 'assoc' || v.type === null || shapeOf(v.type) === null) return null;
  const keys = v.keys ?? [];
  if (keys.length === 0 || keys.length > MAX_ARRAY_KEYS || keys.length !== e.args.length || keys.some((k) => shapeOf(k) === null)) return null;
  return v;
}

/** copyinstr(addr) of an integer address: the address; else null. */
function copyinstrOf(e: A.Expr, budget: Budget): A.Expr | null {
  if (e.kind !== A.N.Call || e.name !== 'copyinstr' || e.args.length !== 1 || budget.vars.strsize <= 0) return null;
  return intOk(e.args[0], 0, budget) ? e.args[0] : null;
}

/** the most bytes one clause's copyin() calls may copy (their room in a per-CPU map's value) */
const MAX_COPYIN = 4096;

/** A size as written: an integer constant, sizeof (type), or a cast of one; else null. */
function constantSize(e: A.Expr): number | null {
  if (e.kind === A.N.Cast) return constantSize(e.operand);
  if (e.kind === A.N.Int) return e.value <= BigInt(MAX_COPYIN) ? Number(e.value) : null;
  if (e.kind === A.N.SizeofType) return resolve(e.of).size;
  return null;
}

/** copyin(addr, n) of a constant size, under casts to pointers: the call and n; else null (not checked to compile: copyinOf). */
function copiedFrom(e: A.Expr): { call: A.Call; size: number } | null {
  while (e.kind === A.N.Cast && e.type !== null && resolve(e.type).kind === Kind.Pointer) e = e.operand;
  if (e.kind !== A.N.Call || e.name !== 'copyin' || e.args.length !== 2) return null;
  const size = constantSize(e.args[1]);
  return size !== null && size > 0 && size <= MAX_COPYIN ? { call: e, size } : null;
}

/** copyin(addr, n) of an integer address and a constant size, where the clause may copy: as copiedFrom(); else null. */
function copyinOf(e: A.Expr, depth: number, budget: Budget): { call: A.Call; size: number } | null {
  const copy = copiedFrom(e);
  return copy !== null && budget.vars.copyin === true && intOk(copy.call.args[0], depth, budget) ? copy : null;
}

/**
 * A place in copyin()'s copy: *(T *)copyin(a, n), ((struct s *)copyin(a, n))->m, and members of
 * such a member reached with `.`, within the n bytes (not a bit-field): the copy, and the
 * place's offset in it; else null.
 */
function copyPlace(e: A.Expr): { call: A.Call; size: number; offset: number } | null {
  if (e.type === null) return null;
  let offset = 0;
  let x = e;
  for (; x.kind === A.N.Member && !x.arrow; x = x.base) {
    const m = memberOf(x);
    if (m === undefined || m.bitWidth >= 0) return null;
    offset += m.offset;
  }
  let base: A.Expr;
  if (x.kind === A.N.Unary && x.op === '*') base = x.operand;
  else if (x.kind === A.N.Member && x.arrow && x.base.type !== null) {
    const m = memberOf(x);
    if (m === undefined || m.bitWidth >= 0) return null;
    offset += m.offset;
    base = x.base;
  } else return null;
  const copy = copiedFrom(base);
  return copy !== null && offset + resolve(e.type).size <= copy.size ? { ...copy, offset } : null;
}

/** stringof(copyin(addr, n)): the copy, as copiedFrom() (not checked to compile: copyinString); else null. */
function copiedString(e: A.Expr): { call: A.Call; size: number } | null {
  return e.kind === A.N.Stringof ? copiedFrom(e.operand) : null;
}

/**
 * stringof(copyin(addr, n)) where the clause may copy and n is less than strsize: the string
 * is the n bytes up to the first NUL (as the consumer reads its copy, which has zeros after
 * it), the kernel's a NUL after them; else null.
 */
function copyinString(e: A.Expr, vars: Vars): { call: A.Call; size: number } | null {
  if (e.kind !== A.N.Stringof) return null;
  const copy = copyinOf(e.operand, 0, newBudget(vars));
  return copy !== null && copy.size < vars.strsize ? copy : null;
}

/** What an expression may still use: nodes, and which variables. */
interface Budget {
  nodes: number;
  vars: Vars;
}

function newBudget(vars: Vars = NO_VARS): Budget {
  return { nodes: MAX_NODES, vars };
}

/** A clause-local scalar integer variable, as this->x names it. */
function clauseLocalOf(e: A.Expr): A.VarInfo | null {
  if (e.kind !== A.N.ThisVar || e.ref === null || 'fn' in e.ref) return null;
  const v = e.ref;
  if (v.scope !== 'this' || v.kind !== 'scalar' || v.type === null || shapeOf(v.type) === null) return null;
  return v;
}

/** A thread-local scalar integer variable, as self->x names it. */
export function threadLocalOf(e: A.Expr): A.VarInfo | null {
  if (e.kind !== A.N.SelfVar || e.ref === null || 'fn' in e.ref) return null;
  const v = e.ref;
  if (v.scope !== 'self' || v.kind !== 'scalar' || v.type === null || shapeOf(v.type) === null) return null;
  return v;
}

/** A thread-local or global string variable, as self->s or s names it. */
export function stringVariableOf(e: A.Expr): A.VarInfo | null {
  if ((e.kind !== A.N.SelfVar && (e.kind !== A.N.Ident || e.resolved !== A.IdentKind.Global)) || e.ref === null || 'fn' in e.ref) return null;
  const v = e.ref;
  if ((v.scope !== 'self' && v.scope !== 'global') || v.kind !== 'scalar' || v.type === null || !isString(v.type)) return null;
  return v;
}

/** A string variable that lives in the kernel, where strings can (strsize at most STRSIZE); else null. */
function kernelStringVar(e: A.Expr, vars: Vars): A.VarInfo | null {
  const v = stringVariableOf(e);
  if (v === null || vars.strsize <= 0) return null;
  return (v.scope === 'self' ? vars.self(v.id) : vars.global(v.id)) ? v : null;
}

/** 0 or NULL as written: the value that frees a string variable, and what one unset compares equal to (jsgen.ts isLiteralZero). */
function isLiteralZero(e: A.Expr): boolean {
  return (e.kind === A.N.Int && e.value === 0n) || (e.kind === A.N.Ident && e.resolved === A.IdentKind.EnumConst && e.constValue === 0n);
}

/** A string literal's bytes, where a string variable can hold them (no NUL, and room for one after them); else null. */
function literalBytes(e: A.Expr, strsize: number): Buffer | null {
  if (e.kind !== A.N.Str) return null;
  const bytes = Buffer.from(e.value, 'latin1');
  return bytes.includes(0) || bytes.length + 1 > strsize ? null : bytes;
}

/**
 * What a string variable can be assigned in the kernel: copyinstr() of an integer (or
 * stringof(copyin()) of one and a size less than strsize), execname, a
 * literal, a kernel string (stringof() of a char pointer, a char array shorter than strsize,
 * stringof() of one), another such variable, or 0 (freed); else null.
 */
type StringSource =
  | { kind: 'user'; addr: A.Expr }
  | { kind: 'copyin'; addr: A.Expr; size: number }
  | { kind: 'comm' }
  | { kind: 'literal'; bytes: Buffer }
  | { kind: 'kernel'; place: A.Expr; pointer: boolean; size: number }
  | { kind: 'var'; v: A.VarInfo }
  | { kind: 'free' };

function stringSource(e: A.Expr, vars: Vars, target: A.VarInfo): StringSource | null {
  // a global is never unset in the kernel (its map's one entry): what would unset it stays in dtrace
  const global = target.scope === 'global';
  if (isLiteralZero(e)) return global ? null : { kind: 'free' };
  const v = kernelStringVar(e, vars);
  if (v !== null) return global && v.scope !== 'global' ? null : { kind: 'var', v };
  const addr = copyinstrOf(e, newBudget(vars));
  if (addr !== null) return { kind: 'user', addr };
  const copied = copyinString(e, vars);
  if (copied !== null) return { kind: 'copyin', addr: copied.call.args[0], size: copied.size };
  // comm is 16 bytes, its NUL included
  if (isBuiltin(e, 'execname')) return vars.strsize >= 16 ? { kind: 'comm' } : null;
  const bytes = literalBytes(e, vars.strsize);
  if (bytes !== null) return { kind: 'literal', bytes };
  const str = kernelString(e);
  if (str === null) return null;
  // a char array's bytes up to its first NUL, or all of them: room for a NUL after them
  if (!str.pointer) return str.size < vars.strsize ? { kind: 'kernel', ...str } : null;
  return { kind: 'kernel', ...str, size: vars.strsize };
}

/**
 * A string equality the kernel can compute with a string variable on one side: against a
 * literal, 0 or NULL (whether it is unset), or another string variable; else null.
 */
function stringVarEquality(e: A.Binary, vars: Vars): { v: A.VarInfo; other: { kind: 'literal'; bytes: Buffer | null } | { kind: 'null' } | { kind: 'var'; v: A.VarInfo } } | null {
  if (e.op !== '==' && e.op !== '!=') return null;
  for (const [a, b] of [[e.left, e.right], [e.right, e.left]]) {
    const v = kernelStringVar(a, vars);
    if (v === null) continue;
    if (isLiteralZero(b)) return { v, other: { kind: 'null' } };
    const w = kernelStringVar(b, vars);
    if (w !== null) return { v, other: { kind: 'var', v: w } };
    // a literal a variable cannot hold is never equal to it
    if (b.kind === A.N.Str) return { v, other: { kind: 'literal', bytes: literalBytes(b, vars.strsize) } };
  }
  return null;
}

/** Whether an integer expression compiles (`depth`: how many values are held above it). */
function intOk(e: A.Expr, depth: number, budget: Budget = newBudget()): boolean {
  if (--budget.nodes < 0 || depth >= MAX_DEPTH || e.type === null || shapeOf(e.type) === null) return false;
  switch (e.kind) {
    case A.N.SelfVar:
      return threadLocalOf(e) !== null && budget.vars.self(threadLocalOf(e)!.id);
    case A.N.ThisVar:
      return clauseLocalOf(e) !== null && budget.vars.local(clauseLocalOf(e)!) >= 0;
    case A.N.Int:
      return true;
    case A.N.Ident:
      if (e.resolved === A.IdentKind.EnumConst) return true;
      if (e.resolved === A.IdentKind.Inline) return e.inlineExpr !== null && intOk(e.inlineExpr, depth, budget);
      if (globalOf(e) !== null) return budget.vars.global(globalOf(e)!.id);
      return isBuiltin(e, INT_BUILTINS) || isBuiltin(e, 'curthread') || argIndex(e) >= 0;
    case A.N.Index: {
      if (argIndex(e) >= 0 || uregIndex(e) >= 0) return true;
      const v = globalArrayOf(e);
      return v !== null && budget.vars.global(v.id) && e.args.every((k, i) => intOk(k, depth + i, budget));
    }
    case A.N.Member:
      return placeOk(e, depth, budget);
    case A.N.Binary:
      // arithmetic typed _Bool (of two _Bools, or x op= v of a _Bool x) stays in dtrace, whose
      // value of it is not always 0 or 1 (in sum() it is the arithmetic's)
      if (shapeOf(e.type)!.bool === true) return false;
      if (e.op === '==' || e.op === '!=') {
        if (stringVarEquality(e, budget.vars) !== null) return true;
        if (e.left.type !== null && isString(e.left.type)) return stringOperand(e.left, budget) && stringOperand(e.right, budget) && (e.left.kind === A.N.Str || e.right.kind === A.N.Str);
      }
      if (e.op === '<<' || e.op === '>>') {
        if (e.right.kind !== A.N.Int || e.right.value < 0n || e.right.value > 63n) return false;
      }
      return intOk(e.left, depth, budget) && intOk(e.right, depth + 1, budget);
    case A.N.Logical:
      return intOk(e.left, depth, budget) && intOk(e.right, depth + 1, budget);
    case A.N.Unary:
      if (e.op === '*') return placeOk(e, depth, budget);
      if ((e.op === '-' || e.op === '~') && shapeOf(e.type)!.bool === true) return false;
      return (e.op === '-' || e.op === '~' || e.op === '!' || e.op === '+') && intOk(e.operand, depth, budget);
    case A.N.Ternary:
      return intOk(e.cond, depth, budget) && intOk(e.then, depth, budget) && intOk(e.otherwise, depth, budget);
    case A.N.Cast:
      return intOk(e.operand, depth, budget);
    default:
      return false;
  }
}

/**
 * Whether the kernel address of an lvalue can be computed: a member reached with -> from an
 * integer expression (a pointer: curthread, a cast argument, another member) or with . from
 * such a place, or *p; not a bit-field.
 */
function placeOk(e: A.Expr, depth: number, budget: Budget): boolean {
  if (--budget.nodes < 0 || e.type === null) return false;
  const copy = copyPlace(e);
  if (copy !== null) return copyinOf(copy.call, depth, budget) !== null;
  if (e.kind === A.N.Unary && e.op === '*') return intOk(e.operand, depth, budget);
  if (e.kind !== A.N.Member || e.base.type === null) return false;
  const m = memberOf(e);
  if (m === undefined || m.bitWidth >= 0) return false;
  return e.arrow ? intOk(e.base, depth, budget) : placeOk(e.base, depth, budget);
}

/** The member an -> or . names. */
function memberOf(e: A.Member): ReturnType<typeof findMember> {
  const base = resolve(e.base.type!);
  const struct = e.arrow ? (base.kind === Kind.Pointer ? base.base : null) : base;
  return struct === null ? undefined : findMember(struct, e.name);
}

/**
 * A string in kernel memory: a char array (itself, or stringof() of it: its place and length)
 * or stringof() of a char pointer (the pointer, and DTrace's default strsize).
 */
function kernelString(e: A.Expr): { place: A.Expr; pointer: boolean; size: number } | null {
  const x = e.kind === A.N.Stringof ? e.operand : e;
  if (x.type === null) return null;
  if (isCharArray(x.type)) {
    const size = resolve(x.type).count;
    return size > 0 && size <= STRSIZE && placeOk(x, 0, newBudget()) ? { place: x, pointer: false, size } : null;
  }
  if (e.kind === A.N.Stringof && isCharPointer(x.type) && intOk(x, 0, newBudget())) return { place: x, pointer: true, size: STRSIZE };
  return null;
}

/** DTrace's default strsize: the most bytes of a string, its NUL included */
const STRSIZE = 256;

/** The key parts of an aggregation's keys, or null if one cannot be made in the kernel. */
function keyParts(args: A.Expr[], keyTypes: DType[], vars: Vars, stackFrames: number): KernelKeyPart[] | null {
  const parts: KernelKeyPart[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const t = keyTypes[i] ?? a.type;
    if (t === null || a.type === null) return null;
    const kernel = kernelKey(a, vars, stackFrames);
    if (kernel !== null) {
      parts.push(kernel);
      continue;
    }
    // a string variable's bytes (zero-padded as it holds them)
    if (kernelStringVar(a, vars) !== null) {
      parts.push({ kind: 'kstr', size: vars.strsize });
      continue;
    }
    // a user string copied with copyin(), as the probe fires
    const copied = copyinString(a, vars);
    if (copied !== null) {
      parts.push({ kind: 'kstr', size: copied.size + 1, user: true });
      continue;
    }
    // a user string, as the probe fires
    if (copyinstrOf(a, newBudget(vars)) !== null) {
      parts.push({ kind: 'kstr', size: vars.strsize, user: true });
      continue;
    }
    // a char array in kernel memory is a string key whether D typed the key a string or not
    const str = kernelString(a);
    if (str !== null) {
      parts.push({ kind: 'kstr', size: str.size });
      continue;
    }
    if (isString(t)) {
      // as dtrace holds a string constant: strsize bytes at most
      if (a.kind === A.N.Str) parts.push({ kind: 'literal', value: vars.strsize > 0 && a.value.length > vars.strsize ? a.value.slice(0, vars.strsize) : a.value });
      else if (isBuiltin(a, 'execname')) parts.push({ kind: 'comm' });
      else if (a.kind === A.N.Ident && a.resolved === A.IdentKind.Builtin && a.name in PROBE_FIELDS) parts.push({ kind: 'probe', field: PROBE_FIELDS[a.name] });
      else return null;
      continue;
    }
    const s = shapeOf(t);
    if (s === null || !intOk(a, 0, newBudget(vars))) return null;
    parts.push({ kind: 'int', size: s.size, signed: s.signed });
  }
  return parts;
}

/**
 * func(x), sym(x), mod(x) of an integer, or stack() / stack(N) (the key holds its frames:
 * `stackFrames`, the stackframes option, for stack()): their key part; else null.
 */
function kernelKey(a: A.Expr, vars: Vars, stackFrames: number): KernelKeyPart | null {
  if (a.kind !== A.N.Call) return null;
  if (a.name === 'stack') {
    const n = a.args.length === 0 ? BigInt(stackFrames) : a.args[0].kind === A.N.Int ? a.args[0].value : 0n;
    return n > 0n && n * 8n <= BigInt(MAX_KEY) ? { kind: 'stack', frames: Number(n) } : null;
  }
  if ((a.name === 'func' || a.name === 'sym' || a.name === 'mod') && a.args.length === 1 && intOk(a.args[0], 0, newBudget(vars))) {
    return { kind: 'sym', start: a.name !== 'mod' };
  }
  return null;
}

function keySize(parts: KernelKeyPart[]): number {
  let n = 0;
  for (const p of parts) n += keyPartSize(p);
  return n;
}

/** One statement of a kernel clause: an aggregation update, or a thread-local's or clause-local's assignment. */
type Update =
  | { kind: 'agg'; agg: KernelAggregation; keys: A.Expr[]; value: A.Expr | null; buckets: Buckets | null; increment: A.Expr | null }
  | { kind: 'self'; v: A.VarInfo; value: A.Expr }
  | { kind: 'string'; v: A.VarInfo; source: StringSource; value: A.Expr }
  | { kind: 'local'; v: A.VarInfo; slot: number; value: A.Expr }
  | { kind: 'global'; v: A.VarInfo; keys: A.Expr[]; value: A.Expr }
  /** printf(), trace(), exit(): their values into the clause's record (the consumer formats them) */
  | { kind: 'print'; values: Array<[A.Expr, Printed]>; value: null };

/** A value a kernel clause prints, and how the kernel computes it into the record. */
type Printed = FiringValue & { how: 'int' | 'comm' | 'user' | 'copyin' | 'kernel' | 'var' | 'kstack' };

/**
 * The actions whose values a kernel clause writes into its record for the consumer to format
 * (printa()'s record holds none: the consumer prints the aggregations as it reads the record,
 * as DTrace's consumer prints them from its last snapshot).
 */
const OUTPUT_ACTIONS: ReadonlySet<string> = new Set(['printf', 'trace', 'exit', 'printa', 'stack']);

/** Whether a statement is one of OUTPUT_ACTIONS (in a kernel clause: its values are in the record, the consumer runs it). */
export function isOutputStatement(s: A.Stmt): boolean {
  return s.kind === 'expr' && s.expr.kind === A.N.Call && OUTPUT_ACTIONS.has(s.expr.name);
}

/**
 * What a printed expression is in the record, or null where the consumer has it itself (a
 * string literal, the probe's names: the record names its probe); undefined: the kernel cannot
 * compute it.
 */
function printedKind(e: A.Expr, vars: Vars): Omit<Printed, 'slot' | 'at'> | null | undefined {
  if (e.type === null) return undefined;
  if (e.kind === A.N.Str || (e.kind === A.N.Ident && e.resolved === A.IdentKind.Builtin && e.name in PROBE_FIELDS)) return null;
  // the consumer reads the clock as it formats the record, as it does for a clause in dtrace
  if (isBuiltin(e, 'walltimestamp')) return null;
  if (isBuiltin(e, 'execname')) return { kind: 'str', size: 16, signed: false, how: 'comm' };
  if (kernelStringVar(e, vars) !== null) return { kind: 'str', size: vars.strsize, signed: false, how: 'var' };
  if (copyinstrOf(e, newBudget(vars)) !== null) return { kind: 'str', size: vars.strsize, signed: false, how: 'user' };
  const copied = copyinString(e, vars);
  if (copied !== null) return { kind: 'str', size: copied.size + 1, signed: false, how: 'copyin' };
  const str = kernelString(e);
  // a char array itself is its bytes; stringof() of one, or of a pointer, a string (as firingKind())
  if (str !== null) return { kind: e.kind === A.N.Stringof || str.pointer ? 'str' : 'bytes', size: str.size, signed: false, how: 'kernel' };
  const shape = shapeOf(e.type);
  if (shape !== null && intOk(e, 0, newBudget(vars))) return { kind: 'int', size: shape.size, signed: shape.signed, how: 'int' };
  return undefined;
}

/** An output action's update: its values, laid out from `at` in the record (null if one cannot be computed in the kernel). */
function printOf(s: A.Stmt, vars: Vars, at: { next: number; slot: number }, stackFrames: number): Update | null {
  if (!isOutputStatement(s)) return null;
  const call = (s as A.ExprStmt).expr as A.Call;
  if (call.name === 'stack') {
    // stack() or stack(N): the firing's kernel stack, N frames (stackframes')
    const frames = call.args.length === 0 ? stackFrames : call.args[0].kind === A.N.Int ? Number(call.args[0].value) : 0;
    if (frames <= 0 || frames > MAX_STACK_FRAMES) return null;
    const size = frames * 8;
    const v: Printed = { kind: 'kstack', size, signed: false, how: 'kstack', slot: at.slot++, at: at.next };
    at.next += size;
    return { kind: 'print', values: [[call, v]], value: null };
  }
  // printf's first argument is its format; printa()'s are a format and aggregations
  const args = call.name === 'printf' ? call.args.slice(1) : call.name === 'printa' ? [] : call.args;
  const values: Array<[A.Expr, Printed]> = [];
  for (const a of args) {
    const k = printedKind(a, vars);
    if (k === undefined) return null;
    if (k === null) continue;
    values.push([a, { ...k, slot: at.slot++, at: at.next }]);
    at.next += ((k.kind === 'int' ? 8 : k.size) + 7) & ~7;
  }
  return { kind: 'print', values, value: null };
}


/** The aggregation update a statement is, if it is one the kernel can make. */
/**
 * Compound assignments computed in the variable's own type (the consumer's rule, jsgen.ts
 * assign): the result's low bits depend only on the operands' low bits, or (>>) the variable's
 * value is shifted as its type extends it.
 */
const COMPOUND: Partial<Record<A.AssignOp, A.BinaryOp>> = { '+=': '+', '-=': '-', '*=': '*', '&=': '&', '|=': '|', '^=': '^', '<<=': '<<', '>>=': '>>' };
/**
 * Compound assignments computed in the type of the variable and the operand promoted together
 * (the consumer's rule: check.ts promoteTypes), whose signedness decides the quotient.
 */
const PROMOTED: Partial<Record<A.AssignOp, A.BinaryOp>> = { '/=': '/', '%=': '%' };
/** int, as promoteTypes takes an enum */
const INT = intType('int', 4, true);

/**
 * A statement that assigns a variable, as `target = value`: x = v itself, x op= v as x = x op v
 * (COMPOUND's and PROMOTED's operators), x++ and x-- (and ++x, --x) as x = x + 1, x = x - 1;
 * else null.
 */
function variableAssignment(s: A.Stmt): { target: A.Expr; value: A.Expr } | null {
  if (s.kind !== 'expr') return null;
  const e = s.expr;
  let target: A.Expr;
  let op: A.BinaryOp;
  let operand: A.Expr;
  if (e.kind === A.N.Assign) {
    if (e.op === '=') return { target: e.target, value: e.value };
    const c = COMPOUND[e.op] ?? PROMOTED[e.op];
    if (c === undefined) return null;
    [target, op, operand] = [e.target, c, e.value];
  } else if (e.kind === A.N.Postfix || (e.kind === A.N.Unary && (e.op === '++' || e.op === '--'))) {
    target = e.operand;
    op = e.op === '++' ? '+' : '-';
    operand = new A.IntLit(e.line, 1n, '', true);
    operand.type = target.type;
  } else return null;
  // an integer's (a pointer's arithmetic is scaled by what it points to)
  if (target.type === null || resolve(target.type).kind !== Kind.Int) return null;
  const value = new A.Binary(e.line, op, target, operand);
  value.type = e.kind === A.N.Assign && PROMOTED[e.op] !== undefined && operand.type !== null ? promoteTypes(target.type, operand.type, INT) : target.type;
  return { target, value };
}

function updateOf(s: A.Stmt, avoid: ReadonlySet<number>, vars: Vars, stackFrames: number): Update | null {
  if (s.kind === 'expr' && s.expr.kind === A.N.Assign && s.expr.op === '=' && stringVariableOf(s.expr.target) !== null) {
    const v = kernelStringVar(s.expr.target, vars);
    const source = v === null ? null : stringSource(s.expr.value, vars, v);
    return v === null || source === null ? null : { kind: 'string', v, source, value: s.expr.value };
  }
  const assigned = variableAssignment(s);
  if (assigned !== null && (threadLocalOf(assigned.target) ?? globalOf(assigned.target) ?? globalArrayOf(assigned.target) ?? clauseLocalOf(assigned.target)) !== null) {
    return variableUpdate(assigned.target, assigned.value, vars);
  }
  if (s.kind !== 'expr' || s.expr.kind !== A.N.Assign || s.expr.op !== '=') return null;
  const e = s.expr;
  const info = e.ref as A.AggInfo | null;
  if (info === null || !('fn' in info) || e.value.kind !== A.N.Call) return null;
  return aggregationUpdate(e, info, e.value, avoid, vars, stackFrames);
}

/** A variable's assignment, if the kernel can make it. */
function variableUpdate(target: A.Expr, value: A.Expr, vars: Vars): Update | null {
  const e = { target, value };
  const tl = threadLocalOf(e.target);
  if (tl !== null) {
    if (!vars.self(tl.id) || !intOk(e.value, 0, newBudget(vars))) return null;
    return { kind: 'self', v: tl, value: e.value };
  }
  const gv = globalOf(e.target) ?? globalArrayOf(e.target);
  if (gv !== null) {
    const keys = e.target.kind === A.N.Index ? e.target.args : [];
    // the value is kept in the first temporary while the keys are computed above it
    if (!vars.global(gv.id) || !keys.every((k, i) => intOk(k, 1 + i, newBudget(vars))) || !intOk(e.value, 0, newBudget(vars))) return null;
    return { kind: 'global', v: gv, keys, value: e.value };
  }
  const cl = clauseLocalOf(e.target);
  if (cl !== null) {
    const slot = vars.local(cl);
    if (slot < 0 || !intOk(e.value, 0, newBudget(vars))) return null;
    return { kind: 'local', v: cl, slot, value: e.value };
  }
  return null;
}

/** An aggregation's update, if the kernel can make it. */
function aggregationUpdate(e: A.Assign, info: A.AggInfo, call: A.Call, avoid: ReadonlySet<number>, vars: Vars, stackFrames: number): Update | null {
  if (!KERNEL_FNS.has(call.name) || info.fn !== call.name) return null;
  const fn = call.name as KernelAggregation['fn'];
  // an aggregation cleared or truncated keeps its extremes in dtrace (the kernel's per-CPU
  // extremes cannot be reset without losing what arrives meanwhile)
  if ((fn === 'min' || fn === 'max') && avoid.has(info.id)) return null;
  const buckets = bucketsOf(fn, info.params);
  if (buckets !== undefined && (buckets === null || bucketCount(buckets) > MAX_KERNEL_BUCKETS)) return null;
  if (fn !== 'count' && !intOk(call.args[0], 0, newBudget(vars))) return null;
  // the increment is computed with the value held in the first temporary
  const increment = incrementOf(call);
  if (increment !== null && !intOk(increment, 1, newBudget(vars))) return null;
  const target = e.target;
  const keys = target.kind === A.N.Index ? target.args : [];
  const parts = keyParts(keys, info.keys ?? [], vars, stackFrames);
  if (parts === null) return null;
  const size = keySize(parts);
  if (size > MAX_KEY) return null;
  return {
    kind: 'agg',
    agg: { id: info.id, fn, keys: parts, keySize: Math.max(8, size), words: buckets ? bucketCount(buckets) : WORDS[fn as keyof typeof WORDS] },
    keys,
    value: fn === 'count' ? null : call.args[0],
    buckets: buckets ?? null,
    increment,
  };
}

/** quantize(v, incr), lquantize(v, b, l, s, incr), llquantize(v, f, l, h, s, incr): incr; else null (1 is added). */
function incrementOf(call: A.Call): A.Expr | null {
  const at = call.name === 'quantize' ? 1 : call.name === 'lquantize' ? 4 : call.name === 'llquantize' ? 5 : -1;
  return at >= 0 ? (call.args[at] ?? null) : null;
}

/** lquantize()'s and llquantize()'s buckets: where a value goes is computed with these constants. */
type Buckets = { fn: 'lquantize'; params: LQuantizeParams } | { fn: 'llquantize'; params: LLQuantizeParams };

/** The buckets of an lquantize() or llquantize() (undefined for other functions; null: parameters the kernel code does not take). */
function bucketsOf(fn: KernelAggregation['fn'], params: readonly bigint[]): Buckets | null | undefined {
  if (fn === 'lquantize') {
    const [base, limit, step = 1n] = params;
    if (base === undefined || limit === undefined || step <= 0n) return null;
    return { fn, params: new LQuantizeParams(Number(base), Number(limit), Number(step)) };
  }
  if (fn === 'llquantize') {
    const [factor, lmag, hmag, steps] = params;
    if (factor === undefined || lmag === undefined || hmag === undefined || steps === undefined || factor < 2n || steps <= 0n || hmag < lmag) return null;
    const p = new LLQuantizeParams(Number(factor), Number(lmag), Number(hmag), Number(steps));
    if (p.max0 >= 1n << 64n) return null;
    // a magnitude's step (max / steps) must not be 0: the runtime divides by it
    for (const m of llMagnitudes(p)) if (m.mag !== 0 && m.max / BigInt(p.steps) === 0n) return null;
    return { fn, params: p };
  }
  return undefined;
}

function bucketCount(b: Buckets): number {
  return b.params.nbuckets;
}

/**
 * llquantize()'s magnitudes as the runtime walks them (histogram.ts llquantizeBucketBig): the
 * upper bound of each, factor^(mag + 1) modulo 2^64, from the low magnitude to the high one.
 */
function llMagnitudes(p: LLQuantizeParams): Array<{ mag: number; max: bigint }> {
  const out: Array<{ mag: number; max: bigint }> = [];
  let max = p.max0;
  for (let mag = p.lmag; mag <= p.hmag; mag++) {
    max = BigInt.asUintN(64, max * BigInt(p.factor));
    out.push({ mag, max });
  }
  return out;
}

/** Providers whose probes a kernel clause can run on (tracepoints: kernel-event.ts kernelArgs; kprobes: registerArg). */
export const KERNEL_PROVIDERS: ReadonlySet<string> = new Set(['syscall', 'sdt', 'fbt']);

/** Providers whose probes' programs can compute firing values for clauses in dtrace (tracepoints whose records come from a capture program, raw tracepoints, kprobe events whose capture program writes their records from the registers). */
const FIRING_PROVIDERS: ReadonlySet<string> = new Set(['syscall', 'sdt', 'rawtp', 'fbt']);

/**
 * Whether a provider's probes can compute firing values: those above, and a process's (pid<N>'s
 * and its usdt providers': uprobe events, written from the registers as kprobe events are).
 */
export function computesFiringValues(provider: string): boolean {
  return FIRING_PROVIDERS.has(provider) || isProcessProvider(provider);
}

/** A process's provider: pid<N>, and its usdt providers (provider<PID>), whose probes are uprobes. */
function isProcessProvider(provider: string): boolean {
  return /\D\d+$/.test(provider);
}

/** The thread-local variables a clause names anywhere (walked without recursion: chains are long). */
export function threadLocalsUsed(c: A.Clause): Set<number> {
  return variablesUsed(c).self;
}

/** The thread-local and global variables a clause names anywhere (walked without recursion: chains are long). */
export function variablesUsed(c: A.Clause): { self: Set<number>; global: Set<number> } {
  const out = new Set<number>();
  const global = new Set<number>();
  const todo: A.Expr[] = [];
  const stmts: A.Stmt[] = [...(c.body ?? [])];
  if (c.predicate !== null) todo.push(c.predicate);
  for (let s = stmts.pop(); s !== undefined; s = stmts.pop()) {
    if (s.kind === 'if') {
      todo.push(s.cond);
      stmts.push(...s.then, ...(s.otherwise ?? []));
    } else todo.push(s.expr);
  }
  const seen = new Set<A.Expr>();
  for (let e = todo.pop(); e !== undefined; e = todo.pop()) {
    if (e.kind === A.N.SelfVar && e.ref !== null && !('fn' in e.ref)) out.add(e.ref.id);
    if ((e.kind === A.N.Ident || e.kind === A.N.Index) && e.ref !== null && !('fn' in e.ref) && e.ref.scope === 'global') global.add(e.ref.id);
    if (e.kind === A.N.Ident && e.resolved === A.IdentKind.Inline && e.inlineExpr && !seen.has(e.inlineExpr)) {
      seen.add(e.inlineExpr);
      todo.push(e.inlineExpr);
    }
    A.forEachChild(e, (x) => todo.push(x));
  }
  return { self: out, global };
}

/** Calls `visit` on each statement's expression (an if's condition, then its branches'). */
function statementExprs(body: readonly A.Stmt[] | null, visit: (e: A.Expr) => void): void {
  for (const s of body ?? []) {
    if (s.kind === 'if') {
      visit(s.cond);
      statementExprs(s.then, visit);
      statementExprs(s.otherwise ?? null, visit);
    } else visit(s.expr);
  }
}

/** Aggregations some clear() or trunc() names: their extremes stay in dtrace. */
export function clearedAggregations(clauses: readonly CheckedClause[]): Set<number> {
  const out = new Set<number>();
  // clear() and trunc() are actions: statements, or the arms of a ?: used as one
  const visit = (e: A.Expr): void => {
    for (;;) {
      if (e.kind === A.N.Call && (e.name === 'clear' || e.name === 'trunc')) {
        for (const a of e.args) if (a.ref !== null && 'fn' in a.ref) out.add(a.ref.id);
      }
      if (e.kind !== A.N.Ternary) return;
      visit(e.then);
      e = e.otherwise;
    }
  };
  for (const c of clauses) statementExprs(c.clause.body, visit);
  return out;
}

/** The clause as BPF, or null where some part of it must run in dtrace. */
export function kernelClause(
  cc: CheckedClause,
  avoid: ReadonlySet<number>,
  selfOk: (id: number) => boolean = () => false,
  stackFrames = 20,
  localOk: (v: A.VarInfo) => boolean = () => false,
  strsize = 256,
  globalOk: (id: number) => boolean = () => false,
): KernelClause | null {
  const c = cc.clause;
  if (cc.destructive) return null;
  // clause-locals: integers only this clause names, in stack slots zeroed as it starts (as a
  // firing's clause-locals start out in dtrace)
  if (cc.locals.length > LOCAL_SLOTS || cc.locals.some((v) => !localOk(v) || v.kind !== 'scalar' || v.type === null || shapeOf(v.type) === null)) return null;
  // a user string key takes strsize bytes of the key (at most STRSIZE: the key's room)
  const vars: Vars = { self: selfOk, global: globalOk, local: (v) => cc.locals.indexOf(v), strsize: strsize <= STRSIZE ? strsize : 0, copyin: true };
  if (c.predicate !== null && !intOk(c.predicate, 0, newBudget({ ...vars, userCompare: true }))) return null;
  const updates: Update[] = [];
  // what it prints: a record of the values, laid out in order (an empty clause's default
  // action prints the probe, and its record has no values)
  const layout = { next: OUTPUT_HEADER, slot: 0 };
  const body = c.body ?? [];
  for (const s of body) {
    const u = updateOf(s, avoid, vars, stackFrames) ?? printOf(s, vars, layout, stackFrames);
    if (u === null) return null;
    updates.push(u);
  }
  const printed = new Map<A.Expr, FiringValue>();
  for (const u of updates) if (u.kind === 'print') for (const [e, v] of u.values) printed.set(e, v);
  const output: KernelOutput | null = body.length === 0 || updates.some((u) => u.kind === 'print') ? { printed, bytes: layout.next } : null;
  if (output !== null && output.bytes > MAX_RECORD) return null;
  const predicate = c.predicate;
  const locals = cc.locals.length;
  const exits = body.some((s) => isOutputStatement(s) && ((s as A.ExprStmt).expr as A.Call).name === 'exit');
  // stack() runs in sample programs only (a key, or printed): a clause whose thread-locals
  // would live in the kernel must be able to run there on any probe
  const sampleOnly = updates.some((u) => (u.kind === 'agg' && u.agg.keys.some((k) => k.kind === 'stack')) || (u.kind === 'print' && u.values.some(([, v]) => v.kind === 'kstack')));
  const threadLocals = new Set<number>();
  const globals = new Set<number>();
  const args = new Set<number>();
  const compared = new Set<'provider' | 'module' | 'func' | 'name'>();
  // copyin() calls whose copies are read in place, each with its own room
  const copies = new Map<A.Call, number>();
  const visit = (e: A.Expr): void => {
    const copy = copyPlace(e);
    if (copy !== null) copies.set(copy.call, copy.size);
    const v = threadLocalOf(e);
    if (v !== null) threadLocals.add(v.id);
    const g = globalOf(e) ?? globalArrayOf(e);
    if (g !== null) globals.add(g.id);
    const s = stringVariableOf(e);
    if (s !== null) (s.scope === 'self' ? threadLocals : globals).add(s.id);
    const i = argIndex(e);
    if (i >= 0) args.add(i);
    if (e.kind === A.N.Binary && (e.op === '==' || e.op === '!=')) {
      for (const side of [e.left, e.right]) {
        if (side.kind === A.N.Ident && side.resolved === A.IdentKind.Builtin && side.name in PROBE_FIELDS) compared.add(PROBE_FIELDS[side.name]);
      }
    }
    if (e.kind === A.N.Ident && e.resolved === A.IdentKind.Inline && e.inlineExpr) visit(e.inlineExpr);
    A.forEachChild(e, visit);
  };
  if (predicate !== null) visit(predicate);
  for (const u of updates) {
    if (u.kind === 'self') threadLocals.add(u.v.id);
    else if (u.kind === 'string') (u.v.scope === 'self' ? threadLocals : globals).add(u.v.id);
    else if (u.kind === 'global') {
      globals.add(u.v.id);
      u.keys.forEach(visit);
    } else if (u.kind === 'agg') {
      u.keys.forEach(visit);
      if (u.increment !== null) visit(u.increment);
    } else if (u.kind === 'print') for (const [e] of u.values) visit(e);
    if (u.value !== null) visit(u.value);
  }
  if (sampleOnly && (threadLocals.size > 0 || globals.size > 0)) return null;
  let copyinBytes = 0;
  for (const size of copies.values()) copyinBytes += (size + 7) & ~7;
  if (copyinBytes > MAX_COPYIN) return null;
  return {
    line: c.line,
    aggregations: updates.flatMap((u) => (u.kind === 'agg' ? [u.agg] : [])),
    threadLocals: [...threadLocals],
    globals: [...globals],
    stack: output === null ? STACK : -RECORD_AT,
    copyinBytes,
    args: [...args],
    comparedProbeFields: [...compared],
    output,
    sampleOnly,
    emit(p: Program, probe: KernelProbe, maps: KernelMaps, prefix: string, clause: number): boolean {
      const g = new BpfGen(p, probe, prefix);
      g.vars = vars;
      if (!g.usable(predicate, updates)) return false;
      if (output !== null && maps.output === null) return false;
      g.maps = maps;
      for (let slot = 0; slot < locals; slot++) p.storeImm(8, R10, localAt(slot), 0);
      if (predicate !== null) {
        g.value(predicate, 0);
        p.jmpImm(Jmp.Eq, R7, 0, `${prefix}end`);
      }
      if (output !== null) g.beginRecord(maps.output!);
      updates.forEach((u, i) => {
        g.where = i + 1;
        if (u.kind === 'agg') g.update(u, maps, `${prefix}u${i}`);
        else if (u.kind === 'local') g.assignLocal(u.v, u.slot, u.value);
        else if (u.kind === 'global') g.assignGlobal(u.v, u.keys, u.value, maps, `${prefix}u${i}`);
        else if (u.kind === 'print') for (const [e, v] of u.values) g.printed(e, v as Printed);
        else if (u.kind === 'string') g.assignString(u.v, u.source, maps, `${prefix}u${i}`);
        else g.assign(u.v, u.value, maps, `${prefix}u${i}`);
      });
      if (output !== null) g.sendRecord(maps.output!, clause, output.bytes);
      if (exits) g.drain(maps.activity);
      if (!g.faultExits(maps, clause)) return false;
      p.label(`${prefix}end`);
      return true;
    },
  };
}

/** Whether an expression reads kernel memory (a member, *p) or names curthread. */
function readsKernel(e: A.Expr): boolean {
  if (e.kind === A.N.Member || (e.kind === A.N.Unary && e.op === '*') || isBuiltin(e, 'curthread')) return true;
  if (e.kind === A.N.Ident && e.resolved === A.IdentKind.Inline && e.inlineExpr) return readsKernel(e.inlineExpr);
  let found = false;
  A.forEachChild(e, (c) => (found ||= readsKernel(c)));
  return found;
}

/** What a firing value is, before it has a slot. */
type FiringKind = Pick<FiringValue, 'kind' | 'size' | 'signed'>;

/** The firing value an expression can be: it reads kernel memory, and all of it compiles. */
function firingKind(e: A.Expr): FiringKind | null {
  if (e.type === null) return null;
  // whether it compiles first: that looks at no more than MAX_NODES nodes, so the walk of
  // readsKernel() after it is as short (chains are as long as a program makes them)
  const str = kernelString(e);
  if (str !== null) {
    if (!readsKernel(e)) return null;
    // a char array itself is its bytes (D code may index it); stringof() of one, or of a pointer, a string
    if (e.kind === A.N.Stringof || str.pointer) return { kind: 'str', size: str.size, signed: false };
    return { kind: 'bytes', size: str.size, signed: false };
  }
  const shape = shapeOf(e.type);
  if (shape === null || !intOk(e, 0) || !readsKernel(e)) return null;
  return { kind: 'int', size: shape.size, signed: shape.signed };
}

/**
 * The values a clause that runs in dtrace reads from kernel memory, which only the kernel can
 * read as the probe fires: the largest parts of its expressions that compile to BPF, each
 * computed by the probe's program into the record (`slot` numbers them for ctx.firing).
 * Places written, addresses taken (&) and sizeof's operands are not values.
 */
export function firingValuesOf(cc: CheckedClause, slot: () => number): Map<A.Expr, FiringValue> {
  const out = new Map<A.Expr, FiringValue>();
  const c = cc.clause;
  let at = 0;
  // a worklist in source order, not recursion: chains are as long as a program makes them
  const todo: A.Expr[] = [];
  const later = (es: readonly A.Expr[]): void => {
    for (let i = es.length - 1; i >= 0; i--) todo.push(es[i]);
  };
  const walk = (root: A.Expr): void => {
    todo.push(root);
    for (let e = todo.pop(); e !== undefined; e = todo.pop()) {
      const kind = firingKind(e);
      if (kind !== null) {
        out.set(e, { ...kind, slot: slot(), at });
        at += FIRING_HEADER + (((kind.kind === 'int' ? 8 : kind.size) + 7) & ~7);
        continue;
      }
      switch (e.kind) {
        case A.N.Assign:
          later(e.target.kind === A.N.Index ? [...e.target.args, e.value] : [e.value]);
          continue;
        case A.N.Unary:
          if (e.op === '&') continue;
          if (e.op === '++' || e.op === '--') {
            if (e.operand.kind === A.N.Index) later(e.operand.args);
            continue;
          }
          break;
        case A.N.Postfix:
          if (e.operand.kind === A.N.Index) later(e.operand.args);
          continue;
        case A.N.SizeofExpr:
        case A.N.SizeofType:
        case A.N.Offsetof:
          continue;
        case A.N.Ident:
          // an inline's expression is shared by its uses (in other clauses too): only whole
          continue;
        default:
          break;
      }
      const children: A.Expr[] = [];
      A.forEachChild(e, (x) => children.push(x));
      later(children);
    }
  };
  if (c.predicate !== null) walk(c.predicate);
  statementExprs(c.body, walk);
  return out;
}

/** The code that computes a clause's firing values (firingValuesOf) into its area of a record. */
export function firingValues(values: ReadonlyMap<A.Expr, FiringValue>): FiringValues {
  const list = [...values];
  let bytes = 0;
  for (const [, v] of list) bytes = v.at + FIRING_HEADER + (((v.kind === 'int' ? 8 : v.size) + 7) & ~7);
  return {
    values: list.map(([, v]) => v),
    bytes,
    emit(p: Program, probe: KernelProbe, baseAt: number, areaAt: number, prefix: string): boolean {
      const gens = list.map((_, k) => new BpfGen(p, probe, `${prefix}v${k}`));
      if (!list.every(([e], k) => gens[k].usable(e, []))) return false;
      list.forEach(([e, v], k) => gens[k].firingValue(e, v, baseAt, areaAt + v.at));
      return true;
    },
  };
}

/** Code for one clause on one probe. */
class BpfGen {
  private labels = 0;
  /** the maps, for thread-local reads inside expressions */
  maps: KernelMaps | null = null;
  /** the variables the clause's code may name (its clause-locals' stack slots), and the strsize option */
  vars: Vars = NO_VARS;
  /** what the code being made is, for a fault's message: 0 the predicate, N action #N */
  where = 0;
  /** the faults the code may meet, as fault * 256 + where */
  private readonly faulting = new Set<number>();

  constructor(
    private readonly p: Program,
    private readonly probe: KernelProbe,
    private readonly prefix: string,
  ) {}

  /** Whether every argument the clause reads is an integer in this probe's record. */
  usable(predicate: A.Expr | null, updates: Update[]): boolean {
    let ok = true;
    const visit = (e: A.Expr): void => {
      const i = argIndex(e);
      if (i >= 0 && this.probe.arg(i) === null) ok = false;
      // uregs[]: only where the context is the user task's registers (a uprobe's)
      const u = uregIndex(e);
      if (u >= 0 && (this.probe.ureg?.(u) ?? null) === null) ok = false;
      if (e.kind === A.N.Ident && e.resolved === A.IdentKind.Inline && e.inlineExpr) visit(e.inlineExpr);
      A.forEachChild(e, visit);
    };
    if (predicate !== null) visit(predicate);
    for (const u of updates) {
      if (u.kind === 'agg') u.keys.forEach(visit);
      if (u.kind === 'print') for (const [e] of u.values) visit(e);
      if (u.kind === 'agg' && u.increment !== null) visit(u.increment);
      if (u.value !== null) visit(u.value);
      if (u.kind === 'agg' && this.probe.context !== 'sample' && u.agg.keys.some((k) => k.kind === 'stack')) ok = false;
      // stack() prints in sample programs only, the interrupted code's stack: a tracepoint
      // program's bpf_get_stack() came back empty on the lab's Linux 6.1 guests, where
      // tracefs's stack of the event is whole
      if (u.kind === 'print' && this.probe.context !== 'sample' && u.values.some(([, v]) => v.kind === 'kstack')) ok = false;
    }
    return ok;
  }

  private label(what: string): string {
    return `${this.prefix}${what}${this.labels++}`;
  }

  private temp(depth: number): number {
    return -8 * (depth + 1);
  }

  /**
   * R7 = the value of `from` as `to` holds it (the consumer's toStorage()): a type narrower than
   * 64 bits takes the value's low bits, sign- or zero-extended, whatever `from` is, since an
   * arithmetic result of a narrower type keeps all 64 bits (as DTrace's registers, and the
   * consumer's values, do) until it is stored, printed, compared or cast.
   */
  private convert(from: IntShape, to: IntShape): void {
    if (to.bool === true) {
      if (from.bool === true) return;
      const zero = this.label('bool');
      this.p.jmpImm(Jmp.Eq, R7, 0, zero).movImm(R7, 1).label(zero);
      return;
    }
    if (to.size === 8) return;
    const sh = 64 - to.size * 8;
    this.p.aluImm(Alu.Lsh, R7, sh).aluImm(to.signed ? Alu.Arsh : Alu.Rsh, R7, sh);
  }

  /**
   * Computes one firing value into its area of the record whose base pointer is saved at
   * `baseAt`: a fault leaves its code and address in the area's header, and the next value
   * is computed all the same (the clause in dtrace faults if, and where, it reads this one).
   */
  firingValue(e: A.Expr, v: FiringValue, baseAt: number, at: number): void {
    const p = this.p;
    const next = `${this.prefix}next`;
    p.load(8, R1, R10, baseAt).storeImm(4, R1, at, 0);
    if (v.kind === 'int') {
      this.value(e, 0);
      p.load(8, R1, R10, baseAt).store(8, R1, at + FIRING_HEADER, R7);
    } else {
      const str = kernelString(e)!;
      if (str.pointer) this.value(str.place, 0);
      else this.address(str.place, 0);
      p.load(8, R1, R10, baseAt).addImm(R1, at + FIRING_HEADER).movImm(R2, v.size).mov(R3, R7);
      p.call(v.kind === 'str' ? Helper.ProbeReadKernelStr : Helper.ProbeReadKernel);
      p.jmpImm(Jmp.Slt, R0, 0, this.faultLabel());
    }
    p.ja(next);
    for (const place of this.faulting) {
      p.label(`${this.prefix}fault${place}`)
        .load(8, R1, R10, baseAt)
        .storeImm(4, R1, at, place >> 8)
        .store(8, R1, at + 8, R7);
      p.ja(next);
    }
    p.label(next);
  }

  /** R7 = an integer constant, as `to` holds it. */
  private constant(v: bigint, to: IntShape): void {
    const bits = BigInt(to.size * 8);
    const c = to.signed ? BigInt.asIntN(Number(bits), v) : BigInt.asUintN(Number(bits), v);
    if (c >= -(2n ** 31n) && c < 2n ** 31n) this.p.movImm(R7, Number(c));
    else this.p.movImm64(R7, c);
  }

  /** R7 = the value of an integer expression, canonical for its type. */
  value(e: A.Expr, depth: number): void {
    const p = this.p;
    const shape = shapeOf(e.type!)!;
    switch (e.kind) {
      case A.N.Int:
        this.constant(e.value, shape);
        return;
      case A.N.Ident:
        if (e.resolved === A.IdentKind.EnumConst) {
          this.constant(e.constValue, shape);
          return;
        }
        if (e.resolved === A.IdentKind.Inline) {
          this.value(e.inlineExpr!, depth);
          this.convert(shapeOf(e.inlineExpr!.type!)!, shape);
          return;
        }
        if (argIndex(e) >= 0) {
          this.arg(argIndex(e), shape);
          return;
        }
        if (globalOf(e) !== null) {
          this.readGlobal(globalOf(e)!, [], depth, shape);
          return;
        }
        this.builtin(e.name, shape);
        return;
      case A.N.Index:
        if (globalArrayOf(e) !== null) {
          this.readGlobal(globalArrayOf(e)!, e.args, depth, shape);
          return;
        }
        if (uregIndex(e) >= 0) {
          this.p.load(8, R7, R6, this.probe.ureg!(uregIndex(e))!);
          this.convert({ size: 8, signed: false }, shape);
          return;
        }
        this.arg(argIndex(e), shape);
        return;
      case A.N.Member:
        this.readPlace(e, depth, shape);
        return;
      case A.N.SelfVar:
        this.readThreadLocal(threadLocalOf(e)!, shape);
        return;
      case A.N.ThisVar: {
        const v = clauseLocalOf(e)!;
        p.load(8, R7, R10, localAt(this.vars.local(v)));
        this.convert(shapeOf(v.type!)!, shape);
        return;
      }
      case A.N.Cast:
        this.value(e.operand, depth);
        this.convert(shapeOf(e.operand.type!)!, shape);
        return;
      case A.N.Unary: {
        if (e.op === '*') {
          this.readPlace(e, depth, shape);
          return;
        }
        this.value(e.operand, depth);
        if (e.op === '!') {
          this.truth(true);
          return;
        }
        // in 64 bits, as the consumer negates and complements
        if (e.op === '-') p.neg(R7);
        else if (e.op === '~') p.aluImm(Alu.Xor, R7, -1);
        return;
      }
      case A.N.Logical: {
        const done = this.label('lg');
        this.value(e.left, depth);
        this.truth(false);
        if (e.op === '&&') p.jmpImm(Jmp.Eq, R7, 0, done);
        else if (e.op === '||') p.jmpImm(Jmp.Ne, R7, 0, done);
        else p.store(8, R10, this.temp(depth), R7);
        this.value(e.right, depth + 1);
        this.truth(false);
        if (e.op === '^^') p.load(8, R8, R10, this.temp(depth)).alu(Alu.Xor, R7, R8);
        p.label(done);
        return;
      }
      case A.N.Ternary: {
        const other = this.label('te');
        const done = this.label('td');
        this.value(e.cond, depth);
        p.jmpImm(Jmp.Eq, R7, 0, other);
        // either arm's value as it is (the consumer joins them unconverted)
        this.value(e.then, depth);
        p.ja(done).label(other);
        this.value(e.otherwise, depth);
        p.label(done);
        return;
      }
      case A.N.Binary:
        this.binary(e, shape, depth);
        return;
      default:
        throw new Error(`internal: BPF code for a ${e.kind} expression`);
    }
  }

  /** R7 = R7 != 0 (or == 0 if `negate`), as 1 or 0. */
  private truth(negate: boolean): void {
    const t = this.label('t');
    this.p.movImm(R8, 1).jmpImm(negate ? Jmp.Eq : Jmp.Ne, R7, 0, t).movImm(R8, 0).label(t).mov(R7, R8);
  }

  private binary(e: A.Binary, shape: IntShape, depth: number): void {
    const p = this.p;
    const withVariable = stringVarEquality(e, this.vars);
    if (withVariable !== null) {
      this.stringVarEquals(withVariable, depth);
      if (e.op === '!=') p.aluImm(Alu.Xor, R7, 1);
      return;
    }
    if ((e.op === '==' || e.op === '!=') && isString(e.left.type!)) {
      this.stringEquality(e);
      return;
    }
    const compare = e.op === '<' || e.op === '>' || e.op === '<=' || e.op === '>=' || e.op === '==' || e.op === '!=';
    const ls = shapeOf(e.left.type!)!;
    const rs = shapeOf(e.right.type!)!;
    // arithmetic is on the operands' 64-bit values, as DTrace's registers hold them and the
    // consumer computes: (int)x + 0x7fffffff keeps its carry, (int)-500 / 2u is 0xffffff06
    // (the value is narrowed where it is stored, printed, compared or cast: convert());
    // a comparison is of each operand as its own type holds it, in their common type
    const operand = (from: IntShape): void => {
      if (!compare) return;
      this.convert(from, from);
      this.convert(from, commonShape(ls, rs));
    };
    if (e.op === '<<' || e.op === '>>') {
      this.value(e.left, depth);
      const n = Number((e.right as A.IntLit).value);
      p.aluImm(e.op === '<<' ? Alu.Lsh : shape.signed ? Alu.Arsh : Alu.Rsh, R7, n);
      return;
    }
    this.value(e.left, depth);
    operand(ls);
    p.store(8, R10, this.temp(depth), R7);
    this.value(e.right, depth + 1);
    operand(rs);
    p.mov(R8, R7).load(8, R7, R10, this.temp(depth));
    if (compare) {
      const jmp: Record<string, Jmp> = commonShape(ls, rs).signed
        ? { '<': Jmp.Slt, '>': Jmp.Sgt, '<=': Jmp.Sle, '>=': Jmp.Sge, '==': Jmp.Eq, '!=': Jmp.Ne }
        : { '<': Jmp.Lt, '>': Jmp.Gt, '<=': Jmp.Le, '>=': Jmp.Ge, '==': Jmp.Eq, '!=': Jmp.Ne };
      const t = this.label('c');
      p.mov(R0, R7).movImm(R7, 1).jmp(jmp[e.op], R0, R8, t).movImm(R7, 0).label(t);
      return;
    }
    if (e.op === '/' || e.op === '%') {
      this.divide(e.op, shape.signed);
      return;
    }
    const alu: Record<string, Alu> = { '+': Alu.Add, '-': Alu.Sub, '*': Alu.Mul, '&': Alu.And, '|': Alu.Or, '^': Alu.Xor };
    p.alu(alu[e.op], R7, R8);
  }

  /**
   * R7 = R7 / R8 or R7 % R8; a zero divisor is DTrace's divide-by-zero fault. BPF divides
   * unsigned only: a signed quotient or remainder is that of the magnitudes, negated when
   * exactly one operand is negative (the consumer's rule too, as Oracle's).
   */
  private divide(op: '/' | '%', signed: boolean): void {
    const p = this.p;
    const ok = this.label('div');
    p.jmpImm(Jmp.Ne, R8, 0, ok).movImm(R7, 0).ja(this.faultLabel(FLT_DIVZERO)).label(ok);
    const alu = op === '/' ? Alu.Div : Alu.Mod;
    if (!signed) {
      p.alu(alu, R7, R8);
      return;
    }
    const a = this.label('abs');
    const b = this.label('abs');
    const same = this.label('sign');
    p.mov(R1, R7).jmpImm(Jmp.Sge, R1, 0, a).neg(R1).label(a);
    p.mov(R2, R8).jmpImm(Jmp.Sge, R2, 0, b).neg(R2).label(b);
    p.alu(alu, R1, R2);
    p.mov(R0, R7).alu(Alu.Xor, R0, R8).jmpImm(Jmp.Sge, R0, 0, same).neg(R1).label(same);
    p.mov(R7, R1);
  }

  /** R7 = whether execname or a probe field is (or is not) a string literal. */
  private stringEquality(e: A.Binary): void {
    const lit = (e.left.kind === A.N.Str ? e.left : e.right) as A.StrLit;
    const other = e.left.kind === A.N.Str ? e.right : e.left;
    const p = this.p;
    let equal: boolean;
    if (other.kind === A.N.Str) {
      equal = other.value === lit.value;
    } else if (isBuiltin(other, 'execname')) {
      this.commEquals(lit.value);
      if (e.op === '!=') p.aluImm(Alu.Xor, R7, 1);
      return;
    } else if (other.kind === A.N.Call && other.name === 'copyinstr') {
      this.userStringEquals(other.args[0], lit.value);
      if (e.op === '!=') p.aluImm(Alu.Xor, R7, 1);
      return;
    } else {
      equal = this.probe[PROBE_FIELDS[(other as unknown as A.Ident).name]] === lit.value;
    }
    p.movImm(R7, (e.op === '==') === equal ? 1 : 0);
  }

  /**
   * R7 = 1 if copyinstr(addr) is `s`, else 0: the user string read into the keys' room (the
   * predicate's code runs before any key is built), at most strsize - 1 characters as
   * copyinstr() gives them, and one character past `s` read so a longer string differs.
   */
  private userStringEquals(addr: A.Expr, s: string): void {
    const p = this.p;
    const bytes = Buffer.from(s, 'latin1');
    if (bytes.includes(0) || bytes.length + 1 > this.vars.strsize) {
      // copyinstr() gives no NUL and at most strsize - 1 characters: never equal
      p.movImm(R7, 0);
      return;
    }
    const at = -(KEY_BASE + MAX_KEY);
    this.value(addr, 0);
    p.mov(R1, R10).addImm(R1, at).movImm(R2, Math.min(bytes.length + 2, this.vars.strsize)).mov(R3, R7).call(Helper.ProbeReadUserStr);
    p.jmpImm(Jmp.Slt, R0, 0, this.faultLabel());
    const want = Buffer.alloc(bytes.length + 1 + 3);
    bytes.copy(want);
    this.bytesEqual(at, want, bytes.length + 1);
  }

  /** R7 = 1 if the `n` bytes at `at` (from the frame pointer, or from `base`) are `want`'s first `n`, else 0. */
  private bytesEqual(at: number, want: Buffer, n: number, base = R10): void {
    const p = this.p;
    const no = this.label('ne');
    const done = this.label('eq');
    for (let i = 0; i < n; i += 4) {
      const word = want.readInt32LE(i);
      const take = Math.min(4, n - i);
      const mask = take === 1 ? 0xff : take === 2 ? 0xffff : 0xffffff;
      p.load(4, R7, base, at + i);
      if (take < 4) p.aluImm(Alu.And, R7, mask);
      p.movImm(R8, take < 4 ? word & mask : word);
      // 32-bit loads zero-extend: compare the low 32 bits of the constant the same way
      p.aluImm(Alu.Lsh, R8, 32).aluImm(Alu.Rsh, R8, 32);
      p.jmp(Jmp.Ne, R7, R8, no);
    }
    p.movImm(R7, 1).ja(done).label(no).movImm(R7, 0).label(done);
  }

  /**
   * R7 = 1 if a string variable equals the other side, else 0: an unset one equals only 0
   * (NULL) and another unset one, as the consumer's strcmp() orders NULL (a set one holds its
   * string zero-padded: two are equal if all their bytes are).
   */
  private stringVarEquals(eq: NonNullable<ReturnType<typeof stringVarEquality>>, depth: number): void {
    const p = this.p;
    const done = this.label('se');
    const other = eq.other;
    if (other.kind === 'literal' && other.bytes === null) {
      p.movImm(R7, 0);
      return;
    }
    if (other.kind === 'var') {
      this.findString(other.v);
      p.store(8, R10, this.temp(depth), R0);
    }
    this.findString(eq.v);
    if (other.kind === 'null') {
      p.movImm(R7, 1).jmpImm(Jmp.Eq, R0, 0, done).movImm(R7, 0).label(done);
      return;
    }
    if (other.kind === 'literal') {
      const want = Buffer.alloc(other.bytes!.length + 1 + 3);
      other.bytes!.copy(want);
      p.movImm(R7, 0).jmpImm(Jmp.Eq, R0, 0, done);
      this.bytesEqual(0, want, other.bytes!.length + 1, R0);
      p.label(done);
      return;
    }
    const no = this.label('sn');
    const unset = this.label('su');
    p.load(8, R8, R10, this.temp(depth)).jmpImm(Jmp.Eq, R0, 0, unset).jmpImm(Jmp.Eq, R8, 0, no);
    for (let at = 0; at < this.stringBytes; at += 8) p.load(8, R1, R0, at).load(8, R2, R8, at).jmp(Jmp.Ne, R1, R2, no);
    p.movImm(R7, 1).ja(done);
    // this one unset: equal if the other is too
    p.label(unset).movImm(R7, 1).jmpImm(Jmp.Eq, R8, 0, done);
    p.label(no).movImm(R7, 0).label(done);
  }

  /** Bytes of a string variable's value: strsize, zero-padded to 8. */
  private get stringBytes(): number {
    return (this.vars.strsize + 7) & ~7;
  }

  /** R0 = a string variable's bytes in its map (the current thread's), or 0 where it is unset. */
  private findString(v: A.VarInfo): void {
    if (v.scope === 'self') this.threadKey();
    else this.p.storeImm(4, R10, -COMM_AT, 0);
    this.p.loadMap(R1, this.stringMap(v)).mov(R2, R10).addImm(R2, -COMM_AT).call(Helper.MapLookupElem);
  }

  /** A string variable's map: a thread-local's (by thread), a global's (one entry, all CPUs share it). */
  private stringMap(v: A.VarInfo): number {
    return v.scope === 'self' ? this.maps!.threadLocal(v.id, this.stringBytes) : this.maps!.global(v.id, 0, this.stringBytes);
  }

  /**
   * R0 = a string variable's bytes, as findString(); an unset one is a bad address (0) where its
   * string is read, as in dtrace (DTrace reads NULL).
   */
  private stringOf(v: A.VarInfo): void {
    this.findString(v);
    this.p.movImm(R7, 0).jmpImm(Jmp.Eq, R0, 0, this.faultLabel());
  }

  /** R7 = 1 if the current task's comm is `s`, else 0 (comm holds at most 15 bytes and a NUL). */
  private commEquals(s: string): void {
    const p = this.p;
    const bytes = Buffer.from(s, 'latin1');
    if (bytes.length > 15 || bytes.includes(0)) {
      p.movImm(R7, 0);
      return;
    }
    const want = Buffer.alloc(16);
    bytes.copy(want);
    p.mov(R1, R10).addImm(R1, -COMM_AT).movImm(R2, 16).call(Helper.GetCurrentComm);
    // the bytes up to and including the NUL must match; what follows the NUL is not compared
    this.bytesEqual(-COMM_AT, want, bytes.length + 1);
  }

  /** R7 = the kernel address of a place (placeOk). */
  private address(e: A.Expr, depth: number): void {
    if (e.kind === A.N.Unary) {
      this.value(e.operand, depth);
      return;
    }
    const m = e as A.Member;
    if (m.arrow) this.value(m.base, depth);
    else this.address(m.base, depth);
    const offset = memberOf(m)!.offset;
    if (offset !== 0) this.p.addImm(R7, offset);
  }

  /** R7 = the integer at a place in kernel memory (a member, *p), as `to`. */
  private readPlace(e: A.Expr, depth: number, to: IntShape): void {
    const from = shapeOf(e.type!)!;
    const copy = copyPlace(e);
    if (copy !== null) {
      this.copyin(copy.call, copy.size, depth);
      this.p.load(from.size as Size, R7, R7, copy.offset);
    } else {
      this.address(e, depth);
      this.readKernel(from.size as Size);
    }
    if (from.signed && from.size < 8) this.p.aluImm(Alu.Lsh, R7, 64 - from.size * 8).aluImm(Alu.Arsh, R7, 64 - from.size * 8);
    this.convert(from, to);
  }

  /**
   * R7 = the `size` bytes at kernel address R7, zero-extended; a bad address leaves the clause
   * through its fault exit, with the address in R7.
   */
  private readKernel(size: Size): void {
    this.p.mov(R1, R10).addImm(R1, -COMM_AT).movImm(R2, size).mov(R3, R7).call(Helper.ProbeReadKernel);
    this.p.jmpImm(Jmp.Ne, R0, 0, this.faultLabel());
    this.p.load(size, R7, R10, -COMM_AT);
  }

  /** each copyin() call's room in KernelMaps.userCopy, as the code meets them */
  private readonly copyRooms = new Map<A.Call, number>();
  private copyRoomsEnd = 0;

  /**
   * R7 = the address of copyin(addr, n)'s copy of the n user bytes: the call's own room in this
   * CPU's userCopy value; a byte that cannot be read is a bad address (the address), as in dtrace.
   */
  private copyin(call: A.Call, size: number, depth: number): void {
    const p = this.p;
    let room = this.copyRooms.get(call);
    if (room === undefined) {
      room = this.copyRoomsEnd;
      this.copyRooms.set(call, room);
      this.copyRoomsEnd += (size + 7) & ~7;
    }
    this.value(call.args[0], depth);
    p.storeImm(4, R10, -COMM_AT, 0).loadMap(R1, this.maps!.userCopy).mov(R2, R10).addImm(R2, -COMM_AT).call(Helper.MapLookupElem);
    p.jmpImm(Jmp.Eq, R0, 0, `${this.prefix}end`);
    p.mov(R8, R0).mov(R1, R0).addImm(R1, room).movImm(R2, size).mov(R3, R7).call(Helper.ProbeReadUser);
    p.jmpImm(Jmp.Ne, R0, 0, this.faultLabel());
    p.mov(R7, R8).addImm(R7, room);
  }

  /** Copies the NUL-terminated string of at most `size` bytes at kernel address R7 to the stack at `at`. */
  kernelString(at: number, size: number, helper: Helper.ProbeReadKernelStr | Helper.ProbeReadUserStr = Helper.ProbeReadKernelStr): void {
    this.p.mov(R1, R10).addImm(R1, at).movImm(R2, size).mov(R3, R7).call(helper);
    this.p.jmpImm(Jmp.Slt, R0, 0, this.faultLabel());
  }

  /** Finds this CPU's record (it is made there, then sent whole) and keeps its pointer at RECORD_AT. */
  beginRecord(out: KernelOutputMaps): void {
    const p = this.p;
    p.storeImm(4, R10, -COMM_AT, 0).loadMap(R1, out.record).mov(R2, R10).addImm(R2, -COMM_AT).call(Helper.MapLookupElem);
    p.jmpImm(Jmp.Eq, R0, 0, `${this.prefix}end`).store(8, R10, RECORD_AT, R0);
  }

  /** Computes a printed value into the record; a fault leaves the clause, and its record is not sent. */
  printed(e: A.Expr, v: Printed): void {
    const p = this.p;
    switch (v.how) {
      case 'int':
        this.value(e, 0);
        p.load(8, R1, R10, RECORD_AT).store(8, R1, v.at, R7);
        return;
      case 'comm':
        p.load(8, R1, R10, RECORD_AT).addImm(R1, v.at).movImm(R2, 16).call(Helper.GetCurrentComm);
        return;
      case 'user':
        this.value((e as A.Call).args[0], 0);
        this.recordBytes(v, Helper.ProbeReadUserStr);
        return;
      case 'kernel': {
        const str = kernelString(e)!;
        if (str.pointer) this.value(str.place, 0);
        else this.address(str.place, 0);
        this.recordBytes(v, v.kind === 'str' ? Helper.ProbeReadKernelStr : Helper.ProbeReadKernel);
        return;
      }
      case 'kstack':
        // the helper zeroes what it does not fill, and all of it if it fails: no frames
        p.mov(R1, R6).load(8, R2, R10, RECORD_AT).addImm(R2, v.at).movImm(R3, v.size).movImm(R4, 0).call(Helper.GetStack);
        return;
      case 'copyin': {
        // the n bytes, and a NUL after them (the record's room holds what the last one left)
        const copy = copiedString(e)!;
        this.value(copy.call.args[0], 0);
        p.load(8, R1, R10, RECORD_AT).addImm(R1, v.at).movImm(R2, copy.size).mov(R3, R7).call(Helper.ProbeReadUser);
        p.jmpImm(Jmp.Ne, R0, 0, this.faultLabel());
        p.load(8, R1, R10, RECORD_AT).storeImm(1, R1, v.at + copy.size, 0);
        return;
      }
      case 'var':
        this.stringOf(stringVariableOf(e)!);
        p.load(8, R1, R10, RECORD_AT).addImm(R1, v.at).movImm(R2, this.stringBytes).mov(R3, R0).call(Helper.ProbeReadKernel);
        return;
    }
  }

  /** Copies a string (or a char array's bytes) at address R7 into the record. */
  private recordBytes(v: Printed, helper: Helper.ProbeReadUserStr | Helper.ProbeReadKernelStr | Helper.ProbeReadKernel): void {
    this.p.load(8, R1, R10, RECORD_AT).addImm(R1, v.at).movImm(R2, v.size).mov(R3, R7).call(helper);
    this.p.jmpImm(Jmp.Slt, R0, 0, this.faultLabel());
  }

  /**
   * Completes the record's header and sends it to this CPU's ring; one the ring has no room
   * for is counted, as DTrace counts a record its buffer could not take.
   */
  sendRecord(out: KernelOutputMaps, clause: number, bytes: number): void {
    const sent = `${this.prefix}sent`;
    this.p.load(8, R7, R10, RECORD_AT);
    this.send(out, clause, bytes, sent);
    this.p.label(sent);
  }

  /** Completes the header of the record R7 points to and sends it; goes on at `sent` (the caller's label), or falls through. */
  private send(out: KernelOutputMaps, clause: number, bytes: number, sent: string): void {
    const p = this.p;
    p.call(Helper.KtimeGetNs).store(8, R7, OUTPUT_TIME, R0);
    p.storeImm(4, R7, OUTPUT_CLAUSE, clause);
    if (this.probe.id === null) p.store(4, R7, OUTPUT_PROBE, PROBE_ID_REGISTER);
    else p.storeImm(4, R7, OUTPUT_PROBE, this.probe.id);
    p.call(Helper.GetCurrentPidTgid).store(4, R7, OUTPUT_TID, R0).aluImm(Alu.Rsh, R0, 32).store(4, R7, OUTPUT_PID, R0);
    p.mov(R1, R6).loadMap(R2, out.perf).movImm32(R3, CURRENT_CPU).mov(R4, R7).movImm(R5, bytes).call(Helper.PerfEventOutput);
    p.jmpImm(Jmp.Ne, R0, RING_FULL, sent);
    this.countDrop(out.lost, 0, sent);
  }

  /**
   * exit(): the session is DRAINING, so no probe acts after this one, on any CPU; the rest of
   * this firing's clauses do not run (DTrace's exit() action)
   */
  drain(activity: number): void {
    const p = this.p;
    loadActivity(p, activity);
    p.storeImm(4, R0, 0, ACTIVITY_DRAINING);
    // always taken (R0 is the element's address), but conditional: the code after it (the next
    // clause, the fault exits) stays reachable in the verifier's walk of the jumps, which
    // refuses a program with an instruction no path reaches
    p.jmpImm(Jmp.Ne, R0, 0, PROGRAM_END);
  }

  /** Where code that meets a fault (DTrace's FLT_*; R7 its address or value) goes. */
  private faultLabel(fault = FLT_BADADDR): string {
    const place = fault * 256 + this.where;
    this.faulting.add(place);
    return `${this.prefix}fault${place}`;
  }

  /**
   * The clause's exits for a bad kernel address (R7) or a zero divisor: a record of the fault,
   * in place of the clause's record if it prints, which dtrace reports in its place among the
   * output as DTrace reports a fault, each with its own address; the clause ends there, as in
   * DTrace. False: there is nowhere to send it.
   */
  faultExits(maps: KernelMaps, clause: number): boolean {
    if (this.faulting.size === 0) return true;
    const out = maps.output ?? maps.faultOutput();
    if (out === null) return false;
    const p = this.p;
    const end = `${this.prefix}end`;
    const record = `${this.prefix}faulted`;
    p.ja(end);
    for (const place of this.faulting) p.label(`${this.prefix}fault${place}`).movImm(R8, place).ja(record);
    p.label(record).storeImm(4, R10, -COMM_AT, 0).loadMap(R1, out.record).mov(R2, R10).addImm(R2, -COMM_AT).call(Helper.MapLookupElem);
    p.jmpImm(Jmp.Eq, R0, 0, end).store(8, R0, FAULT_VALUE, R7).store(8, R0, FAULT_PLACE, R8).mov(R7, R0);
    this.send(out, (clause | OUTPUT_FAULT) | 0, FAULT_RECORD_BYTES, end);
    return true;
  }

  /** R7 = argument i, as `to`. */
  private arg(i: number, to: IntShape): void {
    const a = this.probe.arg(i)!;
    const p = this.p;
    if (a.size === 0) {
      p.movImm(R7, 0);
      return;
    }
    if (a.constant !== undefined) {
      this.constant(a.constant, to);
      return;
    }
    if (a.memoryAt !== undefined) {
      // a fault leaves the bytes zero (the helper clears them), as the event's fetch reads it
      p.mov(R1, R10).addImm(R1, -COMM_AT).movImm(R2, a.size).load(8, R3, R6, a.offset).addImm(R3, a.memoryAt);
      p.call(a.kernelMemory === true ? Helper.ProbeReadKernel : Helper.ProbeReadUser);
      p.load(a.size as Size, R7, R10, -COMM_AT);
      if (a.signed && a.size < 8) p.aluImm(Alu.Lsh, R7, 64 - a.size * 8).aluImm(Alu.Arsh, R7, 64 - a.size * 8);
      this.convert({ size: a.size, signed: a.signed }, to);
      return;
    }
    if (a.pc !== undefined) {
      // the PC where the CPU was in this mode (user: the segment's privilege bits are 3), else 0
      const zero = this.label('pc');
      const done = this.label('pcd');
      p.load(8, R7, R6, a.pc.modeOffset).aluImm(Alu.And, R7, 3).jmpImm(a.pc.user ? Jmp.Ne : Jmp.Eq, R7, 3, zero);
      p.load(8, R7, R6, a.offset).ja(done).label(zero).movImm(R7, 0).label(done);
      this.convert({ size: 8, signed: false }, to);
      return;
    }
    // tracepoint programs may load from their record directly at aligned offsets past its
    // header; raw tracepoint programs from anywhere in their arguments
    if ((a.offset >= 8 || this.probe.context !== 'record') && a.offset % a.size === 0) {
      p.load(a.size as Size, R7, R6, a.offset);
    } else {
      p.mov(R1, R10).addImm(R1, -COMM_AT).movImm(R2, a.size).mov(R3, R6).addImm(R3, a.offset).call(Helper.ProbeReadKernel);
      p.load(a.size as Size, R7, R10, -COMM_AT);
    }
    if (a.signed && a.size < 8) p.aluImm(Alu.Lsh, R7, 64 - a.size * 8).aluImm(Alu.Arsh, R7, 64 - a.size * 8);
    this.convert({ size: a.size, signed: a.signed }, to);
  }

  private builtin(name: string, to: IntShape): void {
    const p = this.p;
    switch (name) {
      case 'pid':
        p.call(Helper.GetCurrentPidTgid).mov(R7, R0).aluImm(Alu.Rsh, R7, 32);
        break;
      case 'tid':
        p.call(Helper.GetCurrentPidTgid).mov(R7, R0).aluImm(Alu.Lsh, R7, 32).aluImm(Alu.Rsh, R7, 32);
        break;
      case 'uid':
        p.call(Helper.GetCurrentUidGid).mov(R7, R0).aluImm(Alu.Lsh, R7, 32).aluImm(Alu.Rsh, R7, 32);
        break;
      case 'gid':
        p.call(Helper.GetCurrentUidGid).mov(R7, R0).aluImm(Alu.Rsh, R7, 32);
        break;
      case 'cpu':
        p.call(Helper.GetSmpProcessorId).mov(R7, R0);
        break;
      case 'curthread':
        p.call(Helper.GetCurrentTask).mov(R7, R0);
        this.convert({ size: 8, signed: false }, to);
        return;
      case 'timestamp':
        // CLOCK_MONOTONIC, as dtrace's own timestamp
        p.call(Helper.KtimeGetNs).mov(R7, R0);
        this.convert({ size: 8, signed: false }, to);
        return;
      default:
        throw new Error(`internal: BPF code for built-in ${name}`);
    }
    // each is an unsigned 32-bit value now
    this.convert({ size: 4, signed: false }, to);
  }

  /** Puts the current thread's id, the key of thread-local maps, at -COMM_AT (4 bytes). */
  private threadKey(): void {
    this.p.call(Helper.GetCurrentPidTgid).store(4, R10, -COMM_AT, R0);
  }

  /** R7 = the current thread's value of a thread-local (0 if it has none). */
  private readThreadLocal(v: A.VarInfo, to: IntShape): void {
    const p = this.p;
    const none = this.label('tl');
    this.threadKey();
    p.loadMap(R1, this.maps!.threadLocal(v.id, 8)).mov(R2, R10).addImm(R2, -COMM_AT).call(Helper.MapLookupElem);
    p.movImm(R7, 0).jmpImm(Jmp.Eq, R0, 0, none).load(8, R7, R0, 0).label(none);
    this.convert(shapeOf(v.type!)!, to);
  }

  /**
   * Puts a global's map key at -COMM_AT: 0 (a scalar's one entry, 4 bytes), or an element's
   * keys as their types hold them, 8 bytes each (computed into temporaries first: a key's own
   * code may use the room at -COMM_AT).
   */
  private globalKey(v: A.VarInfo, keys: A.Expr[], depth: number): void {
    const p = this.p;
    if (keys.length === 0) {
      p.storeImm(4, R10, -COMM_AT, 0);
      return;
    }
    keys.forEach((k, i) => {
      this.value(k, depth + i);
      this.convert(shapeOf(k.type!)!, shapeOf(v.keys![i])!);
      p.store(8, R10, this.temp(depth + i), R7);
    });
    keys.forEach((_, i) => p.load(8, R7, R10, this.temp(depth + i)).store(8, R10, -COMM_AT + 8 * i, R7));
  }

  /** R7 = a global scalar's value, or an associative array element's (0 where it has none). */
  private readGlobal(v: A.VarInfo, keys: A.Expr[], depth: number, to: IntShape): void {
    const p = this.p;
    const none = this.label('gv');
    this.globalKey(v, keys, depth);
    p.loadMap(R1, this.maps!.global(v.id, keys.length, 8)).mov(R2, R10).addImm(R2, -COMM_AT).call(Helper.MapLookupElem);
    p.movImm(R7, 0).jmpImm(Jmp.Eq, R0, 0, none).load(8, R7, R0, 0).label(none);
    this.convert(shapeOf(v.type!)!, to);
  }

  /**
   * x = value, a[k] = value: one map for all CPUs (as DTrace's globals, unsynchronised); an
   * element assigned 0 is freed, as D's dynamic variables; no room for one is a dynamic drop.
   */
  assignGlobal(v: A.VarInfo, keys: A.Expr[], value: A.Expr, maps: KernelMaps, prefix: string): void {
    const p = this.p;
    this.value(value, 0);
    this.convert(shapeOf(value.type!)!, shapeOf(v.type!)!);
    // the value kept while the key is made
    p.store(8, R10, this.temp(0), R7);
    this.globalKey(v, keys, 1);
    const map = maps.global(v.id, keys.length, 8);
    const done = `${prefix}done`;
    const del = `${prefix}del`;
    if (keys.length > 0) p.load(8, R7, R10, this.temp(0)).jmpImm(Jmp.Eq, R7, 0, del);
    p.loadMap(R1, map).mov(R2, R10).addImm(R2, -COMM_AT).mov(R3, R10).addImm(R3, this.temp(0)).movImm(R4, 0).call(Helper.MapUpdateElem);
    p.jmpImm(Jmp.Eq, R0, 0, done);
    this.countDrop(maps.drops, DROPS_DYNAMIC, done);
    p.ja(done);
    if (keys.length > 0) p.label(del).loadMap(R1, map).mov(R2, R10).addImm(R2, -COMM_AT).call(Helper.MapDeleteElem);
    p.label(done);
  }

  /** this->x = value: its stack slot, as the variable's type holds it. */
  assignLocal(v: A.VarInfo, slot: number, value: A.Expr): void {
    this.value(value, 0);
    this.convert(shapeOf(value.type!)!, shapeOf(v.type!)!);
    this.p.store(8, R10, localAt(slot), R7);
  }

  /** self->x = value: stored for the current thread; 0 frees it, as D's dynamic variables. */
  assign(v: A.VarInfo, value: A.Expr, maps: KernelMaps, prefix: string): void {
    const p = this.p;
    this.value(value, 0);
    this.convert(shapeOf(value.type!)!, shapeOf(v.type!)!);
    const map = maps.threadLocal(v.id, 8);
    const del = `${prefix}del`;
    const done = `${prefix}done`;
    // the value beside the key (R7 survives the helper calls)
    this.threadKey();
    p.store(8, R10, -COMM_AT + 8, R7);
    p.jmpImm(Jmp.Eq, R7, 0, del);
    p.loadMap(R1, map).mov(R2, R10).addImm(R2, -COMM_AT).mov(R3, R10).addImm(R3, -COMM_AT + 8).movImm(R4, 0).call(Helper.MapUpdateElem);
    p.jmpImm(Jmp.Eq, R0, 0, done);
    // no room for another thread's variable: a dynamic variable drop on this CPU
    this.countDrop(maps.drops, DROPS_DYNAMIC, done);
    p.ja(done);
    p.label(del).loadMap(R1, map).mov(R2, R10).addImm(R2, -COMM_AT).call(Helper.MapDeleteElem).label(done);
  }

  /**
   * self->s = a string, or s = one: its bytes made in the room keys are built in (zeroed first,
   * so a value is its string zero-padded) and stored for the current thread (or in the global's
   * one entry), or another variable's copied; 0, or an unset variable, frees a thread-local
   * (never a global: stringSource). A fault reading the string leaves it as it was.
   */
  assignString(v: A.VarInfo, source: StringSource, maps: KernelMaps, prefix: string): void {
    const p = this.p;
    const map = this.stringMap(v);
    const frees = v.scope === 'self' && (source.kind === 'var' || source.kind === 'free');
    const del = `${prefix}del`;
    const done = `${prefix}done`;
    if (source.kind === 'var') {
      this.findString(source.v);
      p.jmpImm(Jmp.Eq, R0, 0, frees ? del : done).mov(R7, R0);
    } else if (source.kind !== 'free') {
      for (let at = 0; at < this.stringBytes; at += 8) p.storeImm(8, R10, STRING_AT + at, 0);
      this.makeString(source);
      p.mov(R7, R10).addImm(R7, STRING_AT);
    }
    if (source.kind !== 'free') {
      if (v.scope === 'self') this.threadKey();
      else p.storeImm(4, R10, -COMM_AT, 0);
      p.loadMap(R1, map).mov(R2, R10).addImm(R2, -COMM_AT).mov(R3, R7).movImm(R4, 0).call(Helper.MapUpdateElem);
      p.jmpImm(Jmp.Eq, R0, 0, done);
      // no room for another thread's variable: a dynamic variable drop on this CPU
      this.countDrop(maps.drops, DROPS_DYNAMIC, done);
    }
    if (frees) {
      if (source.kind === 'var') p.ja(done);
      p.label(del);
      this.threadKey();
      p.loadMap(R1, map).mov(R2, R10).addImm(R2, -COMM_AT).call(Helper.MapDeleteElem);
    }
    p.label(done);
  }

  /** Writes a string's bytes at STRING_AT (zeroed: a literal's NUL and padding are there). */
  private makeString(source: Exclude<StringSource, { kind: 'var' } | { kind: 'free' }>): void {
    const p = this.p;
    switch (source.kind) {
      case 'user':
        this.value(source.addr, 0);
        this.kernelString(STRING_AT, this.vars.strsize, Helper.ProbeReadUserStr);
        return;
      case 'copyin':
        this.value(source.addr, 0);
        p.mov(R1, R10).addImm(R1, STRING_AT).movImm(R2, source.size).mov(R3, R7).call(Helper.ProbeReadUser);
        p.jmpImm(Jmp.Ne, R0, 0, this.faultLabel());
        return;
      case 'comm':
        p.mov(R1, R10).addImm(R1, STRING_AT).movImm(R2, 16).call(Helper.GetCurrentComm);
        return;
      case 'literal': {
        const padded = Buffer.alloc((source.bytes.length + 3) & ~3);
        source.bytes.copy(padded);
        for (let at = 0; at < padded.length; at += 4) p.storeImm(4, R10, STRING_AT + at, padded.readInt32LE(at));
        return;
      }
      case 'kernel':
        if (source.pointer) {
          this.value(source.place, 0);
          this.kernelString(STRING_AT, source.size);
          return;
        }
        // a char array's bytes: the string is what comes before its first NUL
        this.address(source.place, 0);
        p.mov(R1, R10).addImm(R1, STRING_AT).movImm(R2, source.size).mov(R3, R7).call(Helper.ProbeReadKernel);
        p.jmpImm(Jmp.Ne, R0, 0, this.faultLabel());
        return;
    }
  }

  /** Builds the key, finds or makes the entry, and applies the function to it. */
  update(u: Extract<Update, { kind: 'agg' }>, maps: KernelMaps, prefix: string): void {
    const p = this.p;
    const keyAt = -(KEY_BASE + u.agg.keySize);
    // a key of fewer bytes than 8 is padded: zero it whole first
    for (let at = 0; at < u.agg.keySize; at += 8) p.storeImm(8, R10, keyAt + at, 0);
    let at = keyAt;
    u.keys.forEach((k, i) => {
      const part = u.agg.keys[i];
      if (part.kind === 'literal') return;
      if (part.kind === 'comm') {
        p.mov(R1, R10).addImm(R1, at).movImm(R2, 16).call(Helper.GetCurrentComm);
        at += 16;
        return;
      }
      if (part.kind === 'kstr' && stringVariableOf(k) !== null) {
        this.stringOf(stringVariableOf(k)!);
        p.mov(R1, R10).addImm(R1, at).movImm(R2, keyPartSize(part)).mov(R3, R0).call(Helper.ProbeReadKernel);
        at += keyPartSize(part);
        return;
      }
      const copied = copiedString(k);
      if (part.kind === 'kstr' && copied !== null) {
        // the n bytes; the zeroed key has a NUL after them
        this.value(copied.call.args[0], 0);
        p.mov(R1, R10).addImm(R1, at).movImm(R2, copied.size).mov(R3, R7).call(Helper.ProbeReadUser);
        p.jmpImm(Jmp.Ne, R0, 0, this.faultLabel());
        at += keyPartSize(part);
        return;
      }
      if (part.kind === 'kstr' && part.user === true) {
        this.value((k as A.Call).args[0], 0);
        this.kernelString(at, part.size, Helper.ProbeReadUserStr);
        at += keyPartSize(part);
        return;
      }
      if (part.kind === 'kstr') {
        const str = kernelString(k)!;
        if (str.pointer) this.value(str.place, 0);
        else this.address(str.place, 0);
        this.kernelString(at, part.size);
        at += keyPartSize(part);
        return;
      }
      if (part.kind === 'stack') {
        // the interrupted kernel stack's frames, the rest zeroed (none in user mode: all zero)
        p.mov(R1, R6).mov(R2, R10).addImm(R2, at).movImm(R3, part.frames * 8).movImm(R4, 0).call(Helper.GetStack);
        at += keyPartSize(part);
        return;
      }
      if (part.kind === 'sym') {
        const arg = (k as A.Call).args[0];
        this.value(arg, 0);
        this.convert(shapeOf(arg.type!)!, { size: 8, signed: false });
      } else if (part.kind === 'probe') {
        if (this.probe.id === null) p.mov(R7, PROBE_ID_REGISTER);
        else p.movImm(R7, this.probe.id);
      } else {
        this.value(k, 0);
        this.convert(shapeOf(k.type!)!, { size: part.size, signed: part.signed });
      }
      p.store(8, R10, at, R7);
      at += 8;
    });
    // the value first (it may call helpers), kept in R7 across the map calls (R6-R9 survive them)
    if (u.value !== null) {
      this.value(u.value, 0);
      // sum(), avg(), min(), max() and quantize() take their value as int64
      this.convert(shapeOf(u.value.type!)!, { size: 8, signed: true });
    }
    // the increment, as int64, in the second temporary for the update (INCREMENT_AT),
    // computed after the value as in dtrace
    if (u.increment !== null) {
      p.store(8, R10, this.temp(0), R7);
      this.value(u.increment, 1);
      this.convert(shapeOf(u.increment.type!)!, { size: 8, signed: true });
      p.store(8, R10, INCREMENT_AT, R7).load(8, R7, R10, this.temp(0));
    }
    const map = maps.aggregation(u.agg);
    const have = `${prefix}have`;
    const done = `${prefix}done`;
    const lost = `${prefix}lost`;
    p.loadMap(R1, map).mov(R2, R10).addImm(R2, keyAt).call(Helper.MapLookupElem).jmpImm(Jmp.Ne, R0, 0, have);
    // a new key: its first value is all zero words (the scratch slot the program never writes)
    p.storeImm(4, R10, -COMM_AT, 0)
      .loadMap(R1, maps.scratch)
      .mov(R2, R10)
      .addImm(R2, -COMM_AT)
      .call(Helper.MapLookupElem)
      .jmpImm(Jmp.Eq, R0, 0, done)
      .mov(R3, R0)
      .loadMap(R1, map)
      .mov(R2, R10)
      .addImm(R2, keyAt)
      // BPF_NOEXIST: another CPU may have made it meanwhile, which is as good
      .movImm(R4, 1)
      .call(Helper.MapUpdateElem)
      .loadMap(R1, map)
      .mov(R2, R10)
      .addImm(R2, keyAt)
      .call(Helper.MapLookupElem)
      .jmpImm(Jmp.Eq, R0, 0, lost);
    p.label(have);
    this.apply(u.agg.fn, u.buckets, u.increment !== null, prefix);
    p.ja(done);
    // the map is full: an aggregation drop on this CPU
    p.label(lost);
    this.countDrop(maps.drops, DROPS_AGGREGATION, done);
    p.label(done);
  }

  /** Adds one to this CPU's counter `slot` of a per-CPU u64 array (no atomics); `done` if it has none. */
  private countDrop(counters: number, slot: number, done: string): void {
    this.p
      .storeImm(4, R10, -COMM_AT, slot)
      .loadMap(R1, counters)
      .mov(R2, R10)
      .addImm(R2, -COMM_AT)
      .call(Helper.MapLookupElem)
      .jmpImm(Jmp.Eq, R0, 0, done)
      .load(8, R1, R0, 0)
      .addImm(R1, 1)
      .store(8, R0, 0, R1);
  }

  /**
   * The function on the entry R0 points to, with the value in R7 and (`increment`) a
   * histogram's increment at INCREMENT_AT, else 1 (per-CPU values: no atomics).
   */
  private apply(fn: KernelAggregation['fn'], buckets: Buckets | null, increment: boolean, prefix: string): void {
    const p = this.p;
    switch (fn) {
      case 'count':
        p.load(8, R1, R0, 0).addImm(R1, 1).store(8, R0, 0, R1);
        return;
      case 'sum':
        p.load(8, R1, R0, 0).alu(Alu.Add, R1, R7).store(8, R0, 0, R1);
        return;
      case 'avg':
        p.load(8, R1, R0, 0).addImm(R1, 1).store(8, R0, 0, R1).load(8, R1, R0, 8).alu(Alu.Add, R1, R7).store(8, R0, 8, R1);
        return;
      case 'min':
      case 'max': {
        // [has a value, value]: this CPU's first value is taken as it is
        const take = `${prefix}take`;
        const keep = `${prefix}keep`;
        p.load(8, R1, R0, 0).jmpImm(Jmp.Eq, R1, 0, take).load(8, R1, R0, 8);
        p.jmp(fn === 'min' ? Jmp.Sle : Jmp.Sge, R1, R7, keep);
        p.label(take).storeImm(8, R0, 0, 1).store(8, R0, 8, R7).label(keep);
        return;
      }
      case 'stddev':
        this.stddev(prefix);
        return;
      case 'quantize':
      case 'lquantize':
      case 'llquantize': {
        if (fn === 'quantize') this.quantizeBucket(prefix);
        else if (buckets?.fn === 'lquantize') this.lquantizeBucket(buckets.params, prefix);
        else if (buckets?.fn === 'llquantize') this.llquantizeBucket(buckets.params, prefix);
        else throw new Error(`internal: ${fn}() without its buckets`);
        const nb = fn === 'quantize' ? 127 : buckets!.params.nbuckets;
        // a bound the verifier can see (and llquantize()'s drop of a value past its buckets, as DTrace's)
        p.jmpImm(Jmp.Gt, R1, nb - 1, `${prefix}done`);
        // R1 = bucket index * 8
        p.aluImm(Alu.Lsh, R1, 3).alu(Alu.Add, R1, R0).load(8, R2, R1, 0);
        if (increment) p.load(8, R3, R10, INCREMENT_AT).alu(Alu.Add, R2, R3);
        else p.addImm(R2, 1);
        p.store(8, R1, 0, R2);
        return;
      }
    }
  }

  /**
   * stddev(): [count, sum, sum of squares (128 bits: low word, high word)], as DTrace's
   * dtrace_aggregate_stddev: the square of the value's magnitude, added with a carry. The
   * 64x64 -> 128 product from 32-bit halves: |v| = a * 2^32 + b, |v|^2 = a^2 * 2^64 +
   * 2ab * 2^32 + b^2.
   */
  private stddev(prefix: string): void {
    const p = this.p;
    p.load(8, R1, R0, 0).addImm(R1, 1).store(8, R0, 0, R1);
    p.load(8, R1, R0, 8).alu(Alu.Add, R1, R7).store(8, R0, 8, R1);
    // R2 = |v| (INT64_MIN: 2^63, its own negation read as unsigned)
    p.mov(R2, R7).jmpImm(Jmp.Sge, R2, 0, `${prefix}sd_pos`).neg(R2).label(`${prefix}sd_pos`);
    // R3 = a (high half), R4 = b (low half)
    p.mov(R3, R2).aluImm(Alu.Rsh, R3, 32).mov(R4, R2).aluImm(Alu.Lsh, R4, 32).aluImm(Alu.Rsh, R4, 32);
    // R8 = a*b (< 2^64); high word += a*a + (a*b >> 31); low word: b*b + (a*b << 33), with carries
    p.mov(R8, R3).alu(Alu.Mul, R8, R4);
    p.alu(Alu.Mul, R3, R3).alu(Alu.Mul, R4, R4);
    // 2ab * 2^32 = (ab >> 31) * 2^64 + (ab << 33)
    p.mov(R1, R8).aluImm(Alu.Rsh, R1, 31).alu(Alu.Add, R3, R1);
    p.aluImm(Alu.Lsh, R8, 33);
    // low = b^2 + (ab << 33), carry into high
    p.alu(Alu.Add, R4, R8).jmp(Jmp.Ge, R4, R8, `${prefix}sd_nc1`).addImm(R3, 1).label(`${prefix}sd_nc1`);
    // the entry's sum of squares += (R3:R4)
    p.load(8, R1, R0, 16).alu(Alu.Add, R1, R4).store(8, R0, 16, R1);
    p.load(8, R2, R0, 24).alu(Alu.Add, R2, R3);
    p.jmp(Jmp.Ge, R1, R4, `${prefix}sd_nc2`).addImm(R2, 1).label(`${prefix}sd_nc2`);
    p.store(8, R0, 24, R2);
  }

  /** R1 = lquantize()'s bucket of R7: 0 below the base, 1 + (v - base) / step up to levels + 1. Keeps R0. */
  private lquantizeBucket(q: LQuantizeParams, prefix: string): void {
    const p = this.p;
    const out = `${prefix}lqout`;
    p.movImm(R1, 0);
    p.movImm64(R2, BigInt(q.base)).jmp(Jmp.Slt, R7, R2, out);
    // v >= base: v - base as unsigned, divided unsigned
    p.mov(R1, R7).alu(Alu.Sub, R1, R2).movImm64(R2, BigInt(q.step)).alu(Alu.Div, R1, R2);
    p.movImm64(R2, BigInt(q.levels)).jmp(Jmp.Le, R1, R2, `${prefix}lqin`).mov(R1, R2).label(`${prefix}lqin`);
    p.addImm(R1, 1).label(out);
  }

  /**
   * R1 = llquantize()'s bucket of R7, as histogram.ts llquantizeBucketBig (a value past the
   * buckets gives one past them, which the caller drops). Keeps R0; the magnitudes' bounds
   * are constants, so their walk is a chain of comparisons.
   */
  private llquantizeBucket(q: LLQuantizeParams, prefix: string): void {
    const p = this.p;
    const sign = `${prefix}llsign`;
    const perMag = q.steps - q.stepsFactor;
    // R2 = |v| (unsigned)
    p.mov(R2, R7).jmpImm(Jmp.Sge, R2, 0, `${prefix}llpos`).neg(R2).label(`${prefix}llpos`);
    // below the low magnitude: the middle bucket
    p.movImm(R1, q.bin0).movImm64(R3, q.max0).jmp(Jmp.Lt, R2, R3, `${prefix}llout`);
    for (const { mag, max } of llMagnitudes(q)) {
      const next = `${prefix}llm${mag}`;
      p.movImm64(R3, max).jmp(Jmp.Ge, R2, R3, next);
      if (mag !== 0) p.mov(R1, R2).movImm64(R3, max / BigInt(q.steps)).alu(Alu.Div, R1, R3);
      else p.mov(R1, R2).movImm64(R4, BigInt(q.steps)).alu(Alu.Mul, R1, R4).alu(Alu.Div, R1, R3);
      p.addImm(R1, (mag - q.lmag) * perMag + 1 - q.stepsFactor).ja(sign);
      p.label(next);
    }
    // past the high magnitude
    p.movImm(R1, (q.hmag + 1 - q.lmag) * perMag + 1);
    p.label(sign).jmpImm(Jmp.Sge, R7, 0, `${prefix}llplus`).neg(R1).label(`${prefix}llplus`);
    p.addImm(R1, q.bin0).label(`${prefix}llout`);
  }

  /**
   * R1 = quantize()'s bucket of R7: 63 for 0, 63 + bit length of a positive value, 63 - bit
   * length of its magnitude for a negative one (INT64_MIN: 0). Keeps R0.
   */
  private quantizeBucket(prefix: string): void {
    const p = this.p;
    const neg = `${prefix}qneg`;
    const mag = `${prefix}qmag`;
    const out = `${prefix}qout`;
    p.movImm(R1, 63).jmpImm(Jmp.Eq, R7, 0, out);
    p.mov(R2, R7).movImm(R4, 1).jmpImm(Jmp.Slt, R7, 0, neg).ja(mag);
    p.label(neg).neg(R2).movImm(R4, -1);
    p.label(mag);
    // INT64_MIN is its own negation: its bit length is 64
    p.movImm(R3, 0);
    const minLabel = `${prefix}qmin`;
    p.jmpImm(Jmp.Slt, R2, 0, minLabel);
    for (const step of [32, 16, 8, 4, 2, 1]) {
      const skip = `${prefix}q${step}`;
      p.mov(R8, R2).aluImm(Alu.Rsh, R8, step).jmpImm(Jmp.Eq, R8, 0, skip).mov(R2, R8).addImm(R3, step).label(skip);
    }
    // R2 is now 1: the bit length is R3 + 1
    p.addImm(R3, 1);
    const apply = `${prefix}qapply`;
    p.ja(apply).label(minLabel).movImm(R3, 64).label(apply);
    // 63 + sign * length
    p.mov(R1, R3).alu(Alu.Mul, R1, R4).addImm(R1, 63).label(out);
  }
}
