// The usdt provider on the live kernel: a program built the DTrace way (dtrace -h header,
// gcc -O2, dtrace -G object) fires probes with integer and string arguments, its is-enabled
// checks are true only while dtrace traces the probe (semaphores counted by the kernel, or set
// by dtrace itself), -l lists its probes, SIGTERM leaves no uprobe event; and Debian's python3.
// Clauses that compile to BPF run in the kernel, with arguments in registers, in memory off a
// register and constants, and give what they give in dtrace (DTRACE_TS_NO_BPF=1).

import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { bpfUnavailable } from '../../src/kernel/bpf/sys.js';
import { TRACEFS, Tracing, liveUnavailable, root, runDtrace } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'usdt-live-'));
const prog = join(dir, 'usdt-target');
const kinds = join(dir, 'usdt-kinds');
const programs = join(root, 'test', 'live', 'programs');
const loops: ChildProcess[] = [];
after(() => {
  for (const c of loops) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Builds a program (usdt-target.c with usdt-prov.d) as a DTrace user would: header, -O2 object, dtrace -G, link. */
function build(source = 'usdt-target', provider = 'usdt-prov'): string | false {
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'latin1', cwd: dir });
  const h = runDtrace(['-h', '-s', join(programs, `${provider}.d`), '-o', join(dir, `${provider}.h`)]);
  if (h.code !== 0) return `dtrace -h failed: ${h.stderr}`;
  const cc = run('cc', ['-O2', '-Wall', '-Werror', '-I', dir, '-c', '-o', join(dir, `${source}.o`), join(programs, `${source}.c`)]);
  if (cc.error || cc.status !== 0) return `no C compiler: ${cc.error?.message ?? cc.stderr}`;
  const g = runDtrace(['-G', '-s', join(programs, `${provider}.d`), '-o', join(dir, `${source}-probes.o`), join(dir, `${source}.o`)]);
  if (g.code !== 0) return `dtrace -G failed: ${g.stderr}`;
  const ld = run('cc', ['-o', join(dir, source), join(dir, `${source}.o`), join(dir, `${source}-probes.o`)]);
  return ld.status !== 0 ? `link failed: ${ld.stderr}` : false;
}

function unavailable(): string | false {
  const why = liveUnavailable();
  if (why !== null) return why;
  if (!existsSync(join(TRACEFS, 'uprobe_events'))) return 'the kernel has no uprobe events';
  return build() || build('usdt-kinds', 'usdt-kinds');
}
const skip = unavailable();
const noBpf = bpfUnavailable();
const kernelSkip = skip || (noBpf !== null ? `no BPF: ${noBpf}` : false);
/** dtrace with BPF denied: every clause runs in dtrace */
const DENY_BPF = { DTRACE_TS_NO_BPF: '1' };

function uprobesOf(pid: number): string[] {
  return readFileSync(join(TRACEFS, 'uprobe_events'), 'latin1')
    .split('\n')
    .filter((l) => l.includes(`:dtrace_tsu_${pid}_`));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** The is-enabled states a target logged (its first word a line), each run of one state once. */
function enabledRuns(log: string): string[] {
  const states = readFileSync(log, 'latin1')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(' ')[0]);
  return states.filter((s, i) => i === 0 || s !== states[i - 1]);
}

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
    // disabled..., enabled... while traced, disabled... after
    assert.deepEqual(enabledRuns(log), ['disabled', 'enabled', 'disabled']);
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

/** Each probe's argument specification in a program's .note.stapsdt, as readelf -n shows it. */
function argSpecs(path: string): Map<string, string[]> {
  const notes = spawnSync('readelf', ['-n', path], { encoding: 'latin1' }).stdout;
  return new Map([...notes.matchAll(/Name: (\w+)\n.*\n\s*Arguments: ?(.*)\n/g)].map((m) => [m[1], m[2].trim().split(/\s+/)]));
}

test('clauses in the kernel: arguments in registers, in memory off a register and constants, each with its size and sign; a predicate; as in dtrace', { skip: kernelSkip }, () => {
  // each kind is there: the -O0 function's locals in memory off the frame pointer, the -O2
  // function's in registers, constants where the compiler knows the values
  const specs = argSpecs(kinds);
  const kind = (name: string) => (specs.get(name) ?? []).map((s) => (/^-?[1248]@-?\d+\(%r\w+\)$/.test(s) ? 'memory' : /^-?[1248]@%\w+$/.test(s) ? 'register' : /^-?[1248]@\$-?\d+$/.test(s) ? 'constant' : s));
  assert.deepEqual(kind('mem'), ['memory', 'memory', 'memory'], specs.get('mem')?.join(' '));
  assert.deepEqual(kind('reg'), ['register', 'register'], specs.get('reg')?.join(' '));
  assert.deepEqual(kind('konst'), ['constant', 'constant', 'constant'], specs.get('konst')?.join(' '));
  assert.deepEqual(specs.get('mem')?.map((s) => s.split('@')[0]), ['-4', '-8', '-2']);
  const script =
    'kinds$target:::mem { @m[arg0, arg1, arg2] = count(); @s = sum(arg1); } ' +
    'kinds$target:::reg /arg0 < -1/ { @r[arg0] = sum(arg1); } ' +
    'kinds$target:::konst { @k[arg0, arg1, arg2] = count(); } ' +
    'END { printa("mem %d %d %d %@d\\n", @m); printa("sum %@d\\n", @s); printa("reg %d %@d\\n", @r); printa("konst %d %d %d %@d\\n", @k); }';
  const want =
    'mem 0 0 0 1\nmem 1 -3000000000 -1 1\nmem 2 -6000000000 -2 1\nmem 3 -9000000000 -3 1\nsum -18000000000\n' +
    'reg -2 5000000002\nreg -3 5000000003\nkonst -7 -5000000000 200 4\n\n';
  // DTRACE_TS_DEBUG says so if the kernel refuses a program (its clauses then run in dtrace)
  const r = runDtrace(['-S', '-q', '-n', script, '-c', `${kinds} 4`], { env: { DTRACE_TS_DEBUG: '1' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, want);
  assert.doesNotMatch(r.stderr, /runs in dtrace/);
  for (const probe of ['in_memory:mem', 'in_registers:reg', 'main:konst']) {
    assert.match(r.stderr, new RegExp(`^Disassembly of the BPF program on kinds\\d+:usdt-kinds:${probe} `, 'm'));
  }
  // the memory arguments are read as the probe fires
  assert.match(r.stderr, /call bpf_probe_read_user\n/);
  assert.deepEqual(uprobesOf(r.pid!), []);
  const d = runDtrace(['-q', '-n', script, '-c', `${kinds} 4`], { env: DENY_BPF });
  assert.equal(d.stderr, '');
  assert.equal(d.stdout, want);
});

test('clauses in the kernel: a string argument as a key (copyinstr()), sums, constants, a predicate, no arguments; as in dtrace', { skip: kernelSkip }, () => {
  const script =
    'myserv$target:::query-start { @q[copyinstr(arg0)] = sum(arg1); } ' +
    'myserv$target:::query-done /arg2 == 200/ { @d[arg0, arg1, arg2] = count(); } ' +
    'myserv$target:::tick { @t = count(); }';
  const r = runDtrace(['-S', '-q', '-n', script, '-c', `${prog} 3`], { env: { DTRACE_TS_DEBUG: '1' } });
  const want =
    '\n  select 0' + ' '.repeat(58) + '0\n  select 1' + ' '.repeat(58) + '1\n  select 2' + ' '.repeat(58) + '2\n' +
    '                0      -5000000000              200                1\n' +
    '                2      -5000000000              200                1\n' +
    '                4      -5000000000              200                1\n                3\n';
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, want);
  assert.doesNotMatch(r.stderr, /runs in dtrace/);
  assert.match(r.stderr, /^Disassembly of the BPF program on myserv\d+:usdt-target:work:query-start /m);
  assert.match(r.stderr, /call bpf_probe_read_user_str\n/);
  const d = runDtrace(['-q', '-n', script, '-c', `${prog} 3`], { env: DENY_BPF });
  assert.equal(d.stdout, want);
});

const firingSkip = kernelSkip || (!existsSync('/sys/kernel/btf/vmlinux') ? 'no kernel BTF' : false);

test('a clause that prints reads kernel memory and who fired the probe as it fired (a capture program writes the record from the registers and the memory they point to)', { skip: firingSkip }, () => {
  const r = runDtrace([
    '-q',
    '-n', 'kinds$target:::mem { printf("%s %d %d %d %d %s %d\\n", stringof(curthread->comm), curthread->tgid == pid, arg0, arg1, arg2, execname, uid); }',
    '-n', 'kinds$target:::konst /arg0 == -7/ { printf("k %d %d %d %d\\n", arg0, arg1, arg2, curthread->pid == tid); }',
    '-c', `${kinds} 2`,
  ]);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'usdt-kinds 1 0 0 0 usdt-kinds 0\nk -7 -5000000000 200 1\nusdt-kinds 1 1 -3000000000 -1 usdt-kinds 0\nk -7 -5000000000 200 1\n\n');
  assert.deepEqual(uprobesOf(r.pid!), []);
});

for (const [how, env] of [
  ['the kernel counts the semaphore', {}],
  ['dtrace sets the semaphore', { DTRACE_TS_NO_REF_CTR: '1' }],
] as const) {
  for (const [what, clause, output] of [
    ['a clause in the kernel', '@ = count();', /^\n+ +[1-9]\d*\n$/],
    // its records written from the registers by a capture program (on a uprobe_multi link where the kernel has them)
    ['a clause that prints integers', 'printf("%d\\n", arg1);', /^\d+\n\d+\n/],
  ] as const) {
    test(`is-enabled with ${what}, ${how}: true while traced, false again after`, { skip: kernelSkip }, async () => {
      const log = join(dir, `kloop-${loops.length}.log`);
      const loop = spawn(prog, ['100000', '20', log], { stdio: 'ignore' });
      loops.push(loop);
      await sleep(150);
      const d = new Tracing(['-q', '-n', `myserv$target:::query-start { ${clause} }`, '-p', String(loop.pid)], { ...env, DTRACE_TS_DEBUG: '1' });
      await d.ready();
      await sleep(400);
      const r = await d.stop('SIGINT');
      assert.equal(r.code, 0);
      assert.doesNotMatch(r.stderr, /runs in dtrace/);
      assert.match(r.stdout, output);
      assert.deepEqual(uprobesOf(r.pid), []);
      await sleep(200);
      loop.kill('SIGKILL');
      assert.deepEqual(enabledRuns(log), ['disabled', 'enabled', 'disabled']);
    });
  }
}

test("Debian's python3: function-entry and function-return aggregated in the kernel, keyed by copyinstr(), as in dtrace", { skip: noPython || kernelSkip }, () => {
  const script = join(dir, 'k.py');
  writeFileSync(script, 'def f(x):\n    return x + 1\ndef main():\n    s = 0\n    for i in range(50):\n        s += f(i)\n    return s\nmain()\n');
  // once untraced: what Python compiles and caches on its first run is not in the runs compared
  spawnSync(python, [script]);
  const entry = 'python$target:::function-entry { @[copyinstr(arg1)] = count(); }';
  const ret = 'python$target:::function-return /arg2 == 2/ { @r[copyinstr(arg1), arg2] = count(); }';
  const r = runDtrace(['-S', '-q', '-n', entry, '-n', ret, '-c', `${python} ${script}`], { env: { DTRACE_TS_DEBUG: '1' } });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /runs in dtrace/);
  assert.match(r.stderr, /^Disassembly of the BPF program on python\d+:\S+:\S*:function-entry /m);
  assert.match(r.stderr, /^Disassembly of the BPF program on python\d+:\S+:\S*:function-return /m);
  // f returns 50 times from line 2; Python 3.11 fires function-entry where C code enters a frame
  assert.match(r.stdout, /^ {2}f +2 +50$/m);
  assert.match(r.stdout, /^ {2}\S+ +[1-9]\d*$/m);
  const d = runDtrace(['-q', '-n', entry, '-n', ret, '-c', `${python} ${script}`], { env: DENY_BPF });
  assert.equal(d.stdout, r.stdout);
});
