// dtrace -S: what each clause became, as libdtrace's dt_dis prints each clause's program: the
// generated JavaScript, and whether the clause also compiled to BPF (it then runs in the kernel
// on probes that are tracepoints, where every clause of the probe did).

import type { CompiledClause } from './compile.js';

/** The -S text of one clause (for standard error). */
export function disassemble(c: CompiledClause): string {
  const descs = c.checked.clause.probes.map((p) => p.text.trim()).join(', ');
  const lines = c.source.split('\n');
  const width = String(lines.length).length;
  let s = `\nDisassembly of clause ${descs}, <dt_clause_${c.index}>:\n`;
  const probes = `${c.probes.length} probe${c.probes.length === 1 ? '' : 's'}`;
  const k = c.plan.inKernel;
  if (k === null) s += `runs in the consumer, as JavaScript, on each event of its ${probes}\n`;
  else {
    const n = k.aggregations.length;
    s += `runs in the kernel, as BPF (${n} aggregation update${n === 1 ? '' : 's'} into per-CPU maps), on those of its ${probes} that are tracepoints and whose clauses all compiled to BPF; elsewhere in the consumer, as JavaScript:\n`;
  }
  lines.forEach((line, i) => (s += `${String(i + 1).padStart(width, '0')}  ${line}\n`));
  return s;
}
