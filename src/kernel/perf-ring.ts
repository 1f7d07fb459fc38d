// Per-CPU perf rings: the events that write them (perf_event_open(2), one ring mapped per CPU),
// and the reading of their records into the CPUs' event queues, in the time order of each ring.
// The owners (perf-sampler: profile and cpc; perf-ustack: user stacks; bpf/capture: BPF copies of
// user memory) say what attr to open and what each record becomes; this file does the rest:
// mapping, the data_head/data_tail bookkeeping, records that wrap the ring's end, lost-record
// counts, enable/disable, and close (after which a ring is never read again: its memory is gone).
//                                                          [perf_event_open(2); perf's mmap.c]
//
// A ring is mapped as a control page (struct perf_event_mmap_page: data_head at 1024, data_tail
// at 1032, data_offset at 1040, data_size at 1048) and data_size bytes of records, each
// {u32 type, u16 misc, u16 size} and its body, 8-byte aligned, so that a header never wraps
// the end. The kernel writes at head; we read from tail and give the space back by moving it.

import { readSync } from 'node:fs';
import { EventQueue, type EventSink, type EventSource } from './ringbuf.js';
import {
  type Mapping,
  PERF_EVENT_IOC_DISABLE,
  PERF_EVENT_IOC_ENABLE,
  PERF_FLAG_FD_CLOEXEC,
  closeFd,
  ioctlInt,
  mapShared,
  perfEventOpen,
  unmap,
} from './bpf/sys.js';

/** perf_event_attr.read_format, and its bit for the count of records lost (Linux 6.0) */
export const READ_FORMAT = 32;
export const PERF_FORMAT_LOST = 1 << 4;
export const PERF_RECORD_MMAP = 1;
export const PERF_RECORD_LOST = 2;
export const PERF_RECORD_COMM = 3;
export const PERF_RECORD_THROTTLE = 5;
export const PERF_RECORD_UNTHROTTLE = 6;
export const PERF_RECORD_FORK = 7;
export const PERF_RECORD_SAMPLE = 9;
export const PERF_RECORD_MMAP2 = 10;
const PERF_EVENT_IOC_SET_OUTPUT = 0x2405;
const PAGE = 4096;
const HEAD = 1024;
const TAIL = 1032;
const DATA_OFFSET = 1040;
const DATA_SIZE = 1048;
/** The largest record (its size is a u16), and room to read u64s just past it. */
const MAX_RECORD = 65536 + 8;

/** One CPU's ring, and where its records go in the CPU's queue. */
export class PerfRing {
  /** bytes read since the ring was mapped (the kernel's data_tail) */
  tail = 0;
  /** the queue page being filled, and bytes used in it (pageSize: none yet) */
  page = -1;
  used = 0;
  /** records the kernel could not write, full (PERF_RECORD_LOST), and samples throttled away */
  lost = 0;
  /**
   * the event whose lost records read(2) tells (PERF_FORMAT_LOST), or -1: a LOST record is
   * written only once the ring has room again, which never comes if sampling stops first
   */
  lostFd = -1;
  constructor(
    readonly cpu: number,
    readonly view: DataView,
    readonly bytes: Uint8Array,
    readonly dataOffset: number,
    readonly dataSize: number,
    readonly queue: EventQueue,
  ) {}

  /**
   * The view of the queue page to write a record of up to `max` bytes into, at `used`: the
   * current page, or a new one when it has not that much room.
   */
  room(max: number): DataView {
    const q = this.queue;
    if (this.used + max > q.pageSize) {
      this.page = q.npages++;
      this.used = 0;
    }
    q.page(this.page);
    return q.views[this.page];
  }

  /** Queues the event at [used + off, + len) of the page with time `ts`; `take` bytes are used. */
  push(off: number, len: number, ts: number, take: number): void {
    this.queue.push(this.page, this.used + off, len, ts);
    this.used += take;
  }
}

/**
 * What the records become. perfRecord() gets every record but PERF_RECORD_LOST (which the ring
 * counts), whole and contiguous at `at` in `v` (one that wrapped the ring's end is copied out
 * first), and queues what it wants with ring.room() and ring.push(). A method, not a closure:
 * nothing is allocated per record.
 */
export interface PerfRecordSink {
  perfRecord(ring: PerfRing, type: number, v: DataView, at: number, size: number): void;
}

export class PerfRings implements EventSource {
  readonly queues: EventQueue[] = [];
  readonly rings: PerfRing[] = [];
  private readonly maps: Mapping[] = [];
  /** every event: the rings' own and those writing into them */
  private readonly fds: number[] = [];
  /** record times are ns after this (the reader's base): its u32 halves */
  private baseHi = 0;
  private baseLo = 0;
  /** a record that wraps the ring's end, made contiguous */
  private readonly scratch = new DataView(new ArrayBuffer(MAX_RECORD));
  private readonly scratchBytes = new Uint8Array(this.scratch.buffer);

  constructor(
    private readonly sink: PerfRecordSink,
    /** bytes of each queue page: at least two of the largest record queued */
    private readonly queuePage: number,
    /** where the queues' events go (null: the reader's sink) */
    private readonly queueSink: EventSink | null,
  ) {}

  /**
   * Opens an event (disabled, if attr says so) on `cpu` for `pid` (-1: every process) and maps a
   * ring of `pages` (a power of two) for it; returns its fd. Throws what perf_event_open(2) or
   * mmap(2) said; the caller closes what was opened before.
   */
  open(attr: Buffer, pid: number, cpu: number, pages: number): number {
    const fd = perfEventOpen(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    this.fds.push(fd);
    const map = mapShared(fd, (pages + 1) * PAGE);
    this.maps.push(map);
    const ring = this.attach(cpu, map.view, map.bytes);
    if ((attr.readUInt32LE(READ_FORMAT) & PERF_FORMAT_LOST) !== 0) ring.lostFd = fd;
    return fd;
  }

  /** Opens an event on `cpu` whose records go to the ring of the event `into`; returns its fd. */
  openInto(attr: Buffer, pid: number, cpu: number, into: number): number {
    const fd = perfEventOpen(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    this.fds.push(fd);
    ioctlInt(fd, PERF_EVENT_IOC_SET_OUTPUT, into);
    return fd;
  }

  /** Reads a ring mapped at `view` (tests pass one of their own making). */
  attach(cpu: number, view: DataView, bytes: Uint8Array): PerfRing {
    // data_offset/data_size (Linux 4.1+); before that the data follows the first page
    const dataOffset = Number(view.getBigUint64(DATA_OFFSET, true)) || PAGE;
    const dataSize = Number(view.getBigUint64(DATA_SIZE, true)) || bytes.length - PAGE;
    const q = new EventQueue(cpu, this.queuePage);
    q.sink = this.queueSink;
    const ring = new PerfRing(cpu, view, bytes, dataOffset, dataSize, q);
    ring.tail = view.getUint32(TAIL, true) + view.getUint32(TAIL + 4, true) * 0x1_0000_0000;
    this.rings.push(ring);
    this.queues.push(q);
    return ring;
  }

  /** Record times are ns after `base` (CLOCK_MONOTONIC). */
  setBase(base: bigint): void {
    this.baseHi = Number(base >> 32n);
    this.baseLo = Number(base & 0xffffffffn);
  }

  /** The u64 time (ns, CLOCK_MONOTONIC) at `at` in `v`, as ns after the base. */
  time(v: DataView, at: number): number {
    return (v.getUint32(at + 4, true) - this.baseHi) * 0x1_0000_0000 + (v.getUint32(at, true) - this.baseLo);
  }

  enable(): void {
    for (const fd of this.fds) ioctlInt(fd, PERF_EVENT_IOC_ENABLE, 0);
  }

  /** Enables one event of these rings (one opened after enable()). */
  enableOne(fd: number): void {
    ioctlInt(fd, PERF_EVENT_IOC_ENABLE, 0);
  }

  /** Stops the events; what the rings hold can still be read. */
  disable(): void {
    for (const fd of this.fds) {
      try {
        ioctlInt(fd, PERF_EVENT_IOC_DISABLE, 0);
      } catch {
        // closing it stops it too
      }
    }
  }

  /** Records each CPU's ring could not hold, by CPU. */
  lost(): number[] {
    const out: number[] = [];
    for (const r of this.rings) {
      let n = r.lost;
      if (r.lostFd >= 0) {
        // {u64 value, u64 lost}: what the ring lost so far, LOST record written or not
        try {
          if (readSync(r.lostFd, this.counts, 0, 16, null) === 16) n = Math.max(n, Number(this.counts.readBigUInt64LE(8)));
        } catch {
          // closed: what the ring said
        }
      }
      out[r.cpu] = (out[r.cpu] ?? 0) + n;
    }
    return out;
  }
  private readonly counts = Buffer.alloc(16);

  /** Whether a ring holds records not read yet. */
  pending(): boolean {
    for (const r of this.rings) {
      const v = r.view;
      if (v.getUint32(HEAD, true) + v.getUint32(HEAD + 4, true) * 0x1_0000_0000 !== r.tail) return true;
    }
    return false;
  }

  /** Moves the records a CPU's ring holds into its queue (through the sink) and frees the ring's space. */
  fill(q: EventQueue): void {
    const r = this.rings[this.queues.indexOf(q)];
    if (r === undefined) return;
    const v = r.view;
    const head = v.getUint32(HEAD, true) + v.getUint32(HEAD + 4, true) * 0x1_0000_0000;
    let tail = r.tail;
    if (q.npages > 0) r.page = q.npages - 1;
    else {
      r.page = -1;
      r.used = q.pageSize;
    }
    const base = r.dataOffset;
    const dataSize = r.dataSize;
    while (tail < head) {
      const pos = tail % dataSize;
      // a header never wraps (records are 8-byte aligned)
      const size = v.getUint16(base + pos + 6, true);
      if (size === 0) break;
      let rv = v;
      let at = base + pos;
      if (pos + size > dataSize) {
        // the record wraps: copy it out whole
        const first = dataSize - pos;
        this.scratchBytes.set(r.bytes.subarray(at, at + first), 0);
        this.scratchBytes.set(r.bytes.subarray(base, base + size - first), first);
        rv = this.scratch;
        at = 0;
      }
      const type = rv.getUint32(at, true);
      if (type === PERF_RECORD_LOST) r.lost += rv.getUint32(at + 16, true) + rv.getUint32(at + 20, true) * 0x1_0000_0000;
      else this.sink.perfRecord(r, type, rv, at, size);
      tail += size;
    }
    if (tail !== r.tail) {
      r.tail = tail;
      v.setUint32(TAIL, tail % 0x1_0000_0000, true);
      v.setUint32(TAIL + 4, Math.floor(tail / 0x1_0000_0000), true);
    }
  }

  /** How many events are open (closeFrom's mark). */
  fdCount(): number {
    return this.fds.length;
  }

  /** Closes the events opened since fdCount() said `n` (an event some of whose opens failed). */
  closeFrom(n: number): void {
    for (const fd of this.fds.splice(n)) closeFd(fd);
  }

  /** Closes the events and unmaps the rings; safe to call more than once. */
  close(): void {
    // a later fill() finds no ring: reading an unmapped one would be a segmentation fault
    this.rings.length = 0;
    for (const m of this.maps) unmap(m);
    this.maps.length = 0;
    for (const fd of this.fds) closeFd(fd);
    this.fds.length = 0;
  }
}

/** Buffers over whole ArrayBuffers (rings, queue pages): copies between them allocate nothing. */
const whole = new WeakMap<ArrayBufferLike, Buffer>();

function bufferOf(v: DataView): Buffer {
  const ab = v.buffer;
  let b = whole.get(ab);
  if (b === undefined) whole.set(ab, (b = Buffer.from(ab)));
  return b;
}

/** Copies n bytes from `from` in s to `to` in d (STYLE rule 2: no view made per record). */
export function copyBytes(s: DataView, from: number, d: DataView, to: number, n: number): void {
  const so = s.byteOffset + from;
  bufferOf(s).copy(bufferOf(d), d.byteOffset + to, so, so + n);
}
