// What a provider is: a source of probes. It announces probes (provider:module:function:name
// with argument types), creates probes on demand for names it understands, and fires them.
// The language and runtime never care where a firing came from.            [dt_provimpl_t]

import type { ClausePlan } from './clause-plan.js';
import type { KernelTracer } from '../kernel/tracer.js';
import type { InKernel } from './in-kernel.js';
import type { ErrTag } from '../lang/errtags.js';
import type { DType } from '../lang/types.js';
import type { Probe, ProbeContext } from '../runtime/context.js';

/** A probe description's four fields, as written (globs allowed). */
export interface ProbeDesc {
  provider: string;
  module: string;
  func: string;
  name: string;
}

export interface ProbeDef {
  probe: Probe;
  /** types of args[0..] (the translated argument types for providers that have them) */
  argTypes: DType[];
  /** the native (untranslated) argument types shown by -lv, as C writes them */
  nativeTypes?: string[];
  /** argument names, where the provider knows them */
  argNames?: string[];
  /** argTypes are filled in by the provider's describe() the first time they are needed */
  described: boolean;
}

/** A provider that cannot work on this system says why, and what to use instead. */
export class ProviderUnavailable extends Error {}

/** A description a provider rejects, as DTrace words it, with its D_* tag (pid's D_PROC_*). */
export class ProbeDescError extends Error {
  constructor(
    readonly tag: ErrTag,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Providers made on demand from the provider name of a description (pid1234 for pid$target):
 * those whose names the pattern matches that can exist; a pattern that names one that cannot
 * (a process that is not there) throws ProbeDescError.
 */
export interface ProviderFamily {
  instantiate(pattern: string): Provider[];
}

export type NewProbe = (module: string, func: string, name: string, argTypes: DType[]) => ProbeDef;

/** What the session gives providers when tracing starts. */
export interface FiringEnv {
  /** the session's probe context: a kernel provider fills it from the event, then fires */
  readonly ctx: ProbeContext;
  /** runs the probe's clauses on `ctx` as the provider filled it */
  fire(def: ProbeDef): void;
  /** runs the probe's clauses in dtrace's own context (consumer-side timers) */
  fireLocal(def: ProbeDef, arg0?: bigint): void;
  /**
   * runs the probe's clauses in the context of a CPU's idle thread (pid and tid 0, execname
   * swapper/CPU, no arguments, no stack): a tick the timer fires for a CPU whose sample did
   * not come, which happens when the CPU idles
   */
  fireIdle(def: ProbeDef, cpu: number): void;
  /** the clauses enabled on a probe, with what each reads and the tests a kernel filter can take */
  plans(def: ProbeDef): ClausePlan[];
  /** the kernel tracer (one tracefs instance), created on first use and started after enabling */
  tracer(): KernelTracer;
  /** where clauses compiled to BPF run, created on first use; null where BPF cannot be used */
  inKernel(): InKernel | null;
  /** these clauses of the probe run in the kernel: dtrace runs only the others when it fires */
  ranInKernel(def: ProbeDef, plans: ClausePlan[]): void;
  /** some clause reads user memory: kernel providers copy what pointer arguments point to */
  readonly copiesUserMemory: boolean;
  /** -b / -x bufsize in bytes (each CPU's buffer), or 0 where it is left at its default */
  readonly bufsize: number;
  /** -x cpu: the only CPU whose events fire probes, and where profile, tick and cpc sample (-1: every CPU) */
  readonly cpu: number;
  /** the process $target names (-c/-p), or 0 */
  readonly target: number;
  /** says something on stderr, as dtrace's warnings ("dtrace: " and the message) */
  warn(msg: string): void;
}

export interface Provider {
  readonly name: string;
  /** its probes fire in dtrace itself (BEGIN, timers), not from kernel events */
  readonly local?: boolean;
  /**
   * Announces every probe that exists without being asked for (dtrace -l lists these). Called
   * once, the first time a description could name this provider.
   */
  populate(newProbe: NewProbe): void;
  /**
   * Announces only the probes a description that names this provider can match, where that
   * is much cheaper than all of them (fbt: one function of ~33,000); false: it cannot narrow
   * this description, and populate() is called instead. Never announces a probe twice, even
   * when populate() comes later.
   */
  populateFor?(desc: ProbeDesc, newProbe: NewProbe): boolean;
  /**
   * Whether one of its probes can have this name (a name, not a pattern); false: a description
   * with it matches none of this provider's probes, so they need not be read (`BEGIN` names
   * no provider's probes but dtrace's, yet its empty provider field names them all). Asked
   * only where the description does not name the provider itself.
   */
  canName?(name: string): boolean;
  /**
   * Whether a description's module, function and name match a probe of this provider, where
   * the provider knows more names for them than the probe's own (pid: a.out for the
   * executable, a function's aliases, an offset written 0x10); default: glob matching.
   */
  matches?(desc: ProbeDesc, def: ProbeDef): boolean;
  /**
   * A probe for a description that names one precisely but that does not exist yet
   * (profile-1234, tick-5s, fbt's sys_X aliases); null if the provider cannot make it.
   */
  provide?(desc: ProbeDesc, newProbe: NewProbe): ProbeDef | ProbeDef[] | null;
  /** Fills in a probe's argument types (reading what the kernel publishes); see `described`. */
  describe?(def: ProbeDef): void;
  /**
   * How many kernel programs running these probes' BPF clauses takes (see ClausePlan.inKernel);
   * default: one for each probe that has some. A provider that runs many probes from one
   * shared program says so here.
   */
  kernelPrograms?(probes: ProbeDef[], env: FiringEnv): number;
  /**
   * Probes that come to exist while tracing (pid: those of objects the process loads later):
   * watches for them, from before tracing starts, for the descriptions that name this
   * provider, and announces each new one with `newProbe` and then all of them with `found`
   * (which enables those some clause wants before it returns).
   */
  watch?(descs: ProbeDesc[], env: FiringEnv, newProbe: NewProbe, found: (defs: ProbeDef[]) => void): void;
  /** starts firing the enabled probes among this provider's */
  enable(probes: ProbeDef[], env: FiringEnv): void;
  /**
   * Tracing starts (BEGIN is about to fire): a provider whose probes fire on timers counts
   * their periods from now, not from enable() (which may be long before, on a loaded machine).
   */
  start?(): void;
  /** stops firing (idempotent; called on every exit path) */
  disable(): void;
}
