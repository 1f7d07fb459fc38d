// Output: one sink that batches text and writes it in large chunks (STYLE rule 10), and carries
// out the output-side actions system(), freopen() and ftruncate() in record order. Those actions
// reach the sink as OutputAction values, beside the text and never inside it: no byte a script
// prints or a traced process controls can run a command or redirect output.

import { execSync } from 'node:child_process';
import { closeSync, ftruncateSync, writeSync } from 'node:fs';
import { openOutputFile } from './output-file.js';

const FLUSH_AT = 64 * 1024;

export const enum OutputActionKind {
  System,
  Freopen,
  Ftruncate,
}

/** An output-side action, in its place among a record's text. */
export class OutputAction {
  constructor(
    readonly kind: OutputActionKind,
    /** the command for system(), the path for freopen() ('' restores the original output) */
    readonly arg: string,
  ) {}
}

export class OutputSink {
  private buf = '';
  /** the file freopen() redirected output to, or -1 for the original */
  private redirected = -1;

  constructor(
    /** the original output: stdout, or the -o file */
    private readonly fd: number,
    /** reports an error the way dtrace does ("dtrace: ...") */
    private readonly warn: (msg: string) => void,
    /** the output cannot be written (EPIPE: its reader is gone; ENOSPC, EIO, ...): ends the run */
    private readonly failed: (e: NodeJS.ErrnoException) => void,
  ) {}

  private get target(): number {
    return this.redirected >= 0 ? this.redirected : this.fd;
  }

  /** Text to print, as it is: nothing in it is interpreted. */
  write(text: string): void {
    this.buf += text;
    if (this.buf.length >= FLUSH_AT) this.flush();
  }

  /** while held: each action, with the text written before it */
  private held: Array<{ before: string; action: OutputAction }> | null = null;

  /**
   * Keeps what is written and the actions until release(): BEGIN's output, whose system()
   * commands DTrace's consumer runs once tracing is active (it reads BEGIN's buffer then).
   */
  hold(): void {
    this.held ??= [];
  }

  /** Writes and carries out, in order, what was kept since hold(). */
  release(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    const rest = this.buf;
    this.buf = '';
    for (const h of held) {
      this.buf += h.before;
      this.act(h.action);
    }
    this.buf += rest;
    this.flush();
  }

  /** Carries out an output-side action, after everything written before it. */
  act(a: OutputAction): void {
    if (this.held !== null) {
      this.held.push({ before: this.buf, action: a });
      this.buf = '';
      return;
    }
    this.flush();
    switch (a.kind) {
      case OutputActionKind.System:
        this.system(a.arg);
        break;
      case OutputActionKind.Freopen:
        this.freopen(a.arg);
        break;
      case OutputActionKind.Ftruncate:
        if (this.redirected >= 0 || this.fd > 2) ftruncateSync(this.target, 0);
        break;
    }
  }

  private system(cmd: string): void {
    try {
      execSync(cmd, { stdio: ['ignore', this.target, 'inherit'], shell: '/bin/sh' });
    } catch {
      // a failing command is not dtrace's failure (system(3C) semantics)
    }
  }

  private freopen(path: string): void {
    if (path === '') {
      if (this.redirected >= 0) closeSync(this.redirected);
      this.redirected = -1;
      return;
    }
    try {
      const fd = openOutputFile(path);
      if (this.redirected >= 0) closeSync(this.redirected);
      this.redirected = fd;
    } catch (e) {
      this.warn(`failed to freopen() "${path}": ${(e as Error).message}`);
    }
  }

  flush(): void {
    if (this.buf === '' || this.held !== null) return;
    const data = Buffer.from(this.buf, 'latin1');
    this.buf = '';
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(this.target, data, off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        this.failed(e as NodeJS.ErrnoException);
        return;
      }
    }
  }
}
