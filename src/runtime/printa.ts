// Default aggregation output: printa(@a), printa(@a, @b, ...) without a format, and what dtrace
// prints for the aggregations left unprinted at exit; also the joined, sorted rows a printa() of
// several aggregations walks, for the printf engine.
//   [dt_consume.c (dt_printa, dt_print_aggs, dt_print_datum, dt_print_bytes, dt_print_rawbytes),
//    dt_aggregate.c (dtrace_aggregate_walk_sorted, dtrace_aggregate_walk_joined), cmd/dtrace.c]
//
// Layout of one row: each key as dt_print_datum prints it (by record size: 8 bytes " %16lld",
// 4 bytes " %8d", 2 bytes " %5d", 1 byte " %3d"; strings and other byte records "  %-50s" when
// printable, else a hex dump), then each value (" %16lld" for count/sum/min/max/avg, " %16llu"
// for stddev, the histogram text for the quantizations), then a newline.

import {
  type AggSortOptions,
  Aggregation,
  bytesToLatin1,
  compareEntryKeys,
  DEFAULT_SORT_OPTIONS,
  effectiveKeyPos,
  KeyField,
  KeyKind,
  keyUint,
  SortPair,
} from './aggregate.js';
import { type AggDisplayOptions, formatDisplayRows, packedWidth } from './aggdisplay.js';
import { type SortNum, sortNumCmp } from './histogram.js';
import { formatFolded, isFoldable } from './folded.js';
import { formatBytesDatum } from './trace-format.js';
import type { Value } from './values.js';

export interface AggPrintOptions extends AggSortOptions {
  /** rawbytes: print byte-valued keys (strings included) as hex dumps */
  rawbytes: boolean;
  /** illumos's agghist, aggpack, aggzoom and the encoding they draw in (see aggdisplay.ts) */
  display?: AggDisplayOptions;
  /** stackformat=folded: stack-keyed count() and sum() aggregations one folded line per stack */
  folded?: boolean;
}

export const DEFAULT_PRINT_OPTIONS: Readonly<AggPrintOptions> = { ...DEFAULT_SORT_OPTIONS, rawbytes: false };

/** An entry's keys at the widths of packed output (agghist, aggpack). */
function packedKeys(agg: Aggregation, slot: number, rawbytes: boolean): string {
  let out = '';
  for (let i = 0; i < agg.nkeys; i++) {
    const f = agg.fields[i]!;
    const v = agg.key(slot, i);
    if (f.kind !== KeyKind.Opaque && (typeof v === 'string' || typeof v === 'object') && !(f.size === 1 || f.size === 2 || f.size === 4 || f.size === 8)) {
      out += formatBytesDatum(v, packedWidth(f.size), false, rawbytes, f.size, true);
    } else {
      out += formatKeyValue(f, v, rawbytes);
    }
  }
  return out;
}

// -- keys --------------------------------------------------------------------------------------

function formatIntRecord(size: number, u: number | bigint): string {
  switch (size) {
    case 8:
      return ' ' + String(BigInt.asIntN(64, BigInt(u))).padStart(16);
    case 4:
      return ' ' + String(Number(u) | 0).padStart(8);
    case 2:
      return ' ' + String(u).padStart(5);
    default:
      return ' ' + String(u).padStart(3);
  }
}

/** One key as dtrace prints it in default output. */
export function formatKeyValue(f: KeyField, v: Value, rawbytes = false): string {
  if (f.kind === KeyKind.Opaque) return f.opaque!.format(v);
  const size = f.size;
  if (size === 1 || size === 2 || size === 4 || size === 8) return formatIntRecord(size, keyUint(size, v));
  if (typeof v === 'string' || typeof v === 'object') return formatBytesDatum(v, 50, false, rawbytes, size);
  return formatIntRecord(8, keyUint(8, v));
}

/** All the keys of an entry, as dtrace prints them before the value(s). */
export function formatKeys(agg: Aggregation, slot: number, rawbytes = false): string {
  let out = '';
  const n = agg.nkeys;
  for (let i = 0; i < n; i++) out += formatKeyValue(agg.fields[i]!, agg.key(slot, i), rawbytes);
  return out;
}

// -- one aggregation ---------------------------------------------------------------------------

function formatRows(agg: Aggregation, opts: Readonly<AggPrintOptions>): string {
  if (opts.folded === true && isFoldable(agg)) return formatFolded(agg);
  const d = opts.display;
  if (d !== undefined && (d.agghist || d.aggpack)) {
    const shown = formatDisplayRows(agg, agg.sortedSlots(opts), (s) => packedKeys(agg, s, opts.rawbytes), d);
    if (shown !== null) return shown;
  }
  let out = '';
  for (const s of agg.sortedSlots(opts)) out += formatKeys(agg, s, opts.rawbytes) + agg.valueText(s) + '\n';
  return out;
}

/**
 * printa() without a format: a newline, then the rows (printa(@a)) or the joined rows of several
 * aggregations (printa(@a, @b, ...): union of keys, zero for a missing value). Marks the printed
 * aggregations so they are not printed again at exit.
 */
export function formatPrinta(aggs: readonly Aggregation[], opts: Readonly<AggPrintOptions> = DEFAULT_PRINT_OPTIONS): string {
  if (aggs.length === 1) {
    const agg = aggs[0]!;
    if (agg.size > 0) agg.printed = true;
    return '\n' + formatRows(agg, opts);
  }
  const rows = joinAggregations(aggs, opts);
  let out = '\n';
  for (const r of rows) {
    out += formatKeys(r.rep, r.repSlot, opts.rawbytes);
    for (let i = 0; i < aggs.length; i++) out += aggs[i]!.valueText(r.slots[i]!);
    out += '\n';
  }
  if (rows.length > 0) for (const a of aggs) a.printed = true;
  return out;
}

/**
 * What dtrace prints for its aggregations when it exits, after the blank line it always prints
 * (which the caller writes): every non-empty aggregation not already printed by printa(), in
 * aggregation id order (reversed with aggsortrev), each sorted as printa() sorts it.
 */
export function formatAggregations(aggs: readonly Aggregation[], opts: Readonly<AggPrintOptions> = DEFAULT_PRINT_OPTIONS): string {
  const todo = aggs.filter((a) => !a.printed && a.size > 0);
  todo.sort((a, b) => (opts.aggsortrev ? b.id - a.id : a.id - b.id));
  let out = '';
  for (const a of todo) out += formatRows(a, opts);
  return out;
}

// -- several aggregations ----------------------------------------------------------------------

/** One row of a printa() over several aggregations. */
export class JoinedRow {
  constructor(
    /** the aggregation and entry whose key the row prints (lowest aggregation id holding it) */
    readonly rep: Aggregation,
    readonly repSlot: number,
    /** per aggregation argument, its entry for this key, or -1 (print a zero value) */
    readonly slots: Int32Array,
  ) {}
}

/** A key's identity across aggregations: DTrace matches key records by size and bytes. */
function canonicalKey(agg: Aggregation, slot: number): string {
  let s = '';
  for (let i = 0; i < agg.nkeys; i++) {
    const f = agg.fields[i]!;
    const v = agg.key(slot, i);
    let part: string;
    if (f.size === 1 || f.size === 2 || f.size === 4 || f.size === 8) part = String(keyUint(f.size, v));
    else if (typeof v === 'object') part = bytesToLatin1(v);
    else part = String(v);
    s += `${f.size}:${part.length}:${part}`;
  }
  return s;
}

/**
 * The rows of printa(@a, @b, ...), as dtrace_aggregate_walk_joined produces them: one per key
 * present in any of the aggregations, sorted by the values of the aggregation at position
 * aggsortpos (then the next ones, cyclically), ties broken by key; by key first with aggsortkey;
 * reversed with aggsortrev. The same aggregation may appear more than once.
 */
export function joinAggregations(aggs: readonly Aggregation[], opts: Readonly<AggSortOptions> = DEFAULT_SORT_OPTIONS): JoinedRow[] {
  const n = aggs.length;
  const distinct: Aggregation[] = [];
  const posOf: number[] = [];
  for (const a of aggs) {
    let d = distinct.indexOf(a);
    if (d < 0) {
      d = distinct.length;
      distinct.push(a);
    }
    posOf.push(d);
  }
  const nd = distinct.length;

  const index = new Map<string, number>();
  const reps: Aggregation[] = [];
  const repSlots: number[] = [];
  const dslots: Int32Array[] = [];
  for (let d = 0; d < nd; d++) {
    const agg = distinct[d]!;
    for (const s of agg.slots()) {
      const k = canonicalKey(agg, s);
      let b = index.get(k);
      if (b === undefined) {
        b = reps.length;
        index.set(k, b);
        reps.push(agg);
        repSlots.push(s);
        dslots.push(new Int32Array(nd).fill(-1));
      } else if (agg.id < reps[b]!.id) {
        reps[b] = agg;
        repSlots[b] = s;
      }
      dslots[b]![d] = s;
    }
  }
  const nb = reps.length;
  if (nb === 0) return [];

  // sort keys of every distinct aggregation's value in every bundle
  const sv: SortNum[][] = [];
  const sz: (number | bigint)[][] = [];
  const pair = new SortPair();
  for (let d = 0; d < nd; d++) {
    const agg = distinct[d]!;
    const v: SortNum[] = new Array<SortNum>(nb);
    const z: (number | bigint)[] = new Array<number | bigint>(nb);
    for (let b = 0; b < nb; b++) {
      agg.sortKey(dslots[b]![d]!, pair);
      v[b] = pair.v;
      z[b] = pair.z;
    }
    sv.push(v);
    sz.push(z);
  }

  let sortpos = Math.floor(opts.aggsortpos);
  if (!(sortpos >= 0 && sortpos < n)) sortpos = 0;
  const keypos = effectiveKeyPos(opts.aggsortkeypos, reps[0]!.nkeys);
  const dir = opts.aggsortrev ? -1 : 1;
  const keysort = opts.aggsortkey;
  const keyCmp = (a: number, b: number): number => compareEntryKeys(reps[a]!, repSlots[a]!, reps[b]!, repSlots[b]!, keypos);

  const order: number[] = [];
  for (let b = 0; b < nb; b++) order.push(b);
  order.sort((a, b) => {
    if (keysort) {
      const c = keyCmp(a, b);
      if (c !== 0) return dir * c;
    }
    for (let j = 0; j < n; j++) {
      const d = posOf[(j + sortpos) % n]!;
      const c = sortNumCmp(sv[d]![a]!, sv[d]![b]!) || cmpInt(sz[d]![a]!, sz[d]![b]!);
      if (c !== 0) return dir * c;
    }
    return keysort ? 0 : dir * keyCmp(a, b);
  });

  const rows: JoinedRow[] = [];
  for (const b of order) {
    const slots = new Int32Array(n);
    for (let i = 0; i < n; i++) slots[i] = dslots[b]![posOf[i]!]!;
    rows.push(new JoinedRow(reps[b]!, repSlots[b]!, slots));
  }
  return rows;
}

function cmpInt(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
