// CPU-clock sampling with perf events: one software cpu-clock event per CPU, each interrupting
// its CPU every period and recording what it interrupted (the thread, the PC, the kernel and
// user call chains) in a per-CPU perf ring, which dtrace reads like its other event sources.
// No BPF: perf_event_open(2) and mmap alone, which kernels without BPF have too.
//                                                                        [dt_prov_profile.c]
//
// A sample record (PERF_RECORD_SAMPLE, with IP | TID | TIME | CPU [| CALLCHAIN]) is
//   header {u32 type, u16 misc, u16 size}, u64 ip, u32 pid, u32 tid, u64 time, u32 cpu, u32 res,
//   [u64 nr, u64 ips[nr]]
// and its call chain is kernel frames after a PERF_CONTEXT_KERNEL marker, user frames after a
// PERF_CONTEXT_USER one. Each is copied to its CPU's queue as a Sample record (below), in the
// time order of the CPU's ring, with nothing allocated per sample.

import { readFileSync } from 'node:fs';
import type { EventQueue, EventSink, EventSource } from './ringbuf.js';
import {
  ATTR_DISABLED,
  ATTR_USE_CLOCKID,
  CLOCK_MONOTONIC,
  PERF_ATTR_SIZE,
  PERF_FLAG_FD_CLOEXEC,
  PERF_TYPE_SOFTWARE,
  SysError,
  closeFd,
  perfEventOpen,
} from './bpf/sys.js';
import { PERF_FORMAT_LOST, PERF_RECORD_SAMPLE, PERF_RECORD_THROTTLE, PERF_RECORD_UNTHROTTLE, type PerfRecordSink, type PerfRing, PerfRings, READ_FORMAT } from './perf-ring.js';
import { USER_STACK_BYTES, addUserStackAttr, copyUserStack } from './perf-ustack.js';
import { USTACK_DATA_AT } from './ustack.js';

const PERF_COUNT_SW_CPU_CLOCK = 0;
const EINVAL = 22;
const PERF_SAMPLE_IP = 1 << 0;
const PERF_SAMPLE_TID = 1 << 1;
const PERF_SAMPLE_TIME = 1 << 2;
const PERF_SAMPLE_CALLCHAIN = 1 << 5;
const PERF_SAMPLE_CPU = 1 << 7;
/** header.misc & 7: where the CPU was */
export const CPUMODE_KERNEL = 1;
export const CPUMODE_USER = 2;
const ATTR_EXCLUDE_USER = 1n << 4n;
const ATTR_EXCLUDE_KERNEL = 1n << 5n;
const ATTR_EXCLUDE_HV = 1n << 6n;
const ATTR_EXCLUDE_GUEST = 1n << 20n;
const ATTR_EXCLUDE_CALLCHAIN_KERNEL = 1n << 21n;
const ATTR_EXCLUDE_CALLCHAIN_USER = 1n << 22n;
/** u32 halves of the call-chain context markers (PERF_CONTEXT_*: -1 ... -4095 as u64) */
const MARKER_LO_MIN = 0xfffff001;
const CONTEXT_KERNEL_LO = 0xffffff80; // -128
const CONTEXT_USER_LO = 0xfffffe00; // -512

/**
 * A sample as queued, 8-byte aligned: u32 pid, u32 tid, u64 ip, u16 cpumode, u16 kernel frames,
 * u16 user frames, u16 0, then the kernel frames' u64s (innermost first), then the user frames'.
 */
export const SAMPLE_PID = 0;
export const SAMPLE_TID = 4;
export const SAMPLE_IP = 8;
export const SAMPLE_MODE = 16;
export const SAMPLE_NKERNEL = 18;
export const SAMPLE_NUSER = 20;
/** u16: 1 if a user stack block (kernel/ustack's layout) follows the frames */
export const SAMPLE_HAS_USTACK = 22;
export const SAMPLE_FRAMES = 24;
/** The most frames of each kind a sample keeps (the kernel's own limit, perf_event_max_stack, is 127). */
export const MAX_FRAMES = 127;
const MAX_SAMPLE = SAMPLE_FRAMES + 2 * MAX_FRAMES * 8;
/** ... and one with a copy of the user stack */
const MAX_USTACK_SAMPLE = MAX_SAMPLE + USTACK_DATA_AT + USER_STACK_BYTES + 8;
/** Bytes of one queue page: many samples each, and at least two of the largest. */
const QUEUE_PAGE = 64 * 1024;
const USTACK_QUEUE_PAGE = 256 * 1024;

export interface SamplerOptions {
  /** CPUs to sample, one event each */
  cpus: number[];
  /** ns of CPU clock between samples (with `event`: that event's count between samples) */
  periodNs: number;
  /** another event than cpu-clock (the cpc provider's), counted in user mode, kernel mode or both */
  event?: SampledEvent;
  /** record the interrupted kernel stack */
  kernelStack: boolean;
  /** record the interrupted user stack (the kernel's frame-pointer walk) */
  userStack: boolean;
  /** record the user registers and a copy of the user stack (unwound with CFI: kernel/ustack) */
  userRegs?: boolean;
  /** pages of each CPU's ring (a power of two) */
  ringPages: number;
}

export interface SampledEvent {
  /** perf_event_attr type and config (PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, ...) */
  type: number;
  config: bigint;
  excludeUser: boolean;
  excludeKernel: boolean;
  /** neither the hypervisor's nor a guest's occurrences (as libpfm4 encodes a hardware event for Oracle's cpc) */
  hostOnly?: boolean;
}

/** The perf_event_attr of a sampler: cpu-clock, a sample every periodNs, on CLOCK_MONOTONIC. */
export function samplerAttr(o: Pick<SamplerOptions, 'periodNs' | 'kernelStack' | 'userStack' | 'event' | 'userRegs'> & { countLost?: boolean }): Buffer {
  const attr = Buffer.alloc(PERF_ATTR_SIZE);
  const callchain = o.kernelStack || o.userStack;
  attr.writeUInt32LE(o.event?.type ?? PERF_TYPE_SOFTWARE, 0);
  attr.writeUInt32LE(PERF_ATTR_SIZE, 4);
  attr.writeBigUInt64LE(o.event?.config ?? BigInt(PERF_COUNT_SW_CPU_CLOCK), 8);
  attr.writeBigUInt64LE(BigInt(Math.max(1, Math.round(o.periodNs))), 16);
  attr.writeBigUInt64LE(BigInt(PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | (callchain ? PERF_SAMPLE_CALLCHAIN : 0)), 24);
  // read(2) tells how many samples the ring had no room for (reported as drops)
  if (o.countLost === true) attr.writeUInt32LE(PERF_FORMAT_LOST, READ_FORMAT);
  let flags = ATTR_DISABLED | ATTR_USE_CLOCKID;
  if (o.event?.excludeUser) flags |= ATTR_EXCLUDE_USER;
  if (o.event?.excludeKernel) flags |= ATTR_EXCLUDE_KERNEL;
  if (o.event?.hostOnly) flags |= ATTR_EXCLUDE_HV | ATTR_EXCLUDE_GUEST;
  if (callchain && !o.kernelStack) flags |= ATTR_EXCLUDE_CALLCHAIN_KERNEL;
  if (callchain && !o.userStack) flags |= ATTR_EXCLUDE_CALLCHAIN_USER;
  attr.writeBigUInt64LE(flags, 40);
  // the same clock as tracefs's "mono" and BPF's ktime: samples merge with their events
  attr.writeInt32LE(CLOCK_MONOTONIC, 92);
  if (o.userRegs === true) addUserStackAttr(attr);
  return attr;
}

/** Receives the samples, in time order merged with every other source's events. */
export type SampleHandler = (cpu: number, page: Buffer, view: DataView, off: number, len: number, ts: number) => void;

export class CpuClockSampler implements EventSource, EventSink, PerfRecordSink {
  /** the per-CPU rings, read into their queues by perfRecord() */
  private readonly perf: PerfRings;
  /** samples carry a call chain */
  private readonly callchain: boolean;
  /** the most bytes a queued sample takes */
  private readonly maxSample: number;
  /** by CPU: when the kernel throttled its event (PERF_RECORD_THROTTLE), NaN once it went on */
  private readonly throttledAt: number[] = [];

  constructor(
    /** gets each sample (may be set once the events are open) */
    public handler: SampleHandler,
    readonly options: SamplerOptions,
  ) {
    this.callchain = options.kernelStack || options.userStack;
    this.maxSample = options.userRegs === true ? MAX_USTACK_SAMPLE : MAX_SAMPLE;
    this.perf = new PerfRings(this, options.userRegs === true ? USTACK_QUEUE_PAGE : QUEUE_PAGE, this);
  }

  get queues(): EventQueue[] {
    return this.perf.queues;
  }

  get rings(): PerfRing[] {
    return this.perf.rings;
  }

  /**
   * Opens one event per CPU, disabled (enable() starts them), and maps its ring. Throws what
   * perf_event_open(2) said (EACCES under perf_event_paranoid, ENOENT without perf, ...),
   * having closed what it opened.
   */
  open(): void {
    const o = this.options;
    let attr = samplerAttr({ ...o, countLost: true });
    try {
      for (const cpu of o.cpus) {
        try {
          this.perf.open(attr, -1, cpu, o.ringPages);
        } catch (e) {
          // a kernel before 6.0 knows no PERF_FORMAT_LOST: its LOST records alone count
          if (!(e instanceof SysError && e.errno === EINVAL) || attr.readUInt32LE(READ_FORMAT) === 0) throw e;
          attr = samplerAttr(o);
          this.perf.open(attr, -1, cpu, o.ringPages);
        }
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Reads a ring mapped at `view` (tests pass one of their own making). */
  attach(cpu: number, view: DataView, bytes: Uint8Array): PerfRing {
    return this.perf.attach(cpu, view, bytes);
  }

  /** Sample times are ns after `base` (CLOCK_MONOTONIC). */
  setBase(base: bigint): void {
    this.perf.setBase(base);
  }

  /** hrtime (CLOCK_MONOTONIC ns) when enable() started the events: the first sample is a period later */
  enabledAt = 0n;

  enable(): void {
    this.enabledAt = process.hrtime.bigint();
    this.perf.enable();
  }

  /** Stops sampling; what the rings hold can still be read. */
  disable(): void {
    this.perf.disable();
  }

  /** Whether a ring holds samples not read yet. */
  pending(): boolean {
    return this.perf.pending();
  }

  /** Samples each CPU's ring could not hold, by CPU. */
  lost(): number[] {
    return this.perf.lost();
  }

  event(cpu: number, page: Buffer, view: DataView, off: number, len: number, ts: number): void {
    this.handler(cpu, page, view, off, len, ts);
  }

  /** Moves the samples a CPU's ring holds into its queue and frees the ring's space. */
  fill(q: EventQueue): void {
    this.perf.fill(q);
  }

  /** A sample record: queued as a Sample. */
  perfRecord(r: PerfRing, type: number, v: DataView, at: number, size: number): void {
    if (type !== PERF_RECORD_SAMPLE) {
      // the kernel stopped the event a while (it took too long to handle, perf_cpu_time_max_percent):
      // the periods it did not sample are drops, as DTrace counts firings it had no room for
      if (type === PERF_RECORD_THROTTLE) this.throttledAt[r.cpu] = this.perf.time(v, at + 8);
      else if (type === PERF_RECORD_UNTHROTTLE && this.options.event === undefined) {
        const from = this.throttledAt[r.cpu];
        if (from !== undefined && !Number.isNaN(from)) r.lost += Math.max(0, Math.round((this.perf.time(v, at + 8) - from) / this.options.periodNs) - 1);
        this.throttledAt[r.cpu] = Number.NaN;
      }
      return;
    }
    const d = r.room(this.maxSample);
    const len = this.copySample(v, at, size, d, r.used);
    r.push(0, len, this.perf.time(v, at + 24), len);
  }

  /** A sample record at `at` (of `size` bytes) as a Sample at `to` in `d`; returns its length. */
  private copySample(s: DataView, at: number, size: number, d: DataView, to: number): number {
    const misc = s.getUint16(at + 4, true);
    d.setUint32(to + SAMPLE_PID, s.getUint32(at + 16, true), true);
    d.setUint32(to + SAMPLE_TID, s.getUint32(at + 20, true), true);
    d.setUint32(to + SAMPLE_IP, s.getUint32(at + 8, true), true);
    d.setUint32(to + SAMPLE_IP + 4, s.getUint32(at + 12, true), true);
    d.setUint16(to + SAMPLE_MODE, misc & 7, true);
    let nk = 0;
    let nu = 0;
    let after = at + 40;
    if (this.callchain) {
      after = at + 48 + s.getUint32(at + 40, true) * 8;
      // the call chain: kernel frames, then user frames, each after its context marker (the
      // kernel's come first, so the user frames go right after them)
      const nr = Math.min(s.getUint32(at + 40, true), (size - 48) >> 3);
      let ctx = 0;
      const fAt = to + SAMPLE_FRAMES;
      for (let i = 0; i < nr; i++) {
        const lo = s.getUint32(at + 48 + i * 8, true);
        const hi = s.getUint32(at + 52 + i * 8, true);
        if (hi === 0xffffffff && lo >= MARKER_LO_MIN) {
          ctx = lo;
          continue;
        }
        let k: number;
        if (ctx === CONTEXT_KERNEL_LO && nu === 0 && nk < MAX_FRAMES) k = nk++;
        else if (ctx === CONTEXT_USER_LO && nu < MAX_FRAMES) k = nk + nu++;
        else continue;
        d.setUint32(fAt + k * 8, lo, true);
        d.setUint32(fAt + k * 8 + 4, hi, true);
      }
    }
    d.setUint16(to + SAMPLE_NKERNEL, nk, true);
    d.setUint16(to + SAMPLE_NUSER, nu, true);
    const len = SAMPLE_FRAMES + (nk + nu) * 8;
    if (this.options.userRegs !== true) {
      d.setUint16(to + SAMPLE_HAS_USTACK, 0, true);
      return len;
    }
    d.setUint16(to + SAMPLE_HAS_USTACK, 1, true);
    return len + copyUserStack(s, after, at + size, d, to + len);
  }

  /** Stops sampling and frees the events and rings; safe to call more than once. */
  close(): void {
    this.perf.close();
  }
}

/** The CPUs online now (/sys/devices/system/cpu/online: "0-3,5"). */
export function onlineCpus(text?: string): number[] {
  let t = text;
  if (t === undefined) {
    try {
      t = readFileSync('/sys/devices/system/cpu/online', 'latin1');
    } catch {
      return [0];
    }
  }
  const out: number[] = [];
  for (const part of t.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out.length > 0 ? out : [0];
}

/**
 * Why CPU-clock sampling of every CPU does not work here, or null if it does: opens one
 * sampling event on CPU 0 and closes it at once.
 */
export function samplingUnavailable(): string | null {
  try {
    closeFd(perfEventOpen(samplerAttr({ periodNs: 10_000_000, kernelStack: true, userStack: false }), -1, onlineCpus()[0], -1, PERF_FLAG_FD_CLOEXEC));
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
