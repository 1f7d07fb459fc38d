// What the benchmarks share: a process's CPU time, the median of runs, a pause.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'latin1' }).stdout) || 100;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** CPU seconds (user + system) a process has used, or NaN if it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return NaN;
  }
}
