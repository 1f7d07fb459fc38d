// The cpc provider: probes that fire every N occurrences of a CPU performance counter event, on
// every CPU, in the context of what was running there (arg0 the kernel PC, arg1 the user PC,
// stack() the interrupted kernel stack), as profile-N does for time. A probe is named
// EVENT-MODE-COUNT: the event under libpfm4's name in lower case with '_' for '-' (cpu_cycles,
// instructions, branch_misses, cpu_clock, page_faults...), the mode (user, kernel or all) and
// the count between firings (at least 5,000, as illumos's dcpc_min_overflow has it).
//
// Hardware events need a CPU that exposes a performance monitoring unit; a virtual CPU
// without one (Firecracker, qemu's TCG) has only the kernel's software events (cpu_clock,
// task_clock, page_faults, context_switches...), which work the same way. `dtrace -l -P cpc`
// lists, as Oracle's does, each event this machine can count, as EVENT-all-1000000000.
//                                                                          [dt_prov_cpc.c]

import { CpuClockSampler, type SampledEvent, onlineCpus, samplerAttr } from '../kernel/perf-sampler.js';
import { PERF_EVENTS, type PerfEventType, hardwareCountersUnavailable, perfEventByDname, perfEventRefusal } from '../kernel/perf-events.js';
import { PERF_TYPE_SOFTWARE } from '../kernel/bpf/sys.js';
import { DFatalError } from '../errors.js';
import type { DType } from '../lang/types.js';
import { bigArgsRead, runClausesInKernel, wantsStack } from './kernel-event.js';
import { sampleArg, sampleHandler, samplerRingPages } from './profile.js';
import { type FiringEnv, type NewProbe, type ProbeDef, type ProbeDesc, type Provider, ProviderUnavailable } from './provider.js';

/** The smallest count between firings (illumos: dcpc_min_overflow). */
export const CPC_MIN_OVERFLOW = 5000n;
/** Pages of each CPU's ring. */
const RING_PAGES = 32;

/** A probe name's parts: the event, the mode, the count; null if it is not one. */
export function parseCpcName(name: string): { event: PerfEventType; excludeUser: boolean; excludeKernel: boolean; count: bigint } | null {
  const parts = name.split('-');
  // EVENT-MODE-COUNT (Oracle reserves EVENT-MODE-ATTRIBUTES-COUNT, and accepts no attributes yet)
  if (parts.length !== 3) return null;
  const [ev, mode, count] = parts as [string, string, string];
  const event = perfEventByDname(ev);
  if (event === null) return null;
  if (mode !== 'user' && mode !== 'kernel' && mode !== 'all') return null;
  if (!/^[0-9]+$/.test(count)) return null;
  const n = BigInt(count);
  if (n < CPC_MIN_OVERFLOW || n >= 1n << 63n) return null;
  return { event, excludeUser: mode === 'kernel', excludeKernel: mode === 'user', count: n };
}

export class CpcProvider implements Provider {
  readonly name = 'cpc';
  private argTypes: DType[] = [];
  private samplers: CpuClockSampler[] = [];

  constructor(private readonly uint64: DType) {}

  canName(name: string): boolean {
    return parseCpcName(name) !== null;
  }

  populate(newProbe: NewProbe): void {
    this.argTypes = [this.uint64, this.uint64];
    // what this machine can count, under each of its names (root only: others can count none)
    if (process.geteuid && process.geteuid() !== 0) return;
    for (const e of PERF_EVENTS) if (perfEventRefusal(e) === null) newProbe('', '', `${e.dname}-all-1000000000`, this.argTypes);
  }

  provide(desc: ProbeDesc, newProbe: NewProbe): ProbeDef | null {
    if (desc.module !== '' || desc.func !== '') return null;
    const p = parseCpcName(desc.name);
    if (p === null) return null;
    const refusal = perfEventRefusal(p.event);
    if (refusal !== null) {
      if (p.event.type !== PERF_TYPE_SOFTWARE) {
        const why = hardwareCountersUnavailable() ?? refusal;
        throw new ProviderUnavailable(`cpc probes on hardware counters are not available: ${why}; use the kernel's software events (cpu_clock, task_clock, page_faults, ...) or profile-N`);
      }
      throw new ProviderUnavailable(`cpc probe ${desc.name} is not available: ${refusal}`);
    }
    if (this.argTypes.length === 0) this.argTypes = [this.uint64, this.uint64];
    return newProbe('', '', desc.name, this.argTypes);
  }

  enable(probes: ProbeDef[], env: FiringEnv): void {
    const cpus = env.cpu >= 0 ? [env.cpu] : onlineCpus();
    for (const def of probes) {
      const p = parseCpcName(def.probe.name);
      if (p === null) continue;
      const event = cpcEvent(p);
      // clauses that compiled to BPF run in the kernel on each overflow, as Oracle's do; the rest here
      const left = runClausesInKernel(env, def, env.plans(def), 'sample', sampleArg, (ik, probe, clauses) =>
        ik.attachSampling(samplerAttr({ periodNs: Number(p.count), kernelStack: false, userStack: false, event }), cpus, probe, clauses),
      );
      if (left.length === 0) continue;
      const tracer = env.tracer();
      const kernelStack = wantsStack(env.plans(def));
      const s = new CpuClockSampler(ignore, {
        cpus,
        periodNs: Number(p.count),
        kernelStack,
        userStack: false,
        ringPages: env.bufsize > 0 ? samplerRingPages(0, env.bufsize, 0) : RING_PAGES,
        event,
      });
      try {
        s.open();
      } catch (e) {
        throw new DFatalError(`could not enable tracing: cpc probe ${def.probe.name}: ${(e as Error).message}`);
      }
      this.samplers.push(s);
      s.handler = sampleHandler(env, def, bigArgsRead(env.plans(def)), kernelStack);
      tracer.addSampler(s);
    }
  }

  disable(): void {
    // stop sampling only: the tracer still drains their rings, then closes them
    for (const s of this.samplers) s.disable();
    this.samplers = [];
  }
}

/**
 * The perf event of a cpc probe: its type and config; user mode counts only user-mode
 * occurrences (exclude_kernel), kernel mode only kernel-mode ones (exclude_user); and a
 * hardware event neither the hypervisor's nor a guest's, as libpfm4 encodes it for Oracle's.
 */
export function cpcEvent(p: NonNullable<ReturnType<typeof parseCpcName>>): SampledEvent {
  return { type: p.event.type, config: p.event.config, excludeUser: p.excludeUser, excludeKernel: p.excludeKernel, hostOnly: p.event.type !== PERF_TYPE_SOFTWARE };
}

function ignore(): void {
  // samples before the handler is set: none (the events start disabled)
}
