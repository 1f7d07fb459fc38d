import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { CPC_MIN_OVERFLOW, cpcEvent, parseCpcName } from '../../src/providers/cpc.js';
import { samplerAttr } from '../../src/kernel/perf-sampler.js';
import { PERF_EVENTS, perfEventByDname } from '../../src/kernel/perf-events.js';
import { PERF_TYPE_HARDWARE, PERF_TYPE_HW_CACHE, PERF_TYPE_SOFTWARE } from '../../src/kernel/bpf/sys.js';

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

/** perf_event_attr fields of a cpc probe's sampling event (include/uapi/linux/perf_event.h). */
function attrOf(name: string): { type: number; config: bigint; period: bigint; sampleType: bigint; excl: string[]; freq: boolean; disabled: boolean } {
  const p = parseCpcName(name);
  assert.ok(p !== null, name);
  const a = samplerAttr({ periodNs: Number(p.count), kernelStack: false, userStack: false, event: cpcEvent(p) });
  const flags = a.readBigUInt64LE(40);
  const bit = (n: number) => ((flags >> BigInt(n)) & 1n) === 1n;
  const excl = (
    [
      [4, 'user'],
      [5, 'kernel'],
      [6, 'hv'],
      [7, 'idle'],
      [19, 'host'],
      [20, 'guest'],
    ] as const
  )
    .filter(([n]) => bit(n))
    .map(([, w]) => w);
  return { type: a.readUInt32LE(0), config: a.readBigUInt64LE(8), period: a.readBigUInt64LE(16), sampleType: a.readBigUInt64LE(24), excl, freq: bit(10), disabled: bit(0) };
}

test('cpc names become the perf_event_attr Oracle\'s dt_prov_cpc.c opens: type/config, a period (never a frequency), mode as exclude_kernel/exclude_user', () => {
  // [name, type, config, period, excluded]: hardware events exclude the hypervisor and guests, as
  // libpfm4's encoding of them (PFM_PLM0 | PFM_PLM3) does for Oracle's; software events do not
  const cases: Array<[string, number, bigint, bigint, string[]]> = [
    ['cpu_cycles-user-100000', PERF_TYPE_HARDWARE, 0n, 100000n, ['kernel', 'hv', 'guest']],
    ['cpu_cycles-kernel-100000', PERF_TYPE_HARDWARE, 0n, 100000n, ['user', 'hv', 'guest']],
    ['cpu_cycles-all-100000', PERF_TYPE_HARDWARE, 0n, 100000n, ['hv', 'guest']],
    ['instructions-all-1000000000', PERF_TYPE_HARDWARE, 1n, 1000000000n, ['hv', 'guest']],
    ['cache_references-user-5000', PERF_TYPE_HARDWARE, 2n, 5000n, ['kernel', 'hv', 'guest']],
    ['cache_misses-all-20000', PERF_TYPE_HARDWARE, 3n, 20000n, ['hv', 'guest']],
    ['branch_instructions-all-20000', PERF_TYPE_HARDWARE, 4n, 20000n, ['hv', 'guest']],
    ['branch_misses-kernel-20000', PERF_TYPE_HARDWARE, 5n, 20000n, ['user', 'hv', 'guest']],
    ['bus_cycles-all-20000', PERF_TYPE_HARDWARE, 6n, 20000n, ['hv', 'guest']],
    ['ref_cycles-all-20000', PERF_TYPE_HARDWARE, 9n, 20000n, ['hv', 'guest']],
    // cache events: cache | op << 8 | result << 16
    ['l1_dcache_load_misses-all-10000', PERF_TYPE_HW_CACHE, 0x10000n, 10000n, ['hv', 'guest']],
    ['llc_loads-user-10000', PERF_TYPE_HW_CACHE, 0x2n, 10000n, ['kernel', 'hv', 'guest']],
    ['dtlb_store_misses-all-10000', PERF_TYPE_HW_CACHE, 0x10103n, 10000n, ['hv', 'guest']],
    ['branch_load_misses-all-10000', PERF_TYPE_HW_CACHE, 0x10005n, 10000n, ['hv', 'guest']],
    ['cpu_clock-all-10000000', PERF_TYPE_SOFTWARE, 0n, 10000000n, []],
    ['task_clock-user-10000000', PERF_TYPE_SOFTWARE, 1n, 10000000n, ['kernel']],
    ['page_faults-kernel-10000', PERF_TYPE_SOFTWARE, 2n, 10000n, ['user']],
    ['context_switches-all-10000', PERF_TYPE_SOFTWARE, 3n, 10000n, []],
    ['major_faults-all-10000', PERF_TYPE_SOFTWARE, 6n, 10000n, []],
  ];
  for (const [name, type, config, period, excl] of cases) {
    const a = attrOf(name);
    assert.deepEqual({ type: a.type, config: a.config, period: a.period, excl: a.excl }, { type, config, period, excl }, name);
    // a count between firings, not a rate; started with tracing; IP | TID | TIME | CPU
    assert.equal(a.freq, false, name);
    assert.equal(a.disabled, true, name);
    assert.equal(a.sampleType, 0x87n, name);
  }
});
