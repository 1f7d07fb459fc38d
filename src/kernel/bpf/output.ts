// Records BPF programs write for dtrace to format (clauses that print in the kernel): each is
// [u64 time, ...] as its program made it, sent whole with bpf_perf_event_output() into this
// CPU's ring, read into the CPU's queue and merged with the other events in time order. A
// record a full ring could not take is counted by the program (per CPU, in `lostMapFd`).

import { PERF_RECORD_SAMPLE, type PerfRecordSink, type PerfRing, type PerfRings, copyBytes } from '../perf-ring.js';
import type { EventQueue, EventSink, EventSource } from '../ringbuf.js';
import { openOutputRings } from './capture.js';
import { mapLookup, possibleCpus } from './objects.js';

/** the queue's pages: room for many records between drains */
const QUEUE_PAGE = 64 * 1024;

export class ProgramOutput implements EventSource, PerfRecordSink {
  private perf: PerfRings | null = null;
  /** the counts as they stood when the maps' owner closed them */
  private lastLost: number[] | null = null;

  constructor(
    /** the programs' BPF_MAP_TYPE_PERF_EVENT_ARRAY, by CPU */
    private readonly perfMapFd: number,
    /** per-CPU u64 array: [0] the records each CPU's full ring could not take */
    private readonly lostMapFd: number,
    /** where each record goes: its bytes at [off, off + len) of `page`, `ts` its time after the base */
    private readonly sink: EventSink,
    /** the largest record's bytes */
    private readonly largest: number,
  ) {}

  /** Opens each CPU's ring (`ringBytes`); record times are ns after `base` (CLOCK_MONOTONIC). */
  open(cpus: readonly number[], base: bigint, ringBytes: number): EventSource {
    this.perf = openOutputRings(this, this.perfMapFd, cpus, ringBytes, Math.max(QUEUE_PAGE, 2 * this.largest), this.sink);
    this.perf.setBase(base);
    return this;
  }

  get queues(): EventQueue[] {
    return this.perf === null ? [] : this.perf.queues;
  }

  fill(q: EventQueue): void {
    this.perf?.fill(q);
  }

  /** A sample's raw data (after the header and its u32 size) is the record: queued at its time. */
  perfRecord(r: PerfRing, type: number, v: DataView, at: number, size: number): void {
    if (type !== PERF_RECORD_SAMPLE) return;
    const len = Math.min(v.getUint32(at + 8, true), size - 12);
    const d = r.room(len);
    const to = r.used;
    copyBytes(v, at + 12, d, to, len);
    r.push(0, len, this.perf!.time(d, to), (len + 7) & ~7);
  }

  /** Records each CPU could not write (its ring was full), by CPU. */
  lost(): number[] {
    if (this.lastLost !== null) return this.lastLost;
    const n = possibleCpus();
    const out = new Array<number>(n).fill(0);
    const values = Buffer.alloc(8 * n);
    if (mapLookup(this.lostMapFd, Buffer.alloc(4), values)) for (let cpu = 0; cpu < n; cpu++) out[cpu] = Number(values.readBigUInt64LE(cpu * 8));
    return out;
  }

  /** Unmaps the rings and closes their events (the maps are their owner's, who closes them after). */
  close(): void {
    if (this.lastLost === null) this.lastLost = this.lost();
    this.perf?.close();
    this.perf = null;
  }
}
