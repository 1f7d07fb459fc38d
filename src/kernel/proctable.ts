// Who a kernel event belongs to. tracefs events carry only the thread id (common_pid); D wants
// the process id, parent, credentials and execname too. This table answers from /proc the
// first time it meets a thread and is kept right afterwards by the task and sched events it
// asks for (new tasks, renames, execs, exits), which arrive in order with everything else.

import { readFileSync, readdirSync } from 'node:fs';

export class TaskInfo {
  constructor(
    public tgid: number,
    public comm: string,
    public ppid: number,
    public uid: number,
    public gid: number,
    /** the command line, when an exec was seen while tracing ('' otherwise: read /proc) */
    public psargs = '',
  ) {}
}

const CLONE_THREAD = 0x10000n;

function readTask(tid: number): TaskInfo | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${tid}/status`, 'latin1');
  } catch {
    return null;
  }
  const field = (k: string): string => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
  return new TaskInfo(
    Number(field('Tgid')) || tid,
    field('Name'),
    Number(field('PPid')) || 0,
    Number(field('Uid').split(/\s+/)[0]) || 0,
    Number(field('Gid').split(/\s+/)[0]) || 0,
  );
}

function readComm(pid: number, tid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').replace(/\n$/, '');
  } catch {
    return null;
  }
}

/** Where a NUL-padded name of at most `n` bytes at `at` ends. */
function nameEnd(page: Buffer, at: number, n: number): number {
  let end = at;
  while (end < at + n && page[end] !== 0) end++;
  return end;
}

/** Whether a name is the NUL-padded bytes at `at` (compared without making a string). */
function sameName(name: string, page: Buffer, at: number, n: number): boolean {
  const len = nameEnd(page, at, n) - at;
  if (name.length !== len) return false;
  for (let i = 0; i < len; i++) if (name.charCodeAt(i) !== page[at + i]) return false;
  return true;
}

/** The name the kernel's own trace output gives a task whose name it does not know. */
export const UNKNOWN_COMM = '<...>';

export class ProcessTable {
  private readonly tasks = new Map<number, TaskInfo>();
  /**
   * The thread looked up last and its entry: events come in runs from one thread (a CPU's
   * events are in time order), so most lookups are this one. Cleared wherever an entry is
   * replaced or removed.
   */
  private lastTid = -1;
  private lastTask: TaskInfo | null = null;
  /** tracefs's saved_cmdlines (the names of tasks events were recorded for), read on a miss */
  private savedNames: Map<number, string> | null = null;

  constructor(
    /** tracefs's mount point (null: no saved names to fall back on) */
    private readonly tracefs: string | null = null,
  ) {}

  /**
   * Reads every process there is, before tracing starts: a task that exits before its first
   * event is handled can no longer be read. Threads share their process's entry, except comm.
   */
  snapshot(): void {
    this.forgetLast();
    let pids: string[];
    try {
      pids = readdirSync('/proc');
    } catch {
      return;
    }
    for (const p of pids) {
      const pid = Number(p);
      if (!(pid > 0) || this.tasks.has(pid)) continue;
      const t = readTask(pid);
      if (!t) continue;
      this.tasks.set(pid, t);
      let tids: string[];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue;
      }
      for (const x of tids) {
        const tid = Number(x);
        if (tid !== pid && tid > 0) this.tasks.set(tid, new TaskInfo(t.tgid, readComm(pid, tid) ?? t.comm, t.ppid, t.uid, t.gid));
      }
    }
  }

  /** A name from an event's record, for a task first seen when it is already gone. */
  noteComm(tid: number, comm: string): void {
    const t = this.lookup(tid);
    if (t.comm === UNKNOWN_COMM) t.comm = comm;
  }

  /**
   * The entry of a thread an event's record says who it was as the event fired (its process,
   * and its name: `commBytes` NUL-padded bytes of `page` at `commAt`), made without /proc.
   */
  fired(tid: number, tgid: number, page: Buffer, commAt: number, commBytes: number): TaskInfo {
    let t = tid === this.lastTid ? this.lastTask! : this.tasks.get(tid);
    if (t === undefined) {
      t = new TaskInfo(tgid, '', 0, 0, 0);
      this.tasks.set(tid, t);
    }
    t.tgid = tgid;
    if (!sameName(t.comm, page, commAt, commBytes)) t.comm = page.toString('latin1', commAt, nameEnd(page, commAt, commBytes));
    this.lastTid = tid;
    this.lastTask = t;
    return t;
  }

  lookup(tid: number): TaskInfo {
    // (a record's tid of -1, 0xffffffff, is no task: not the "none" that lastTid -1 says)
    if (tid === this.lastTid && this.lastTask !== null) return this.lastTask;
    let t = this.tasks.get(tid);
    if (t === undefined) {
      // the idle task has no /proc entry; a task gone before we met it has none either: the
      // kernel's note of its name, else what the kernel's trace output says (never no name)
      t = tid === 0 ? new TaskInfo(0, 'swapper', 0, 0, 0) : (readTask(tid) ?? new TaskInfo(tid, this.savedName(tid), 0, 0, 0));
      this.tasks.set(tid, t);
    }
    this.lastTid = tid;
    this.lastTask = t;
    return t;
  }

  private forgetLast(): void {
    this.lastTid = -1;
    this.lastTask = null;
  }

  /** A task's name as tracefs saved it when an event was recorded for it, or UNKNOWN_COMM. */
  private savedName(tid: number): string {
    if (this.savedNames === null) {
      this.savedNames = new Map();
      if (this.tracefs !== null) {
        try {
          for (const line of readFileSync(`${this.tracefs}/saved_cmdlines`, 'latin1').split('\n')) {
            const sp = line.indexOf(' ');
            if (sp > 0) this.savedNames.set(Number(line.slice(0, sp)), line.slice(sp + 1));
          }
        } catch {
          // no saved names
        }
      }
    }
    return this.savedNames.get(tid) ?? UNKNOWN_COMM;
  }

  /** task:task_newtask, reported by the parent: a thread shares its tgid, a process gets its own. */
  newTask(parentTid: number, childTid: number, comm: string, cloneFlags: bigint): void {
    const parent = this.lookup(parentTid);
    const isThread = (cloneFlags & CLONE_THREAD) !== 0n;
    if (childTid === this.lastTid) this.forgetLast();
    this.tasks.set(
      childTid,
      new TaskInfo(isThread ? parent.tgid : childTid, comm, isThread ? parent.ppid : parent.tgid, parent.uid, parent.gid, parent.psargs),
    );
  }

  private readonly execArgs = new Map<number, string>();

  /** execve() called with these arguments: they become the command line if it succeeds. */
  execCalled(tid: number, psargs: string): void {
    this.execArgs.set(tid, psargs);
  }

  /** sched:sched_process_exec: the thread runs a new program. */
  execDone(tid: number): void {
    const args = this.execArgs.get(tid);
    this.execArgs.delete(tid);
    if (args !== undefined) this.lookup(tid).psargs = args;
  }

  /** task:task_rename (prctl(PR_SET_NAME), exec). */
  rename(tid: number, comm: string): void {
    this.lookup(tid).comm = comm;
  }

  private readonly exited: number[] = [];

  /** sched:sched_process_exit: the thread is forgotten once the events read with it are handled. */
  exit(tid: number): void {
    this.exited.push(tid);
  }

  /** Forgets the threads that exited (called after each batch of events). */
  sweep(): void {
    if (this.exited.length !== 0) {
      for (const tid of this.exited) this.tasks.delete(tid);
      this.exited.length = 0;
      this.forgetLast();
    }
    // saved names change as tasks come and go: read them afresh at the next miss
    this.savedNames = null;
  }
}
