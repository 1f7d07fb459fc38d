// USDT argument specifications as uprobe fetch arguments (x86-64 and arm64), and the
// /proc/PID/mem semaphore fallback's bounds.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parseUsdtArg, parseUsdtArgs } from '../../src/kernel/usdt.js';

const sym = (n: string) => (n === 'counter' ? 0x4010 : null);

test('x86-64 argument forms (what gcc writes, what Debian\'s python3 has)', () => {
  const cases: Array<[string, unknown]> = [
    ['8@%rbx', { kind: 'fetch', fetch: '%bx', type: 'u64', size: 8, signed: false, reg: 'bx' }],
    ['-4@%eax', { kind: 'fetch', fetch: '%ax', type: 's32', size: 4, signed: true, reg: 'ax' }],
    ['-4@%ebp', { kind: 'fetch', fetch: '%bp', type: 's32', size: 4, signed: true, reg: 'bp' }],
    ['-8@%r12', { kind: 'fetch', fetch: '%r12', type: 's64', size: 8, signed: true, reg: 'r12' }],
    ['2@%r9w', { kind: 'fetch', fetch: '%r9', type: 'u16', size: 2, signed: false, reg: 'r9' }],
    ['1@%sil', { kind: 'fetch', fetch: '%si', type: 'u8', size: 1, signed: false, reg: 'si' }],
    ['1@%ah', { kind: 'fetch', fetch: '%ax', type: 'b8@8/64', size: 1, signed: false }],
    ['-4@112(%rsp)', { kind: 'fetch', fetch: '+112(%sp)', type: 's32', size: 4, signed: true, reg: 'sp', disp: 112 }],
    ['8@-8(%rbp)', { kind: 'fetch', fetch: '-8(%bp)', type: 'u64', size: 8, signed: false, reg: 'bp', disp: -8 }],
    ['8@(%rdi)', { kind: 'fetch', fetch: '+0(%di)', type: 'u64', size: 8, signed: false, reg: 'di', disp: 0 }],
    ['-4@$5', { kind: 'const', value: 5n }],
    ['-8@$-5000000000', { kind: 'const', value: -5000000000n }],
    // gcc prints an unsigned char 200 as $-56: the size and sign give it back
    ['1@$-56', { kind: 'const', value: 200n }],
    ['%rdi', { kind: 'fetch', fetch: '%di', type: 'u64', size: 8, signed: false, reg: 'di' }],
    // an address of the object: @+ a file offset, from the probe's (here code is at bias 0x1000)
    ['8@counter(%rip)', { kind: 'fetch', fetch: '@+0x3010', type: 'u64', size: 8, signed: false }],
    ['4@counter+8(%rip)', { kind: 'fetch', fetch: '@+0x3018', type: 'u32', size: 4, signed: false }],
    ['8@nosuch(%rip)', { kind: 'none', spec: '8@nosuch(%rip)' }],
    ['8@(%rax,%rbx,8)', { kind: 'none', spec: '8@(%rax,%rbx,8)' }],
  ];
  for (const [spec, want] of cases) assert.deepEqual(parseUsdtArg(spec, sym, 0x1000, 'x64'), want, spec);
});

test('arm64 argument forms', () => {
  const cases: Array<[string, unknown]> = [
    ['8@x0', { kind: 'fetch', fetch: '%x0', type: 'u64', size: 8, signed: false, reg: 'x0' }],
    ['-4@w19', { kind: 'fetch', fetch: '%x19', type: 's32', size: 4, signed: true, reg: 'x19' }],
    ['-4@[sp, 12]', { kind: 'fetch', fetch: '+12(%sp)', type: 's32', size: 4, signed: true, reg: 'sp', disp: 12 }],
    ['8@[x29, -8]', { kind: 'fetch', fetch: '-8(%x29)', type: 'u64', size: 8, signed: false, reg: 'x29', disp: -8 }],
    ['8@[x1]', { kind: 'fetch', fetch: '+0(%x1)', type: 'u64', size: 8, signed: false, reg: 'x1', disp: 0 }],
    ['-4@#7', { kind: 'const', value: 7n }],
    ['4@5', { kind: 'const', value: 5n }],
  ];
  for (const [spec, want] of cases) assert.deepEqual(parseUsdtArg(spec, sym, 0, 'arm64'), want, spec);
});

test('a specification is split at blanks; an empty one has no arguments', () => {
  assert.equal(parseUsdtArgs('', undefined, 0, 'x64').length, 0);
  assert.deepEqual(
    parseUsdtArgs('8@%rbp 8@%r12 -4@%eax', undefined, 0, 'x64').map((a) => (a.kind === 'fetch' ? `${a.fetch}:${a.type}` : a.kind)),
    ['%bp:u64', '%r12:u64', '%ax:s32'],
  );
  // arm64's memory operands have a blank inside their brackets
  assert.deepEqual(
    parseUsdtArgs('-4@[sp, 12] 8@x1  8@[x29]', undefined, 0, 'arm64').map((a) => (a.kind === 'fetch' ? a.fetch : a.kind)),
    ['+12(%sp)', '%x1', '+0(%x29)'],
  );
});
