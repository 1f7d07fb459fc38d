// POSIX getopt with GNU argument permutation, as dtrace(1) parses its command line.

export interface ParsedArgs {
  /** options in command-line order: [letter, argument or null] */
  opts: Array<[string, string | null]>;
  /** operands (everything that is not an option): $1, $2, ... */
  operands: string[];
}

export class UsageError extends Error {}

/** Parses argv against an optstring like "b:c:CeD:..."; throws UsageError on bad options. */
export function getopt(argv: string[], optstring: string, prog: string): ParsedArgs {
  const takesArg = new Map<string, boolean>();
  for (let i = 0; i < optstring.length; i++) {
    const c = optstring[i];
    if (c === ':') continue;
    takesArg.set(c, optstring[i + 1] === ':');
  }
  const opts: Array<[string, string | null]> = [];
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (a.length < 2 || a[0] !== '-') {
      operands.push(a);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const c = a[j];
      const t = takesArg.get(c);
      if (t === undefined) throw new UsageError(`${prog}: invalid option -- '${c}'`);
      if (!t) {
        opts.push([c, null]);
        continue;
      }
      let val: string;
      if (j + 1 < a.length) val = a.slice(j + 1);
      else if (i + 1 < argv.length) val = argv[++i];
      else throw new UsageError(`${prog}: option requires an argument -- '${c}'`);
      opts.push([c, val]);
      break;
    }
  }
  return { opts, operands };
}
