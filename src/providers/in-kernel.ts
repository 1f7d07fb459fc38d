// Clauses that run in the kernel: for a probe whose clauses all compiled to BPF, one program on
// its tracepoint runs them in order, and their aggregations live in per-CPU kernel maps. When
// the aggregations are read (printa, clear, trunc, exit), each map's totals are folded into
// the runtime's aggregation: what grew since the last read is added, so updates made in dtrace
// (the same aggregation on a probe that stayed there) and clear() and trunc() keep their meaning.

import { Helper, Jmp, Program, R0, R1, R10, R2, R6 } from '../kernel/bpf/asm.js';
import { loadSyscallNumber, skipCompatCall } from '../kernel/bpf/syscall-dispatch.js';
import type { TaskFlag } from '../kernel/syscall-numbers.js';
import {
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_HASH,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_PERF_EVENT,
  BPF_PROG_TYPE_TRACEPOINT,
  BPF_TRACE_UPROBE_MULTI,
  BpfObjects,
  ProgramRejected,
  mapKeys,
  mapLookup,
  mapUpdate,
  possibleCpus,
} from '../kernel/bpf/objects.js';
import { kernelAddress, kernelOffsetOf, kernelSymbols } from '../kernel/ksyms.js';
import { ProgramOutput } from '../kernel/bpf/output.js';
import type { EventSink } from '../kernel/ringbuf.js';
import type { ProgramRecords } from '../kernel/tracer.js';
import { type Aggregation, MASK128 } from '../runtime/aggregate.js';
import type { Value } from '../runtime/values.js';
import {
  type KernelAggregation,
  type KernelClause,
  type KernelKeyPart,
  type KernelMaps,
  type KernelOutputMaps,
  type KernelProbe,
  ACTIVITY_ACTIVE,
  FAULT_RECORD_BYTES,
  PROBE_ID_REGISTER,
  PROGRAM_END,
  keyPartSize,
  loadActivity,
} from './clause-plan.js';

/** the verifier's log did not fit its buffer */
const ENOSPC = 28;

/**
 * `refused`: of a uprobe_multi attach, the indexes of the members the kernel would not take;
 * `clause`: of a program the verifier refused, the clause whose code it refused, if it says
 */
export type AttachResult = { ok: true; refused?: number[] } | { ok: false; why: string; clause?: KernelClause };

/**
 * Which clause's code (`starts`: where each begins, in instructions; `end`: where the last
 * ends) holds the instruction the verifier's log stops at ("12: (79) r1 = ..."), or -1.
 */
export function refusedClause(log: string, starts: readonly number[], end: number): number {
  const insns = [...log.matchAll(/^(\d+): \(/gm)];
  if (insns.length === 0) return -1;
  const at = Number(insns[insns.length - 1][1]);
  for (let i = starts.length - 1; i >= 0; i--) if (at >= starts[i]) return at < end ? i : -1;
  return -1;
}

/**
 * A program runs on a tracepoint, kprobe or uprobe event (by its id; pid > 0: only in that
 * process, else in every one), on a raw tracepoint (by name), or on the samples of a sampling
 * perf event (its attr) on each of some CPUs.
 */
type AttachTarget =
  | { tracepointId: number; pid: number; passOn?: boolean }
  | { raw: string }
  | { sampling: Buffer; cpus: readonly number[] }
  | { uprobes: UprobeTargets };

/** Uprobes of one file in one process, run by one program through a uprobe_multi link. */
export interface UprobeTargets {
  path: string;
  /** the instructions' offsets in the file */
  offsets: number[];
  isReturn: boolean;
  pid: number;
  /** each one's USDT semaphore, as a file offset (0: none) */
  refCtrOffsets?: number[];
}

/** The program type for each context a probe gives its program. */
const PROGRAM_TYPES: Record<KernelProbe['context'], number> = {
  record: BPF_PROG_TYPE_TRACEPOINT,
  registers: BPF_PROG_TYPE_KPROBE,
  arguments: BPF_PROG_TYPE_RAW_TRACEPOINT,
  sample: BPF_PROG_TYPE_PERF_EVENT,
};

/** One kernel map of an aggregation (an aggregation updated with differently made keys has more than one). */
interface AggMap {
  agg: KernelAggregation;
  fd: number;
  /** each key's totals at the last read, by the key's bytes */
  last: Map<string, bigint[]>;
}

/**
 * Entries of a map: as many as `budget` bytes hold over all CPUs (a per-CPU map holds each
 * value once per possible CPU, all allocated up front, as tracing programs need), within these.
 */
const MIN_ENTRIES = 64;
/** within the default budget (a large map takes tens of milliseconds to allocate); an aggsize set larger is taken, up to MAX_ENTRIES_SET */
const MAX_ENTRIES = 65536;
const MAX_ENTRIES_SET = 1 << 20;
/** threads that can hold a value of one thread-local variable at once */
const THREAD_LOCAL_ENTRIES = 16384;
/** elements one global associative array in the kernel holds at once (more are dynamic variable drops) */
const GLOBAL_ARRAY_ENTRIES = 65536;
/** the most frames a stack() key holds */
const MAX_KEY_FRAMES = 64;
/** the aggregation maps' budget when aggsize is not set: DTrace's default aggregation buffer */
export const DEFAULT_AGG_BYTES = 4 * 1024 * 1024;

export class InKernel {
  private readonly objects = new BpfObjects();
  private readonly maps = new Map<string, AggMap>();
  private readonly probes = new Map<number, KernelProbe>();
  private readonly ncpus = possibleCpus();
  private scratch = -1;
  private scratchWords = 0;
  private drops = -1;
  private readonly dropsSeen: number[] = [];
  private closed = false;
  /** programs attached, for -vV and tests */
  programs = 0;
  /** dtrace -S: shown each program as it is loaded, with the probe it runs on */
  showProgram: ((probe: string, listing: string) => void) | null = null;
  /**
   * -x cpu: the only CPU whose events fire probes (-1: every CPU). A sampling event is opened on
   * that CPU alone; a program on a tracepoint, which runs on every CPU, returns at once elsewhere.
   */
  onlyCpu = -1;

  constructor(
    /** the runtime's aggregation of an id */
    private readonly aggregation: (id: number) => Aggregation,
    /** where aggregation drops are counted, by CPU */
    private readonly dropCounts: number[],
    /** bytes of each aggregation's map, over all CPUs */
    private readonly budget: number,
    /** the most entries dtrace keeps for all aggregations (aggsize's), or Infinity */
    private readonly entryLimit: number,
    /** the CPU the attaching perf events are opened on (the program runs on every CPU) */
    private readonly cpu: number,
    /** thread-local stores the kernel could not make, as dynamic variable drops */
    private readonly dynamicDrops: (n: number) => void,
    /** how many probes the session enables (the most values a probe-name key can have) */
    private readonly probeCount: number,
  ) {}

  /**
   * Runs the clauses (in order) on a tracepoint, in the kernel. False if one of them cannot run
   * on this probe, or the kernel refused the program: the probe then stays with dtrace.
   */
  attach(tracepointId: number, probe: KernelProbe, clauses: KernelClause[], pid = 0, passOn = false): AttachResult {
    return this.attachTo({ tracepointId, pid, passOn }, probe, clauses);
  }

  /**
   * The same on each sample of a sampling perf event (`attr`: cpu-clock, a period; profile-N),
   * one event on each of `cpus`, whose context is the interrupted registers.
   */
  attachSampling(attr: Buffer, cpus: readonly number[], probe: KernelProbe, clauses: KernelClause[]): AttachResult {
    return this.attachTo({ sampling: attr, cpus }, probe, clauses);
  }

  /** The same on a raw tracepoint (by name: sys_enter), whose context is its arguments. */
  attachRaw(tracepoint: string, probe: KernelProbe, clauses: KernelClause[]): AttachResult {
    return this.attachTo({ raw: tracepoint }, probe, clauses);
  }

  private attachTo(target: AttachTarget, probe: KernelProbe, clauses: KernelClause[]): AttachResult {
    if (this.closed) return { ok: false, why: 'closed' };
    try {
      return this.tryAttach(target, probe, clauses);
    } catch (e) {
      // a map or perf event the kernel refused (memory, limits, an old kernel): dtrace runs it
      return { ok: false, why: (e as Error).message };
    }
  }

  private tryAttach(target: AttachTarget, probe: KernelProbe, clauses: KernelClause[]): AttachResult {
    if (probe.id !== null) this.probes.set(probe.id, probe);
    const p = new Program();
    p.mov(R6, R1);
    return this.finish(p, target, probe, clauses, `${probe.provider}:${probe.module}:${probe.func}:${probe.name}`);
  }

  /**
   * Runs the same clauses on many system calls from one program on raw_syscalls' sys_enter or
   * sys_exit, which finds the firing call's probe by the call's number (`members`: number ->
   * probe). One perf event instead of one per call: opening hundreds takes long, and closing
   * each waits for an RCU grace period. `probe` says what all members share (args, names the
   * clauses compare); its id is null: the program keeps the member's in PROBE_ID_REGISTER.
   * `compat` tells a 32-bit system call (left out), where that can be known.
   */
  attachDispatch(
    tracepointId: number,
    label: string,
    probe: KernelProbe,
    members: ReadonlyArray<{ nr: number; probe: KernelProbe }>,
    clauses: KernelClause[],
    compat: TaskFlag | null,
  ): AttachResult {
    if (this.closed) return { ok: false, why: 'closed' };
    try {
      let size = 1;
      for (const m of members) size = Math.max(size, m.nr + 1);
      const table = this.objects.createMap(BPF_MAP_TYPE_ARRAY, 4, 4, size);
      const key = Buffer.alloc(4);
      const value = Buffer.alloc(4);
      for (const m of members) {
        key.writeUInt32LE(m.nr, 0);
        value.writeUInt32LE(m.probe.id!, 0);
        mapUpdate(table, key, value);
        this.probes.set(m.probe.id!, m.probe);
      }
      const p = new Program();
      p.mov(R6, R1);
      loadSyscallNumber(p, R2, size, 'none');
      p.store(4, R10, -4, R2);
      p.loadMap(R1, table).mov(R2, R10).addImm(R2, -4).call(Helper.MapLookupElem);
      p.jmpImm(Jmp.Eq, R0, 0, 'none').load(4, PROBE_ID_REGISTER, R0, 0).jmpImm(Jmp.Eq, PROBE_ID_REGISTER, 0, 'none');
      if (compat !== null) skipCompatCall(p, compat, 'none');
      return this.finish(p, { tracepointId, pid: 0 }, probe, clauses, label, 'none');
    } catch (e) {
      return { ok: false, why: (e as Error).message };
    }
  }

  /**
   * Runs the same clauses on many uprobes of one file in one process (`members`, in the order
   * of `targets.offsets`) from one program, through one uprobe_multi link (Linux 6.6+): the
   * firing uprobe's cookie is its probe's id. `probe` says what all members share (the
   * registers their arguments are in, names the clauses compare); its id is null. The members
   * the kernel refused are in the result's `refused`.
   */
  attachUprobes(targets: UprobeTargets, label: string, probe: KernelProbe, members: readonly KernelProbe[], clauses: KernelClause[]): AttachResult {
    if (this.closed) return { ok: false, why: 'closed' };
    try {
      for (const m of members) this.probes.set(m.id!, m);
      const p = new Program();
      p.mov(R6, R1).call(Helper.GetAttachCookie).mov(PROBE_ID_REGISTER, R0);
      return this.finish(p, { uprobes: targets }, probe, clauses, label, undefined, members.map((m) => m.id!));
    } catch (e) {
      return { ok: false, why: (e as Error).message };
    }
  }

  /** Appends the clauses to a program begun with its prologue, loads and attaches it. */
  private finish(p: Program, target: AttachTarget, probe: KernelProbe, clauses: KernelClause[], label: string, exitLabel?: string, cookies?: number[]): AttachResult {
    const maps: KernelMaps = {
      aggregation: (agg) => this.mapOf(agg).fd,
      threadLocal: (id, bytes) => this.threadLocalMap(id, bytes),
      global: (id, keys, bytes) => this.globalMap(id, keys, bytes),
      drops: this.dropsMap(),
      scratch: this.scratchMap(Math.max(0, ...clauses.flatMap((c) => c.aggregations.map((a) => a.words)))),
      userCopy: this.userCopyMap(Math.max(0, ...clauses.map((c) => c.copyinBytes))),
      output: clauses.some((c) => c.output !== null) ? this.outputMaps(Math.max(...clauses.map((c) => c.output?.bytes ?? 0))) : this.output,
      faultOutput: () => this.outputMaps(FAULT_RECORD_BYTES),
      activity: this.activityMap(),
    };
    const guard = this.onlyCpu >= 0 && !('sampling' in target);
    if (guard) p.call(Helper.GetSmpProcessorId).jmpImm(Jmp.Ne, R0, this.onlyCpu, PROGRAM_END);
    // nothing before BEGIN or after exit(): the clauses run only while the session is active
    loadActivity(p, maps.activity);
    p.load(4, R1, R0, 0).jmpImm(Jmp.Ne, R1, ACTIVITY_ACTIVE, PROGRAM_END);
    const starts: number[] = [];
    for (let i = 0; i < clauses.length; i++) {
      let token = this.clauses.indexOf(clauses[i]);
      if (token < 0) token = this.clauses.push(clauses[i]) - 1;
      starts.push(p.length);
      if (!clauses[i].emit(p, probe, maps, `c${i}_`, token)) return { ok: false, why: `an argument clause ${i} reads is no integer in the record` };
    }
    const end = p.length;
    if (exitLabel !== undefined) p.label(exitLabel);
    p.label(PROGRAM_END);
    // 0 ends the hit (a perf event's record of it is not made); 1 lets the event's perf events
    // record it too, for the probe's clauses that run in dtrace (a uprobe's come from those)
    p.movImm(R0, 'tracepointId' in target && target.passOn === true ? 1 : 0).exit();
    this.showProgram?.(label, p.listing());
    let prog: number;
    try {
      prog = this.objects.loadProgram(PROGRAM_TYPES[probe.context], p.encode(), `dt_${probe.name}`, 'uprobes' in target ? BPF_TRACE_UPROBE_MULTI : 0);
    } catch (e) {
      const log = e instanceof ProgramRejected ? e.log.trim().split('\n').slice(-2).join(' | ') : '';
      // a log cut short (ENOSPC, before Linux 6.4 kept its tail) does not end where the verifier stopped
      const i = e instanceof ProgramRejected && e.errno !== ENOSPC ? refusedClause(e.log, starts, end) : -1;
      return { ok: false, why: `${(e as Error).message}${log ? `: ${log}` : ''}`, clause: i >= 0 ? clauses[i] : undefined };
    }
    let refused: number[] | undefined;
    if ('raw' in target) this.objects.attachRawTracepoint(target.raw, prog);
    else if ('sampling' in target) this.objects.attachSampling(target.sampling, target.cpus, prog);
    else if ('uprobes' in target) {
      const u = target.uprobes;
      refused = this.objects.attachUprobes(prog, u.path, u.offsets, cookies!, u.isReturn, u.pid, u.refCtrOffsets);
      if (refused.length === u.offsets.length) return { ok: false, why: 'the kernel refused every uprobe' };
    } else this.objects.attachTracepoint(target.tracepointId, prog, this.cpu, target.pid > 0 ? target.pid : -1);
    this.programs++;
    return { ok: true, refused };
  }

  private mapOf(agg: KernelAggregation): AggMap {
    const sig = `${agg.id}/${agg.fn}/${agg.keys.map(partSig).join(',')}`;
    let m = this.maps.get(sig);
    if (m === undefined) {
      // no more than dtrace keeps: then a key with no room is dropped (and counted) update by
      // update in the kernel, as DTrace's are, not key by key when it is read
      const fits = Math.floor(this.budget / (agg.keySize + agg.words * 8 * this.ncpus));
      // a map holds no more than its keys can be (each is allocated when the map is made: a
      // large one takes tens of milliseconds), with room for two CPUs making one key at once
      const keys = agg.keys.reduce((n, k) => n * (k.kind === 'probe' ? this.probeCount : k.kind === 'int' && k.size <= 2 ? 2 ** (8 * k.size) : Infinity), 1);
      const most = this.budget > DEFAULT_AGG_BYTES ? MAX_ENTRIES_SET : MAX_ENTRIES;
      const entries = Math.max(1, Math.min(this.entryLimit, Math.max(MIN_ENTRIES, Math.min(most, fits)), 2 * keys + 8));
      m = { agg, fd: this.objects.createMap(BPF_MAP_TYPE_PERCPU_HASH, agg.keySize, agg.words * 8, entries), last: new Map() };
      // its keys are symbolised when read: the table is read meanwhile
      if (agg.keys.some((k) => k.kind === 'stack' || k.kind === 'sym')) kernelSymbols.preload();
      this.maps.set(sig, m);
    }
    return m;
  }

  /** a stack's text as the runtime makes it (frames: kernelOffset()s, innermost first; depth: stack()'s argument) */
  stackText: ((frames: Float64Array, len: number, depth: number) => string) | null = null;
  private readonly stackFrames = new Float64Array(MAX_KEY_FRAMES);

  /** A stack() key part's text: its frames (zero past the last) at `at` in a key. */
  private stackOf(key: Buffer, at: number, frames: number): string {
    const len = kernelSymbols.recordedStack(new DataView(key.buffer, key.byteOffset, key.length), at, frames, this.stackFrames);
    return this.stackText === null ? '' : this.stackText(this.stackFrames, len, frames);
  }

  /** the maps of the clauses that print in the kernel (null: none does) */
  private output: KernelOutputMaps | null = null;
  /** bytes of the largest record made in output.record */
  private recordBytes = 0;
  /** the records' rings, once tracing starts */
  private records: ProgramOutput | null = null;

  /**
   * The maps the clauses' records (and faults' records) go through, with room for one of
   * `recordBytes` bytes: made on first use (null: there is no reader), the record's room grows
   * with the largest.
   */
  private outputMaps(recordBytes: number): KernelOutputMaps | null {
    if (this.recordSink === null || this.onRecords === null) return null;
    // room for a fault's record too
    const bytes = Math.max(FAULT_RECORD_BYTES, recordBytes);
    if (this.output === null) {
      this.output = {
        perf: this.objects.createMap(BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, this.ncpus),
        record: this.objects.createMap(BPF_MAP_TYPE_PERCPU_ARRAY, 4, bytes, 1),
        lost: this.objects.createMap(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1),
      };
      this.recordBytes = bytes;
      this.onRecords(this.programRecords(this.output, this.recordSink));
    } else if (bytes > this.recordBytes) {
      // programs loaded before keep the smaller one
      this.output = { ...this.output, record: this.objects.createMap(BPF_MAP_TYPE_PERCPU_ARRAY, 4, bytes, 1) };
      this.recordBytes = bytes;
    }
    return this.output;
  }

  /** where the records of clauses that print go, given once the first such clause is attached */
  onRecords: ((records: ProgramRecords) => void) | null = null;
  /** each record, in time order with the other events */
  recordSink: EventSink | null = null;

  /** What the tracer reads the records of the clauses that print in the kernel with. */
  private programRecords(out: KernelOutputMaps, sink: EventSink): ProgramRecords {
    return {
      open: (cpus, base, ringBytes) => {
        this.records = new ProgramOutput(out.perf, out.lost, sink, this.recordBytes);
        return this.records.open(cpus, base, ringBytes);
      },
      lost: () => this.records?.lost() ?? [],
    };
  }

  /** The clause a record or fault names by its number. */
  clauseNumbered(n: number): KernelClause | undefined {
    return this.clauses[n];
  }

  /** the clauses the programs run, by the number their records name them by */
  private readonly clauses: KernelClause[] = [];

  private activity = -1;
  /** BEGIN has fired (a program attached later, on a probe made while tracing, acts at once) */
  private active = false;

  /** the session's activity (ACTIVITY_*), one u32 all programs read: INACTIVE until activate() */
  private activityMap(): number {
    if (this.activity < 0) {
      this.activity = this.objects.createMap(BPF_MAP_TYPE_ARRAY, 4, 4, 1);
      if (this.active) this.writeActivity();
    }
    return this.activity;
  }

  /** BEGIN has fired: the programs act from now on (until exit() or detach()). */
  activate(): void {
    this.active = true;
    if (!this.closed && this.activity >= 0) this.writeActivity();
  }

  private writeActivity(): void {
    const value = Buffer.alloc(4);
    value.writeUInt32LE(ACTIVITY_ACTIVE, 0);
    mapUpdate(this.activity, Buffer.alloc(4), value);
  }

  private dropsMap(): number {
    if (this.drops < 0) this.drops = this.objects.createMap(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 2);
    return this.drops;
  }

  private readonly threadLocals = new Map<number, number>();
  private readonly globals = new Map<number, number>();

  /** a global variable's map: one entry (a scalar), or its elements by their integer keys (an associative array); values `bytes` long */
  private globalMap(id: number, keys: number, bytes: number): number {
    let fd = this.globals.get(id);
    if (fd === undefined) {
      fd = keys === 0 ? this.objects.createMap(BPF_MAP_TYPE_ARRAY, 4, bytes, 1) : this.objects.createMap(BPF_MAP_TYPE_HASH, keys * 8, bytes, GLOBAL_ARRAY_ENTRIES);
      this.globals.set(id, fd);
    }
    return fd;
  }

  /** a thread-local variable's map: thread id -> value (`bytes` long), one for all CPUs */
  private threadLocalMap(id: number, bytes: number): number {
    let fd = this.threadLocals.get(id);
    if (fd === undefined) {
      fd = this.objects.createMap(BPF_MAP_TYPE_HASH, 4, bytes, THREAD_LOCAL_ENTRIES);
      this.threadLocals.set(id, fd);
    }
    return fd;
  }

  /** one all-zero value at least `words` long (the largest made so far, quantize's 127 at least), never written */
  private scratchMap(words: number): number {
    if (this.scratch < 0 || this.scratchWords < words) {
      this.scratchWords = Math.max(127, words);
      this.scratch = this.objects.createMap(BPF_MAP_TYPE_PERCPU_ARRAY, 4, this.scratchWords * 8, 1);
    }
    return this.scratch;
  }

  private userCopy = -1;
  private userCopyBytes = 0;

  /** copyin()'s per-CPU room, at least `bytes` (the largest made so far; -1 where no clause copies) */
  private userCopyMap(bytes: number): number {
    if (bytes > this.userCopyBytes) {
      // programs loaded before keep the smaller one
      this.userCopy = this.objects.createMap(BPF_MAP_TYPE_PERCPU_ARRAY, 4, bytes, 1);
      this.userCopyBytes = bytes;
    }
    return this.userCopy;
  }

  /** Folds what the kernel aggregated since the last read into the runtime's aggregations. */
  sync(): void {
    if (this.closed) return;
    for (const m of this.maps.values()) this.syncMap(m);
    this.checkDrops();
  }

  private syncMap(m: AggMap): void {
    const { agg } = m;
    const words = agg.words;
    const stride = words * 8;
    const values = Buffer.alloc(stride * this.ncpus);
    const target = this.aggregation(agg.id);
    const additive = agg.fn !== 'min' && agg.fn !== 'max';
    for (const key of mapKeys(m.fd, agg.keySize)) {
      if (!mapLookup(m.fd, key, values)) continue;
      const id = key.toString('latin1');
      let delta: bigint[];
      if (agg.fn === 'stddev') {
        const d = stddevDelta(values, this.ncpus, m.last.get(id));
        if (d === null) continue;
        m.last.set(id, d.totals);
        delta = d.delta;
      } else if (additive) {
        const totals = new Array<bigint>(words).fill(0n);
        for (let c = 0; c < this.ncpus; c++) {
          for (let w = 0; w < words; w++) totals[w] += values.readBigInt64LE(c * stride + w * 8);
        }
        for (let w = 0; w < words; w++) totals[w] = BigInt.asIntN(64, totals[w]);
        const last = m.last.get(id);
        delta = last === undefined ? totals : totals.map((t, w) => BigInt.asIntN(64, t - last[w]));
        m.last.set(id, totals);
        // a key seen for the first time exists even if its values add up to nothing (sum of 0s)
        if (last !== undefined && delta.every((d) => d === 0n)) continue;
      } else {
        let best: bigint | null = null;
        for (let c = 0; c < this.ncpus; c++) {
          if (values.readBigInt64LE(c * stride) === 0n) continue;
          const v = values.readBigInt64LE(c * stride + 8);
          if (best === null || (agg.fn === 'min' ? v < best : v > best)) best = v;
        }
        if (best === null) continue;
        const last = m.last.get(id);
        if (last !== undefined && last[0] === best) continue;
        m.last.set(id, [best]);
        delta = [best];
      }
      target.mergeWords(target.slotN(this.keyValues(agg, key)), delta);
    }
  }

  /** A map key as the D values of the aggregation's keys. */
  private keyValues(agg: KernelAggregation, key: Buffer): Value[] {
    const out: Value[] = [];
    let at = 0;
    for (const part of agg.keys) {
      if (part.kind === 'literal') {
        out.push(part.value);
        continue;
      }
      if (part.kind === 'stack') {
        out.push(this.stackOf(key, at, part.frames));
        at += keyPartSize(part);
        continue;
      }
      if (part.kind === 'comm' || part.kind === 'kstr') {
        const size = part.kind === 'comm' ? 16 : part.size;
        const end = key.indexOf(0, at);
        out.push(key.toString('latin1', at, end < 0 || end > at + size ? at + size : end));
        at += keyPartSize(part);
        continue;
      }
      const raw = key.readBigUInt64LE(at);
      at += 8;
      if (part.kind === 'sym') {
        out.push(part.start ? symbolStart(raw) : raw);
        continue;
      }
      if (part.kind === 'probe') {
        const probe = this.probes.get(Number(raw));
        out.push(probe === undefined ? '' : probe[part.field]);
        continue;
      }
      const bits = part.size * 8;
      const v = part.signed ? BigInt.asIntN(bits, raw) : BigInt.asUintN(bits, raw);
      out.push(part.size <= 4 ? Number(v) : v);
    }
    return out;
  }

  /**
   * Updates the kernel could not make (a full map), added to the runtime's counts: aggregation
   * drops by CPU, and thread-local stores as dynamic variable drops.
   */
  checkDrops(): void {
    if (this.closed || this.drops < 0) return;
    const values = Buffer.alloc(8 * this.ncpus);
    const key = Buffer.alloc(4);
    if (mapLookup(this.drops, key, values)) {
      for (let c = 0; c < this.ncpus; c++) {
        const n = Number(values.readBigUInt64LE(c * 8));
        const seen = this.dropsSeen[c] ?? 0;
        if (n > seen) {
          this.dropCounts[c] = (this.dropCounts[c] ?? 0) + (n - seen);
          this.dropsSeen[c] = n;
        }
      }
    }
    key.writeUInt32LE(1, 0);
    if (mapLookup(this.drops, key, values)) {
      let n = 0;
      for (let c = 0; c < this.ncpus; c++) n += Number(values.readBigUInt64LE(c * 8));
      if (n > this.dynDropsSeen) {
        this.dynamicDrops(n - this.dynDropsSeen);
        this.dynDropsSeen = n;
      }
    }
  }

  private dynDropsSeen = 0;

  /**
   * Once every probe is attached: a thread's thread-local variables are freed when it exits (a
   * new thread given its id must not find them), by a program on the tracepoint every exiting
   * task passes (sched_process_exit). False if that could not be attached.
   */
  freeOnThreadExit(exitTracepointId: number): boolean {
    if (this.closed || this.threadLocals.size === 0) return true;
    try {
      const p = new Program();
      p.call(Helper.GetCurrentPidTgid).store(4, R10, -8, R0);
      for (const fd of this.threadLocals.values()) p.loadMap(R1, fd).mov(R2, R10).addImm(R2, -8).call(Helper.MapDeleteElem);
      p.movImm(R0, 0).exit();
      this.objects.attachTracepoint(exitTracepointId, this.objects.loadTracepointProgram(p.encode(), 'dt_thread_exit'), this.cpu);
      return true;
    } catch {
      return false;
    }
  }

  /** Starts what runs from tracing's start on (the sampling events: profile-N fires from BEGIN on, as DTrace's). */
  start(): void {
    if (!this.closed) this.objects.start();
  }

  /** Stops the programs; the maps can still be read. */
  detach(): void {
    this.objects.detach();
  }

  /** Frees the programs and maps (after a last read). */
  close(): void {
    if (this.closed) return;
    this.sync();
    this.closed = true;
    this.records?.close();
    this.objects.close();
  }
}

/** How a key part is made, for telling maps apart. */
function partSig(k: KernelKeyPart): string {
  switch (k.kind) {
    case 'int':
      return `i${k.size}${k.signed ? 's' : 'u'}`;
    case 'comm':
      return 'c';
    case 'kstr':
      return `${k.user ? 'u' : 's'}${k.size}`;
    case 'probe':
      return `p${k.field}`;
    case 'sym':
      return k.start ? 'f' : 'm';
    case 'stack':
      return `k${k.frames}`;
    case 'literal':
      return `l${JSON.stringify(k.value)}`;
  }
}

/** func()'s and sym()'s key for a kernel address: its function's start, as DTrace aggregates them (the address if none covers it), as the runtime's symbolStart() makes it. */
function symbolStart(addr: bigint): bigint {
  const off = kernelOffsetOf(addr);
  const start = off < 0 ? -1 : kernelSymbols.start(off);
  return start < 0 ? addr : BigInt.asIntN(64, kernelAddress(start));
}

const TWO64 = 1n << 64n;

/**
 * What a stddev() entry's per-CPU values add up to ([count, sum, sum of squares, 128 bits]) and
 * what they added since `last` (null: nothing since), as [count, sum, low word, high word].
 */
export function stddevDelta(values: Buffer, ncpus: number, last: bigint[] | undefined): { totals: bigint[]; delta: bigint[] } | null {
  let count = 0n;
  let sum = 0n;
  let squares = 0n;
  for (let c = 0; c < ncpus; c++) {
    const at = c * 32;
    count += values.readBigInt64LE(at);
    sum += values.readBigInt64LE(at + 8);
    squares += values.readBigUInt64LE(at + 16) + values.readBigUInt64LE(at + 24) * TWO64;
  }
  const totals = [BigInt.asIntN(64, count), BigInt.asIntN(64, sum), squares & MASK128];
  if (last !== undefined && last[0] === totals[0] && last[1] === totals[1] && last[2] === totals[2]) return null;
  const dc = last === undefined ? totals[0] : BigInt.asIntN(64, totals[0] - last[0]);
  const ds = last === undefined ? totals[1] : BigInt.asIntN(64, totals[1] - last[1]);
  const dq = last === undefined ? totals[2] : (totals[2] - last[2]) & MASK128;
  return { totals, delta: [dc, ds, dq & (TWO64 - 1n), dq >> 64n] };
}
