// Who owns a tracefs instance or a kprobe group. A pid alone does not say: pids are reused, and
// a dtrace in another PID namespace (a container) numbers its processes its own way, so its pid
// 57 is some other process here. The names dtrace creates carry its pid, its PID namespace (the
// inode of /proc/self/ns/pid) and its start time (field 22 of /proc/self/stat, clock ticks since
// boot): a process with that pid, in that namespace, started then, is the owner.

import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** The initial PID namespace's inode (PROC_PID_INIT_INO): from there, every process is visible. */
export const INIT_PID_NS = 0xeffffffc;

export interface Owner {
  pid: number;
  /** inode of the PID namespace; 0 if unknown */
  ns: number;
  /** start time in clock ticks since boot; 0 if unknown */
  start: number;
}

/** A process's state letter and start time, from /proc/<pid>/stat; null if there is none. */
export function procStat(pid: number | 'self'): { state: string; start: number } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // the command name may hold blanks and parentheses: fields are counted after its last ')'
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], start: Number(f[22 - 3]) };
}

/** The inode of a process's PID namespace; 0 if it cannot be read. */
export function pidNamespace(pid: number | 'self'): number {
  try {
    const m = /^pid:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/pid`));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

let me: Owner | null = null;

/** This process, as the names it creates record it. */
export function self(): Owner {
  if (me === null) me = { pid: process.pid, ns: pidNamespace('self'), start: procStat('self')?.start ?? 0 };
  return me;
}

/** The owner's fields joined by `sep`, to put in a name. */
export function ownerTag(sep: string, o: Owner = self()): string {
  return [o.pid, o.ns, o.start].join(sep);
}

/** Whether a process exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Tells whether owners are gone. One per reaping pass: the scan of every process for another
 * namespace's owners is done at most once.
 */
export class Liveness {
  /** namespace inode -> its processes, as [pid inside it, pid here] */
  private byNs: Map<number, Array<[number, number]>> | null = null;

  constructor(private readonly me: Owner = self()) {}

  /**
   * Whether what `o` created can be removed: its process is gone (or is a zombie, which can
   * remove nothing any more). An owner in a namespace this process cannot see (the host's,
   * from inside a container) is never gone: its own side reaps it.
   */
  gone(o: Owner): boolean {
    // a name without an identity (an older dtrace-ts, or no /proc): the pid is all there is
    if (o.ns === 0 || o.start === 0 || this.me.ns === 0) return !processAlive(o.pid);
    if (o.ns === this.me.ns) return !this.started(o.pid, o.start);
    const procs = this.namespaces().get(o.ns);
    if (procs === undefined) return this.me.ns === INIT_PID_NS;
    return !procs.some(([inner, here]) => inner === o.pid && this.started(here, o.start));
  }

  /** Whether `pid` (here) is a live process that started at `start`. */
  private started(pid: number, start: number): boolean {
    const s = procStat(pid);
    return s !== null && s.state !== 'Z' && s.state !== 'X' && s.start === start;
  }

  private namespaces(): Map<number, Array<[number, number]>> {
    if (this.byNs !== null) return this.byNs;
    const map = new Map<number, Array<[number, number]>>();
    let entries: string[] = [];
    try {
      entries = readdirSync('/proc');
    } catch {
      // no /proc: no namespace is visible
    }
    for (const e of entries) {
      if (!/^\d+$/.test(e)) continue;
      const ns = pidNamespace(Number(e));
      if (ns === 0 || ns === this.me.ns) continue;
      // NSpid: the pid in each namespace from this one inwards; the last is the process's own
      let inner: number;
      try {
        const m = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${e}/status`, 'latin1'));
        if (!m) continue;
        inner = Number(m[1].trim().split(/\s+/).pop());
      } catch {
        continue;
      }
      let list = map.get(ns);
      if (!list) map.set(ns, (list = []));
      list.push([inner, Number(e)]);
    }
    this.byNs = map;
    return map;
  }
}
