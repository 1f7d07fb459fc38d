// uprobe_events commands: the lines a dtrace writes to create, remove and reap its uprobes. The
// file here is a plain file standing in for tracefs's (test/live/pid.test.ts uses the real one).

import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ownerTag } from '../../src/kernel/identity.js';
import {
  UPROBE_RETURN_FETCH_ARGS,
  UprobeSet,
  reapStaleUprobes,
  uprobeArgumentAt,
  uprobeEntryFetchArgs,
  uprobeLine,
} from '../../src/kernel/uprobes.js';

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function fakeRoot(contents = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'uprobes-'));
  made.push(dir);
  writeFileSync(join(dir, 'uprobe_events'), contents);
  return dir;
}

test('entry probes fetch ten arguments: six registers, then the stack above the return address (x86-64)', () => {
  assert.deepEqual(uprobeEntryFetchArgs([], 'x64'), [
    'arg0=%di:u64', 'arg1=%si:u64', 'arg2=%dx:u64', 'arg3=%cx:u64', 'arg4=%r8:u64', 'arg5=%r9:u64',
    'arg6=+8(%sp):u64', 'arg7=+16(%sp):u64', 'arg8=+24(%sp):u64', 'arg9=+32(%sp):u64',
  ]);
  // a string copyinstr() reads is copied as the probe fires; not from stack arguments
  assert.deepEqual(uprobeEntryFetchArgs([0, 7], 'x64').slice(10), ['str0=+0(%di):string']);
});

test('arm64 passes eight arguments in registers', () => {
  assert.equal(uprobeArgumentAt(7, 'arm64'), '%x7');
  assert.equal(uprobeArgumentAt(8, 'arm64'), '+0(%sp)');
  assert.equal(uprobeArgumentAt(0, 'riscv64'), null);
});

test('a probe is one line: p or r, the group/event, the file and its offset in hex, the fetch arguments', () => {
  const spec = { path: '/usr/lib/libc.so.6', offset: 0x9a0f0, isReturn: false, label: 'malloc', fetch: ['arg0=%di:u64'] };
  assert.equal(uprobeLine('g', 'malloc_entry', spec), 'p:g/malloc_entry /usr/lib/libc.so.6:0x9a0f0 arg0=%di:u64\n');
  assert.equal(uprobeLine('g', 'malloc_return', { ...spec, isReturn: true, fetch: UPROBE_RETURN_FETCH_ARGS }), 'r:g/malloc_return /usr/lib/libc.so.6:0x9a0f0 retval=$retval:u64\n');
});

test('a set creates its probes in its own group, names them apart, and removes them', () => {
  const root = fakeRoot();
  const set = new UprobeSet(root);
  assert.equal(set.group, `dtrace_tsu_${ownerTag('_')}`);
  const r = set.add([
    { path: '/bin/x', offset: 16, isReturn: false, label: 'go', fetch: [] },
    { path: '/bin/y', offset: 32, isReturn: false, label: 'go', fetch: [] },
    { path: '/bin/with blank', offset: 32, isReturn: false, label: 'f', fetch: [] },
  ]);
  assert.deepEqual(r.map((x) => x.event), ['go_entry', 'go_2_entry', null]);
  assert.match(r[2].error!, /blank/);
  set.remove();
  const text = readFileSync(join(root, 'uprobe_events'), 'latin1');
  assert.match(text, new RegExp(`^-:${set.group}/go_entry$`, 'm'));
  assert.match(text, new RegExp(`^-:${set.group}/go_2_entry$`, 'm'));
});

test('reaping removes the groups of dtraces that are gone, and only those', () => {
  const dead = 999999;
  const root = fakeRoot(
    `p:dtrace_tsu_${dead}_4026531836_1/go_entry /bin/x:0x10\n` +
      `p:dtrace_tsu_${ownerTag('_')}/go_entry /bin/x:0x10\n` +
      `p:someone_else/go_entry /bin/x:0x10\n` +
      // a kprobe group's name is not this file's
      `p:dtrace_ts_${dead}/go_entry /bin/x:0x10\n`,
  );
  assert.deepEqual(reapStaleUprobes(root), [`dtrace_tsu_${dead}_4026531836_1/go_entry`]);
});
