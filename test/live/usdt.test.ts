// The usdt provider on the live kernel: a program built the DTrace way (dtrace -h header,
// gcc -O2, dtrace -G object) fires probes with integer and string arguments, its is-enabled
// checks are true only while dtrace traces the probe (semaphores counted by the kernel, or set
// by dtrace itself), -l lists its probes, SIGTERM leaves no uprobe event; and Debian's python3.

import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TRACEFS, Tracing, liveUnavailable, root, runDtrace } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'usdt-live-'));
const prog = join(dir, 'usdt-target');
const programs = join(root, 'test', 'live', 'programs');
const loops: ChildProcess[] = [];
after(() => {
  for (const c of loops) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Builds usdt-target as a DTrace user would: header, -O2 object, dtrace -G, link. */
function build(): string | false {
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'latin1', cwd: dir });
  const h = runDtrace(['-h', '-s', join(programs, 'usdt-prov.d'), '-o', join(dir, 'usdt-prov.h')]);
  if (h.code !== 0) return `dtrace -h failed: ${h.stderr}`;
  const cc = run('cc', ['-O2', '-Wall', '-Werror', '-I', dir, '-c', '-o', join(dir, 'usdt-target.o'), join(programs, 'usdt-target.c')]);
  if (cc.error || cc.status !== 0) return `no C compiler: ${cc.error?.message ?? cc.stderr}`;
  const g = runDtrace(['-G', '-s', join(programs, 'usdt-prov.d'), '-o', join(dir, 'usdt-prov.o'), join(dir, 'usdt-target.o')]);
  if (g.code !== 0) return `dtrace -G failed: ${g.stderr}`;
  const ld = run('cc', ['-o', prog, join(dir, 'usdt-target.o'), join(dir, 'usdt-prov.o')]);
  return ld.status !== 0 ? `link failed: ${ld.stderr}` : false;
}

function unavailable(): string | false {
  const why = liveUnavailable();
  if (why !== null) return why;
  if (!existsSync(join(TRACEFS, 'uprobe_events'))) return 'the kernel has no uprobe events';
  return build();
}
const skip = unavailable();

function uprobesOf(pid: number): string[] {
  return readFileSync(join(TRACEFS, 'uprobe_events'), 'latin1')
    .split('\n')
    .filter((l) => l.includes(`:dtrace_tsu_${pid}_`));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('probes of a dtrace -h program: integers, a string, constants, no arguments', { skip }, () => {
  const r = runDtrace([
    '-q',
    '-n', 'myserv$target:::query-start { printf("%s:%s:%s:%s %s %d\\n", probeprov == strjoin("myserv", lltostr($target)) ? "ok" : probeprov, probemod, probefunc, probename, copyinstr(arg0), arg1); }',
    '-n', 'myserv$target:::query-done { printf("done %d %d %d\\n", arg0, arg1, arg2); }',
    '-n', 'myserv$target:::tick { @ = count(); }',
    '-c', `${prog} 3`,
  ]);
  assert.equal(r.stderr, '');
  assert.equal(
    r.stdout,
    'ok:usdt-target:work:query-start select 0 0\ndone 0 -5000000000 200\n' +
      'ok:usdt-target:work:query-start select 1 1\ndone 2 -5000000000 200\n' +
      'ok:usdt-target:work:query-start select 2 2\ndone 4 -5000000000 200\n\n                3\n',
  );
  assert.equal(r.code, 0);
  assert.deepEqual(uprobesOf(r.pid!), []);
});

test('-l lists the probes under provider<PID>, with module, function and DTrace names', { skip }, () => {
  const r = runDtrace(['-l', '-n', 'myserv$target:::', '-c', prog]);
  assert.equal(r.code, 0);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.match(lines[0], /^ +ID +PROVIDER +MODULE +FUNCTION NAME$/);
  const rows = lines.slice(1).map((l) => l.trim().split(/ +/).slice(1));
  const pid = rows[0][0].slice('myserv'.length);
  assert.match(pid, /^\d+$/);
  assert.deepEqual(rows, [
    [`myserv${pid}`, 'usdt-target', 'work', 'query-start'],
    [`myserv${pid}`, 'usdt-target', 'work', 'query-done'],
    [`myserv${pid}`, 'usdt-target', 'main', 'tick'],
  ]);
  // a glob over provider names finds the -c process's providers
  const g = runDtrace(['-l', '-n', 'mys*:::tick', '-c', prog]);
  assert.match(g.stdout, /^ +\d+ +myserv\d+ +usdt-target +main tick$/m);
  const none = runDtrace(['-n', 'nosuchprov$target:::', '-c', prog]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /: probe description nosuchprov\d+::: does not match any probes\n$/);
});

test('is-enabled: false when nobody traces the probe', { skip }, () => {
  const log = join(dir, 'untraced.log');
  const r = spawnSync(prog, ['2', '0', log]);
  assert.equal(r.status, 0);
  assert.equal(readFileSync(log, 'latin1'), 'disabled 0\ndisabled 1\n');
  const t = runDtrace(['-q', '-n', 'myserv$target:::tick {}', '-c', `${prog} 2 0 ${join(dir, 'other.log')}`]);
  assert.equal(t.code, 0);
  // tick is traced, query-start is not: its semaphore stays 0
  assert.equal(readFileSync(join(dir, 'other.log'), 'latin1'), 'disabled 0\ndisabled 1\n');
});

for (const [how, env] of [
  ['the kernel counts the semaphore (ref_ctr_offset)', {}],
  ['dtrace sets the semaphore in the process (DTRACE_TS_NO_REF_CTR=1)', { DTRACE_TS_NO_REF_CTR: '1' }],
] as const) {
  test(`is-enabled under -p, ${how}: true while traced, false again after SIGTERM; no uprobe left`, { skip }, async () => {
    const log = join(dir, `loop-${loops.length}.log`);
    const loop = spawn(prog, ['100000', '20', log], { stdio: 'ignore' });
    loops.push(loop);
    await sleep(150);
    const d = new Tracing(['-q', '-n', 'myserv$target:::query-start { printf("%s\\n", copyinstr(arg0)); }', '-p', String(loop.pid)], env);
    await d.ready();
    assert.ok(uprobesOf(d.child.pid!).length >= 1);
    await d.until(/^select \d+\n.*select \d+\n/s);
    const r = await d.stop('SIGTERM');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^select \d+$/m);
    assert.deepEqual(uprobesOf(r.pid), []);
    await sleep(200);
    loop.kill('SIGKILL');
    const states = readFileSync(log, 'latin1')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split(' ')[0]);
    // disabled..., enabled... while traced, disabled... after
    const runs = states.filter((s, i) => i === 0 || s !== states[i - 1]);
    assert.deepEqual(runs, ['disabled', 'enabled', 'disabled']);
  });
}

test('bpftrace sees the probes of a dtrace -h program too', { skip: skip || (spawnSync('bpftrace', ['--version']).status !== 0 ? 'no bpftrace' : false) }, () => {
  const r = spawnSync('bpftrace', ['-e', `usdt:${prog}:myserv:query__start { printf("%s %d\\n", str(arg0), arg1); }`, '-c', `${prog} 2`], { encoding: 'latin1', timeout: 60_000 });
  if (r.status !== 0 && /BPF|bpf|kernel/.test(r.stderr) && !/select/.test(r.stdout)) return;
  assert.match(r.stdout, /^select 0 0\nselect 1 1\n/m);
});

const python = '/usr/bin/python3';
const noPython = skip || (existsSync(python) && /stapsdt/.test(spawnSync('readelf', ['-n', readlinkOr(python)], { encoding: 'latin1' }).stdout) ? false : 'no python3 with USDT probes');

function readlinkOr(p: string): string {
  const r = spawnSync('readlink', ['-f', p], { encoding: 'latin1' });
  return r.status === 0 ? r.stdout.trim() : p;
}

test("Debian's python3: function-return with the file, function and line; function-entry runs", { skip: noPython }, () => {
  const script = join(dir, 'g.py');
  writeFileSync(script, 'def gen(n):\n    for i in range(n):\n        yield i\ndef main():\n    return sum(gen(3))\nmain()\n');
  const d = 'printf("%s %s:%d\\n", copyinstr(arg1), copyinstr(arg0), arg2);';
  const r = runDtrace(['-q', '-n', `python$target:::function-return /copyinstr(arg0) == $1/ { ${d} }`, '-c', `${python} ${script}`, script]);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, new RegExp(`^main ${script}:5\n<module> ${script}:6\n\n$`, 'm'));
  assert.match(r.stdout, new RegExp(`^gen ${script}:3\n`, 'm'));
  // the command (Python 3.11 fires function-entry only where C code enters a frame)
  const e = runDtrace(['-q', '-n', `python$target:::function-entry { ${d} }`, '-c', `${python} ${script}`]);
  assert.equal(e.code, 0);
  assert.equal(e.stderr, '');
  for (const l of e.stdout.split('\n').filter((x) => x !== '')) assert.match(l, /^\S+ .+:\d+$/);
});

test('uregs[] at a USDT site: the program counter is in the function that holds the site', { skip }, () => {
  const r = runDtrace(['-q', '-n', 'myserv$target:::tick { @[ufunc(uregs[R_PC]), probefunc, uregs[R_SP] != 0] = count(); }', '-c', `${prog} 3`]);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^\n  usdt-target`(\w+) +\1 +1 +3\n$/);
});
