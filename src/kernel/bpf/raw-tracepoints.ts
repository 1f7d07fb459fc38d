// Raw tracepoints: a BPF program of type BPF_PROG_TYPE_RAW_TRACEPOINT on each wanted kernel
// tracepoint (attached by name with BPF_RAW_TRACEPOINT_OPEN) copies the tracepoint's arguments,
// untranslated, a u64 each, with the thread and the time, into the per-CPU perf rings of a
// TracepointCapture (capture.ts: the programs' maps, rings and reader), whose records this
// source hands to each tracepoint's handler in time order with the other events. The programs
// and links are file descriptors: closing them detaches them, and a killed dtrace leaves none.
//                                                               [dt_prov_rawtp.c, dt_bpf.c]

import type { EventSink, EventSource } from '../ringbuf.js';
import { Program, R0, R1, R6 } from './asm.js';
import { type CaptureValues, RAW_ARGS, RAW_INDEX, type RawTest, TracepointCapture } from './capture.js';
import { BPF_PROG_TYPE_RAW_TRACEPOINT, BpfObjects, ProgramRejected } from './objects.js';
import { SysError } from './sys.js';

export { RAW_ARGS, RAW_PID, RAW_TID, type RawTest } from './capture.js';

/**
 * Where a raw tracepoint record's first computed value is (RawTracepoints.add's `values`),
 * from the record's start, for a tracepoint of `args` arguments: after them, 8-aligned.
 */
export function rawValuesAt(args: number): number {
  return (RAW_ARGS + 8 * args + 7) & ~7;
}

/** The most arguments a raw tracepoint passes (MAX_BPF_FUNC_ARGS). */
export const RAW_MAX_ARGS = 12;

/**
 * Handles one raw tracepoint record: `view` holds it at `off` (RAW_TID, RAW_PID, RAW_ARGS + 8i
 * from there); `ts` is ns after the reader's base.
 */
export type RawHandler = (cpu: number, page: Buffer, view: DataView, off: number, len: number, ts: number) => void;

export class RawTracepoints implements EventSink {
  private readonly wanted: Array<{ tracepoint: string; args: number; filter: RawTest[][]; values: CaptureValues[] }> = [];
  private readonly handlers: RawHandler[] = [];
  private capture: TracepointCapture | null = null;

  /**
   * Asks for a raw tracepoint's records, with its first `args` arguments; `filter`: only those
   * that one of its ANDs of tests holds for (empty: all); `values`: computed as it fires, after
   * the arguments (rawValuesAt() says where).
   */
  add(tracepoint: string, args: number, handler: RawHandler, filter: RawTest[][] = [], values: CaptureValues[] = []): void {
    this.wanted.push({ tracepoint, args: Math.max(0, Math.min(RAW_MAX_ARGS, args)), filter, values });
    this.handlers.push(handler);
  }

  get size(): number {
    return this.wanted.length;
  }

  /**
   * Opens the rings (`ringBytes` each) and attaches the programs; returns the source to merge
   * with the other events. A failure closes what was made.
   */
  start(cpus: number[], base: bigint, ringBytes: number): EventSource {
    const cap = new TracepointCapture(cpus, ringBytes);
    cap.setBase(base);
    for (const w of this.wanted) {
      cap.add({
        tracepointId: 0,
        recordSize: RAW_ARGS + 8 * w.args,
        copies: [],
        output: true,
        keepForReturn: false,
        bookkeeping: false,
        raw: { tracepoint: w.tracepoint, args: w.args, filter: w.filter },
        values: w.values,
      });
    }
    cap.start();
    this.capture = cap;
    for (const q of cap.queues) q.sink = this;
    return cap;
  }

  event(cpu: number, page: Buffer, view: DataView, off: number, len: number, ts: number): void {
    const h = this.handlers[view.getUint32(off + RAW_INDEX, true)];
    if (h !== undefined) h(cpu, page, view, off, len, ts);
  }

  /** Records each CPU could not write (its ring was full), since the start, by CPU. */
  lost(): number[] {
    return this.capture === null ? [] : this.capture.lost();
  }

  /** Detaches the programs (what the rings hold can still be read). */
  stop(): void {
    this.capture?.stop();
  }

  /** Frees everything; safe more than once. */
  close(): void {
    this.capture?.close();
    this.capture = null;
  }
}

const EPERM = 1;
const ENOENT = 2;
const ENOMEM = 12;

/**
 * How many arguments a raw tracepoint passes, found as Oracle's dtrace finds it without type
 * information: the kernel refuses to attach a program that reads past the last one, so the
 * largest count it accepts is the count. Null if the kernel has no raw tracepoint of that
 * name; a refusal that says nothing of the count (privileges, locked memory) is thrown.
 */
export function rawTracepointArgCount(tracepoint: string): number | null {
  for (let n = RAW_MAX_ARGS; n >= 0; n--) {
    const objects = new BpfObjects();
    try {
      const p = new Program();
      if (n > 0) p.load(8, R6, R1, 8 * (n - 1));
      const prog = objects.loadProgram(BPF_PROG_TYPE_RAW_TRACEPOINT, p.movImm(R0, 0).exit().encode(), 'dtrace_ts_nargs');
      objects.attachRawTracepoint(tracepoint, prog);
      return n;
    } catch (e) {
      const errno = e instanceof SysError || e instanceof ProgramRejected ? e.errno : 0;
      if (errno === EPERM || errno === ENOMEM) throw e;
      if (e instanceof SysError && e.errno === ENOENT) return null;
    } finally {
      objects.close();
    }
  }
  return null;
}
