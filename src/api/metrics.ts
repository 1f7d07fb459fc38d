// The aggregations of a running program as OpenTelemetry metric data: one MetricProducer that the
// exporters' readers (-x prometheus, -x otlp) collect from. Nothing runs per event: a collection
// folds what the kernel aggregated (as printa() does) and reads the aggregations, at most once per
// aggrate (1s when unset); a collection sooner than that is given the last snapshot.
//
//   @[execname] = count()     monotonic sum "dtrace" {execname}   (Prometheus: dtrace_total, a counter)
//   @bytes[pid] = sum(arg2)   gauge "dtrace_bytes" {pid}           the value dtrace prints
//   @lat = quantize(x)        histogram "dtrace_lat"               the aggregation's own buckets
//
// count() is a cumulative monotonic sum (clear() and trunc() reset it, as a counter resets);
// sum/min/max/avg/stddev are gauges with the value dtrace prints; quantize/lquantize/llquantize are
// histograms whose bounds are the tops of the aggregation's own buckets (D's values are integers: a
// bucket [lo, hi] is the histogram's (lo - 1, hi]), those that have counted anything so far in the
// aggregation (the set only grows, so a series keeps its buckets), with the count; DTrace keeps no
// sum of the values: there is none. A key becomes an attribute named after its expression when
// that is a plain identifier (execname, probefunc, pid, a variable), otherwise k0, k1, ... by
// position.

import { ValueType } from '@opentelemetry/api';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type DataPoint,
  type Histogram,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { AGG_FN_NAMES, AggFn, type Aggregation } from '../runtime/aggregate.js';
import { boundsOf, keyText } from '../runtime/json.js';
import type { Runtime } from '../runtime/runtime.js';

const INT64_MAX = (1n << 63n) - 1n;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** the instrumentation scope of the metrics */
export const SCOPE = { name: 'dtrace-ts' };

/**
 * The metric's name for an aggregation (D names are valid metric names): @x: dtrace_x, @: dtrace.
 * Prometheus' exporter adds _total to a counter's (count()) name.
 */
export function metricName(aggName: string): string {
  return aggName === '' || aggName === '_' ? 'dtrace' : `dtrace_${aggName}`;
}

/**
 * The label (attribute) of each key: the key's identifier where it has one that Prometheus allows
 * (not reserved: __*, le), else k<position>; never twice the same.
 */
export function labelNames(keyNames: ReadonlyArray<string | null>, nkeys: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < nkeys; i++) {
    const n = keyNames[i] ?? null;
    let label = n !== null && LABEL_NAME.test(n) && !n.startsWith('__') && n !== 'le' ? n : `k${i}`;
    while (out.includes(label)) label = `${label}_${i}`;
    out.push(label);
  }
  return out;
}

/** An aggregation of the program: its ID and each key's identifier (null: none). */
export interface ExportedAggregation {
  id: number;
  keyNames: ReadonlyArray<string | null>;
}

/** A histogram's bounds: only those a bucket has counted in, and the set only grows. */
class Bounds {
  /** the bounds, ascending */
  les: bigint[] = [];
  private readonly seen = new Set<bigint>();

  add(le: bigint): void {
    if (this.seen.has(le)) return;
    this.seen.add(le);
    this.les.push(le);
    this.les.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

interface Exported {
  id: number;
  name: string;
  help: string;
  fn: AggFn;
  labels: string[];
  /** histograms: their bounds */
  bounds: Bounds | null;
  /** counters, histograms: each series' value (count) and start at the last snapshot, by its label values */
  series: Map<string, { value: number; start: HrTime }>;
}

type HrTime = [number, number];

function hrTime(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

/** The aggregations of a running program, as OpenTelemetry metrics. */
export class AggregationProducer implements MetricProducer {
  private readonly list: Exported[] = [];
  private cached: MetricData[] | null = null;
  private cachedAt = 0;
  private readonly startTime: HrTime;
  /** when the last snapshot was taken (null: none yet) */
  private lastTime: HrTime | null = null;

  constructor(
    private readonly rt: Runtime,
    aggs: readonly ExportedAggregation[],
    private readonly now: () => number = Date.now,
  ) {
    this.startTime = hrTime(now());
    for (const x of aggs) {
      const a = rt.aggs[x.id];
      if (a === undefined) continue;
      const histogram = a.fn === AggFn.Quantize || a.fn === AggFn.LQuantize || a.fn === AggFn.LLQuantize;
      this.list.push({
        id: x.id,
        name: metricName(a.name),
        help: `DTrace aggregation @${a.name === '_' ? '' : a.name} = ${AGG_FN_NAMES[a.fn]}()`,
        fn: a.fn,
        labels: labelNames(x.keyNames, a.nkeys),
        bounds: histogram ? new Bounds() : null,
        series: new Map(),
      });
    }
  }

  /** The next collection reads the aggregations afresh (the last one, at exit). */
  invalidate(): void {
    this.cached = null;
  }

  collect(): Promise<CollectionResult> {
    const nowMs = this.now();
    const rate = this.rt.opts.get('aggrate');
    const everyMs = rate > 0n ? Number(rate) / 1e6 : 1000;
    if (this.cached === null || nowMs - this.cachedAt >= everyMs) {
      this.cached = this.snapshot(hrTime(nowMs));
      this.cachedAt = nowMs;
    }
    return Promise.resolve({
      resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope: SCOPE, metrics: this.cached }] },
      errors: [],
    });
  }

  /** Reads every aggregation once. */
  private snapshot(endTime: HrTime): MetricData[] {
    this.rt.aggSync?.();
    const out: MetricData[] = [];
    const startTime = this.startTime;
    for (const e of this.list) {
      const a = this.rt.aggs[e.id];
      const slots = a === undefined ? [] : a.sortedSlots();
      const descriptor = { name: e.name, description: e.help, unit: '', valueType: ValueType.INT };
      const h = e.bounds;
      if (h !== null) {
        if (a !== undefined) for (const slot of slots) this.addBounds(a, slot, h);
        const dataPoints: Array<DataPoint<Histogram>> = [];
        const series = new Map<string, { value: number; start: HrTime }>();
        for (const slot of slots) {
          const attributes = this.attributes(e, a!, slot);
          const value = this.histogram(a!, slot, h);
          dataPoints.push({ startTime: this.seriesStart(e, series, attributes, value.count), endTime, attributes, value });
        }
        e.series = series;
        out.push({ descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.HISTOGRAM, dataPoints });
        continue;
      }
      const dataPoints: Array<DataPoint<number>> = [];
      const counter = e.fn === AggFn.Count;
      const series = counter ? new Map<string, { value: number; start: HrTime }>() : null;
      for (const slot of slots) {
        const attributes = this.attributes(e, a!, slot);
        const value = Number(a!.printfValue(slot, true));
        dataPoints.push({ startTime: series === null ? startTime : this.seriesStart(e, series, attributes, value), endTime, attributes, value });
      }
      if (series !== null) e.series = series;
      if (counter) {
        out.push({ descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints });
      } else {
        out.push({ descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints });
      }
    }
    this.lastTime = endTime;
    return out;
  }

  /**
   * A cumulative series (a counter's, a histogram's: its count) starts when tracing did, or after
   * the last snapshot if it was not in it (trunc() removed it) or had a greater value (clear()
   * zeroed it): a reset, as OTLP wants it.
   */
  private seriesStart(e: Exported, next: Map<string, { value: number; start: HrTime }>, attributes: Record<string, string>, value: number): HrTime {
    const key = Object.values(attributes).join('\0');
    const prev = e.series.get(key);
    const start = prev !== undefined ? (value >= prev.value ? prev.start : this.lastTime!) : (this.lastTime ?? this.startTime);
    next.set(key, { value, start });
    return start;
  }

  private attributes(e: Exported, a: Aggregation, slot: number): Record<string, string> {
    const labels: Record<string, string> = {};
    for (let i = 0; i < e.labels.length; i++) labels[e.labels[i]!] = keyText(a, slot, i);
    return labels;
  }

  /** The top of each bucket of an entry that counted something, as a bound of the histogram. */
  private addBounds(a: Aggregation, slot: number, h: Bounds): void {
    const data = a.data(slot);
    const bounds = boundsOf(a);
    for (let i = 0; i < data.length; i++) {
      if (data[i] === 0n) continue;
      const hi = bounds[i]?.[1] ?? null;
      if (hi !== null && hi < INT64_MAX) h.add(hi);
    }
  }

  /** An entry's counts in the metric's buckets (the last: above every bound). */
  private histogram(a: Aggregation, slot: number, h: Bounds): Histogram {
    const data = a.data(slot);
    const bounds = boundsOf(a);
    const norm = a.normal;
    const les = h.les;
    const counts = new Array<number>(les.length + 1).fill(0);
    let count = 0;
    for (let i = 0; i < data.length; i++) {
      if (data[i] === 0n) continue;
      const n = Number(norm === 1n ? data[i]! : data[i]! / norm);
      const hi = bounds[i]?.[1] ?? null;
      let j = 0;
      while (j < les.length && (hi === null || hi > les[j]!)) j++;
      counts[j]! += n;
      count += n;
    }
    return { buckets: { boundaries: les.map(Number), counts }, count };
  }
}
