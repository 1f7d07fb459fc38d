// Helper processes dtrace runs and waits for (cpp). Unlike spawnSync, the wait leaves the event
// loop free, so a signal is handled while the command runs; the command gets a process group of
// its own, so that it and what it starts (cpp's cc1) die with dtrace, however dtrace ends.

import { type SpawnSyncReturns, spawn } from 'node:child_process';
import { atExit } from './signals.js';

export interface ChildOptions {
  /** written to the command's standard input, which is then closed */
  input?: Buffer;
  /** most bytes of stdout or stderr kept; past it the command is killed (ENOBUFS) */
  maxBuffer?: number;
  /** ms before the command is killed (ETIMEDOUT) */
  timeout?: number;
  /** the signal a timeout or maxBuffer sends (SIGTERM) */
  killSignal?: NodeJS.Signals;
  /** where the command's standard error goes (default: kept, as stderr in the result) */
  stderr?: 'pipe' | 'inherit' | 'ignore';
}

function errno(code: string, what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${what} ${code}`), { code, syscall: what });
}

/** Runs a command to its end; resolves as spawnSync returns. */
export function runChild(file: string, args: string[], opts: ChildOptions = {}): Promise<SpawnSyncReturns<Buffer>> {
  const maxBuffer = opts.maxBuffer ?? 1024 * 1024;
  return new Promise((resolve) => {
    const child = spawn(file, args, { detached: true, stdio: ['pipe', 'pipe', opts.stderr ?? 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let error: NodeJS.ErrnoException | undefined;
    let timer: NodeJS.Timeout | null = null;
    // the whole group: cpp's cc1 is in it
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const cancel = atExit(() => killGroup('SIGKILL'));
    const fail = (e: NodeJS.ErrnoException) => {
      error ??= e;
      killGroup(opts.killSignal ?? 'SIGTERM');
    };
    child.on('error', (e: NodeJS.ErrnoException) => (error ??= e));
    child.stdout!.on('data', (b: Buffer) => {
      outLen += b.length;
      if (outLen > maxBuffer) fail(errno('ENOBUFS', `spawnSync ${file}`));
      else out.push(b);
    });
    child.stderr?.on('data', (b: Buffer) => {
      errLen += b.length;
      if (errLen > maxBuffer) fail(errno('ENOBUFS', `spawnSync ${file}`));
      else err.push(b);
    });
    // a command that exits without reading all its input is not an error
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? Buffer.alloc(0));
    if (opts.timeout !== undefined && opts.timeout > 0) timer = setTimeout(() => fail(errno('ETIMEDOUT', `spawnSync ${file}`)), opts.timeout);
    child.on('close', (status, signal) => {
      if (timer) clearTimeout(timer);
      cancel();
      const stdout = Buffer.concat(out);
      const stderr = Buffer.concat(err);
      resolve({ pid: child.pid ?? 0, output: [null, stdout, stderr], stdout, stderr, status: child.pid === undefined ? null : status, signal, error });
    });
  });
}
