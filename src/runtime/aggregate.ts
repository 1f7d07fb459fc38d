// Aggregations: keyed tables of count/sum/avg/min/max/stddev/quantize/lquantize/llquantize
// values, and the operations D applies to them (clear, trunc, normalize, denormalize) and the
// order in which DTrace walks their entries.          [dt_aggregate.c, dt_cg.c (dt_cg_agg_*), dt_consume.c]
//
// Per-event path (STYLE rules 4 and 8): a tuple key is interned to a small integer slot through one
// Map per key position; values live in typed arrays indexed by slot. Values of at most 32 bits
// arrive as Numbers and accumulate in Float64Arrays (folded into a BigInt64Array before they could
// lose precision); 64-bit values arrive as BigInts and accumulate in BigInt64Arrays, which wrap as
// int64 exactly as the BPF code does.
//
// Generated code does, per event:
//     const s = agg.slot2(k0, k1);   // or slot0(), slot1(k), slotN(scratchKeys)
//     agg.add(s, v, 1);              // v a Number; or agg.addBig(s, v, 1) for a 64-bit BigInt v

import { DType, Kind, resolve } from '../lang/types.js';
import type { Value } from './values.js';
import type { AggregationAbi } from './abi.js';
import type { ProbeContext } from './context.js';
import {
  formatLLQuantize,
  formatLQuantize,
  formatQuantize,
  type Int64Vector,
  LLQuantizeParams,
  llquantizeBucket,
  llquantizeBucketBig,
  llquantizeSortKey,
  LQuantizeParams,
  lquantizeBucket,
  lquantizeBucketBig,
  lquantizeSortKey,
  QUANTIZE_NBUCKETS,
  quantizeBucket,
  quantizeBucketBig,
  quantizeSortKey,
  type SortNum,
  sortNumCmp,
} from './histogram.js';

/** The aggregating functions, numbered as DTrace's DT_AGG_* (order has no meaning here). */
export enum AggFn {
  Count,
  Sum,
  Avg,
  Min,
  Max,
  Stddev,
  Quantize,
  LQuantize,
  LLQuantize,
}

/** Each aggregating function's D name. */
export const AGG_FN_NAMES: Readonly<Record<AggFn, string>> = {
  [AggFn.Count]: 'count',
  [AggFn.Sum]: 'sum',
  [AggFn.Avg]: 'avg',
  [AggFn.Min]: 'min',
  [AggFn.Max]: 'max',
  [AggFn.Stddev]: 'stddev',
  [AggFn.Quantize]: 'quantize',
  [AggFn.LQuantize]: 'lquantize',
  [AggFn.LLQuantize]: 'llquantize',
};

// -- keys --------------------------------------------------------------------------------------

/**
 * A key whose values the engine does not interpret: stack(), ustack(), sym(), mod(), usym(),
 * umod(), uaddr() results. The runtime that produces them supplies ordering and printing.
 */
export interface OpaqueKeyType {
  readonly opaque: true;
  /** set for stack() and ustack() keys: their values are frames, leaf first, one per line */
  readonly stack?: true;
  /** size of DTrace's key record (8 for sym/mod, 16 for usym/umod/uaddr, 8 * frames for stack) */
  readonly size: number;
  /** DTrace's order on two values (memcmp of the record for stacks, by address for sym/mod) */
  compare(a: Value, b: Value): number;
  /** the text dtrace prints for this key in default output, leading spaces and newlines included */
  format(v: Value): string;
}

export type KeyType = DType | OpaqueKeyType;

export const enum KeyKind {
  /** integers, enums, pointers: compared and printed by record size */
  Int,
  /** D strings: a record of strsize + 1 bytes */
  Str,
  /** structs, unions, arrays (a Uint8Array value) */
  Bytes,
  Opaque,
}

/** How one key position is stored, compared and printed. */
export class KeyField {
  constructor(
    readonly kind: KeyKind,
    /** bytes of DTrace's key record */
    readonly size: number,
    readonly opaque: OpaqueKeyType | null,
  ) {}
}

export function keyFieldOf(t: KeyType): KeyField {
  if (!(t instanceof DType)) return new KeyField(KeyKind.Opaque, t.size, t);
  const r = resolve(t);
  switch (r.kind) {
    case Kind.Int:
    case Kind.Enum:
      return new KeyField(KeyKind.Int, r.size, null);
    case Kind.Pointer:
      return new KeyField(KeyKind.Int, 8, null);
    case Kind.String:
      return new KeyField(KeyKind.Str, r.size + 1, null);
    default:
      return new KeyField(KeyKind.Bytes, r.size, null);
  }
}

type MapKey = number | bigint | string;
type KeyMap = Map<MapKey, unknown>;

/** latin1 string of bytes: how byte-valued keys are interned */
export function bytesToLatin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

function mapKey(v: Value): MapKey {
  return typeof v === 'object' ? bytesToLatin1(v) : v;
}

/** An integer-like key value as the unsigned number/bigint its record holds (size 1, 2, 4 or 8). */
export function keyUint(size: number, v: Value): number | bigint {
  if (typeof v === 'object') {
    // little-endian bytes
    if (size === 8) {
      let x = 0n;
      for (let i = 7; i >= 0; i--) x = (x << 8n) | BigInt(v[i] ?? 0);
      return x;
    }
    let x = 0;
    for (let i = size - 1; i >= 0; i--) x = x * 256 + (v[i] ?? 0);
    return x;
  }
  if (typeof v === 'string') {
    // a string record of this size (strsize + 1 in {1, 2, 4, 8})
    let x = 0n;
    for (let i = size - 1; i >= 0; i--) x = (x << 8n) | BigInt(i < v.length ? v.charCodeAt(i) & 0xff : 0);
    return size === 8 ? x : Number(x);
  }
  switch (size) {
    case 8:
      return BigInt.asUintN(64, BigInt(v));
    case 4:
      return Number(typeof v === 'bigint' ? BigInt.asUintN(32, v) : v >>> 0);
    case 2:
      return Number(typeof v === 'bigint' ? BigInt.asUintN(16, v) : v & 0xffff);
    default:
      return Number(typeof v === 'bigint' ? BigInt.asUintN(8, v) : v & 0xff);
  }
}

function byteAt(v: Value, i: number): number {
  if (typeof v === 'string') return i < v.length ? v.charCodeAt(i) & 0xff : 0;
  if (typeof v === 'object') return i < v.length ? v[i]! : 0;
  return 0;
}

function cmp(a: number | bigint | string, b: number | bigint | string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** DTrace's comparison of two key records (dt_aggregate_keycmp, one position). */
export function compareKeyValues(fa: KeyField, a: Value, fb: KeyField, b: Value): number {
  if (fa.size !== fb.size) return fa.size < fb.size ? -1 : 1;
  if (fa.kind === KeyKind.Opaque || fb.kind === KeyKind.Opaque) {
    if (fa.opaque !== null && fa.opaque === fb.opaque) return fa.opaque.compare(a, b);
    return 0;
  }
  const size = fa.size;
  if (size === 1 || size === 2 || size === 4 || size === 8) return cmp(keyUint(size, a), keyUint(size, b));
  if (typeof a === 'string' && typeof b === 'string') return cmp(a, b);
  for (let i = 0; i < size; i++) {
    const x = byteAt(a, i);
    const y = byteAt(b, i);
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

// -- sort options ------------------------------------------------------------------------------

/** The options that order aggregation output (set by -x, #pragma D option, or setopt()). */
export interface AggSortOptions {
  /** aggsortkey: order by key rather than by value */
  aggsortkey: boolean;
  /** aggsortrev: reverse the order */
  aggsortrev: boolean;
  /** aggsortpos: in a printa() of several aggregations, which one's values order the rows */
  aggsortpos: number;
  /** aggsortkeypos: which key position is compared first */
  aggsortkeypos: number;
}

export const DEFAULT_SORT_OPTIONS: Readonly<AggSortOptions> = {
  aggsortkey: false,
  aggsortrev: false,
  aggsortpos: 0,
  aggsortkeypos: 0,
};

/** DTrace's effective key position: out-of-range positions fall back to 0. */
export function effectiveKeyPos(keypos: number, nkeys: number): number {
  return keypos >= 0 && keypos < nkeys ? Math.floor(keypos) : 0;
}

// -- the aggregation buffer --------------------------------------------------------------------

/**
 * The aggregation buffer (aggsize) every aggregation shares, as Oracle's per-CPU BPF map of
 * aggsize / (largest key record + largest data record) entries (dt_bpf.c gmap_create_aggs). A new
 * key past it is an aggregation drop on the CPU whose probe fired ("N aggregation drops on CPU
 * C"); an entry trunc() removes gives its room back. Only the creation of a key checks it.
 */
export class AggSpace {
  /** entries in use, over all aggregations */
  used = 0;
  /** the CPU of the firing being handled (set once per firing) */
  cpu = 0;
  /** drops by CPU */
  readonly drops: number[] = [];

  constructor(
    /** most entries (Infinity: unbounded) */
    public limit: number,
  ) {}

  drop(): void {
    const c = this.cpu;
    this.drops[c] = (this.drops[c] ?? 0) + 1;
  }
}

/** Bytes of DTrace's key record for an aggregation's keys: its id, the keys, the TLS key slot. */
export function aggTupleBytes(keyTypes: readonly KeyType[]): number {
  let off = 4;
  for (const t of keyTypes) {
    const f = keyFieldOf(t);
    // scalars are aligned to their size; strings and by-reference values are packed
    if (f.kind === KeyKind.Int || f.kind === KeyKind.Opaque) {
      const a = f.kind === KeyKind.Opaque ? 8 : f.size;
      off = Math.ceil(off / a) * a;
    }
    off += f.size;
  }
  return off + 8;
}

/** Bytes of DTrace's data record for an aggregating function: its generation counter, then the data. */
export function aggDataBytes(fn: AggFn, nbuckets: number): number {
  switch (fn) {
    case AggFn.Avg:
      return 8 + 16;
    case AggFn.Stddev:
      return 8 + 32;
    case AggFn.Quantize:
    case AggFn.LQuantize:
    case AggFn.LLQuantize:
      return 8 + 8 * nbuckets;
    default:
      return 8 + 8;
  }
}

// -- the table ---------------------------------------------------------------------------------

const FOLD = 4503599627370496; // 2^52: Number accumulators fold into BigInts beyond this
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
/** 128-bit arithmetic's mask: DTrace's stddev() sums of squares wrap there */
export const MASK128 = (1n << 128n) - 1n;

function growF64(a: Float64Array, n: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}

function growB64(a: BigInt64Array, n: number): BigInt64Array<ArrayBuffer> {
  const b = new BigInt64Array(n);
  b.set(a);
  return b;
}

function growU8(a: Uint8Array, n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  b.set(a);
  return b;
}

/** v as a Number if that is exact, else NaN */
function safeNumber(v: bigint): number {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : NaN;
}

/** A value that sorts in int64 order: a Number when it is exact, else a BigInt. */
function sortInt(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

/** A value's sort key: see Aggregation.sortKey. */
export class SortPair {
  v: SortNum = 0;
  z: number | bigint = 0;
}

/**
 * One aggregation (@name). Entries are slots: small integers that index the value arrays.
 * Subclasses hold the values of one aggregating function.
 */
export abstract class Aggregation implements AggregationAbi {
  readonly nkeys: number;
  readonly fields: readonly KeyField[];
  /** normalize()'s factor (uint64); 1 when not normalised */
  normal = 1n;
  /** the aggzoom option: histogram bars scaled to the tallest, not the total */
  zoom = false;
  /**
   * Set once printa() (with or without a format) has printed a row of this aggregation: dtrace
   * then leaves it out of the output at exit.
   */
  printed = false;
  /** number of entries */
  size = 0;
  /** slots below this have been allocated at least once; `live[s]` says which exist now */
  hw = 0;
  live: Uint8Array = new Uint8Array(0);
  /** key values of slot s at keyStore[s * nkeys + i] */
  readonly keyStore: Value[] = [];

  /** the buffer this aggregation's entries take room in (createAggregation sets the shared one) */
  space = new AggSpace(Infinity);

  protected cap = 0;
  private readonly freeSlots: number[] = [];
  private readonly root: KeyMap = new Map();
  private slotNoKey = -1;
  /** where the values of a dropped key go: a slot that is never live, so never printed */
  private sink = -1;

  constructor(
    /** name without the '@' ("" for the anonymous @) */
    readonly name: string,
    /** aggregation variable id: DTrace prints aggregations in increasing id order */
    readonly id: number,
    readonly fn: AggFn,
    keyTypes: readonly KeyType[],
  ) {
    this.nkeys = keyTypes.length;
    this.fields = keyTypes.map(keyFieldOf);
  }

  // -- per event: key interning --------------------------------------------------------------

  // A key not seen before takes room in the aggregation buffer; when there is none it is dropped
  // (its update goes to the sink) before anything is stored for it.

  /** The slot of the aggregation's only entry (no keys), created on first use. */
  slot0(): number {
    const s = this.slotNoKey;
    if (s >= 0) return s;
    if (this.space.used >= this.space.limit) return this.dropped();
    return (this.slotNoKey = this.alloc());
  }

  /** The slot for key (k0), created on first use. */
  slot1(k0: Value): number {
    const k = typeof k0 === 'object' ? bytesToLatin1(k0) : k0;
    const s = this.root.get(k);
    if (s !== undefined) return s as number;
    if (this.space.used >= this.space.limit) return this.dropped();
    const ns = this.alloc();
    this.setKey(ns, 0, k0);
    this.root.set(k, ns);
    return ns;
  }

  /** The slot for key (k0, k1), created on first use. */
  slot2(k0: Value, k1: Value): number {
    const a = typeof k0 === 'object' ? bytesToLatin1(k0) : k0;
    const b = typeof k1 === 'object' ? bytesToLatin1(k1) : k1;
    let m = this.root.get(a) as KeyMap | undefined;
    if (m !== undefined) {
      const s = m.get(b);
      if (s !== undefined) return s as number;
    }
    if (this.space.used >= this.space.limit) return this.dropped();
    if (m === undefined) {
      m = new Map();
      this.root.set(a, m);
    }
    const ns = this.alloc();
    this.setKey(ns, 0, k0);
    this.setKey(ns, 1, k1);
    m.set(b, ns);
    return ns;
  }

  /** The slot for key (k0, k1, k2), created on first use. */
  slot3(k0: Value, k1: Value, k2: Value): number {
    const a = typeof k0 === 'object' ? bytesToLatin1(k0) : k0;
    const b = typeof k1 === 'object' ? bytesToLatin1(k1) : k1;
    const c = typeof k2 === 'object' ? bytesToLatin1(k2) : k2;
    let m = this.root.get(a) as KeyMap | undefined;
    let m2 = m === undefined ? undefined : (m.get(b) as KeyMap | undefined);
    if (m2 !== undefined) {
      const s = m2.get(c);
      if (s !== undefined) return s as number;
    }
    if (this.space.used >= this.space.limit) return this.dropped();
    if (m === undefined) {
      m = new Map();
      this.root.set(a, m);
    }
    if (m2 === undefined) {
      m2 = new Map();
      m.set(b, m2);
    }
    const ns = this.alloc();
    this.setKey(ns, 0, k0);
    this.setKey(ns, 1, k1);
    this.setKey(ns, 2, k2);
    m2.set(c, ns);
    return ns;
  }

  /** The slot for a key of any arity (`keys` may be a scratch array the caller reuses). */
  slotN(keys: readonly Value[]): number {
    const n = this.nkeys;
    if (n === 0) return this.slot0();
    const s = this.find(keys);
    if (s >= 0) return s;
    if (this.space.used >= this.space.limit) return this.dropped();
    let m = this.root;
    for (let i = 0; i < n - 1; i++) {
      const k = mapKey(keys[i]!);
      let next = m.get(k) as KeyMap | undefined;
      if (next === undefined) {
        next = new Map();
        m.set(k, next);
      }
      m = next;
    }
    const ns = this.alloc();
    for (let i = 0; i < n; i++) this.setKey(ns, i, keys[i]!);
    m.set(mapKey(keys[n - 1]!), ns);
    return ns;
  }

  /** An aggregation drop: counted, and the update lands where nothing reads it. */
  private dropped(): number {
    this.space.drop();
    let s = this.sink;
    if (s < 0) {
      if (this.hw === this.cap) this.grow();
      s = this.sink = this.hw++;
    }
    this.initSlot(s);
    return s;
  }

  /** The slot for a key if it exists, else -1 (never creates one). */
  find(keys: readonly Value[]): number {
    if (this.nkeys === 0) return this.slotNoKey;
    let m: unknown = this.root;
    for (let i = 0; i < this.nkeys; i++) {
      if (!(m instanceof Map)) return -1;
      m = (m as KeyMap).get(mapKey(keys[i]!));
      if (m === undefined) return -1;
    }
    return m as number;
  }

  // -- per event: values -----------------------------------------------------------------------

  /**
   * Applies the aggregating function to slot `slot` with a value held in a Number (any D integer
   * of at most 32 bits). count() ignores `v`; quantize/lquantize/llquantize add `incr` (their
   * optional increment, 1 by default) to v's bucket; the others ignore `incr`.
   * `incr` may be a Number of at most 32 bits or any BigInt.
   */
  abstract add(slot: number, v: number, incr: number | bigint): void;

  /** As add(), for a 64-bit value held in a BigInt (unsigned values >= 2^63 act as negative). */
  abstract addBig(slot: number, v: bigint, incr: number | bigint): void;

  /**
   * Folds in what was aggregated elsewhere (in the kernel), as DTrace's data record words
   * (data()): counts, sums and buckets are added; min() and max() take the extreme.
   */
  abstract mergeWords(slot: number, words: readonly bigint[]): void;

  /**
   * Adds argument i of the firing: its Number where a decoder filled one (ctx.argn) within the
   * range add() takes, else as a BigInt (made from the Number where that is exact, else the
   * decoder's): no BigInt per event for the usual argument (STYLE rule 4).
   */
  addArg(slot: number, ctx: ProbeContext, i: number, incr: number | bigint): void {
    if (ctx.argnSet & (1 << i)) {
      const n = ctx.argn[i];
      if (n < 2147483648 && n >= -2147483648) {
        this.add(slot, n, incr);
        return;
      }
      if (n <= 9007199254740991 && n >= -9007199254740991) {
        this.addBig(slot, BigInt(n), incr);
        return;
      }
    }
    this.addBig(slot, ctx.args[i], incr);
  }

  // -- reading ---------------------------------------------------------------------------------

  /** The key values of an entry. */
  keyValues(slot: number): Value[] {
    const n = this.nkeys;
    return this.keyStore.slice(slot * n, slot * n + n);
  }

  key(slot: number, i: number): Value {
    return this.keyStore[slot * this.nkeys + i]!;
  }

  /** Live slots, in slot order (not sorted). */
  slots(): number[] {
    const out: number[] = [];
    const live = this.live;
    for (let s = 0; s < this.hw; s++) if (live[s] === 1) out.push(s);
    return out;
  }

  /**
   * DTrace's data record of an entry as int64 words (slot -1: the all-zero record):
   * count [n]; sum/min/max [v]; avg [n, sum]; stddev [n, sum, squares low, squares high];
   * histograms: one word per bucket.
   */
  abstract data(slot: number): bigint[];

  /** The text dt_print_datum prints for the value of an entry (slot -1: a zero value). */
  abstract valueText(slot: number): string;

  /**
   * What DTrace's printf receives for a %@ conversion of this value (slot -1: zero): a 64-bit
   * integer, signed or unsigned as the conversion reads it (normalisation applied as DTrace's
   * pfprint_sint/pfprint_uint/pfprint_average/pfprint_stddev do), or for histograms the full text
   * to insert (it begins with a newline; width and precision do not apply).
   */
  abstract printfValue(slot: number, signedConversion: boolean): bigint | string;

  /**
   * The sort key of an entry's value (dt_aggregate_valcmp) into `out`: the value (a weighted sum
   * for histograms) and, for histograms, the count of the "zero" bucket (0 otherwise).
   */
  abstract sortKey(slot: number, out: SortPair): void;

  // -- operations ------------------------------------------------------------------------------

  /** clear(@a): zero every value and keep the keys (min/max restart from INT64_MAX/INT64_MIN). */
  clear(): void {
    const live = this.live;
    for (let s = 0; s < this.hw; s++) if (live[s] === 1) this.initSlot(s);
  }

  /**
   * trunc(@a, n): keep the n entries with the largest values (n < 0: the |n| smallest), remove the
   * rest; trunc(@a) is trunc(@a, 0). Ordering ignores the aggsort* options, as DTrace's does.
   */
  trunc(n: number | bigint = 0): void {
    const keep = typeof n === 'bigint' ? (n < 0n ? -n : n) : Math.abs(n);
    const order = this.sortBy(false, n >= 0, 0);
    for (let i = 0; i < order.length; i++) {
      if (i >= keep) this.remove(order[i]!);
    }
  }

  /** normalize(@a, n): values print divided by n (uint64, as DTrace reads it). */
  normalize(n: number | bigint): void {
    this.normal = BigInt.asUintN(64, BigInt(n));
  }

  /** denormalize(@a) */
  denormalize(): void {
    this.normal = 1n;
  }

  /** Removes one entry. */
  remove(slot: number): void {
    if (this.live[slot] !== 1) return;
    const n = this.nkeys;
    if (n === 0) {
      this.slotNoKey = -1;
    } else {
      const path: KeyMap[] = [this.root];
      for (let i = 0; i < n - 1; i++) path.push(path[i]!.get(mapKey(this.key(slot, i))) as KeyMap);
      path[n - 1]!.delete(mapKey(this.key(slot, n - 1)));
      for (let i = n - 2; i >= 0; i--) {
        if (path[i + 1]!.size !== 0) break;
        path[i]!.delete(mapKey(this.key(slot, i)));
      }
      for (let i = 0; i < n; i++) this.keyStore[slot * n + i] = 0;
    }
    this.live[slot] = 0;
    this.size--;
    this.space.used--;
    this.initSlot(slot);
    this.freeSlots.push(slot);
  }

  /** Removes every entry. */
  reset(): void {
    const live = this.live;
    for (let s = 0; s < this.hw; s++) if (live[s] === 1) this.remove(s);
  }

  // -- ordering --------------------------------------------------------------------------------

  /**
   * Entries in the order dtrace prints them (dtrace_aggregate_walk_sorted): by value, ties by
   * key; by key alone with aggsortkey; keys compared from position aggsortkeypos; all reversed
   * with aggsortrev.
   */
  sortedSlots(opts: Readonly<AggSortOptions> = DEFAULT_SORT_OPTIONS): number[] {
    return this.sortBy(opts.aggsortkey, opts.aggsortrev, effectiveKeyPos(opts.aggsortkeypos, this.nkeys));
  }

  /** Compares the keys of two entries of this aggregation (dt_aggregate_keycmp). */
  compareKeys(a: number, b: number, keypos: number): number {
    return compareEntryKeys(this, a, this, b, keypos);
  }

  private sortBy(keysort: boolean, rev: boolean, keypos: number): number[] {
    const slots = this.slots();
    const dir = rev ? -1 : 1;
    if (keysort) {
      slots.sort((a, b) => dir * this.compareKeys(a, b, keypos));
      return slots;
    }
    // every key a Number (the usual case): compare Float64Arrays
    const pair = new SortPair();
    const fv = new Float64Array(this.hw);
    const fz = new Float64Array(this.hw);
    let exact = true;
    for (const s of slots) {
      this.sortKey(s, pair);
      const v = pair.v;
      const z = pair.z;
      if (typeof v !== 'number' || typeof z !== 'number') {
        exact = false;
        break;
      }
      fv[s] = v;
      fz[s] = z;
    }
    if (exact) {
      slots.sort((a, b) => {
        const x = fv[a]!;
        const y = fv[b]!;
        if (x !== y) return x < y ? -dir : dir;
        const zx = fz[a]!;
        const zy = fz[b]!;
        if (zx !== zy) return zx < zy ? -dir : dir;
        return dir * this.compareKeys(a, b, keypos);
      });
      return slots;
    }
    const sv: SortNum[] = new Array<SortNum>(this.hw);
    const sz: (number | bigint)[] = new Array<number | bigint>(this.hw);
    for (const s of slots) {
      this.sortKey(s, pair);
      sv[s] = pair.v;
      sz[s] = pair.z;
    }
    slots.sort((a, b) => {
      const c = sortNumCmp(sv[a]!, sv[b]!) || cmp(sz[a]!, sz[b]!) || this.compareKeys(a, b, keypos);
      return dir * c;
    });
    return slots;
  }

  // -- storage ---------------------------------------------------------------------------------

  protected abstract growValues(cap: number): void;

  /** Sets a slot's value to the function's initial value. */
  protected abstract initSlot(slot: number): void;

  private alloc(): number {
    let s: number;
    if (this.freeSlots.length > 0) {
      s = this.freeSlots.pop()!;
    } else {
      if (this.hw === this.cap) this.grow();
      s = this.hw++;
    }
    this.live[s] = 1;
    this.size++;
    this.space.used++;
    this.initSlot(s);
    return s;
  }

  private grow(): void {
    const cap = this.cap === 0 ? 16 : this.cap * 2;
    const live = new Uint8Array(cap);
    live.set(this.live);
    this.live = live;
    this.growValues(cap);
    this.cap = cap;
  }

  private setKey(slot: number, i: number, v: Value): void {
    // byte keys may live in a reused buffer: keep a copy
    this.keyStore[slot * this.nkeys + i] = typeof v === 'object' ? v.slice() : v;
  }
}

/** Compares the keys of entries of two aggregations with compatible keys (DTrace's keycmp). */
export function compareEntryKeys(aa: Aggregation, a: number, ab: Aggregation, b: number, keypos: number): number {
  const n = aa.nkeys;
  if (n !== ab.nkeys) return n < ab.nkeys ? -1 : 1;
  for (let i = 0; i < n; i++) {
    let k = i + keypos;
    if (k >= n) k -= n;
    const c = compareKeyValues(aa.fields[k]!, aa.key(a, k), ab.fields[k]!, ab.key(b, k));
    if (c !== 0) return c;
  }
  return 0;
}

/** int64 `v / normal` as dtrace prints it: `(long long)v / normal` divides unsigned. */
function normalizedSigned(v: bigint, normal: bigint): bigint {
  if (normal === 1n || normal === 0n) return v;
  return BigInt.asIntN(64, BigInt.asUintN(64, v) / normal);
}

function col16(v: bigint | number): string {
  return ' ' + String(v).padStart(16);
}

/** What printf's %d/%u family reads for a plain int64 aggregation value. */
function printfInt(v: bigint, normal: bigint, signed: boolean): bigint {
  if (normal === 0n) normal = 1n;
  if (signed) {
    const sn = BigInt.asIntN(64, normal);
    return BigInt.asIntN(64, BigInt.asIntN(64, v) / (sn === 0n ? 1n : sn));
  }
  return BigInt.asUintN(64, v) / normal;
}

// -- count(), sum(), min(), max() --------------------------------------------------------------

/** count(), sum(), min(), max(): one int64 per entry. */
abstract class Int64Agg extends Aggregation {
  /** the exact value */
  abstract int64(slot: number): bigint;
  /** the exact value as a Number, or NaN when only a BigInt holds it */
  abstract numberValue(slot: number): number;

  data(slot: number): bigint[] {
    return [slot < 0 ? 0n : this.int64(slot)];
  }

  valueText(slot: number): string {
    if (slot < 0) return col16(0);
    if (this.normal === 1n) {
      const n = this.numberValue(slot);
      if (n === n) return col16(n);
    }
    return col16(normalizedSigned(this.int64(slot), this.normal));
  }

  printfValue(slot: number, signed: boolean): bigint {
    return printfInt(slot < 0 ? 0n : this.int64(slot), this.normal, signed);
  }

  sortKey(slot: number, out: SortPair): void {
    out.z = 0;
    if (slot < 0) {
      out.v = 0;
      return;
    }
    const n = this.numberValue(slot);
    out.v = n === n ? n : sortInt(this.int64(slot));
  }
}

export class CountAggregation extends Int64Agg {
  cnt = new Float64Array(0);

  constructor(name: string, id: number, keyTypes: readonly KeyType[]) {
    super(name, id, AggFn.Count, keyTypes);
  }

  mergeWords(slot: number, words: readonly bigint[]): void {
    this.cnt[slot] += Number(words[0]);
  }

  add(slot: number, _v: number, _incr: number | bigint): void {
    this.cnt[slot]++;
  }

  addBig(slot: number, _v: bigint, _incr: number | bigint): void {
    this.cnt[slot]++;
  }

  int64(slot: number): bigint {
    return BigInt(this.cnt[slot]!);
  }

  numberValue(slot: number): number {
    return this.cnt[slot]!;
  }

  protected growValues(cap: number): void {
    this.cnt = growF64(this.cnt, cap);
  }

  protected initSlot(slot: number): void {
    this.cnt[slot] = 0;
  }
}

export class SumAggregation extends Int64Agg {
  lo = new Float64Array(0);
  hi = new BigInt64Array(0);
  /** 1 once hi may be non-zero */
  wide = new Uint8Array(0);

  constructor(name: string, id: number, keyTypes: readonly KeyType[]) {
    super(name, id, AggFn.Sum, keyTypes);
  }

  mergeWords(slot: number, words: readonly bigint[]): void {
    this.addBig(slot, words[0]!, 1);
  }

  add(slot: number, v: number, _incr: number | bigint): void {
    const x = this.lo[slot]! + v;
    if (x < FOLD && x > -FOLD) this.lo[slot] = x;
    else this.fold(slot, x);
  }

  addBig(slot: number, v: bigint, _incr: number | bigint): void {
    this.hi[slot]! += v;
    this.wide[slot] = 1;
  }

  private fold(slot: number, x: number): void {
    this.hi[slot]! += BigInt(x);
    this.lo[slot] = 0;
    this.wide[slot] = 1;
  }

  int64(slot: number): bigint {
    return BigInt.asIntN(64, this.hi[slot]! + BigInt(this.lo[slot]!));
  }

  numberValue(slot: number): number {
    return this.wide[slot] === 0 ? this.lo[slot]! : safeNumber(this.int64(slot));
  }

  protected growValues(cap: number): void {
    this.lo = growF64(this.lo, cap);
    this.hi = growB64(this.hi, cap);
    this.wide = growU8(this.wide, cap);
  }

  protected initSlot(slot: number): void {
    this.lo[slot] = 0;
    this.hi[slot] = 0n;
    this.wide[slot] = 0;
  }
}

/** min() and max(): Numbers and BigInts are tracked apart and combined when read. */
abstract class ExtremeAgg extends Int64Agg {
  num = new Float64Array(0);
  big = new BigInt64Array(0);
  /** 1 once `big` was updated */
  wide = new Uint8Array(0);
  protected abstract readonly numInit: number;
  protected abstract readonly bigInit: bigint;

  numberValue(slot: number): number {
    const n = this.num[slot]!;
    return this.wide[slot] === 0 && n !== this.numInit ? n : safeNumber(this.int64(slot));
  }

  protected growValues(cap: number): void {
    this.num = growF64(this.num, cap);
    this.big = growB64(this.big, cap);
    this.wide = growU8(this.wide, cap);
  }

  protected initSlot(slot: number): void {
    this.num[slot] = this.numInit;
    this.big[slot] = this.bigInit;
    this.wide[slot] = 0;
  }
}

export class MinAggregation extends ExtremeAgg {
  protected readonly numInit = Infinity;
  protected readonly bigInit = INT64_MAX;

  constructor(name: string, id: number, keyTypes: readonly KeyType[]) {
    super(name, id, AggFn.Min, keyTypes);
  }

  mergeWords(slot: number, words: readonly bigint[]): void {
    this.addBig(slot, words[0]!, 1);
  }

  add(slot: number, v: number, _incr: number | bigint): void {
    if (v < this.num[slot]!) this.num[slot] = v;
  }

  addBig(slot: number, v: bigint, _incr: number | bigint): void {
    v = BigInt.asIntN(64, v);
    if (v < this.big[slot]!) {
      this.big[slot] = v;
      this.wide[slot] = 1;
    }
  }

  int64(slot: number): bigint {
    const n = this.num[slot]!;
    const b = this.big[slot]!;
    if (n === Infinity) return b;
    const nb = BigInt(n);
    return nb < b ? nb : b;
  }
}

export class MaxAggregation extends ExtremeAgg {
  protected readonly numInit = -Infinity;
  protected readonly bigInit = INT64_MIN;

  constructor(name: string, id: number, keyTypes: readonly KeyType[]) {
    super(name, id, AggFn.Max, keyTypes);
  }

  mergeWords(slot: number, words: readonly bigint[]): void {
    this.addBig(slot, words[0]!, 1);
  }

  add(slot: number, v: number, _incr: number | bigint): void {
    if (v > this.num[slot]!) this.num[slot] = v;
  }

  addBig(slot: number, v: bigint, _incr: number | bigint): void {
    v = BigInt.asIntN(64, v);
    if (v > this.big[slot]!) {
      this.big[slot] = v;
      this.wide[slot] = 1;
    }
  }

  int64(slot: number): bigint {
    const n = this.num[slot]!;
    const b = this.big[slot]!;
    if (n === -Infinity) return b;
    const nb = BigInt(n);
    return nb > b ? nb : b;
  }
}

// -- avg(), stddev() ---------------------------------------------------------------------------

export class AvgAggregation extends Aggregation {
  cnt = new Float64Array(0);
  lo = new Float64Array(0);
  hi = new BigInt64Array(0);
  /** 1 once hi may be non-zero */
  wide = new Uint8Array(0);

  constructor(name: string, id: number, keyTypes: readonly KeyType[]) {
    super(name, id, AggFn.Avg, keyTypes);
  }

  mergeWords(slot: number, words: readonly bigint[]): void {
    this.cnt[slot] += Number(words[0]);
    this.hi[slot]! += words[1]!;
    this.wide[slot] = 1;
  }

  add(slot: number, v: number, _incr: number | bigint): void {
    this.cnt[slot]++;
    const x = this.lo[slot]! + v;
    if (x < FOLD && x > -FOLD) this.lo[slot] = x;
    else this.fold(slot, x);
  }

  addBig(slot: number, v: bigint, _incr: number | bigint): void {
    this.cnt[slot]++;
    this.hi[slot]! += v;
    this.wide[slot] = 1;
  }

  private fold(slot: number, x: number): void {
    this.hi[slot]! += BigInt(x);
    this.lo[slot] = 0;
    this.wide[slot] = 1;
  }

  /** count and sum fit Numbers: the average is exact in double arithmetic (|sum| < 2^52) */
  private narrow(slot: number): boolean {
    return slot >= 0 && this.wide[slot] === 0;
  }

  count(slot: number): bigint {
    return slot < 0 ? 0n : BigInt(this.cnt[slot]!);
  }

  total(slot: number): bigint {
    return slot < 0 ? 0n : BigInt.asIntN(64, this.hi[slot]! + BigInt(this.lo[slot]!));
  }

  data(slot: number): bigint[] {
    return [this.count(slot), this.total(slot)];
  }

  valueText(slot: number): string {
    // data[0] ? data[1] / (int64_t)normal / data[0] : 0, in signed arithmetic
    if (this.normal === 1n && this.narrow(slot)) {
      const c = this.cnt[slot]!;
      return col16(c === 0 ? 0 : Math.trunc(this.lo[slot]! / c));
    }
    const n = this.count(slot);
    if (n === 0n) return col16(0);
    let sn = BigInt.asIntN(64, this.normal);
    if (sn === 0n) sn = 1n;
    return col16(BigInt.asIntN(64, BigInt.asIntN(64, this.total(slot) / sn) / n));
  }

  printfValue(slot: number, signed: boolean): bigint {
    // pfprint_average: data[1] / normal / data[0], in unsigned arithmetic
    const n = this.count(slot);
    const normal = this.normal === 0n ? 1n : this.normal;
    const v = n === 0n ? 0n : BigInt.asUintN(64, this.total(slot)) / normal / n;
    return signed ? BigInt.asIntN(64, v) : v;
  }

  sortKey(slot: number, out: SortPair): void {
    out.z = 0;
    if (this.narrow(slot)) {
      const c = this.cnt[slot]!;
      out.v = c === 0 ? 0 : Math.trunc(this.lo[slot]! / c);
      return;
    }
    const n = this.count(slot);
    out.v = n === 0n ? 0 : sortInt(BigInt.asIntN(64, this.total(slot) / n));
  }

  protected growValues(cap: number): void {
    this.cnt = growF64(this.cnt, cap);
    this.lo = growF64(this.lo, cap);
    this.hi = growB64(this.hi, cap);
    this.wide = growU8(this.wide, cap);
  }

  protected initSlot(slot: number): void {
    this.cnt[slot] = 0;
    this.lo[slot] = 0;
    this.hi[slot] = 0n;
    this.wide[slot] = 0;
  }
}

/** floor(sqrt(n)) for n >= 0 */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  // Newton steps from the floating-point estimate
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) break;
    x = y;
  }
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}

/**
 * dt_stddev: sqrt(avg(x^2) - avg(x)^2) in DTrace's integer arithmetic: the 128-bit sum of squares
 * divided (unsigned) by normal then by count, the signed average divided by normal then count,
 * the difference taken modulo 2^128, and its integer square root.
 */
export function dtStddev(count: bigint, sum: bigint, sumsq: bigint, normal: bigint): bigint {
  if (count === 0n || normal === 0n) return 0n;
  const ucount = BigInt.asUintN(64, count);
  const avgOfSquares = sumsq / normal / ucount;
  const sn = BigInt.asIntN(64, normal);
  const sc = BigInt.asIntN(64, count);
  let normAvg = sn === 0n || sc === 0n ? 0n : BigInt.asIntN(64, BigInt.asIntN(64, BigInt.asIntN(64, sum) / sn) / sc);
  if (normAvg < 0n) normAvg = BigInt.asIntN(64, -normAvg);
  const u = BigInt.asUintN(64, normAvg);
  const diff = (avgOfSquares - u * u) & MASK128;
  return isqrt(diff);
}

export class StddevAggregation extends Aggregation {
  cnt = new Float64Array(0);
  lo = new Float64Array(0);
  hi = new BigInt64Array(0);
  /** sum of squares = sqBig + sqA * 2^32 + sqB (mod 2^128); sqA, sqB exact Numbers < 2^53 */
  sqA = new Float64Array(0);
  sqB = new Float64Array(0);
  sqBig: bigint[] = [];

  constructor(name: string, id: number, keyTypes: readonly KeyType[]) {
    super(name, id, AggFn.Stddev, keyTypes);
  }

  /** [count, sum, sum of squares' low 64 bits, its high 64 bits], as a kernel map's entry adds up */
  mergeWords(slot: number, words: readonly bigint[]): void {
    this.cnt[slot] += Number(words[0]);
    this.hi[slot]! += words[1]!;
    const sq = BigInt.asUintN(64, words[2]!) + (BigInt.asUintN(64, words[3]!) << 64n);
    this.sqBig[slot] = (this.sqBig[slot]! + sq) & MASK128;
  }

  add(slot: number, v: number, _incr: number | bigint): void {
    this.cnt[slot]++;
    const x = this.lo[slot]! + v;
    if (x < FOLD && x > -FOLD) this.lo[slot] = x;
    else {
      this.hi[slot]! += BigInt(x);
      this.lo[slot] = 0;
    }
    // v^2 = h^2 * 2^32 + (2hl * 2^16 + l^2), with |v| = h * 2^16 + l
    const a = v < 0 ? -v : v;
    if (a > 4294967296) {
      this.square(slot, BigInt(a));
      return;
    }
    const h = Math.floor(a / 65536);
    const l = a - h * 65536;
    let b = this.sqB[slot]! + 2 * h * l * 65536 + l * l;
    let ah = this.sqA[slot]! + h * h;
    if (b >= FOLD) {
      const carry = Math.floor(b / 4294967296);
      ah += carry;
      b -= carry * 4294967296;
    }
    this.sqB[slot] = b;
    if (ah >= FOLD) {
      this.sqBig[slot] = (this.sqBig[slot]! + (BigInt(ah) << 32n)) & MASK128;
      ah = 0;
    }
    this.sqA[slot] = ah;
  }

  addBig(slot: number, v: bigint, _incr: number | bigint): void {
    v = BigInt.asIntN(64, v);
    this.cnt[slot]++;
    this.hi[slot]! += v;
    this.square(slot, v < 0n ? -v : v);
  }

  private square(slot: number, a: bigint): void {
    this.sqBig[slot] = (this.sqBig[slot]! + a * a) & MASK128;
  }

  count(slot: number): bigint {
    return slot < 0 ? 0n : BigInt(this.cnt[slot]!);
  }

  total(slot: number): bigint {
    return slot < 0 ? 0n : BigInt.asIntN(64, this.hi[slot]! + BigInt(this.lo[slot]!));
  }

  sumOfSquares(slot: number): bigint {
    if (slot < 0) return 0n;
    return (this.sqBig[slot]! + (BigInt(this.sqA[slot]!) << 32n) + BigInt(this.sqB[slot]!)) & MASK128;
  }

  stddev(slot: number, normal: bigint): bigint {
    return dtStddev(this.count(slot), this.total(slot), this.sumOfSquares(slot), normal);
  }

  data(slot: number): bigint[] {
    const sq = this.sumOfSquares(slot);
    return [this.count(slot), this.total(slot), BigInt.asIntN(64, sq), BigInt.asIntN(64, sq >> 64n)];
  }

  valueText(slot: number): string {
    return col16(this.stddev(slot, this.normal));
  }

  printfValue(slot: number, signed: boolean): bigint {
    const v = this.stddev(slot, this.normal);
    return signed ? BigInt.asIntN(64, v) : v;
  }

  sortKey(slot: number, out: SortPair): void {
    out.v = sortInt(this.stddev(slot, 1n));
    out.z = 0;
  }

  protected growValues(cap: number): void {
    this.cnt = growF64(this.cnt, cap);
    this.lo = growF64(this.lo, cap);
    this.hi = growB64(this.hi, cap);
    this.sqA = growF64(this.sqA, cap);
    this.sqB = growF64(this.sqB, cap);
    for (let i = this.sqBig.length; i < cap; i++) this.sqBig.push(0n);
  }

  protected initSlot(slot: number): void {
    this.cnt[slot] = 0;
    this.lo[slot] = 0;
    this.hi[slot] = 0n;
    this.sqA[slot] = 0;
    this.sqB[slot] = 0;
    this.sqBig[slot] = 0n;
  }
}

// -- quantize(), lquantize(), llquantize() -----------------------------------------------------

/**
 * Histograms: `nb` int64 buckets per slot, in `cells` (exact Numbers) plus, once some bucket
 * needs it, `bigCells` (BigInt parts); a bucket's count is bigCells[c] + cells[c].
 */
abstract class HistogramAgg extends Aggregation {
  cells = new Float64Array(0);
  bigCells: BigInt64Array | null = null;
  private zeroVec: Int64Vector | null = null;

  constructor(
    name: string,
    id: number,
    fn: AggFn,
    keyTypes: readonly KeyType[],
    /** buckets per entry */
    readonly nb: number,
  ) {
    super(name, id, fn, keyTypes);
  }

  mergeWords(slot: number, words: readonly bigint[]): void {
    const off = slot * this.nb;
    for (let b = 0; b < this.nb; b++) if (words[b] !== 0n) this.bump(off + b, words[b]!);
  }

  /** Adds a weight to one bucket (cell index slot * nb + bucket). */
  protected bump(c: number, incr: number | bigint): void {
    if (typeof incr === 'number') {
      const x = this.cells[c]! + incr;
      if (x < FOLD && x > -FOLD) this.cells[c] = x;
      else this.bumpBig(c, BigInt(x), true);
    } else if (incr < 4294967296n && incr > -4294967296n) {
      this.bump(c, Number(incr));
    } else {
      this.bumpBig(c, incr, false);
    }
  }

  private bumpBig(c: number, x: bigint, replaceNumber: boolean): void {
    let big = this.bigCells;
    if (big === null) big = this.bigCells = new BigInt64Array(this.cells.length);
    big[c]! += x;
    if (replaceNumber) this.cells[c] = 0;
  }

  /** The buckets of an entry (slot -1: all zero). Valid until the next update. */
  read(slot: number): Int64Vector {
    const nb = this.nb;
    if (slot < 0) return (this.zeroVec ??= { num: new Float64Array(nb), big: null });
    const off = slot * nb;
    const num = this.cells.subarray(off, off + nb);
    const bc = this.bigCells;
    if (bc === null) return { num, big: null };
    const big = new BigInt64Array(nb);
    const n2 = new Float64Array(nb);
    for (let i = 0; i < nb; i++) {
      big[i] = bc[off + i]! + BigInt(num[i]!);
      n2[i] = Number(big[i]!);
    }
    return { num: n2, big };
  }

  data(slot: number): bigint[] {
    const d = this.read(slot);
    const out: bigint[] = [];
    for (let i = 0; i < this.nb; i++) out.push(d.big !== null ? d.big[i]! : BigInt(d.num[i]!));
    return out;
  }

  valueText(slot: number): string {
    return this.format(this.read(slot), this.normal);
  }

  printfValue(slot: number, _signed: boolean): string {
    return this.valueText(slot);
  }

  protected abstract format(d: Int64Vector, normal: bigint): string;

  protected growValues(cap: number): void {
    this.cells = growF64(this.cells, cap * this.nb);
    if (this.bigCells !== null) this.bigCells = growB64(this.bigCells, cap * this.nb);
  }

  protected initSlot(slot: number): void {
    const off = slot * this.nb;
    this.cells.fill(0, off, off + this.nb);
    if (this.bigCells !== null) this.bigCells.fill(0n, off, off + this.nb);
  }
}

export class QuantizeAggregation extends HistogramAgg {
  constructor(name: string, id: number, keyTypes: readonly KeyType[]) {
    super(name, id, AggFn.Quantize, keyTypes, QUANTIZE_NBUCKETS);
  }

  add(slot: number, v: number, incr: number | bigint): void {
    this.bump(slot * QUANTIZE_NBUCKETS + quantizeBucket(v), incr);
  }

  addBig(slot: number, v: bigint, incr: number | bigint): void {
    this.bump(slot * QUANTIZE_NBUCKETS + quantizeBucketBig(v), incr);
  }

  protected format(d: Int64Vector, normal: bigint): string {
    return formatQuantize(d, normal, this.zoom);
  }

  sortKey(slot: number, out: SortPair): void {
    const k = quantizeSortKey(this.read(slot));
    out.v = k.total;
    out.z = k.zero;
  }
}

export class LQuantizeAggregation extends HistogramAgg {
  constructor(
    name: string,
    id: number,
    keyTypes: readonly KeyType[],
    readonly params: LQuantizeParams,
  ) {
    super(name, id, AggFn.LQuantize, keyTypes, params.nbuckets);
  }

  add(slot: number, v: number, incr: number | bigint): void {
    this.bump(slot * this.nb + lquantizeBucket(v, this.params), incr);
  }

  addBig(slot: number, v: bigint, incr: number | bigint): void {
    this.bump(slot * this.nb + lquantizeBucketBig(v, this.params), incr);
  }

  protected format(d: Int64Vector, normal: bigint): string {
    return formatLQuantize(d, normal, this.params, this.zoom);
  }

  sortKey(slot: number, out: SortPair): void {
    const k = lquantizeSortKey(this.read(slot), this.params);
    out.v = k.total;
    out.z = k.zero;
  }
}

export class LLQuantizeAggregation extends HistogramAgg {
  constructor(
    name: string,
    id: number,
    keyTypes: readonly KeyType[],
    readonly params: LLQuantizeParams,
  ) {
    super(name, id, AggFn.LLQuantize, keyTypes, params.nbuckets);
  }

  add(slot: number, v: number, incr: number | bigint): void {
    const b = llquantizeBucket(v, this.params);
    if (b >= 0) this.bump(slot * this.nb + b, incr);
  }

  addBig(slot: number, v: bigint, incr: number | bigint): void {
    const b = llquantizeBucketBig(v, this.params);
    if (b >= 0) this.bump(slot * this.nb + b, incr);
  }

  protected format(d: Int64Vector, normal: bigint): string {
    return formatLLQuantize(d, normal, this.params, this.zoom);
  }

  sortKey(slot: number, out: SortPair): void {
    const k = llquantizeSortKey(this.read(slot), this.params);
    out.v = k.total;
    out.z = k.zero;
  }
}

// -- construction ------------------------------------------------------------------------------

/** Everything the compiler knows about an aggregation. */
export interface AggDesc {
  /** name without the '@' ("" for @) */
  name: string;
  /** aggregation variable id (the order of first appearance in the program) */
  id: number;
  fn: AggFn;
  /** key types, in tuple order (empty for @a = ...) */
  keys: readonly KeyType[];
  /** lquantize(value, base, limit[, step]): the constant arguments (step defaults to 1) */
  lquantize?: { base: number; limit: number; step?: number };
  /** llquantize(value, factor, low, high, steps) */
  llquantize?: { factor: number; lmag: number; hmag: number; steps: number };
}

export function createAggregation(d: AggDesc, space?: AggSpace): Aggregation {
  const a = newAggregation(d);
  if (space !== undefined) a.space = space;
  return a;
}

function newAggregation(d: AggDesc): Aggregation {
  switch (d.fn) {
    case AggFn.Count:
      return new CountAggregation(d.name, d.id, d.keys);
    case AggFn.Sum:
      return new SumAggregation(d.name, d.id, d.keys);
    case AggFn.Avg:
      return new AvgAggregation(d.name, d.id, d.keys);
    case AggFn.Min:
      return new MinAggregation(d.name, d.id, d.keys);
    case AggFn.Max:
      return new MaxAggregation(d.name, d.id, d.keys);
    case AggFn.Stddev:
      return new StddevAggregation(d.name, d.id, d.keys);
    case AggFn.Quantize:
      return new QuantizeAggregation(d.name, d.id, d.keys);
    case AggFn.LQuantize: {
      const p = d.lquantize;
      if (p === undefined) throw new Error(`@${d.name}: lquantize() parameters missing`);
      return new LQuantizeAggregation(d.name, d.id, d.keys, new LQuantizeParams(p.base, p.limit, p.step ?? 1));
    }
    case AggFn.LLQuantize: {
      const p = d.llquantize;
      if (p === undefined) throw new Error(`@${d.name}: llquantize() parameters missing`);
      return new LLQuantizeAggregation(d.name, d.id, d.keys, new LLQuantizeParams(p.factor, p.lmag, p.hmag, p.steps));
    }
  }
}
