// The sdt provider: every kernel tracepoint, as sdt:<system>::<event> (Oracle DTrace's naming:
// the module is the tracepoint's group). Arguments are the event's fields, in order, typed from
// its format file; char arrays and __data_loc strings are D strings.       [dt_prov_sdt.c]

import type { EventField } from '../kernel/event-format.js';
import { readEventFormat } from '../kernel/event-format.js';
import { availableEvents, tracefsRoot } from '../kernel/tracefs.js';
import type { TypeScope } from '../lang/typescope.js';
import {
  argFields,
  argsRead,
  compileDecoder,
  describeFromFields,
  fillTask,
  kernelFilter,
  type FilterField,
  userCopiesOf,
  wantsStack,
} from './kernel-event.js';
import type { FiringEnv, NewProbe, ProbeDef, Provider } from './provider.js';

/** groups that other providers present (or that are dynamic probes, not tracepoints) */
const OTHER_PROVIDERS = new Set(['syscalls', 'kprobes', 'uprobes', 'ftrace']);

export class SdtProvider implements Provider {
  readonly name = 'sdt';
  private root = '';

  constructor(private readonly types: TypeScope) {}

  populate(newProbe: NewProbe): void {
    this.root = tracefsRoot();
    for (const [system, event] of availableEvents(this.root)) {
      if (OTHER_PROVIDERS.has(system)) continue;
      newProbe(system, '', event, []);
    }
  }

  private fields(def: ProbeDef): EventField[] {
    return argFields(readEventFormat(this.root, def.probe.module, def.probe.name));
  }

  describe(def: ProbeDef): void {
    describeFromFields(def, this.fields(def), this.types);
  }

  enable(probes: ProbeDef[], env: FiringEnv): void {
    const tracer = env.tracer();
    const ctx = env.ctx;
    const procs = tracer.procs;
    for (const def of probes) {
      const system = def.probe.module;
      const event = def.probe.name;
      const format = tracer.format(system, event);
      const fields = argFields(format);
      const plans = env.plans(def);
      const fieldOf = (d: string): FilterField | null => {
        const m = /^arg([0-9])$/.exec(d);
        const f = m ? fields[Number(m[1])] : undefined;
        if (!f || f.charArray || f.dataLoc || f.size > 8) return null;
        return { name: f.name, string: false, signed: f.signed };
      };
      const { filter, never } = kernelFilter(def, plans, fieldOf);
      if (never) continue;
      const decode = compileDecoder(fields, argsRead(plans));
      const pidAt = tracer.pidOffset(format);
      const stack = wantsStack(plans);
      const copies = env.copiesUserMemory ? userCopiesOf(fields) : [];
      if (copies.length > 0) tracer.user.want(format, copies);
      const copying = copies.length > 0;
      const id = format.id;
      tracer.subscribe(system, event, filter, (cpu, page, view, off, _len, ts) => {
        const tid = view.getInt32(off + pidAt, true);
        fillTask(ctx, procs, cpu, tid, ts);
        decode(page, view, off, ctx);
        if (copying) tracer.attachCopies(ctx, tid, id, ts);
        if (stack) ctx.kstackLen = tracer.kernelStack(cpu, ctx.kstack);
        env.fire(def);
      }, stack);
    }
  }

  disable(): void {
    // the session's tracer owns the events
  }
}
