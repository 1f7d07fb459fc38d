// -x prometheus=HOST:PORT: the live aggregations at http://HOST:PORT/metrics, in Prometheus' text
// exposition format, written by the OpenTelemetry SDK's Prometheus exporter from the metrics of
// AggregationProducer (metrics.ts: what each aggregation becomes; nothing runs per event). The
// server is ours (node:http), so that its address, its errors and its lifetime are dtrace's; the
// exporter answers /metrics.

import { createServer, type Server } from 'node:http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { errnoMessage } from '../errors.js';
import { parseHostPort } from '../runtime/options.js';
import type { AggregationProducer } from './metrics.js';

/** The server of -x prometheus: close() ends it (and the scrapes under way). */
export interface MetricsServer {
  /** where it listens, as HOST:PORT ([HOST]:PORT for IPv6) */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Serves the metrics at http://HOST:PORT/metrics (`spec`: -x prometheus's value). Rejects with
 * dtrace's words for a spec it cannot listen on (a port in use, an unknown host).
 */
export function serveMetrics(spec: string, producer: AggregationProducer): Promise<MetricsServer> {
  const at = parseHostPort(spec);
  if (at === null) return Promise.reject(new Error(`failed to set -x prometheus: Invalid value for specified option`));
  // the exposition as it was: the aggregations' metrics only (no target_info, no otel_scope_* labels)
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutTargetInfo: true, withoutScopeInfo: true, metricProducers: [producer] });
  const provider = new MeterProvider({ readers: [exporter] });
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(path === '/metrics' ? 405 : 404, { 'Content-Type': 'text/plain' });
      res.end(path === '/metrics' ? 'method not allowed\n' : 'not found: the metrics are at /metrics\n');
      return;
    }
    exporter.getMetricsRequestHandler(req, res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => {
      void provider.shutdown();
      reject(new Error(`failed to serve metrics on ${spec}: ${errnoMessage(e)}`));
    });
    server.listen(at.port, at.host, () => {
      const a = server.address();
      const port = a !== null && typeof a === 'object' ? a.port : at.port;
      const host = at.host.includes(':') ? `[${at.host}]` : at.host;
      // an idle exporter must not keep dtrace alive once tracing ended
      server.unref();
      resolve({
        address: `${host}:${port}`,
        close: async () => {
          server.close();
          server.closeAllConnections();
          await provider.shutdown();
        },
      });
    });
  });
}
