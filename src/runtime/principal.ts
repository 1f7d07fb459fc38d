// The principal buffers (one per CPU, bufsize bytes each) under the three buffer policies, as
// DTrace keeps them: every firing of a clause first reserves the bytes its records may take
// (before its predicate runs), and keeps what it wrote if it completes.
// - switch: the consumer takes the buffer's contents after every probe firing here (records
//   print as they are made); a firing whose records do not fit what is left is dropped, and
//   counted as a principal drop.
// - fill: records accumulate until one does not fit (less the space END's clauses reserve):
//   then the buffer is full, nothing more is recorded, and the consumer stops tracing at its
//   next status check; END's records go in the reserved space; all print at the end.
// - ring: records wrap around, the oldest giving way; what is left prints at the end (CPU by
//   CPU, END's CPU last); a firing larger than the buffer is dropped.
// Offsets here are byte offsets; what a record holds is its text, printed when consumed.
//                                              [illumos dtrace.c dtrace_buffer_reserve, DTRACEIOC_BUFSNAP]

export const enum BufPolicy {
  Switch = 0,
  Ring = 1,
  Fill = 2,
}

/** A 4-byte filler: no record starts there (DTRACE_EPIDNONE). */
const PAD = 4;

interface Slot<R> {
  size: number;
  rec: R;
}

class CpuBuffer<R> {
  offset = 0;
  /** the ring's oldest record (dtb_xamot_offset) */
  woffs = 0;
  wrapped = false;
  full = false;
  drops = 0;
  /** records kept, by the offset they start at (ring and fill) */
  readonly slots = new Map<number, Slot<R>>();

  /** Forgets records starting in [from, to). */
  clear(from: number, to: number): void {
    if (this.slots.size === 0) return;
    for (const k of this.slots.keys()) if (k >= from && k < to) this.slots.delete(k);
  }
}

export class PrincipalBuffers<R> {
  private readonly cpus: Array<CpuBuffer<R> | undefined> = [];
  /** bytes kept free for END's records (fill), until tracing stops */
  private reserveEnd: number;
  /** tracing is stopping (END fires): a full fill buffer takes END's records */
  cooldown = false;

  constructor(
    readonly policy: BufPolicy,
    readonly size: number,
    endReserve: number,
  ) {
    this.reserveEnd = policy === BufPolicy.Fill ? endReserve : 0;
  }

  private buf(cpu: number): CpuBuffer<R> {
    let b = this.cpus[cpu];
    if (b === undefined) this.cpus[cpu] = b = new CpuBuffer<R>();
    return b;
  }

  /** Reserves `needed` bytes aligned to `align` on a CPU: the offset, or -1 (not recorded). */
  reserve(cpu: number, needed: number, align: number): number {
    const b = this.buf(cpu);
    const size = this.size;
    let offs = b.offset;
    if (this.policy === BufPolicy.Switch) {
      while (offs & (align - 1)) offs += PAD;
      if (offs + needed > size) {
        b.drops++;
        return -1;
      }
      return offs;
    }
    if (this.policy === BufPolicy.Fill) {
      if (!this.cooldown && b.full) return -1;
    } else {
      let total = needed + (offs & (align - 1));
      if (b.wrapped || offs + total > size) {
        let woffs = b.woffs;
        let adjust = true;
        if (offs + total > size) {
          if (total > size) {
            b.drops++;
            return -1;
          }
          woffs = b.wrapped && woffs < offs ? woffs : 0;
          // the end of the buffer is cleared, and storing starts over at the top
          b.clear(offs, size);
          offs = 0;
          total = needed;
          b.wrapped = true;
        } else if (woffs < offs) {
          // a reservation that wrapped was not used: this one does not wrap
          adjust = false;
        }
        if (adjust) {
          while (offs + total > woffs) {
            const s = b.slots.get(woffs);
            const n = s === undefined ? PAD : s.size;
            if (woffs + n >= size) {
              if (offs === 0) {
                // this record and the one it overwrites take the whole buffer: start afresh
                b.wrapped = false;
                b.offset = 0;
                b.clear(total, size);
              }
              woffs = 0;
              break;
            }
            b.slots.delete(woffs);
            woffs += n;
          }
          b.woffs = woffs;
        }
      }
    }
    while (offs & (align - 1)) {
      b.slots.delete(offs);
      offs += PAD;
    }
    if (this.policy === BufPolicy.Fill && offs + needed > size - this.reserveEnd) {
      b.full = true;
      return -1;
    }
    return offs;
  }

  /** Keeps a completed firing's record of `size` bytes at `offs` (rec null: printed already). */
  commit(cpu: number, offs: number, size: number, rec: R | null): void {
    const b = this.buf(cpu);
    if (size === 0) return;
    if (rec !== null) {
      b.clear(offs, offs + size);
      b.slots.set(offs, { size, rec });
    }
    b.offset = offs + size;
  }

  /** switch: the consumer took every buffer's contents */
  drained(cpu: number): void {
    const b = this.cpus[cpu];
    if (b !== undefined) b.offset = 0;
  }

  /** Some buffer filled (fill policy): tracing is to stop. */
  filled(): boolean {
    for (const b of this.cpus) if (b !== undefined && b.full) return true;
    return false;
  }

  /** Tracing stops: END's clauses may use the reserved space. */
  stop(): void {
    this.cooldown = true;
    this.reserveEnd = 0;
  }

  /** Drops per CPU since the last call. */
  takeDrops(report: (cpu: number, n: number) => void): void {
    for (let cpu = 0; cpu < this.cpus.length; cpu++) {
      const b = this.cpus[cpu];
      if (b === undefined || b.drops === 0) continue;
      report(cpu, b.drops);
      b.drops = 0;
    }
  }

  /**
   * The records kept (ring and fill), oldest first, CPU by CPU with `lastCpu` (END's) last;
   * each buffer is consumed once.
   */
  consume(lastCpu: number): R[] {
    const out: R[] = [];
    const take = (b: CpuBuffer<R>): void => {
      const keys = [...b.slots.keys()].sort((x, y) => x - y);
      const inRange = (k: number, from: number, to: number) => k >= from && k < to;
      if (b.wrapped) {
        for (const k of keys) if (inRange(k, b.woffs, this.size)) out.push(b.slots.get(k)!.rec);
        for (const k of keys) if (inRange(k, 0, Math.min(b.offset, b.woffs))) out.push(b.slots.get(k)!.rec);
      } else {
        for (const k of keys) if (inRange(k, 0, b.offset)) out.push(b.slots.get(k)!.rec);
      }
      b.slots.clear();
    };
    for (let cpu = 0; cpu < this.cpus.length; cpu++) {
      const b = this.cpus[cpu];
      if (b !== undefined && cpu !== lastCpu) take(b);
    }
    const last = this.cpus[lastCpu];
    if (last !== undefined) take(last);
    return out;
  }
}
