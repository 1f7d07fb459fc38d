// illumos's aggregation display options, for the default output of one aggregation (printa(@a)
// without a format, and what dtrace prints at exit):
// - agghist: count() and sum() drawn as a histogram, one bar per key, scaled to the total over
//   the aggregation's entries (under one "key" header);
// - aggpack: quantize() and lquantize() on one line per key, a character per bucket (utf8 block
//   elements, or "__xxxxXX" in ascii; negatives "vvvvVV"), over the buckets any key has data in;
// - aggzoom: bars scaled so the tallest is 95% of the full length, not to the total.
//                                 [illumos dt_consume.c dt_print_datum, dt_print_packed, dt_aggregate.c]

import { AggFn, type Aggregation, KeyKind } from './aggregate.js';
import {
  AGGZOOM_MAX,
  type Int64Vector,
  LQuantizeParams,
  QUANTIZE_NBUCKETS,
  QUANTIZE_ZEROBUCKET,
  normalizeCount,
  quantizeBucketValue,
} from './histogram.js';

export interface AggDisplayOptions {
  agghist: boolean;
  aggpack: boolean;
  aggzoom: boolean;
  /** draw with UTF-8 block elements (else ASCII) */
  utf8: boolean;
  rawbytes: boolean;
}

/** The accessors the display needs of an aggregation's entries. */
interface Entries {
  readonly agg: Aggregation;
  /** entries in print order */
  readonly slots: readonly number[];
  /** an entry's keys at their packed widths */
  readonly keyText: (slot: number) => string;
}

/** dt_ndigits: digits of a value (a minus sign counts), at least 4. */
export function ndigits(val: bigint): number {
  let n = 1;
  let v = val;
  if (v < 0n) {
    v = v === -(1n << 63n) ? (1n << 63n) - 1n : -v;
    n++;
  }
  let cmp = 10n;
  while (v > cmp) {
    n++;
    cmp *= 10n;
  }
  return n < 4 ? 4 : n;
}

/** A key's width in packed output: 3/5/8/16 by integer size, 16 for anything else. */
export function packedWidth(size: number): number {
  return size === 1 ? 3 : size === 2 ? 5 : size === 4 ? 8 : 16;
}

function keyWidth(agg: Aggregation): number {
  let w = 0;
  for (const f of agg.fields) w += packedWidth(f.kind === KeyKind.Opaque ? 8 : f.size) + 1;
  return w;
}

const ATS = '@'.repeat(40);
const SPACES = ' '.repeat(40);

/** dt_print_quantline for one value against a total. */
function histLine(val: bigint, normal: bigint, total: number, positives: boolean, negatives: boolean): string {
  const count = normalizeCount(val, normal).padEnd(9);
  const a = Math.abs(Number(val));
  const depthOf = (len: number): number => (total === 0 ? 0 : Math.floor((a * len) / total + 0.5));
  if (!negatives) {
    const depth = positives ? depthOf(40) : 0;
    return '|' + ATS.slice(40 - depth) + SPACES.slice(depth) + ' ' + count + '\n';
  }
  if (!positives) {
    const depth = depthOf(40);
    return SPACES.slice(depth) + ATS.slice(40 - depth) + '| ' + count + '\n';
  }
  const depth = depthOf(20);
  if (val <= 0n) return SPACES.slice(20 + depth) + ATS.slice(40 - depth) + '|' + SPACES.slice(20) + ' ' + count + '\n';
  return SPACES.slice(20) + '|' + ATS.slice(40 - depth) + SPACES.slice(20 + depth) + ' ' + count + '\n';
}

function histHeader(width: number): string {
  return '\n' + (width > 0 ? 'key'.padStart(width) : 'value'.padStart(16)) + ' ' + '------------- Distribution -------------'.padStart(41) + ' ' + 'count'.padEnd(9) + '\n';
}

/** agghist: count() or sum() rows as bars, scaled to the aggregation's total. */
function formatHist(e: Entries, o: AggDisplayOptions): string {
  const agg = e.agg;
  let total = 0;
  let positives = false;
  let negatives = false;
  const vals: bigint[] = [];
  for (const s of e.slots) {
    const v = BigInt.asIntN(64, agg.data(s)[0]!);
    vals.push(v);
    if (v > 0n) positives = true;
    let a = v < 0n ? -v : v;
    if (v < 0n) negatives = true;
    if (o.aggzoom) {
      // DTrace keeps the zoomed total as an int64
      a = BigInt(Math.trunc(Number(a) * (1 / AGGZOOM_MAX)));
      if (Number(a) > total) total = Number(a);
    } else {
      total += Number(a);
    }
  }
  let out = histHeader(keyWidth(agg));
  e.slots.forEach((s, i) => {
    out += e.keyText(s) + ' ' + histLine(vals[i]!, agg.normal, total, positives, negatives);
  });
  return out;
}

/** dt_print_packed: one bucket's character. */
function packedChar(datum: number, total: number, utf8: boolean): string {
  if (datum === 0) return ' ';
  if (datum < 0) return 'vvvvVV'[Math.floor((-datum * 5) / total + 0.5)] ?? 'V';
  const level = Math.floor((datum * 7) / total + 0.5);
  if (utf8) {
    // output text is bytes, one per char: the block element's three UTF-8 bytes
    const c = 0x2581 + level;
    return String.fromCharCode(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return '__xxxxXX'[level] ?? 'X';
}

/** The buckets' total for bar scaling (sum, or with aggzoom the zoomed largest) and their sum. */
function bucketTotals(d: Int64Vector, from: number, to: number, zoom: boolean): { total: number; count: bigint } {
  let total = 0;
  let count = 0n;
  for (let i = from; i <= to; i++) {
    const v = d.big !== null ? Number(d.big[i]!) : d.num[i]!;
    count += d.big !== null ? d.big[i]! : BigInt(v);
    const a = Math.abs(v);
    if (zoom) {
      const z = a * (1 / AGGZOOM_MAX);
      if (total < z) total = z;
    } else {
      total += a;
    }
  }
  return { total, count };
}

/** aggpack: quantize() and lquantize() rows on one line each. */
function formatPacked(e: Entries, o: AggDisplayOptions, read: (slot: number) => Int64Vector, lq: LQuantizeParams | null): string {
  const agg = e.agg;
  const width = keyWidth(agg);
  let min: number;
  let max: number;
  let header: string;
  if (lq === null) {
    // the buckets any entry has data in, and one more each side
    let lo = -1;
    let hi = -1;
    for (const s of e.slots) {
      const d = read(s);
      for (let i = 0; i < QUANTIZE_NBUCKETS; i++) {
        if (d.num[i] === 0 && (d.big === null || d.big[i] === 0n)) continue;
        if (lo === -1 || i < lo) lo = i;
        if (i > hi) hi = i;
      }
    }
    if (lo === -1) lo = hi = QUANTIZE_ZEROBUCKET;
    min = lo !== 0 && lo !== QUANTIZE_ZEROBUCKET ? lo - 1 : lo;
    max = hi < QUANTIZE_NBUCKETS - 1 ? hi + 1 : hi;
    const minw = ndigits(quantizeBucketValue(min));
    const maxw = ndigits(quantizeBucketValue(max));
    header = '\n' + (width > 0 ? 'key'.padStart(width) : '') + ' ' + 'min'.padStart(minw) + ' .' + '-'.repeat(max - min + 1) + '. ' + 'max'.padEnd(maxw) + ' | count\n';
  } else {
    // lquantize(): always the whole range
    min = 0;
    max = lq.levels + 1;
    header = '\n' + (width > 0 ? 'key'.padStart(width) : '') + ' ' + 'min'.padStart(7) + ' .' + '-'.repeat(lq.levels + 2) + '. ' + 'max'.padEnd(8) + ' | count\n';
  }
  let out = header;
  for (const s of e.slots) {
    const d = read(s);
    const { total, count } = bucketTotals(d, min, max, o.aggzoom);
    let line = e.keyText(s);
    if (lq === null) {
      const minval = quantizeBucketValue(min);
      const maxval = quantizeBucketValue(max);
      line += ' ' + String(minval).padStart(ndigits(minval)) + ' :';
      for (let i = min; i <= max; i++) line += packedChar(d.num[i]!, total, o.utf8);
      line += ': ' + String(maxval).padEnd(ndigits(maxval)) + ' | ' + count + '\n';
    } else {
      line += `< ${lq.base}`.padStart(8) + ' :';
      for (let i = min; i <= max; i++) line += packedChar(d.num[i]!, total, o.utf8);
      line += ': ' + `>= ${(lq.base + lq.levels * lq.step) | 0}`.padEnd(8) + ' | ' + count + '\n';
    }
    out += line;
  }
  return out;
}

/**
 * The rows of one aggregation under agghist or aggpack, or null when neither applies to it
 * (they leave other aggregating functions as they are).
 */
export function formatDisplayRows(agg: Aggregation, slots: readonly number[], keyText: (slot: number) => string, o: AggDisplayOptions): string | null {
  if (o.agghist && (agg.fn === AggFn.Count || agg.fn === AggFn.Sum)) return formatHist({ agg, slots, keyText }, o);
  if (o.aggpack && (agg.fn === AggFn.Quantize || agg.fn === AggFn.LQuantize)) {
    const h = agg as Aggregation & { read(slot: number): Int64Vector; params?: LQuantizeParams };
    return formatPacked({ agg, slots, keyText }, o, (s) => h.read(s), agg.fn === AggFn.LQuantize ? h.params! : null);
  }
  return null;
}
