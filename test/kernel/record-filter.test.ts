// tracefs filters as capture-program tests: the forms kernelFilter writes (ORs of ANDs of
// field/comm/CPU comparisons), in disjunctive normal form; anything else is no filter.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { EventField, EventFormat } from '../../src/kernel/event-format.js';
import { recordFilter } from '../../src/kernel/bpf/record-filter.js';

const field = (name: string, offset: number, size: number, signed: boolean): EventField => ({ name, type: '', offset, size, signed, charArray: false, dataLoc: false, pointer: false });
// syscalls:sys_enter_read's format, as this kernel's tracefs gives it
const FORMAT: EventFormat = {
  system: 'syscalls',
  name: 'sys_enter_read',
  id: 700,
  common: [field('common_type', 0, 2, false), field('common_flags', 2, 1, false), field('common_preempt_count', 3, 1, false), field('common_pid', 4, 4, true)],
  fields: [field('__syscall_nr', 8, 4, true), field('fd', 16, 8, false), field('buf', 24, 8, false), field('count', 32, 8, false)],
};

test('a comparison, an AND and an OR of them', () => {
  assert.deepEqual(recordFilter('common_pid == 42', FORMAT), [[{ what: { offset: 4, size: 4, signed: true }, op: '==', value: 42 }]]);
  assert.deepEqual(recordFilter('(comm == "sh") && (fd > 2)', FORMAT), [
    [
      { what: 'comm', op: '==', value: 'sh' },
      { what: { offset: 16, size: 8, signed: false }, op: '>', value: 2 },
    ],
  ]);
  assert.deepEqual(recordFilter('(CPU == 1) || (comm != "dd")', FORMAT), [[{ what: 'cpu', op: '==', value: 1 }], [{ what: 'comm', op: '!=', value: 'dd' }]]);
});

test('an AND of ORs is distributed', () => {
  const t = recordFilter('(fd == 1 || fd == 2) && count < 100', FORMAT);
  assert.equal(t?.length, 2);
  assert.deepEqual(t?.map((a) => a.map((x) => x.value)), [
    [1, 100],
    [2, 100],
  ]);
});

test('what a program cannot test is no filter', () => {
  // an unknown field, a name too long for comm, a constant past 32 bits, a glob, a half expression
  for (const f of ['nosuch == 1', 'comm == "a-name-of-sixteen"', 'fd == 4294967296', 'comm ~ "s*"', 'fd ==', '(fd == 1']) {
    assert.equal(recordFilter(f, FORMAT), null, f);
  }
});
