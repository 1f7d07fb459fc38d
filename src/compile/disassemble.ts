// dtrace -S: what each clause became, as libdtrace's dt_dis prints each clause's program: the
// generated JavaScript, and whether the clause also compiled to BPF (it then runs in the kernel
// on the probes BPF programs run on: tracepoints, kprobes, uprobes, CPU samples).

import { MAX_OPTIONAL_CAPTURES } from '../kernel/user-memory.js';
import { runsOnTickSamples } from '../providers/profile.js';
import { TASK_BYTES, TASK_READS } from '../providers/task-fields.js';
import { computesFiringValues } from './bpfgen.js';
import type { CompiledClause } from './compile.js';

/** The -S text of one clause (for standard error). */
export function disassemble(c: CompiledClause): string {
  const descs = c.checked.clause.probes.map((p) => p.text.trim()).join(', ');
  const lines = c.source.split('\n');
  const width = String(lines.length).length;
  let s = `\nDisassembly of clause ${descs}, <dt_clause_${c.index}>:\n`;
  const probes = `${c.probes.length} probe${c.probes.length === 1 ? '' : 's'}`;
  // BEGIN, END and ERROR fire in dtrace itself, and so does a tick's clause that stays with the
  // timer (one that prints, or reads nothing of the sample); one with stack() runs in the kernel
  // on sampling probes only (profile, cpc)
  const inDtrace = (p: CompiledClause['probes'][number]): boolean =>
    p.probe.provider === 'dtrace' ||
    (p.probe.provider === 'profile' && p.probe.name.startsWith('tick-') && !runsOnTickSamples(c.plan)) ||
    (c.plan.inKernel?.sampleOnly === true && p.probe.provider !== 'profile' && p.probe.provider !== 'cpc');
  const k = c.probes.every(inDtrace) ? null : c.plan.inKernel;
  if (k === null) {
    s += `runs in the consumer, as JavaScript, on each event of its ${probes}\n`;
    const f = c.plan.firing;
    if (f !== undefined) {
      const n = f.values.length;
      s += `with ${n} value${n === 1 ? '' : 's'} of kernel memory (ctx.firing) that each probe's BPF program reads as it fires, ${f.bytes} bytes a record\n`;
    }
    const who = TASK_READS.filter((r) => c.plan.reads.has(r));
    const writers = c.probes.filter((p) => computesFiringValues(p.probe.provider));
    if (who.length > 0 && writers.length > 0) {
      // a system call's event is captured for it from raw_syscalls' program; another needs a perf event of its own
      const calls = writers.some((p) => p.probe.provider === 'syscall');
      const others = writers.some((p) => p.probe.provider !== 'syscall');
      const limit = `at most ${MAX_OPTIONAL_CAPTURES}${calls ? ' other' : ''} events captured for it alone`;
      const where = !others ? '' : calls ? ` (on every system call's event, and on ${limit})` : ` (on ${limit})`;
      s += `with who fired the probe (${who.join(', ')}) as each probe's BPF program writes it, ${TASK_BYTES} bytes a record${where}\n`;
    }
  } else {
    const n = k.aggregations.length;
    const t = k.threadLocals.length;
    const what = [`${n} aggregation update${n === 1 ? '' : 's'} into per-CPU maps`];
    if (t > 0) what.push(`${t} thread-local variable${t === 1 ? '' : 's'} in a map by thread`);
    const g = k.globals.length;
    if (g > 0) what.push(`${g} global variable${g === 1 ? '' : 's'} in maps shared by the CPUs`);
    const o = k.output;
    if (o !== null) {
      const v = o.printed.size;
      what.push(`a ${o.bytes}-byte record of each firing with ${v} printed value${v === 1 ? '' : 's'}, which the consumer formats with the clause's output actions`);
    }
    s += `runs in the kernel, as BPF (${what.join(', ')}), on those of its ${probes} that BPF programs run on (tracepoints, kprobes, uprobes, CPU samples); elsewhere in the consumer, as JavaScript:\n`;
  }
  lines.forEach((line, i) => (s += `${String(i + 1).padStart(width, '0')}  ${line}\n`));
  return s;
}
