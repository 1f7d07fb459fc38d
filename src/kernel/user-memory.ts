// User memory as it was when a probe fired. Where BPF works, a capture program on the same
// tracepoint copies the strings and buffers the event's pointer fields point to; each copy is
// matched to its tracefs record (same thread, same event, in order) and handed to D code, and
// kept per thread so a later probe (a syscall's return) can copyinstr() the same address.
// Elsewhere, and for other addresses, memory is read through /proc when the event is handled.

import { closeSync, openSync, readSync } from 'node:fs';
import { type CaptureSpec, TracepointCapture, type UserCopy } from './bpf/capture.js';
import { bpfUnavailable } from './bpf/sys.js';
import type { EventFormat } from './event-format.js';

/** A capture waiting for its tracefs record. */
class Pending {
  constructor(
    readonly ts: number,
    readonly addrs: bigint[],
    readonly bytes: Uint8Array[],
  ) {}
}

/**
 * How far apart the tracefs record and the BPF copy of one hit may be stamped (ns): both are
 * written in the same tracepoint call, but syscall tracepoints may be preempted in between.
 * The nearest copy wins, and one thread's calls of one syscall are further apart than that.
 */
const SAME_HIT_NS = 10_000_000;
/** A copy whose record has not come after this long never will (it was dropped). */
const STALE_NS = 2_000_000_000;
/** Copies kept per thread for later probes. */
const PER_THREAD = 8;

export class UserMemory {
  private capture: TracepointCapture | null = null;
  private readonly specs: Array<{ format: EventFormat; copies: UserCopy[] }> = [];
  private readonly queues = new Map<number, Pending[]>();
  /** per thread: recent copies, newest last */
  private readonly recent = new Map<number, Array<{ addr: bigint; bytes: Uint8Array }>>();
  private base = 0n;
  /** why copies cannot be taken when probes fire (null: they can, or none were asked for) */
  unavailable: string | null = null;

  /**
   * Asks for copies of what an event's pointer fields point to, when it fires; returns where
   * each copy is in what take() gives (users of one event share its copies).
   */
  want(format: EventFormat, copies: UserCopy[]): number[] {
    let spec = this.specs.find((s) => s.format.id === format.id);
    if (!spec) this.specs.push((spec = { format, copies: [] }));
    const all = spec.copies;
    return copies.map((c) => {
      const i = all.findIndex((x) => x.ptrOffset === c.ptrOffset && x.argvSlots === c.argvSlots && x.countOffset === c.countOffset);
      if (i >= 0) return i;
      all.push(c);
      return all.length - 1;
    });
  }

  /** Whether copies are taken for this event. */
  captures(eventId: number): boolean {
    return this.capture !== null && this.specs.some((s) => s.format.id === eventId);
  }

  start(cpus: number[], base: bigint, pagesPerCpu: number): void {
    this.base = base;
    if (this.specs.length === 0) return;
    const why = bpfUnavailable();
    if (why !== null) {
      this.unavailable = why;
      return;
    }
    const cap = new TracepointCapture(cpus, pagesPerCpu);
    for (const s of this.specs) {
      const last = s.format.fields.at(-1);
      const spec: CaptureSpec = { tracepointId: s.format.id, recordSize: last ? last.offset + last.size : 8, copies: s.copies };
      cap.add(spec);
    }
    try {
      cap.start();
      this.capture = cap;
    } catch (e) {
      this.unavailable = (e as Error).message.split('\n')[0];
    }
  }

  /** Moves what the capture rings hold into the per-event queues. */
  drain(): void {
    const cap = this.capture;
    if (cap === null) return;
    cap.drain(this.base, (_cpu, ts, index, view, at) => {
      const spec = this.specs[index];
      const layout = cap.layouts[index];
      const tid = view.getUint32(at + 12, true);
      const addrs: bigint[] = [];
      const bytes: Uint8Array[] = [];
      spec.copies.forEach((c, j) => {
        const len = view.getInt32(at + layout.lenAt[j], true);
        // an argv copy is the command line, not the memory at an address: no address finds it
        addrs.push(c.argvSlots ? -1n : view.getBigUint64(at + layout.recordAt + c.ptrOffset, true));
        if (c.argvSlots) {
          bytes.push(argvOf(view, at + layout.dataAt[j], Math.min(len, c.argvSlots), c.maxLen));
          return;
        }
        const n = Math.max(0, Math.min(len, c.maxLen));
        const b = new Uint8Array(n);
        for (let k = 0; k < n; k++) b[k] = view.getUint8(at + layout.dataAt[j] + k);
        bytes.push(b);
      });
      const key = tid * 0x10000 + spec.format.id;
      let q = this.queues.get(key);
      if (!q) this.queues.set(key, (q = []));
      // rings are drained CPU by CPU: keep each queue in time order
      let i = q.length;
      while (i > 0 && q[i - 1].ts > ts) i--;
      q.splice(i, 0, new Pending(ts, addrs, bytes));
    });
  }

  /**
   * The copies taken with a tracefs record (thread `tid`, event `eventId`, stamped `ts`), or
   * null. Copies of records the kernel dropped are skipped; they are also remembered per thread.
   */
  take(tid: number, eventId: number, ts: number): Pending | null {
    const key = tid * 0x10000 + eventId;
    // several probes may use one event's copies
    if (key === this.lastKey && ts === this.lastTs) return this.last;
    this.lastKey = key;
    this.lastTs = ts;
    this.last = this.takeNew(tid, key, ts);
    return this.last;
  }

  private lastKey = -1;
  private lastTs = -1;
  private last: Pending | null = null;

  private takeNew(tid: number, key: number, ts: number): Pending | null {
    let p = this.next(key, ts);
    if (p === null) {
      // the copy may have reached its ring after the last drain
      this.drain();
      p = this.next(key, ts);
    }
    if (p === null) return null;
    let mine = this.recent.get(tid);
    if (!mine) this.recent.set(tid, (mine = []));
    for (let i = 0; i < p.addrs.length; i++) {
      if (p.addrs[i] < 0n) continue;
      mine.push({ addr: p.addrs[i], bytes: p.bytes[i] });
      if (mine.length > PER_THREAD) mine.shift();
    }
    return p;
  }

  /**
   * The copy stamped nearest the record, within SAME_HIT_NS. Records of one thread can reach
   * us out of order (it moved to a CPU whose page is read in a later drain), so the queue is
   * searched rather than popped; copies whose record never came are dropped once stale.
   */
  private next(key: number, ts: number): Pending | null {
    const q = this.queues.get(key);
    if (!q) return null;
    while (q.length > 0 && q[0].ts < ts - STALE_NS) q.shift();
    let best = -1;
    let bestGap = SAME_HIT_NS;
    for (let i = 0; i < q.length; i++) {
      const gap = Math.abs(q[i].ts - ts);
      if (gap < bestGap) {
        best = i;
        bestGap = gap;
      }
      if (q[i].ts > ts + SAME_HIT_NS) break;
    }
    if (best < 0) return null;
    return q.splice(best, 1)[0];
  }

  /**
   * Up to `size` bytes of a thread's memory at addr: a copy taken when a probe fired on it, or
   * else what /proc shows now; fewer if the memory ends; null if none can be read.
   */
  read(tid: number, addr: bigint, size: number): Uint8Array | null {
    const mine = this.recent.get(tid);
    if (mine) {
      for (let i = mine.length - 1; i >= 0; i--) if (mine[i].addr === addr) return mine[i].bytes.subarray(0, size);
    }
    return readProcMem(tid, addr, size);
  }

  forget(tid: number): void {
    this.recent.delete(tid);
  }

  lost(): number {
    return this.capture ? this.capture.lost() : 0;
  }

  close(): void {
    this.capture?.close();
    this.capture = null;
  }
}

/** The copied arguments, joined by spaces as a command line (psargs) shows them. */
function argvOf(view: DataView, at: number, count: number, maxLen: number): Uint8Array {
  const out: number[] = [];
  const slot = (maxLen + 7) & ~7;
  for (let k = 0; k < count; k++) {
    if (k > 0) out.push(0x20);
    for (let i = 0; i < maxLen; i++) {
      const c = view.getUint8(at + k * slot + i);
      if (c === 0) break;
      out.push(c);
    }
  }
  return Uint8Array.from(out);
}

function readProcMem(tid: number, addr: bigint, size: number): Uint8Array | null {
  if (addr === 0n || size <= 0) return null;
  let fd = -1;
  try {
    fd = openSync(`/proc/${tid}/mem`, 'r');
    const buf = new Uint8Array(size);
    const n = readSync(fd, buf, 0, size, addr);
    return n > 0 ? buf.subarray(0, n) : null;
  } catch {
    return null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
