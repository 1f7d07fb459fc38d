// The address space D code can touch: alloca() scratch space, valid for one probe firing.
// Any other address faults with "invalid address", as it would in DTrace for unmapped memory.

import { DFault, FLT_BADADDR, FLT_BADSIZE, FLT_NOSCRATCH } from './subr.js';
import { bytesToStr } from './values.js';
import type { MemoryAbi } from './abi.js';

/**
 * alloca() pointers are offsets into the clause's scratch space, as Oracle DTrace shows them
 * (its scratch pointers are "scalarised" to offsets); offsets below 8 are never handed out, so
 * NULL and other small addresses still fault.
 */
export const SCRATCH_BASE = 0n;
const SCRATCH_START = 8;
/**
 * Where views of processes, threads and CPUs (psinfo_t, lwpsinfo_t, cpuinfo_t) appear: an
 * address names the view's kind and subject (a thread ID, a CPU), and the view is built only
 * when D code reads it, so probe arguments can point at one at no cost.
 */
const VIEW_BASE = 0xffff_c000_0000_0000n;
/** Where data the runtime maps for one clause appears. */
const REGION_BASE = 0xffff_d000_0000_0000n;
const REGION_STEP = 0x1_0000n;
/** Where variables' own storage (global arrays and structs) appears, for the whole session. */
const STATIC_BASE = 0xffff_e000_0000_0000n;

export const enum ViewKind {
  Psinfo = 1,
  Lwpsinfo = 2,
  Cpuinfo = 3,
  /** a probe argument's translated struct (bufinfo_t, tcpsinfo_t...): the subject is its slot */
  Arg = 4,
  /** fds[fd]: a fileinfo_t of the firing process's descriptor (the subject is the descriptor) */
  Fd = 5,
}

/** The address of a view: curpsinfo, or a probe argument such as proc:::create's psinfo_t *. */
export function viewAddress(kind: ViewKind, id: number): bigint {
  return VIEW_BASE + (BigInt(kind) << 40n) + (BigInt(id) << 16n);
}

export class Memory implements MemoryAbi {
  /** builds a view's bytes (set by the runtime) */
  viewSource: ((kind: ViewKind, id: number) => Uint8Array | null) | null = null;
  /** the views built in this clause, by kind and subject */
  private readonly views = new Map<number, Uint8Array | null>();

  private readonly buf: Uint8Array;
  private readonly view: DataView;
  /** end of the scratch handed out in this clause */
  private top = SCRATCH_START;

  constructor(
    readonly scratchSize: number,
    private readonly strsize: () => number,
  ) {
    // the scratchsize option counts the 8 reserved bytes at the start (dt_opt_scratchsize)
    this.buf = new Uint8Array(Math.max(scratchSize, SCRATCH_START));
    this.view = new DataView(this.buf.buffer);
  }

  /** read-only regions mapped for this firing */
  private readonly regions: Uint8Array[] = [];

  /** Called at the start of every probe firing: alloca() memory does not outlive it. */
  reset(): void {
    if (this.top > SCRATCH_START) this.buf.fill(0, 0, this.top);
    this.top = SCRATCH_START;
    if (this.regions.length !== 0) this.regions.length = 0;
    if (this.views.size > 0) this.views.clear();
  }

  /** Makes bytes addressable until the end of the clause. */
  map(bytes: Uint8Array): bigint {
    this.regions.push(bytes);
    return REGION_BASE + BigInt(this.regions.length - 1) * REGION_STEP;
  }

  private readonly statics: Uint8Array[] = [];
  private readonly staticAddr = new WeakMap<Uint8Array, bigint>();

  /** A stable address for a variable's storage (reads and writes go to the storage itself). */
  mapStatic(bytes: Uint8Array): bigint {
    let a = this.staticAddr.get(bytes);
    if (a === undefined) {
      this.statics.push(bytes);
      a = STATIC_BASE + BigInt(this.statics.length - 1) * REGION_STEP;
      this.staticAddr.set(bytes, a);
    }
    return a;
  }

  alloca(size: bigint): bigint {
    // scratch allocations are 8-byte aligned, as DTrace's are
    const start = (this.top + 7) & ~7;
    if (size < 0n || BigInt(start) + size > BigInt(this.scratchSize)) throw new DFault(FLT_NOSCRATCH, 0n);
    this.top = start + Number(size);
    return SCRATCH_BASE + BigInt(start);
  }

  /** The scratch offset of [addr, addr+size), or a fault. */
  private offset(addr: bigint, size: number): number {
    const off = addr - SCRATCH_BASE;
    if (off < BigInt(SCRATCH_START) || off + BigInt(size) > BigInt(this.top)) throw new DFault(FLT_BADADDR, BigInt.asUintN(64, addr));
    return Number(off);
  }

  /** The mapped region holding [addr, addr+size) and the offset in it, or null. */
  private region(addr: bigint, size: number): [Uint8Array, number] | null {
    if (addr < REGION_BASE) return this.viewRegion(addr, size);
    const isStatic = addr >= STATIC_BASE;
    const r = addr - (isStatic ? STATIC_BASE : REGION_BASE);
    if (r < 0n) return null;
    const i = Number(r / REGION_STEP);
    const off = Number(r % REGION_STEP);
    const b = isStatic ? this.statics[i] : this.regions[i];
    if (b === undefined) return null;
    if (off + size > b.length) {
      // past a variable's storage lies more of DTrace's variable space: it reads as zeros
      return isStatic ? [new Uint8Array(off + size), off] : null;
    }
    return [b, off];
  }

  private viewRegion(addr: bigint, size: number): [Uint8Array, number] | null {
    const r = addr - VIEW_BASE;
    const kind = Number(r >> 40n);
    const id = Number((r >> 16n) & 0xffffffn);
    const off = Number(r & 0xffffn);
    const key = kind * 0x1000000 + id;
    let b = this.views.get(key);
    if (b === undefined) {
      b = this.viewSource ? this.viewSource(kind, id) : null;
      this.views.set(key, b);
    }
    return b !== null && off + size <= b.length ? [b, off] : null;
  }

  private regionView(addr: bigint, size: number): DataView | null {
    const r = this.region(addr, size);
    return r ? new DataView(r[0].buffer, r[0].byteOffset + r[1], size) : null;
  }

  ld_i8(a: bigint): number {
    if (a >= VIEW_BASE) {
      const v = this.regionView(a, 1);
      if (v) return v.getInt8(0);
    }
    return this.view.getInt8(this.offset(a, 1));
  }
  ld_u8(a: bigint): number {
    if (a >= VIEW_BASE) {
      const v = this.regionView(a, 1);
      if (v) return v.getUint8(0);
    }
    return this.view.getUint8(this.offset(a, 1));
  }
  ld_i16(a: bigint): number {
    if (a >= VIEW_BASE) {
      const v = this.regionView(a, 2);
      if (v) return v.getInt16(0, true);
    }
    return this.view.getInt16(this.offset(a, 2), true);
  }
  ld_u16(a: bigint): number {
    if (a >= VIEW_BASE) {
      const v = this.regionView(a, 2);
      if (v) return v.getUint16(0, true);
    }
    return this.view.getUint16(this.offset(a, 2), true);
  }
  ld_i32(a: bigint): number {
    if (a >= VIEW_BASE) {
      const v = this.regionView(a, 4);
      if (v) return v.getInt32(0, true);
    }
    return this.view.getInt32(this.offset(a, 4), true);
  }
  ld_u32(a: bigint): number {
    if (a >= VIEW_BASE) {
      const v = this.regionView(a, 4);
      if (v) return v.getUint32(0, true);
    }
    return this.view.getUint32(this.offset(a, 4), true);
  }
  ld_i64(a: bigint): bigint {
    if (a >= VIEW_BASE) {
      const v = this.regionView(a, 8);
      if (v) return v.getBigInt64(0, true);
    }
    return this.view.getBigInt64(this.offset(a, 8), true);
  }
  ld_u64(a: bigint): bigint {
    if (a >= VIEW_BASE) {
      const v = this.regionView(a, 8);
      if (v) return v.getBigUint64(0, true);
    }
    return this.view.getBigUint64(this.offset(a, 8), true);
  }

  st_i8(a: bigint, v: number): void {
    if (a >= VIEW_BASE) {
      const w = this.regionView(a, 1);
      if (w) return w.setInt8(0, v);
    }
    this.view.setInt8(this.offset(a, 1), v);
  }
  st_u8(a: bigint, v: number): void {
    if (a >= VIEW_BASE) {
      const w = this.regionView(a, 1);
      if (w) return w.setUint8(0, v);
    }
    this.view.setUint8(this.offset(a, 1), v);
  }
  st_i16(a: bigint, v: number): void {
    if (a >= VIEW_BASE) {
      const w = this.regionView(a, 2);
      if (w) return w.setInt16(0, v, true);
    }
    this.view.setInt16(this.offset(a, 2), v, true);
  }
  st_u16(a: bigint, v: number): void {
    if (a >= VIEW_BASE) {
      const w = this.regionView(a, 2);
      if (w) return w.setUint16(0, v, true);
    }
    this.view.setUint16(this.offset(a, 2), v, true);
  }
  st_i32(a: bigint, v: number): void {
    if (a >= VIEW_BASE) {
      const w = this.regionView(a, 4);
      if (w) return w.setInt32(0, v, true);
    }
    this.view.setInt32(this.offset(a, 4), v, true);
  }
  st_u32(a: bigint, v: number): void {
    if (a >= VIEW_BASE) {
      const w = this.regionView(a, 4);
      if (w) return w.setUint32(0, v, true);
    }
    this.view.setUint32(this.offset(a, 4), v, true);
  }
  st_i64(a: bigint, v: bigint): void {
    if (a >= VIEW_BASE) {
      const w = this.regionView(a, 8);
      if (w) return w.setBigInt64(0, v, true);
    }
    this.view.setBigInt64(this.offset(a, 8), v, true);
  }
  st_u64(a: bigint, v: bigint): void {
    if (a >= VIEW_BASE) {
      const w = this.regionView(a, 8);
      if (w) return w.setBigUint64(0, v, true);
    }
    this.view.setBigUint64(this.offset(a, 8), v, true);
  }

  /** A copy of `size` bytes at addr. */
  bytes(addr: bigint, size: number): Uint8Array {
    if (addr >= VIEW_BASE) {
      const r = this.region(addr, size);
      if (r) return r[0].slice(r[1], r[1] + size);
    }
    const off = this.offset(addr, size);
    return this.buf.slice(off, off + size);
  }

  copyIn(addr: bigint, src: Uint8Array, size: number): void {
    if (addr >= VIEW_BASE) {
      const r = this.region(addr, size);
      if (r) {
        r[0].set(src.length > size ? src.subarray(0, size) : src, r[1]);
        if (src.length < size) r[0].fill(0, r[1] + src.length, r[1] + size);
        return;
      }
    }
    const off = this.offset(addr, size);
    this.buf.set(src.length > size ? src.subarray(0, size) : src, off);
    if (src.length < size) this.buf.fill(0, off + src.length, off + size);
  }

  /**
   * bcopy(src, dst, size), checked as Oracle DTrace checks it (dt_cg_subr_bcopy_impl): the size
   * (negative, or more than the scratch space: invalid size), then the source, then the
   * destination, which must lie in the scratch this clause alloca()ed (illumos: dtrace_inscratch).
   * Past the end of the allocated scratch is an invalid size; outside it, an invalid address.
   */
  bcopy(src: bigint, dst: bigint, size: bigint): void {
    const len = this.copySize(size);
    let data: Uint8Array;
    if (this.isScratch(src)) {
      const off = this.allocaAccess(src, len, size);
      data = this.buf.slice(off, off + len);
    } else {
      data = this.bytes(src, len);
    }
    const at = this.allocaAccess(dst, len, size);
    this.buf.set(data, at);
  }

  /**
   * The size of a copy into scratch (bcopy, copyin, copyinto), checked before anything is read,
   * as Oracle DTrace checks it: negative, or more than the scratch space, is an invalid size (a
   * size from traced data must not make dtrace read gigabytes first).
   */
  copySize(size: bigint): number {
    const n = BigInt.asIntN(64, size);
    if (n < 0n || n > BigInt(this.scratchSize - SCRATCH_START)) throw new DFault(FLT_BADSIZE, BigInt.asUintN(64, size));
    return Number(n);
  }

  /** Whether an address is an alloca() pointer: an offset into the scratch space. */
  private isScratch(addr: bigint): boolean {
    const off = addr - SCRATCH_BASE;
    return off >= 0n && off < BigInt(this.scratchSize);
  }

  /**
   * The scratch offset of [addr, addr + size) (dt_cg_alloca_access_check): an address that is
   * not in the scratch allocated so far is invalid; one whose `size` bytes run past it, an
   * invalid size (the size as given is the fault's value).
   */
  private allocaAccess(addr: bigint, size: number, sizeValue: bigint): number {
    const off = addr - SCRATCH_BASE;
    if (off < BigInt(SCRATCH_START) || off >= BigInt(this.top)) throw new DFault(FLT_BADADDR, BigInt.asUintN(64, addr));
    if (off + BigInt(size) > BigInt(this.top)) throw new DFault(FLT_BADSIZE, BigInt.asUintN(64, sizeValue));
    return Number(off);
  }

  /** The NUL-terminated string at addr, at most strsize bytes. */
  str(addr: bigint): string {
    const max = this.strsize();
    if (addr >= VIEW_BASE) {
      const r = this.region(addr, 1);
      if (r) return bytesToStr(r[0].subarray(r[1], Math.min(r[0].length, r[1] + max)));
    }
    const off = this.offset(addr, 1);
    let end = off;
    const limit = Math.min(this.top, off + max);
    while (end < limit && this.buf[end] !== 0) end++;
    return bytesToStr(this.buf.subarray(off, end));
  }
}
