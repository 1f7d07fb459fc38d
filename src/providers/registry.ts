// The probe table: every provider's probes with stable IDs, and description matching with
// DTrace's glob syntax.                                                   [dt_probe.c, dt_provider.c]

import { DCompileError } from '../lang/diagnostics.js';
import type { DType } from '../lang/types.js';
import { Probe } from '../runtime/context.js';
import type { NewProbe, ProbeDef, ProbeDesc, Provider, ProviderFamily } from './provider.js';

/**
 * Splits "p:m:f:n". Fewer fields are right-aligned at `level` (3: name, as -n and scripts; 2:
 * function, as -f; 1: module, as -m; 0: provider, as -P): "BEGIN" is a name, -f "foo" a function.
 */
export function parseProbeDesc(text: string, line: number, level = 3): ProbeDesc {
  const parts = text.split(':');
  if (parts.length > level + 1) {
    throw new DCompileError('D_PDESC_INVAL', line, `invalid probe description "${text}": Overspecified probe description`);
  }
  while (parts.length < level + 1) parts.unshift('');
  while (parts.length < 4) parts.push('');
  return { provider: parts[0], module: parts[1], func: parts[2], name: parts[3] };
}

const GLOB_CHARS = /[*?[\\]/;

export function isGlob(s: string): boolean {
  return GLOB_CHARS.test(s);
}

/**
 * One character position of a compiled glob: a character code, or a test (?, [set]). A
 * position that can never match (a trailing backslash) is a test that is always false.
 */
type CharTest = number | ((c: number) => boolean);

/** A glob as the literal runs between its stars: no star means one run matching whole. */
interface Glob {
  runs: CharTest[][];
}

const globCache = new Map<string, Glob>();

/**
 * gmatch(3GEN) as Oracle's DTrace runs it (glibc fnmatch with no flags): *, ?, [set] with ! or ^,
 * ranges and [:class:], and \ escapes. An empty pattern matches anything.
 *
 * Matched without backtracking: the runs between stars are fixed-length, so the first must
 * match at the start, the last at the end, and each middle one at its leftmost place after the
 * one before (any later place leaves less room for the rest). Time is at most the string's
 * length times the pattern's, however many stars there are.
 */
export function globMatch(pattern: string, s: string): boolean {
  if (pattern === '') return true;
  if (!isGlob(pattern)) return pattern === s;
  let g = globCache.get(pattern);
  if (g === undefined) {
    g = compileGlob(pattern);
    globCache.set(pattern, g);
  }
  const runs = g.runs;
  if (runs.length === 1) return s.length === runs[0].length && runAt(runs[0], s, 0);
  const first = runs[0];
  const last = runs[runs.length - 1];
  const end = s.length - last.length;
  if (end < first.length || !runAt(first, s, 0) || !runAt(last, s, end)) return false;
  let pos = first.length;
  for (let i = 1; i < runs.length - 1; i++) {
    const run = runs[i];
    let at = pos;
    while (at + run.length <= end && !runAt(run, s, at)) at++;
    if (at + run.length > end) return false;
    pos = at + run.length;
  }
  return true;
}

function runAt(run: CharTest[], s: string, at: number): boolean {
  for (let i = 0; i < run.length; i++) {
    const t = run[i];
    const c = s.charCodeAt(at + i);
    if (typeof t === 'number' ? t !== c : !t(c)) return false;
  }
  return true;
}

const NEVER: CharTest = () => false;
const ANY: CharTest = () => true;

function compileGlob(p: string): Glob {
  const runs: CharTest[][] = [[]];
  for (let i = 0; i < p.length; ) {
    const c = p.charCodeAt(i);
    if (c === 42 /* * */) {
      if (runs[runs.length - 1].length > 0 || runs.length === 1) runs.push([]);
      i++;
      continue;
    }
    const run = runs[runs.length - 1];
    if (c === 63 /* ? */) {
      run.push(ANY);
      i++;
    } else if (c === 92 /* \ */) {
      // a trailing backslash escapes nothing, and fnmatch then matches nothing
      run.push(i + 1 < p.length ? p.charCodeAt(i + 1) : NEVER);
      i += 2;
    } else if (c === 91 /* [ */) {
      const b = bracket(p, i + 1);
      run.push(b.test);
      i = b.next;
    } else {
      run.push(c);
      i++;
    }
  }
  return { runs };
}

const CLASSES: Record<string, (c: number) => boolean> = {
  alnum: (c) => isAlpha(c) || isDigit(c),
  alpha: (c) => isAlpha(c),
  blank: (c) => c === 32 || c === 9,
  cntrl: (c) => c < 32 || c === 127,
  digit: (c) => isDigit(c),
  graph: (c) => c > 32 && c < 127,
  lower: (c) => c >= 97 && c <= 122,
  print: (c) => c >= 32 && c < 127,
  punct: (c) => c > 32 && c < 127 && !isAlpha(c) && !isDigit(c),
  space: (c) => c === 32 || (c >= 9 && c <= 13),
  upper: (c) => c >= 65 && c <= 90,
  xdigit: (c) => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102),
};

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * A bracket expression starting after its "[". Its elements are tried in order, as fnmatch
 * tries them: one that cannot be read (an unknown class, a backslash or range at the end)
 * fails the position. Unterminated, the "[" is an ordinary character, but fnmatch still reads
 * the elements first and fails if one of them matches.
 */
function bracket(p: string, start: number): { test: CharTest; next: number } {
  let i = start;
  const neg = p[i] === '!' || p[i] === '^';
  if (neg) i++;
  // each element answers: matched, not matched, or fail the position
  const elems: Array<(c: number) => boolean | 'fail'> = [];
  let first = true;
  for (;;) {
    if (i >= p.length) {
      // unterminated: "[" is an ordinary character
      const unterminated = (c: number): boolean => {
        for (const e of elems) {
          const r = e(c);
          if (r !== false) return false;
        }
        return c === 91;
      };
      return { test: unterminated, next: start };
    }
    let ch = p.charCodeAt(i);
    if (ch === 93 /* ] */ && !first) return { test: bracketTest(elems, neg), next: i + 1 };
    first = false;
    if (ch === 91 && (p[i + 1] === ':' || p[i + 1] === '=' || p[i + 1] === '.')) {
      const kind = p[i + 1];
      const close = p.indexOf(kind + ']', i + 2);
      if (close >= 0 && close - (i + 2) <= 256) {
        const name = p.slice(i + 2, close);
        i = close + 2;
        if (kind === ':') {
          const cls = CLASSES[name];
          elems.push(cls === undefined ? () => 'fail' : cls);
          continue;
        }
        // C locale: [=c=] and [.c.] are the character itself
        if (name.length !== 1) {
          elems.push(() => 'fail');
          continue;
        }
        ch = name.charCodeAt(0);
        i -= 1; // as if the character had just been read
        i = rangeOrChar(p, i, ch, elems);
        continue;
      }
    }
    if (ch === 92 /* \ */) {
      if (i + 1 >= p.length) {
        elems.push(() => 'fail');
        i++;
        continue;
      }
      i++;
      ch = p.charCodeAt(i);
    }
    i = rangeOrChar(p, i, ch, elems);
  }
}

/** After the element character `lo` (at p[i]): "lo-hi" or "lo" alone; returns the next index. */
function rangeOrChar(p: string, i: number, lo: number, elems: Array<(c: number) => boolean | 'fail'>): number {
  if (p[i + 1] === '-' && i + 2 < p.length && p[i + 2] !== ']') {
    let j = i + 2;
    if (p[j] === '\\') j++;
    if (j >= p.length) {
      elems.push((c) => (c === lo ? true : 'fail'));
      return j;
    }
    const hi = p.charCodeAt(j);
    elems.push((c) => c >= lo && c <= hi);
    return j + 1;
  }
  elems.push((c) => c === lo);
  return i + 1;
}

function bracketTest(elems: Array<(c: number) => boolean | 'fail'>, neg: boolean): CharTest {
  return (c) => {
    for (const e of elems) {
      const r = e(c);
      if (r === 'fail') return false;
      if (r) return !neg;
    }
    return neg;
  };
}

export class ProbeRegistry {
  readonly probes: ProbeDef[] = [];
  readonly providers: Provider[] = [];
  private readonly owner = new Map<ProbeDef, Provider>();
  private readonly populated = new Set<Provider>();
  /** providers that announced the probes of some descriptions only (populateFor) */
  private readonly partly = new Set<Provider>();
  /** families of providers made on demand (pid<N>), and the providers they made */
  private readonly families: ProviderFamily[] = [];
  private readonly made = new Set<Provider>();
  /** providers that have their own idea of which descriptions match their probes */
  private readonly matchers = new Map<string, Provider>();
  /** probes by name: most descriptions name one exactly (BEGIN, entry, tick-1s) */
  private readonly byName = new Map<string, ProbeDef[]>();

  /**
   * Registers a provider. A lazy one (the kernel's: thousands of probes read from tracefs)
   * announces its probes the first time a description may name it; the others at once, so
   * dtrace:::BEGIN is always probe 1.
   */
  add(provider: Provider, lazy = false): void {
    this.providers.push(provider);
    if (provider.matches) this.matchers.set(provider.name, provider);
    if (!lazy) this.populate(provider.name);
  }

  /** Registers a family of providers made when a description's provider name asks for them. */
  addFamily(family: ProviderFamily): void {
    this.families.push(family);
  }

  /**
   * Populates the providers a provider-name pattern may name: a provider named outright only
   * with the probes `desc` can match, if it can narrow them. A provider that cannot be read
   * (no privileges, no tracefs) fails loudly only when the pattern names it exactly.
   */
  private populate(pattern: string, desc?: ProbeDesc): void {
    // a family's provider is named by the pattern alone (pid$target), and narrows any
    // description (it has no list of every probe to fall back on)
    const named = new Set<Provider>();
    for (const f of this.families) {
      for (const p of f.instantiate(pattern)) {
        named.add(p);
        if (this.made.has(p)) continue;
        this.made.add(p);
        this.add(p, true);
      }
    }
    for (const p of this.providers) {
      if (this.populated.has(p) || !globMatch(pattern, p.name)) continue;
      // a family's provider makes probes only for the descriptions that name it (pid123, not *)
      if (this.made.has(p) && !named.has(p)) continue;
      const newProbe: NewProbe = (m, f, n, args) => this.newProbe(p, m, f, n, args);
      try {
        if (desc !== undefined && pattern !== p.name && p.canName !== undefined && desc.name !== '' && !/[*?[\\]/.test(desc.name) && !p.canName(desc.name)) continue;
        if (desc !== undefined && (pattern === p.name || named.has(p)) && p.populateFor?.(desc, newProbe)) {
          this.partly.add(p);
          continue;
        }
        this.populated.add(p);
        p.populate(newProbe);
      } catch (e) {
        if (pattern === p.name || this.made.has(p)) throw e;
      }
    }
  }

  /** Every probe of every provider (dtrace -l). */
  all(): ProbeDef[] {
    this.populate('');
    return this.probes;
  }

  private newProbe(provider: Provider, module: string, func: string, name: string, argTypes: DType[]): ProbeDef {
    const def: ProbeDef = {
      probe: new Probe(this.probes.length + 1, provider.name, module, func, name),
      argTypes,
      described: provider.describe === undefined,
    };
    this.probes.push(def);
    this.owner.set(def, provider);
    const same = this.byName.get(name);
    if (same) same.push(def);
    else this.byName.set(name, [def]);
    return def;
  }

  providerOf(def: ProbeDef): Provider {
    const p = this.owner.get(def);
    if (!p) throw new Error(`internal: probe ${def.probe.desc} has no provider`);
    return p;
  }

  /** The probe's argument types, read from the kernel the first time they are needed. */
  describe(def: ProbeDef): ProbeDef {
    if (!def.described) {
      def.described = true;
      this.providerOf(def).describe?.(def);
    }
    return def;
  }

  byId(id: number): ProbeDef | undefined {
    return this.probes[id - 1];
  }

  /** Whether a description matches a probe (by glob, or as its provider knows the probe's names). */
  descMatches(desc: ProbeDesc, d: ProbeDef): boolean {
    if (!globMatch(desc.provider, d.probe.provider)) return false;
    const own = this.matchers.size > 0 ? this.matchers.get(d.probe.provider) : undefined;
    if (own !== undefined) return own.matches!(desc, d);
    return globMatch(desc.module, d.probe.module) && globMatch(desc.func, d.probe.func) && globMatch(desc.name, d.probe.name);
  }

  /** How a provider announces probes after the descriptions were matched (pid: objects loaded later). */
  announcer(p: Provider): NewProbe {
    return (m, f, n, args) => this.newProbe(p, m, f, n, args);
  }

  /** Probes matching a description, creating an exact one on demand if a provider can. */
  match(desc: ProbeDesc): ProbeDef[] {
    this.populate(desc.provider, desc);
    let candidates = desc.name !== '' && !isGlob(desc.name) ? (this.byName.get(desc.name) ?? []) : this.probes;
    // a provider's own matching may know the name under another spelling (pid's 0x10 for 10)
    if (candidates.length === 0 && this.matchers.size > 0) candidates = this.probes;
    const out = candidates.filter((d) => this.descMatches(desc, d));
    if (out.length > 0) return out;
    for (const p of this.providers) {
      if (!p.provide || (!this.populated.has(p) && !this.partly.has(p))) continue;
      if (desc.provider !== '' && desc.provider !== p.name) continue;
      // only a provider named outright is asked about a pattern
      if ((isGlob(desc.name) || desc.name === '') && desc.provider !== p.name) continue;
      const def = p.provide(desc, (m, f, n, args) => this.newProbe(p, m, f, n, args));
      if (def) return Array.isArray(def) ? def : [def];
    }
    return out;
  }
}
