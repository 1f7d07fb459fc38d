// The profile provider: profile-N fires on every CPU at a rate or interval, in the context of
// whatever was running there (arg0 the kernel PC, arg1 the user PC, stack() the interrupted
// kernel stack), from perf cpu-clock events read from perf rings (kernel/perf-sampler), merged
// in time order with the other providers' events. Where perf_event_open(2) is refused
// (perf_event_paranoid, seccomp, a kernel without perf events), profile-N fires from a timer in
// dtrace itself, on one CPU, with arg0 = arg1 = 0 and no stack, and dtrace says so.
//
// tick-N fires on one CPU at its rate, as DTrace's does: from a perf cpu-clock event on one
// CPU (a random one, as Oracle's, or -x cpu's), in the context of whatever that CPU was running,
// with the same arguments as profile-N. A cpu-clock event may let a period pass without a sample
// (an idle CPU on a Firecracker guest does, at times: its hrtimer is forwarded past the periods
// it missed, and bpftrace's interval probes show the same), and a tick must keep its rate: a
// timer in dtrace stands behind the event, and fires each period the event has not fired for
// by then (a grace after it; samples of periods already fired are dropped), in the context the
// CPU had then: its idle thread (pid 0, execname swapper/CPU, as Linux names it and Oracle's
// dtrace shows it; arg0 = arg1 = 0 and no stack, the PC not being known). A tick whose clauses read nothing of the context (`tick-1s { exit(0); }`, printa)
// fires from the timer alone: it would print the same, and needs no kernel tracing; so does
// every tick where perf events are refused, said on stderr once when a clause reads the context.
//                                                                         [dt_prov_profile.c]

import { CPUMODE_USER, CpuClockSampler, samplerAttr, type SampleHandler, SAMPLE_FRAMES, SAMPLE_HAS_USTACK, SAMPLE_IP, SAMPLE_MODE, SAMPLE_NKERNEL, SAMPLE_NUSER, SAMPLE_PID, SAMPLE_TID, onlineCpus } from '../kernel/perf-sampler.js';
import { kernelOffset, kernelSymbols } from '../kernel/ksyms.js';
import type { KernelTracer } from '../kernel/tracer.js';
import type { DType } from '../lang/types.js';
import { bigArgsRead, fillTask, runClausesInKernel, wantsStack, wantsUserStack } from './kernel-event.js';
import { currentUserStack } from '../kernel/ustack.js';
import type { FiringEnv, ProbeDef, ProbeDesc, Provider } from './provider.js';
import type { ClausePlan, KernelArg } from './clause-plan.js';

const UNITS: Record<string, bigint> = {
  ns: 1n, nsec: 1n, us: 1000n, usec: 1000n, ms: 1_000_000n, msec: 1_000_000n,
  s: 1_000_000_000n, sec: 1_000_000_000n, m: 60_000_000_000n, min: 60_000_000_000n,
  h: 3_600_000_000_000n, hour: 3_600_000_000_000n, d: 86_400_000_000_000n, day: 86_400_000_000_000n,
};

/** The period in ns of "profile-97", "tick-5s", ...; 0 if the name is not valid. */
export function periodOf(name: string): bigint {
  const m = /^(?:profile|tick)-([0-9]+)([a-zA-Z]{0,4})$/.exec(name);
  if (!m) return 0n;
  let val = BigInt(m[1]);
  if (val === 0n) return 0n;
  const suffix = m[2] === '' ? 'hz' : m[2].toLowerCase();
  if (suffix === 'hz') val = 1_000_000_000n / val;
  else {
    const mul = UNITS[suffix];
    if (mul === undefined) return 0n;
    val *= mul;
  }
  // DTrace refuses intervals under 200 microseconds
  return val < 200_000n ? 0n : val;
}

interface Timer {
  def: ProbeDef;
  periodNs: bigint;
  /** hrtime at which the timer fires the probe next (a sampled tick: fires its next period, if the event has not by then) */
  next: bigint;
  /** the tick's perf event, if it samples a CPU */
  sampled: TickSlots | null;
  /** the CPU it samples */
  cpu: number;
}

/** How long the timer waits for the tracer to read a ring that holds samples. */
const HOLD_NS = 10_000_000n;

/**
 * A tick sampled by a cpu-clock event: its periods are slots, slot k due at origin + k * period
 * (hrtime); `next` is the first not fired yet, by a sample or by the timer. Each slot fires
 * once, in order: the sample's, or the timer's when no sample came within the grace.
 */
export class TickSlots {
  next = 1;
  private synced = false;
  /** the timer looks again then (hrtime): the ring held samples it had not read */
  private holdUntil = 0n;
  constructor(
    /** the event: once enabled (enabledAt != 0), and whether its ring holds samples not read yet */
    readonly event: { readonly enabledAt: bigint; pending(): boolean },
    readonly periodNs: number,
    /** ns the timer waits past a slot's time for its sample before it fires the slot itself */
    readonly graceNs: number,
    /** hrtime of slot 0: when the event was enabled (until it is: when the probe was) */
    public origin: bigint,
  ) {}

  /** hrtime at which the timer fires slot `next` if no sample has. */
  due(): bigint {
    // the events start with tracing, a little after the probes are enabled: their first sample
    // is a period after that, for the first slot not fired yet
    if (!this.synced && this.event.enabledAt !== 0n) {
      this.synced = true;
      this.origin = this.event.enabledAt - BigInt(Math.round((this.next - 1) * this.periodNs));
    }
    return this.origin + BigInt(Math.round(this.next * this.periodNs + this.graceNs));
  }

  /** hrtime at which the timer looks next. */
  wake(): bigint {
    const due = this.due();
    return due > this.holdUntil ? due : this.holdUntil;
  }

  /**
   * Slots the timer fires at `now` (hrtime), those whose grace is over (at most 100 at once, the
   * rest skipped); none while the ring holds samples not read yet (dtrace was busy: they are the
   * slots' own, and are read soon).
   */
  overdue(now: bigint): number {
    if (this.due() > now) return 0;
    if (this.event.pending()) {
      this.holdUntil = now + HOLD_NS;
      return 0;
    }
    let n = 0;
    while (this.due() <= now && n < 100) {
      this.next++;
      n++;
    }
    if (this.due() <= now) this.next = Math.floor(Number(now - this.origin) / this.periodNs) + 1;
    return n;
  }

  /**
   * A sample taken `at` ns after the origin: -1 if its slot was fired (drop it), or how many
   * slots before it the event let pass, to fire first (at most 100).
   */
  sample(at: number): number {
    const k = Math.round(at / this.periodNs);
    if (k < this.next) return -1;
    const missed = k - this.next;
    this.next = k + 1;
    return Math.min(missed, 100);
  }
}

/**
 * Built-in variables a tick's clause may read and still print the same when it fires in dtrace
 * itself: those of the probe, of time, and of no thread (anything else: it samples a CPU).
 */
const CONTEXT_FREE = new Set(['timestamp', 'walltimestamp', 'probeprov', 'probemod', 'probefunc', 'probename', 'id', 'epid']);

/** Whether a tick's clauses read what a sample of a CPU would give (a thread, a PC, a stack, the CPU). */
export function readsSampleContext(plans: ClausePlan[]): boolean {
  for (const p of plans) {
    if (p.kernelStack || p.userStack) return true;
    for (const r of p.reads) if (!CONTEXT_FREE.has(r)) return true;
  }
  return false;
}

/**
 * Whether a tick's clause runs on the samples of its CPU's event (in the kernel where it
 * compiled to BPF): it reads the sample's context and prints nothing. Others stay with dtrace's
 * timer: they print the same, and it keeps the rate where the event lets a period pass; one that
 * prints must print when the timer fires such a period.
 */
export function runsOnTickSamples(plan: ClausePlan): boolean {
  return readsSampleContext([plan]) && plan.inKernel?.output == null;
}

/** ns a sampled tick's timer waits for the sample of a period: half a period, 100 ms at least (the rings are read every 10-40 ms). */
export function tickGraceNs(periodNs: number): number {
  return Math.max(periodNs / 2, 100_000_000);
}

/** Bytes a sample takes in its ring, about (a header, a dozen kernel frames). */
const SAMPLE_BYTES = 160;
/** A CPU's ring holds this long of samples (s) between two reads of it. */
const RING_SECONDS = 1;

/** Pages of each CPU's ring for samples every `periodNs`: a power of two, 8 to 256. */
export function ringPages(periodNs: number): number {
  const bytes = (SAMPLE_BYTES * RING_SECONDS * 1e9) / periodNs;
  return 2 ** Math.min(8, Math.max(3, Math.ceil(Math.log2(bytes / 4096))));
}

/**
 * Pages of a sampler's ring on each CPU: as -b / -x bufsize says (`bufsize` bytes, 0 if left at
 * its default: then by the rate), the most pages that fit in it, a power of two, 1 at least;
 * `least` pages at least by default (user stacks: 16 KiB a sample).
 */
export function samplerRingPages(periodNs: number, bufsize: number, least: number): number {
  if (bufsize > 0) return 2 ** Math.max(0, Math.min(16, Math.floor(Math.log2(bufsize / 4096))));
  return Math.max(least, ringPages(periodNs));
}

export class ProfileProvider implements Provider {
  readonly name = 'profile';
  readonly local = true;
  private timers: Timer[] = [];
  private handle: NodeJS.Timeout | null = null;
  private env: FiringEnv | null = null;
  private argTypes: DType[] = [];
  private samplers: CpuClockSampler[] = [];
  /** the CPU the ticks sample */
  private tickCpu = 0;

  constructor(private readonly uint64: DType) {}

  populate(newProbe: (module: string, func: string, name: string, argTypes: DType[]) => ProbeDef): void {
    this.argTypes = [this.uint64, this.uint64];
    for (const n of [97, 199, 499, 997, 1999, 4001, 4999]) newProbe('', '', `profile-${n}`, this.argTypes);
    for (const n of [1, 10, 100, 500, 1000, 5000]) newProbe('', '', `tick-${n}`, this.argTypes);
  }

  provide(desc: ProbeDesc, newProbe: (module: string, func: string, name: string, argTypes: DType[]) => ProbeDef): ProbeDef | null {
    if (desc.module !== '' || desc.func !== '') return null;
    if (periodOf(desc.name) === 0n) return null;
    return newProbe('', '', desc.name, this.argTypes);
  }

  enable(probes: ProbeDef[], env: FiringEnv): void {
    this.env = env;
    let timed = probes;
    const profiles = probes.filter((d) => d.probe.name.startsWith('profile-'));
    if (profiles.length > 0) {
      const why = this.sample(profiles, env);
      if (why === null) timed = probes.filter((d) => !profiles.includes(d));
      else env.warn(`profile probes fire from a timer in dtrace itself, on one CPU, with arg0 = arg1 = 0 and no stack (no samples of the CPUs): ${why}`);
    }
    const online = onlineCpus();
    this.tickCpu = env.cpu >= 0 ? env.cpu : online[Math.floor(Math.random() * online.length)];
    // a tick's clauses that read the sample's context and compiled to BPF run in the kernel on
    // the samples of its CPU, as Oracle's do
    for (const def of timed) {
      if (!def.probe.name.startsWith('tick-')) continue;
      const plans = env.plans(def).filter(runsOnTickSamples);
      if (plans.length > 0) tickInKernel(env, def, plans, this.tickCpu, Number(periodOf(def.probe.name)));
    }
    // a probe whose clauses all run in the kernel has nothing left for the timer
    timed = timed.filter((d) => env.plans(d).length > 0);
    const ticks = timed.filter((d) => d.probe.name.startsWith('tick-') && readsSampleContext(env.plans(d)));
    const sampled = new Map<ProbeDef, TickSlots>();
    if (ticks.length > 0) {
      const why = this.sampleTicks(ticks, env, sampled);
      if (why !== null) env.warn(`tick probes fire from a timer in dtrace itself, with arg0 = arg1 = 0 and no stack (no samples of a CPU): ${why}`);
    }
    const now = process.hrtime.bigint();
    for (const def of timed) {
      const p = periodOf(def.probe.name);
      if (p <= 0n) continue;
      const slots = sampled.get(def) ?? null;
      this.timers.push({ def, periodNs: p, next: slots === null ? now + p : slots.due(), sampled: slots, cpu: this.tickCpu });
    }
  }

  /** Tracing starts: the timers' first periods end a period from now (as DTrace's cyclics, made at dtrace_go). */
  start(): void {
    const now = process.hrtime.bigint();
    for (const t of this.timers) if (t.sampled === null) t.next = now + t.periodNs;
    this.schedule();
  }

  /**
   * Samples one CPU with a perf cpu-clock event for each tick-N probe, its timer behind it; null
   * if it does, or why not (nothing is left open then).
   */
  private sampleTicks(probes: ProbeDef[], env: FiringEnv, sampled: Map<ProbeDef, TickSlots>): string | null {
    const cpu = this.tickCpu;
    const made: Array<[CpuClockSampler, ProbeDef, number]> = [];
    try {
      for (const def of probes) {
        const periodNs = Number(periodOf(def.probe.name));
        const plans = env.plans(def);
        const userRegs = wantsUserStack(plans);
        const pages = samplerRingPages(periodNs, env.bufsize, userRegs ? 256 : 0);
        const s = new CpuClockSampler(ignore, { cpus: [cpu], periodNs, kernelStack: wantsStack(plans), userStack: false, userRegs, ringPages: pages });
        made.push([s, def, periodNs]);
        s.open();
      }
      const tracer = env.tracer();
      for (const [s, def, periodNs] of made) {
        if (s.options.kernelStack) kernelSymbols.preload();
        const slots = new TickSlots(s, periodNs, tickGraceNs(periodNs), process.hrtime.bigint());
        sampled.set(def, slots);
        s.handler = tickHandler(env, def, slots, sampleHandler(env, def, bigArgsRead(env.plans(def)), s.options.kernelStack), tracer);
        tracer.addSampler(s);
        if (s.options.userRegs === true) tracer.wantMappings();
      }
    } catch (e) {
      for (const [s] of made) s.close();
      sampled.clear();
      return (e as Error).message;
    }
    for (const [s] of made) this.samplers.push(s);
    return null;
  }

  /**
   * Samples every online CPU with perf events, for each profile-N probe; null if it does, or
   * why not (nothing is left open then).
   */
  private sample(probes: ProbeDef[], env: FiringEnv): string | null {
    const cpus = env.cpu >= 0 ? [env.cpu] : onlineCpus();
    const made: Array<[CpuClockSampler, ProbeDef]> = [];
    try {
      for (const def of probes) {
        const periodNs = Number(periodOf(def.probe.name));
        if (periodNs <= 0) continue;
        // clauses that compiled to BPF run on the samples in the kernel; the rest here
        if (sampleInKernel(env, def, cpus, periodNs).length === 0) continue;
        const kernelStack = wantsStack(env.plans(def));
        const userRegs = wantsUserStack(env.plans(def));
        // a sample with a copy of the user stack is up to 16 KiB: a ring of at least 8 MiB (the
        // first stacks symbolised read symbol tables, while the ring fills)
        const pages = samplerRingPages(periodNs, env.bufsize, userRegs ? 2048 : 0);
        const s = new CpuClockSampler(ignore, { cpus, periodNs, kernelStack, userStack: false, userRegs, ringPages: pages });
        made.push([s, def]);
        s.open();
      }
      // once perf events are known to work: the kernel tracer reads them (root only)
      const tracer = env.tracer();
      for (const [s, def] of made) {
        if (s.options.kernelStack) kernelSymbols.preload();
        s.handler = sampleHandler(env, def, bigArgsRead(env.plans(def)), s.options.kernelStack);
        tracer.addSampler(s);
        if (s.options.userRegs === true) tracer.wantMappings();
      }
    } catch (e) {
      for (const [s] of made) s.close();
      return (e as Error).message;
    }
    for (const [s] of made) this.samplers.push(s);
    return null;
  }

  private schedule(): void {
    if (this.timers.length === 0 || this.env === null) return;
    for (const t of this.timers) if (t.sampled !== null) t.next = t.sampled.wake();
    let next = this.timers[0].next;
    for (const t of this.timers) if (t.next < next) next = t.next;
    const delayMs = Number(next - process.hrtime.bigint()) / 1e6;
    this.handle = setTimeout(() => this.tick(), Math.max(0, delayMs));
  }

  private tick(): void {
    this.handle = null;
    const env = this.env;
    if (env === null) return;
    const now = process.hrtime.bigint();
    for (const t of this.timers) {
      const slots = t.sampled;
      if (slots !== null) {
        // the periods the event let pass (the CPU idled): fired here, in order, none twice, in
        // the CPU's idle thread
        for (let n = slots.overdue(now); n > 0; n--) {
          env.fireIdle(t.def, t.cpu);
          if (this.env === null) return;
        }
        t.next = slots.wake();
        continue;
      }
      // fire once per elapsed period, but do not let a stalled consumer cause a burst
      let n = 0;
      while (t.next <= now && n < 100) {
        env.fireLocal(t.def);
        if (this.env === null) return;
        t.next += t.periodNs;
        n++;
      }
      if (t.next <= now) t.next = now + t.periodNs;
    }
    this.schedule();
  }

  disable(): void {
    this.env = null;
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
    this.timers = [];
    // stop sampling only: the tracer still drains their rings, then closes them
    for (const s of this.samplers) s.disable();
    this.samplers = [];
  }
}

/**
 * Fires a sampled tick for the sample of its next period (catching up, in the CPU's idle
 * thread, on periods the event let pass); drops the sample of a period the timer has fired already.
 */
function tickHandler(env: FiringEnv, def: ProbeDef, slots: TickSlots, fireSample: SampleHandler, tracer: KernelTracer): SampleHandler {
  // sample times are ns after the tracer's base, slots after their origin
  let shift = Number.NaN;
  return (cpu: number, page: Buffer, v: DataView, o: number, len: number, ts: number): void => {
    if (Number.isNaN(shift)) {
      slots.due();
      shift = Number(tracer.base - slots.origin);
    }
    const missed = slots.sample(ts + shift);
    if (missed < 0) return;
    for (let n = missed; n > 0; n--) env.fireIdle(def, cpu);
    fireSample(cpu, page, v, o, len, ts);
  };
}

/** x86-64's struct pt_regs: where the interrupted PC and code segment are */
const PT_REGS_IP = 128;
const PT_REGS_CS = 136;

/**
 * profile-N's arguments as a sample program finds them in the interrupted registers: arg0 the
 * PC if the CPU was in the kernel (else 0), arg1 the PC if it was in user mode (else 0); the
 * others are 0. (x86-64 only: elsewhere a clause that reads them stays in dtrace.)
 */
export function sampleArg(i: number): KernelArg | null {
  if (i >= 2) return i < 10 ? { offset: 0, size: 0, signed: false } : null;
  if (process.arch !== 'x64') return null;
  return { offset: PT_REGS_IP, size: 8, signed: false, pc: { modeOffset: PT_REGS_CS, user: i === 1 } };
}

/**
 * Runs the probe's clauses that compiled to BPF in the kernel, on each sample of a cpu-clock
 * event of each CPU (where BPF works): their predicates and aggregations never reach dtrace,
 * as bpftrace's and Oracle's. Returns the plans left for dtrace's own sampler.
 */
function sampleInKernel(env: FiringEnv, def: ProbeDef, cpus: number[], periodNs: number): ClausePlan[] {
  return runClausesInKernel(env, def, env.plans(def), 'sample', sampleArg, (ik, probe, clauses) =>
    ik.attachSampling(samplerAttr({ periodNs, kernelStack: false, userStack: false }), cpus, probe, clauses),
  );
}

/**
 * Runs a tick's clauses `plans` that compiled to BPF in the kernel, on the samples of a cpu-clock
 * event of `cpu` every period (where BPF works); the others stay with dtrace.
 */
function tickInKernel(env: FiringEnv, def: ProbeDef, plans: ClausePlan[], cpu: number, periodNs: number): void {
  runClausesInKernel(env, def, plans, 'sample', sampleArg, (ik, probe, clauses) =>
    ik.attachSampling(samplerAttr({ periodNs, kernelStack: false, userStack: false }), [cpu], probe, clauses),
  );
}

function ignore(): void {
  // samples before the handler is set: none (the events start disabled)
}

/**
 * Fires a probe for each sample: the interrupted thread, its CPU, arg0 = the kernel PC (0 in
 * user mode), arg1 = the user PC (0 in kernel mode), as Numbers (a kernel address is a small
 * negative one as a signed 64-bit value: exact), and as BigInts only for clauses that read them so.
 */
export function sampleHandler(env: FiringEnv, def: ProbeDef, big: Set<number> | null, kernelStack: boolean) {
  const ctx = env.ctx;
  const tracer = env.tracer();
  const procs = tracer.procs;
  const big0 = big === null || big.has(0);
  const big1 = big === null || big.has(1);
  return (cpu: number, _page: Buffer, v: DataView, o: number, _len: number, ts: number): void => {
    fillTask(ctx, procs, cpu, v.getInt32(o + SAMPLE_TID, true), ts);
    // the sample says which process the thread is in, whatever the table knows
    const pid = v.getInt32(o + SAMPLE_PID, true);
    if (pid !== 0) ctx.pid = pid;
    const user = v.getUint16(o + SAMPLE_MODE, true) === CPUMODE_USER;
    const pc = v.getInt32(o + SAMPLE_IP + 4, true) * 4294967296 + v.getUint32(o + SAMPLE_IP, true);
    const n = ctx.argn;
    const a = ctx.args;
    n[0] = user ? 0 : pc;
    n[1] = user ? pc : 0;
    ctx.argnSet = 3;
    if (big0) a[0] = user ? 0n : v.getBigInt64(o + SAMPLE_IP, true);
    if (big1) a[1] = user ? v.getBigInt64(o + SAMPLE_IP, true) : 0n;
    for (let i = 2; i < 10; i++) a[i] = 0n;
    if (kernelStack) {
      const nk = v.getUint16(o + SAMPLE_NKERNEL, true);
      const frames = ctx.kstack;
      let k = 0;
      for (let i = 0; i < nk && k < frames.length; i++) {
        const f = kernelOffset(v, o + SAMPLE_FRAMES + i * 8);
        if (f >= 0) frames[k++] = f;
      }
      ctx.kstackLen = k;
    }
    if (v.getUint16(o + SAMPLE_HAS_USTACK, true) !== 0) {
      const at = o + SAMPLE_FRAMES + (v.getUint16(o + SAMPLE_NKERNEL, true) + v.getUint16(o + SAMPLE_NUSER, true)) * 8;
      currentUserStack.set(pid, v, at);
      try {
        env.fire(def);
      } finally {
        currentUserStack.clear();
      }
      return;
    }
    env.fire(def);
  };
}
