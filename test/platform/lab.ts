// What the platform tests share: which lab platform they run on (DTRACE_LAB, set by the lab's
// kernel command line; unset on a development machine), its CPUs (LAB_CPUS), and whether the
// kernel has what a test needs.
// In the lab the basic tests (tracefs, kprobe events: what every lab platform has) must run:
// what would be a skip elsewhere is a failure there. A test of a part a kernel may be built
// without (uprobes, perf sampling, BPF, loop devices, the TCP tracepoints) skips with the reason
// wherever that part is missing, in the lab too: the guest reports it as a skip.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRACEFS, liveUnavailable } from '../live/harness.js';
import { samplingUnavailable } from '../../src/kernel/perf-sampler.js';
import { bpfUnavailable } from '../../src/kernel/bpf/sys.js';
import { labTarget } from './programs.js';

/** the lab platform's name, or undefined outside the lab */
export const LAB = process.env.DTRACE_LAB;

/** the lab platform's CPUs (from the kernel command line), or undefined outside the lab */
export const LAB_CPUS = process.env.LAB_CPUS === undefined ? undefined : Number(process.env.LAB_CPUS);

/** Generous waits: under software emulation dtrace starts in seconds, not milliseconds. */
export const READY_MS = LAB ? 180_000 : 20_000;

export type Need = 'kernel' | 'kprobes' | 'uprobes' | 'sampling' | 'bpf' | 'loop' | 'tcp';

function missing(need: Need): string | null {
  switch (need) {
    case 'kernel':
      return null;
    case 'kprobes':
      return existsSync(join(TRACEFS, 'kprobe_events')) ? null : 'the kernel has no kprobe events';
    case 'uprobes': {
      if (!existsSync(join(TRACEFS, 'uprobe_events'))) return 'the kernel has no uprobe events';
      const t = labTarget();
      return 'why' in t ? t.why : null;
    }
    case 'sampling': {
      const why = samplingUnavailable();
      return why === null ? null : `no perf sampling: ${why}`;
    }
    case 'bpf': {
      const why = bpfUnavailable();
      return why === null ? null : `no BPF: ${why}`;
    }
    case 'loop':
      return spawnSync('losetup', ['-f'], { encoding: 'latin1' }).status === 0 ? null : 'no free loop device (losetup -f)';
    case 'tcp':
      return existsSync(join(TRACEFS, 'events', 'sock', 'inet_sock_set_state')) ? null : 'the kernel has no sock:inet_sock_set_state tracepoint';
  }
}

/**
 * Why a test cannot run here (false: it can). In the lab, 'kernel' and 'kprobes' tests always
 * run (and fail where they are missing); the others skip with the reason.
 */
export function skipUnless(...needs: Need[]): string | false {
  const live = liveUnavailable();
  if (live !== null) return LAB ? false : live;
  for (const need of needs) {
    const why = missing(need);
    if (why === null) continue;
    if (LAB && (need === 'kernel' || need === 'kprobes')) return false; // run, and fail
    return why;
  }
  return false;
}

/** The kprobe events a dtrace-ts process (pid) has still defined. */
export function kprobesOf(pid: number): string[] {
  try {
    return readFileSync(join(TRACEFS, 'kprobe_events'), 'latin1')
      .split('\n')
      // dtrace_ts_<pid>_<pid namespace>_<start time>/event
      .filter((l) => new RegExp(`^[pr]\\d*:dtrace_ts_${pid}_\\d+_\\d+/`).test(l));
  } catch {
    return [];
  }
}

/** The uprobe events a dtrace-ts process (pid) has still defined. */
export function uprobesOf(pid: number): string[] {
  try {
    return readFileSync(join(TRACEFS, 'uprobe_events'), 'latin1')
      .split('\n')
      .filter((l) => l.includes(`:dtrace_tsu_${pid}_`));
  } catch {
    return [];
  }
}

/** Runs a shell script to completion. */
export { workload } from '../live/harness.js';
