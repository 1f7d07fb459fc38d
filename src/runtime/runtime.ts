// The run-time entry points generated clause code calls (`rt.*`), and the state they act on:
// variables, aggregations, speculations, output records, faults.        [dt_consume.c, dt_handle.c]

import { existsSync } from 'node:fs';
import { machine } from 'node:os';
import type { ClauseAbi } from './abi.js';
import { DType, Kind, findMember, resolve as resolveType } from '../lang/types.js';
import { readCpu, readFd, readProc } from '../kernel/procfs.js';
import { AggFn, AggSpace, Aggregation, KeyType, OpaqueKeyType, aggDataBytes, aggTupleBytes, createAggregation } from './aggregate.js';
import { aggCapacity } from './buffers.js';
import { LLQuantizeParams, LQuantizeParams, QUANTIZE_NBUCKETS } from './histogram.js';
import { ProbeContext } from './context.js';
import { DynArray, DynSpace, ThreadLocals } from './dynvars.js';
import { kernelAddress, kernelOffsetOf, kernelSymbols } from '../kernel/ksyms.js';
import { currentUserStack, userFrameOffsetText, userFrameText, userModuleText, userStackText, userSymbolStart } from '../kernel/ustack.js';
import { Memory, SCRATCH_BASE, ViewKind, viewAddress } from './memory.js';
import { Options } from './options.js';
import { OutputAction, OutputActionKind, OutputSink } from './output.js';
import { formatPrinta as formatPrintaRows, formatAggregations } from './printa.js';
import { flameGraphSvg } from './flamegraph.js';
import { flameStacks } from './folded.js';
import { FormatPlan, type Formatter, PrintfDataError, formatPrintf, formatPrinta, formatSprintf, formatStack } from './printf.js';
import * as S from './subr.js';
import { formatPrint, formatPrintValue } from './trace-format-print.js';
import { BufPolicy, PrincipalBuffers } from './principal.js';
import { formatTraceValue, formatTracemem, tracememLength } from './trace-format.js';
import { Value, bytesToStr, strToBytes } from './values.js';

/** How an aggregation was declared, for creating its table. */
export interface AggSpec {
  name: string;
  id: number;
  fn: string;
  keys: DType[];
  params: bigint[];
}

/**
 * A record as it reaches the output: its text, or, when it holds output-side actions (system(),
 * freopen(), ftruncate()), its text and those actions in order.
 */
export type OutputRecord = string | Array<string | OutputAction>;

/** A speculation buffer: records waiting for commit() or discard(). */
class Speculation {
  active = false;
  /** committed or discarded: freed once the current probe firing ends */
  draining = false;
  records: OutputRecord[] = [];
  size = 0;
}

/** Fault kinds as DTrace numbers them, with their messages. */
const FAULT_TEXT: Record<number, string> = {
  [S.FLT_BADADDR]: 'invalid address',
  [S.FLT_BADALIGN]: 'invalid alignment',
  [S.FLT_ILLOP]: 'illegal operation',
  [S.FLT_DIVZERO]: 'divide-by-zero',
  [S.FLT_NOSCRATCH]: 'out of scratch space',
  [S.FLT_KPRIV]: 'invalid kernel access',
  [S.FLT_UPRIV]: 'invalid user access',
  [S.FLT_TUPOFLOW]: 'tuple stack overflow',
  [S.FLT_BADSTACK]: 'bad stack',
  [S.FLT_BADSIZE]: 'invalid size',
  [S.FLT_BADINDEX]: 'index out of bounds',
};

export function faultMessage(f: S.DFault): string {
  const text = FAULT_TEXT[f.fault] ?? 'unknown fault';
  switch (f.fault) {
    case S.FLT_BADADDR:
    case S.FLT_BADALIGN:
    case S.FLT_BADSTACK:
    case S.FLT_BADSIZE:
      return `${text} (0x${BigInt.asUintN(64, f.value).toString(16)})`;
    case S.FLT_BADINDEX:
      return `${text} (${BigInt.asIntN(64, f.value)})`;
    default:
      return text;
  }
}

/** The request to stop tracing made by exit(), with its status. */
/** Thrown to end a clause without an error (speculate() on an unusable speculation). */
export class ClauseAbort extends Error {}
export const CLAUSE_ABORT = new ClauseAbort('clause abort');

export class ExitRequest {
  requested = false;
  status = 0;
}

/** 8 bytes for 64-bit loads and stores in byte images */
const SCRATCH = new Uint8Array(8);
const SCRATCH_VIEW = new DataView(SCRATCH.buffer);

function load8(b: Uint8Array, o: number): DataView {
  for (let i = 0; i < 8; i++) SCRATCH[i] = b[o + i];
  return SCRATCH_VIEW;
}

function store8(b: Uint8Array, o: number): void {
  for (let i = 0; i < 8; i++) b[o + i] = SCRATCH[i];
}

export class Runtime implements ClauseAbi {
  /** global scalars by id */
  readonly G: Array<Value | null> = [];
  /** global associative arrays by id */
  readonly D: DynArray[] = [];
  readonly dyn: DynSpace;
  tls!: ThreadLocals;
  readonly aggs: Aggregation[] = [];
  /** the aggregation buffer (aggsize) every aggregation's entries share */
  readonly aggSpace = new AggSpace(Infinity);
  readonly mem: Memory;
  readonly exitReq = new ExitRequest();
  private readonly specs: Speculation[] = [];
  private readonly nspec: number;
  /** speculations committed or discarded in this firing: free again once it ends */
  private readonly drained: Speculation[] = [];
  /** speculation drops by kind */
  specDrops = 0;
  specUnavail = 0;
  specBusy = 0;
  private readonly strtokState = new S.StrtokState();
  private readonly rng = new S.Rand();

  // -- the record being built by the running clause ------------------------------------------
  protected rec = '';
  /** the record's text and output-side actions before `rec`, once it has an action (else null) */
  protected recParts: Array<string | OutputAction> | null = null;
  protected recording = false;
  /** speculation the current clause's record goes to (0: none) */
  protected specId = 0;
  protected headingDone = false;
  private readonly bootWallNs: bigint;

  constructor(
    readonly opts: Options,
    readonly out: OutputSink,
    /** dtrace's own environment for messages on stderr */
    readonly warn: (msg: string) => void,
    protected readonly testing: boolean,
  ) {
    this.dyn = new DynSpace(Number(opts.get('dynvarsize')));
    this.mem = new Memory(Math.max(8, opts.num('scratchsize')), () => this.strsize);
    this.mem.viewSource = (kind, id) => this.buildView(kind, id);
    // speculation buffers are made when first needed, up to nspec (none is ID 0)
    this.nspec = Math.max(0, opts.num('nspec'));
    this.specs.push(new Speculation());
    const now = process.hrtime.bigint();
    this.bootWallNs = BigInt(Date.now()) * 1_000_000n - now;
  }

  // Options read per event, cached (a Map lookup each costs more than the rest of a record):
  // read again whenever any option changed (setopt(), a pragma, a buffer resize).
  private optsVersion = -1;
  private strsizeNow = 0;
  private quietNow = false;
  private specsizeNow = 0;
  protected stackframesNow = 0;
  /** maxframes: no stack has more frames, whatever stack(n) or stackframes ask (dt_cg_stack_arg) */
  protected maxframesNow = 0;
  protected ustackframesNow = 0;
  protected jstackframesNow = 0;
  protected noresolveNow = false;
  protected printsizeNow = 0;
  /** trace()'s formatting options, one object for every call */
  private readonly traceOpts = { rawbytes: false, strsize: 0 };

  private readOptions(): void {
    const o = this.opts;
    this.optsVersion = o.version;
    this.strsizeNow = o.num('strsize');
    this.quietNow = o.flag('quiet');
    this.specsizeNow = o.num('specsize');
    this.stackframesNow = o.num('stackframes');
    this.ustackframesNow = o.num('ustackframes');
    this.jstackframesNow = o.num('jstackframes');
    this.maxframesNow = o.num('maxframes');
    this.noresolveNow = o.flag('noresolve');
    this.printsizeNow = o.num('printsize');
    this.traceOpts.rawbytes = o.flag('rawbytes');
    this.traceOpts.strsize = this.strsizeNow;
  }

  /** This runtime with its option values read again if one changed (no Map lookup per event). */
  protected option(): this {
    if (this.optsVersion !== this.opts.version) this.readOptions();
    return this;
  }

  get strsize(): number {
    if (this.optsVersion !== this.opts.version) this.readOptions();
    return this.strsizeNow;
  }

  get quiet(): boolean {
    if (this.optsVersion !== this.opts.version) this.readOptions();
    return this.quietNow;
  }

  /** Sets up variable storage once the program is compiled. */
  init(
    globals: Array<{ id: number; zero: () => Value | null; assoc: boolean; nkeys: number; elemSize: number }>,
    tls: { sizes: number[]; keyCounts: number[] },
    aggs: AggSpec[],
  ): void {
    for (const g of globals) {
      if (g.assoc) this.D[g.id] = new DynArray(g.nkeys, this.dyn, g.elemSize);
      else this.G[g.id] = g.zero();
    }
    this.tls = new ThreadLocals(this.dyn, tls.sizes, tls.keyCounts);
    const rec = aggRecordSizes(aggs);
    if (rec !== null) this.aggSpace.limit = aggCapacity(this.opts.get('aggsize'), rec);
    for (const a of aggs) {
      if (this.aggs[a.id]) continue;
      const p = a.params.map(Number);
      this.aggs[a.id] = createAggregation({
        name: a.name === '_' ? '' : a.name,
        id: a.id,
        fn: AGG_FNS[a.fn],
        keys: a.keys.map(keyTypeOf),
        lquantize: a.fn === 'lquantize' ? { base: p[0], limit: p[1], step: p[2] } : undefined,
        llquantize: a.fn === 'llquantize' ? { factor: p[0], lmag: p[1], hmag: p[2], steps: p[3] } : undefined,
      }, this.aggSpace);
    }
  }

  // -- probe firing ------------------------------------------------------------------------------

  /** The principal buffers, where a buffer policy is to be followed (null: output as made). */
  principal: PrincipalBuffers<OutputRecord> | null = null;
  /** the running clause's reservation in them: CPU, offset, bytes kept (-1: none) */
  private resCpu = 0;
  private resOffs = -1;
  private resSize = 0;

  /** Called before each clause runs: alloca() space belongs to one clause. */
  startClause(): void {
    this.mem.reset();
    this.resOffs = -1;
  }

  /**
   * Reserves the principal-buffer space a clause's firing may take, before its predicate
   * runs; false if there is none (the clause does not run).
   */
  reserve(cpu: number, needed: number, align: number, size: number): boolean {
    const offs = this.principal!.reserve(cpu, needed, align);
    if (offs < 0) return false;
    this.resCpu = cpu;
    this.resOffs = offs;
    this.resSize = size;
    return true;
  }

  /** What ring and fill buffers kept, printed once tracing has stopped (END's CPU last). */
  emitKept(endCpu: number): void {
    const pb = this.principal;
    if (pb === null || pb.policy === BufPolicy.Switch) return;
    for (const r of pb.consume(endCpu)) this.emitRecord(r);
  }

  /** the context of the firing whose clauses run (translated argument structs come from it) */
  private firing: ProbeContext | null = null;

  /** Called before the clauses of one probe firing run. */
  startFiring(ctx: ProbeContext): void {
    this.firing = ctx;
    this.aggSpace.cpu = ctx.cpu;
    ctx.timestamp = -1n;
    this.strtokState.reset();
    // guarded: setting an array's length is a runtime call, dearer than the whole firing
    if (ctx.L.length !== 0) ctx.L.length = 0;
  }

  /** CLOCK_MONOTONIC ns that kernel events' times count from (the tracer's base) */
  timeBase = 0n;

  timestamp(ctx: ProbeContext): bigint {
    if (ctx.timestamp < 0n) ctx.timestamp = ctx.eventTs >= 0 ? this.timeBase + BigInt(ctx.eventTs) : process.hrtime.bigint();
    return ctx.timestamp;
  }

  vtimestamp(ctx: ProbeContext): bigint {
    return this.timestamp(ctx);
  }

  /** walltimestamp reads the clock each time (it advances within a firing, unlike timestamp) */
  walltimestamp(_ctx: ProbeContext): bigint {
    return this.bootWallNs + process.hrtime.bigint();
  }

  beginRecord(ctx: ProbeContext): void {
    this.recording = true;
    this.specId = 0;
    if (!this.quiet) {
      const p = ctx.probe;
      const name = `${p.func}:${p.name}`;
      this.rec = this.testing
        ? `${name.padStart(32)} `
        : `${String(ctx.cpu).padStart(3)} ${String(p.id).padStart(6)} ${name.padStart(32)} `;
    } else {
      this.rec = '';
    }
  }

  endRecord(_ctx: ProbeContext): void {
    if (!this.recording) return;
    this.recording = false;
    let text = this.rec;
    this.rec = '';
    if (!this.quiet) text += '\n';
    this.commitRecord(text);
  }

  /**
   * A finished record's text (and output-side actions) goes where the clause sent it: its
   * speculation, the principal buffers, or the output.
   */
  protected commitRecord(text: string): void {
    let record: OutputRecord = text;
    let size = text.length;
    if (this.recParts !== null) {
      const parts = this.recParts;
      this.recParts = null;
      parts.push(text);
      record = parts;
      for (const p of parts) size += typeof p === 'string' ? p.length : p.arg.length;
    }
    if (this.specId !== 0) {
      const sp = this.specs[this.specId];
      if (sp === undefined || !sp.active || sp.draining) return;
      if (this.optsVersion !== this.opts.version) this.readOptions();
      if (sp.size + size > this.specsizeNow) {
        this.specDrops++;
        return;
      }
      sp.records.push(record);
      sp.size += size;
      return;
    }
    if (this.resOffs >= 0) {
      const pb = this.principal!;
      const keep = pb.policy !== BufPolicy.Switch;
      pb.commit(this.resCpu, this.resOffs, this.resSize, keep ? record : null);
      this.resOffs = -1;
      if (keep) return;
    }
    this.emitRecord(record);
  }

  /** Abandons the running clause's record (after a fault). */
  abortRecord(): void {
    this.recording = false;
    this.rec = '';
    this.recParts = null;
    this.specId = 0;
  }

  /** A record reaches the output: the column heading comes first, once. */
  protected emitRecord(record: OutputRecord): void {
    if (!this.headingDone) {
      this.headingDone = true;
      if (!this.quiet) {
        this.out.write(this.testing ? `${'FUNCTION:NAME'.padStart(32)}\n` : `CPU     ID ${'FUNCTION:NAME'.padStart(32)}\n`);
      }
    }
    if (typeof record === 'string') {
      this.out.write(record);
      return;
    }
    for (const p of record) {
      if (typeof p === 'string') this.out.write(p);
      else this.out.act(p);
    }
  }

  /** Output of an action: into the record being built. */
  protected put(s: string): void {
    if (this.recording) this.rec += s;
    else this.out.write(s);
  }

  /** An output-side action: in its place in the record being built. */
  private putAction(a: OutputAction): void {
    if (!this.recording) {
      this.out.act(a);
      return;
    }
    if (this.recParts === null) this.recParts = [];
    this.recParts.push(this.rec, a);
    this.rec = '';
  }

  // -- faults ----------------------------------------------------------------------------------------

  firingFault(ctx: ProbeContext, slot: number): never {
    const at = ctx.firing[slot];
    throw new S.DFault(ctx.firingFault[slot], typeof at === 'bigint' ? at : 0n);
  }

  faultIndex(i: bigint): never {
    throw new S.DFault(S.FLT_BADINDEX, i);
  }

  /** Signed division of exact integers in Numbers (truncating, as BPF after making both positive). */
  ndiv(a: number, b: number): number {
    if (b === 0) throw new S.DFault(S.FLT_DIVZERO, 0n);
    return Math.trunc(a / b);
  }

  /** Remainder as Oracle's BPF computes it: |a| % |b|, negated when exactly one operand is negative. */
  nmod(a: number, b: number): number {
    if (b === 0) throw new S.DFault(S.FLT_DIVZERO, 0n);
    const r = Math.abs(a) % Math.abs(b);
    return (a < 0) !== (b < 0) && r !== 0 ? -r : r;
  }

  bdiv(a: bigint, b: bigint, signed: boolean): bigint {
    if (b === 0n) throw new S.DFault(S.FLT_DIVZERO, 0n);
    return signed ? BigInt.asIntN(64, a / b) : a / b;
  }

  bmod(a: bigint, b: bigint, signed: boolean): bigint {
    if (b === 0n) throw new S.DFault(S.FLT_DIVZERO, 0n);
    if (!signed) return a % b;
    const r = (a < 0n ? -a : a) % (b < 0n ? -b : b);
    return BigInt.asIntN(64, (a < 0n) !== (b < 0n) ? -r : r);
  }

  unsupported(_name: string): never {
    throw new S.DFault(S.FLT_ILLOP, 0n);
  }

  // -- variables -----------------------------------------------------------------------------------

  tlsGet<V extends Value | null>(ctx: ProbeContext, id: number, zero: V): Value | V {
    const v = this.tls.get(ctx.tid, id);
    return v === undefined ? zero : v;
  }

  tlsSet<V extends Value | null>(ctx: ProbeContext, id: number, v: V): V {
    return this.tls.set(ctx.tid, id, v);
  }

  tlsArray(ctx: ProbeContext, id: number): DynArray {
    return this.tls.array(ctx.tid, id);
  }

  tlsBytes(ctx: ProbeContext, id: number, size: number): Uint8Array {
    let v = this.tls.get(ctx.tid, id) as Uint8Array | undefined;
    if (v === undefined) {
      v = new Uint8Array(size);
      this.tls.set(ctx.tid, id, v);
    }
    return v;
  }

  localStr(ctx: ProbeContext, id: number): string | null {
    const v = ctx.L[id];
    return v === undefined ? '' : (v as string | null);
  }

  /**
   * argN as a value to print (printf(), trace()): its Number where a decoder filled one that is
   * exact, else its BigInt (which the decoder then filled: see compileDecoder)
   */
  argValue(ctx: ProbeContext, i: number): number | bigint {
    if (ctx.argnSet & (1 << i)) {
      const n = ctx.argn[i];
      if (n <= 9007199254740991 && n >= -9007199254740991) return n;
    }
    return ctx.args[i];
  }

  /**
   * argN as a Number with the argument's low 32 bits (for args[N] of a type of 32 bits or
   * less, which the caller narrows): its Number where that is exact, else from its BigInt
   */
  argLow(ctx: ProbeContext, i: number): number {
    if (ctx.argnSet & (1 << i)) {
      const n = ctx.argn[i];
      if (n <= 9007199254740991 && n >= -9007199254740991) return n;
    }
    return Number(BigInt.asIntN(32, ctx.args[i]));
  }

  /** argN as a Number (nearest double) where no decoder filled ctx.argn[i] */
  argNum(ctx: ProbeContext, i: number): number {
    return Number(ctx.args[i]);
  }

  arg(ctx: ProbeContext, i: number): bigint {
    return i >= 0 && i < ctx.args.length ? ctx.args[i] : 0n;
  }

  argStr(ctx: ProbeContext, i: number): string {
    return i >= 0 && i < ctx.argStrs.length ? ctx.argStrs[i] : '';
  }

  /** uregs[i]: the register if the probe's provider fetched the user registers, else 0 */
  uregs(ctx: ProbeContext, i: number): bigint {
    return i >= 0 && i < ctx.uregsN ? ctx.uregs[i] : 0n;
  }

  // -- bytes and strings ---------------------------------------------------------------------------

  bld_i8(b: Uint8Array, o: number): number { return (b[o] << 24) >> 24; }
  bld_u8(b: Uint8Array, o: number): number { return b[o]; }
  // little-endian loads and stores in byte images (structs, arrays): byte arithmetic, and one
  // scratch DataView for 64 bits, never a DataView per access (STYLE rules 2 and 3)
  bld_i16(b: Uint8Array, o: number): number { return ((b[o] | (b[o + 1] << 8)) << 16) >> 16; }
  bld_u16(b: Uint8Array, o: number): number { return b[o] | (b[o + 1] << 8); }
  bld_i32(b: Uint8Array, o: number): number { return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24); }
  bld_u32(b: Uint8Array, o: number): number { return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0; }
  bld_i64(b: Uint8Array, o: number): bigint { return load8(b, o).getBigInt64(0, true); }
  bld_u64(b: Uint8Array, o: number): bigint { return load8(b, o).getBigUint64(0, true); }
  bst_i8(b: Uint8Array, o: number, v: number): void { b[o] = v; }
  bst_u8(b: Uint8Array, o: number, v: number): void { b[o] = v; }
  bst_i16(b: Uint8Array, o: number, v: number): void { b[o] = v; b[o + 1] = v >> 8; }
  bst_u16(b: Uint8Array, o: number, v: number): void { b[o] = v; b[o + 1] = v >> 8; }
  bst_i32(b: Uint8Array, o: number, v: number): void { b[o] = v; b[o + 1] = v >> 8; b[o + 2] = v >> 16; b[o + 3] = v >> 24; }
  bst_u32(b: Uint8Array, o: number, v: number): void { b[o] = v; b[o + 1] = v >> 8; b[o + 2] = v >> 16; b[o + 3] = v >> 24; }
  bst_i64(b: Uint8Array, o: number, v: bigint): void { SCRATCH_VIEW.setBigInt64(0, v, true); store8(b, o); }
  bst_u64(b: Uint8Array, o: number, v: bigint): void { SCRATCH_VIEW.setBigUint64(0, v, true); store8(b, o); }

  /** Reads a bit-field: the low `bits` bits of `nbytes` little-endian bytes. */
  bfld(b: Uint8Array, off: number, nbytes: number, bits: number, signed: boolean, big: boolean): number | bigint {
    let v = 0n;
    for (let i = nbytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[off + i]);
    v = signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v);
    return big ? v : Number(v);
  }

  bfst(b: Uint8Array, off: number, nbytes: number, bits: number, value: number | bigint): void {
    let v = BigInt.asUintN(bits, BigInt(value));
    // keep the bits above the field in its last byte
    const keep = BigInt.asUintN(nbytes * 8, ~((1n << BigInt(bits)) - 1n));
    let old = 0n;
    for (let i = nbytes - 1; i >= 0; i--) old = (old << 8n) | BigInt(b[off + i]);
    v |= old & keep;
    for (let i = 0; i < nbytes; i++) {
      b[off + i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }

  bfldMem(addr: bigint, nbytes: number, bits: number, signed: boolean, big: boolean): number | bigint {
    return this.bfld(this.mem.bytes(addr, nbytes), 0, nbytes, bits, signed, big);
  }

  bfstMem(addr: bigint, nbytes: number, bits: number, value: number | bigint): void {
    const b = this.mem.bytes(addr, nbytes);
    this.bfst(b, 0, nbytes, bits, value);
    this.mem.copyIn(addr, b, nbytes);
  }

  bcopyInto(dst: Uint8Array, off: number, src: Uint8Array, size: number): void {
    const n = Math.min(size, src.length);
    dst.set(src.subarray(0, n), off);
    if (n < size) dst.fill(0, off + n, off + size);
  }

  bytesStr(b: Uint8Array | string | null): string | null {
    if (typeof b === 'string' || b === null) return b;
    const s = bytesToStr(b);
    return s.length > this.strsize ? s.slice(0, this.strsize) : s;
  }

  /** A string as a key: NULL (an unset variable) is the invalid address 0, as in DTrace. */
  strKey(s: string | null): string {
    if (s === null) throw new S.DFault(S.FLT_BADADDR, 0n);
    return s;
  }

  strBytes(s: string | null, size: number): Uint8Array {
    if (s === null) throw new S.DFault(S.FLT_BADADDR, 0n);
    return strToBytes(s, size);
  }

  bytesKey(b: Uint8Array): string {
    return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
  }

  /** A byte image's address: the storage itself, mapped into the D address space (global
   * arrays and structs keep one address for the whole session). */
  bytesAddr(b: Uint8Array): bigint {
    return this.mem.mapStatic(b);
  }

  strAddr(s: string | null): bigint {
    if (s === null) return 0n;
    // a copy, addressable until the end of the clause
    return this.mem.map(strToBytes(s, s.length + 1));
  }

  strByte(s: string | null, i: number): number {
    if (s === null) throw new S.DFault(S.FLT_BADADDR, BigInt(i));
    if (i < 0 || i >= this.strsize) throw new S.DFault(S.FLT_BADINDEX, BigInt(i));
    const c = i < s.length ? s.charCodeAt(i) : 0;
    return (c << 24) >> 24;
  }

  strOffset(s: string | null, n: bigint, neg = false): string | null {
    if (s === null) return null;
    const k = Number(neg ? -n : n);
    return k >= 0 ? s.slice(k) : s;
  }

  /** strcmp with NULL ordered before every string (DTrace compares the pointers first). */
  strcmp(a: string | null, b: string | null): number {
    if (a === b) return 0;
    if (a === null) return -1;
    if (b === null) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  intStr(v: number | bigint): string {
    return String(v);
  }

  // -- subroutines -------------------------------------------------------------------------------

  strlen(s: string | null): bigint {
    return S.strlen(s, this.strsize);
  }

  strjoin(a: string | null, b: string | null): string { return S.strjoin(a, b, this.strsize); }
  substr(s: string | null, i: number, n?: number): string { return S.substr(s, i, n, this.strsize); }
  index(s: string | null, t: string | null, start?: number): number { return S.index(s, t, start, this.strsize); }
  rindex(s: string | null, t: string | null, start?: number): number { return S.rindex(s, t, start, this.strsize); }
  strchr(s: string | null, c: number): string | null { return S.strchr(s, c, this.strsize); }
  strrchr(s: string | null, c: number): string | null { return S.strrchr(s, c, this.strsize); }
  strstr(s: string | null, t: string | null): string | null { return S.strstr(s, t, this.strsize); }
  strtok(_ctx: ProbeContext, s: string | null, d: string | null): string | null {
    return S.strtok(this.strtokState, s, d, this.strsize);
  }
  strtokNext(_ctx: ProbeContext, d: string | null): string | null {
    return S.strtokNext(this.strtokState, d, this.strsize);
  }
  basename(s: string | null): string { return S.basename(s, this.strsize); }
  dirname(s: string | null): string { return S.dirname(s, this.strsize); }
  cleanpath(s: string | null): string { return S.cleanpath(s, this.strsize); }
  toupper(s: string | null): string { return S.toupper(s, this.strsize); }
  tolower(s: string | null): string { return S.tolower(s, this.strsize); }
  lltostr(v: bigint, base?: number): string { return S.lltostr(v, base, this.strsize); }
  strtoll(s: string | null, base?: number): bigint { return S.strtoll(s, base); }
  bswap16(v: number): number { return S.htons(v); }
  bswap32(v: number): number { return S.htonl(v); }
  bswap64(v: bigint): bigint { return S.htonll(v); }
  rand(): number { return this.rng.next(); }
  inet_ntoa(addr: bigint): string { return S.inet_ntoa(this.mem.bytes(addr, 4), this.strsize); }
  inet_ntoa6(addr: bigint): string { return S.inet_ntoa6(this.mem.bytes(addr, 16), false, this.strsize); }
  link_ntop(type: number, addr: bigint): string {
    // the type is checked before the address is read
    const n = S.LINK_ADDR_LEN[type];
    if (n === undefined) throw new S.DFault(S.FLT_ILLOP, 0n);
    return S.link_ntop(this.mem.bytes(addr, n), this.strsize);
  }
  inet_ntop(af: number, addr: bigint): string {
    return S.inet_ntop(af, this.mem.bytes(addr, af === S.AF_INET6 ? 16 : 4), this.strsize);
  }

  /**
   * Reads a thread's user memory now (set when kernel probes are enabled); bytes captured in
   * the kernel when the probe fired (ctx.captured) take precedence.
   */
  userMemory: ((tid: number, addr: bigint, size: number) => string | null) | null = null;

  /**
   * Up to `size` bytes of user memory at addr, as a latin1 string (`whole`: exactly `size`,
   * for copyin(): a copy that holds less, such as a string's, gives way to reading the memory).
   */
  private userText(ctx: ProbeContext, addr: bigint, size: number, whole: boolean): string {
    for (let i = 0; i < ctx.capturedN; i++) {
      if (ctx.capturedAddr[i] !== addr) continue;
      const t = ctx.capturedText[i];
      if (t.length >= size) return t.length > size ? t.slice(0, size) : t;
      if (!whole) return t;
    }
    const t = this.userMemory && ctx.tid !== 0 ? this.userMemory(ctx.tid, addr, size) : null;
    if (t === null) throw new S.DFault(S.FLT_BADADDR, addr);
    return t;
  }

  copyin(ctx: ProbeContext, addr: bigint, size: bigint): bigint {
    const n = this.mem.copySize(size);
    const t = this.userText(ctx, addr, n, true);
    if (t.length < n) throw new S.DFault(S.FLT_BADADDR, addr + BigInt(t.length));
    const dst = this.mem.alloca(size);
    this.mem.copyIn(dst, strToBytes(t, n), n);
    return dst;
  }

  copyinstr(ctx: ProbeContext, addr: bigint, size?: bigint): string {
    // a string of strsize (or of the size given) bytes, its NUL among them
    const max = Math.max(0, (size === undefined ? this.strsize : Math.min(this.strsize, Number(size))) - 1);
    const t = this.userText(ctx, addr, max, false);
    const end = t.indexOf('\0');
    return end >= 0 ? t.slice(0, end) : t;
  }

  copyinto(ctx: ProbeContext, addr: bigint, size: bigint, dst: bigint): void {
    const n = this.mem.copySize(size);
    const t = this.userText(ctx, addr, n, true);
    if (t.length < n) throw new S.DFault(S.FLT_BADADDR, addr + BigInt(t.length));
    this.mem.copyIn(dst, strToBytes(t, n), n);
  }

  // -- process and CPU views (curpsinfo, curlwpsinfo, curcpu) ----------------------------

  /** psinfo_t, lwpsinfo_t and cpuinfo_t, from the compiler's type scope */
  procTypes: { psinfo: DType; lwpsinfo: DType; cpuinfo: DType } | null = null;
  /**
   * Who a thread is, as the kernel tracer last saw it (set when kernel probes are enabled):
   * the fallback for a view of a process that has already exited.
   */
  taskOf: ((tid: number) => { tgid: number; ppid: number; uid: number; gid: number; comm: string; psargs: string }) | null = null;

  curpsinfo(ctx: ProbeContext): bigint {
    return viewAddress(ViewKind.Psinfo, ctx.tid);
  }

  curlwpsinfo(ctx: ProbeContext): bigint {
    return viewAddress(ViewKind.Lwpsinfo, ctx.tid);
  }

  curcpu(ctx: ProbeContext): bigint {
    return viewAddress(ViewKind.Cpuinfo, ctx.cpu);
  }

  /** fileinfo_t, from the compiler's type scope (fds[]) */
  fileinfoType: DType | null = null;

  fds(_ctx: ProbeContext, fd: number): bigint {
    // a descriptor no process can have names the "<none>" view
    return viewAddress(ViewKind.Fd, fd >= 0 && fd < FD_NONE ? fd : FD_NONE);
  }

  /**
   * fds[fd] as io.d translates a struct file, read from /proc/PID/fd and fdinfo when the
   * clause runs (not when the probe fired): a descriptor closed in between reads as none.
   */
  private buildFd(fd: number): Uint8Array | null {
    const F = this.fileinfoType;
    if (F === null || this.firing === null) return null;
    const b = new Uint8Array(resolveType(F).size);
    const pid = this.firing.pid;
    const fired = this.firing.firedFd === fd && fd !== FD_NONE ? this.firing : null;
    if (fired !== null && !fired.firedFdOpen) {
      // no file was open on it when the probe fired
      for (const m of ['fi_name', 'fi_dirname', 'fi_pathname', 'fi_fs', 'fi_mount']) setField(b, F, m, '<none>');
      return b;
    }
    const f = fd === FD_NONE ? null : readFd(pid, fd);
    if (fired !== null) {
      // the kernel's copy, taken as the probe fired: the name, offset, flags and file system;
      // the path and mount from /proc, if the descriptor still names that file
      const same = f !== null && S.basename(f.path, this.strsize) === fired.firedFdName;
      // the path walked as it fired, else /proc's if it is of the same name
      const path = fired.firedFdPath !== '' ? fired.firedFdPath : same ? f.path : '';
      setField(b, F, 'fi_name', fired.firedFdName);
      // io.d's dirname() of a path it cannot know ("<unknown>"): "."
      setField(b, F, 'fi_dirname', path !== '' ? S.dirname(path, this.strsize) : '.');
      setField(b, F, 'fi_pathname', path !== '' ? path : '<unknown>');
      setField(b, F, 'fi_offset', fired.firedFdPos);
      setField(b, F, 'fi_fs', fired.firedFdFs || '<unknown>');
      setField(b, F, 'fi_mount', same && f.mount ? f.mount : '<unknown>');
      setField(b, F, 'fi_oflags', fired.firedFdFlags);
      return b;
    }
    if (f === null) {
      // no such descriptor: "<none>", as for a NULL struct file; the process gone: unknown
      const what = fd !== FD_NONE && !existsSync(`/proc/${pid}`) ? '<unknown>' : '<none>';
      for (const m of ['fi_name', 'fi_dirname', 'fi_pathname', 'fi_fs', 'fi_mount']) setField(b, F, m, what);
      return b;
    }
    const max = this.strsize;
    setField(b, F, 'fi_name', S.basename(f.path, max));
    setField(b, F, 'fi_dirname', S.dirname(f.path, max));
    setField(b, F, 'fi_pathname', f.path);
    setField(b, F, 'fi_offset', f.pos);
    setField(b, F, 'fi_fs', f.fstype || '<unknown>');
    setField(b, F, 'fi_mount', f.mount || '<unknown>');
    // io.d's fi_oflags is the file's f_flags: /proc's fdinfo adds the descriptor's O_CLOEXEC
    setField(b, F, 'fi_oflags', f.flags & ~O_CLOEXEC_FLAG);
    return b;
  }

  /** chip and lgrp: curcpu->cpu_chip and curcpu->cpu_lgrp */
  cpuChip(ctx: ProbeContext): number {
    return readCpu(ctx.cpu).chip;
  }

  cpuLgrp(ctx: ProbeContext): number {
    return readCpu(ctx.cpu).node;
  }

  /** The bytes of a psinfo_t or lwpsinfo_t of a thread, or a cpuinfo_t, when D code reads one. */
  private buildView(kind: ViewKind, id: number): Uint8Array | null {
    if (kind === ViewKind.Arg) {
      const b = this.firing !== null ? this.firing.argBuild : null;
      return b !== null ? b.build(id) : null;
    }
    if (kind === ViewKind.Fd) return this.buildFd(id);
    const t = this.procTypes;
    if (!t) return null;
    if (kind === ViewKind.Cpuinfo) {
      const C = t.cpuinfo;
      const b = new Uint8Array(resolveType(C).size);
      const c = readCpu(id);
      setField(b, C, 'cpu_id', id);
      setField(b, C, 'cpu_chip', c.chip);
      setField(b, C, 'cpu_lgrp', c.node);
      const m = findMember(C, 'cpu_info');
      if (m) {
        // processor_info_t as Solaris fills it: P_ONLINE, the machine, the FPU, the clock
        const pi = new Uint8Array(resolveType(m.type).size);
        setField(pi, m.type, 'pi_state', 2);
        setField(pi, m.type, 'pi_processor_type', machine());
        setField(pi, m.type, 'pi_fputypes', c.x87 ? 'i387 compatible' : '');
        setField(pi, m.type, 'pi_clock', c.clockMHz);
        b.set(pi, m.offset);
      }
      return b;
    }
    const fired = this.firing !== null && this.firing.taskFired && this.firing.tid === id ? this.firing : null;
    const task = this.taskOf ? this.taskOf(id) : null;
    const pid = fired !== null ? fired.pid : task ? task.tgid : id;
    const info = readProc(pid, id);
    const ps = new Uint8Array(resolveType(t.psinfo).size);
    const lw = new Uint8Array(resolveType(t.lwpsinfo).size);
    const P = t.psinfo;
    const L = t.lwpsinfo;
    if (info) {
      setField(ps, P, 'pr_nlwp', info.nlwp);
      setField(ps, P, 'pr_pid', info.pid);
      setField(ps, P, 'pr_ppid', info.ppid);
      setField(ps, P, 'pr_pgid', info.pgid);
      setField(ps, P, 'pr_sid', info.sid);
      setField(ps, P, 'pr_uid', info.uid);
      setField(ps, P, 'pr_euid', info.euid);
      setField(ps, P, 'pr_gid', info.gid);
      setField(ps, P, 'pr_egid', info.egid);
      setField(ps, P, 'pr_size', info.sizeKb);
      setField(ps, P, 'pr_rssize', info.rssKb);
      setField(ps, P, 'pr_fname', info.fname);
      setField(ps, P, 'pr_psargs', task && task.psargs !== '' ? task.psargs.slice(0, 79) : info.psargs);
      setField(ps, P, 'pr_argc', info.argc);
      setField(lw, L, 'pr_state', stateNumber(info.state));
      setField(lw, L, 'pr_sname', info.state.charCodeAt(0));
      setField(lw, L, 'pr_nice', info.nice);
      setField(lw, L, 'pr_pri', info.pri);
      setField(lw, L, 'pr_name', info.fname);
      setField(lw, L, 'pr_onpro', info.cpu);
      setField(lw, L, 'pr_clname', SCHED_CLASS[info.policy] ?? '');
    } else if (task) {
      // gone already: what the tracer knows
      setField(ps, P, 'pr_nlwp', 1);
      setField(ps, P, 'pr_pid', task.tgid);
      setField(ps, P, 'pr_ppid', task.ppid);
      setField(ps, P, 'pr_uid', task.uid);
      setField(ps, P, 'pr_euid', task.uid);
      setField(ps, P, 'pr_gid', task.gid);
      setField(ps, P, 'pr_egid', task.gid);
      setField(ps, P, 'pr_fname', task.comm);
      setField(ps, P, 'pr_psargs', task.psargs !== '' ? task.psargs.slice(0, 79) : task.comm);
      setField(lw, L, 'pr_name', task.comm);
    } else if (fired === null) {
      return kind === ViewKind.Psinfo ? ps : lw;
    }
    if (fired !== null) {
      // who fired the probe, as its record says it was then
      setField(ps, P, 'pr_pid', fired.pid);
      setField(ps, P, 'pr_ppid', fired.ppid);
      setField(ps, P, 'pr_uid', fired.uid);
      setField(ps, P, 'pr_euid', fired.euid);
      setField(ps, P, 'pr_gid', fired.gid);
      setField(ps, P, 'pr_egid', fired.egid);
      setField(ps, P, 'pr_fname', fired.execname);
      setField(lw, L, 'pr_name', fired.execname);
    }
    setField(ps, P, 'pr_dmodel', 2);
    setField(lw, L, 'pr_lwpid', id);
    setField(lw, L, 'pr_bindpro', -1);
    setField(lw, L, 'pr_bindpset', -1);
    const m = findMember(P, 'pr_lwp');
    if (m) ps.set(lw, m.offset);
    return kind === ViewKind.Psinfo ? ps : lw;
  }

  /** Whether the current process is `pid` or one of its descendants. */
  progenyof(ctx: ProbeContext, pid: number): number {
    let cur = ctx.pid;
    for (let depth = 0; cur > 0 && depth < 1024; depth++) {
      if (cur === pid) return 1;
      const parent = this.taskOf ? this.taskOf(cur).ppid : (readProc(cur)?.ppid ?? 0);
      if (parent === cur) break;
      cur = parent;
    }
    return 0;
  }

  // -- aggregations --------------------------------------------------------------------------------

  /**
   * Brings in what was aggregated elsewhere (kernel maps) before the aggregations are read;
   * null: everything is aggregated here.
   */
  aggSync: (() => void) | null = null;

  // clear() and trunc() act on what the last read brought in (DTrace's snapshot): what the
  // kernel aggregated since then comes in at the next read

  aggClear(id: number): void {
    this.aggs[id].clear();
  }

  aggTrunc(id: number, n?: bigint): void {
    this.aggs[id].trunc(n ?? 0n);
  }

  aggNormalize(id: number, n: bigint): void {
    this.aggs[id].normalize(n);
  }

  aggDenormalize(id: number): void {
    this.aggs[id].denormalize();
  }

  protected sortOptions() {
    const o = this.opts;
    const zoom = o.flag('aggzoom');
    for (const a of this.aggs) if (a !== undefined) a.zoom = zoom;
    const enc = o.get('encoding');
    const term = process.env.TERM;
    return {
      display: {
        agghist: o.flag('agghist'),
        aggpack: o.flag('aggpack'),
        aggzoom: zoom,
        // unset: UTF-8 unless the terminal is known not to draw it (dt_print_packed)
        utf8: enc === 2n || (enc !== 1n && term !== 'dumb' && term !== 'sun' && term !== 'sun-color'),
        rawbytes: o.flag('rawbytes'),
      },
      aggsortkey: o.flag('aggsortkey'),
      aggsortrev: o.flag('aggsortrev'),
      aggsortpos: Math.max(0, o.num('aggsortpos')),
      aggsortkeypos: Math.max(0, o.num('aggsortkeypos')),
      rawbytes: o.flag('rawbytes'),
      folded: o.get('stackformat') === 1n,
    };
  }

  /** What dtrace prints at exit for the aggregations no printa() printed. */
  finalAggregations(): string {
    this.aggSync?.();
    return formatAggregations(this.aggs.filter((a) => a !== undefined), this.sortOptions());
  }

  /** Where -x flamegraph's SVG goes at exit (the command opens the file before tracing). */
  flameGraphOut: ((svg: string) => void) | null = null;

  /**
   * The flame graph of the aggregations as they stand (-x flamegraph), written where
   * flameGraphOut says; nothing without the option or a place to write it.
   */
  writeFlameGraph(): void {
    if (this.flameGraphOut === null || !this.opts.flag('flamegraph')) return;
    this.aggSync?.();
    const aggs = this.aggs.filter((a) => a !== undefined);
    const stacks = flameStacks(aggs);
    const counts = aggs.every((a) => a.fn !== AggFn.Sum || a.size === 0);
    this.flameGraphOut(flameGraphSvg(stacks, { title: 'Flame Graph', unit: counts ? 'samples' : '' }));
  }

  /** What ends the output when tracing has stopped: a blank line, the aggregations left. */
  printFinal(_status: number): void {
    this.out.write('\n');
    this.out.write(this.finalAggregations());
  }

  /** The line a first Ctrl-C ends the output's current line with (not under _DTRACE_TESTING). */
  interrupted(): void {
    if (!this.testing) this.out.write('\n');
  }

  /**
   * A problem found while tracing that is no fault of dtrace's: a drop (`kind` its
   * DTRACEDROP_* tag) or an error on an enabled probe (`kind` 'error'). Text output: DTrace's
   * message on standard error; `detail` is what structured output records besides.
   */
  report(_kind: string, message: string, _detail: Record<string, number | string | null>): void {
    this.warn(message);
  }

  // -- actions -------------------------------------------------------------------------------------

  trace(t: DType, v: Value | null): void {
    if (v === null) throw new S.DFault(S.FLT_BADADDR, 0n);
    const quiet = this.quiet;
    this.put(formatTraceValue(t, v, quiet, this.traceOpts));
  }

  /**
   * printf()'s argument values, filled by the generated code before it calls printf() (one
   * reused array: no array per event, STYLE rule 2; no argument is an action, so no printf()
   * runs while another's values are being filled).
   */
  readonly pargs: Array<Value | null> = [];

  /** printf(): the first `n` of `args` (default: all), through the plan's formatter if given. */
  printf(ctx: ProbeContext, plan: FormatPlan, args: Array<Value | null>, n = args.length, format?: Formatter): void {
    for (let i = 0; i < n; i++) if (args[i] === null) throw new S.DFault(S.FLT_BADADDR, 0n);
    let text: string;
    try {
      text = format !== undefined ? format(args as Value[], n) : formatPrintf(plan, args as Value[], undefined, n);
    } catch (e) {
      text = this.formatFailed(ctx, e);
    }
    this.put(text);
  }

  printa(ctx: ProbeContext, plan: FormatPlan | null, ids: number[]): void {
    this.aggSync?.();
    const aggs = ids.map((i) => this.aggs[i]);
    if (plan === null) {
      this.put(formatPrintaRows(aggs, this.sortOptions()));
      return;
    }
    let text: string;
    try {
      text = this.formatPrintaWith(plan, aggs);
    } catch (e) {
      text = this.formatFailed(ctx, e);
    }
    this.put(text);
  }

  /**
   * A record printf(3) could not format: DTrace's consumer reports it against the enabling
   * (dt_handle_liberr) and the clause's other actions stand, as they ran when the probe fired.
   * What was formatted before the failing conversion is printed, as dtrace prints it piece by
   * piece. Returns that text.
   */
  protected formatFailed(ctx: ProbeContext, e: unknown): string {
    if (!(e instanceof PrintfDataError)) throw e;
    this.libraryError(ctx, e.message);
    return e.partial;
  }

  /** An error found by the consumer rather than in probe context (dt_handle_liberr's text). */
  libraryError(ctx: ProbeContext, msg: string): void {
    const p = ctx.probe;
    this.report('error', `error on enabled probe ID ${ctx.epid} (ID ${p.id}: ${p.desc}): ${msg}`, { epid: ctx.epid, id: p.id, fault: null });
  }

  protected formatPrintaWith(plan: FormatPlan, aggs: Aggregation[]): string {
    const opts = this.sortOptions();
    // rows: the union of keys, sorted as printa() sorts
    let out = '';
    const first = aggs[0];
    const slots = aggs.length === 1 ? first.sortedSlots(opts) : null;
    if (slots) {
      for (const s of slots) {
        const keys = first.keyValues(s);
        out += formatPrinta(plan, keys, [first.printfValue(s, true) as Value]);
      }
      if (slots.length > 0) first.printed = true;
      return out;
    }
    const rows = joinRows(aggs, opts);
    for (const r of rows) {
      const keys = r.rep.keyValues(r.repSlot);
      const vals = aggs.map((a, i) => a.printfValue(r.slots[i], true) as Value);
      out += formatPrinta(plan, keys, vals);
    }
    if (rows.length > 0) for (const a of aggs) a.printed = true;
    return out;
  }

  exit(_ctx: ProbeContext, status: number): void {
    // the last exit() wins (exit(1) in BEGIN, then exit(0) in END, exits 0)
    this.exitReq.requested = true;
    this.exitReq.status = status;
  }

  /**
   * tracemem(addr, size[, dsize]): `size` bytes are recorded; a dynamic size prints fewer (as
   * Oracle's test has it: a negative dsize of a signed type prints them all, 0 none).
   */
  tracemem(addr: bigint, n: bigint, dyn?: bigint, dynType?: DType): void {
    const size = Number(n);
    const bytes = this.mem.bytes(addr, size);
    const len = dyn === undefined || dynType === undefined ? size : tracememLength(size, dyn, dynType);
    this.put(formatTracemem(bytes, len));
  }

  /** print(p): the object p points to, member by member, with its type. */
  print(t: DType, v: Value | null): void {
    const pointee = resolveType(t).base;
    if (typeof v !== 'bigint' || pointee === null) throw new S.DFault(S.FLT_ILLOP, 0n);
    const size = resolveType(pointee).size;
    this.put(formatPrint(pointee, v, v === 0n ? new Uint8Array(size) : this.mem.bytes(v, size), this.option().printsizeNow));
  }

  /** print(v) of a value that is no pointer: the value with its type, as illumos prints it. */
  printValue(t: DType, v: Value | null): void {
    if (v instanceof Uint8Array) {
      // a struct, union or array by value: laid out as print() of a pointer to it lays it out
      this.put(formatPrint(t, this.bytesAddr(v), v, this.opts.num('printsize')));
      return;
    }
    this.put(formatPrintValue(t, v ?? ''));
  }

  setopt(ctx: ProbeContext, name: string | null, value?: string | null): void {
    if (name === null) throw new S.DFault(S.FLT_BADADDR, 0n);
    try {
      this.opts.set(name, value === undefined ? null : value, 'running');
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      this.libraryError(ctx, `couldn't set option "${name}" to "${value ?? '1'}": ${reason}`);
    }
  }

  raise(ctx: ProbeContext, sig: number): void {
    try {
      process.kill(ctx.pid, sig);
    } catch {
      // a process that is gone cannot be signalled; DTrace is silent too
    }
  }

  system(_ctx: ProbeContext, plan: FormatPlan, args: Array<Value | null>): void {
    // the command runs when its record reaches the output, after what was printed before it
    this.putAction(new OutputAction(OutputActionKind.System, formatSprintf(plan, args as Value[], this.strsize)));
  }

  freopen(_ctx: ProbeContext, plan: FormatPlan, args: Array<Value | null>): void {
    const path = plan.restore ? '' : formatSprintf(plan, args as Value[], this.strsize);
    this.putAction(new OutputAction(OutputActionKind.Freopen, path));
  }

  ftruncate(): void {
    this.putAction(new OutputAction(OutputActionKind.Ftruncate, ''));
  }

  /** A stack as a value (an aggregation key): its frames, symbolised, one per line. */
  stackValue(ctx: ProbeContext, kind: string, n: number): string {
    if (kind !== 'stack') return this.userStackValue(ctx, kind, n);
    // probes without a kernel context (BEGIN, END) have none
    return this.kernelStackText(ctx.kstack, ctx.kstackLen, n);
  }

  /** stack(n)'s value (n < 0: stackframes') for frames (kernelOffset()s, innermost first). */
  kernelStackText(frames: Float64Array, len: number, n: number): string {
    if (len === 0) return '';
    const o = this.option();
    const depth = Math.min(len, n >= 0 ? n : o.stackframesNow, o.maxframesNow < 0 ? Infinity : o.maxframesNow);
    let s = '';
    for (let i = 0; i < depth; i++) s += (i > 0 ? '\n' : '') + kernelSymbols.frame(frames[i]);
    return s;
  }

  /**
   * ustack() and jstack(): the user stack captured with the event (kernel/ustack: unwound with
   * CFI), each frame symbolised as DTrace prints it; empty where the probe has no user context.
   */
  private userStackValue(ctx: ProbeContext, kind: string, n: number): string {
    const us = currentUserStack;
    if (us.pid === 0 || us.pid !== ctx.pid) return '';
    const o = this.option();
    // maxframes bounds every stack, as the kernel's buffer does in DTrace
    const want = Math.min(n >= 0 ? n : kind === 'jstack' ? o.jstackframesNow : o.ustackframesNow, o.maxframesNow);
    const depth = Math.min(us.unwind(), want);
    return userStackText(us, depth, o.noresolveNow ? userFrameOffsetText : userFrameText);
  }

  /** ustackdepth: frames of the user stack at the probe. */
  ustackdepth(ctx: ProbeContext): number {
    const us = currentUserStack;
    return us.pid === 0 || us.pid !== ctx.pid ? 0 : Math.min(us.unwind(), this.option().maxframesNow);
  }

  /** ucaller: the user address the probe's function was called from (the user stack's second frame). */
  ucaller(ctx: ProbeContext): bigint {
    const us = currentUserStack;
    if (us.pid === 0 || us.pid !== ctx.pid) return 0n;
    return us.unwind() > 1 ? BigInt(us.frames[1]) : 0n;
  }

  /**
   * usym(), ufunc(), umod(), uaddr() as values (aggregation keys, %A): the text DTrace prints for
   * the address in the firing process (symbolised now: the process may be gone when it prints).
   */
  userSymbolValue(ctx: ProbeContext, kind: string, addr: bigint): string {
    const a = Number(BigInt.asUintN(64, addr));
    if (ctx.pid <= 0) return '0x' + a.toString(16);
    if (kind === 'umod') return userModuleText(ctx.pid, a);
    if (this.option().noresolveNow) return userFrameOffsetText(ctx.pid, a);
    return userFrameText(ctx.pid, kind === 'uaddr' ? a : userSymbolStart(ctx.pid, a));
  }

  stack(ctx: ProbeContext, kind: string, n: number): void {
    const v = this.stackValue(ctx, kind, n);
    this.put(formatStack(v === '' ? [] : v.split('\n')));
  }

  stackdepth(ctx: ProbeContext): number {
    return ctx.kstackLen;
  }

  /** The address the probe's function was called from: the stack's second frame. */
  caller(ctx: ProbeContext): bigint {
    return ctx.kstackLen > 1 ? kernelAddress(ctx.kstack[1]) : 0n;
  }

  symbolStart(addr: bigint): bigint {
    const off = kernelOffsetOf(addr);
    const start = off < 0 ? -1 : kernelSymbols.start(off);
    return start < 0 ? addr : BigInt.asIntN(64, kernelAddress(start));
  }

  /**
   * sym(), func() and mod() of a kernel address: "module`function" or the module, as DTrace
   * prints them (in 50 columns); hex where no symbol covers it, and for user addresses
   * (usym() and the like) for now.
   */
  symbol(ctx: ProbeContext, kind: string, addr: bigint): void {
    if (kind[0] === 'u') {
      this.put(`  ${this.userSymbolValue(ctx, kind, addr).padEnd(50)}`);
      return;
    }
    this.put(`  ${kernelSymbolText(kind, addr).padEnd(50)}`);
  }

  chill(ns: number): void {
    const end = process.hrtime.bigint() + BigInt(Math.max(0, ns));
    while (process.hrtime.bigint() < end) {
      // chill() spins by design
    }
  }

  // -- speculations --------------------------------------------------------------------------------

  speculation(_ctx: ProbeContext): number {
    const specs = this.specs;
    let i = 1;
    for (; i < specs.length; i++) {
      const s = specs[i];
      if (!s.active && !s.draining) break;
    }
    if (i === specs.length) {
      if (i > this.nspec) {
        if (this.drained.length > 0) this.specBusy++;
        else this.specUnavail++;
        return 0;
      }
      specs.push(new Speculation());
    }
    const s = specs[i];
    s.active = true;
    s.records = [];
    s.size = 0;
    return i;
  }

  /** speculate(): the rest of the clause records into speculation `id`; an ID that names no
   * active speculation ends the clause quietly (nothing after it runs). */
  speculate(_ctx: ProbeContext, id: number): void {
    if (id <= 0 || id >= this.specs.length || !this.specs[id].active) throw CLAUSE_ABORT;
    this.specId = id;
  }

  commit(_ctx: ProbeContext, id: number): void {
    if (id < 0 || id > this.nspec) throw new S.DFault(S.FLT_ILLOP, 0n);
    const s = this.specs[id];
    if (id <= 0 || s === undefined || !s.active) return;
    for (const r of s.records) this.emitRecord(r);
    this.drain(s);
  }

  discard(_ctx: ProbeContext, id: number): void {
    if (id < 0 || id > this.nspec) throw new S.DFault(S.FLT_ILLOP, 0n);
    const s = this.specs[id];
    if (id <= 0 || s === undefined || !s.active) return;
    this.drain(s);
  }

  private drain(s: Speculation): void {
    s.records = [];
    s.size = 0;
    s.active = false;
    s.draining = true;
    this.drained.push(s);
  }

  /** After a probe firing: committed and discarded speculations become free again. */
  endFiring(): void {
    const d = this.drained;
    if (d.length > 0) {
      for (let i = 0; i < d.length; i++) d[i].draining = false;
      d.length = 0;
    }
  }
}

/** Writes a number or string into a struct member of a byte image. */
/** Linux's O_CLOEXEC (a descriptor's flag, not the file's) */
const O_CLOEXEC_FLAG = 0o2000000;

/** the fds[] view of no descriptor */
const FD_NONE = 0xffffff;

function setField(b: Uint8Array, t: DType, name: string, v: number | string): void {
  const m = findMember(t, name);
  if (!m) return;
  const mt = resolveType(m.type);
  if (typeof v === 'string') {
    const n = Math.min(v.length, mt.size - 1);
    for (let i = 0; i < n; i++) b[m.offset + i] = v.charCodeAt(i) & 0xff;
    // what a field set before held past it is gone
    b.fill(0, m.offset + n, m.offset + mt.size);
    return;
  }
  const dv = new DataView(b.buffer, b.byteOffset);
  switch (mt.kind === Kind.Pointer ? 8 : mt.size) {
    case 1:
      dv.setInt8(m.offset, v);
      break;
    case 2:
      dv.setInt16(m.offset, v, true);
      break;
    case 4:
      dv.setInt32(m.offset, v, true);
      break;
    case 8:
      dv.setBigInt64(m.offset, BigInt(v), true);
      break;
  }
}

/**
 * lwpsinfo_t pr_clname for Linux scheduling policies: ps(1)'s class names (TS is also
 * Solaris's time-sharing class).
 */
const SCHED_CLASS: Record<number, string> = { 0: 'TS', 1: 'FF', 2: 'RR', 3: 'B', 4: 'ISO', 5: 'IDL', 6: 'DLN' };

/** lwpsinfo_t pr_state numbers for Linux's state letters (Solaris SSLEEP=1, SRUN=2, ...). */
function stateNumber(s: string): number {
  switch (s) {
    case 'S':
    case 'D':
    case 'I':
      return 1;
    case 'R':
      return 2;
    case 'Z':
      return 3;
    case 'T':
    case 't':
      return 4;
    default:
      return 0;
  }
}

const STACK_KEY: OpaqueKeyType = {
  opaque: true,
  stack: true,
  size: 8,
  compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  format: (v) => formatStack(typeof v === 'string' && v !== '' ? v.split('\n') : []),
};

/** What sym(), func() (kind 'sym', 'func') or mod() print for an address. */
function kernelSymbolText(kind: string, addr: bigint): string {
  const off = kind === 'sym' || kind === 'func' || kind === 'mod' ? kernelOffsetOf(addr) : -1;
  const s = off < 0 ? null : kind === 'mod' ? kernelSymbols.module(off) : kernelSymbols.symbol(off);
  return s ?? '0x' + BigInt.asUintN(64, addr).toString(16);
}

/** sym()/func() keys (mod() keys print as sym() ones: the key's type does not tell them apart) */
const SYM_KEY: OpaqueKeyType = {
  opaque: true,
  size: 8,
  compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  format: (v) => `  ${kernelSymbolText('sym', BigInt(v as bigint)).padEnd(50)}`,
};

/** usym(), ufunc(), umod(), uaddr() keys: their text, made when the probe fired */
const USYM_KEY: OpaqueKeyType = {
  opaque: true,
  size: 16,
  compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  format: (v) => `  ${(typeof v === 'string' ? v : '0x' + BigInt.asUintN(64, BigInt(v as bigint)).toString(16)).padEnd(50)}`,
};

/** Aggregation key types: stack() and sym() results are opaque to the aggregation engine. */
function keyTypeOf(t: DType): KeyType {
  for (let u: DType | null = t; u !== null && u.kind === Kind.Typedef; u = u.base) {
    if (u.name === 'stack') return STACK_KEY;
    if (u.name === '_usymaddr') return USYM_KEY;
    if (u.name === '_symaddr') return SYM_KEY;
  }
  return t;
}

/**
 * The largest key record and data record among the aggregations, as DTrace sizes them (the
 * entries of the aggregation buffer are that big), with the most keys any has; null if none.
 */
export function aggRecordSizes(aggs: readonly AggSpec[]): { tuple: number; data: number; nkeys: number } | null {
  if (aggs.length === 0) return null;
  let tuple = 0;
  let data = 0;
  let nkeys = 0;
  for (const a of aggs) {
    const p = a.params.map(Number);
    const nb =
      a.fn === 'quantize'
        ? QUANTIZE_NBUCKETS
        : a.fn === 'lquantize'
          ? new LQuantizeParams(p[0], p[1], p[2] ?? 1).nbuckets
          : a.fn === 'llquantize'
            ? new LLQuantizeParams(p[0], p[1], p[2], p[3]).nbuckets
            : 0;
    tuple = Math.max(tuple, aggTupleBytes(a.keys.map(keyTypeOf)));
    data = Math.max(data, aggDataBytes(AGG_FNS[a.fn], nb));
    nkeys = Math.max(nkeys, a.keys.length);
  }
  return { tuple, data, nkeys };
}

const AGG_FNS: Record<string, AggFn> = {
  count: AggFn.Count,
  sum: AggFn.Sum,
  avg: AggFn.Avg,
  min: AggFn.Min,
  max: AggFn.Max,
  stddev: AggFn.Stddev,
  quantize: AggFn.Quantize,
  lquantize: AggFn.LQuantize,
  llquantize: AggFn.LLQuantize,
};

import { joinAggregations } from './printa.js';

function joinRows(aggs: Aggregation[], opts: ReturnType<Runtime['sortOptions']>) {
  return joinAggregations(aggs, opts);
}

export { SCRATCH_BASE };
