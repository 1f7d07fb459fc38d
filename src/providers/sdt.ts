// The sdt provider: every kernel tracepoint, as sdt:<system>::<event> (Oracle DTrace's naming:
// the module is the tracepoint's group). Arguments are the event's fields, in order, typed from
// its format file; char arrays and __data_loc strings are D strings.       [dt_prov_sdt.c]

import type { EventField } from '../kernel/event-format.js';
import { readEventFormat } from '../kernel/event-format.js';
import { availableEvents, hasEventNamed, tracefsRoot } from '../kernel/tracefs.js';
import type { TypeScope } from '../lang/typescope.js';
import { argFields, describeFromFields, enableEventProbe } from './kernel-event.js';
import type { FiringEnv, NewProbe, ProbeDef, Provider } from './provider.js';

/** groups that other providers present (or that are dynamic probes, not tracepoints) */
const OTHER_PROVIDERS = new Set(['syscalls', 'kprobes', 'uprobes', 'ftrace']);

export class SdtProvider implements Provider {
  readonly name = 'sdt';
  private root = '';

  constructor(private readonly types: TypeScope) {}

  canName(name: string): boolean {
    return hasEventNamed(tracefsRoot(), name);
  }

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
    for (const def of probes) {
      const system = def.probe.module;
      const event = def.probe.name;
      const fields = argFields(tracer.format(system, event));
      enableEventProbe(env, { def, system, event, fields, fieldOf: (i) => fields[i] ?? null, copies: true, kernelArgs: true });
    }
  }

  disable(): void {
    // the session's tracer owns the events
  }
}
