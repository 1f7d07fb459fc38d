// What the platform tests share: which lab platform they run on (DTRACE_LAB, set by the lab's
// kernel command line; unset on a development machine), and whether kprobe events exist.
// In the lab every test must run: what would be a skip elsewhere is a failure there.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRACEFS, liveUnavailable } from '../live/harness.js';

/** the lab platform's name, or undefined outside the lab */
export const LAB = process.env.DTRACE_LAB;

/** Generous waits: under software emulation dtrace starts in seconds, not milliseconds. */
export const READY_MS = LAB ? 180_000 : 20_000;

/** Why kernel tests cannot run here (false: they can); in the lab they always must. */
export function skipUnless(need: 'kernel' | 'kprobes'): string | false {
  let why = liveUnavailable();
  if (why === null && need === 'kprobes' && !existsSync(join(TRACEFS, 'kprobe_events'))) {
    why = 'the kernel has no kprobe events';
  }
  if (why === null) return false;
  if (LAB) return false; // run, and fail
  return why;
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

/** Runs a shell script to completion. */
export { workload } from '../live/harness.js';
