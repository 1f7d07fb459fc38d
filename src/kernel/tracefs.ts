// tracefs: finding (or mounting) it, and the private instance each dtrace process traces in.
// Every instance is named dtrace-ts-<pid>-<pid namespace>-<start time>-<tag> (identity.ts), so
// the next dtrace can remove what a killed one left behind, and only that.

import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DFatalError } from '../errors.js';
import { Liveness, ownerTag } from './identity.js';
import { SysError, writeOnce } from './bpf/sys.js';

export const INSTANCE_PREFIX = 'dtrace-ts-';

const CANDIDATES = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

let rootFound: string | null = null;

/**
 * tracefs's mount point, mounting it if needed; throws a plain error if this is not root or
 * the kernel has none.
 */
export function tracefsRoot(): string {
  if (rootFound !== null) return rootFound;
  if (process.geteuid && process.geteuid() !== 0) {
    throw new DFatalError('failed to initialize dtrace: DTrace requires additional privileges (run it as root)');
  }
  rootFound = findTracefs();
  return rootFound;
}

function findTracefs(): string {
  for (const dir of CANDIDATES) if (existsSync(join(dir, 'events'))) return dir;
  // not mounted: try tracefs at its usual place, then debugfs (old kernels keep tracing there)
  for (const [fs, dir, probe] of [
    ['tracefs', '/sys/kernel/tracing', '/sys/kernel/tracing'],
    ['debugfs', '/sys/kernel/debug', '/sys/kernel/debug/tracing'],
  ]) {
    try {
      execFileSync('mount', ['-t', fs, 'nodev', dir], { stdio: 'ignore' });
    } catch {
      continue;
    }
    if (existsSync(join(probe, 'events'))) return probe;
  }
  throw new DFatalError(
    'cannot find tracefs: it is not mounted at /sys/kernel/tracing and mounting it failed (the kernel may lack CONFIG_FTRACE, or this is not root)',
  );
}

/**
 * tracefs's mount point if it is mounted and this is root, else null: for runs that need no
 * tracing but remove what killed dtraces left, when they can.
 */
export function tracefsIfMounted(): string | null {
  if (process.geteuid && process.geteuid() !== 0) return null;
  if (rootFound !== null) return rootFound;
  return CANDIDATES.find((dir) => existsSync(join(dir, 'events'))) ?? null;
}

/** Removes instances whose dtrace process is gone (killed with SIGKILL); returns their names. */
export function reapStaleInstances(root: string, live = new Liveness()): string[] {
  const dir = join(root, 'instances');
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    // dtrace-ts-<pid>-<ns>-<start>-<tag>, or an older dtrace-ts's dtrace-ts-<pid>-<tag>
    const m = new RegExp(`^${INSTANCE_PREFIX}(\\d+)-(?:(\\d+)-(\\d+)-)?[a-z0-9]+$`).exec(name);
    if (!m || !live.gone({ pid: Number(m[1]), ns: Number(m[2] ?? 0), start: Number(m[3] ?? 0) })) continue;
    try {
      rmdirSync(join(dir, name));
      removed.push(name);
    } catch {
      // in use or already gone: the next run tries again
    }
  }
  return removed;
}

export class TraceInstance {
  private constructor(
    readonly root: string,
    readonly name: string,
    readonly path: string,
  ) {}

  static create(root: string): TraceInstance {
    const name = `${INSTANCE_PREFIX}${ownerTag('-')}-${Math.random().toString(36).slice(2, 8)}`;
    const path = join(root, 'instances', name);
    try {
      mkdirSync(path);
    } catch (e) {
      throw new DFatalError(`cannot create tracefs instance ${path}: ${(e as Error).message}`);
    }
    const inst = new TraceInstance(root, name, path);
    // stop tracing until everything is set up; a clock that all CPUs share, so events merge
    inst.write('tracing_on', '0');
    inst.write('trace_clock', 'mono');
    return inst;
  }

  /** Whether the instance has this file (older kernels lack some). */
  has(rel: string): boolean {
    return existsSync(join(this.path, rel));
  }

  write(rel: string, text: string): void {
    writeFileSync(join(this.path, rel), text);
  }

  read(rel: string): string {
    return readFileSync(join(this.path, rel), 'latin1');
  }

  /** Enables one event, with a filter expression ("common_pid == 42") or none. */
  enableEvent(system: string, event: string, filter: string | null): void {
    const dir = `events/${system}/${event}`;
    if (filter !== null) this.write(`${dir}/filter`, filter);
    try {
      if (writeOnce(join(this.path, dir, 'enable'), '1') === null) this.write(`${dir}/enable`, '1');
    } catch (e) {
      // EINTR: a kprobe or uprobe event serves tracefs or perf events (a BPF program), not both
      if (e instanceof SysError && e.errno === 4) throw new Error(`${system}:${event} is taken by a perf event already`);
      throw e;
    }
  }

  /** Events only from a process's threads (set_event_pid), and from the tasks they create. */
  limitToProcess(pid: number): void {
    this.limitToProcesses([pid]);
  }

  /** limitToProcess for several processes. */
  limitToProcesses(pids: number[]): void {
    const tids: string[] = [];
    for (const pid of pids) {
      try {
        tids.push(...readdirSync(`/proc/${pid}/task`));
      } catch {
        tids.push(String(pid));
      }
    }
    this.write('options/event-fork', '1');
    this.write('set_event_pid', tids.join(' '));
  }

  setBufferSizeKb(kb: number): void {
    this.write('buffer_size_kb', String(kb));
  }

  /** Sub-buffer (page) size in bytes: what one read() of trace_pipe_raw returns. */
  subbufSize(): number {
    try {
      return Number(this.read('buffer_subbuf_size_kb').trim()) * 1024 || 4096;
    } catch {
      return 4096;
    }
  }

  cpus(): number[] {
    return tracingCpus(this.path);
  }

  openRaw(cpu: number, nonblock: number): number {
    return openSync(join(this.path, 'per_cpu', `cpu${cpu}`, 'trace_pipe_raw'), nonblock);
  }

  /** Events the kernel dropped on a CPU (the ring buffer was full: overwrite is off). */
  droppedOn(cpu: number): number {
    try {
      const stats = readFileSync(join(this.path, 'per_cpu', `cpu${cpu}`, 'stats'), 'latin1');
      const m = /^dropped events: (\d+)/m.exec(stats);
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  start(): void {
    this.write('tracing_on', '1');
  }

  stop(): void {
    try {
      this.write('tracing_on', '0');
    } catch {
      // already gone
    }
  }

  /** Removes the instance (its events go with it). Open per-CPU files must be closed first. */
  remove(): void {
    this.stop();
    try {
      rmdirSync(this.path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw e;
    }
  }
}

let eventList: Array<[string, string]> | null = null;

/** Every event the kernel offers, as [system, event], in the kernel's order (available_events). */
export function availableEvents(root: string): Array<[string, string]> {
  if (eventList === null) {
    eventList = [];
    for (const line of readFileSync(join(root, 'available_events'), 'latin1').split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) eventList.push([line.slice(0, i), line.slice(i + 1)]);
    }
  }
  return eventList;
}

let eventNames: Set<string> | null = null;

/** Whether some system has an event of this name. */
export function hasEventNamed(root: string, name: string): boolean {
  eventNames ??= new Set(availableEvents(root).map(([, event]) => event));
  return eventNames.has(name);
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** The CPUs a tracefs directory (the root, or an instance) has rings for. */
export function tracingCpus(dir: string): number[] {
  return readdirSync(join(dir, 'per_cpu'))
    .map((d) => /^cpu(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}
