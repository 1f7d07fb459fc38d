// Events that come with a user stack: for a tracepoint (a syscall, sched, proc or uprobe event)
// whose probes call ustack() and the like, one perf event per CPU of type TRACEPOINT on the
// event's id, sampling every hit with its raw record, the user registers and a copy of the user
// stack (PERF_SAMPLE_RAW | REGS_USER | STACK_USER: `perf record --call-graph dwarf`'s way,
// there since Linux 3.7, no BPF needed). The events of a CPU share one perf ring with a dummy
// event that also reports, in band, what processes map (MMAP2), exec (COMM) and fork (FORK), so
// that stacks are symbolised against the mappings the process had then, even after it exited.
// The records are handed to the tracer's handlers as tracefs records would be, the user stack
// set in kernel/ustack's currentUserStack while each is handled.
//                                                     [perf_event_open(2); perf's --call-graph dwarf]

import { readdirSync } from 'node:fs';
import type { EventQueue, EventSink, EventSource } from './ringbuf.js';
import { ATTR_DISABLED, ATTR_USE_CLOCKID, CLOCK_MONOTONIC, PERF_ATTR_SIZE, PERF_TYPE_SOFTWARE, PERF_TYPE_TRACEPOINT, SysError, addressOf, ioctlInt } from './bpf/sys.js';

const ESRCH = 3;
const EINVAL = 22;
import {
  PERF_RECORD_COMM,
  PERF_RECORD_FORK,
  PERF_RECORD_MMAP,
  PERF_RECORD_MMAP2,
  PERF_RECORD_SAMPLE,
  type PerfRecordSink,
  type PerfRing,
  PerfRings,
  copyBytes,
} from './perf-ring.js';
import { PERF_REGS_X86, USTACK_DATA_AT, USTACK_NREGS, USTACK_REGS_AT, currentUserStack } from './ustack.js';
import { userMappings } from './umaps.js';

const PERF_COUNT_SW_DUMMY = 9;
const PERF_SAMPLE_TID = 1 << 1;
const PERF_SAMPLE_TIME = 1 << 2;
const PERF_SAMPLE_CPU = 1 << 7;
const PERF_SAMPLE_RAW = 1 << 10;
export const PERF_SAMPLE_REGS_USER = 1 << 12;
export const PERF_SAMPLE_STACK_USER = 1 << 13;
const PERF_EVENT_IOC_SET_FILTER = 0x40082406;
const PERF_RECORD_MISC_COMM_EXEC = 1 << 13;
const ATTR_INHERIT = 1n << 1n;
const ATTR_MMAP = 1n << 8n;
const ATTR_COMM = 1n << 9n;
const ATTR_TASK = 1n << 13n;
const ATTR_SAMPLE_ID_ALL = 1n << 18n;
const ATTR_MMAP2 = 1n << 23n;
const ATTR_COMM_EXEC = 1n << 24n;
/** with ATTR_INHERIT: only threads (CLONE_THREAD) inherit the event, not forked processes (Linux 5.13) */
const ATTR_INHERIT_THREAD = 1n << 35n;

/** Bytes of user stack copied at each event (perf's default for --call-graph dwarf is 8 KiB). */
export const USER_STACK_BYTES = 16384;
/** The registers asked for (sample_regs_user). */
export const USER_REGS_MASK = PERF_REGS_X86.reduce((m, r) => m | (1n << BigInt(r)), 0n);

/** Bytes of one queue page: at least two of the largest records. */
const QUEUE_PAGE = 256 * 1024;
/** The largest queued record. */
const MAX_QUEUED = 16 + 8 + 65536;

/** Queued record kinds (u32 at offset 0). */
const Q_SAMPLE = 1;
const Q_MMAP = 2;
const Q_EXEC = 3;
const Q_FORK = 4;

/** Sets the user registers and stack fields of a perf_event_attr (x86-64 register numbers). */
export function addUserStackAttr(attr: Buffer): void {
  // the registers asked for are x86-64's: elsewhere (arm64) no copy is taken yet, and stacks are empty
  if (process.arch !== 'x64') return;
  attr.writeBigUInt64LE(attr.readBigUInt64LE(24) | BigInt(PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER), 24);
  attr.writeBigUInt64LE(USER_REGS_MASK, 80);
  attr.writeUInt32LE(USER_STACK_BYTES, 88);
}

/**
 * Copies the REGS_USER and STACK_USER parts of a sample at `at` in `s` into a user stack block
 * (kernel/ustack's layout) at `to` in `d`; returns the bytes written.
 */
export function copyUserStack(s: DataView, at: number, end: number, d: DataView, to: number): number {
  const abi = at + 8 <= end ? s.getUint32(at, true) : 0;
  at += 8;
  d.setUint32(to, abi, true);
  if (abi !== 0) {
    for (let i = 0; i < USTACK_NREGS * 2; i++) d.setUint32(to + USTACK_REGS_AT + i * 4, s.getUint32(at + i * 4, true), true);
    at += USTACK_NREGS * 8;
  } else {
    for (let i = 0; i < USTACK_NREGS * 2; i++) d.setUint32(to + USTACK_REGS_AT + i * 4, 0, true);
  }
  let dyn = 0;
  if (at + 8 <= end) {
    const size = s.getUint32(at, true);
    at += 8;
    if (size > 0 && at + size + 8 <= end) {
      dyn = Math.min(size, s.getUint32(at + size, true));
      copyBytes(s, at, d, to + USTACK_DATA_AT, dyn);
    }
  }
  d.setUint32(to + 4, dyn, true);
  return (USTACK_DATA_AT + dyn + 7) & ~7;
}

/** A tracepoint to sample with user stacks. */
export interface UserStackEvent {
  /** events/<system>/<event>/id */
  id: number;
  /**
   * Only this process's (and the tasks it creates'): the events are bound to it, so that a
   * uprobe in a shared library does not even trap in other processes; 0: every process's
   */
  pid: number;
  /** a tracefs filter for the kernel to apply (null: none; user space checks anyway) */
  filter: string | null;
  /** with a copy of the user stack and registers (default: yes) */
  stack?: boolean;
  /**
   * Only the process's threads, not the processes it forks (a pid probe's: the uprobe then
   * traps in no child either), where the kernel can tell (Linux 5.13's inherit_thread)
   */
  threadsOnly?: boolean;
  /** the threads its events were opened for (set by the first CPU's, used by the others') */
  tids?: number[];
}

/** The threads of a process now (just the process if /proc cannot say). */
export function threadsOf(pid: number): number[] {
  try {
    const tids = readdirSync(`/proc/${pid}/task`).map(Number).filter((t) => t > 0);
    return tids.length > 0 ? tids.sort((a, b) => (a === pid ? -1 : b === pid ? 1 : a - b)) : [pid];
  } catch {
    return [pid];
  }
}

/** Whether the kernel takes inherit_thread (null: not asked yet). */
let inheritThreadWorks: boolean | null = null;

/** Handles one tracepoint record (common header first) as the tracer does. */
export type RawHandler = (cpu: number, page: Buffer, view: DataView, off: number, len: number, ts: number) => void;

const SAMPLE_BASE = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU;

export class UserStackEvents implements EventSource, EventSink, PerfRecordSink {
  /** one ring per CPU, the side-band event's, which the tracepoints' events write into too */
  private readonly perf: PerfRings;

  constructor(
    /** the tracepoints to sample with user stacks (none: the side-band records only) */
    readonly events: UserStackEvent[],
    readonly cpus: number[],
    readonly ringPages: number,
    /** gets each sampled record */
    public handler: RawHandler,
    /**
     * With the side band of what processes map, exec and fork (symbolising user stacks); without
     * it, the rings hold the events' records only
     */
    readonly sideBand = true,
  ) {
    this.perf = new PerfRings(this, QUEUE_PAGE, this);
  }

  get queues(): EventQueue[] {
    return this.perf.queues;
  }

  private attr(type: number, config: number, sampleType: number, flags: bigint): Buffer {
    const attr = Buffer.alloc(PERF_ATTR_SIZE);
    attr.writeUInt32LE(type, 0);
    attr.writeUInt32LE(PERF_ATTR_SIZE, 4);
    attr.writeBigUInt64LE(BigInt(config), 8);
    attr.writeBigUInt64LE(1n, 16); // every hit
    attr.writeBigUInt64LE(BigInt(sampleType), 24);
    attr.writeBigUInt64LE(flags | ATTR_DISABLED | ATTR_USE_CLOCKID | ATTR_SAMPLE_ID_ALL, 40);
    attr.writeUInt32LE(1, 48); // wakeup_events
    attr.writeInt32LE(CLOCK_MONOTONIC, 92);
    return attr;
  }

  /** Opens the events, disabled; throws what perf_event_open(2) said, having closed what it opened. */
  open(): void {
    const side = this.attr(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_DUMMY, SAMPLE_BASE, this.sideBand ? ATTR_MMAP | ATTR_MMAP2 | ATTR_COMM | ATTR_COMM_EXEC | ATTR_TASK : 0n);
    try {
      for (const cpu of this.cpus) {
        const lead = this.perf.open(side, -1, cpu, this.ringPages);
        this.leads.push(lead);
        for (const e of this.events) this.openEvent(e, cpu, lead);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** the side-band event of each CPU (in `cpus` order), whose ring the others write into */
  private readonly leads: number[] = [];
  private enabled = false;

  /**
   * Opens one tracepoint's event on one CPU into that CPU's ring: for a process, one per thread
   * it has now (a perf event follows one task), each followed by the threads (and, unless
   * threadsOnly, the processes) that thread creates; returns their fds.
   */
  private openEvent(e: UserStackEvent, cpu: number, lead: number): number[] {
    if (e.pid <= 0) return [this.openOne(e, -1, cpu, lead, 0n)];
    const fds: number[] = [];
    for (const tid of e.tids ?? (e.tids = threadsOf(e.pid))) {
      if (e.threadsOnly === true && inheritThreadWorks !== false) {
        try {
          fds.push(this.openOne(e, tid, cpu, lead, ATTR_INHERIT | ATTR_INHERIT_THREAD));
          inheritThreadWorks = true;
          continue;
        } catch (err) {
          // EINVAL before Linux 5.13: forked processes inherit it too (the handler leaves theirs out)
          if (inheritThreadWorks === true || !(err instanceof SysError) || err.errno !== EINVAL) throw err;
          inheritThreadWorks = false;
        }
      }
      try {
        fds.push(this.openOne(e, tid, cpu, lead, ATTR_INHERIT));
      } catch (err) {
        // a thread that has exited since /proc listed it
        if (tid === e.pid || !(err instanceof SysError) || err.errno !== ESRCH) throw err;
      }
    }
    return fds;
  }

  private openOne(e: UserStackEvent, pid: number, cpu: number, lead: number, flags: bigint): number {
    const a = this.attr(PERF_TYPE_TRACEPOINT, e.id, SAMPLE_BASE | PERF_SAMPLE_RAW, flags);
    if (e.stack !== false) addUserStackAttr(a);
    const fd = this.perf.openInto(a, pid, cpu, lead);
    if (e.filter !== null) setFilter(fd, e.filter);
    return fd;
  }

  /**
   * Samples one more tracepoint, with the rings open and maybe enabled (a probe made while
   * tracing: a pid probe in an object loaded later); throws what perf_event_open(2) said.
   */
  add(e: UserStackEvent): void {
    const mark = this.perf.fdCount();
    let fds: number[];
    try {
      fds = this.cpus.flatMap((cpu, i) => this.openEvent(e, cpu, this.leads[i]));
    } catch (err) {
      // none of its events stays (enable() would start those opened on other CPUs)
      this.perf.closeFrom(mark);
      throw err;
    }
    this.events.push(e);
    if (this.enabled) for (const fd of fds) this.perf.enableOne(fd);
  }

  setBase(base: bigint): void {
    this.perf.setBase(base);
  }

  enable(): void {
    this.perf.enable();
    this.enabled = true;
  }

  disable(): void {
    this.perf.disable();
  }

  lost(): number[] {
    return this.perf.lost();
  }

  /** A queued record, in time order with every other source's. */
  event(cpu: number, page: Buffer, view: DataView, off: number, _len: number, ts: number): void {
    const kind = view.getUint32(off, true);
    const pid = view.getUint32(off + 4, true);
    if (kind === Q_SAMPLE) {
      const rawLen = view.getUint32(off + 8, true);
      const rawAt = off + 16;
      currentUserStack.set(pid, view, rawAt + ((rawLen + 7) & ~7));
      try {
        this.handler(cpu, page, view, rawAt, rawLen, ts);
      } finally {
        currentUserStack.clear();
      }
    } else if (kind === Q_MMAP) {
      const start = num(view, off + 8);
      const len = num(view, off + 16);
      const pgoff = num(view, off + 24);
      const plen = view.getUint32(off + 12 + 20, true);
      userMappings.mmap(pid, start, len, pgoff, page.toString('latin1', off + 40, off + 40 + plen));
    } else if (kind === Q_EXEC) {
      userMappings.exec(pid);
    } else if (kind === Q_FORK) {
      userMappings.fork(pid, view.getUint32(off + 8, true));
    }
  }

  fill(q: EventQueue): void {
    this.perf.fill(q);
  }

  /** A record of the ring: queued in our form (below), or not at all. */
  perfRecord(r: PerfRing, type: number, v: DataView, at: number, size: number): void {
    if (type !== PERF_RECORD_SAMPLE && type !== PERF_RECORD_MMAP2 && type !== PERF_RECORD_MMAP && type !== PERF_RECORD_COMM && type !== PERF_RECORD_FORK) return;
    const d = r.room(MAX_QUEUED);
    const len = this.queue(v, at, size, type, d, r.used);
    if (len === 0) return;
    // the time: a sample's after its pid/tid; the others' in their trailing sample_id
    // (pid, tid, time, cpu, res)
    r.push(0, len, this.perf.time(v, type === PERF_RECORD_SAMPLE ? at + 16 : at + size - 16), len);
  }

  /** Queues one record in our form at `to` in `d`; returns its length (0: not queued). */
  private queue(s: DataView, at: number, size: number, type: number, d: DataView, to: number): number {
    const end = at + size;
    if (type === PERF_RECORD_SAMPLE) {
      // header(8) pid tid(8) time(8) cpu res(8) raw{u32 size, data}
      const pid = s.getUint32(at + 8, true);
      const rawSize = s.getUint32(at + 32, true);
      const rawAt = at + 36;
      d.setUint32(to, Q_SAMPLE, true);
      d.setUint32(to + 4, pid, true);
      d.setUint32(to + 8, rawSize, true);
      d.setUint32(to + 12, 0, true);
      copyBytes(s, rawAt, d, to + 16, rawSize);
      const blockAt = to + 16 + ((rawSize + 7) & ~7);
      return blockAt + copyUserStack(s, rawAt + rawSize, end, d, blockAt) - to;
    }
    if (type === PERF_RECORD_MMAP2 || type === PERF_RECORD_MMAP) {
      // MMAP2: pid tid addr len pgoff maj min ino ino_gen prot flags filename[]
      // MMAP:  pid tid addr len pgoff filename[]
      const pid = s.getUint32(at + 8, true);
      const pathAt = at + (type === PERF_RECORD_MMAP2 ? 72 : 40);
      let e = pathAt;
      // the sample_id trailer (pid tid, time, cpu res) follows the NUL-padded name
      while (e < end - 24 && s.getUint8(e) !== 0) e++;
      const plen = e - pathAt;
      d.setUint32(to, Q_MMAP, true);
      d.setUint32(to + 4, pid, true);
      for (let i = 0; i < 6; i++) d.setUint32(to + 8 + i * 4, s.getUint32(at + 16 + i * 4, true), true);
      d.setUint32(to + 32, plen, true);
      copyBytes(s, pathAt, d, to + 40, plen);
      return (40 + plen + 7) & ~7;
    }
    if (type === PERF_RECORD_COMM) {
      if ((s.getUint16(at + 4, true) & PERF_RECORD_MISC_COMM_EXEC) === 0) return 0;
      d.setUint32(to, Q_EXEC, true);
      d.setUint32(to + 4, s.getUint32(at + 8, true), true);
      return 8;
    }
    // FORK: pid ppid tid ptid time: a new process (pid != ppid) has its parent's mappings
    const pid = s.getUint32(at + 8, true);
    const ppid = s.getUint32(at + 12, true);
    if (pid === ppid) return 0;
    d.setUint32(to, Q_FORK, true);
    d.setUint32(to + 4, pid, true);
    d.setUint32(to + 8, ppid, true);
    d.setUint32(to + 12, 0, true);
    return 16;
  }

  close(): void {
    this.perf.close();
  }
}

/** Gives a tracepoint event a filter; one the kernel refuses only costs speed. */
function setFilter(fd: number, filter: string): void {
  const b = Buffer.from(filter + '\0', 'latin1');
  try {
    ioctlInt(fd, PERF_EVENT_IOC_SET_FILTER, Number(addressOf(b)));
  } catch {
    // user space evaluates every predicate anyway
  }
  b.fill(0, 0, 0); // keeps `b` alive past the call
}

function num(v: DataView, at: number): number {
  return v.getUint32(at, true) + v.getUint32(at + 4, true) * 0x1_0000_0000;
}
