// -x oformat=json: the dtrace command's output, each line parsed as JSON and compared with the
// exact objects doc/json.md describes (timestamps, which change, checked for their form).

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { cli, liveUnavailable, root } from '../live/harness.js';

function dtrace(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'latin1', timeout: 20_000, env: { ...process.env, LANG: 'C' } });
  // eslint-disable-next-line no-control-regex
  assert.ok(!/[^\x00-\x7f]/.test(r.stdout), 'every line is ASCII');
  const lines = r.stdout.split('\n');
  assert.equal(lines.pop(), '', 'the output ends with a newline');
  return { status: r.status, stderr: r.stderr, records: lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const BEGIN = { id: 1, provider: 'dtrace', module: '', function: '', name: 'BEGIN' };

/** A probe record's timestamp is a decimal string; the rest is compared whole. */
function stripTimestamp(r: Record<string, unknown>): Record<string, unknown> {
  if (r.type !== 'probe') return r;
  assert.match(r.timestamp as string, /^[0-9]+$/);
  assert.equal(typeof r.cpu, 'number');
  const { timestamp: _t, cpu: _c, ...rest } = r;
  return rest;
}

test('a BEGIN-only program: printf, trace, printa, every aggregating function, exit', () => {
  const program = `
BEGIN
{
	printf("hello %d %s\\n", 42, "w\\xc3\\xa9");
	trace(12345678901234567890ULL);
	trace(-9007199254740991LL);
	trace("str");
	trace((int)-3);
	@c["a"] = count();
	@c["b"] = count();
	@c["b"] = count();
	@s = sum(1LL << 60);
	@mn = min(5);
	@mx = max(7);
	@av = avg(4);
	@sd = stddev(3);
	@q = quantize(5);
	@q = quantize(0);
	@q = quantize(-3);
	@lq = lquantize(5, 0, 10, 2);
	@lq = lquantize(50, 0, 10, 2);
	@lq = lquantize(-1, 0, 10, 2);
	@llq = llquantize(1234, 10, 0, 6, 20);
	@k[1, "x"] = sum(2);
	printa("%s %@d\\n", @c);
	exit(3);
}`;
  const r = dtrace(['-q', '-x', 'oformat=json', '-n', program]);
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(r.records.map(stripTimestamp), [
    {
      type: 'probe',
      epid: 1,
      probe: BEGIN,
      data: [
        { action: 'printf', text: 'hello 42 w\u00e9\n' },
        { action: 'trace', type: 'unsigned long long', value: '12345678901234567890' },
        { action: 'trace', type: 'long long', value: -9007199254740991 },
        { action: 'trace', type: 'string', value: 'str' },
        { action: 'trace', type: 'int', value: -3 },
        {
          action: 'printa',
          text: 'a 1\nb 2\n',
          aggregations: [{ name: 'c', function: 'count', entries: [{ keys: ['a'], value: 1 }, { keys: ['b'], value: 2 }] }],
        },
        { action: 'exit', status: 3 },
      ],
    },
    { type: 'aggregation', name: 's', function: 'sum', entries: [{ keys: [], value: '1152921504606846976' }] },
    { type: 'aggregation', name: 'mn', function: 'min', entries: [{ keys: [], value: 5 }] },
    { type: 'aggregation', name: 'mx', function: 'max', entries: [{ keys: [], value: 7 }] },
    { type: 'aggregation', name: 'av', function: 'avg', entries: [{ keys: [], value: 4 }] },
    { type: 'aggregation', name: 'sd', function: 'stddev', entries: [{ keys: [], value: 0 }] },
    {
      type: 'aggregation',
      name: 'q',
      function: 'quantize',
      entries: [{ keys: [], value: [{ min: -3, max: -2, count: 1 }, { min: 0, max: 0, count: 1 }, { min: 4, max: 7, count: 1 }] }],
    },
    {
      type: 'aggregation',
      name: 'lq',
      function: 'lquantize',
      entries: [{ keys: [], value: [{ min: null, max: -1, count: 1 }, { min: 4, max: 5, count: 1 }, { min: 10, max: null, count: 1 }] }],
    },
    { type: 'aggregation', name: 'llq', function: 'llquantize', entries: [{ keys: [], value: [{ min: 1000, max: 1499, count: 1 }] }] },
    { type: 'aggregation', name: 'k', function: 'sum', entries: [{ keys: [1, 'x'], value: 2 }] },
    { type: 'exit', status: 3 },
  ]);
});

test('JSON lines are ASCII; faults and drops are records', () => {
  const r = dtrace(['-x', 'oformat=json', '-n', 'BEGIN { printf("\\xff\\xc3\\xa9"); } BEGIN { trace(*(int *)0); } BEGIN { exit(0); }']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.records.map(stripTimestamp), [
    { type: 'probe', epid: 1, probe: BEGIN, data: [{ action: 'printf', text: '\ufffd\u00e9' }] },
    {
      type: 'error',
      message: 'error on enabled probe ID 2 (ID 1: dtrace:::BEGIN): invalid address (0x0) in action #1 at DIF offset 8',
      epid: 2,
      id: 1,
      fault: 'invalid address (0x0)',
    },
    { type: 'probe', epid: 3, probe: BEGIN, data: [{ action: 'exit', status: 0 }] },
    { type: 'exit', status: 0 },
  ]);
  const d = dtrace(['-q', '-x', 'oformat=json', '-x', 'dynvarsize=80', '-n', 'BEGIN { a[1] = 1; a[2] = 2; a[3] = 3; a[4] = 4; a[5] = 5; a[6] = 6; exit(0); }']);
  assert.equal(d.stderr, '', 'a drop is a record, not a message');
  assert.deepEqual(d.records.slice(1), [
    { type: 'drop', kind: 'DTRACEDROP_DYNAMIC', message: '1 dynamic variable drop', count: 1, cpu: null },
    { type: 'exit', status: 0 },
  ]);
});

test('oformat=text is the default output; an unknown oformat is refused as DTrace refuses a value', () => {
  const t = spawnSync(process.execPath, [cli, '-x', 'oformat=text', '-qn', 'BEGIN { printf("x\\n"); exit(0); }'], { encoding: 'latin1' });
  assert.equal(t.stdout, 'x\n\n');
  const bad = spawnSync(process.execPath, [cli, '-x', 'oformat=xml', '-n', 'BEGIN { exit(0); }'], { encoding: 'latin1' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stdout, '');
  assert.equal(bad.stderr, 'dtrace: failed to set -x oformat: Invalid value for specified option\n');
});

test('a syscall probe, live: probe records with their arguments, then the aggregation', { skip: liveUnavailable() ?? false }, () => {
  const s = spawnSync(process.execPath, [cli, '-x', 'oformat=json', '-n',
    'syscall::getppid:entry /pid == $target/ { trace(pid); @n[probefunc] = count(); } syscall::getppid:return /pid == $target/ { exit(0); }',
    '-c', `${process.execPath} -e process.ppid;require("os");process.ppid`], { cwd: root, encoding: 'latin1', timeout: 20_000 });
  assert.equal(s.status, 0, s.stderr);
  const lines = s.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const probes = lines.filter((l) => l.type === 'probe');
  assert.ok(probes.length >= 2, s.stdout);
  const entry = probes[0] as { probe: Record<string, unknown>; data: Array<Record<string, unknown>>; timestamp: string; cpu: number };
  assert.deepEqual({ ...entry.probe, id: 0 }, { id: 0, provider: 'syscall', module: 'vmlinux', function: 'getppid', name: 'entry' });
  assert.match(entry.timestamp, /^[0-9]+$/);
  assert.equal(entry.data.length, 1);
  assert.deepEqual({ ...entry.data[0], value: 0 }, { action: 'trace', type: 'pid_t', value: 0 });
  assert.equal(typeof entry.data[0].value, 'number');
  const agg = lines.find((l) => l.type === 'aggregation') as { entries: Array<{ keys: unknown[]; value: number }> };
  assert.deepEqual(agg.entries.map((e) => e.keys), [['getppid']]);
  assert.ok(agg.entries[0].value >= 1);
  assert.deepEqual(lines.at(-1), { type: 'exit', status: 0 });
});
