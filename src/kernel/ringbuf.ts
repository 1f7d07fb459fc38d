// The binary reader of tracefs's per-CPU ring buffers (per_cpu/cpuN/trace_pipe_raw), and the
// merge of all CPUs' events in timestamp order.                             [ring_buffer.c, kbuffer]
//
// Each read() returns one sub-buffer ("page"): a u64 timestamp, a u64 commit (the data size,
// plus missed-event flags), then events. An event is a u32 header (type_len:5, time_delta:27)
// and its data; type_len 1..28 give the data length in words, 0 puts the length in the next u32,
// 29 is padding (or a discarded event), 30 extends the time delta, 31 is an absolute timestamp.
//
// Nothing is allocated per event: pages are read into a pool of buffers reused across drains,
// and events are indexed in typed arrays.

import { constants, readSync } from 'node:fs';
import type { PageLayout } from './event-format.js';
import { closeQuietly, type TraceInstance } from './tracefs.js';
import { nonBlockingReader } from './bpf/sys.js';

/** Reads a ring's next page: bytes read, or -1 when it has none now. */
type PageRead = (fd: number, page: Buffer, size: number) => number;

function readSyncPage(fd: number, page: Buffer, size: number): number {
  try {
    return readSync(fd, page, 0, size, null);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EINTR') return -1;
    throw e;
  }
}

const COMMIT_MASK = 0x3fffffff; // the two high bits flag missed events
/** An event is stamped when reserved and readable when committed: allow this much between. */
const COMMIT_WINDOW_NS = 100_000;

/** Receives each event's data, in timestamp order across CPUs. */
export interface EventSink {
  /**
   * `page` holds the event's data at [off, off + len); `ts` is nanoseconds after the reader's
   * `base` timestamp (so it fits a Number whatever the uptime).
   */
  event(cpu: number, page: Buffer, view: DataView, off: number, len: number, ts: number): void;
}

/**
 * One CPU's events of one source, in time order: the pages they are in (a pool of buffers
 * reused across drains) and, per event, its page, offset, length and time.
 */
export class EventQueue {
  fd = -1;
  /** the tracefs instance whose ring this is (null: the reader's own, or another source's) */
  instance: TraceInstance | null = null;
  pages: Buffer[] = [];
  views: DataView[] = [];
  npages = 0;
  /** decoded events of the current drain */
  evPage = new Int32Array(1024);
  evOff = new Int32Array(1024);
  evLen = new Int32Array(1024);
  evTs = new Float64Array(1024);
  nev = 0;
  next = 0;
  /** the last read stopped at a limit, with more left in the kernel */
  limited = false;
  /** where this queue's events go (null: the drain's sink), for sources of records of their own */
  sink: EventSink | null = null;

  constructor(
    readonly cpu: number,
    /** bytes in each page of the pool */
    readonly pageSize: number,
  ) {}

  push(page: number, off: number, len: number, ts: number): void {
    if (this.nev === this.evPage.length) {
      const n = this.nev * 2;
      const grow = <T extends Int32Array | Float64Array>(a: T, ctor: new (n: number) => T): T => {
        const b = new ctor(n);
        b.set(a);
        return b;
      };
      this.evPage = grow(this.evPage, Int32Array);
      this.evOff = grow(this.evOff, Int32Array);
      this.evLen = grow(this.evLen, Int32Array);
      this.evTs = grow(this.evTs, Float64Array);
    }
    const i = this.nev++;
    this.evPage[i] = page;
    this.evOff[i] = off;
    this.evLen[i] = len;
    this.evTs[i] = ts;
  }

  /** Page i of the pool, allocated on first use. */
  page(i: number): Buffer {
    while (this.pages.length <= i) {
      // a Buffer of its own (not pooled), so strings decode straight from it
      const p = Buffer.allocUnsafeSlow(this.pageSize);
      this.pages.push(p);
      this.views.push(new DataView(p.buffer, p.byteOffset, p.byteLength));
    }
    return this.pages[i];
  }

  /** Keeps the events not handed over yet (and their pages) at the front for the next drain. */
  keepPending(): void {
    if (this.next >= this.nev) {
      this.npages = 0;
      this.nev = 0;
      this.next = 0;
      return;
    }
    const first = this.evPage[this.next];
    // rotate the pages still needed to the front (swapping buffers: nothing is copied)
    for (let i = first; i < this.npages; i++) {
      const j = i - first;
      [this.pages[j], this.pages[i]] = [this.pages[i], this.pages[j]];
      [this.views[j], this.views[i]] = [this.views[i], this.views[j]];
    }
    const n = this.nev - this.next;
    for (let i = 0; i < n; i++) {
      const k = this.next + i;
      this.evPage[i] = this.evPage[k] - first;
      this.evOff[i] = this.evOff[k];
      this.evLen[i] = this.evLen[k];
      this.evTs[i] = this.evTs[k];
    }
    this.npages -= first;
    this.nev = n;
    this.next = 0;
  }
}

/**
 * Events from elsewhere than tracefs (BPF programs' perf rings), merged with tracefs's in time
 * order: one queue per CPU, filled on each drain. Their times are ns after the reader's base.
 */
export interface EventSource {
  readonly queues: EventQueue[];
  /** Appends what the CPU's ring holds to its queue (after keepPending()). */
  fill(q: EventQueue): void;
}

export class RingReader {
  private readonly bufs: EventQueue[] = [];
  /** the queues of every source, tracefs's first */
  private queues: EventQueue[] = [];
  private readonly sources: EventSource[] = [];
  /**
   * Timestamps passed to the sink are ns after this: now on CLOCK_MONOTONIC, which the
   * instance's "mono" trace clock (and BPF's ktime) also read.
   */
  base = process.hrtime.bigint();
  /** the record peekNext() found: in `peekView` at [peekOff, peekOff + peekLen) */
  peekView: DataView | null = null;
  peekOff = 0;
  peekLen = 0;
  private readonly byCpu: EventQueue[] = [];
  // the page and event-header layout (events/header_page, events/header_event)
  private readonly tsAt: number;
  private readonly commitAt: number;
  private readonly dataAt: number;
  private readonly typeMask: number;
  private readonly typeBits: number;
  /** a time delta's weight in an extended stamp: 2^(32 - typeBits) */
  private readonly deltaSpan: number;
  private readonly padding: number;
  private readonly timeExtend: number;
  private readonly timeStamp: number;
  /** pages read in all, and pages that were partially filled */
  pagesRead = 0;
  /** most pages read from one CPU in one drain, so a flood cannot starve the others */
  maxPagesPerDrain = 256;
  private readonly readPage: PageRead = nonBlockingReader() ?? readSyncPage;
  /**
   * The most pages one CPU's ring gave in the last drain (how full the fullest ring was), or
   * Infinity if one gave maxPagesPerDrain and has more
   */
  fullestPages = 0;

  /** the instance whose rings are read first (null: none, only other sources) */
  private instance: TraceInstance | null = null;
  /** bytes of a ring's page (sub-buffer) */
  pageSize = 0;

  constructor(layout: PageLayout) {
    this.tsAt = layout.timestampAt;
    this.commitAt = layout.commitAt;
    this.dataAt = layout.dataAt;
    this.typeBits = layout.typeLenBits;
    this.typeMask = (1 << layout.typeLenBits) - 1;
    this.deltaSpan = 2 ** (32 - layout.typeLenBits);
    this.padding = layout.padding;
    this.timeExtend = layout.timeExtend;
    this.timeStamp = layout.timeStamp;
  }

  /**
   * Reads an instance's rings, on `cpus`, with pages of `pageSize` bytes (before addInstance()
   * and open()): the one whose records peekNext() sees. A reader of other sources only has none.
   */
  readInstance(instance: TraceInstance, cpus: number[], pageSize: number): void {
    this.instance = instance;
    this.pageSize = pageSize;
    const mine = cpus.map((c) => new EventQueue(c, pageSize));
    for (const b of mine) this.byCpu[b.cpu] = b;
    this.bufs.push(...mine);
    this.queues = [...this.bufs, ...this.sources.flatMap((s) => s.queues)];
  }

  /** Merges another source's events with tracefs's. */
  addSource(source: EventSource): void {
    this.sources.push(source);
    this.queues = [...this.bufs, ...this.sources.flatMap((s) => s.queues)];
  }

  /**
   * Reads another tracefs instance's rings too (before open()), merged in the same time order;
   * its records are never peekNext()'s (a stack trace follows its event in the first instance).
   */
  addInstance(instance: TraceInstance, cpus: number[]): void {
    const more = cpus.map((c) => new EventQueue(c, this.pageSize));
    for (const q of more) q.instance = instance;
    // ahead of the first instance's: at the same instant, what it announces comes first
    this.bufs.unshift(...more);
    this.queues = [...this.bufs, ...this.sources.flatMap((s) => s.queues)];
  }

  /**
   * The record after the one being handled on `cpu` (where a trigger writes its stack trace),
   * if it has been read; it is still handed to the sink in its turn.
   */
  peekNext(cpu: number): boolean {
    const b = this.byCpu[cpu];
    if (b === undefined || b.next >= b.nev) return false;
    const i = b.next;
    this.peekView = b.views[b.evPage[i]];
    this.peekOff = b.evOff[i];
    this.peekLen = b.evLen[i];
    return true;
  }

  open(): void {
    for (const b of this.bufs) b.fd = (b.instance ?? this.instance)!.openRaw(b.cpu, constants.O_RDONLY | constants.O_NONBLOCK);
  }

  /** The descriptors of the rings being read (to wait on them while none has data). */
  descriptors(): number[] {
    return this.bufs.filter((b) => b.fd >= 0).map((b) => b.fd);
  }

  /** Whether events read are still held back for the next drain, or other sources are merged in. */
  holdsEvents(): boolean {
    if (this.sources.length > 0) return true;
    for (const b of this.bufs) if (b.next < b.nev) return true;
    return false;
  }

  close(): void {
    for (const b of this.bufs) {
      if (b.fd >= 0) closeQuietly(b.fd);
      b.fd = -1;
    }
  }

  /**
   * Reads every CPU's available pages and hands their events to the sink in time order. An
   * event can be written on one CPU after that CPU was read but before the last CPU was, so
   * events stamped after this drain began wait for the next one, which may still bring older
   * events (`all`: hand over everything, as the last drain does).
   */
  drain(sink: EventSink, all = false): number {
    let horizon = all ? Infinity : Number(process.hrtime.bigint() - this.base) - COMMIT_WINDOW_NS;
    let fullest = 0;
    for (const b of this.bufs) {
      const pages = this.readCpu(b);
      fullest = Math.max(fullest, b.limited ? Infinity : pages);
    }
    this.fullestPages = fullest;
    for (const s of this.sources) {
      for (const q of s.queues) {
        q.keepPending();
        s.fill(q);
      }
    }
    // a queue left with events unread: its later events are still in the kernel
    for (const q of this.queues) if (q.limited && q.nev > 0 && !all) horizon = Math.min(horizon, q.evTs[q.nev - 1]);
    return this.merge(sink, horizon);
  }

  /** Reads what a CPU's ring holds into its queue; returns the number of pages read. */
  private readCpu(b: EventQueue): number {
    b.keepPending();
    b.limited = false;
    if (b.fd < 0) return 0;
    const first = b.npages;
    let partials = 0;
    const stop = b.npages + this.maxPagesPerDrain;
    while (b.npages < stop) {
      const p = b.page(b.npages);
      const n = this.readPage(b.fd, p, this.pageSize);
      if (n <= 0) break;
      this.pagesRead++;
      if (b.npages + 1 >= stop) b.limited = true;
      const idx = b.npages++;
      const full = this.decodePage(b, idx);
      // a partly filled page means the writer is on it: two in a row and the CPU is drained
      if (!full) {
        if (++partials >= 2) break;
      } else {
        partials = 0;
      }
    }
    return b.npages - first;
  }

  /** Indexes a page's events; returns whether the page was full. */
  private decodePage(b: EventQueue, idx: number): boolean {
    const v = b.views[idx];
    const pageTs = v.getBigUint64(this.tsAt, true);
    let ts = Number(pageTs - this.base);
    const size = v.getUint32(this.commitAt, true) & COMMIT_MASK;
    const end = Math.min(this.dataAt + size, this.pageSize);
    let off = this.dataAt;
    while (off + 4 <= end) {
      const hdr = v.getUint32(off, true);
      const type = hdr & this.typeMask;
      const delta = hdr >>> this.typeBits;
      if (type === this.padding) {
        if (delta === 0) break; // the rest of the page is padding
        // a discarded event: its time still passes
        ts += delta;
        off += 4 + v.getUint32(off + 4, true);
        continue;
      }
      if (type === this.timeExtend) {
        ts += v.getUint32(off + 4, true) * this.deltaSpan + delta; // array[0] << 27 | delta
        off += 8;
        continue;
      }
      if (type === this.timeStamp) {
        const abs = BigInt(v.getUint32(off + 4, true)) * BigInt(this.deltaSpan) + BigInt(delta);
        // the absolute stamp holds the low 59 bits of the clock; the page supplies the rest
        const full = (pageTs & ~((1n << 59n) - 1n)) | abs;
        ts = Number(full - this.base);
        off += 8;
        continue;
      }
      ts += delta;
      let len: number;
      let data: number;
      if (type === 0) {
        len = v.getUint32(off + 4, true) - 4;
        data = off + 8;
      } else {
        len = type * 4;
        data = off + 4;
      }
      b.push(idx, data, len, ts);
      off = data + len;
    }
    return size >= this.pageSize - this.dataAt - 64;
  }

  /** k-way merge of the CPUs' events by timestamp (k is small: the CPU count). */
  private merge(sink: EventSink, horizon: number): number {
    const bufs = this.queues;
    let total = 0;
    for (;;) {
      let best: EventQueue | null = null;
      let bestTs = horizon;
      for (let i = 0; i < bufs.length; i++) {
        const b = bufs[i];
        if (b.next < b.nev && b.evTs[b.next] < bestTs) {
          best = b;
          bestTs = b.evTs[b.next];
        }
      }
      if (best === null) return total;
      const i = best.next++;
      const page = best.evPage[i];
      (best.sink ?? sink).event(best.cpu, best.pages[page], best.views[page], best.evOff[i], best.evLen[i], best.evTs[i]);
      total++;
    }
  }
}
