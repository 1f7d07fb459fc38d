// Shared by the providers whose probes are made from tracepoints rather than being one
// (proc, sched): each probe names the events it listens to and decides, per record, whether
// it fires, as whom, and with which arguments.                   [dt_prov_proc.c, dt_prov_sched.c]

import type { CaptureValues } from '../kernel/bpf/capture.js';
import { release } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DFatalError } from '../errors.js';
import { tracefsRoot } from '../kernel/tracefs.js';
import type { EventFormat } from '../kernel/event-format.js';
import type { EventHandler, KernelTracer } from '../kernel/tracer.js';
import type { TypeScope } from '../lang/typescope.js';
import { type DType, pointerTo } from '../lang/types.js';
import type { ProbeContext } from '../runtime/context.js';
import { argsRead, fillTask, wantsStack, wantsUserStack } from './kernel-event.js';
import { traceableFunctions } from './fbt.js';
import { type FiringEnv, type NewProbe, type ProbeDef, type ProbeDesc, type Provider, ProviderUnavailable } from './provider.js';
import { globMatch, isGlob } from './registry.js';

/** A record's field offsets by name, from the event's published format. */
export class Fields {
  constructor(readonly format: EventFormat) {}

  has(name: string): boolean {
    return this.format.fields.some((f) => f.name === name);
  }

  at(name: string): number {
    const f = this.format.fields.find((x) => x.name === name) ?? this.format.common.find((x) => x.name === name);
    if (!f) throw new Error(`internal: ${this.format.system}:${this.format.name} has no field ${name}`);
    return f.offset;
  }
}

/** What a probe's record handler can use. */
export interface Hook {
  ctx: ProbeContext;
  tracer: KernelTracer;
  /** fills who, where and when (the thread `tid`), then runs the probe's clauses */
  fireAs(tid: number, cpu: number, ts: number): void;
  /** whether the probe's clauses read args[i] (what a provider need not fetch otherwise) */
  reads(i: number): boolean;
}

export interface DerivedProbe {
  name: string;
  /** D types of args[0..] */
  args: string[];
  /** the events it needs and, for each, the handler made from the event's fields */
  sources: Array<{
    system: string;
    event: string;
    handler: (f: Fields, h: Hook) => EventHandler;
    /** whether the probe, as its clauses use it, needs this event (absent: it does) */
    needed?: (h: Hook) => boolean;
  }>;
  /**
   * Raw tracepoints it fires from instead, where the clauses need them (`needed`): each a BPF
   * program with the tracepoint's first `args` arguments and `values` computed as it fires.
   */
  rawSources?: Array<{
    tracepoint: string;
    args: number;
    values: () => CaptureValues[];
    handler: (h: Hook) => EventHandler;
    needed: (h: Hook) => boolean;
  }>;
  /**
   * Kprobe events it listens to as well (made as it is enabled, removed with the session's
   * tracer): a function's entry or return, with the fetch arguments `fetch` gives then; a glob
   * (`_raw_spin_lock*`) is every vmlinux function ftrace can trace that it matches.
   */
  kprobeSources?: Array<{
    symbol: string;
    isReturn: boolean;
    fetch: () => string[];
    handler: (f: Fields, h: Hook) => EventHandler;
  }>;
}

export abstract class DerivedProvider implements Provider {
  abstract readonly name: string;
  protected abstract readonly table: DerivedProbe[];
  private readonly byDef = new Map<ProbeDef, DerivedProbe>();

  constructor(protected readonly types: TypeScope) {}

  populate(newProbe: NewProbe): void {
    for (const p of this.table) {
      const args = p.args.map((t) => this.type(t));
      this.byDef.set(newProbe('vmlinux', '', p.name, args), p);
    }
  }

  private type(name: string): DType {
    const ptr = /^(.*?)\s*\*$/.exec(name);
    const t = this.types.lookup(ptr ? ptr[1] : name);
    if (!t) throw new Error(`internal: no type ${name}`);
    return ptr ? pointerTo(t) : t;
  }

  enable(probes: ProbeDef[], env: FiringEnv): void {
    const tracer = env.tracer();
    // the functions kprobe sources' globs choose from, read once (a long list)
    let functions: string[] | undefined;
    const ctx = env.ctx;
    for (const def of probes) {
      const p = this.byDef.get(def)!;
      const stack = wantsStack(env.plans(def));
      const ustack = wantsUserStack(env.plans(def));
      const read = argsRead(env.plans(def));
      const hook: Hook = {
        reads: (i) => read === null || read.has(i),
        ctx,
        tracer,
        fireAs: (tid, cpu, ts) => {
          fillTask(ctx, tracer.procs, cpu, tid, ts);
          if (stack) ctx.kstackLen = tracer.kernelStack(cpu, ctx.kstack);
          env.fire(def);
        },
      };
      const raw = (p.rawSources ?? []).filter((r) => r.needed(hook));
      for (const r of raw) tracer.rawTracepoints().add(r.tracepoint, r.args, r.handler(hook), [], r.values());
      if (raw.length > 0) continue;
      for (const s of p.sources) {
        if (s.needed !== undefined && !s.needed(hook)) continue;
        const f = new Fields(this.formatOf(tracer, def, s.system, s.event));
        tracer.subscribe(s.system, s.event, null, s.handler(f, hook), stack, false, ustack);
      }
      const sources = p.kprobeSources ?? [];
      let made = 0;
      for (const k of sources) {
        const kprobes = tracer.kprobes();
        // a glob that names no function of this kernel is left out (a PREEMPT_RT kernel's
        // rwlocks are rt_read_lock() ..., others' _raw_read_lock() ...)
        const symbols = isGlob(k.symbol) ? (functions ??= vmlinuxFunctions(kprobes.root)).filter((f) => globMatch(k.symbol, f)) : [k.symbol];
        if (symbols.length === 0) continue;
        const fetch = k.fetch();
        const events = kprobes.add(symbols.map((symbol) => ({ symbol, isReturn: k.isReturn, fetch })));
        events.forEach((event, i) => {
          // one of a glob's functions the kernel will not probe is left out; a function named alone is needed
          if (event === null && isGlob(k.symbol)) return;
          if (event === null) throw new DFatalError(`could not enable tracing: probe ${def.probe.desc} needs a kprobe on ${symbols[i]}, which the kernel refused`);
          tracer.subscribe(kprobes.group, event, null, k.handler(new Fields(tracer.format(kprobes.group, event)), hook), stack, false, ustack);
          made++;
        });
      }
      if (sources.length > 0 && made === 0) {
        const names = [...new Set(sources.map((k) => k.symbol))].join(', ');
        throw new DFatalError(`could not enable tracing: probe ${def.probe.desc} needs kprobes on ${names}, which name no function this kernel (${release()}) can trace`);
      }
    }
  }

  /** An event's format; a tracepoint this kernel does not have (an older one) is said so in one line. */
  private formatOf(tracer: KernelTracer, def: ProbeDef, system: string, event: string): EventFormat {
    try {
      return tracer.format(system, event);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      throw new DFatalError(`could not enable tracing: probe ${def.probe.desc} needs the tracepoint ${system}:${event}, which this kernel (${release()}) does not have`);
    }
  }

  /**
   * For a probe made only where the kernel allows (`names`): a description that names one this
   * kernel has not (not a pattern) is refused with `why`; else null, as provide() answers.
   */
  protected refuseAbsent(desc: ProbeDesc, names: readonly string[], why: (name: string) => string): null {
    if (desc.provider !== this.name || !names.includes(desc.name)) return null;
    if (this.table.some((p) => p.name === desc.name)) return null;
    if (isGlob(desc.module) || isGlob(desc.func)) return null;
    throw new ProviderUnavailable(why(desc.name));
  }

  disable(): void {
    // the session's tracer owns the events
  }
}

/** vmlinux's functions ftrace can trace. */
function vmlinuxFunctions(root: string): string[] {
  return traceableFunctions(root)
    .filter(([m]) => m === 'vmlinux')
    .map(([, f]) => f);
}

/**
 * Whether the kernel has kprobe events, for probes made of them (listed only where they can be
 * made): cheaply, for root (tracefs found, or mounted, as the session would).
 */
export function kprobeEventsPossible(): boolean {
  if (process.geteuid && process.geteuid() !== 0) return false;
  try {
    return existsSync(join(tracefsRoot(), 'kprobe_events'));
  } catch {
    // no tracefs: the session says so as it starts
    return false;
  }
}
