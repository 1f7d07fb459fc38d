// -c and -p: the processes dtrace traces on a user's behalf ($target). A created process is
// held before it runs its command until every probe is live, so its first instruction is
// traced; dtrace ends when the last of its target processes has exited.   [dt_proc.c]

import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DFatalError } from '../errors.js';
import { ReadableWaiter, closeFd, pidfdOpen } from '../kernel/bpf/sys.js';

/**
 * How often a grabbed process (not our child) is checked for having exited, where the kernel
 * has no pidfd to wait on.
 */
const GRAB_POLL_MS = 50;

function findExecutable(cmd: string): string | null {
  const candidates = cmd.includes('/') ? [cmd] : (process.env.PATH ?? '/usr/bin:/bin').split(':').map((d) => join(d || '.', cmd));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return null;
}

/** Whether a process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** How long a created process may take to reach its hold. */
const HOLD_TIMEOUT_MS = 10_000;

/** A process's state letter in /proc/<pid>/stat (R, S, T, Z, ...), or '' if it is gone. */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] ?? '';
  } catch {
    return '';
  }
}

/** Waits (at start-up, before any probe is enabled) until a created process has stopped itself. */
function waitStopped(pid: number, cmd: string): void {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + HOLD_TIMEOUT_MS;
  for (;;) {
    const s = procState(pid);
    if (s === 'T' || s === 't') return;
    if (s === '' || s === 'Z' || Date.now() > deadline) throw new DFatalError(`failed to execute ${cmd}: the process did not start`);
    Atomics.wait(nap, 0, 0, 1);
  }
}

export class Targets {
  readonly pids: number[] = [];
  /** the executable each -c process execs once it is let go (resolved along PATH) */
  readonly commands = new Map<number, string>();
  private readonly created: ChildProcess[] = [];
  private live = 0;
  private polls: NodeJS.Timeout[] = [];
  /** grabbed processes waited on through their pidfd (no polling) */
  private readonly exitWaits: ReadableWaiter[] = [];
  private released = false;
  private onGone: (() => void) | null = null;

  /**
   * -c: starts a command, split into words at blanks as dtrace does (no shell parses it), held
   * until resume(). The holder stops itself (SIGSTOP) before tracing starts, and SIGCONT lets it
   * exec the command by its path at once: the first thing the traced process does is the
   * command's own execve (no reads, dup2s or PATH search of a launcher shell).
   */
  create(command: string): number {
    const argv = command.split(/[ \t\n]+/).filter((a) => a !== '');
    const path = argv.length === 0 ? null : findExecutable(argv[0]);
    if (path === null) {
      throw new DFatalError(`failed to execute ${argv[0] ?? ''}: No such file or directory`);
    }
    // `kill` is a shell built-in: its kill(2) returns before the stop takes effect, so after
    // SIGCONT the shell's next system call is the execve of the command (same pid)
    const child = spawn('/bin/sh', ['-c', 'kill -STOP $$; exec "$@"', 'sh', path, ...argv.slice(1)], { stdio: 'inherit' });
    if (child.pid === undefined) throw new DFatalError(`failed to execute ${argv[0]}: cannot create a process`);
    waitStopped(child.pid, argv[0]);
    child.on('exit', () => this.gone());
    this.created.push(child);
    this.pids.push(child.pid);
    this.commands.set(child.pid, resolve(path));
    this.live++;
    return child.pid;
  }

  /** -p: a running process. */
  grab(text: string): number {
    if (!/^[0-9]+$/.test(text)) throw new DFatalError(`invalid pid: ${text}`);
    const pid = Number(text);
    if (!alive(pid)) throw new DFatalError(`failed to grab pid ${pid}: No such process`);
    this.pids.push(pid);
    this.live++;
    const fd = pidfdOpen(pid);
    const waiter = fd === null ? null : ReadableWaiter.create();
    if (fd !== null && waiter !== null) {
      // readable once the process has exited: dtrace sleeps until then
      this.exitWaits.push(waiter);
      waiter.wait([fd], -1, () => {
        waiter.close();
        closeFd(fd);
        if (!this.released) this.gone();
      });
      return pid;
    }
    if (fd !== null) closeFd(fd);
    const poll = setInterval(() => {
      if (!alive(pid)) {
        clearInterval(poll);
        this.gone();
      }
    }, GRAB_POLL_MS);
    this.polls.push(poll);
    return pid;
  }

  /** Lets created processes run (tracing is live). `onAllGone` runs when every target has exited. */
  resume(onAllGone: () => void): void {
    this.onGone = onAllGone;
    for (const c of this.created) {
      try {
        if (c.pid !== undefined) process.kill(c.pid, 'SIGCONT');
      } catch {
        // already gone: its exit is reported as any other
      }
    }
    if (this.pids.length > 0 && this.live === 0) onAllGone();
  }

  private gone(): void {
    this.live--;
    if (this.live === 0 && this.onGone) this.onGone();
  }

  /** dtrace ends before its processes: created ones are killed, grabbed ones left alone. */
  release(): void {
    this.released = true;
    for (const t of this.polls) clearInterval(t);
    this.polls = [];
    for (const w of this.exitWaits.splice(0)) w.wake();
    for (const c of this.created) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}
