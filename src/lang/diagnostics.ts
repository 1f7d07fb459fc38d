// Compile errors as data: a D_* tag, the line, and DTrace's own wording.            [dt_error.c]
//
// The first error throws a DCompileError; `compile()` catches it once (libdtrace's longjmp).

import type { ErrTag } from './errtags.js';

export class DCompileError extends Error {
  constructor(
    /** DTrace's error tag, e.g. D_SYNTAX (printed as [D_SYNTAX] under -xerrtags) */
    readonly tag: ErrTag,
    /** 1-based source line, or 0 when the error is not tied to a line */
    readonly line: number,
    message: string,
    /** where the error is, when it has no line: e.g. "in action list" */
    public region: string | null = null,
  ) {
    super(message.replace(/\n$/, ''));
  }

  /**
   * The text after "dtrace: failed to compile script x.d: ", as dt_set_errmsg builds it: a file
   * names the line, a -n program the region (predicate or action list) if the error has one.
   */
  format(errtags: boolean, fromFile: boolean): string {
    let s = errtags ? `[${this.tag}] ` : '';
    if (fromFile && this.line > 0) s += `line ${this.line}: `;
    else if (!fromFile && this.region !== null) s += `in ${this.region}: `;
    return s + this.message;
  }
}

export function fail(tag: ErrTag, line: number, message: string): never {
  throw new DCompileError(tag, line, message);
}
