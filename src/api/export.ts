// The exporters of the aggregations a program asked for with -x prometheus and -x otlp, both fed
// by one AggregationProducer (metrics.ts), for the command and the library alike.

import type { Runtime } from '../runtime/runtime.js';
import type { ExportedAggregation } from './metrics.js';
import type { MetricsPusher } from './otlp.js';
import type { MetricsServer } from './prometheus.js';

export interface Exporters {
  /** -x prometheus: where the metrics are served (HOST:PORT), or null */
  readonly address: string | null;
  /** Stops serving; pushes a last time (-x otlp) with the aggregations as they are now. */
  close(): Promise<void>;
}

/**
 * Starts the exporters the options ask for (null: none). Rejects with dtrace's words (without
 * its "dtrace: ") when one cannot start (a port in use, a URL that is none).
 */
export async function startExporters(rt: Runtime, aggs: readonly ExportedAggregation[], warn: (msg: string) => void): Promise<Exporters | null> {
  const promSpec = rt.opts.text.get('prometheus')?.[0];
  const otlpUrl = rt.opts.text.get('otlp')?.[0];
  if (promSpec === undefined && otlpUrl === undefined) return null;
  // the OpenTelemetry SDK is loaded only by a program that exports: dtrace starts without it
  const { AggregationProducer } = await import('./metrics.js');
  const producer = new AggregationProducer(rt, aggs);
  let server: MetricsServer | null = null;
  let pusher: MetricsPusher | null = null;
  if (promSpec !== undefined) server = await (await import('./prometheus.js')).serveMetrics(promSpec, producer);
  if (otlpUrl !== undefined) {
    const every = rt.opts.get('otlpinterval') > 0n ? rt.opts.get('otlpinterval') : rt.opts.get('aggrate');
    try {
      pusher = (await import('./otlp.js')).pushMetrics(otlpUrl, every > 0n ? Number(every) / 1e6 : 1000, producer, warn);
    } catch (e) {
      await server?.close();
      throw e;
    }
  }
  return {
    address: server?.address ?? null,
    close: async () => {
      await Promise.all([server?.close(), pusher?.close()]);
    },
  };
}
