// The syscall provider: syscall:vmlinux:<name>:entry and :return for every system call the
// kernel traces (events/syscalls/sys_enter_* and sys_exit_*), under the kernel's own names
// (chdir, newstat, ...). Entry arguments are the call's, typed from the format file; a
// return probe's arg0 and arg1 are the return value, and errno is set from it. [dt_prov_syscall.c]

import type { EventField, EventFormat } from '../kernel/event-format.js';
import type { KernelTracer } from '../kernel/tracer.js';
import { availableEvents, tracefsRoot } from '../kernel/tracefs.js';
import { readEventFormat } from '../kernel/event-format.js';
import type { TypeScope } from '../lang/typescope.js';
import { compatSyscallFlag, syscallNumbers } from '../kernel/syscall-numbers.js';
import { SYSCALL_DISPATCH_MIN } from '../kernel/bpf/syscall-dispatch.js';
import { type ClausePlan, type KernelArg, type KernelClause, type KernelProbe, sharedClausesKey } from './clause-plan.js';
import type { AttachResult } from './in-kernel.js';
import { argFields, compileDecoder, describeFromFields, enableEventProbe, kernelArgOf, kernelRefused } from './kernel-event.js';
import type { FiringEnv, NewProbe, ProbeDef, Provider } from './provider.js';

const SYSTEM = 'syscalls';
const ENTRY = 'sys_enter_';
const EXIT = 'sys_exit_';
/** the format's first field, __syscall_nr, is not an argument */
const SKIP = 1;
/** return values in (-MAX_ERRNO, 0) are errors; DTrace takes -2048 as the bound */
const ERRNO_BOUND = -2048n;

/** Probes whose BPF clauses one program on raw_syscalls runs. */
interface DispatchGroup {
  isReturn: boolean;
  plans: ClausePlan[];
  clauses: KernelClause[];
  /** what the members share: their arguments' places, the names the clauses compare */
  shared: KernelProbe;
  members: Array<{ nr: number; probe: KernelProbe; def: ProbeDef }>;
}

/** A syscall probe's argument i: a return probe's arg0 and arg1 are both its one field, the return value. */
function fieldOf(fields: EventField[], isReturn: boolean): (i: number) => EventField | null {
  return (i) => (isReturn ? (i <= 1 ? fields[0] : null) : (fields[i] ?? null));
}

export class SyscallProvider implements Provider {
  readonly name = 'syscall';
  private readonly events = new Map<ProbeDef, string>();
  private root = '';

  constructor(private readonly types: TypeScope) {}

  canName(name: string): boolean {
    return name === 'entry' || name === 'return';
  }

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

  kernelPrograms(probes: ProbeDef[], env: FiringEnv): number {
    const { groups, alone } = this.dispatchPlan(probes, env);
    return groups.length + alone;
  }

  enable(probes: ProbeDef[], env: FiringEnv): void {
    const tracer = env.tracer();
    // what could not run in the kernel from a shared program runs in dtrace
    const inDtrace = this.dispatch(probes, env);
    for (const def of probes) {
      // every clause ran in the kernel
      if (env.plans(def).length === 0) continue;
      const event = this.events.get(def)!;
      const fields = argFields(tracer.format(SYSTEM, event), SKIP);
      const isReturn = def.probe.name === 'return';
      enableEventProbe(env, {
        def,
        system: SYSTEM,
        event,
        fields,
        fieldOf: fieldOf(fields, isReturn),
        // it always reads the value: errno comes from it
        decoder: isReturn
          ? compileDecoder(fields, new Set([0]), `a[1] = a[0];\nif (a[0] < 0n && a[0] > ${ERRNO_BOUND}n) ctx.errno = Number(-a[0]);\n`)
          : undefined,
        // what pointer arguments point to is copied when the call is made, and again when it
        // returns (for a pointer saved at entry and read at return)
        copies: !isReturn,
        kernelArgs: !inDtrace.has(def),
        returnOf: isReturn ? this.entryOf(tracer, event) : undefined,
      });
    }
  }

  /**
   * Probes whose BPF clauses run from raw_syscalls' programs (one for each set of probes with
   * the same clauses), where enough system calls have some for that to pay: each such program
   * runs on every system call, a probe's own program only on its call. A probe whose clauses
   * compare probefunc (or read an argument typed differently) shares only with its likes.
   */
  private dispatchPlan(probes: ProbeDef[], env: FiringEnv): { groups: DispatchGroup[]; alone: number } {
    const numbers = syscallNumbers();
    const tracer = env.tracer();
    const groups = new Map<string, DispatchGroup>();
    const planIds = new Map<ClausePlan, number>();
    let alone = 0;
    const candidates: Array<{ def: ProbeDef; plans: ClausePlan[]; nr: number | undefined }> = [];
    const perDirection = [0, 0];
    for (const def of probes) {
      // (stack() runs in sample programs only: such a clause stays in dtrace)
      const plans = env.plans(def).filter((plan) => plan.inKernel !== null && plan.inKernel.sampleOnly !== true);
      if (plans.length === 0) continue;
      const nr = numbers.get(def.probe.func);
      candidates.push({ def, plans, nr });
      if (nr !== undefined) perDirection[def.probe.name === 'return' ? 1 : 0]++;
    }
    for (const { def, plans, nr } of candidates) {
      const isReturn = def.probe.name === 'return';
      if (nr === undefined || perDirection[isReturn ? 1 : 0] < SYSCALL_DISPATCH_MIN) {
        alone++;
        continue;
      }
      // the event's format only if a clause reads an argument (reading 350 formats is most of a wide probe's start-up)
      let fields: EventField[] | null = null;
      const arg = (i: number): KernelArg | null => {
        fields ??= argFields(tracer.format(SYSTEM, this.events.get(def)!), SKIP);
        return kernelArgOf({ fields, fieldOf: fieldOf(fields, isReturn) }, i);
      };
      const probe: KernelProbe = { ...def.probe, context: 'record', arg };
      const clauses = plans.map((plan) => plan.inKernel!);
      const sig: string[] = [def.probe.name, ...sharedClausesKey(plans, def.probe, planIds)];
      for (const i of [...new Set(clauses.flatMap((c) => c.args))].sort()) sig.push(`a${i}=${JSON.stringify(probe.arg(i))}`);
      const key = sig.join('|');
      let g = groups.get(key);
      if (g === undefined) {
        g = { isReturn, plans, clauses, shared: { ...probe, id: null }, members: [] };
        groups.set(key, g);
      }
      g.members.push({ nr, probe, def });
    }
    return { groups: [...groups.values()], alone };
  }

  /** Runs the shared programs; returns the probes whose BPF clauses must run in dtrace instead. */
  private dispatch(probes: ProbeDef[], env: FiringEnv): Set<ProbeDef> {
    const inDtrace = new Set<ProbeDef>();
    const ik = env.inKernel();
    if (ik === null) return inDtrace;
    const { groups } = this.dispatchPlan(probes, env);
    for (const g of groups) {
      const event = g.isReturn ? 'sys_exit' : 'sys_enter';
      let r: AttachResult;
      try {
        const id = env.tracer().format('raw_syscalls', event).id;
        const label = `syscall:::${g.isReturn ? 'return' : 'entry'} (${g.members.length} system calls, from raw_syscalls:${event})`;
        r = ik.attachDispatch(id, label, g.shared, g.members, g.clauses, compatSyscallFlag());
      } catch (e) {
        r = { ok: false, why: (e as Error).message };
      }
      if (!r.ok) {
        kernelRefused(g.members[0].def.probe.desc, g.clauses, r.why, r.clause);
        for (const m of g.members) inDtrace.add(m.def);
        continue;
      }
      for (const m of g.members) env.ranInKernel(m.def, g.plans);
    }
    return inDtrace;
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
