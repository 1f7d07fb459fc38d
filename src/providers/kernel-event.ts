// What every probe built on a tracefs event shares: argument types from the event's format
// file, a decoder generated once per enabled probe that fills the probe context from a record,
// and the tracefs filter that lets the kernel drop events no clause could want.

import { fillFiredTask, readsTask, taskValues } from './task-fields.js';
import { attachFile, fdArgsOf, fileCopy } from './kernel-files.js';
import { FIRING_HEADER, type ClausePlan, type FiringValue, type FiringValues, type KernelArg, type KernelClause, type KernelOutput, type KernelProbe, type KernelTest } from './clause-plan.js';
import type { AttachResult, InKernel } from './in-kernel.js';
import { DFatalError } from '../errors.js';
import { Program } from '../kernel/bpf/asm.js';
import { uprobeMultiSupported } from '../kernel/bpf/objects.js';
import type { CaptureValues, RegisterField, UprobeSite, UserCopy } from '../kernel/bpf/capture.js';
import type { EventField, EventFormat } from '../kernel/event-format.js';
import type { ProcessTable } from '../kernel/proctable.js';
import type { OptionalArea, RecordCopies } from '../kernel/user-memory.js';
import { cstring } from '../kernel/tracer.js';
import { kernelSymbols } from '../kernel/ksyms.js';
import type { TypeScope } from '../lang/typescope.js';
import { DType, Kind, VOID, arrayOf, intType, pointerTo } from '../lang/types.js';
import type { ProbeContext } from '../runtime/context.js';
import type { FiringEnv, ProbeDef } from './provider.js';

/** The fields of an event that are a probe's arguments: all but the common header and `skip`. */
export function argFields(format: EventFormat, skip = 0): EventField[] {
  return format.fields.slice(skip);
}

const QUALIFIERS = /\b(const|volatile|__user|__rcu|__percpu|__iomem)\b/g;

/** The D type of a field: strings for char arrays, pointers kept, integers by name or by size. */
export function dTypeOf(scope: TypeScope, f: EventField): DType {
  if (f.charArray || (f.dataLoc && /char\s*\[/.test(f.type))) return scope.strsizeType;
  const bare = f.type.replace(QUALIFIERS, ' ').replace(/\s+/g, ' ').trim();
  const ptr = /^(.*?)\s*(\*+)$/.exec(bare);
  if (ptr) {
    let t = baseType(scope, ptr[1]) ?? VOID;
    for (let i = 0; i < ptr[2].length; i++) t = pointerTo(t);
    return t;
  }
  const arr = /^(.*?)\[(\d*)\]$/.exec(bare);
  if (arr && !f.dataLoc) {
    const elem = baseType(scope, arr[1].trim()) ?? scope.get('uint8_t');
    const n = Number(arr[2]) || Math.max(1, Math.floor(f.size / Math.max(1, elem.size)));
    return arrayOf(elem, n);
  }
  const t = baseType(scope, bare);
  if (t && t.size === f.size && t.kind !== Kind.Struct && t.kind !== Kind.Union) return t;
  return sizedInt(scope, f.size, f.signed);
}

function baseType(scope: TypeScope, name: string): DType | undefined {
  const m = /^(struct|union|enum) (\w+)$/.exec(name);
  if (m) return scope.lookup(name) ?? scope.tag(m[1] === 'struct' ? Kind.Struct : m[1] === 'union' ? Kind.Union : Kind.Enum, m[2]);
  return scope.lookup(name) ?? KERNEL_INTS[name];
}

/** Kernel integer typedefs the D library does not declare. */
const KERNEL_INTS: Record<string, DType> = {
  u8: intType('u8', 1, false), u16: intType('u16', 2, false), u32: intType('u32', 4, false), u64: intType('u64', 8, false),
  s8: intType('s8', 1, true), s16: intType('s16', 2, true), s32: intType('s32', 4, true), s64: intType('s64', 8, true),
  __u8: intType('__u8', 1, false), __u16: intType('__u16', 2, false), __u32: intType('__u32', 4, false), __u64: intType('__u64', 8, false),
  __s8: intType('__s8', 1, true), __s16: intType('__s16', 2, true), __s32: intType('__s32', 4, true), __s64: intType('__s64', 8, true),
  bool: intType('bool', 1, false), _Bool: intType('_Bool', 1, false),
};

function sizedInt(scope: TypeScope, size: number, signed: boolean): DType {
  const bits = size === 1 || size === 2 || size === 4 ? size * 8 : 64;
  return scope.get(`${signed ? '' : 'u'}int${bits}_t`);
}

/** Fills a probe's argument types, native types and names from its event's fields. */
export function describeFromFields(def: ProbeDef, fields: EventField[], scope: TypeScope): void {
  def.argTypes = fields.map((f) => dTypeOf(scope, f));
  def.nativeTypes = fields.map((f) => f.type);
  def.argNames = fields.map((f) => f.name);
}

/** A field that looks like a buffer's length, after a pointer to the buffer. */
const LENGTH_FIELD = /^(count|len|length|size|nbytes|bufsiz|buflen|addrlen|optlen)$/;
/** How much of a string or buffer is copied when a probe fires. */
const COPY_MAX = 256;

/**
 * What to copy from user memory when an event fires: a pointer followed by a length field
 * (write's buf and count) as that many bytes, any other `char *` field as a string.
 */
export function userCopiesOf(fields: EventField[]): UserCopy[] {
  const out: UserCopy[] = [];
  fields.forEach((f, i) => {
    if (!f.pointer || f.size !== 8) return;
    const next = fields[i + 1];
    if (next && LENGTH_FIELD.test(next.name) && (next.size === 8 || next.size === 4)) {
      out.push({ ptrOffset: f.offset, maxLen: COPY_MAX, countOffset: next.offset, countSize: next.size });
    } else if (/\bchar\s*\*$/.test(f.type)) {
      out.push({ ptrOffset: f.offset, maxLen: COPY_MAX });
    }
  });
  return out;
}

/** Whether any clause needs the kernel stack recorded with each event. */
export function wantsStack(plans: ClausePlan[]): boolean {
  return plans.some((p) => p.kernelStack);
}

/** Whether any clause reads uregs[]. */
export function readsRegisters(plans: ClausePlan[]): boolean {
  return plans.some((p) => p.reads.has('uregs'));
}

/** Whether any clause needs the user stack captured with each event. */
export function wantsUserStack(plans: ClausePlan[]): boolean {
  return plans.some((p) => p.userStack);
}

/** Arguments the clauses' code reads as BigInts (ClausePlan.bigArgs); null: any of them. */
export function bigArgsRead(plans: ClausePlan[]): Set<number> | null {
  const out = new Set<number>();
  for (const p of plans) {
    if (p.bigArgs === null) return null;
    for (const i of p.bigArgs) out.add(i);
  }
  return out;
}

/** Argument indexes the clauses read; null: all of them (args[] with a computed index). */
export function argsRead(plans: ClausePlan[]): Set<number> | null {
  const out = new Set<number>();
  for (const p of plans) {
    for (const r of p.reads) {
      if (r === 'args') return null;
      const m = /^arg([0-9])$/.exec(r);
      if (m) out.add(Number(m[1]));
    }
  }
  return out;
}

/**
 * Decoder code that puts the fetched registers (fields u0, u1, ... at `offsets`) in
 * ctx.uregs, for uregs[].
 */
export function registerDecoderCode(offsets: number[]): string {
  let code = '';
  offsets.forEach((at, i) => (code += `ctx.uregs[${i}] = v.getBigUint64(o + ${at}, true);\n`));
  return code + `ctx.uregsN = ${offsets.length};\n`;
}

/** Fills one argument of the context from a record: generated per enabled probe. */
export type RecordDecoder = (page: Buffer, view: DataView, off: number, ctx: ProbeContext) => void;

/**
 * Generates the decoder of the arguments `wanted` (argument i is `fields[i]`, null: every one)
 * into ctx.args (integers and pointers) and ctx.argStrs (strings). Integers also go to ctx.argn
 * as Numbers (a 64-bit one from its two u32 halves, STYLE rule 4), and to ctx.args as BigInts
 * only if `big` has them (null: all) or, for 64 bits, if the Number is not exact. `extra` code
 * may rewrite ctx.args: its decoder fills every BigInt and no Number.
 */
export function compileDecoder(fields: EventField[], wanted: Set<number> | null, extra = '', big: Set<number> | null = null): RecordDecoder {
  let body = '';
  let mask = 0;
  fields.forEach((f, i) => {
    if (i > 9 || (wanted !== null && !wanted.has(i))) return;
    if (extra === '' && numberField(f)) {
      body += decodeNumber(f, i, big === null || big.has(i)) + '\n';
      mask |= 1 << i;
    } else {
      body += decodeField(f, i) + '\n';
    }
  });
  // arguments past the probe's own read 0, as in DTrace, not what an earlier event left (a
  // provider's code, which may set some, reads them as BigInts)
  for (let i = fields.length; i <= 9; i++) {
    if (extra !== '') body += `a[${i}] = 0n;\n`;
    else if (wanted === null || wanted.has(i)) {
      body += `n[${i}] = 0;\na[${i}] = 0n;\n`;
      mask |= 1 << i;
    }
  }
  // a block of its own: a provider's code may declare what it likes
  if (extra !== '') body += `{\n${extra}}\n`;
  const head = `const a = ctx.args;\nconst n = ctx.argn;\nctx.argnSet = ${mask};\n`;
  return new Function('cstring', `return function decode(page, v, o, ctx) {\n${head}${body}};`)(cstring) as RecordDecoder;
}

/** An integer or pointer field of a size a Number form is decoded for. */
function numberField(f: EventField): boolean {
  return !f.charArray && !f.dataLoc && (f.size === 8 || f.size === 4 || f.size === 2 || f.size === 1);
}

/**
 * An integer field into ctx.argn[i], and into ctx.args[i] if `big` (a clause reads the BigInt)
 * or if a 64-bit value is beyond ±2^53 (the Number is then not exact, and any other read of the
 * argument takes the BigInt).
 */
function decodeNumber(f: EventField, i: number, big: boolean): string {
  const at = `o + ${f.offset}`;
  if (f.size === 8) {
    const num = `n[${i}] = v.getInt32(${at} + 4, true) * 4294967296 + v.getUint32(${at}, true);`;
    if (big) return `${num}\na[${i}] = v.getBigInt64(${at}, true);`;
    return `${num}\nif (n[${i}] > 9007199254740991 || n[${i}] < -9007199254740991) a[${i}] = v.getBigInt64(${at}, true);`;
  }
  const s = f.signed ? 'Int' : 'Uint';
  const num = `n[${i}] = v.get${s}${f.size * 8}(${at}${f.size > 1 ? ', true' : ''});`;
  return big ? `${num}\na[${i}] = BigInt(n[${i}]);` : num;
}

function decodeField(f: EventField, i: number): string {
  const at = `o + ${f.offset}`;
  if (f.charArray) return `ctx.argStrs[${i}] = cstring(page, ${at}, ${f.size});`;
  if (f.dataLoc) {
    // u32: length << 16 | offset from the record's start (__rel_loc: from the field's end)
    const base = f.type.includes('__rel_loc') ? `${at} + 4` : 'o';
    const loc = `v.getUint32(${at}, true)`;
    if (/char\s*\[/.test(f.type)) return `{ const l = ${loc}; ctx.argStrs[${i}] = cstring(page, ${base} + (l & 0xffff), l >>> 16); }`;
    return `a[${i}] = 0n;`;
  }
  switch (f.size) {
    case 8:
      return `a[${i}] = v.getBigInt64(${at}, true);`;
    case 4:
      return `a[${i}] = BigInt(v.get${f.signed ? 'Int' : 'Uint'}32(${at}, true));`;
    case 2:
      return `a[${i}] = BigInt(v.get${f.signed ? 'Int' : 'Uint'}16(${at}, true));`;
    case 1:
      return `a[${i}] = BigInt(v.get${f.signed ? 'Int' : 'Uint'}8(${at}));`;
    default:
      // arrays of numbers (addresses, masks) have no scalar value
      return `a[${i}] = 0n;`;
  }
}

/**
 * Code that offers each fetched string to copyinstr() as the bytes at its argument's address
 * (a fault leaves the field empty: copyinstr() then reads the process's memory).
 */
export function capturedStrings(strings: EventField[]): string {
  let code = 'let copies = 0;\n';
  for (const f of strings) {
    const arg = Number(f.name.slice(3));
    code +=
      `{ const l = v.getUint32(o + ${f.offset}, true), len = l >>> 16;\n` +
      `  if (len > 0) { ctx.capturedAddr[copies] = a[${arg}]; ctx.capturedText[copies] = page.toString('latin1', o + (l & 0xffff), o + (l & 0xffff) + len); copies++; } }\n`;
  }
  return code + 'ctx.capturedN = copies;\n';
}

/** The idle tasks' names by CPU ("swapper/N"), made once each. */
const swapperNames: string[] = [];

function swapperName(cpu: number): string {
  let s = swapperNames[cpu];
  if (s === undefined) {
    while (swapperNames.length < cpu) swapperNames.push(`swapper/${swapperNames.length}`);
    s = `swapper/${cpu}`;
    swapperNames[cpu] = s;
  }
  return s;
}

/** Puts who the event belongs to, where and when it happened, in the context. */
export function fillTask(ctx: ProbeContext, procs: ProcessTable, cpu: number, tid: number, ts: number): void {
  const t = procs.lookup(tid);
  ctx.cpu = cpu;
  ctx.tid = tid;
  ctx.pid = t.tgid;
  ctx.ppid = t.ppid;
  ctx.uid = t.uid;
  ctx.gid = t.gid;
  ctx.execname = tid === 0 ? swapperName(cpu) : t.comm;
  ctx.taskFired = false;
  ctx.errno = 0;
  ctx.kstackLen = 0;
  ctx.capturedN = 0;
  ctx.eventTs = ts;
  ctx.timestamp = -1n;
}

/** Puts the copies of user memory that came with the record in the context (copyin() and copyinstr() look there first). */
/** A descriptor in a record (an int or a long). */
function fdOf(v: DataView, at: number, size: number): number {
  return size === 8 ? v.getInt32(at + 4, true) * 4294967296 + v.getUint32(at, true) : v.getInt32(at, true);
}

function attachCopies(ctx: ProbeContext, copies: RecordCopies): void {
  let n = 0;
  for (let i = 0; i < copies.n; i++) {
    const t = copies.texts[i];
    if (t === null) continue;
    ctx.capturedAddr[n] = copies.addrs[i];
    ctx.capturedText[n] = t;
    n++;
  }
  ctx.capturedN = n;
}

/** A record field a kernel filter can test, for a D name (tid, execname, cpu, argN). */
export interface FilterField {
  name: string;
  string: boolean;
  signed: boolean;
}

/**
 * The tracefs filter for one probe: for each clause, the AND of the predicate tests the kernel
 * can evaluate; the probe's filter is their OR. A filter only ever lets through more than the
 * predicates do (user space still runs every predicate). `never`: no clause can run on this
 * probe (probefunc/probename tests that are false for it), so the event need not be enabled.
 */
export function kernelFilter(
  def: ProbeDef,
  plans: ClausePlan[],
  fieldOf: (d: string) => FilterField | null,
): { filter: string | null; never: boolean } {
  const ors: string[] = [];
  let unfiltered = false;
  for (const plan of plans) {
    const ands: string[] = [];
    let never = false;
    for (const t of plan.kernel) {
      const r = kernelTest(def, t, fieldOf);
      if (r === false) never = true;
      else if (typeof r === 'string') ands.push(r);
    }
    if (never) continue;
    if (ands.length === 0) unfiltered = true;
    else ors.push(ands.length === 1 ? ands[0] : ands.map((a) => `(${a})`).join(' && '));
  }
  if (ors.length === 0 && !unfiltered) return { filter: null, never: true };
  if (unfiltered) return { filter: null, never: false };
  return { filter: ors.length === 1 ? ors[0] : ors.map((o) => `(${o})`).join(' || '), never: false };
}

const BUILTIN_FIELDS: Record<string, FilterField> = {
  tid: { name: 'common_pid', string: false, signed: true },
  execname: { name: 'comm', string: true, signed: false },
  cpu: { name: 'CPU', string: false, signed: false },
};

/** A test as tracefs filter text; true: holds for this probe; false: never holds; null: not pushable. */
function kernelTest(def: ProbeDef, t: KernelTest, fieldOf: (d: string) => FilterField | null): string | boolean | null {
  if (t.field === 'probefunc' || t.field === 'probename') {
    const actual = t.field === 'probefunc' ? def.probe.func : def.probe.name;
    const eq = actual === t.value;
    return t.op === '==' ? eq : t.op === '!=' ? !eq : null;
  }
  const f = BUILTIN_FIELDS[t.field] ?? fieldOf(t.field);
  if (!f) return null;
  if (f.string) {
    if (typeof t.value !== 'string' || /["\\]/.test(t.value)) return null;
    return `${f.name} ${t.op} "${t.value}"`;
  }
  if (typeof t.value !== 'bigint') return null;
  if (t.value < 0n && !f.signed) return null;
  return `${f.name} ${t.op} ${t.value}`;
}

/**
 * Runs the probe's clauses that compiled to BPF in the kernel, where BPF works; returns the
 * plans of those left for dtrace. (Order between the two sets does not matter: what a kernel
 * clause touches, no clause in dtrace does, but aggregations, which are read in one snapshot.)
 */
function runInKernel(env: FiringEnv, p: EventProbe, tracepointId: number, plans: ClausePlan[]): ClausePlan[] {
  const arg = p.registerArg ?? ((i: number) => kernelArgOf(p, i));
  // clauses left for dtrace read the probe's record from perf events (a pid probe's, a user
  // stack's): the program must let the kernel make it
  return runClausesInKernel(
    env,
    p.def,
    plans,
    p.registerArg !== undefined ? 'registers' : 'record',
    arg,
    (ik, probe, clauses) => ik.attach(tracepointId, probe, clauses, p.process ?? 0, clauses.length < plans.length),
    p.userRegister,
  );
}

/**
 * The probe's clauses that compiled to BPF, attached by `attach` where BPF works (their
 * program sees `context`, with argument i where `arg` says); returns the plans of those left
 * for dtrace. A clause whose thread-locals live in the kernel cannot stay: that is an error.
 */
export function runClausesInKernel(
  env: FiringEnv,
  def: ProbeDef,
  plans: ClausePlan[],
  context: KernelProbe['context'],
  arg: (i: number) => KernelArg | null,
  attach: (ik: InKernel, probe: KernelProbe, clauses: KernelClause[]) => AttachResult,
  ureg?: (i: number) => number | null,
): ClausePlan[] {
  const inKernel = plans.filter((plan) => plan.inKernel !== null && (plan.inKernel.sampleOnly !== true || context === 'sample'));
  if (inKernel.length === 0) return plans;
  const ik = env.inKernel();
  if (ik === null) return plans;
  const probe = def.probe;
  const kernelProbe: KernelProbe = { id: probe.id, provider: probe.provider, module: probe.module, func: probe.func, name: probe.name, context, arg, ureg };
  const clauses = inKernel.map((plan) => plan.inKernel!);
  const r = attach(ik, kernelProbe, clauses);
  if (!r.ok) {
    kernelRefused(probe.desc, clauses, r.why, r.clause);
    return plans;
  }
  env.ranInKernel(def, inKernel);
  return plans.filter((plan) => !inKernel.includes(plan));
}

/**
 * The kernel refused a program: its clauses run in dtrace instead (said under DTRACE_TS_DEBUG),
 * unless their thread-local or global variables live in the kernel, which is an error that
 * names by its line the clause whose code the verifier refused (`refused`, where its log says),
 * else the program's clauses, as DTrace names a clause that does not compile.
 */
export function kernelRefused(what: string, clauses: KernelClause[], why: string, refused?: KernelClause): void {
  if (clauses.some((c) => c.threadLocals.length > 0 || c.globals.length > 0)) throw new DFatalError(`could not enable ${what} in the kernel (${clausesAt(refused !== undefined ? [refused] : clauses)}): ${why}`);
  if (process.env.DTRACE_TS_DEBUG) process.stderr.write(`dtrace: ${what} runs in dtrace: ${why}\n`);
}

/** Where clauses are in the D source: "clause at line 3", "clauses at lines 3, 7". */
export function clausesAt(clauses: readonly KernelClause[]): string {
  const lines = [...new Set(clauses.map((c) => c.line))].sort((a, b) => a - b);
  return `${clauses.length === 1 ? 'clause' : 'clauses'} at ${lines.length === 1 ? 'line' : 'lines'} ${lines.join(', ')}`;
}

/** Where argument i of an event probe is in the record a tracepoint program sees, if it is an integer there. */
export function kernelArgOf(p: Pick<EventProbe, 'fields' | 'fieldOf'>, i: number): KernelArg | null {
  const f = p.fieldOf(i);
  // an argument past the probe's last reads as 0, as in dtrace
  if (f === null) return i < 10 && i >= p.fields.length ? { offset: 0, size: 0, signed: false } : null;
  if (f.charArray || f.dataLoc || (f.size !== 1 && f.size !== 2 && f.size !== 4 && f.size !== 8)) return null;
  return { offset: f.offset, size: f.size, signed: f.signed };
}

/** Puts a record's firing values in the context (`at`: where they are from the record's start; -1: not there). */
export type FiringDecoder = (page: Buffer, view: DataView, off: number, ctx: ProbeContext, at: number) => void;

/**
 * Asks for the firing values of the probe's clauses in dtrace (ClausePlan.firing) to be
 * computed into each record by its capture program, where it can have one (`capturable`: a
 * tracepoint, or a kprobe event whose record is its `registers`); returns the decoder that puts
 * them in the context, or null if no clause has any. A record without them (BPF cannot run
 * here) makes each a fault at address 0, as reading kernel memory in dtrace is.
 */
function firingOf(env: FiringEnv, p: EventProbe, format: EventFormat, plans: ClausePlan[], capturable: boolean, registers: RegisterField[] | null): FiringDecoder | null {
  const all = firingValuesOfPlans(plans);
  if (all.length === 0) return null;
  let usable: FiringValues[] = [];
  let areas: number[] = [];
  const d = p.def.probe;
  if (capturable) {
    const arg = registers !== null ? p.registerArg! : (i: number) => kernelArgOf(p, i);
    const probe: KernelProbe = { id: d.id, provider: d.provider, module: d.module, func: d.func, name: d.name, context: registers !== null ? 'registers' : 'record', arg };
    usable = usableFiringValues(all, probe);
    if (registers !== null && usable.length > 0) env.tracer().user.wantRegisters(format, registers);
    areas = env.tracer().user.wantValues(format, captureValuesOf(usable, probe));
  }
  return firingDecoder(all, usable, areas);
}

/**
 * A kprobe or uprobe event's record as its capture program can write it from the registers:
 * each of its fields is an argument held in a register or (a uprobe's) in user memory at a
 * register plus a displacement, or a user register (uregs[]); none is a string, or read through
 * a pointer. Null if it cannot be.
 */
function registerFields(p: EventProbe, format: EventFormat): RegisterField[] | null {
  if (p.registerArg === undefined || format.fields.some((f) => f.dataLoc || f.charArray)) return null;
  const out: RegisterField[] = [];
  const covered = new Set<EventField>();
  for (let n = 0; n < 10; n++) {
    const f = p.fieldOf(n);
    if (f === null || covered.has(f)) continue;
    if (f.size !== 1 && f.size !== 2 && f.size !== 4 && f.size !== 8) return null;
    const r = p.registerArg(n);
    if (r === null || r.size === 0 || r.constant !== undefined || r.pc !== undefined) return null;
    covered.add(f);
    out.push(r.memoryAt === undefined ? { at: f.offset, size: f.size, reg: r.offset } : { at: f.offset, size: f.size, reg: r.offset, memoryAt: r.memoryAt, kernelMemory: r.kernelMemory });
  }
  for (const f of format.fields) {
    const m = /^u(\d+)$/.exec(f.name);
    if (m === null) continue;
    const reg = p.userRegister?.(Number(m[1])) ?? null;
    if (reg === null || f.size !== 8) return null;
    out.push({ at: f.offset, size: 8, reg });
  }
  return p.fields.every((f) => covered.has(f)) ? out : null;
}

/** The firing values of a probe's clauses (ClausePlan.firing), each clause's once. */
export function firingValuesOfPlans(plans: readonly ClausePlan[]): FiringValues[] {
  return [...new Set(plans.flatMap((plan) => (plan.firing === undefined ? [] : [plan.firing])))];
}

/** Those the probe's program can compute (one that reads an argument that is no integer there cannot). */
export function usableFiringValues(all: FiringValues[], probe: KernelProbe): FiringValues[] {
  return all.filter((f) => f.emit(new Program(), probe, -512, 0, 'try'));
}

/** The code that computes them, as a capture program's values. */
export function captureValuesOf(usable: FiringValues[], probe: KernelProbe): CaptureValues[] {
  return usable.map((f) => ({ bytes: f.bytes, emit: (prog: Program, baseAt: number, areaAt: number) => void f.emit(prog, probe, baseAt, areaAt, `fv${f.values[0].slot}_`) }));
}

/**
 * The decoder that puts a record's firing values in the context: `usable` ones from their
 * `areas` (from the record's values), the others (and all where a record has none: BPF cannot
 * run here) a fault at address 0, as reading kernel memory in dtrace is.
 */
export function firingDecoder(all: FiringValues[], usable: FiringValues[], areas: number[]): FiringDecoder {
  let fill = '';
  let bad = '';
  usable.forEach((f, k) => {
    for (const v of f.values) {
      const at = `o + ${areas[k] + v.at}`;
      const read = valueRead(v, `o + ${areas[k] + v.at + FIRING_HEADER}`);
      fill += `{ const f = v.getUint32(${at}, true); ctx.firingFault[${v.slot}] = f; ctx.firing[${v.slot}] = f === 0 ? ${read} : v.getBigUint64(${at} + 8, true); }\n`;
    }
  });
  let unusable = '';
  for (const f of all) {
    for (const v of f.values) {
      const line = `ctx.firingFault[${v.slot}] = 1; ctx.firing[${v.slot}] = 0n;\n`;
      bad += line;
      if (!usable.includes(f)) unusable += line;
    }
  }
  return new Function('cstring', `return function firing(page, v, r, ctx, at) {\nif (at < 0) {\n${bad}return;\n}\nconst o = r + at;\n${unusable}${fill}};`)(cstring) as FiringDecoder;
}

/** The code that reads a value the kernel computed, whose bytes are at `data` (code) in page/v. */
function valueRead(v: FiringValue, data: string): string {
  if (v.kind === 'str') return `cstring(page, ${data}, ${v.size})`;
  if (v.kind === 'bytes') return `new Uint8Array(page.subarray(${data}, ${data} + ${v.size}))`;
  if (v.size === 8) return `v.get${v.signed ? 'BigInt64' : 'BigUint64'}(${data}, true)`;
  // a narrower integer is held sign- or zero-extended: its low 32 bits are its value
  return `v.get${v.signed ? 'Int32' : 'Uint32'}(${data}, true)`;
}

/** Puts a kernel clause's record's printed values in ctx.firing (the record at `off` in `view`). */
export type OutputDecoder = (page: Buffer, view: DataView, off: number, ctx: ProbeContext) => void;

/** The decoder of a kernel clause's records (KernelOutput: each value at its `at`, by its slot). */
export function outputDecoder(out: KernelOutput): OutputDecoder {
  let fill = '';
  for (const v of out.printed.values()) {
    // stack() reads the firing's kernel stack, as it does an event's
    if (v.kind === 'kstack') fill += `ctx.kstackLen = kernelSymbols.recordedStack(v, o + ${v.at}, ${v.size / 8}, ctx.kstack);\n`;
    else fill += `ctx.firingFault[${v.slot}] = 0; ctx.firing[${v.slot}] = ${valueRead(v, `o + ${v.at}`)};\n`;
  }
  return new Function('cstring', 'kernelSymbols', `return function printed(page, v, o, ctx) {\n${fill}};`)(cstring, kernelSymbols) as OutputDecoder;
}

/** How a probe reads its event's record: which field a D argument is, and the decoder. */
export interface EventProbe {
  def: ProbeDef;
  system: string;
  event: string;
  /** the probe's arguments, in order */
  fields: EventField[];
  /** the record field a filter can test for argN, or null */
  fieldOf: (arg: number) => EventField | null;
  /** decodes what the clauses read (default: the arguments they name) */
  decoder?: RecordDecoder;
  /** copy what pointer arguments point to, if some clause reads user memory */
  copies: boolean;
  /**
   * A tracepoint whose record `fieldOf` describes as a BPF program sees it: clauses compiled to
   * BPF may run on it in the kernel (not kprobe events: their programs see registers)
   */
  kernelArgs?: boolean;
  /**
   * A kprobe or uprobe event: clauses compiled to BPF may run on it in the kernel, as a kprobe
   * program, which finds argument i in the registers here, or (a uprobe's) in user memory they
   * point to, or as a constant (null: elsewhere, and such a clause stays)
   */
  registerArg?: (i: number) => KernelArg | null;
  /** With registerArg, a uprobe's: where uregs[i] is in the user registers its program gets (null: not there) */
  userRegister?: (i: number) => number | null;
  /**
   * A uprobe event's instruction: where uprobe_multi links can be made, its records are written
   * from the registers by a program it shares with the process's other such events of the object
   */
  uprobeAt?: UprobeSite;
  /**
   * A system call's return: copy what its entry's pointer arguments point to, as it returns,
   * if some clause reads user memory (a pointer saved at entry is read at return)
   */
  returnOf?: { format: EventFormat; fields: EventField[] };
  /**
   * The process whose events only are the probe's (a pid probe's uprobe fires in every process
   * that maps its file): the kernel records those of it and of the tasks it creates, and only
   * its own threads' fire the probe; 0: any process's.
   */
  process?: number;
  /**
   * One probe of many a glob named: if the kernel refuses to enable it (an instruction uprobes
   * cannot take), tracing goes on without it, and dtrace says so.
   */
  optional?: boolean;
}

/**
 * Enables one probe that is one tracefs event: its filter from the predicates, then on each
 * record the context (who, when, arguments, copies, stack) and the probe's clauses.
 */
export function enableEventProbe(env: FiringEnv, p: EventProbe): void {
  const tracer = env.tracer();
  const ctx = env.ctx;
  const procs = tracer.procs;
  const def = p.def;
  let plans = env.plans(def);
  if (p.kernelArgs === true || p.registerArg !== undefined) {
    plans = runInKernel(env, p, tracer.format(p.system, p.event).id, plans);
    if (plans.length === 0) return;
  }
  const { filter, never } = kernelFilter(def, plans, (d) => {
    const m = /^arg([0-9])$/.exec(d);
    const f = m ? p.fieldOf(Number(m[1])) : null;
    if (!f || f.charArray || f.dataLoc || f.size > 8) return null;
    return { name: f.name, string: false, signed: f.signed };
  });
  if (never) return;
  const format = tracer.format(p.system, p.event);
  const ustack = wantsUserStack(plans);
  const decode = p.decoder ?? compileDecoder(p.fields, argsRead(plans), '', bigArgsRead(plans));
  const pidAt = tracer.pidOffset(format);
  const stack = wantsStack(plans);
  let copying = false;
  if (env.copiesUserMemory && p.copies) copying = tracer.user.want(format, userCopiesOf(p.fields)).length > 0;
  if (env.copiesUserMemory && p.returnOf !== undefined) {
    const copies = userCopiesOf(p.returnOf.fields);
    if (copies.length > 0) {
      tracer.user.wantAtReturn(p.returnOf.format, format, copies);
      copying = true;
    }
  }
  const id = format.id;
  // a tracepoint's capture program copies its record; a kprobe event's writes it from the registers
  const registers = p.registerArg !== undefined ? registerFields(p, format) : null;
  const capturable = (p.kernelArgs !== undefined && p.registerArg === undefined) || registers !== null;
  const firing = firingOf(env, p, format, plans, capturable, registers);
  // who fired it, as it fired, for clauses that read it: the capture program writes it in
  let taskArea: OptionalArea | null = null;
  if (capturable && readsTask(plans)) {
    if (registers !== null) tracer.user.wantRegisters(format, registers);
    taskArea = tracer.user.wantOptionalValues(format, taskValues());
  }
  // where the computed values are in this event's records: fixed once tracing starts (NaN: not yet read)
  let valuesAt = NaN;
  // fds[argN]: the descriptor's file copied as the probe fires (not at a return: its copies are its entry's)
  let fileJ = -1;
  let fdAt = 0;
  let fdSize = 4;
  for (const n of p.returnOf === undefined ? fdArgsOf(plans) : []) {
    const f = p.fieldOf(n);
    const c = f === null || f.charArray || f.dataLoc ? null : fileCopy(f.offset, f.size);
    if (f === null || c === null) continue;
    fileJ = tracer.user.want(format, [c])[0];
    fdAt = f.offset;
    fdSize = f.size;
    break;
  }
  const user = tracer.user;
  const only = p.process ?? 0;
  if (only > 0 && p.uprobeAt !== undefined && registers !== null && !ustack && uprobeMultiSupported()) {
    user.wantRecords(format, registers, p.uprobeAt);
  }
  if (only > 0) {
    tracer.subscribeProcess(
      p.system,
      p.event,
      filter,
      (cpu, page, view, off, _len, ts) => {
        const tid = view.getInt32(off + pidAt, true);
        fillTask(ctx, procs, cpu, tid, ts);
        // a task the process created (fork) maps the same file: not the probe's process
        if (ctx.pid !== only) return;
        // where its capture program computed values as it fired (kernel memory, who fired it)
        if (valuesAt !== valuesAt) valuesAt = tracer.user.valuesAt(id);
        if (taskArea !== null && taskArea.at >= 0 && valuesAt >= 0) fillFiredTask(ctx, procs, page, view, off + valuesAt + taskArea.at);
        decode(page, view, off, ctx);
        if (firing !== null) firing(page, view, off, ctx, valuesAt);
        if (fileJ >= 0) attachFile(ctx, user, id, view, off, fileJ, fdOf(view, off + fdAt, fdSize));
        env.fire(def);
        ctx.firedFd = -1;
      },
      only,
      ustack,
      p.optional === true ? def.probe.desc : null,
    );
    return;
  }
  tracer.subscribe(
    p.system,
    p.event,
    filter,
    (cpu, page, view, off, _len, ts) => {
      const tid = view.getInt32(off + pidAt, true);
      fillTask(ctx, procs, cpu, tid, ts);
      if (valuesAt !== valuesAt) valuesAt = tracer.user.valuesAt(id);
      if (taskArea !== null && taskArea.at >= 0 && valuesAt >= 0) fillFiredTask(ctx, procs, page, view, off + valuesAt + taskArea.at);
      decode(page, view, off, ctx);
      if (firing !== null) firing(page, view, off, ctx, valuesAt);
      if (copying) attachCopies(ctx, tracer.user.take(tid, id, page, view, off));
      if (fileJ >= 0) attachFile(ctx, user, id, view, off, fileJ, fdOf(view, off + fdAt, fdSize));
      if (stack) ctx.kstackLen = tracer.kernelStack(cpu, ctx.kstack);
      env.fire(def);
      ctx.firedFd = -1;
    },
    stack,
    false,
    ustack,
  );
}
