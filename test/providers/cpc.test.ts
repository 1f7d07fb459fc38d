import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { CPC_MIN_OVERFLOW, parseCpcName } from '../../src/providers/cpc.js';
import { PERF_EVENTS, perfEventByDname } from '../../src/kernel/perf-events.js';
import { PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE } from '../../src/kernel/bpf/sys.js';

test('cpc probe names: EVENT-MODE-COUNT, the event under its libpfm4 name in lower case', () => {
  const cases: Array<[string, string | null]> = [
    ['cpu_cycles-user-100000', 'CPU-CYCLES 0:0 user 100000'],
    ['cycles-kernel-5000', 'CYCLES 0:0 kernel 5000'],
    ['perf_count_hw_instructions-all-1000000000', 'PERF_COUNT_HW_INSTRUCTIONS 0:1 all 1000000000'],
    ['branches-all-20000', 'BRANCHES 0:4 all 20000'],
    ['cpu_clock-all-50000000', 'CPU-CLOCK 1:0 all 50000000'],
    ['perf_count_sw_task_clock-user-10000', 'PERF_COUNT_SW_TASK_CLOCK 1:1 user 10000'],
    ['cs-all-10000', 'CS 1:3 all 10000'],
    ['llc_load_misses-all-10000', 'LLC-LOAD-MISSES 3:65538 all 10000'],
    // below illumos's minimum overflow, malformed, unknown
    ['cpu_clock-all-100', null],
    ['cpu_clock-all-4999', null],
    ['cpu_clock-all-10000bonehead', null],
    ['nonexistentevent-all-10000', null],
    ['cpu_clock-both-10000', null],
    ['cpu_clock-all-attr-10000', null],
    ['cpu-clock-all-10000', null],
    ['CPU_CLOCK-all-10000', null],
    ['cpu_clock-all-', null],
    ['cpu_clock-all-9223372036854775808', null],
  ];
  for (const [name, want] of cases) {
    const p = parseCpcName(name);
    const got = p === null ? null : `${p.event.pfmName} ${p.event.type}:${p.event.config} ${p.excludeKernel ? 'user' : p.excludeUser ? 'kernel' : 'all'} ${p.count}`;
    assert.equal(got, want, name);
  }
  assert.equal(CPC_MIN_OVERFLOW, 5000n);
});

test('the event table: every name once, hardware and software events under perf\'s names', () => {
  const names = PERF_EVENTS.map((e) => e.dname);
  assert.equal(new Set(names).size, names.length);
  assert.equal(perfEventByDname('cpu_cycles')?.type, PERF_TYPE_HARDWARE);
  assert.equal(perfEventByDname('instructions')?.config, 1n);
  assert.equal(perfEventByDname('task_clock')?.type, PERF_TYPE_SOFTWARE);
  assert.equal(perfEventByDname('cpu-cycles'), null);
});
