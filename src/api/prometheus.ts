// -x prometheus=HOST:PORT: the live aggregations at http://HOST:PORT/metrics, in Prometheus' text
// exposition format (version 0.0.4), written here. Nothing runs per event: a scrape folds what the
// kernel aggregated (as printa() does) and reads the aggregations, at most once per aggrate; a
// scrape sooner than that is served the last answer.
//
//   @[execname] = count()            dtrace_total{execname="sshd"} 12           (counter)
//   @bytes[pid] = sum(arg2)          dtrace_bytes{pid="4242"} 8192             (gauge)
//   @lat = quantize(x)               dtrace_lat_bucket{le="1023"} 17 ...       (histogram)
//
// count() is a counter (its _total name; clear() and trunc() reset it as a counter resets),
// sum/min/max/avg/stddev are gauges with the value dtrace prints, quantize/lquantize/llquantize
// are histograms: one cumulative `le` bucket at the top of each bucket that has counted anything
// in the aggregation so far (D's values are integers: `le` is the bucket's largest value), +Inf,
// and _count (DTrace keeps no sum of the values: there is no _sum). A key becomes a label named
// after its expression when that is a plain identifier (execname, probefunc, pid, a variable),
// otherwise k0, k1, ... by position.

import { createServer, type Server } from 'node:http';
import { errnoMessage } from '../errors.js';
import { AGG_FN_NAMES, AggFn, type Aggregation } from '../runtime/aggregate.js';
import { boundsOf, keyText } from '../runtime/json.js';
import { parseHostPort } from '../runtime/options.js';
import type { Runtime } from '../runtime/runtime.js';

const INT64_MAX = (1n << 63n) - 1n;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The metric's name for an aggregation (D names are valid Prometheus names): @x: dtrace_x, @: dtrace. */
export function metricName(aggName: string, fn: AggFn): string {
  const base = aggName === '' || aggName === '_' ? 'dtrace' : `dtrace_${aggName}`;
  return fn === AggFn.Count ? `${base}_total` : base;
}

/**
 * The label of each key: the key's identifier where it has one that Prometheus allows (not
 * reserved: __*, le), else k<position>; never twice the same.
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

interface Sample {
  labels: Record<string, string>;
  value: number;
}

interface HistogramSample {
  labels: Record<string, string>;
  /** cumulative counts at each `le` of the metric (the last: +Inf) */
  counts: number[];
}

/** A histogram's `le` bounds: only those a bucket has counted in, and the set only grows. */
class Bounds {
  /** the `le` bounds shown, ascending; only grows, so a series keeps its buckets */
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
  agg: () => Aggregation | undefined;
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  labels: string[];
  /** histograms: their bounds */
  bounds: Bounds | null;
  current: Sample[];
  histograms: HistogramSample[];
}

/** An aggregation of the program: its ID and each key's identifier (null: none). */
export interface ExportedAggregation {
  id: number;
  keyNames: ReadonlyArray<string | null>;
}

/** A label value as the format writes it: backslash, double quote and newline escaped. */
function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and newline escaped. */
function helpText(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function sampleValue(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
}

function sampleLine(name: string, labels: Record<string, string>, value: number): string {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`);
  return `${name}${l.length > 0 ? `{${l.join(',')}}` : ''} ${sampleValue(value)}\n`;
}

/** The aggregations of a running program, as Prometheus metrics. */
export class AggregationMetrics {
  private readonly list: Exported[] = [];
  private cached: string | null = null;
  private cachedAt = 0;
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8';

  static async create(rt: Runtime, aggs: readonly ExportedAggregation[]): Promise<AggregationMetrics> {
    return new AggregationMetrics(rt, aggs);
  }

  private constructor(
    private readonly rt: Runtime,
    aggs: readonly ExportedAggregation[],
  ) {
    for (const x of aggs) {
      const a = rt.aggs[x.id];
      if (a === undefined) continue;
      const histogram = a.fn === AggFn.Quantize || a.fn === AggFn.LQuantize || a.fn === AggFn.LLQuantize;
      this.list.push({
        agg: () => rt.aggs[x.id],
        name: metricName(a.name, a.fn),
        help: `DTrace aggregation @${a.name === '_' ? '' : a.name} = ${AGG_FN_NAMES[a.fn]}()`,
        type: histogram ? 'histogram' : a.fn === AggFn.Count ? 'counter' : 'gauge',
        labels: labelNames(x.keyNames, a.nkeys),
        bounds: histogram ? new Bounds() : null,
        current: [],
        histograms: [],
      });
    }
  }

  /** The exposition text: read afresh if the last read is older than aggrate (1s if unset). */
  async text(nowMs = Date.now()): Promise<string> {
    const rate = this.rt.opts.get('aggrate');
    const everyMs = rate > 0n ? Number(rate) / 1e6 : 1000;
    if (this.cached !== null && nowMs - this.cachedAt < everyMs) return this.cached;
    this.snapshot();
    this.cached = this.exposition();
    this.cachedAt = nowMs;
    return this.cached;
  }

  /** Every metric: HELP, TYPE and its samples, a blank line between metrics. */
  private exposition(): string {
    const blocks: string[] = [];
    for (const e of this.list) {
      let b = `# HELP ${e.name} ${helpText(e.help)}\n# TYPE ${e.name} ${e.type}\n`;
      if (e.bounds === null) {
        for (const s of e.current) b += sampleLine(e.name, s.labels, s.value);
      } else {
        const les = e.bounds.les;
        for (const h of e.histograms) {
          for (let i = 0; i < les.length; i++) b += sampleLine(`${e.name}_bucket`, { ...h.labels, le: String(les[i]) }, h.counts[i]!);
          const total = h.counts[les.length]!;
          b += sampleLine(`${e.name}_bucket`, { ...h.labels, le: '+Inf' }, total);
          b += sampleLine(`${e.name}_count`, h.labels, total);
        }
      }
      blocks.push(b);
    }
    return blocks.join('\n');
  }

  /** Reads every aggregation once: what the samples of the next exposition hold. */
  private snapshot(): void {
    this.rt.aggSync?.();
    for (const e of this.list) {
      const a = e.agg();
      e.current = [];
      e.histograms = [];
      if (a === undefined) continue;
      const slots = a.sortedSlots();
      const h = e.bounds;
      if (h !== null) for (const slot of slots) this.addBounds(a, slot, h);
      for (const slot of slots) {
        const labels: Record<string, string> = {};
        for (let i = 0; i < e.labels.length; i++) labels[e.labels[i]!] = keyText(a, slot, i);
        if (h !== null) e.histograms.push(this.buckets(a, slot, labels, h));
        else e.current.push({ labels, value: Number(a.printfValue(slot, true)) });
      }
    }
  }

  /** The top of each bucket of an entry that counted something, as an `le` of the histogram. */
  private addBounds(a: Aggregation, slot: number, h: Bounds): void {
    const data = a.data(slot);
    const bounds = boundsOf(a);
    for (let i = 0; i < data.length; i++) {
      if (data[i] === 0n) continue;
      const hi = bounds[i]?.[1] ?? null;
      if (hi !== null && hi < INT64_MAX) h.add(hi);
    }
  }

  private buckets(a: Aggregation, slot: number, labels: Record<string, string>, h: Bounds): HistogramSample {
    const data = a.data(slot);
    const bounds = boundsOf(a);
    const norm = a.normal;
    const counts = new Array<number>(h.les.length + 1).fill(0);
    for (let i = 0; i < data.length; i++) {
      if (data[i] === 0n) continue;
      const n = Number(norm === 1n ? data[i]! : data[i]! / norm);
      const hi = bounds[i]?.[1] ?? null;
      for (let j = 0; j < h.les.length; j++) if (hi !== null && hi <= h.les[j]!) counts[j]! += n;
      counts[h.les.length]! += n;
    }
    return { labels, counts };
  }
}

/** The server of -x prometheus: close() ends it (and the scrapes under way). */
export interface MetricsServer {
  /** where it listens, as HOST:PORT ([HOST]:PORT for IPv6) */
  readonly address: string;
  close(): void;
}

/**
 * Serves the metrics at http://HOST:PORT/metrics (`spec`: -x prometheus's value). Rejects with
 * dtrace's words for a spec it cannot listen on (a port in use, an unknown host).
 */
export function serveMetrics(spec: string, metrics: AggregationMetrics): Promise<MetricsServer> {
  const at = parseHostPort(spec);
  if (at === null) return Promise.reject(new Error(`failed to set -x prometheus: Invalid value for specified option`));
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(path === '/metrics' ? 405 : 404, { 'Content-Type': 'text/plain' });
      res.end(path === '/metrics' ? 'method not allowed\n' : 'not found: the metrics are at /metrics\n');
      return;
    }
    metrics.text().then(
      (body) => {
        res.writeHead(200, { 'Content-Type': metrics.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (e: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`${e instanceof Error ? e.message : String(e)}\n`);
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`failed to serve metrics on ${spec}: ${errnoMessage(e)}`)));
    server.listen(at.port, at.host, () => {
      const a = server.address();
      const port = a !== null && typeof a === 'object' ? a.port : at.port;
      const host = at.host.includes(':') ? `[${at.host}]` : at.host;
      // an idle exporter must not keep dtrace alive once tracing ended
      server.unref();
      resolve({
        address: `${host}:${port}`,
        close: () => {
          server.close();
          server.closeAllConnections();
        },
      });
    });
  });
}
