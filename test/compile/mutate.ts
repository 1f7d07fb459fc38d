// Hostile D programs for the fuzz test and bench/fuzz.ts: deterministic mutations (a seeded
// PRNG) of the e2e cases, and a way to put each through the compiler the way `dtrace -e` does.
// Not a test file itself: node --test imports it and finds no tests.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCpp } from '../../src/cli/main.js';
import { Compiler } from '../../src/compile/compile.js';
import { DCompileError } from '../../src/lang/diagnostics.js';
import { DFatalError } from '../../src/errors.js';
import { DtraceProvider } from '../../src/providers/dtrace.js';
import { ProfileProvider } from '../../src/providers/profile.js';
import { ProbeRegistry } from '../../src/providers/registry.js';
import { OptionError, Options } from '../../src/runtime/options.js';

export interface Program {
  name: string;
  text: string;
  /** the case's command-line words that matter to compilation (-x, -q, -w, -C, -D, operands) */
  args: string[];
  /** the mutations applied, for reports */
  ops: string[];
}

export interface Outcome {
  /** compiled (and its code compiled by V8), a DTrace error, or anything else (a bug) */
  kind: 'ok' | 'error' | 'internal';
  /** the dtrace: line the command would print */
  message: string;
  ms: number;
}

/** mulberry32: small, fast and the same everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The e2e cases (test/e2e/cases/**\/*.d) that compile a script: the fuzzer's seeds. */
export function seedPrograms(casesDir: string): Program[] {
  const out: Program[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.d')) {
        const text = readFileSync(p, 'latin1');
        const m = /^\/\*\s*dtrace:(.*?)\*\//.exec(text);
        const args = m ? m[1].trim().split(/\s+/).filter((a) => a !== '' && a !== '-s' && a !== '$FILE') : [];
        // cases that give their own programs (-n, -l, -V) or none have no script to mutate
        if (args.some((a) => /^-(n|P|m|f|i|l|lv|V|Q|e)$/.test(a) || a.startsWith('/'))) continue;
        out.push({ name: join(dir, name).slice(casesDir.length + 1), text, args, ops: [] });
      }
    }
  };
  walk(casesDir);
  return out;
}

const TOKENS = [
  '(', ')', '{', '}', '[', ']', ';', ',', '*', '-', '+', '!', '~', '&', '->', '.', '?', ':', '=', '==', '/', '%',
  '<<', '"', "'", '/*', '*/', '#', '\n', '$1', '$$1', '$target', '@', '@a', 'self->', 'this->', 'if', 'else',
  'inline', 'int', 'char', 'string', 'struct', 'union', 'enum', 'sizeof', 'stringof', 'offsetof', 'xlate',
  'translator', 'provider', 'probe', 'BEGIN', 'END', 'ERROR', 'tick-1s', 'profile:::', 'dtrace:::', 'x', 'y',
  'arg0', 'args[0]', 'pid', 'execname', 'timestamp', 'trace(', 'printf(', 'printa(', 'exit(0)', 'count()',
  'quantize(', 'lquantize(', 'strjoin(', 'copyinstr(', '0', '1', '-1', '0x7fffffffffffffff', '0xffffffffffffffff',
  '18446744073709551616', '99999999999999999999999999', '1.5', "'a'", "'abcdefghi'", '"\\n"',
  '#pragma D option ', 'quiet', 'strsize=', '\\', '`', '\0', '\xff', 'x++', '--', '->', '@[1] = count();',
];

const GLOBS = [
  '*******BEGINX', '**********BEGIN', 'B*E*G*I*N', '*B*E*G*I*N*X', '[a-z]*', '\\', '[', '[!', '*[!x]*', '?????',
  'dtrace:::*', '*:*:*:*', 'dtrace:*:*:B*', '[[:alpha:]]*', 'BEG\\IN', '*\\', '::::', 'BEGIN:', 'profile:::tick-*',
];

const NESTS: Array<[string, (n: number, x: string) => string]> = [
  ['parens', (n, x) => '('.repeat(n) + x + ')'.repeat(n)],
  ['minus', (n, x) => '- '.repeat(n) + x],
  ['not', (n, x) => '!'.repeat(n) + x],
  ['casts', (n, x) => '(int)'.repeat(n) + x],
  ['ternary', (n, x) => '1 ? '.repeat(n) + x + ' : 0'.repeat(n)],
  ['rsum', (n, x) => '1 + ('.repeat(n) + x + ')'.repeat(n)],
  ['strjoin', (n, x) => 'strjoin("a", '.repeat(n) + `lltostr(${x})` + ')'.repeat(n)],
  ['index', (n, x) => 'a['.repeat(n) + x + ']'.repeat(n)],
  ['sizeof', (n, x) => 'sizeof '.repeat(n) + x],
];

const CHAIN_OPS = ['+', '-', '*', '|', '&', '^', '&&', '||', '^^', ',', '==', '<', '<<', '/'];
const CHAIN_TERMS = ['1', 'x', 'arg0', '(1)', 'pid', '"s"', '(x + 1)', 'timestamp'];

/** A count from 1 to max, most of them small (hostile inputs are mostly a little too big). */
function count(r: () => number, max: number): number {
  return Math.max(1, Math.floor(Math.exp(r() * Math.log(max))));
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

/** An offset just inside the first action list, or the end of the text. */
function inBody(text: string): number {
  const i = text.indexOf('{');
  return i < 0 ? text.length : i + 1;
}

/** One mutation; returns the new text and a short name for it. */
function mutate(r: () => number, p: Program): [string, string, boolean] {
  const t = p.text;
  const at = Math.floor(r() * (t.length + 1));
  let cpp = false;
  let out: string;
  let name: string;
  switch (Math.floor(r() * 12)) {
    case 0: {
      const len = count(r, 40);
      out = t.slice(0, at) + t.slice(at + len);
      name = `delete${len}`;
      break;
    }
    case 1: {
      const len = count(r, 200);
      out = t.slice(0, at) + t.slice(at, at + len) + t.slice(at);
      name = `dup${len}`;
      break;
    }
    case 2: {
      const tok = pick(r, TOKENS);
      out = t.slice(0, at) + tok + t.slice(at);
      name = `insert(${JSON.stringify(tok)})`;
      break;
    }
    case 3: {
      // nest a constant, somewhere an expression is
      const [kind, f] = pick(r, NESTS);
      const n = count(r, 3000);
      const b = inBody(t);
      out = t.slice(0, b) + ` a[1] = 1; x = 1; y = ${f(n, pick(r, ['1', 'x', 'arg0']))};\n` + t.slice(b);
      name = `${kind}${n}`;
      break;
    }
    case 4: {
      const n = count(r, 3000);
      const b = inBody(t);
      const elif = r() < 0.3;
      const s = elif ? 'if (x == 2) { y = 1; } else '.repeat(n) + 'y = 2;' : 'if (x) {'.repeat(n) + ' y = 1; ' + '}'.repeat(n);
      out = t.slice(0, b) + ` x = 1; ${s}\n` + t.slice(b);
      name = `${elif ? 'elseifs' : 'ifs'}${n}`;
      break;
    }
    case 5: {
      const n = count(r, 4000);
      const op = pick(r, CHAIN_OPS);
      const terms = Array.from({ length: n }, () => pick(r, CHAIN_TERMS)).join(` ${op} `);
      const b = inBody(t);
      const pred = r() < 0.3;
      out = pred
        ? `x = 1;\nBEGIN /${terms}/ { exit(0); }\n` + t
        : t.slice(0, b) + ` x = 1; y = ${terms}; trace(y);\n` + t.slice(b);
      name = `chain${op}${n}${pred ? 'pred' : ''}`;
      break;
    }
    case 6: {
      const m = /\b(BEGIN|END|tick-[0-9a-z]+|profile[^\s{/]*|dtrace[^\s{/]*)/.exec(t);
      const g = pick(r, GLOBS);
      out = m ? t.slice(0, m.index) + g + t.slice(m.index + m[0].length) : `${g} { }\n` + t;
      name = `glob(${g})`;
      break;
    }
    case 7: {
      const n = count(r, 80);
      const base = pick(r, ['1', 'timestamp', 'x', '"s"']);
      const type = base === '"s"' ? 'string' : 'int';
      const op = type === 'string' ? (a: string) => `strjoin(${a}, ${a})` : (a: string) => `${a} + ${a}`;
      let decls = `inline ${type} a0 = ${base};\n`;
      for (let i = 1; i <= n; i++) decls += `inline ${type} a${i} = ${op(`a${i - 1}`)};\n`;
      const b = inBody(t);
      out = decls + t.slice(0, b) + ` x = 1; trace(a${n});\n` + t.slice(b);
      name = `inlines${n}(${base})`;
      break;
    }
    case 8: {
      const n = count(r, 200000);
      const kind = Math.floor(r() * 4);
      const lit = kind === 0 ? '9'.repeat(n) : kind === 1 ? '0x' + 'f'.repeat(n) : kind === 2 ? `"${'a'.repeat(n)}"` : 'v'.repeat(n);
      out = t.slice(0, at) + lit + t.slice(at);
      name = `huge${['dec', 'hex', 'str', 'ident'][kind]}${n}`;
      break;
    }
    case 9: {
      const n = count(r, 8);
      const chars = [...t];
      for (let i = 0; i < n && chars.length > 0; i++) chars[Math.floor(r() * chars.length)] = String.fromCharCode(Math.floor(r() * 256));
      out = chars.join('');
      name = `bytes${n}`;
      break;
    }
    case 10: {
      const n = count(r, 3000);
      const kind = Math.floor(r() * 3);
      const decl = kind === 0 ? `int ${'*'.repeat(n)}p;` : kind === 1 ? `int arr${'[2]'.repeat(n)};` : `${'struct { '.repeat(n)}int m; ${'} f;'.repeat(n)}`;
      out = decl.replace(/\} f;$/, '} s;') + '\n' + t;
      name = `${['pointers', 'dims', 'structs'][kind]}${n}`;
      break;
    }
    default: {
      cpp = true;
      const dirs = ['#define X(a) a a\n', '#define Y 1\n#if Y\n#endif\n', '#include "/dev/null"\n', '#if\n', '#define F(x) F(x)\n', '#error oops\n'];
      const d = pick(r, dirs);
      out = d + t;
      name = `cpp(${JSON.stringify(d.trim())})`;
      break;
    }
  }
  return [out, name, cpp];
}

/** `count` hostile programs from the seeds, the same ones for the same seed. */
export function mutants(seeds: Program[], seed: number, n: number): Program[] {
  const r = prng(seed);
  const out: Program[] = [];
  for (let i = 0; i < n; i++) {
    const base = seeds[i % seeds.length];
    let p: Program = { ...base, ops: [] };
    const rounds = 1 + Math.floor(r() * 2);
    for (let k = 0; k < rounds; k++) {
      const [text, op, cpp] = mutate(r, p);
      p = { ...p, text, ops: [...p.ops, op], args: cpp && !p.args.includes('-C') ? [...p.args, '-C'] : p.args };
    }
    out.push({ ...p, name: `${base.name}#${i}` });
  }
  return out;
}

/** Thrown by the stand-in runtime: the clause's code was compiled by V8 and started to run. */
class Ran extends Error {}

const stop: ProxyHandler<object> = {
  get() {
    throw new Ran();
  },
  set() {
    throw new Ran();
  },
};

/**
 * Compiles one program as `dtrace -e -s` would (options from its command line, cpp under -C),
 * then hands the clauses' code to V8 and starts each one against a stand-in runtime that stops
 * it at the first thing it touches: deep generated code fails when V8 compiles it, at the first
 * firing. Returns what dtrace would print, or "internal" for anything that is not a DTrace error.
 */
export async function compileProgram(p: Program): Promise<Outcome> {
  const t0 = process.hrtime.bigint();
  const done = (kind: Outcome['kind'], message: string): Outcome => ({ kind, message, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
  const opts = new Options();
  const defs: string[] = [];
  const operands: string[] = [];
  let cpp = false;
  for (let i = 0; i < p.args.length; i++) {
    const a = p.args[i];
    try {
      if (a === '-x') {
        const v = p.args[++i] ?? '';
        const eq = v.indexOf('=');
        opts.set(eq < 0 ? v : v.slice(0, eq), eq < 0 ? null : v.slice(eq + 1));
      } else if (/^-[qw]+$/.test(a)) {
        for (const c of a.slice(1)) opts.set(c === 'q' ? 'quiet' : 'destructive', null);
      } else if (a === '-C') cpp = true;
      else if (a === '-D') defs.push(`-D${p.args[++i]}`);
      else if (!a.startsWith('-')) operands.push(a);
    } catch (e) {
      if (e instanceof OptionError) return done('error', `dtrace: failed to set -x ${a}: ${e.reason}`);
      return done('internal', String(e));
    }
  }
  let text = p.text;
  if (cpp) {
    const r = await runCpp(text, defs, false, undefined, 'ignore');
    if (typeof r !== 'string') return done('error', `dtrace: failed to compile script ${p.name}: ${r.error}`);
    text = r;
  }
  try {
    const registry = new ProbeRegistry();
    registry.add(new DtraceProvider());
    const macros = { args: [p.name, ...operands], defaultArgs: opts.flag('defaultargs'), vars: new Map([['pid', 1], ['target', 0]]), used: new Set<number>() };
    const c = new Compiler(opts, registry, macros);
    registry.add(new ProfileProvider(c.types.get('uint64_t')));
    const prog = c.compile({ text, fromFile: true, name: p.name, level: 3 });
    const never = new Proxy({}, stop) as never;
    c.link(prog.clauses, { rt: never, G: never, D: never, AG: never });
    for (const cl of prog.clauses) {
      try {
        cl.fn(never as never);
      } catch (e) {
        if (!(e instanceof Ran)) throw e;
      }
    }
    return done('ok', '');
  } catch (e) {
    if (e instanceof DCompileError) return done('error', `dtrace: failed to compile script ${p.name}: ${e.format(true, true)}`);
    if (e instanceof DFatalError) return done('error', `dtrace: ${e.message}`);
    return done('internal', `dtrace: internal error: ${e instanceof Error ? e.message : String(e)}`);
  }
}
