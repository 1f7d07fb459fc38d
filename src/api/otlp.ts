// -x otlp=URL: the aggregations pushed to an OpenTelemetry Collector (or anything that takes
// OTLP/HTTP with JSON) by the OpenTelemetry SDK's OTLP exporter, every otlpinterval (aggrate when
// unset, 1s when neither is) and once more when tracing ends. The metrics are those of
// AggregationProducer (metrics.ts), so Prometheus and OTLP see the same names, attributes and
// buckets. An endpoint that does not take them is a warning (once, until a push succeeds again);
// tracing goes on.

import { hostname } from 'node:os';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { type AggregationTemporality, type InstrumentType, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { errnoMessage } from '../errors.js';
import { validUrl } from '../runtime/options.js';
import type { AggregationProducer } from './metrics.js';

/** The pusher of -x otlp: close() pushes a last time, then ends it. */
export interface MetricsPusher {
  close(): Promise<void>;
}

/** The longest one push may take (the SDK's retries included). */
const MAX_TIMEOUT_MS = 5000;

/** The SDK's exporter, its failures told to dtrace's warnings. */
class WarningExporter implements PushMetricExporter {
  private failing = false;

  constructor(
    private readonly inner: OTLPMetricExporter,
    private readonly url: string,
    private readonly warn: (msg: string) => void,
  ) {}

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.failing = false;
      else if (!this.failing) {
        this.failing = true;
        this.warn(`failed to push metrics to ${this.url}: ${reason(result.error)}`);
      }
      done(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  selectAggregationTemporality(kind: InstrumentType): AggregationTemporality {
    return this.inner.selectAggregationTemporality(kind);
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/** An export's error in a line: the errno's words, the HTTP status, or its message. */
function reason(e: Error | undefined): string {
  if (e === undefined) return 'export failed';
  const cause = (e as Error & { cause?: unknown }).cause as { code?: unknown } | undefined;
  const code = (e as { code?: unknown }).code ?? cause?.code;
  // the exporter's error for an answer that is not 2xx: the status and its reason phrase
  if (typeof code === 'number') return `HTTP ${code}${e.message !== '' ? ` ${e.message}` : ''}`;
  if (typeof code === 'string') return errnoMessage(Object.assign(new Error(e.message), { code }));
  return e.message.split('\n')[0]!;
}

/**
 * Pushes the metrics to `url` every `intervalMs`. Throws dtrace's words for a URL that is none.
 */
export function pushMetrics(url: string, intervalMs: number, producer: AggregationProducer, warn: (msg: string) => void): MetricsPusher {
  if (!validUrl(url)) throw new Error('failed to set -x otlp: Invalid value for specified option');
  // (a timer longer than 2^31-1 ms would fire at once)
  const interval = Math.min(Math.max(1, Math.round(intervalMs)), 2 ** 31 - 1);
  const timeout = Math.min(interval, MAX_TIMEOUT_MS);
  const exporter = new WarningExporter(new OTLPMetricExporter({ url, timeoutMillis: timeout }), url, warn);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: interval, exportTimeoutMillis: timeout, metricProducers: [producer] });
  const resource = resourceFromAttributes({ 'service.name': 'dtrace', 'host.name': hostname(), 'process.pid': process.pid });
  const provider = new MeterProvider({ resource, readers: [reader] });
  return {
    close: async () => {
      // the last push: the aggregations as they were when tracing ended
      producer.invalidate();
      try {
        await provider.shutdown({ timeoutMillis: timeout });
      } catch {
        // a push that did not end in time: the exporter said why
      }
    },
  };
}
