// The syscall provider: syscall:vmlinux:<name>:entry and :return for every system call the
// kernel traces (events/syscalls/sys_enter_* and sys_exit_*), under the kernel's own names
// (chdir, newstat, ...). Entry arguments are the call's, typed from the format file; a
// return probe's arg0 and arg1 are the return value, and errno is set from it. [dt_prov_syscall.c]

import type { EventField } from '../kernel/event-format.js';
import { availableEvents, tracefsRoot } from '../kernel/tracefs.js';
import { readEventFormat } from '../kernel/event-format.js';
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

const SYSTEM = 'syscalls';
const ENTRY = 'sys_enter_';
const EXIT = 'sys_exit_';
/** the format's first field, __syscall_nr, is not an argument */
const SKIP = 1;
/** return values in (-MAX_ERRNO, 0) are errors; DTrace takes -2048 as the bound */
const ERRNO_BOUND = -2048n;

export class SyscallProvider implements Provider {
  readonly name = 'syscall';
  private readonly events = new Map<ProbeDef, string>();
  private root = '';

  constructor(private readonly types: TypeScope) {}

  populate(newProbe: NewProbe): void {
    this.root = tracefsRoot();
    for (const [system, event] of availableEvents(this.root)) {
      if (system !== SYSTEM) continue;
      let def: ProbeDef;
      if (event.startsWith(ENTRY)) def = newProbe('vmlinux', event.slice(ENTRY.length), 'entry', []);
      else if (event.startsWith(EXIT)) def = newProbe('vmlinux', event.slice(EXIT.length), 'return', []);
      else continue;
      this.events.set(def, event);
    }
  }

  private fields(def: ProbeDef): EventField[] {
    return argFields(readEventFormat(this.root, SYSTEM, this.events.get(def)!), SKIP);
  }

  describe(def: ProbeDef): void {
    describeFromFields(def, this.fields(def), this.types);
  }

  enable(probes: ProbeDef[], env: FiringEnv): void {
    const tracer = env.tracer();
    const ctx = env.ctx;
    const procs = tracer.procs;
    for (const def of probes) {
      const event = this.events.get(def)!;
      const format = tracer.format(SYSTEM, event);
      const fields = argFields(format, SKIP);
      const isReturn = def.probe.name === 'return';
      const plans = env.plans(def);
      const fieldOf = (d: string): FilterField | null => {
        const m = /^arg([0-9])$/.exec(d);
        if (!m) return null;
        const f = fields[isReturn ? 0 : Number(m[1])];
        if (!f || f.charArray || f.dataLoc || f.size > 8 || (isReturn && Number(m[1]) > 1)) return null;
        return { name: f.name, string: false, signed: f.signed };
      };
      const { filter, never } = kernelFilter(def, plans, fieldOf);
      if (never) continue;
      // a return probe always reads its value: errno comes from it
      const decode = isReturn
        ? compileDecoder(
            fields,
            new Set([0]),
            `a[1] = a[0];\nif (a[0] < 0n && a[0] > ${ERRNO_BOUND}n) ctx.errno = Number(-a[0]);\n`,
          )
        : compileDecoder(fields, argsRead(plans));
      const pidAt = tracer.pidOffset(format);
      const stack = wantsStack(plans);
      // copies of what pointer arguments point to, taken when the call is made
      const copies = env.copiesUserMemory && !isReturn ? userCopiesOf(fields) : [];
      if (copies.length > 0) tracer.user.want(format, copies);
      const copying = copies.length > 0;
      const id = format.id;
      tracer.subscribe(SYSTEM, event, filter, (cpu, page, view, off, _len, ts) => {
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
    // the session's tracer owns the events: stopping it stops them
  }
}
