// Prometheus itself (Debian's prometheus package; .ci/run installs it): started on 127.0.0.1 with
// a temporary configuration and data directory, it scrapes two dtrace processes that serve their
// aggregations with -x prometheus, and PromQL sums them by execname across both.

import { strict as assert } from 'node:assert';
import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli } from './harness.js';

const PROMETHEUS = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((p) => spawnSync(p, ['--version']).status === 0) ?? null;
const skip = PROMETHEUS === null ? 'the prometheus binary is not installed (apt-get install prometheus)' : false;

const started: ChildProcess[] = [];
let work: string | null = null;
after(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (work !== null) rmSync(work, { recursive: true, force: true });
});

/** A dtrace serving its aggregations on a free port: the child and HOST:PORT. */
function serving(program: string): Promise<{ child: ChildProcessWithoutNullStreams; target: string }> {
  const child = spawn(process.execPath, [cli, '-q', '-x', 'prometheus=127.0.0.1:0', '-n', program]);
  started.push(child);
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving aggregations at http:\/\/(\S+)\/metrics/.exec(err);
      if (m) resolve({ child, target: m[1]! });
    });
    child.on('exit', (code) => reject(new Error(`dtrace exited (${code}): ${err}`)));
  });
}

function freePort(): Promise<number> {
  const s = createServer();
  return new Promise((resolve) =>
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    }),
  );
}

interface Vector {
  status: string;
  data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

async function query(base: string, promql: string): Promise<Vector | null> {
  try {
    const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
    return r.ok ? ((await r.json()) as Vector) : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('Prometheus scrapes two dtrace processes; sum by (execname) adds them up', { skip, timeout: 120_000 }, async () => {
  // deterministic counts: 2 in one process, 3 in the other, under the same execname
  const a = await serving('BEGIN { @calls[execname] = count(); @calls[execname] = count(); @bytes[execname] = sum(10); }');
  const b = await serving('BEGIN { @calls[execname] = count(); @calls[execname] = count(); @calls[execname] = count(); @bytes[execname] = sum(32); }');
  work = mkdtempSync(join(tmpdir(), 'dtrace-ts-prometheus-'));
  const port = await freePort();
  writeFileSync(
    join(work, 'prometheus.yml'),
    `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: dtrace
    scrape_interval: 1s
    static_configs:
      - targets: ['${a.target}', '${b.target}']
`,
  );
  const prom = spawn(PROMETHEUS!, [`--config.file=${join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${join(work, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  started.push(prom);
  let log = '';
  prom.stderr.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const base = `http://127.0.0.1:${port}`;

  // Prometheus starts, scrapes both targets, then the sum covers both processes
  let calls: Vector | null = null;
  let up: Vector | null = null;
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    assert.equal(prom.exitCode, null, `prometheus exited: ${log}`);
    up = await query(base, 'count(up{job="dtrace"} == 1)');
    calls = await query(base, 'sum by (execname) (dtrace_calls_total)');
    if (up?.data.result[0]?.value[1] === '2' && calls?.data.result[0]?.value[1] === '5') break;
    await sleep(500);
  }
  assert.equal(up?.data.result[0]?.value[1], '2', `both targets up: ${JSON.stringify(up)}\n${log}`);
  assert.equal(calls?.status, 'success');
  assert.deepEqual(
    calls!.data.result.map((r) => [r.metric, r.value[1]]),
    [[{ execname: 'dtrace' }, '5']],
  );
  const bytes = await query(base, 'sum by (execname) (dtrace_bytes)');
  assert.deepEqual(
    bytes!.data.result.map((r) => [r.metric, r.value[1]]),
    [[{ execname: 'dtrace' }, '42']],
  );
  // each series is one process's: two instances
  const per = await query(base, 'dtrace_calls_total');
  assert.deepEqual(per!.data.result.map((r) => r.value[1]).sort(), ['2', '3']);

  prom.kill('SIGTERM');
  for (const d of [a, b]) d.child.kill('SIGINT');
  await Promise.all([prom, a.child, b.child].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.on('exit', r)))));
  assert.equal(a.child.exitCode, 0);
  assert.equal(b.child.exitCode, 0);
});
