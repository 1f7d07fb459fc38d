// dtrace -l / -lv: list probes, all of them or those the programs' descriptions match.

import type { CompiledClause } from '../compile/compile.js';
import type { ProbeDef } from '../providers/provider.js';
import type { ProbeRegistry } from '../providers/registry.js';

function line(d: ProbeDef): string {
  const p = d.probe;
  return `${String(p.id).padStart(5)} ${p.provider.padStart(10)} ${p.module.padStart(17)} ${p.func.padStart(33)} ${p.name}\n`;
}

/** Stability attributes as dtrace -lv reports them, by provider. */
const ATTRS: Record<string, [string, string, string, string, string, string]> = {
  dtrace: ['Stable', 'Stable', 'Common', 'Stable', 'Stable', 'Common'],
  profile: ['Evolving', 'Evolving', 'Common', 'Evolving', 'Evolving', 'Common'],
  syscall: ['Evolving', 'Evolving', 'Common', 'Private', 'Private', 'ISA'],
  sdt: ['Evolving', 'Evolving', 'ISA', 'Private', 'Private', 'ISA'],
  // Oracle's rawtp: its module, function and name are Private/Unknown, which the description takes
  rawtp: ['Private', 'Private', 'Unknown', 'Private', 'Private', 'ISA'],
  // the stable providers: Oracle's io, ip, tcp, udp and lockstat are Evolving/ISA throughout
  io: ['Evolving', 'Evolving', 'ISA', 'Evolving', 'Evolving', 'ISA'],
  tcp: ['Evolving', 'Evolving', 'ISA', 'Evolving', 'Evolving', 'ISA'],
  lockstat: ['Evolving', 'Evolving', 'ISA', 'Evolving', 'Evolving', 'ISA'],
};

function info(d: ProbeDef): string {
  const a = ATTRS[d.probe.provider] ?? ['Unstable', 'Unstable', 'Common', 'Unstable', 'Unstable', 'Common'];
  let s = '\n\tProbe Description Attributes\n';
  s += `\t\tIdentifier Names: ${a[0]}\n\t\tData Semantics:   ${a[1]}\n\t\tDependency Class: ${a[2]}\n`;
  s += '\n\tArgument Attributes\n';
  s += `\t\tIdentifier Names: ${a[3]}\n\t\tData Semantics:   ${a[4]}\n\t\tDependency Class: ${a[5]}\n`;
  s += '\n\tArgument Types\n';
  const types = d.nativeTypes ?? d.argTypes.map((t) => t.name);
  types.forEach((t, i) => {
    const name = d.argNames?.[i];
    s += `\t\targs[${i}]: ${t}${name ? ` ${name}` : ''}\n`;
  });
  if (types.length === 0) s += '\t\tNone\n';
  return s + '\n';
}

export function listProbes(registry: ProbeRegistry, clauses: CompiledClause[], filtered: boolean, verbose: boolean): string {
  let out = `${'ID'.padStart(5)} ${'PROVIDER'.padStart(10)} ${'MODULE'.padStart(17)} ${'FUNCTION'.padStart(33)} NAME\n`;
  // a Set: a glob over pid probe names lists one probe per instruction (100,000 in libc)
  const defs = new Set<ProbeDef>();
  if (!filtered) for (const d of registry.all()) defs.add(d);
  else for (const c of clauses) for (const p of c.probes) defs.add(p);
  for (const d of defs) {
    out += line(d);
    if (verbose) out += info(registry.describe(d));
  }
  return out;
}
