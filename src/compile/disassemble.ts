// dtrace -S: what each clause became, as libdtrace's dt_dis prints each clause's program. Every
// clause runs in the consumer today, as generated JavaScript; D compiled to BPF will be shown
// here beside it.

import type { CompiledClause } from './compile.js';

/** The -S text of one clause (for standard error). */
export function disassemble(c: CompiledClause): string {
  const descs = c.checked.clause.probes.map((p) => p.text.trim()).join(', ');
  const lines = c.source.split('\n');
  const width = String(lines.length).length;
  let s = `\nDisassembly of clause ${descs}, <dt_clause_${c.index}>:\n`;
  s += `runs in the consumer, as JavaScript, on each event of its ${c.probes.length} probe${c.probes.length === 1 ? '' : 's'}\n`;
  lines.forEach((line, i) => (s += `${String(i + 1).padStart(width, '0')}  ${line}\n`));
  return s;
}
