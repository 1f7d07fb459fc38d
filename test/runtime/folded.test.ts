import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { intType, stringType } from '../../src/lang/types.js';
import { AggFn, type Aggregation, createAggregation, type KeyType, type OpaqueKeyType } from '../../src/runtime/aggregate.js';
import { flameStacks, foldAggregation, formatFolded, frameName, isFoldable, isKernelStack } from '../../src/runtime/folded.js';
import { DEFAULT_PRINT_OPTIONS, formatAggregations, formatPrinta } from '../../src/runtime/printa.js';

const STR = stringType(256);
const INT = intType('int', 4, true);

/** stack() keys as the runtime makes them: frames leaf first, one per line */
export const STACK: OpaqueKeyType = {
  opaque: true,
  stack: true,
  size: 8,
  compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  format: (v) => '\n' + String(v).split('\n').map((f) => '              ' + f + '\n').join(''),
};

function agg(fn: AggFn, keys: readonly KeyType[], id = 1, name = 'a'): Aggregation {
  return createAggregation({ name, id, fn, keys });
}

/** @[execname, stack()] = count() over a few kernel stacks, one of them empty */
export function sample(): Aggregation {
  const a = agg(AggFn.Count, [STR, STACK]);
  const add = (exec: string, stack: string, n: number) => {
    for (let i = 0; i < n; i++) a.add(a.slot2(exec, stack), 1, 1);
  };
  add('bash', 'vmlinux`b+0x10\nvmlinux`a+0x4', 3);
  add('bash', 'vmlinux`b+0x20\nvmlinux`a+0x4', 2);
  add('bash', 'vmlinux`c\nvmlinux`a+0x8', 1);
  add('cc', '', 4);
  return a;
}

test('frame names lose their offsets; separators and spaces are made safe', () => {
  const cases: Array<[string, string]> = [
    ['vmlinux`do_idle+0x1c', 'vmlinux`do_idle'],
    ['  vmlinux`do_idle', 'vmlinux`do_idle'],
    ['libc.so.6`memcpy+0xAF', 'libc.so.6`memcpy'],
    ['0xffffffff81000000', '0xffffffff81000000'],
    ['a.out`f+0x1c+x', 'a.out`f+0x1c+x'],
    ['a;b', 'a:b'],
    ['two  words', 'two words'],
  ];
  for (const [input, want] of cases) assert.equal(frameName(input), want, input);
});

test('kernel stacks are told from user stacks by their frames', () => {
  const cases: Array<[string[], boolean]> = [
    [['vmlinux`do_idle+0x1c'], true],
    [['ext4`ext4_file_write_iter+0x4', 'vmlinux`vfs_write+0x10'], true],
    [['0xffffffffc0a01234'], true],
    [['a.out`main+0x1c', 'libc.so.6`__libc_start_main+0x80'], false],
    [['0x401136'], false],
    [[], false],
  ];
  for (const [frames, want] of cases) assert.equal(isKernelStack(frames), want, frames.join(','));
});

test('only count() and sum() aggregations with a stack key have a folded form', () => {
  assert.equal(isFoldable(agg(AggFn.Count, [STACK])), true);
  assert.equal(isFoldable(agg(AggFn.Sum, [INT, STACK])), true);
  assert.equal(isFoldable(agg(AggFn.Count, [STR])), false);
  assert.equal(isFoldable(agg(AggFn.Quantize, [STACK])), false);
  assert.equal(isFoldable(agg(AggFn.Avg, [STACK])), false);
});

test('folded lines: keys first, root first, offsets merged, by value then text', () => {
  assert.equal(
    formatFolded(sample()),
    ['bash;vmlinux`a;vmlinux`c 1', 'cc 4', 'bash;vmlinux`a;vmlinux`b 5', ''].join('\n'),
  );
});

test('a row without frames has no folded line', () => {
  const a = agg(AggFn.Count, [STACK]);
  a.add(a.slot1(''), 1, 1);
  a.add(a.slot1('vmlinux`f+0x1'), 1, 1);
  assert.equal(formatFolded(a), 'vmlinux`f 1\n');
  assert.deepEqual(foldAggregation(a).map((s) => s.frames.length), [0, 1]);
});

test('a user stack stands below a kernel stack whatever the key order', () => {
  const a = agg(AggFn.Sum, [STACK, STACK]);
  a.add(a.slot2('vmlinux`read_zero+0x5\nvmlinux`vfs_read', 'libc.so.6`read+0x10\na.out`main+0x8'), 7, 1);
  assert.equal(formatFolded(a), 'a.out`main;libc.so.6`read;vmlinux`vfs_read;vmlinux`read_zero 7\n');
});

test('stackformat=folded changes printa() and the output at exit for foldable aggregations only', () => {
  const a = sample();
  const b = agg(AggFn.Count, [STR], 2, 'b');
  b.add(b.slot1('x'), 1, 1);
  const opts = { ...DEFAULT_PRINT_OPTIONS, folded: true };
  assert.equal(formatPrinta([a], opts), '\nbash;vmlinux`a;vmlinux`c 1\ncc 4\nbash;vmlinux`a;vmlinux`b 5\n');
  a.printed = false;
  assert.equal(
    formatAggregations([a, b], opts),
    'bash;vmlinux`a;vmlinux`c 1\ncc 4\nbash;vmlinux`a;vmlinux`b 5\n' + '  x                                                                 1\n',
  );
  // without the option: DTrace's layout
  a.printed = false;
  assert.match(formatAggregations([a], DEFAULT_PRINT_OPTIONS), /^  bash +\n +vmlinux`c\n/);
});

test('a flame graph draws the stack-keyed aggregations, each on its own frame when several', () => {
  const a = sample();
  const other = agg(AggFn.Count, [STR], 2, 'calls');
  other.add(other.slot1('read'), 1, 1);
  assert.deepEqual(
    flameStacks([a, other]).map((s) => `${s.text} ${s.value}`),
    ['bash;vmlinux`a;vmlinux`c 1', 'cc 4', 'bash;vmlinux`a;vmlinux`b 5'],
  );
  const b = agg(AggFn.Count, [STACK], 3, 'b');
  b.add(b.slot1('vmlinux`x'), 1, 1);
  assert.deepEqual(
    flameStacks([a, b]).map((s) => s.text),
    ['@a;bash;vmlinux`a;vmlinux`c', '@a;cc', '@a;bash;vmlinux`a;vmlinux`b', '@b;vmlinux`x'],
  );
  // without a stack key anywhere: the count()/sum() aggregations, keys as frames
  assert.deepEqual(
    flameStacks([other]).map((s) => `${s.text} ${s.value}`),
    ['read 1'],
  );
});
