// Processes that keep CPUs busy for the sampling tests (pinned with taskset), killed when the
// test file ends, and the rows of a printed aggregation.

import { type ChildProcess, spawn } from 'node:child_process';
import { after } from 'node:test';

const loads = new Set<ChildProcess>();
after(() => stopLoads());

/** A shell running `script` (a user-space spin by default) pinned to a CPU (exec'd by the shell: its pid is the load's). */
export function load(cpu: number, script = 'while :; do :; done'): number {
  const c = spawn('taskset', ['-c', String(cpu), '/bin/sh', '-c', script], { stdio: 'ignore' });
  loads.add(c);
  return c.pid!;
}

export function stopLoads(): void {
  for (const c of loads) c.kill('SIGKILL');
  loads.clear();
}

/** The "key count" lines of a printed aggregation. */
export function rows(out: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of out.split('\n')) {
    const r = /^\s*(.*?)\s+(\d+)$/.exec(l);
    if (r) m.set(r[1].replace(/\s+/g, ' '), Number(r[2]));
  }
  return m;
}
