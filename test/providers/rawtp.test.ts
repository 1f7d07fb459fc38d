// The rawtp provider's filter: the predicates' conjuncts its BPF program tests before it sends
// a record (one-line cases: the clauses' tests, the probe's argument count, the filter).

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { ClausePlan, KernelTest } from '../../src/providers/clause-plan.js';
import type { ProbeDef } from '../../src/providers/provider.js';
import { rawFilter } from '../../src/providers/rawtp.js';
import { Probe } from '../../src/runtime/context.js';

const def: ProbeDef = { probe: new Probe(7, 'rawtp', 'raw_syscalls', '', 'sys_enter'), argTypes: [], described: true };

function plan(kernel: KernelTest[]): ClausePlan {
  return { reads: new Set(), bigArgs: null, kernelStack: false, userStack: false, userMemory: false, stringArgs: new Set(), speculates: false, kernel, inKernel: null };
}

const t = (field: string, op: KernelTest['op'], value: bigint | string): KernelTest => ({ field, op, value });

const CASES: Array<[string, KernelTest[][], number, ReturnType<typeof rawFilter>]> = [
  ['no predicate: every record', [[]], 2, []],
  ['pid == 42', [[t('pid', '==', 42n)]], 2, [[{ what: 'pid', op: '==', value: 42 }]]],
  ['tid, cpu and an argument', [[t('tid', '!=', 1n), t('cpu', '<', 2n), t('arg1', '>=', 110n)]], 2, [[{ what: 'tid', op: '!=', value: 1 }, { what: 'cpu', op: '<', value: 2 }, { what: 1, op: '>=', value: 110 }]]],
  ['two clauses: their OR', [[t('pid', '==', 1n)], [t('arg1', '==', 0n)]], 2, [[{ what: 'pid', op: '==', value: 1 }], [{ what: 1, op: '==', value: 0 }]]],
  ['a clause with no test: every record', [[t('pid', '==', 1n)], []], 2, []],
  ['an argument the tracepoint has not: not tested', [[t('arg5', '==', 3n), t('pid', '>', 9n)]], 2, [[{ what: 'pid', op: '>', value: 9 }]]],
  ['a constant past 32 bits: not tested', [[t('arg0', '==', 2n ** 40n)]], 2, []],
  ['execname, uid: not tested', [[t('execname', '==', 'sh'), t('uid', '==', 0n)]], 2, []],
  ['probename true: dropped', [[t('probename', '==', 'sys_enter'), t('pid', '==', 5n)]], 2, [[{ what: 'pid', op: '==', value: 5 }]]],
  ['probename false: that clause never', [[t('probename', '==', 'sys_exit')], [t('pid', '==', 5n)]], 2, [[{ what: 'pid', op: '==', value: 5 }]]],
  ['no clause can fire', [[t('probefunc', '!=', '')]], 2, 'never'],
];

for (const [name, clauses, nargs, want] of CASES) {
  test(`rawFilter: ${name}`, () => {
    assert.deepEqual(rawFilter(def, clauses.map(plan), nargs), want);
  });
}
