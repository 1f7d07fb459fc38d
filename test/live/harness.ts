// Running the dtrace command against the live kernel, as a user would: start it, wait until
// its tracefs instance is tracing, run a workload, stop it with a signal, collect what it said.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bpfUnavailable } from '../../src/kernel/bpf/sys.js';

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..', '..', '..');
export const cli = join(root, 'dist', 'cli.js');
export const TRACEFS = '/sys/kernel/tracing';

/** Why live tests cannot run here, or null. */
export function liveUnavailable(): string | null {
  if (process.geteuid && process.geteuid() !== 0) return 'live kernel tests need root';
  if (!existsSync(join(TRACEFS, 'events'))) {
    spawnSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS]);
    if (!existsSync(join(TRACEFS, 'events'))) return 'tracefs is not available';
  }
  return null;
}

/**
 * For a test file of BPF clauses on the syscall-mix workload (test/live/programs/syscall-mix.c),
 * or another of test/live/programs: a directory of its own (removed after its tests), the
 * workload built there, and why its tests cannot run here (false: they can).
 */
export function syscallMixWorkload(name: string, program = 'syscall-mix'): { work: string; prog: string; skip: string | false } {
  const work = mkdtempSync(join(tmpdir(), `dtrace-ts-${name}-`));
  after(() => rmSync(work, { recursive: true, force: true }));
  const prog = join(work, program);
  const why = (): string | false => {
    const live = liveUnavailable();
    if (live) return live;
    const bpf = bpfUnavailable();
    if (bpf) return `no BPF: ${bpf}`;
    const cc = spawnSync('cc', ['-O2', '-o', prog, join(root, 'test', 'live', 'programs', `${program}.c`)], { encoding: 'latin1' });
    return cc.error || cc.status !== 0 ? `no C compiler: ${cc.error?.message ?? cc.stderr}` : false;
  };
  return { work, prog, skip: why() };
}

export interface Result {
  /** the dtrace process's pid: its tracefs instances and probe events are named after it */
  pid: number;
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function instancesOf(pid: number): string[] {
  try {
    return readdirSync(join(TRACEFS, 'instances')).filter((n) => n.startsWith(`dtrace-ts-${pid}-`));
  } catch {
    return [];
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Every dtrace a test started and has not seen end: a failed assertion must not leave one running. */
const running = new Set<ChildProcess>();
after(() => {
  for (const c of running) c.kill('SIGKILL');
});

export class Tracing {
  readonly child: ChildProcess;
  private out: Buffer[] = [];
  private err: Buffer[] = [];
  private readonly done: Promise<Result>;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}, nodeFlags: string[] = []) {
    this.child = spawn(process.execPath, [...nodeFlags, cli, ...args], {
      cwd: root,
      env: { ...process.env, LANG: 'C', TZ: 'UTC', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (b: Buffer) => this.out.push(b));
    this.child.stderr!.on('data', (b: Buffer) => this.err.push(b));
    running.add(this.child);
    this.done = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        running.delete(this.child);
        resolve({ pid: this.child.pid!, stdout: Buffer.concat(this.out).toString('latin1'), stderr: Buffer.concat(this.err).toString('latin1'), code, signal });
      });
    });
  }

  get stdout(): string {
    return Buffer.concat(this.out).toString('latin1');
  }

  /** Resolves once the process's tracefs instance has tracing on (every probe is live). */
  async ready(timeoutMs = 10_000): Promise<void> {
    const pid = this.child.pid!;
    const end = Date.now() + timeoutMs;
    let lastFds = '';
    let fdsSince = 0;
    while (Date.now() < end) {
      for (const name of instancesOf(pid)) {
        try {
          // a new instance has tracing on until dtrace turns it off to set it up: on, with
          // events enabled, is tracing for real
          const dir = join(TRACEFS, 'instances', name);
          if (readFileSync(join(dir, 'tracing_on'), 'latin1').trim() === '1' && readFileSync(join(dir, 'set_event'), 'latin1').trim() !== '') {
            // BEGIN runs right after tracing starts
            await sleep(50);
            return;
          }
        } catch {
          // being created
        }
      }
      // every clause runs in the kernel: no instance; its programs are attached once dtrace holds
      // them and their events, and opens no more
      const fds = kernelProgramDescriptors(pid);
      if (fds !== '' && fds === lastFds && Date.now() - fdsSince >= 300 && waiting(pid)) return;
      if (fds !== lastFds) {
        lastFds = fds;
        fdsSince = Date.now();
      }
      if (this.child.exitCode !== null) throw new Error(`dtrace exited early: ${Buffer.concat(this.err).toString()}`);
      await sleep(10);
    }
    throw new Error(`dtrace did not start tracing: ${Buffer.concat(this.err).toString()}`);
  }

  /** Waits until stdout has a line matching `re`. */
  async until(re: RegExp, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (re.test(this.stdout)) return;
      if (this.child.exitCode !== null) return;
      await sleep(10);
    }
  }

  /** Sends a signal (after letting the last events reach the buffers) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGINT', settleMs = 100): Promise<Result> {
    await sleep(settleMs);
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.finished();
  }

  finished(timeoutMs = 20_000): Promise<Result> {
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    return this.done.finally(() => clearTimeout(t));
  }
}

/** Runs a shell workload to completion; returns its pid. */
export function workload(script: string): number {
  const r = spawnSync('/bin/sh', ['-c', `echo $$; ${script}`], { encoding: 'latin1' });
  return Number(r.stdout.split('\n')[0]);
}

/** Runs dtrace to completion (for programs that exit by themselves). */
export function runDtrace(args: string[], options: { uid?: number; gid?: number; timeout?: number; env?: NodeJS.ProcessEnv; killSignal?: NodeJS.Signals } = {}): Result {
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: root,
    env: { ...process.env, LANG: 'C', TZ: 'UTC', ...options.env },
    timeout: options.timeout ?? 20_000,
    killSignal: options.killSignal,
    // an aggregation of 200,000 keys prints megabytes
    maxBuffer: 256 << 20,
    uid: options.uid,
    gid: options.gid,
  });
  return { pid: r.pid, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('latin1'), code: r.status, signal: r.signal };
}

/** Whether a process sleeps (its state S: dtrace waits for events, set-up done). */
function waiting(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'S';
  } catch {
    return false;
  }
}

/**
 * A process's descriptors of BPF programs, perf events and BPF links, as text ('' unless it
 * holds a program and an event or link it is attached by).
 */
function kernelProgramDescriptors(pid: number): string {
  const kinds: string[] = [];
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const l = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (l === 'anon_inode:bpf-prog' || l === 'anon_inode:[perf_event]' || l === 'anon_inode:bpf_link') kinds.push(`${fd}=${l}`);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return '';
  }
  const text = kinds.join(',');
  return text.includes('bpf-prog') && (text.includes('perf_event') || text.includes('bpf_link')) ? text : '';
}

/** The BPF programs a process holds (its descriptors that are BPF programs). */
export function bpfPrograms(pid: number): number {
  return descriptorsOf(pid, 'anon_inode:bpf-prog');
}

/** The perf events a process holds (ring buffers, and the events programs are attached by). */
export function perfEvents(pid: number): number {
  return descriptorsOf(pid, 'anon_inode:[perf_event]');
}

function descriptorsOf(pid: number, link: string): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}
