// The syscall provider: syscall:vmlinux:<name>:entry and :return for every system call the
// kernel traces (events/syscalls/sys_enter_* and sys_exit_*), under the kernel's own names
// (chdir, newstat, ...). Entry arguments are the call's, typed from the format file; a
// return probe's arg0 and arg1 are the return value, and errno is set from it. [dt_prov_syscall.c]

import type { EventField, EventFormat } from '../kernel/event-format.js';
import type { KernelTracer } from '../kernel/tracer.js';
import { availableEvents, tracefsRoot } from '../kernel/tracefs.js';
import { readEventFormat } from '../kernel/event-format.js';
import type { TypeScope } from '../lang/typescope.js';
import { argFields, compileDecoder, describeFromFields, enableEventProbe } from './kernel-event.js';
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
    for (const def of probes) {
      const event = this.events.get(def)!;
      const fields = argFields(tracer.format(SYSTEM, event), SKIP);
      const isReturn = def.probe.name === 'return';
      enableEventProbe(env, {
        def,
        system: SYSTEM,
        event,
        fields,
        // a return probe's arg0 and arg1 are both its one field, the return value
        fieldOf: (i) => (isReturn ? (i <= 1 ? fields[0] : null) : (fields[i] ?? null)),
        // it always reads the value: errno comes from it
        decoder: isReturn
          ? compileDecoder(fields, new Set([0]), `a[1] = a[0];\nif (a[0] < 0n && a[0] > ${ERRNO_BOUND}n) ctx.errno = Number(-a[0]);\n`)
          : undefined,
        // what pointer arguments point to is copied when the call is made, and again when it
        // returns (for a pointer saved at entry and read at return)
        copies: !isReturn,
        kernelArgs: true,
        returnOf: isReturn ? this.entryOf(tracer, event) : undefined,
      });
    }
  }

  /** The entry event of a system call's return event, with its arguments, if it has one. */
  private entryOf(tracer: KernelTracer, exitEvent: string): { format: EventFormat; fields: EventField[] } | undefined {
    const entry = ENTRY + exitEvent.slice(EXIT.length);
    if (!availableEvents(this.root).some(([sys, ev]) => sys === SYSTEM && ev === entry)) return undefined;
    const format = tracer.format(SYSTEM, entry);
    return { format, fields: argFields(format, SKIP) };
  }

  disable(): void {
    // the session's tracer owns the events: stopping it stops them
  }
}
