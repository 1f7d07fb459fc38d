// -x otlp=URL: a running dtrace pushes its aggregations with the OpenTelemetry SDK's OTLP/HTTP
// exporter (JSON) to a receiver this test starts (node:http), every otlpinterval and once more at
// exit; the pushed metrics are checked exactly for a deterministic BEGIN program (names,
// attributes, values, histogram bounds and counts). An endpoint that refuses is one warning,
// tracing goes on and its state is removed; a URL that is none is dtrace's option error.

import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { run } from '../../src/api/index.js';
import { cli, instancesOf, liveUnavailable } from '../live/harness.js';

interface KeyValue {
  key: string;
  value: { stringValue?: string; intValue?: number | string };
}
interface Point {
  attributes: KeyValue[];
  asInt?: number | string;
  asDouble?: number;
  bucketCounts?: Array<number | string>;
  explicitBounds?: number[];
  count?: number | string;
  sum?: number;
  startTimeUnixNano: string;
  timeUnixNano: string;
}
interface Metric {
  name: string;
  description: string;
  sum?: { aggregationTemporality: number; isMonotonic: boolean; dataPoints: Point[] };
  gauge?: { dataPoints: Point[] };
  histogram?: { aggregationTemporality: number; dataPoints: Point[] };
}
interface Push {
  resourceMetrics: Array<{ resource: { attributes: KeyValue[] }; scopeMetrics: Array<{ scope: { name: string }; metrics: Metric[] }> }>;
}

/** The receiver: every request it was sent (path, content type, body as JSON). */
const pushes: Array<{ path: string; type: string; body: Push }> = [];
let receiver: Server;
let url = '';

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      pushes.push({ path: req.url ?? '', type: req.headers['content-type'] ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Push });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/v1/metrics`;
});
after(() => receiver.close());

/** Runs dtrace to its end without blocking this process (the receiver answers meanwhile). */
function dtrace(args: string[]): Promise<{ pid: number; code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ pid: child.pid!, code, stdout, stderr })));
}

const attrs = (p: Point) => Object.fromEntries(p.attributes.map((a) => [a.key, a.value.stringValue ?? Number(a.value.intValue)]));

function metricsOf(push: Push): Map<string, Metric> {
  assert.equal(push.resourceMetrics.length, 1);
  const [rm] = push.resourceMetrics;
  const out = new Map<string, Metric>();
  for (const sm of rm!.scopeMetrics) {
    assert.equal(sm.scope.name, 'dtrace-ts');
    for (const m of sm.metrics) out.set(m.name, m);
  }
  return out;
}

test('-x otlp pushes the aggregations every otlpinterval and at exit, exactly', async () => {
  const before = pushes.length;
  const program = `BEGIN {
    @c["a"] = count(); @c["b"] = count(); @c["b"] = count();
    @bytes[execname] = sum(5);
    @lat = quantize(1); @lat = quantize(3); @lat = quantize(100);
    @lin[probename] = lquantize(12, 0, 20, 5);
    @top = max(9);
  }
  tick-1s { exit(0); }`;
  const r = await dtrace(['-q', '-x', `otlp=${url}`, '-x', 'otlpinterval=200ms', '-n', program]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const mine = pushes.slice(before).filter((p) => p.body.resourceMetrics[0]?.resource.attributes.some((a) => a.key === 'process.pid' && Number(a.value.intValue) === r.pid));
  // one push or more while tracing, and the last at exit
  assert.ok(mine.length >= 2, `${mine.length} pushes`);
  for (const p of mine) {
    assert.equal(p.path, '/v1/metrics');
    assert.equal(p.type, 'application/json');
  }
  const last = mine.at(-1)!.body;
  const resource = Object.fromEntries(last.resourceMetrics[0]!.resource.attributes.map((a) => [a.key, a.value.stringValue ?? Number(a.value.intValue)]));
  assert.equal(resource['service.name'], 'dtrace');
  const m = metricsOf(last);
  assert.deepEqual([...m.keys()], ['dtrace_c', 'dtrace_bytes', 'dtrace_lat', 'dtrace_lin', 'dtrace_top']);

  const c = m.get('dtrace_c')!;
  assert.equal(c.description, 'DTrace aggregation @c = count()');
  assert.equal(c.sum?.isMonotonic, true);
  assert.equal(c.sum?.aggregationTemporality, 2, 'cumulative');
  assert.deepEqual(
    c.sum!.dataPoints.map((p) => [attrs(p), Number(p.asInt)]),
    [
      [{ k0: 'a' }, 1],
      [{ k0: 'b' }, 2],
    ],
  );
  const bytes = m.get('dtrace_bytes')!;
  assert.deepEqual(
    bytes.gauge!.dataPoints.map((p) => [attrs(p), Number(p.asInt)]),
    [[{ execname: 'dtrace' }, 5]],
  );
  const lat = m.get('dtrace_lat')!.histogram!.dataPoints;
  assert.equal(lat.length, 1);
  // the aggregation's own buckets: [1], [2,3], [64,127] are (0,1], (1,3], (3,127]
  assert.deepEqual(lat[0]!.explicitBounds, [1, 3, 127]);
  assert.deepEqual(lat[0]!.bucketCounts!.map(Number), [1, 1, 1, 0]);
  assert.equal(Number(lat[0]!.count), 3);
  assert.equal(lat[0]!.sum, undefined, 'DTrace keeps no sum');
  const lin = m.get('dtrace_lin')!.histogram!.dataPoints;
  assert.deepEqual(
    lin.map((p) => [attrs(p), p.explicitBounds, p.bucketCounts!.map(Number)]),
    [[{ probename: 'BEGIN' }, [14], [1, 0]]],
  );
  assert.deepEqual(
    m.get('dtrace_top')!.gauge!.dataPoints.map((p) => Number(p.asInt)),
    [9],
  );
  // a counter's series starts when tracing did and moves on
  const first = metricsOf(mine[0]!.body).get('dtrace_c')!.sum!.dataPoints[0]!;
  const lastPoint = c.sum!.dataPoints[0]!;
  assert.equal(first.startTimeUnixNano, lastPoint.startTimeUnixNano);
  assert.ok(BigInt(lastPoint.timeUnixNano) > BigInt(first.timeUnixNano));
});

test('the last push has the aggregations as tracing left them', async () => {
  const before = pushes.length;
  // otlpinterval of an hour: the only push is the one at exit
  const r = await dtrace(['-q', '-x', `otlp=${url}`, '-x', 'otlpinterval=1h', '-n', 'tick-10ms /i++ < 20/ { @n = count(); } tick-10ms /i == 25/ { exit(0); }']);
  assert.equal(r.code, 0, r.stderr);
  const mine = pushes.slice(before).filter((p) => p.body.resourceMetrics[0]?.resource.attributes.some((a) => a.key === 'process.pid' && Number(a.value.intValue) === r.pid));
  assert.equal(mine.length, 1);
  const n = metricsOf(mine[0]!.body).get('dtrace_n')!;
  assert.equal(Number(n.sum!.dataPoints[0]!.asInt), 20);
});

test('clear() resets a counter: its series starts again', async () => {
  const before = pushes.length;
  // 10 counts, then a second or so of pushes with 10, then clear() and 4 counts
  const program = 'tick-10ms /i++ < 10/ { @n = count(); } tick-10ms /i == 110/ { clear(@n); } tick-10ms /i > 110 && i <= 114/ { @n = count(); } tick-10ms /i == 130/ { exit(0); }';
  // (aggrate: a push reads the aggregations afresh, not the reading of up to 1s ago)
  const r = await dtrace(['-q', '-x', `otlp=${url}`, '-x', 'otlpinterval=100ms', '-x', 'aggrate=50ms', '-n', program]);
  assert.equal(r.code, 0, r.stderr);
  const points = pushes
    .slice(before)
    .filter((p) => p.body.resourceMetrics[0]?.resource.attributes.some((a) => a.key === 'process.pid' && Number(a.value.intValue) === r.pid))
    .map((p) => metricsOf(p.body).get('dtrace_n')?.sum?.dataPoints[0])
    .filter((p) => p !== undefined);
  const ten = points.find((p) => Number(p.asInt) === 10);
  assert.ok(ten !== undefined, 'a push while the count was 10');
  const last = points.at(-1)!;
  assert.equal(Number(last.asInt), 4);
  assert.ok(BigInt(last.startTimeUnixNano) > BigInt(ten.startTimeUnixNano), 'the series started again');
  assert.ok(BigInt(last.startTimeUnixNano) <= BigInt(last.timeUnixNano));
});

const skipLive = liveUnavailable() ?? false;

test('an endpoint that refuses: one warning, tracing goes on, its state is removed', { skip: skipLive }, async () => {
  // a port nothing listens on
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  const refused = `http://127.0.0.1:${port}/v1/metrics`;
  const r = await dtrace(['-q', '-x', `otlp=${refused}`, '-x', 'otlpinterval=100ms', '-n', 'syscall::getppid:entry { @ = count(); } tick-800ms { printf("traced\\n"); exit(0); }']);
  assert.equal(r.stderr, `dtrace: failed to push metrics to ${refused}: Connection refused\n`);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^traced\n/);
  assert.deepEqual(instancesOf(r.pid), []);
});

test('a URL that is none is an option error', () => {
  for (const bad of ['notaurl', 'ftp://host/v1/metrics', 'http://', '']) {
    const r = spawnSync(process.execPath, [cli, '-x', `otlp=${bad}`, '-n', 'BEGIN { exit(0); }'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.stderr, 'dtrace: failed to set -x otlp: Invalid value for specified option\n', bad);
    assert.equal(r.status, 1);
  }
});

test('the library pushes as the command does', async () => {
  const before = pushes.length;
  const t = run('BEGIN { @calls["x"] = count(); exit(0); }', { options: { otlp: url } });
  for await (const _ of t) {
    // the records are not what this test reads
  }
  assert.equal(await t.status, 0);
  const mine = pushes.slice(before);
  assert.ok(mine.length >= 1);
  const calls = metricsOf(mine.at(-1)!.body).get('dtrace_calls')!;
  assert.deepEqual(
    calls.sum!.dataPoints.map((p) => [attrs(p), Number(p.asInt)]),
    [[{ k0: 'x' }, 1]],
  );
});
