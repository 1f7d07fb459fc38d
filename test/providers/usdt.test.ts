// Where a USDT site's arguments are for a uprobe program (usdtKernelArg): a register's low bytes,
// memory at a register plus a displacement, a constant; what it cannot read stays with the fetch.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parseUsdtArgs } from '../../src/kernel/usdt.js';
import { usdtKernelArg } from '../../src/providers/usdt.js';

test('x86-64: registers and memory by pt_regs offset, with size and sign; constants; absent arguments read 0', () => {
  const args = parseUsdtArgs('8@%rbp -4@%esi -4@-24(%rbp) -2@112(%rsp) -8@$-5000000000 1@$-56', undefined, 0, 'x64');
  const at = (n: number) => usdtKernelArg(args, n, 'x64');
  assert.deepEqual(at(0), { offset: 32, size: 8, signed: false });
  assert.deepEqual(at(1), { offset: 104, size: 4, signed: true });
  assert.deepEqual(at(2), { offset: 32, size: 4, signed: true, memoryAt: -24 });
  assert.deepEqual(at(3), { offset: 152, size: 2, signed: true, memoryAt: 112 });
  assert.deepEqual(at(4), { offset: 0, size: 8, signed: true, constant: -5000000000n });
  assert.deepEqual(at(5), { offset: 0, size: 8, signed: true, constant: 200n });
  assert.deepEqual(at(6), { offset: 0, size: 0, signed: false });
});

test('what only the uprobe event can fetch (an object\'s address, a high byte register) is no kernel argument; an indexed address reads 0', () => {
  const args = parseUsdtArgs('8@counter(%rip) 1@%ah 8@(%rax,%rbx,8)', (n) => (n === 'counter' ? 0x4010 : null), 0x1000, 'x64');
  assert.equal(usdtKernelArg(args, 0, 'x64'), null);
  assert.equal(usdtKernelArg(args, 1, 'x64'), null);
  assert.deepEqual(usdtKernelArg(args, 2, 'x64'), { offset: 0, size: 0, signed: false });
});

test('arm64: x registers and sp-relative memory', () => {
  const args = parseUsdtArgs('8@x0 -4@[sp, 12]', undefined, 0, 'arm64');
  assert.deepEqual(usdtKernelArg(args, 0, 'arm64'), { offset: 0, size: 8, signed: false });
  assert.deepEqual(usdtKernelArg(args, 1, 'arm64'), { offset: 31 * 8, size: 4, signed: true, memoryAt: 12 });
});
