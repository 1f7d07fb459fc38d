// copyinstr() under a flood: a path built in one reused buffer and passed to openat() N times
// must come out exactly as it was when each call was made, or be counted as lost and reported
// ("dtrace: N drops on CPU C"); never a wrong or repeated string.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { liveUnavailable, root, runDtrace } from './harness.js';
import { bpfUnavailable } from '../../src/kernel/bpf/sys.js';

const PREFIX = '/nonexistent/dtrace-ts-flood/';
const dir = mkdtempSync(join(tmpdir(), 'dtrace-ts-flood-'));
const flood = join(dir, 'openat-flood');
/** why these tests cannot run here (false: they can) */
const why = liveUnavailable() ?? buildFlood();

function buildFlood(): string | false {
  const cc = spawnSync('cc', ['-O2', '-o', flood, join(root, 'test', 'live', 'programs', 'openat-flood.c')], { encoding: 'latin1' });
  return cc.error || cc.status !== 0 ? `no C compiler to build the flood: ${cc.error?.message ?? cc.stderr}` : false;
}

after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs the flood under dtrace; returns the paths seen (with their counts) and the drops reported.
 * `aggregate`: the paths counted in an aggregation (a clause that runs in the kernel where BPF
 * works: copyinstr() as the probe fires, into the map's key); else printed, each path a record
 * the capture program copies the string into.
 */
function run(n: number, aggregate: boolean, extra: string[] = []): { seen: Map<string, number>; drops: number; stderr: string } {
  const clause = aggregate ? '@[copyinstr(arg1)] = count();' : 'printf("%s 1\\n", copyinstr(arg1));';
  const r = runDtrace(
    [
      // room for every path as a key: 4m of aggregation buffer holds 14,716 of them (strsize 256)
      '-q', '-x', 'aggsize=64m', ...extra,
      '-n', `syscall::openat:entry /pid == $target/ { ${clause} }`,
      ...(aggregate ? ['-n', 'END { printa("%s %@d\\n", @); }'] : []),
      '-c', `${flood} ${n}`,
    ],
    { timeout: 120_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const seen = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+) (\d+)$/.exec(line);
    if (m && m[1].startsWith(PREFIX)) seen.set(m[1], (seen.get(m[1]) ?? 0) + Number(m[2]));
  }
  let drops = 0;
  for (const m of r.stderr.matchAll(/^dtrace: (\d+) (?:aggregation )?drops? on CPU \d+$/gm)) drops += Number(m[1]);
  return { seen, drops, stderr: r.stderr };
}

/** Every path seen is one the program made, once; with the drops reported, every call is accounted for. */
function assertExact(n: number, seen: Map<string, number>, drops: number): void {
  for (const [path, count] of seen) {
    const i = Number(path.slice(PREFIX.length));
    assert.ok(/^\d{7}$/.test(path.slice(PREFIX.length)) && i < n, `a path the program never made: ${path}`);
    assert.equal(count, 1, `${path} seen ${count} times`);
  }
  assert.ok(seen.size + drops >= n, `${n} calls: ${seen.size} paths seen and ${drops} drops reported`);
}

for (const n of [1000, 20_000, 200_000]) {
  for (const aggregate of [true, false]) {
    test(`${n} openat() calls, ${aggregate ? 'counted by path' : 'each path printed'}: every path exact, or its loss reported`, { skip: why }, () => {
      const { seen, drops } = run(n, aggregate);
      assertExact(n, seen, drops);
    });
  }
}

test('copyinstr() keys counted in the kernel: no loss whatever the buffer size', { skip: why || bpfUnavailable() || false }, () => {
  const n = 20_000;
  const { seen, drops } = run(n, true, ['-b', '16k']);
  assert.equal(drops, 0);
  assert.equal(seen.size, n);
  assertExact(n, seen, drops);
});

test('a copy ring too small for the flood: the loss is reported, no path is wrong', { skip: why }, () => {
  const n = 20_000;
  const { seen, drops, stderr } = run(n, false, ['-b', '16k']);
  assert.ok(drops > 0, `no drops reported:\n${stderr}`);
  assertExact(n, seen, drops);
});

test('copyinstr() of an address no probe copied reads it late, and says so', { skip: liveUnavailable() ?? false }, () => {
  // the shell opens the file itself and stays, so its memory can still be read afterwards
  const script = join(dir, 'opener.sh');
  writeFileSync(script, 'exec 3</etc/hostname\nsleep 0.5\n');
  const r = runDtrace([
    '-q',
    // (a clause-local string keeps the clause in dtrace, where such a copy is read late)
    '-n', 'syscall::openat:entry /pid == $target && copyinstr(arg1) == "/etc/hostname"/ { this->s = "x"; printf("%s\\n", copyinstr(arg1 + 5)); }',
    '-c', `/bin/sh ${script}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  // what it printed is whatever the shell's memory held by then (it often has changed)
  assert.match(r.stderr, /^dtrace: copyin\(\)\/copyinstr\(\) of an address no probe copied as it fired read the memory when the event was handled: it may have changed since$/m);
});

test('a pointer saved at entry is copied again at return, when the call has touched it', { skip: liveUnavailable() ?? false }, () => {
  // the first open() of a new process passes a path in a page it has not touched yet: at
  // entry it cannot be copied (BPF cannot fault pages in), at return it can
  const r = runDtrace([
    '-q',
    '-n', 'syscall::openat:entry /pid == $target/ { self->path = arg1; }',
    '-n', 'syscall::openat:return /self->path/ { printf("%s\\n", copyinstr(self->path)); self->path = 0; }',
    '-n', 'syscall::read:entry /pid == $target/ { self->buf = arg1; }',
    '-n', 'syscall::read:return /self->buf && arg0 > 0 && arg0 < 64/ { printf("read: %s", stringof(copyin(self->buf, arg0))); self->buf = 0; }',
    '-c', '/bin/cat /etc/hostname',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\/etc\/ld\.so\.cache$/m);
  assert.match(r.stdout, /^\/etc\/hostname$/m);
  assert.ok(r.stdout.includes(`read: ${readFileSync('/etc/hostname', 'latin1')}`), r.stdout);
  assert.doesNotMatch(r.stderr, /error on enabled probe/);
});

test('copyinstr() compared with a string in a predicate that runs in the kernel: what dtrace gives', { skip: why || bpfUnavailable() || false }, () => {
  const n = 2000;
  const program = `syscall::openat:entry /pid == $target && copyinstr(arg1) == "${PREFIX}0000007"/ { @["equal"] = count(); } syscall::openat:entry /pid == $target && copyinstr(arg1) != "${PREFIX}000000"/ { @["other"] = count(); } syscall::openat:entry /pid == $target && copyinstr(arg1) == "${PREFIX}000000"/ { @["prefix"] = count(); }`;
  const shown = runDtrace(['-S', '-q', '-n', program, '-c', `${flood} 1`]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(shown.stderr.split('\n').filter((l) => l.startsWith('runs in the kernel, as BPF')).length, 3, shown.stderr);
  const kernel = runDtrace(['-q', '-n', program, '-c', `${flood} ${n}`]);
  assert.equal(kernel.code, 0, kernel.stderr);
  assert.equal(kernel.stderr, '');
  // the same predicate in a clause that prints runs in dtrace, on the string its capture program copied
  const printed = runDtrace(['-q', '-n', `syscall::openat:entry /pid == $target && copyinstr(arg1) != "${PREFIX}000000"/ { printf("other\\n"); }`, '-c', `${flood} ${n}`]);
  assert.equal(printed.code, 0, printed.stderr);
  const others = printed.stdout.split('\n').filter((l) => l === 'other').length;
  // the flood's opens and the loader's
  assert.ok(others > n, printed.stdout);
  const rows = kernel.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/).join(' ')).sort();
  assert.deepEqual(rows, ['equal 1', `other ${others}`]);
});
