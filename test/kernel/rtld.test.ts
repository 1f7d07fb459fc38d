// The dynamic loader's watch point: _dl_debug_state's file offset in glibc's ld.so and where
// r_debug.r_state lies from it, read from the system's own loader.

import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ElfFile } from '../../src/kernel/elf.js';
import { isLoaderPath, loaderProbe, stopperProgram } from '../../src/kernel/rtld.js';

const loader = /\s(\/\S*\/ld-linux[^/\s]*\.so\.\d+)$/m.exec(readFileSync('/proc/self/maps', 'latin1'))?.[1];

test('loader paths are told from other objects', () => {
  assert.ok(isLoaderPath('/lib64/ld-linux-x86-64.so.2'));
  assert.ok(isLoaderPath('/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1'));
  assert.ok(isLoaderPath('/lib/ld-2.31.so'));
  assert.ok(!isLoaderPath('/usr/lib/x86_64-linux-gnu/libc.so.6'));
  assert.ok(!isLoaderPath('/usr/bin/ld'));
  assert.ok(!isLoaderPath('/usr/lib/libld-foo.so'));
});

test("glibc's loader: _dl_debug_state's file offset, and r_state 24 bytes into _r_debug", { skip: loader === undefined || !existsSync(loader) ? 'no glibc loader' : false }, () => {
  const lp = loaderProbe(loader!)!;
  assert.ok(lp !== null);
  const f = ElfFile.open(loader!);
  const fn = f.symbolAddress('_dl_debug_state');
  const rd = f.symbolAddress('_r_debug');
  assert.equal(lp.offset, f.fileOffset(fn));
  assert.equal(lp.stateFromPc, rd + 24 - fn);
  assert.equal(lp.stateFetch, `state=@+${rd + 24 - fn + lp.offset}:s32`);
  f.close();
  // not a loader: no watch point
  assert.equal(loaderProbe('/proc/self/exe'), null);
});

test('the stopper program: pid test, r_state read, SIGSTOP; none where registers are unknown', () => {
  const p = stopperProgram(1234, 0x1000, 'x64')!;
  const listing = p.listing();
  assert.match(listing, /call 109|send_signal/);
  assert.equal(stopperProgram(1234, 0x1000, 'riscv64'), null);
});
