// The clause plan: what a provider needs to know of the clauses on its probes to enable them
// (the contract between the compiler, which makes plans, and the providers, which read them):
// what each event must carry, and which parts of a predicate a kernel-side filter can evaluate
// before an event ever reaches user space (e.g. the tracefs filter "common_pid == 42"), and
// the clause as BPF code where all of it can run in the kernel.

import { Helper, Jmp, type Program, R0, R1, R10, R2 } from '../kernel/bpf/asm.js';
import type { Expr } from '../lang/ast.js';

/** A predicate conjunct of the form <built-in> <op> <constant>. */
export interface KernelTest {
  /** pid, tid, uid, gid, execname, cpu, probefunc, arg0..arg9, or args[N] as "argN" */
  field: string;
  op: '==' | '!=' | '<' | '<=' | '>' | '>=';
  value: bigint | string;
}

export interface ClausePlan {
  /** built-in variables and arguments the clause reads (what each event must carry) */
  reads: Set<string>;
  /**
   * the arguments its generated code reads as BigInts (ctx.args[N]); null: any of them. Others
   * it reads only as Numbers (ctx.argn), which a decoder fills without making a BigInt
   */
  bigArgs: Set<number> | null;
  /** the clause needs the kernel stack (stack(), stackdepth, caller) */
  kernelStack: boolean;
  /** the clause needs the user stack or registers (ustack(), jstack(), usym() and the like, ustackdepth, ucaller) */
  userStack: boolean;
  /** the clause reads user memory (copyin, copyinstr, copyinto) */
  userMemory: boolean;
  /**
   * the arguments the clause indexes fds[] with (fds[arg0], fds[args[1]]: a probe can copy those
   * descriptors' files when it fires); -1: fds[] with some other index; absent: no fds[]
   */
  fdArgs?: Set<number>;
  /** arguments the clause passes straight to copyinstr() (probes that can fetch strings when they fire) */
  stringArgs: Set<number>;
  /** the clause calls speculation() (the session then needs speculation buffers) */
  speculates: boolean;
  /**
   * Conjuncts of the predicate a kernel filter can evaluate (the predicate holds only where
   * all of them do; user space still evaluates the whole predicate).
   */
  kernel: KernelTest[];
  /** the clause compiled to BPF, where all of it can run in the kernel (null: in dtrace) */
  inKernel: KernelClause | null;
  /**
   * values the clause's code in dtrace reads that only the kernel can compute, as the probe
   * fires (kernel memory: curthread->comm, a cast argument's members); absent: none
   */
  firing?: FiringValues;
}

/** Each firing value's area in a record: [u32 fault (FLT_*, 0: none), u32 0, u64 the bad address], then its bytes. */
export const FIRING_HEADER = 16;

/** One value a clause reads that the kernel computes when the probe fires, into ctx.firing[slot]. */
export interface FiringValue {
  slot: number;
  /**
   * an integer (canonical 64 bits), a char array's bytes, a string (NUL-terminated), or the
   * kernel stack stack() prints (bpf_get_stack()'s addresses, zero past the last)
   */
  kind: 'int' | 'bytes' | 'str' | 'kstack';
  /** int: its type's bytes; bytes, str and kstack: the most bytes it holds */
  size: number;
  signed: boolean;
  /** where its area is in the clause's (FIRING_HEADER, then the data) */
  at: number;
}

/** A clause's firing values, and the BPF code that computes them. */
export interface FiringValues {
  values: FiringValue[];
  /** bytes of the clause's area (8-byte aligned) */
  bytes: number;
  /**
   * Appends code that fills the clause's area: the record's base pointer is saved on the stack
   * at `baseAt` (from the frame pointer), the area is `areaAt` bytes past it; R6 holds the
   * program's context. False: it cannot on this probe (an argument it reads is no integer there).
   */
  emit(p: Program, probe: KernelProbe, baseAt: number, areaAt: number, prefix: string): boolean;
}

/** Where a probe's argument is in the record a kernel program sees, if it is an integer there. */
export interface KernelArg {
  offset: number;
  /** 0: the probe has no such argument, which reads as 0 */
  size: 0 | 1 | 2 | 4 | 8;
  signed: boolean;
  /**
   * an argument in memory: `size` bytes at the address the register at `offset` holds plus
   * this many, read as the probe fires (a fault reads as 0, as an event's fetch); a uprobe's in
   * the process's memory (one its caller passed on the stack, a USDT argument such as
   * -4@112(%rsp)), with `kernelMemory` in the kernel's (a system call wrapper's argument, in
   * the struct pt_regs its first register points to)
   */
  memoryAt?: number;
  kernelMemory?: true;
  /** a constant the probe's site passes (a USDT argument such as -4@$5): this value, `offset` unused */
  constant?: bigint;
  /**
   * a sample's PC (profile's arg0 and arg1): the register at `offset` where the interrupted
   * mode is this one (the code segment's privilege bits at `modeOffset`: 3 for user mode), else 0
   */
  pc?: { modeOffset: number; user: boolean };
}

/** Where a program that serves several probes keeps the firing one's id (R9: helper calls keep it). */
export const PROBE_ID_REGISTER = 9;

/** What a kernel program knows of the probe it runs on. */
export interface KernelProbe {
  /**
   * the probe's id, or null in a program that serves several probes (the system calls' one
   * dispatching program): it then keeps the firing probe's id in PROBE_ID_REGISTER
   */
  id: number | null;
  provider: string;
  module: string;
  func: string;
  name: string;
  /** argument i of the probe (as D numbers it), or null where it is no integer in the record */
  arg(i: number): KernelArg | null;
  /**
   * where uregs[i] is in the program's context (a uprobe's: the user task's struct pt_regs), or
   * null (absent: nowhere, as in a kprobe's, whose registers are the kernel's)
   */
  ureg?(i: number): number | null;
  /**
   * what the program's context is: a tracepoint's record (KernelArg offsets are into it), a
   * kprobe's registers (struct pt_regs), a raw tracepoint's arguments (a u64 each, no header),
   * or a perf event sample's (struct bpf_perf_event_data: the interrupted registers first)
   */
  context: 'record' | 'registers' | 'arguments' | 'sample';
}

/** One part of a kernel aggregation's key, 8 bytes in the map's key (execname: 16). */
export type KernelKeyPart =
  | { kind: 'int'; size: 1 | 2 | 4 | 8; signed: boolean }
  | { kind: 'comm' }
  /** a char array in kernel memory (curthread->comm), or a user string (copyinstr(), `user`): its bytes up to the NUL, zero-padded to 8 */
  | { kind: 'kstr'; size: number; user?: true }
  /** a string literal: nothing in the key (its map is the literal's own) */
  | { kind: 'literal'; value: string }
  /** a string the probe fixes (probefunc, ...): the key holds the probe's id */
  | { kind: 'probe'; field: 'provider' | 'module' | 'func' | 'name' }
  /** sym(), func() (`start`: the key is the function's start, as DTrace aggregates them) or mod() of a kernel address: the address */
  | { kind: 'sym'; start: boolean }
  /** stack(frames): the interrupted kernel stack's frames, innermost first, zero past the last (sample programs only) */
  | { kind: 'stack'; frames: number };

/** Bytes of a key part in the map's key (8-byte aligned). */
export function keyPartSize(p: KernelKeyPart): number {
  return p.kind === 'comm' ? 16 : p.kind === 'kstr' ? (p.size + 7) & ~7 : p.kind === 'stack' ? p.frames * 8 : p.kind === 'literal' ? 0 : 8;
}

/** An aggregation kept in a per-CPU kernel map. */
export interface KernelAggregation {
  id: number;
  fn: 'count' | 'sum' | 'avg' | 'min' | 'max' | 'stddev' | 'quantize' | 'lquantize' | 'llquantize';
  keys: KernelKeyPart[];
  /** bytes of the map's key */
  keySize: number;
  /**
   * int64 words of its value: DTrace's data record of the function (Aggregation.data); stddev's
   * are [count, sum, sum of squares' low 64 bits, its high 64 bits]
   */
  words: number;
}

/** The maps a kernel clause's code refers to, by file descriptor. */
export interface KernelMaps {
  /** the aggregation's map (for keys made as this one's are) */
  aggregation(agg: KernelAggregation): number;
  /** per-CPU u64 array: [0] updates lost to full aggregation maps, [1] thread-local stores lost to a full map */
  drops: number;
  /** a thread-local variable's map (thread id -> its value, `bytes` long: 8 for an integer, a string's room) */
  threadLocal(id: number, bytes: number): number;
  /**
   * a global variable's map, one for all CPUs: a scalar's (one entry) or an associative
   * array's (`keys` integer keys, 8 bytes each -> its value); `bytes` its value's (8 for an
   * integer, a string's room)
   */
  global(id: number, keys: number, bytes: number): number;
  /** per-CPU scratch at least the size of the clause's largest value: where a new entry's first value is made */
  scratch: number;
  /** per-CPU array of one value at least as large as the clauses' copyinBytes: where copyin() puts its copies (-1: none copies) */
  userCopy: number;
  /** where records of what clauses print go (null: no clause prints in the kernel) */
  output: KernelOutputMaps | null;
  /**
   * where a clause that may fault sends its fault's record: the output's maps, made now if no
   * clause printed yet (null: there is no reader for them)
   */
  faultOutput(): KernelOutputMaps | null;
  /**
   * the session's activity (an array of one u32, ACTIVITY_*): every program acts only while it
   * is ACTIVE, and exit() makes it DRAINING
   */
  activity: number;
}

/**
 * The session's activity, as DTrace's: INACTIVE until BEGIN has fired (no probe fires before
 * it), ACTIVE while tracing, DRAINING once exit() ran (no probe fires after it).
 */
export const ACTIVITY_INACTIVE = 0;
export const ACTIVITY_ACTIVE = 1;
export const ACTIVITY_DRAINING = 2;
/** the label every kernel program ends at: a clause's exit() ends its firing there */
export const PROGRAM_END = 'program_end';

/**
 * R0 = the address of the session's activity (the map's one element); to PROGRAM_END if the
 * lookup fails (it does not: an array's element). Uses the stack word at fp-8 and R1-R5.
 */
export function loadActivity(p: Program, activity: number): void {
  p.storeImm(4, R10, -8, 0).loadMap(R1, activity).mov(R2, R10).addImm(R2, -8).call(Helper.MapLookupElem);
  p.jmpImm(Jmp.Eq, R0, 0, PROGRAM_END);
}

/** The maps a clause that prints in the kernel writes its record with. */
export interface KernelOutputMaps {
  /** BPF_MAP_TYPE_PERF_EVENT_ARRAY: each CPU's ring, by CPU */
  perf: number;
  /** per-CPU array of one value at least as large as the largest record: where it is made */
  record: number;
  /** per-CPU u64 array: [0] records a full ring could not take */
  lost: number;
}

/**
 * A kernel clause's record of what it prints (DTrace's per-CPU buffer record of an enabled
 * probe): OUTPUT_HEADER, then each printed value's bytes at its `at` (FiringValue.at counts from
 * the record's start; FiringValue.slot is the value's index, where the consumer's code reads it
 * in ctx.firing). A fault in the clause discards the record, as DTrace discards the ECB's data.
 */
export interface KernelOutput {
  /** the printed expressions the record holds, in order */
  printed: ReadonlyMap<Expr, FiringValue>;
  /** bytes of the record (8-byte aligned) */
  bytes: number;
}

/** A kernel record's header: u64 time (ns, CLOCK_MONOTONIC), u32 clause (its InKernel number), u32 probe id, u32 thread, u32 process. */
export const OUTPUT_TIME = 0;
export const OUTPUT_CLAUSE = 8;
export const OUTPUT_PROBE = 12;
export const OUTPUT_TID = 16;
export const OUTPUT_PID = 20;
export const OUTPUT_HEADER = 24;
/**
 * A fault record, which a clause that prints sends in place of its record (the fault is then
 * reported in its place among the firings' output): OUTPUT_CLAUSE holds its number with this
 * bit set, and the header is followed by u64 where (fault * 256 + where: 0 the predicate, N
 * action #N) and u64 the fault's value (the bad address)
 */
export const OUTPUT_FAULT = 0x8000_0000;
export const FAULT_PLACE = OUTPUT_HEADER;
export const FAULT_VALUE = OUTPUT_HEADER + 8;
export const FAULT_RECORD_BYTES = OUTPUT_HEADER + 16;

/** A clause compiled to run in the kernel. */
export interface KernelClause {
  /** the D source line its clause starts on, which an error about it names */
  line: number;
  aggregations: KernelAggregation[];
  /** the thread-local variables it reads or assigns (ids), which live in kernel maps */
  threadLocals: number[];
  /** the global variables (scalars and associative arrays) it reads or assigns (ids), which live in kernel maps */
  globals: number[];
  /** bytes of stack the code uses below the frame pointer */
  stack: number;
  /** bytes its copyin() calls take in KernelMaps.userCopy (each its own room: a copy is read after another is made) */
  copyinBytes: number;
  /** the arguments it reads (argN and args[N]) */
  args: number[];
  /** the probe's names it compares with strings (a program serving several probes needs them alike) */
  comparedProbeFields: Array<'provider' | 'module' | 'func' | 'name'>;
  /**
   * what it prints, written by the kernel as a record the consumer formats (null: it prints
   * nothing; its work is all in maps)
   */
  output: KernelOutput | null;
  /** it reads what only a sample program has (stack()): it runs in the kernel on sampling probes only */
  sampleOnly?: boolean;
  /**
   * Appends the clause's code to a program whose R6 holds the record; control falls through to
   * what follows. False: it cannot run on this probe (an argument it reads is no integer there).
   */
  emit(p: Program, probe: KernelProbe, maps: KernelMaps, prefix: string, clause: number): boolean;
}

/**
 * What probes sharing one program for their clauses (the firing probe told at run time) must
 * have in common: the same clauses in order (numbered by `planIds`, across one provider's
 * probes) and the same values of the probe names those clauses compare.
 */
export function sharedClausesKey(plans: readonly ClausePlan[], probe: Readonly<Record<'provider' | 'module' | 'func' | 'name', string>>, planIds: Map<ClausePlan, number>): string[] {
  const key: string[] = [];
  for (const plan of plans) {
    if (!planIds.has(plan)) planIds.set(plan, planIds.size);
    key.push(`c${planIds.get(plan)}`);
  }
  for (const f of [...new Set(plans.flatMap((plan) => plan.inKernel?.comparedProbeFields ?? []))].sort()) key.push(`${f}=${probe[f]}`);
  return key;
}
