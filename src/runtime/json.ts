// -x oformat=json: every record and aggregation as one JSON object per line, in the schema
// doc/json.md describes (the library API's records are these objects, parsed). The text
// runtime's per-event path is untouched: this subclass replaces the actions that print.
//
// Numbers: integers are JSON numbers when they are exact in a double (|v| <= 2^53 - 1), decimal
// strings otherwise; timestamps are always decimal strings. Strings: D's bytes read as UTF-8
// (bytes that are not UTF-8 become U+FFFD); the line itself is ASCII (\u escapes).

import { DType, Kind, resolve as resolveType } from '../lang/types.js';
import { AGG_FN_NAMES, AggFn, Aggregation, KeyKind, LLQuantizeAggregation, LQuantizeAggregation } from './aggregate.js';
import type { ProbeContext } from './context.js';
import { LLQuantizeParams, LQuantizeParams, QUANTIZE_NBUCKETS, QUANTIZE_ZEROBUCKET, llquantizeBucketBig, quantizeBucketValue } from './histogram.js';
import { formatPrinta as formatPrintaRows } from './printa.js';
import { type FormatPlan, type Formatter, PrintfDataError, formatPrintf } from './printf.js';
import { Runtime } from './runtime.js';
import * as S from './subr.js';
import { formatPrint, formatPrintValue } from './trace-format-print.js';
import { tracememLength } from './trace-format.js';
import type { Value } from './values.js';

/** An integer as the schema has it: a number when exact, else a decimal string. */
export type JsonInt = number | string;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function jsonInt(v: number | bigint): JsonInt {
  if (typeof v === 'number') return v;
  return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v.toString();
}

/** A D string (latin1, one char per byte) as the text its bytes spell in UTF-8. */
export function jsonStr(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\x80-\xff]/.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}

/** One JSON line, ASCII only (so the latin1 output sink writes it unchanged). */
export function jsonLine(o: unknown): string {
  return asciiLine(JSON.stringify(o));
}

/** JSON text as a line, ASCII only: \\u escapes for the rest. */
function asciiLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return (/[^\x00-\x7f]/.test(s) ? s.replace(/[^\x00-\x7f]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) : s) + '\n';
}

/** A value of a D type: integers by the rule above, strings as text, bytes as a number array. */
export function jsonValue(v: Value): JsonInt | number[] {
  if (typeof v === 'number' || typeof v === 'bigint') return jsonInt(v);
  if (typeof v === 'string') return jsonStr(v);
  return Array.from(v);
}

export interface JsonBucket {
  /** the smallest value the bucket counts (null: no lower bound) */
  min: JsonInt | null;
  /** the largest (null: no upper bound) */
  max: JsonInt | null;
  count: JsonInt;
}

export interface JsonAggregation {
  /** the name without '@' ('' for the anonymous @) */
  name: string;
  function: string;
  /** one per key, in DTrace's printing order */
  entries: Array<{ keys: Array<JsonInt | number[]>; value: JsonInt | JsonBucket[] }>;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** [min, max] of each quantize() bucket. */
function quantizeBounds(): Array<[bigint | null, bigint | null]> {
  const out: Array<[bigint | null, bigint | null]> = [];
  for (let i = 0; i < QUANTIZE_NBUCKETS; i++) {
    const v = quantizeBucketValue(i);
    if (i === QUANTIZE_ZEROBUCKET) out.push([0n, 0n]);
    else if (i > QUANTIZE_ZEROBUCKET) out.push([v, i === QUANTIZE_NBUCKETS - 1 ? INT64_MAX : v * 2n - 1n]);
    else out.push([i === 0 ? INT64_MIN : v * 2n + 1n, v]);
  }
  return out;
}
let QUANTIZE_BOUNDS: Array<[bigint | null, bigint | null]> | null = null;

function lquantizeBounds(p: LQuantizeParams): Array<[bigint | null, bigint | null]> {
  const out: Array<[bigint | null, bigint | null]> = [[null, BigInt(p.base) - 1n]];
  for (let i = 1; i <= p.levels; i++) out.push([BigInt(p.base + (i - 1) * p.step), BigInt(p.base + i * p.step - 1)]);
  out.push([BigInt(p.base + p.levels * p.step), null]);
  return out;
}

/** llquantize()'s buckets, found from its bucket function (which is monotonic in |value|). */
function llquantizeBounds(p: LLQuantizeParams): Array<[bigint | null, bigint | null]> {
  const nb = p.nbuckets;
  const lo: Array<bigint | null> = new Array<bigint | null>(nb).fill(null);
  for (let b = p.bin0; b < nb; b++) {
    // the smallest v >= 0 whose bucket is b or above
    let a = 0n;
    let z = INT64_MAX;
    const at = (v: bigint) => {
      const x = llquantizeBucketBig(v, p);
      return x < 0 ? nb : x;
    };
    if (at(z) < b) continue;
    while (a < z) {
      const m = (a + z) >> 1n;
      if (at(m) >= b) z = m;
      else a = m + 1n;
    }
    if (at(a) === b) lo[b] = a;
  }
  const hi: Array<bigint | null> = new Array<bigint | null>(nb).fill(null);
  let next: bigint | null = null;
  for (let b = nb - 1; b >= p.bin0; b--) {
    if (lo[b] === null) continue;
    hi[b] = next === null ? null : next - 1n;
    next = lo[b];
  }
  const out: Array<[bigint | null, bigint | null]> = new Array(nb);
  for (let b = p.bin0; b < nb; b++) out[b] = [lo[b], hi[b]];
  out[p.bin0] = [hi[p.bin0] === null ? null : -hi[p.bin0]!, hi[p.bin0]];
  for (let k = 1; p.bin0 - k >= 0; k++) {
    const [l, h] = out[p.bin0 + k] ?? [null, null];
    out[p.bin0 - k] = [h === null ? null : -h, l === null ? null : -l];
  }
  return out;
}

const boundsCache = new WeakMap<Aggregation, Array<[bigint | null, bigint | null]>>();

/** Each bucket's [min, max] (inclusive; null: unbounded) of a quantize/lquantize/llquantize. */
export function boundsOf(a: Aggregation): Array<[bigint | null, bigint | null]> {
  if (a.fn === AggFn.Quantize) return (QUANTIZE_BOUNDS ??= quantizeBounds());
  let b = boundsCache.get(a);
  if (b === undefined) {
    b = a instanceof LQuantizeAggregation ? lquantizeBounds(a.params) : llquantizeBounds((a as LLQuantizeAggregation).params);
    boundsCache.set(a, b);
  }
  return b;
}

function keyValue(a: Aggregation, slot: number, i: number): JsonInt | number[] {
  const f = a.fields[i]!;
  const v = a.key(slot, i);
  if (f.kind === KeyKind.Opaque) return typeof v === 'string' ? jsonStr(v) : jsonStr(f.opaque!.format(v).trim());
  return jsonValue(v);
}

/** A key as text: a string as it is, a number in decimal, a stack or symbol as dtrace prints it. */
export function keyText(a: Aggregation, slot: number, i: number): string {
  const f = a.fields[i]!;
  const v = a.key(slot, i);
  if (f.kind === KeyKind.Opaque) return typeof v === 'string' ? v : f.opaque!.format(v).trim();
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return String(jsonValue(v));
}

/** An entry's value: the integer dtrace prints, or a histogram's non-zero buckets. */
function entryValue(a: Aggregation, slot: number): JsonInt | JsonBucket[] {
  if (a.fn !== AggFn.Quantize && a.fn !== AggFn.LQuantize && a.fn !== AggFn.LLQuantize) {
    return jsonInt(BigInt(a.printfValue(slot, true) as bigint));
  }
  const data = a.data(slot);
  const bounds = boundsOf(a);
  const out: JsonBucket[] = [];
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0n) continue;
    const [lo, hi] = bounds[i] ?? [null, null];
    out.push({ min: lo === null ? null : jsonInt(lo), max: hi === null ? null : jsonInt(hi), count: jsonInt(a.normal === 1n ? data[i]! : data[i]! / a.normal) });
  }
  return out;
}

/** An aggregation's entries in the order printa() prints them. */
export function jsonAggregation(a: Aggregation, slots: readonly number[]): JsonAggregation {
  const entries: JsonAggregation['entries'] = [];
  for (const s of slots) {
    const keys: Array<JsonInt | number[]> = [];
    for (let i = 0; i < a.nkeys; i++) keys.push(keyValue(a, s, i));
    entries.push({ keys, value: entryValue(a, s) });
  }
  return { name: a.name, function: AGG_FN_NAMES[a.fn], entries };
}

/** The name of a D type as dtrace prints it. */
function typeName(t: DType): string {
  return t.name;
}

/** A probe's description as JSON, made once per probe (records repeat it). */
const probeJsonCache = new WeakMap<object, string>();

function probeJson(p: ProbeContext['probe']): string {
  let j = probeJsonCache.get(p);
  if (j === undefined) {
    j = JSON.stringify({ id: p.id, provider: p.provider, module: p.module, function: p.func, name: p.name });
    probeJsonCache.set(p, j);
  }
  return j;
}

/**
 * The runtime of -x oformat=json: actions add items to the record, which ends as one line. The
 * line is put together from its parts' JSON (the probe's made once per probe; each item's when
 * the action runs): the same text as JSON.stringify of the record, at a fraction of the cost.
 */
export class JsonRuntime extends Runtime {
  /** the items of the record being built, each as JSON */
  private items: string[] = [];
  /** the record's start, up to its data: null when none is being built */
  private head: string | null = null;

  override beginRecord(ctx: ProbeContext): void {
    this.recording = true;
    this.specId = 0;
    this.headingDone = true;
    this.items = [];
    this.head = `{"type":"probe","timestamp":"${this.timestamp(ctx).toString()}","cpu":${ctx.cpu},"epid":${ctx.epid},"probe":${probeJson(ctx.probe)},"data":[`;
  }

  override endRecord(_ctx: ProbeContext): void {
    if (!this.recording) return;
    this.recording = false;
    const line = `${this.head!}${this.items.join(',')}]}`;
    this.head = null;
    this.rec = '';
    this.commitRecord(asciiLine(line));
  }

  override abortRecord(): void {
    super.abortRecord();
    this.head = null;
  }

  /** An item of the record being built (outside one: a record of its own). */
  private item(o: Record<string, unknown>): void {
    if (this.recording) this.items.push(JSON.stringify(o));
    else this.out.write(jsonLine({ type: 'probe', timestamp: null, cpu: null, epid: null, probe: null, data: [o] }));
  }

  override trace(t: DType, v: Value | null): void {
    if (v === null) throw new S.DFault(S.FLT_BADADDR, 0n);
    this.item({ action: 'trace', type: typeName(t), value: jsonValue(v) });
  }

  override printf(ctx: ProbeContext, plan: FormatPlan, args: Array<Value | null>, n = args.length, format?: Formatter): void {
    for (let i = 0; i < n; i++) if (args[i] === null) throw new S.DFault(S.FLT_BADADDR, 0n);
    let text: string;
    try {
      text = format !== undefined ? format(args as Value[], n) : formatPrintf(plan, args as Value[], undefined, n);
    } catch (e) {
      text = this.formatFailed(ctx, e);
    }
    this.item({ action: 'printf', text: jsonStr(text) });
  }

  override printa(ctx: ProbeContext, plan: FormatPlan | null, ids: number[]): void {
    const aggs = ids.map((i) => this.aggs[i]!);
    const opts = this.sortOptions();
    let text: string | null = null;
    try {
      // the text as dtrace prints it marks the aggregations printed, as printa() does
      text = plan === null ? null : this.formatPrintaWith(plan, aggs);
      if (plan === null) formatPrintaRows(aggs, opts);
    } catch (e) {
      if (!(e instanceof PrintfDataError)) throw e;
      text = this.formatFailed(ctx, e);
    }
    this.item({ action: 'printa', text: text === null ? null : jsonStr(text), aggregations: aggs.map((a) => jsonAggregation(a, a.sortedSlots(opts))) });
  }

  override exit(ctx: ProbeContext, status: number): void {
    super.exit(ctx, status);
    this.item({ action: 'exit', status });
  }

  override tracemem(addr: bigint, n: bigint, dyn?: bigint, dynType?: DType): void {
    const size = Number(n);
    const bytes = this.mem.bytes(addr, size);
    const len = dyn === undefined || dynType === undefined ? size : tracememLength(size, dyn, dynType);
    this.item({ action: 'tracemem', bytes: Array.from(bytes.subarray(0, len)) });
  }

  override print(t: DType, v: Value | null): void {
    const pointee = resolveType(t).base;
    if (typeof v !== 'bigint' || pointee === null) throw new S.DFault(S.FLT_ILLOP, 0n);
    const size = resolveType(pointee).size;
    const bytes = v === 0n ? new Uint8Array(size) : this.mem.bytes(v, size);
    this.item({ action: 'print', type: typeName(t), value: jsonInt(v), text: jsonStr(formatPrint(pointee, v, bytes, this.option().printsizeNow)) });
  }

  override printValue(t: DType, v: Value | null): void {
    const r = resolveType(t);
    const text = v instanceof Uint8Array ? formatPrint(t, this.bytesAddr(v), v, this.opts.num('printsize')) : formatPrintValue(t, v ?? '');
    const value = v === null ? null : r.kind === Kind.Struct || r.kind === Kind.Union ? Array.from(v as Uint8Array) : jsonValue(v);
    this.item({ action: 'print', type: typeName(t), value, text: jsonStr(text) });
  }

  override stack(ctx: ProbeContext, kind: string, n: number): void {
    const v = this.stackValue(ctx, kind, n);
    this.item({ action: kind, frames: v === '' ? [] : v.split('\n') });
  }

  override symbol(ctx: ProbeContext, kind: string, addr: bigint): void {
    // a user address is named now, while its process's mappings are known
    if (kind[0] === 'u') this.item({ action: kind, address: jsonInt(addr), symbol: this.userSymbolValue(ctx, kind, addr) });
    else this.item({ action: kind, address: jsonInt(addr) });
  }

  override printFinal(status: number): void {
    const opts = this.sortOptions();
    const todo = this.aggs.filter((a) => a !== undefined && !a.printed && a.size > 0);
    todo.sort((a, b) => (opts.aggsortrev ? b.id - a.id : a.id - b.id));
    for (const a of todo) this.out.write(jsonLine({ type: 'aggregation', ...jsonAggregation(a, a.sortedSlots(opts)) }));
    this.out.write(jsonLine({ type: 'exit', status }));
  }

  override interrupted(): void {
    // no line to end
  }

  override report(kind: string, message: string, detail: Record<string, number | string | null>): void {
    if (kind === 'error') this.out.write(jsonLine({ type: 'error', message: jsonStr(message), ...detail }));
    else this.out.write(jsonLine({ type: 'drop', kind, message: jsonStr(message), ...detail }));
  }
}
