// The perf events the cpc provider offers: the kernel's generic hardware and software events
// (PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE, PERF_TYPE_HW_CACHE), under the names libpfm4's
// "perf" PMU gives them (Oracle's cpc provider names its probes after those, lower case, '-'
// as '_'), and whether this machine can count them.                        [dt_prov_cpc.c]

import { readdirSync } from 'node:fs';
import {
  ATTR_DISABLED,
  PERF_ATTR_SIZE,
  PERF_FLAG_FD_CLOEXEC,
  PERF_TYPE_HARDWARE,
  PERF_TYPE_HW_CACHE,
  PERF_TYPE_SOFTWARE,
  closeFd,
  perfEventOpen,
} from './bpf/sys.js';


export class PerfEventType {
  constructor(
    /** the name as libpfm4 spells it (PERF_COUNT_HW_CPU_CYCLES, CPU-CYCLES, ...) */
    readonly pfmName: string,
    readonly type: number,
    readonly config: bigint,
  ) {}

  /** the event's part of a cpc probe name: lower case, '-' as '_' (cpu_cycles) */
  get dname(): string {
    return this.pfmName.toLowerCase().replace(/-/g, '_');
  }
}

/** [type, config, names...]: every name of one event, in libpfm4's order. */
const TABLE: Array<[number, number, ...string[]]> = [
  [PERF_TYPE_HARDWARE, 0, 'PERF_COUNT_HW_CPU_CYCLES', 'CYCLES', 'CPU-CYCLES'],
  [PERF_TYPE_HARDWARE, 1, 'PERF_COUNT_HW_INSTRUCTIONS', 'INSTRUCTIONS'],
  [PERF_TYPE_HARDWARE, 2, 'PERF_COUNT_HW_CACHE_REFERENCES', 'CACHE-REFERENCES'],
  [PERF_TYPE_HARDWARE, 3, 'PERF_COUNT_HW_CACHE_MISSES', 'CACHE-MISSES'],
  [PERF_TYPE_HARDWARE, 4, 'PERF_COUNT_HW_BRANCH_INSTRUCTIONS', 'BRANCH-INSTRUCTIONS', 'BRANCHES'],
  [PERF_TYPE_HARDWARE, 5, 'PERF_COUNT_HW_BRANCH_MISSES', 'BRANCH-MISSES'],
  [PERF_TYPE_HARDWARE, 6, 'PERF_COUNT_HW_BUS_CYCLES', 'BUS-CYCLES'],
  [PERF_TYPE_HARDWARE, 7, 'PERF_COUNT_HW_STALLED_CYCLES_FRONTEND', 'STALLED-CYCLES-FRONTEND', 'IDLE-CYCLES-FRONTEND'],
  [PERF_TYPE_HARDWARE, 8, 'PERF_COUNT_HW_STALLED_CYCLES_BACKEND', 'STALLED-CYCLES-BACKEND', 'IDLE-CYCLES-BACKEND'],
  [PERF_TYPE_HARDWARE, 9, 'PERF_COUNT_HW_REF_CPU_CYCLES', 'REF-CYCLES'],
  [PERF_TYPE_SOFTWARE, 0, 'PERF_COUNT_SW_CPU_CLOCK', 'CPU-CLOCK'],
  [PERF_TYPE_SOFTWARE, 1, 'PERF_COUNT_SW_TASK_CLOCK', 'TASK-CLOCK'],
  [PERF_TYPE_SOFTWARE, 2, 'PERF_COUNT_SW_PAGE_FAULTS', 'PAGE-FAULTS', 'FAULTS'],
  [PERF_TYPE_SOFTWARE, 3, 'PERF_COUNT_SW_CONTEXT_SWITCHES', 'CONTEXT-SWITCHES', 'CS'],
  [PERF_TYPE_SOFTWARE, 4, 'PERF_COUNT_SW_CPU_MIGRATIONS', 'CPU-MIGRATIONS', 'MIGRATIONS'],
  [PERF_TYPE_SOFTWARE, 5, 'PERF_COUNT_SW_PAGE_FAULTS_MIN', 'MINOR-FAULTS'],
  [PERF_TYPE_SOFTWARE, 6, 'PERF_COUNT_SW_PAGE_FAULTS_MAJ', 'MAJOR-FAULTS'],
  [PERF_TYPE_SOFTWARE, 11, 'PERF_COUNT_SW_CGROUP_SWITCHES', 'CGROUP-SWITCHES'],
  // cache events: config = cache | op << 8 | result << 16 (read 0, write 1, prefetch 2; access 0, miss 1)
  [PERF_TYPE_HW_CACHE, 0x10000, 'PERF_COUNT_HW_CACHE_L1D', 'L1-DCACHE-LOAD-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x0, 'L1-DCACHE-LOADS'],
  [PERF_TYPE_HW_CACHE, 0x100, 'L1-DCACHE-STORES'],
  [PERF_TYPE_HW_CACHE, 0x10100, 'L1-DCACHE-STORE-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x200, 'L1-DCACHE-PREFETCHES'],
  [PERF_TYPE_HW_CACHE, 0x10200, 'L1-DCACHE-PREFETCH-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x10001, 'PERF_COUNT_HW_CACHE_L1I', 'L1-ICACHE-LOAD-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x1, 'L1-ICACHE-LOADS'],
  [PERF_TYPE_HW_CACHE, 0x201, 'L1-ICACHE-PREFETCHES'],
  [PERF_TYPE_HW_CACHE, 0x10201, 'L1-ICACHE-PREFETCH-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x10002, 'PERF_COUNT_HW_CACHE_LL', 'LLC-LOAD-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x2, 'LLC-LOADS'],
  [PERF_TYPE_HW_CACHE, 0x102, 'LLC-STORES'],
  [PERF_TYPE_HW_CACHE, 0x10102, 'LLC-STORE-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x202, 'LLC-PREFETCHES'],
  [PERF_TYPE_HW_CACHE, 0x10202, 'LLC-PREFETCH-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x10003, 'PERF_COUNT_HW_CACHE_DTLB', 'DTLB-LOAD-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x3, 'DTLB-LOADS'],
  [PERF_TYPE_HW_CACHE, 0x103, 'DTLB-STORES'],
  [PERF_TYPE_HW_CACHE, 0x10103, 'DTLB-STORE-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x203, 'DTLB-PREFETCHES'],
  [PERF_TYPE_HW_CACHE, 0x10203, 'DTLB-PREFETCH-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x10004, 'PERF_COUNT_HW_CACHE_ITLB', 'ITLB-LOAD-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x4, 'ITLB-LOADS'],
  [PERF_TYPE_HW_CACHE, 0x10005, 'PERF_COUNT_HW_CACHE_BPU', 'BRANCH-LOAD-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x5, 'BRANCH-LOADS'],
  [PERF_TYPE_HW_CACHE, 0x10006, 'PERF_COUNT_HW_CACHE_NODE', 'NODE-LOAD-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x6, 'NODE-LOADS'],
  [PERF_TYPE_HW_CACHE, 0x106, 'NODE-STORES'],
  [PERF_TYPE_HW_CACHE, 0x10106, 'NODE-STORE-MISSES'],
  [PERF_TYPE_HW_CACHE, 0x206, 'NODE-PREFETCHES'],
  [PERF_TYPE_HW_CACHE, 0x10206, 'NODE-PREFETCH-MISSES'],
];

/** Every event under every name, in libpfm4's order. */
export const PERF_EVENTS: readonly PerfEventType[] = TABLE.flatMap(([type, config, ...names]) => names.map((n) => new PerfEventType(n, type, BigInt(config))));

/** The event a cpc probe name's first part names (cpu_cycles, perf_count_sw_cpu_clock), or null. */
export function perfEventByDname(dname: string): PerfEventType | null {
  return PERF_EVENTS.find((e) => e.dname === dname) ?? null;
}

/** A counting perf_event_attr for an event (disabled: opening it counts nothing). */
function countingAttr(e: PerfEventType): Buffer {
  const attr = Buffer.alloc(PERF_ATTR_SIZE);
  attr.writeUInt32LE(e.type, 0);
  attr.writeUInt32LE(PERF_ATTR_SIZE, 4);
  attr.writeBigUInt64LE(e.config, 8);
  attr.writeBigUInt64LE(ATTR_DISABLED, 40);
  return attr;
}

/** Why the kernel will not count an event on `cpu`, in the C library's words; null if it will. */
export function perfEventRefusal(e: PerfEventType, cpu = 0): string | null {
  try {
    closeFd(perfEventOpen(countingAttr(e), -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Event sources that are CPU performance monitoring units (x86, hybrid x86, arm64, ...). */
function hasPmuDevice(): boolean {
  let names: string[];
  try {
    names = readdirSync('/sys/bus/event_source/devices');
  } catch {
    return false;
  }
  return names.some((n) => n === 'cpu' || n.startsWith('cpu_') || n.startsWith('armv') || n.includes('pmu'));
}

/**
 * Why this machine's CPUs cannot count hardware events (CPU cycles), or null if they can: a
 * CPU without a performance monitoring unit, or a virtual CPU whose hypervisor exposes none
 * (Firecracker, qemu's TCG), has no PMU event source, and perf_event_open(2) refuses.
 */
export function hardwareCountersUnavailable(): string | null {
  const refusal = perfEventRefusal(PERF_EVENTS[0]!);
  if (refusal === null) return null;
  if (!hasPmuDevice()) return `this CPU exposes no performance monitoring unit (${refusal})`;
  return refusal;
}
