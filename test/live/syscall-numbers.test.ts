// The system call numbers dtrace-ts knows (kernel/syscall-numbers.ts) against this kernel's
// own: every syscalls:sys_enter_<name> record carries the call's number, so two tracefs
// instances filter each event on "number == ours" and "number != ours" while a varied
// workload runs. The first must see many calls, the second none.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { TRACEFS, liveUnavailable } from './harness.js';
import { compatFlagFromBtf, compatSyscallFlag, syscallNumbers } from '../../src/kernel/syscall-numbers.js';

const skip = liveUnavailable() ?? (syscallNumbers().size === 0 ? `no table for ${process.arch}` : false);

test('the system call numbers are the ones this kernel records', { skip }, () => {
  const numbers = syscallNumbers();
  // not dtrace-ts-*: those are dtrace processes' own, which dtrace reaps
  const names = ['agree', 'differ'].map((w) => join(TRACEFS, 'instances', `test-syscall-numbers-${process.pid}-${w}`));
  const [agree, differ] = names;
  const events = readdirSync(join(TRACEFS, 'events', 'syscalls')).filter((e) => e.startsWith('sys_enter_'));
  const known = events.filter((e) => numbers.has(e.slice('sys_enter_'.length)));
  try {
    for (const dir of names) {
      mkdirSync(dir);
      writeFileSync(join(dir, 'buffer_size_kb'), '4096');
    }
    for (const e of known) {
      const nr = numbers.get(e.slice('sys_enter_'.length))!;
      for (const [dir, op] of [
        [agree, '=='],
        [differ, '!='],
      ]) {
        writeFileSync(join(dir, 'events', 'syscalls', e, 'filter'), `__syscall_nr ${op} ${nr}`);
        writeFileSync(join(dir, 'events', 'syscalls', e, 'enable'), '1');
      }
    }
    // a varied workload: a shell, file and directory calls, sockets, processes
    spawnSync('/bin/sh', ['-c', 'ls -la / >/dev/null; cat /proc/self/status >/dev/null; uname -a >/dev/null; id >/dev/null; mkdir -p /tmp/.sn$$ && rmdir /tmp/.sn$$; date >/dev/null; sleep 0.1'], { stdio: 'ignore' });
    spawnSync(process.execPath, ['-e', "require('fs').readdirSync('/'); require('net').createServer().listen(0, '127.0.0.1', function () { this.close(); })"], { stdio: 'ignore' });
    const seen = names.map((dir) => {
      writeFileSync(join(dir, 'tracing_on'), '0');
      return new Set([...readFileSync(join(dir, 'trace'), 'latin1').matchAll(/ sys_(\w+)\(/g)].map((m) => m[1]));
    });
    assert.deepEqual([...seen[1]], [], 'calls recorded with another number than ours');
    assert.ok(seen[0].size >= 30, `calls seen with our numbers: ${[...seen[0]].join(' ')}`);
  } finally {
    for (const dir of names) {
      if (!existsSync(dir)) continue;
      for (const e of known) {
        try {
          writeFileSync(join(dir, 'events', 'syscalls', e, 'enable'), '0');
        } catch {
          // not enabled
        }
      }
      rmdirSync(dir);
    }
  }
});

test('a name has one number, and numbers are in the ABI\'s range', () => {
  for (const arch of ['x64', 'arm64']) {
    const t = syscallNumbers(arch);
    assert.ok(t.size > 300, arch);
    const byNumber = new Map<number, string>();
    for (const [name, nr] of t) {
      assert.ok(Number.isInteger(nr) && nr >= 0 && nr < 1024, `${arch} ${name} ${nr}`);
      assert.equal(byNumber.get(nr), undefined, `${arch}: ${name} and ${byNumber.get(nr)} are both ${nr}`);
      byNumber.set(nr, name);
    }
  }
  // the tracepoints' names, not the C library's
  assert.equal(syscallNumbers('x64').get('newstat'), 4);
  assert.equal(syscallNumbers('x64').get('getppid'), 110);
  assert.equal(syscallNumbers('arm64').get('newfstat'), 80);
  assert.equal(syscallNumbers('riscv'), syscallNumbers('riscv'));
  assert.equal(syscallNumbers('riscv').size, 0);
});

test('the 32-bit call flag is where this kernel\'s BTF puts it', { skip: compatFlagFromBtf() === null && 'no BTF here' }, () => {
  const flag = compatSyscallFlag();
  assert.ok(flag !== null);
  assert.deepEqual({ offset: flag.offset, size: flag.size }, compatFlagFromBtf());
  // by version: flags, syscall_work (5.11+), status
  assert.deepEqual(compatSyscallFlag('x64', '5.10.0-28-amd64'), { offset: 8, size: 4, mask: 2 });
  assert.deepEqual(compatSyscallFlag('x64', '6.1.0-50-cloud-amd64'), { offset: 16, size: 4, mask: 2 });
  assert.equal(compatSyscallFlag('x64', '4.4.0'), null);
  assert.deepEqual(compatSyscallFlag('arm64', '6.1.0'), { offset: 0, size: 8, mask: 1 << 22 });
});
