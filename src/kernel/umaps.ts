// What each traced process has mapped, as ustack() and usym() need it: kept from the moment a
// process is first seen, so that a process that exited before its stacks were printed is still
// symbolised. Seeded from /proc/<pid>/maps, and kept up to date in band by the perf events that
// capture user stacks (PERF_RECORD_MMAP2 for each executable mapping, COMM with the exec flag,
// FORK), in the order they happened. JIT code is named from /tmp/perf-<pid>.map.
//                                                                        [libproc Pmapping_iter]

import { readFileSync } from 'node:fs';
import { parseMaps } from './procmaps.js';
import { type UserObject, userObject } from './uobject.js';

/** One process's executable mappings, sorted by address. */
export class ProcessMappings {
  starts: number[] = [];
  ends: number[] = [];
  offsets: number[] = [];
  paths: string[] = [];
  objs: Array<UserObject | null | undefined> = [];
  /** the /proc maps were read (or the address space is new: an exec) */
  seeded = false;
  /** JIT symbols from /tmp/perf-<pid>.map: sorted starts, sizes, names (null: not read) */
  jit: { starts: number[]; sizes: number[]; names: string[] } | null = null;
  jitReadAt = 0;
  /** what each address prints as (kernel/ustack.ts), until the mappings change */
  readonly texts = new Map<number, string>();
  /** whole stacks' texts (kernel/ustack.ts), by a hash of their frames, until the mappings change */
  readonly stacks = new Map<number, { frames: Float64Array; text: string }>();

  constructor(readonly pid: number) {}

  /** Adds a mapping, replacing what it overlaps. */
  add(start: number, end: number, offset: number, path: string): void {
    this.texts.clear();
    this.stacks.clear();
    for (let k = this.starts.length - 1; k >= 0; k--) {
      if (this.starts[k] < end && this.ends[k] > start) this.remove(k);
    }
    let i = 0;
    while (i < this.starts.length && this.starts[i] < start) i++;
    this.starts.splice(i, 0, start);
    this.ends.splice(i, 0, end);
    this.offsets.splice(i, 0, offset);
    this.paths.splice(i, 0, path);
    this.objs.splice(i, 0, undefined);
  }

  private remove(k: number): void {
    this.starts.splice(k, 1);
    this.ends.splice(k, 1);
    this.offsets.splice(k, 1);
    this.paths.splice(k, 1);
    this.objs.splice(k, 1);
  }

  /** The mapping holding `addr`, or -1. */
  find(addr: number): number {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid] <= addr) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found >= 0 && addr < this.ends[found] ? found : -1;
  }

  /** The object of mapping i (read on first use), or null. */
  object(i: number): UserObject | null {
    let o = this.objs[i];
    if (o === undefined) {
      const p = this.paths[i];
      o = p.startsWith('/') ? userObject(p.endsWith(' (deleted)') ? p.slice(0, -10) : p, this.pid) : null;
      this.objs[i] = o;
    }
    return o;
  }

  /** The object address of `addr` in mapping i, or -1. */
  objectAddr(i: number, addr: number): number {
    const o = this.object(i);
    if (o === null) return -1;
    return o.addrOf(addr - this.starts[i] + this.offsets[i]);
  }

  clone(pid: number): ProcessMappings {
    const m = new ProcessMappings(pid);
    m.starts = this.starts.slice();
    m.ends = this.ends.slice();
    m.offsets = this.offsets.slice();
    m.paths = this.paths.slice();
    m.objs = this.objs.slice();
    m.seeded = this.seeded;
    return m;
  }
}

/** Every process's mappings, by process id. */
export class MappingTable {
  private readonly procs = new Map<number, ProcessMappings>();

  private entry(pid: number): ProcessMappings {
    let m = this.procs.get(pid);
    if (m === undefined) this.procs.set(pid, (m = new ProcessMappings(pid)));
    return m;
  }

  /** An executable mapping made (PERF_RECORD_MMAP2). */
  mmap(pid: number, start: number, len: number, offset: number, path: string): void {
    this.entry(pid).add(start, start + len, offset, path);
  }

  /** A process exec'd: a new address space, whose mappings come in band. */
  exec(pid: number): void {
    const m = new ProcessMappings(pid);
    m.seeded = true;
    this.procs.set(pid, m);
  }

  /** A process forked: the child has the parent's mappings. */
  fork(pid: number, ppid: number): void {
    const mine = this.procs.get(pid);
    if (pid === ppid || (mine !== undefined && mine.starts.length > 0)) return;
    const p = this.procs.get(ppid);
    if (p !== undefined) this.procs.set(pid, p.clone(pid));
  }

  /** Reads a process's maps now, if they were not (a process seen for the first time). */
  seen(pid: number): void {
    const m = this.entry(pid);
    if (!m.seeded) this.seed(m);
  }

  private seed(m: ProcessMappings): void {
    let text: string;
    try {
      text = readFileSync(`/proc/${m.pid}/maps`, 'latin1');
    } catch {
      // gone (or not yet seen in band): what comes in band later still counts
      return;
    }
    m.seeded = true;
    for (const x of parseMaps(text)) {
      if (x.perms[2] !== 'x') continue;
      // what came in band is newer than what /proc shows
      const i = m.find(x.start);
      if (i >= 0) continue;
      m.add(x.start, x.end, x.offset, x.path);
    }
  }

  /**
   * Adds what /proc shows a process maps now and was not known (mappings made while nothing
   * recorded them in band: the side band opened after an object was loaded).
   */
  refresh(pid: number): void {
    this.seed(this.entry(pid));
  }

  /** The mappings of a process (seeded from /proc if it was never seen). */
  of(pid: number): ProcessMappings {
    const m = this.entry(pid);
    if (!m.seeded) this.seed(m);
    return m;
  }

  /** JIT code's name at `addr` from /tmp/perf-<pid>.map, or null. */
  jitSymbol(pid: number, addr: number): { name: string; start: number } | null {
    const m = this.entry(pid);
    const now = Date.now();
    if (m.jit === null || (now - m.jitReadAt > 1000 && jitLookup(m.jit, addr) < 0)) {
      m.jitReadAt = now;
      m.jit = readPerfMap(pid) ?? m.jit ?? { starts: [], sizes: [], names: [] };
    }
    const i = jitLookup(m.jit, addr);
    return i < 0 ? null : { name: m.jit.names[i], start: m.jit.starts[i] };
  }

  forget(pid: number): void {
    this.procs.delete(pid);
  }
}

function jitLookup(j: { starts: number[]; sizes: number[] }, addr: number): number {
  let lo = 0;
  let hi = j.starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (j.starts[mid] <= addr) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 && addr < j.starts[found] + j.sizes[found] ? found : -1;
}

/** A perf map's lines ("START SIZE name", hex without 0x), sorted; null if there is none. */
export function parsePerfMap(text: string): { starts: number[]; sizes: number[]; names: string[] } {
  const rows: Array<[number, number, string]> = [];
  for (const line of text.split('\n')) {
    const m = /^(?:0x)?([0-9a-fA-F]+) (?:0x)?([0-9a-fA-F]+) (.*)$/.exec(line);
    if (m) rows.push([parseInt(m[1], 16), parseInt(m[2], 16), m[3]]);
  }
  rows.sort((a, b) => a[0] - b[0]);
  return { starts: rows.map((r) => r[0]), sizes: rows.map((r) => r[1]), names: rows.map((r) => r[2]) };
}

function readPerfMap(pid: number): { starts: number[]; sizes: number[]; names: string[] } | null {
  try {
    return parsePerfMap(readFileSync(`/tmp/perf-${pid}.map`, 'latin1'));
  } catch {
    return null;
  }
}

/** The mappings of every process dtrace has seen. */
export const userMappings = new MappingTable();
