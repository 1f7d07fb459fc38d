// The probe table: every provider's probes with stable IDs, and description matching with
// DTrace's glob syntax.                                                   [dt_probe.c, dt_provider.c]

import { DCompileError } from '../lang/diagnostics.js';
import type { DType } from '../lang/types.js';
import { Probe } from '../runtime/context.js';
import type { ProbeDef, ProbeDesc, Provider } from './provider.js';

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

const globCache = new Map<string, RegExp>();

/** gmatch(3GEN) semantics: *, ?, [set], [!set], \c. An empty pattern matches anything. */
export function globMatch(pattern: string, s: string): boolean {
  if (pattern === '') return true;
  if (!isGlob(pattern)) return pattern === s;
  let re = globCache.get(pattern);
  if (!re) {
    let src = '^';
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i];
      if (c === '*') src += '.*';
      else if (c === '?') src += '.';
      else if (c === '\\' && i + 1 < pattern.length) src += escapeRe(pattern[++i]);
      else if (c === '[') {
        const close = pattern.indexOf(']', i + 2);
        if (close < 0) {
          src += '\\[';
          continue;
        }
        let set = pattern.slice(i + 1, close);
        if (set.startsWith('!')) set = '^' + set.slice(1);
        src += '[' + set.replace(/\\/g, '\\\\') + ']';
        i = close;
      } else src += escapeRe(c);
    }
    re = new RegExp(src + '$', 's');
    globCache.set(pattern, re);
  }
  return re.test(s);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export class ProbeRegistry {
  readonly probes: ProbeDef[] = [];
  readonly providers: Provider[] = [];
  private readonly owner = new Map<ProbeDef, Provider>();
  private readonly populated = new Set<Provider>();
  /** probes by name: most descriptions name one exactly (BEGIN, entry, tick-1s) */
  private readonly byName = new Map<string, ProbeDef[]>();

  /**
   * Registers a provider. A lazy one (the kernel's: thousands of probes read from tracefs)
   * announces its probes the first time a description may name it; the others at once, so
   * dtrace:::BEGIN is always probe 1.
   */
  add(provider: Provider, lazy = false): void {
    this.providers.push(provider);
    if (!lazy) this.populate(provider.name);
  }

  /**
   * Populates the providers a provider-name pattern may name. A provider that cannot be read
   * (no privileges, no tracefs) fails loudly only when the pattern names it exactly.
   */
  private populate(pattern: string): void {
    for (const p of this.providers) {
      if (this.populated.has(p) || !globMatch(pattern, p.name)) continue;
      this.populated.add(p);
      try {
        p.populate((m, f, n, args) => this.newProbe(p, m, f, n, args));
      } catch (e) {
        if (pattern === p.name) throw e;
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

  /** Probes matching a description, creating an exact one on demand if a provider can. */
  match(desc: ProbeDesc): ProbeDef[] {
    this.populate(desc.provider);
    const candidates = desc.name !== '' && !isGlob(desc.name) ? (this.byName.get(desc.name) ?? []) : this.probes;
    const out = candidates.filter(
      (d) =>
        globMatch(desc.provider, d.probe.provider) &&
        globMatch(desc.module, d.probe.module) &&
        globMatch(desc.func, d.probe.func) &&
        globMatch(desc.name, d.probe.name),
    );
    if (out.length > 0) return out;
    for (const p of this.providers) {
      if (!p.provide || !this.populated.has(p)) continue;
      if (desc.provider !== '' && desc.provider !== p.name) continue;
      // only a provider named outright is asked about a pattern
      if ((isGlob(desc.name) || desc.name === '') && desc.provider !== p.name) continue;
      const def = p.provide(desc, (m, f, n, args) => this.newProbe(p, m, f, n, args));
      if (def) return Array.isArray(def) ? def : [def];
    }
    return out;
  }
}
