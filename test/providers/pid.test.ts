// The pid provider's naming rules: probe offsets, module names, and which provider names make one.

import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { PidProviders, moduleMatches, parseOffset } from '../../src/providers/pid.js';
import { ProbeDescError } from '../../src/providers/provider.js';

test('a probe name is an offset in hex, as strtoull(..., 16) reads it', () => {
  const cases: Array<[string, number | null]> = [['4', 4], ['10', 16], ['0x10', 16], ['ff', 255], ['beginning', null], ['', null], ['-1', null]];
  for (const [name, want] of cases) assert.equal(parseOffset(name), want, name);
});

test('modules: base names, globs, a.out for the executable, a library without its version', () => {
  const exe = { module: 'prog', isExec: true };
  const libc = { module: 'libc.so.6', isExec: false };
  const cases: Array<[string, { module: string; isExec: boolean }, boolean]> = [
    ['', libc, true],
    ['a.out', exe, true],
    ['a.out', libc, false],
    ['prog', exe, true],
    ['libc.so.6', libc, true],
    ['libc', libc, true],
    ['libc.so.*', libc, true],
    ['lib', libc, false],
    ['a.ou*', exe, false],
  ];
  for (const [pattern, obj, want] of cases) assert.equal(moduleMatches(pattern, obj), want, `${pattern} ${obj.module}`);
});

const noUprobes = existsSync('/sys/kernel/tracing/uprobe_events') ? false : 'no uprobe events here (tracefs unmounted, or not root)';

test('pid<N> is made for a provider name ending in a process id that pid<N> matches', { skip: noUprobes }, () => {
  const fam = new PidProviders();
  assert.deepEqual(fam.instantiate('syscall'), []);
  assert.deepEqual(fam.instantiate(''), []);
  assert.deepEqual(fam.instantiate('sdt123'), []);
  assert.deepEqual(fam.instantiate('123'), []);
  const mine = fam.instantiate(`pid${process.pid}`);
  assert.equal(mine.length, 1);
  assert.equal(mine[0].name, `pid${process.pid}`);
  // the same provider each time, also for a glob that ends in the pid
  assert.equal(fam.instantiate(`p*d${process.pid}`)[0], mine[0]);
  assert.throws(() => fam.instantiate('pid0'), (e: unknown) => e instanceof ProbeDescError && e.tag === 'D_PROC_BADPID' && e.message === 'pid0 does not contain a valid pid');
  assert.throws(() => fam.instantiate('pid2147483600'), (e: unknown) => e instanceof ProbeDescError && e.tag === 'D_PROC_GRAB' && e.message === 'failed to grab process 2147483600');
});
