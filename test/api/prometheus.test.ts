// -x prometheus: a running dtrace serves its aggregations at /metrics (real HTTP requests with
// node's fetch), in exactly the exposition text expected for a deterministic BEGIN program,
// checked against the format's rules; a port in use and a bad address are dtrace's errors.

import { strict as assert } from 'node:assert';
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { labelNames, metricName } from '../../src/api/metrics.js';
import { cli } from '../live/harness.js';

const PROGRAM = `BEGIN {
  @c["a"] = count(); @c["b\\"x\\\\y"] = count(); @c["b\\"x\\\\y"] = count();
  @bytes[1, execname] = sum(5); @bytes[2, execname] = sum(-3);
  @lat = quantize(1); @lat = quantize(3); @lat = quantize(100);
  @lin[probename] = lquantize(12, 0, 20, 5);
  @[probename] = avg(7);
  @top = max(9);
}`;

// as the OpenTelemetry SDK's Prometheus exporter writes it
const EXPECTED = `# HELP dtrace_c_total DTrace aggregation @c = count()
# TYPE dtrace_c_total counter
dtrace_c_total{k0="a"} 1
dtrace_c_total{k0="b\\"x\\\\y"} 2
# HELP dtrace_bytes DTrace aggregation @bytes = sum()
# TYPE dtrace_bytes gauge
dtrace_bytes{k0="2",execname="dtrace"} -3
dtrace_bytes{k0="1",execname="dtrace"} 5
# HELP dtrace_lat DTrace aggregation @lat = quantize()
# TYPE dtrace_lat histogram
dtrace_lat_count 3
dtrace_lat_bucket{le="1"} 1
dtrace_lat_bucket{le="3"} 2
dtrace_lat_bucket{le="127"} 3
dtrace_lat_bucket{le="+Inf"} 3
# HELP dtrace_lin DTrace aggregation @lin = lquantize()
# TYPE dtrace_lin histogram
dtrace_lin_count{probename="BEGIN"} 1
dtrace_lin_bucket{probename="BEGIN",le="14"} 1
dtrace_lin_bucket{probename="BEGIN",le="+Inf"} 1
# HELP dtrace DTrace aggregation @ = avg()
# TYPE dtrace gauge
dtrace{probename="BEGIN"} 7
# HELP dtrace_top DTrace aggregation @top = max()
# TYPE dtrace_top gauge
dtrace_top 9
`;

/** Starts dtrace with -x prometheus on a free port; resolves with the child and the metrics URL. */
function startDtrace(program: string, extra: string[] = []): Promise<{ child: ChildProcessWithoutNullStreams; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [cli, '-q', '-x', 'prometheus=127.0.0.1:0', ...extra, '-n', program]);
  let err = '';
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving aggregations at (http:\/\/\S+\/metrics)/.exec(err);
      if (m) resolve({ child, url: m[1], stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`dtrace exited (${code}): ${err}${out}`)));
  });
}

function exited(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Checks text against the exposition format (version 0.0.4): HELP then TYPE once per family,
 * sample names of the family, label names and escaped values, numbers; histograms cumulative
 * with +Inf equal to _count.
 */
function validateExposition(text: string): void {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const types = new Map<string, string>();
  let family: string | null = null;
  const hist = new Map<string, { last: number; inf: number | null; count: number | null }>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# HELP (\S+) (.*)$/.exec(line);
    if (m) {
      assert.match(m[1], METRIC);
      assert.ok(!/\\[^\\n]/.test(m[2].replace(/\\\\/g, '')), `HELP escapes only \\\\ and \\n: ${line}`);
      family = m[1];
      continue;
    }
    m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      assert.equal(m[1], family, 'TYPE follows its HELP');
      assert.ok(!types.has(m[1]), `one TYPE line for ${m[1]}`);
      types.set(m[1], m[2]);
      continue;
    }
    assert.ok(!line.startsWith('#'), `a comment: ${line}`);
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const [, name, labels, value] = m;
    assert.ok(value === '+Inf' || value === '-Inf' || value === 'NaN' || /^-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?$/.test(value), `a number: ${value}`);
    const type = types.get(family!);
    const base = type === 'histogram' ? name.replace(/_(bucket|count|sum)$/, '') : name;
    assert.equal(base, family, `${name} belongs to ${family}`);
    const seen = new Set<string>();
    let le: string | null = null;
    let series = '';
    if (labels !== undefined) {
      const re = /([^=,]+)="((?:[^"\\]|\\["\\n])*)"(,|$)/y;
      let at = 0;
      while (at < labels.length) {
        re.lastIndex = at;
        const l = re.exec(labels);
        assert.ok(l, `labels well formed: ${labels}`);
        assert.match(l[1], LABEL);
        assert.ok(!l[1].startsWith('__'), 'no reserved label');
        assert.ok(!seen.has(l[1]), 'a label once');
        seen.add(l[1]);
        if (l[1] === 'le') le = l[2];
        else series += `${l[1]}=${l[2]};`;
        at = re.lastIndex;
      }
    }
    if (type === 'histogram') {
      const key = `${family}|${series}`;
      const h = hist.get(key) ?? { last: 0, inf: null, count: null };
      const v = Number(value);
      if (name.endsWith('_bucket')) {
        assert.ok(le !== null, 'a bucket has le');
        assert.ok(v >= h.last, 'buckets are cumulative');
        h.last = v;
        if (le === '+Inf') h.inf = v;
      } else if (name.endsWith('_count')) h.count = v;
      hist.set(key, h);
    }
  }
  for (const [k, h] of hist) {
    assert.notEqual(h.inf, null, `${k}: a +Inf bucket`);
    assert.equal(h.inf, h.count, `${k}: +Inf is _count`);
  }
}

test('a running dtrace serves its aggregations at /metrics, exactly', async () => {
  const { child, url } = await startDtrace(PROGRAM);
  try {
    const r = await fetch(url);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain');
    const text = await r.text();
    assert.equal(text, EXPECTED);
    validateExposition(text);
    const missing = await fetch(url.replace(/\/metrics$/, '/other'));
    assert.equal(missing.status, 404);
    await missing.text();
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited(child), 0);
});

test('a scrape reads the aggregations at most once per aggrate; the values are live', async () => {
  // tick-10ms counts; with aggrate=1h two scrapes are one reading, with 10ms they move on
  const slow = await startDtrace('tick-10ms { @n = count(); }', ['-x', 'aggrate=1h']);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const a = await (await fetch(slow.url)).text();
    await new Promise((r) => setTimeout(r, 300));
    const b = await (await fetch(slow.url)).text();
    assert.equal(a, b);
    validateExposition(a);
  } finally {
    slow.child.kill('SIGINT');
  }
  assert.equal(await exited(slow.child), 0);
  const fast = await startDtrace('tick-10ms { @n = count(); }', ['-x', 'aggrate=10ms']);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const a = await (await fetch(fast.url)).text();
    await new Promise((r) => setTimeout(r, 300));
    const b = await (await fetch(fast.url)).text();
    const n = (t: string) => Number(/^dtrace_n_total (\d+)$/m.exec(t)![1]);
    assert.ok(n(b) > n(a), `${n(a)} then ${n(b)}`);
  } finally {
    fast.child.kill('SIGINT');
  }
  assert.equal(await exited(fast.child), 0);
});

test('a port in use and an address that is none are dtrace errors', async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  try {
    const r = spawnSync(process.execPath, [cli, '-q', '-x', `prometheus=127.0.0.1:${port}`, '-n', 'BEGIN { exit(0); }'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.stderr, `dtrace: failed to serve metrics on 127.0.0.1:${port}: Address already in use\n`);
    assert.equal(r.status, 1);
  } finally {
    busy.close();
  }
  for (const bad of ['host:port', '127.0.0.1:70000', '', '1.2.3.4:']) {
    const r = spawnSync(process.execPath, [cli, '-x', `prometheus=${bad}`, '-n', 'BEGIN { exit(0); }'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.stderr, 'dtrace: failed to set -x prometheus: Invalid value for specified option\n', bad);
    assert.equal(r.status, 1);
  }
});

test('metric and label names', () => {
  // (the Prometheus exporter adds _total to a counter's)
  assert.equal(metricName('c'), 'dtrace_c');
  assert.equal(metricName('_'), 'dtrace');
  assert.equal(metricName('lat'), 'dtrace_lat');
  assert.deepEqual(labelNames(['execname', null, 'pid'], 3), ['execname', 'k1', 'pid']);
  // reserved (__*, le), repeated, missing
  assert.deepEqual(labelNames(['__x', 'le', 'pid', 'pid'], 5), ['k0', 'k1', 'pid', 'pid_3', 'k4']);
});
