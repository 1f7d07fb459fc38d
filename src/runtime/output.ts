// Output: one sink that batches text and writes it in large chunks (STYLE rule 10), and carries
// out the output-side actions system(), freopen() and ftruncate() in record order.

import { execSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { openOutputFile } from './output-file.js';

const FLUSH_AT = 64 * 1024;

export class OutputSink {
  private buf = '';
  /** the file freopen() redirected output to, or -1 for the original */
  private redirected = -1;

  constructor(
    /** the original output: stdout, or the -o file */
    private readonly fd: number,
    /** reports an error the way dtrace does ("dtrace: ...") */
    private readonly warn: (msg: string) => void,
  ) {}

  private get target(): number {
    return this.redirected >= 0 ? this.redirected : this.fd;
  }

  write(text: string): void {
    if (text.indexOf('\u0000') >= 0 && /\u0000(SYSTEM|FREOPEN|FTRUNCATE)\u0000/.test(text)) {
      this.directives(text);
      return;
    }
    this.buf += text;
    if (this.buf.length >= FLUSH_AT) this.flush();
  }

  private directives(text: string): void {
    const re = /\u0000(SYSTEM|FREOPEN|FTRUNCATE)\u0000([^\u0000]*)\u0000/g;
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      this.buf += text.slice(last, m.index);
      last = re.lastIndex;
      this.flush();
      if (m[1] === 'SYSTEM') this.system(m[2]);
      else if (m[1] === 'FREOPEN') this.freopen(m[2]);
      else if (this.redirected >= 0 || this.fd > 2) ftruncateSync(this.target, 0);
    }
    this.buf += text.slice(last);
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
    if (this.buf === '') return;
    const data = Buffer.from(this.buf, 'latin1');
    this.buf = '';
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(this.target, data, off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') continue;
        if (code === 'EPIPE') return;
        throw e;
      }
    }
  }
}
