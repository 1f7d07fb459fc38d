// kprobe_events commands: what a dtrace writes to create, remove and reap its probes. The file
// here is a plain file standing in for tracefs's (the lab runs them against real kernels).

import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ownerTag } from '../../src/kernel/identity.js';
import { KprobeSet, RETURN_FETCH_ARGS, entryFetchArgs, reapStaleKprobes } from '../../src/kernel/kprobes.js';

/** Every fake tracefs made here, removed when the tests are done. */
const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function fakeRoot(contents = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'kprobes-'));
  made.push(dir);
  writeFileSync(join(dir, 'kprobe_events'), contents);
  return dir;
}

test('entry probes fetch six registers; the pt_regs wrapper of a system call reads through its argument', { skip: arch() !== 'x64' }, () => {
  assert.deepEqual(entryFetchArgs(false), ['arg0=%di:u64', 'arg1=%si:u64', 'arg2=%dx:u64', 'arg3=%cx:u64', 'arg4=%r8:u64', 'arg5=%r9:u64']);
  assert.deepEqual(entryFetchArgs(true).slice(0, 4), ['arg0=+112(%di):u64', 'arg1=+104(%di):u64', 'arg2=+96(%di):u64', 'arg3=+56(%di):u64']);
  const root = fakeRoot();
  writeFileSync(join(root, 'README'), '\t     type: s8/16/32/64, u8/16/32/64, x8/16/32/64, string, symbol, ustring,\n');
  assert.equal(entryFetchArgs(true, [0], root)[6], 'str0=+0(+112(%di)):ustring');
  assert.deepEqual(RETURN_FETCH_ARGS, ['retval=$retval:u64']);
});

test('probes go in the process\'s own group, under names the kernel accepts, and are removed by name', () => {
  const root = fakeRoot();
  const set = new KprobeSet(root);
  const names = set.add([
    { symbol: 'vfs_read', isReturn: false, fetch: ['arg0=%di:u64'] },
    { symbol: 'vfs_read', isReturn: true, fetch: RETURN_FETCH_ARGS },
    { symbol: 'vfs.read', isReturn: false, fetch: [] },
  ]);
  assert.deepEqual(names, ['vfs_read_entry', 'vfs_read_return', 'vfs_read_2_entry']);
  // the group names this process: its pid, PID namespace and start time
  const g = `dtrace_ts_${ownerTag('_')}`;
  assert.match(g, new RegExp(`^dtrace_ts_${process.pid}_\\d+_\\d+$`));
  assert.equal(
    readFileSync(join(root, 'kprobe_events'), 'latin1'),
    `p:${g}/vfs_read_entry vfs_read arg0=%di:u64\nr:${g}/vfs_read_return vfs_read retval=$retval:u64\np:${g}/vfs_read_2_entry vfs.read \n`,
  );
  writeFileSync(join(root, 'kprobe_events'), '');
  set.remove();
  assert.equal(readFileSync(join(root, 'kprobe_events'), 'latin1'), `-:${g}/vfs_read_entry\n-:${g}/vfs_read_return\n-:${g}/vfs_read_2_entry\n`);
});

test('a dead dtrace\'s probes are reaped; a live one\'s and other tools\' are not', () => {
  const dead = 2 ** 22 + 1; // above pid_max's default: no such process
  const root = fakeRoot(
    `p:dtrace_ts_${dead}/vfs_read_entry vfs_read\n` +
      `r16:dtrace_ts_${dead}/vfs_read_return vfs_read\n` +
      `p:dtrace_ts_${process.pid}/x_entry x\n` +
      `p:kprobes/mine do_sys_open\n`,
  );
  assert.deepEqual(reapStaleKprobes(root), [`dtrace_ts_${dead}/vfs_read_entry`, `dtrace_ts_${dead}/vfs_read_return`]);
});
