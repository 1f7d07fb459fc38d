// A tracing session: enable -> fire probes -> END -> aggregations -> teardown, on every exit
// path (exit(), Ctrl-C, SIGTERM, errors).                                         [dt_work.c]

import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { ClauseFn, CompiledClause } from '../compile/compile.js';
import type { DropTag } from '../lang/errtags.js';
import type { DtraceProvider } from '../providers/dtrace.js';
import { type ClausePlan, FAULT_PLACE, FAULT_VALUE, type KernelClause, OUTPUT_CLAUSE, OUTPUT_FAULT, OUTPUT_PID, OUTPUT_PROBE, OUTPUT_TID } from '../providers/clause-plan.js';
import { KernelTracer } from '../kernel/tracer.js';
import { bindToCpu, bpfUnavailable } from '../kernel/bpf/sys.js';
import { DEFAULT_AGG_BYTES, InKernel } from '../providers/in-kernel.js';
import { type OutputDecoder, outputDecoder } from '../providers/kernel-event.js';
import type { FiringEnv, ProbeDef, Provider } from '../providers/provider.js';
import { type ProbeRegistry, globMatch } from '../providers/registry.js';
import { ProbeContext } from '../runtime/context.js';
import { ClauseAbort, Runtime, faultMessage } from '../runtime/runtime.js';
import { PrintfDataError } from '../runtime/printf.js';
import { DFault, FLT_NOSCRATCH } from '../runtime/subr.js';
import { BufPolicy, PrincipalBuffers } from '../runtime/principal.js';

/** One enabled clause on one probe (an ECB). */
interface Enabling {
  epid: number;
  clause: CompiledClause;
  /** statements of the clause, for "in action #N" */
  isError: boolean;
}

function currentCpu(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return parseInt(fields[36], 10) || 0;
  } catch {
    return 0;
  }
}

function readComm(): string {
  try {
    return readFileSync('/proc/self/comm', 'latin1').trim();
  } catch {
    return 'node';
  }
}

/** V8's RangeErrors for a string, array or buffer it could not make (too long, no memory). */
function isAllocationFailure(err: unknown): boolean {
  return err instanceof RangeError && /^(Invalid (string|array|typed array|array buffer) length|Array buffer allocation failed)/.test(err.message);
}

/**
 * What the fill policy keeps free for END's clauses: what each reserves, and its alignment.
 *                                                      [illumos dtrace.c dtrace_state_prereserve]
 */
export function endReserve(clauses: readonly CompiledClause[]): number {
  let n = 0;
  for (const c of clauses) {
    if (c.probes.some((p) => p.probe.provider === 'dtrace' && p.probe.name === 'END')) n += c.record.needed + c.record.align;
  }
  return n;
}

/** Poll interval of the kernel buffers when switchrate is not set: small enough not to lose events. */
const DEFAULT_POLL_MS = 10;
/**
 * The longest poll interval while no events come, when switchrate is not set: a burst after a
 * quiet spell must not fill the default 4 MB per-CPU buffer before the next poll (one CPU makes
 * up to ~2.5 M events/s, 4 MB of them in ~40 ms); a smaller buffer, proportionally less.
 */
const IDLE_POLL_MS = 40;
const IDLE_POLL_BUFFER_KB = 4096;

/**
 * Each CPU's kernel ring when bufsize is left at its default: enough for one CPU making events
 * as fast as it can (~2.5 M/s of ~24-byte syscall records, 60 MB/s) while the consumer is kept
 * off a CPU for ~250 ms by a busy machine (4 MB: 65 ms, and a busy 2-core machine lost 2-12% of
 * a getppid() flood to drops with it, none with 16 MB)...
 */
const DEFAULT_RING_KB = 16384;
/** ...within this much kernel memory for all CPUs' rings (and at most 1/64 of the memory)... */
const RING_BUDGET_KB = 256 * 1024;
/** ...and never less than the bufsize default, which a given bufsize overrides either way */
const DEFAULT_BUFSIZE_KB = 4096;

/** The per-CPU ring size (KB) for bufsize left at its default. */
export function defaultRingKb(ncpus: number, memBytes: number): number {
  const budget = Math.min(RING_BUDGET_KB, memBytes / 1024 / 64);
  return Math.max(DEFAULT_BUFSIZE_KB, Math.min(DEFAULT_RING_KB, Math.floor(budget / Math.max(1, ncpus) / 4) * 4));
}

/**
 * The most kernel programs the clauses compiled to BPF may take: each is a perf event on its
 * tracepoint, and closing one waits for an RCU grace period (35-70 ms here), one after another,
 * so 350 system call probes with a program each took 24 s to end. More than this and they all
 * stay on the tracefs path (system calls share programs: see SyscallProvider.kernelPrograms).
 */
const MAX_KERNEL_PROGRAMS = 16;

export class Session implements FiringEnv {
  private readonly ecbs = new Map<number, Enabling[]>();
  /** ecbs by probe id, as an array: fire() looks a probe up per event */
  private readonly ecbsById: Array<Enabling[] | undefined>;
  readonly ctx = new ProbeContext();
  readonly copiesUserMemory: boolean;
  /** -b / -x bufsize in bytes, or 0 where it is left at its default */
  readonly bufsize: number;
  /** -x cpu: the only CPU traced (-1: every CPU) */
  readonly cpu: number;
  private kernel: KernelTracer | null = null;
  /** dtrace's own identity, for probes that fire in it (BEGIN, END, profile timers) */
  private readonly self = { cpu: 0, pid: 0, ppid: 0, uid: 0, gid: 0, execname: '' };
  private readonly errorCtx = new ProbeContext();
  private stopping = false;
  /**
   * exit(): when it fired (ns after the kernel tracer's base, as events are stamped). Events the
   * kernel made before then still fire as dtrace reads them (DTrace's consumer takes what its
   * buffers hold at exit: those probes fired before it); later ones do not.
   */
  private stopTs = -1;
  private stopped = false;
  private inError = false;
  private dblErrors = 0;
  private reported = { dyn: 0, spec: 0, specBusy: 0, specUnavail: 0, dbl: 0, agg: [] as number[] };
  private resolveDone: (() => void) | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  /** dtrace -S: where the BPF programs are shown as they are loaded (standard error) */
  showKernelCode: ((text: string) => void) | null = null;
  /** called once tracing is live and BEGIN has run (to let -c processes go) */
  onLive: (() => void) | null = null;
  /** an interrupt (Ctrl-C/SIGTERM) asked us to stop */
  interrupted = 0;

  constructor(
    private readonly rt: Runtime,
    private readonly registry: ProbeRegistry,
    private readonly dtrace: DtraceProvider,
    private readonly clauses: CompiledClause[],
    readonly warn: (msg: string) => void,
    _testing: boolean,
    readonly target = 0,
  ) {
    for (const c of clauses) {
      for (const p of c.probes) {
        let list = this.ecbs.get(p.probe.id);
        if (!list) this.ecbs.set(p.probe.id, (list = []));
        list.push({ epid: c.epids.get(p.probe.id)!, clause: c, isError: p === dtrace.error });
      }
    }
    let maxId = 0;
    for (const id of this.ecbs.keys()) maxId = Math.max(maxId, id);
    this.ecbsById = new Array<Enabling[] | undefined>(maxId + 1);
    for (const [id, list] of this.ecbs) this.ecbsById[id] = list;
    this.copiesUserMemory = clauses.some((c) => c.plan.userMemory);
    this.bufsize = rt.opts.isGiven('bufsize') ? Number(rt.opts.get('bufsize')) : 0;
    const cpu = rt.opts.get('cpu');
    this.cpu = cpu >= 0n ? Number(cpu) : -1;
    this.setUpPrincipal();
    const me = this.self;
    me.cpu = currentCpu();
    me.pid = process.pid;
    me.ppid = process.ppid;
    me.uid = process.getuid?.() ?? 0;
    me.gid = process.getgid?.() ?? 0;
    me.execname = readComm();
    this.local(this.ctx);
  }

  /**
   * The principal buffers' accounting, where it can matter: always under the ring and fill
   * policies; under switch (the buffer is drained after every firing) only if some probe's
   * clauses together may need more than a buffer holds.
   */
  private setUpPrincipal(): void {
    const opts = this.rt.opts;
    const policy = Number(opts.get('bufpolicy')) as BufPolicy;
    const bufsize = Number(opts.get('bufsize'));
    const size = policy === BufPolicy.Switch ? bufsize : bufsize - (bufsize % 8);
    if (policy === BufPolicy.Switch) {
      let worst = 0;
      for (const list of this.ecbs.values()) {
        let n = 0;
        for (const e of list) n += e.clause.record.needed + e.clause.record.align;
        worst = Math.max(worst, n);
      }
      if (worst <= size) return;
    }
    this.rt.principal = new PrincipalBuffers(policy, size, endReserve(this.clauses));
  }

  /** Puts dtrace's own identity in a context. */
  private local(ctx: ProbeContext): void {
    const me = this.self;
    ctx.cpu = me.cpu;
    ctx.pid = me.pid;
    ctx.tid = me.pid;
    ctx.ppid = me.ppid;
    ctx.uid = me.uid;
    ctx.gid = me.gid;
    ctx.execname = me.execname;
    ctx.errno = 0;
    ctx.kstackLen = 0;
    ctx.capturedN = 0;
    ctx.eventTs = -1;
  }

  // -- FiringEnv: what providers see ----------------------------------------------------------

  plans(def: ProbeDef): ClausePlan[] {
    return (this.ecbs.get(def.probe.id) ?? []).map((e) => e.clause.plan);
  }

  tracer(): KernelTracer {
    if (!this.kernel) this.kernel = new KernelTracer();
    return this.kernel;
  }

  private inKernelState: InKernel | null | undefined = undefined;

  /** How many probes the clauses are enabled on. */
  private probeCount(): number {
    return this.ecbs.size;
  }

  /** The kernel programs that running the clauses compiled to BPF takes. */
  private kernelPrograms(): number {
    const byProvider = new Map<Provider, ProbeDef[]>();
    for (const [id, list] of this.ecbs) {
      const def = this.registry.byId(id)!;
      const provider = this.registry.providerOf(def);
      if (provider.local || !list.some((e) => e.clause.plan.inKernel !== null)) continue;
      const defs = byProvider.get(provider);
      if (defs === undefined) byProvider.set(provider, [def]);
      else defs.push(def);
    }
    let n = 0;
    for (const [provider, defs] of byProvider) n += provider.kernelPrograms?.(defs, this) ?? defs.length;
    return n;
  }

  /** the enablings whose clauses run in the kernel, by their BPF code (their faults name them) */
  private readonly inKernelEnablings = new Map<KernelClause, Enabling>();

  ranInKernel(def: ProbeDef, plans: ClausePlan[]): void {
    const id = def.probe.id;
    const left: Enabling[] = [];
    for (const e of this.ecbs.get(id) ?? []) {
      const k = e.clause.plan.inKernel;
      if (k === null || !plans.includes(e.clause.plan)) left.push(e);
      else this.inKernelEnablings.set(k, e);
    }
    this.ecbs.set(id, left);
    this.ecbsById[id] = left;
  }

  inKernel(): InKernel | null {
    if (this.inKernelState !== undefined) return this.inKernelState;
    if (bpfUnavailable() !== null || this.kernelPrograms() > MAX_KERNEL_PROGRAMS) return (this.inKernelState = null);
    const rt = this.rt;
    const aggsize = rt.opts.isGiven('aggsize') ? Number(rt.opts.get('aggsize')) : DEFAULT_AGG_BYTES;
    const ik = new InKernel((id) => rt.aggs[id], rt.aggSpace.drops, aggsize, rt.aggSpace.limit, this.self.cpu, (n) => (rt.dyn.drops += n), this.probeCount());
    // -x cpu: programs fire their probes on that CPU only (sampling events are opened there alone)
    ik.onlyCpu = this.cpu;
    rt.aggSync = () => ik.sync();
    ik.stackText = (frames, len, n) => rt.kernelStackText(frames, len, n);
    // the first clause that prints in the kernel: the tracer reads its records (from the start, or at once)
    ik.onRecords = (records) => this.tracer().addProgramRecords(records);
    ik.recordSink = this.kernelRecords;
    const show = this.showKernelCode;
    if (show !== null) ik.showProgram = (probe, listing) => show(`\nDisassembly of the BPF program on ${probe} (the probe's clauses that compiled to BPF):\n${listing}`);
    // made for probes made while tracing: their programs act at once
    if (this.activeTs !== Infinity) ik.activate();
    return (this.inKernelState = ik);
  }

  /** the records' reader is behind (hold()) */
  private held = false;
  /** timer probes (tick-*) that fired while held, per CPU: principal drops */
  private readonly heldDrops: number[] = [];
  private heldDropsReported: number[] = [];

  /**
   * While the consumer of the records is behind (the library's reader), probes fire into a
   * full buffer: their firings are dropped and counted as principal drops, per CPU, as DTrace's
   * are when its consumer does not keep up. The kernel's buffers are still read (dtrace's own
   * process table needs its events), so memory does not grow and nothing is lost silently.
   */
  hold(on: boolean): void {
    this.held = on;
  }

  /** Fires a probe in dtrace's own context, with arg0 (profile's) or no arguments. */
  fireLocal(def: ProbeDef, arg0?: bigint): void {
    this.fireHere(def, arg0);
    this.rt.out.flush();
  }

  /** fireLocal() without passing its output on (the caller does, when it should). */
  private fireHere(def: ProbeDef, arg0?: bigint): void {
    const ctx = this.ctx;
    this.local(ctx);

    const args = ctx.args;
    for (let i = 0; i < args.length; i++) args[i] = 0n;
    if (arg0 !== undefined) args[0] = arg0;
    this.fire(def);
  }

  /**
   * BEGIN and END: on -x cpu's CPU, as Oracle's dtrace fires them (from a thread bound to it),
   * where dtrace can bind itself there for the firing; elsewhere on the CPU dtrace runs on.
   */
  private fireOnCpu(def: ProbeDef): void {
    const restore = this.cpu >= 0 ? bindToCpu(this.cpu) : null;
    if (restore === null) {
      this.fireHere(def);
      return;
    }
    const me = this.self;
    const was = me.cpu;
    me.cpu = this.cpu;
    try {
      this.fireHere(def);
    } finally {
      me.cpu = was;
      restore();
    }
  }

  /** Idle threads' names (swapper/CPU), by CPU. */
  private readonly idleNames: string[] = [];

  fireIdle(def: ProbeDef, cpu: number): void {
    const ctx = this.ctx;
    this.local(ctx);
    ctx.cpu = cpu;
    ctx.pid = 0;
    ctx.tid = 0;
    ctx.ppid = 0;
    ctx.uid = 0;
    ctx.gid = 0;
    ctx.execname = this.idleNames[cpu] ??= `swapper/${cpu}`;
    const args = ctx.args;
    for (let i = 0; i < args.length; i++) args[i] = 0n;
    this.fire(def);
    this.rt.out.flush();
  }

  /** Runs the session to its end; resolves with dtrace's exit status. */
  async run(): Promise<number> {
    const done = new Promise<void>((resolve) => (this.resolveDone = resolve));
    // as in DTrace, every probe is live when BEGIN fires: what follows it is traced
    this.enableProviders();
    this.watchProviders();
    this.freeThreadLocals();
    this.startKernel();
    this.inKernelState?.start();
    for (const p of this.enabledProviders) p.start?.();
    this.rt.out.hold();
    this.fireOnCpu(this.dtrace.begin);
    const live = !this.rt.exitReq.requested && !this.stopping;
    if (live) {
      // the probes, enabled before BEGIN, fire from now on: in DTrace no probe fires before
      // BEGIN has (and none after an exit() in it); the kernel programs act from now on
      this.activeTs = this.kernel && this.kernel.base > 0n ? Number(process.hrtime.bigint() - this.kernel.base) : 0;
      this.inKernelState?.activate();
    }
    // BEGIN's output, once tracing is active: its system() commands are traced, as DTrace's
    // consumer runs them when it reads BEGIN's buffer
    this.rt.out.release();
    if (live) {
      this.onLive?.();
      const rate = Number(this.rt.opts.get('statusrate')) / 1e6;
      this.statusTimer = setInterval(() => this.statusCheck(), Math.max(10, rate));
    } else {
      this.stop();
    }
    await done;
    return this.rt.exitReq.status;
  }

  private enabledProviders: Provider[] = [];

  /** Thread-local variables kept in the kernel go when their thread does. */
  private freeThreadLocals(): void {
    const ik = this.inKernelState;
    if (!ik) return;
    let id = -1;
    try {
      id = this.tracer().format('sched', 'sched_process_exit').id;
    } catch {
      // no such tracepoint
    }
    if (id < 0 || !ik.freeOnThreadExit(id)) this.warn('thread-local variables of exited threads are not freed in the kernel: a new thread with the same ID may see them');
  }

  private enableProviders(): void {
    const byProvider = new Map<Provider, ProbeDef[]>();
    for (const id of this.ecbs.keys()) {
      const def = this.registry.byId(id)!;
      const prov = this.registry.providerOf(def);
      if (prov === (this.dtrace as Provider)) continue;
      let list = byProvider.get(prov);
      if (!list) byProvider.set(prov, (list = []));
      list.push(def);
    }
    for (const [prov, defs] of byProvider) {
      this.enabledProviders.push(prov);
      prov.enable(defs, this);
    }
  }

  /**
   * Providers whose probes come to exist while tracing (pid: objects loaded later) watch for
   * them, for the descriptions of the clauses that name them.
   */
  private watchProviders(): void {
    for (const prov of this.registry.providers) {
      if (prov.watch === undefined) continue;
      const descs = this.clauses.flatMap((c) => c.descs).filter((d) => globMatch(d.provider, prov.name));
      if (descs.length === 0) continue;
      prov.watch(descs, this, this.registry.announcer(prov), (defs) => this.lateProbes(prov, defs));
    }
  }

  /** the highest enabled probe ID given */
  private lastEpid = 0;

  /**
   * Probes a provider made while tracing: each clause whose descriptions match one is enabled
   * on it (in program order, with an enabled probe ID of its own), then the provider enables
   * those some clause wants.
   */
  private lateProbes(prov: Provider, defs: ProbeDef[]): void {
    if (this.stopping) return;
    if (this.lastEpid === 0) for (const c of this.clauses) for (const e of c.epids.values()) this.lastEpid = Math.max(this.lastEpid, e);
    const wanted: ProbeDef[] = [];
    for (const def of defs) {
      const id = def.probe.id;
      if (this.ecbs.has(id)) continue;
      const list: Enabling[] = [];
      for (const c of this.clauses) {
        if (!c.descs.some((d) => this.registry.descMatches(d, def))) continue;
        const epid = ++this.lastEpid;
        c.probes.push(def);
        c.epids.set(id, epid);
        list.push({ epid, clause: c, isError: false });
      }
      if (list.length === 0) continue;
      this.ecbs.set(id, list);
      while (this.ecbsById.length <= id) this.ecbsById.push(undefined);
      this.ecbsById[id] = list;
      wanted.push(def);
    }
    if (wanted.length === 0) return;
    if (!this.enabledProviders.includes(prov)) this.enabledProviders.push(prov);
    prov.enable(wanted, this);
  }

  /**
   * $target, if every clause on a kernel probe tests pid == $target: then the kernel records
   * only that process's events (and its children's) in the first place.
   */
  private targetOnly(): number {
    if (this.target <= 0) return 0;
    const want = BigInt(this.target);
    for (const [id, list] of this.ecbs) {
      const def = this.registry.byId(id)!;
      if (this.registry.providerOf(def).local) continue;
      for (const e of list) {
        if (!e.clause.plan.kernel.some((t) => t.field === 'pid' && t.op === '==' && t.value === want)) return 0;
      }
    }
    return this.target;
  }

  /** Starts the kernel tracer if a provider asked for it. */
  private startKernel(): void {
    const k = this.kernel;
    if (!k) return;
    const rt = this.rt;
    const rate = rt.opts.get('switchrate');
    const pollMs = rate > 0n ? Number(rate) / 1e6 : DEFAULT_POLL_MS;
    const bufKb = rt.opts.isGiven('bufsize') ? Math.max(4, Math.ceil(Number(rt.opts.get('bufsize')) / 1024)) : defaultRingKb(cpus().length, totalmem());
    // a switchrate set is the longest interval between polls
    const idleMs = rate > 0n ? pollMs : Math.max(pollMs, Math.min(IDLE_POLL_MS, (IDLE_POLL_MS * bufKb) / IDLE_POLL_BUFFER_KB));
    k.onBatch = () => rt.out.flush();
    rt.taskOf = (tid) => k.procs.lookup(tid);
    rt.userMemory = (tid, addr, size) => k.user.read(tid, addr, size);
    // psinfo_t's command line, for exec'd processes that are gone when D code reads it
    if (this.clauses.some((c) => c.plan.reads.has('curpsinfo') || c.probes.some((p) => p.probe.provider === 'proc'))) {
      k.recordExecArgs();
    }
    const pid = this.targetOnly();
    if (pid > 0) k.limitToProcess(pid);
    const show = this.showKernelCode;
    if (show !== null) {
      k.user.showProgram = (event, calls, programs, listing) =>
        show(`\nDisassembly of the BPF program on ${event} (it runs the capture programs of ${calls} system calls' probes, found by the call's number; ${programs} different program${programs === 1 ? '' : 's'}):\n${listing}`);
    }
    k.start(bufKb, pollMs, idleMs);
    for (const r of k.refused) this.warn(`failed to enable ${r.what}: ${r.why}`);
    if (k.user.unavailable !== null) {
      this.warn(`copyin() and copyinstr() read user memory when events are handled, not when probes fire: ${k.user.unavailable}`);
    }
    if (k.userStackUnavailable !== null) {
      this.warn(`ustack() and the user symbol functions have no user stacks to read (perf events with user stacks: ${k.userStackUnavailable})`);
    }
    rt.timeBase = k.base;
  }

  /** Fires a probe: its clauses run in program order, on `ctx` as the caller filled it. */
  fire(def: ProbeDef): void {
    const ctx = this.ctx;
    if (this.cpu >= 0 && ctx.eventTs >= 0 && ctx.cpu !== this.cpu) {
      // -x cpu: only what that CPU does (dtrace's own probes, BEGIN, END and timers, fire wherever dtrace runs)
    } else if (this.held && !this.stopping && def !== this.dtrace.begin && def !== this.dtrace.end && def !== this.dtrace.error) {
      this.heldDrops[ctx.cpu] = (this.heldDrops[ctx.cpu] ?? 0) + 1;
    } else {
      this.runClauses(def, ctx);
    }
    // a decoder's Numbers are this firing's only (the next firing may fill ctx.args alone)
    ctx.argnSet = 0;
    ctx.argBuild = null;
    ctx.uregsN = 0;
  }

  private runClauses(def: ProbeDef, ctx: ProbeContext): void {
    if (this.stopped) return;
    const list = this.ecbsById[def.probe.id];
    if (list === undefined) return;
    if (this.stopping && def !== this.dtrace.end && !(ctx.eventTs >= 0 && ctx.eventTs <= this.stopTs)) return;
    if (ctx.eventTs >= 0 && ctx.eventTs < this.activeTs) return;
    const rt = this.rt;
    ctx.probe = def.probe;
    rt.startFiring(ctx);
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      this.runClause(ctx, e, e.epid, e.clause.fn);
      // once exit() has run, the rest of the firing's clauses do not
      if (rt.exitReq.requested && def !== this.dtrace.end) break;
    }
    this.endFiring(ctx);
  }

  /** Runs one clause of a firing (`fn`: its code, or what formats its kernel record) in the principal buffer's room for it. */
  private runClause(ctx: ProbeContext, e: Enabling, epid: number, fn: ClauseFn): void {
    const rt = this.rt;
    ctx.epid = epid;
    ctx.action = 0;
    rt.startClause();
    if (rt.principal !== null) {
      const r = e.clause.record;
      if (r.needed !== 0 && !rt.reserve(ctx.cpu, r.needed, r.align, r.size)) return;
    }
    try {
      fn(ctx);
    } catch (err) {
      rt.abortRecord();
      this.clauseFailed(ctx, e, err);
    }
  }

  private endFiring(ctx: ProbeContext): void {
    const rt = this.rt;
    rt.endFiring();
    // switch: the consumer takes what the firing recorded
    const pb = rt.principal;
    if (pb !== null && pb.policy === BufPolicy.Switch) pb.drained(ctx.cpu);
    if (rt.exitReq.requested && !this.stopping) this.stop();
  }

  /**
   * when BEGIN had fired, without exit(), as an event's time: no event before it fires a probe
   * (Infinity until then, and after an exit() in BEGIN)
   */
  private activeTs = Infinity;

  /** the decoders of the kernel clauses' records, by clause */
  private readonly outputDecoders = new Map<KernelClause, OutputDecoder>();

  /**
   * A record a clause that prints in the kernel wrote as its probe fired (its predicate held, and
   * the rest of it ran there): its output actions run on the values it holds, as the clause's
   * firing, with the firing's thread and time. A fault's record is reported as a fault in dtrace is.
   */
  private readonly kernelRecords = {
    event: (cpu: number, page: Buffer, view: DataView, off: number, _len: number, ts: number): void => {
      const ik = this.inKernelState;
      const word = view.getUint32(off + OUTPUT_CLAUSE, true);
      const k = ik?.clauseNumbered(word & ~OUTPUT_FAULT);
      const e = k === undefined ? undefined : this.inKernelEnablings.get(k);
      const def = this.registry.byId(view.getUint32(off + OUTPUT_PROBE, true));
      if (k === undefined || e === undefined || def === undefined) return;
      // a fault's record comes from any clause; another from a clause that prints
      const fault = (word & OUTPUT_FAULT) !== 0;
      const output = e.clause.output;
      const printed = k.output;
      if (!fault && (output === null || printed === null)) return;
      if (this.stopped || (this.stopping && !(ts <= this.stopTs))) return;
      if (this.held && !this.stopping) {
        this.heldDrops[cpu] = (this.heldDrops[cpu] ?? 0) + 1;
        return;
      }
      const ctx = this.ctx;
      ctx.cpu = cpu;
      ctx.tid = view.getUint32(off + OUTPUT_TID, true);
      ctx.pid = view.getUint32(off + OUTPUT_PID, true);
      ctx.eventTs = ts;
      ctx.timestamp = -1n;
      ctx.taskFired = false;
      ctx.errno = 0;
      const epid = e.clause.epids.get(def.probe.id) ?? e.epid;
      if (fault) {
        const place = Number(view.getBigUint64(off + FAULT_PLACE, true));
        ctx.probe = def.probe;
        ctx.epid = epid;
        ctx.action = place % 256;
        this.fault(ctx, e, new DFault(Math.floor(place / 256), view.getBigUint64(off + FAULT_VALUE, true)));
        return;
      }
      let decode = this.outputDecoders.get(k);
      // (not a fault's: the clause prints)
      if (decode === undefined) this.outputDecoders.set(k, (decode = outputDecoder(printed!)));
      decode(page, view, off, ctx);
      ctx.probe = def.probe;
      this.rt.startFiring(ctx);
      this.runClause(ctx, e, epid, output!);
      this.endFiring(ctx);
    },
  };

  /**
   * What ends a clause early ends only that clause, never the run: a fault as DTrace reports it;
   * a failed allocation as the fault DTrace has for it (no scratch space left); anything else as
   * an error of the consumer against the enabling.
   */
  private clauseFailed(ctx: ProbeContext, e: Enabling, err: unknown): void {
    if (err instanceof ClauseAbort) return;
    if (err instanceof DFault) this.fault(ctx, e, err);
    else if (isAllocationFailure(err)) this.fault(ctx, e, new DFault(FLT_NOSCRATCH, 0n));
    else if (err instanceof PrintfDataError) this.rt.libraryError(ctx, err.message);
    else {
      if (process.env.DTRACE_TS_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
      this.rt.libraryError(ctx, `internal error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** A fault in a clause: DTrace's error message, then the ERROR probe fires. */
  private fault(ctx: ProbeContext, e: Enabling, f: DFault): void {
    if (this.inError) {
      this.dblErrors++;
      return;
    }
    const p = ctx.probe;
    const where = ctx.action === 0 ? 'predicate' : `action #${ctx.action}`;
    this.rt.report('error', `error on enabled probe ID ${ctx.epid} (ID ${p.id}: ${p.desc}): ${faultMessage(f)} in ${where} at DIF offset ${ctx.action * 4 + 4}`, {
      epid: ctx.epid,
      id: p.id,
      fault: faultMessage(f),
    });
    const list = this.ecbs.get(this.dtrace.error.probe.id);
    if (!list) return;
    const ec = this.errorCtx;
    ec.probe = this.dtrace.error.probe;
    // Oracle's ERROR arguments: the probe ID, the clause number, the offset, fault, value
    ec.args[0] = 0n;
    ec.args[1] = BigInt(p.id);
    ec.args[2] = BigInt(e.clause.index);
    ec.args[3] = BigInt(ctx.action * 4 + 4);
    ec.args[4] = BigInt(f.fault);
    ec.args[5] = f.value;
    ec.timestamp = -1n;
    if (ec.L.length !== 0) ec.L.length = 0;
    this.inError = true;
    try {
      for (const x of list) {
        this.runClause(ec, x, x.epid, x.clause.fn);
      }
    } finally {
      this.inError = false;
    }
  }

  /** Stops tracing: END fires, then the aggregations print and the session ends. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    if (this.rt.exitReq.requested) {
      const ts = this.ctx.eventTs;
      // (after an exit() in BEGIN no other probe fires at all: tracing never became active)
      this.stopTs = ts >= 0 ? ts : this.kernel ? Number(process.hrtime.bigint() - this.kernel.base) : -1;
    }
    this.rt.principal?.stop();
    for (const p of this.enabledProviders) p.disable();
    this.inKernelState?.detach();
    if (this.statusTimer) clearInterval(this.statusTimer);
    // let the current event finish before END runs
    setImmediate(() => this.finish());
  }

  /** The traced processes are gone: what the kernel buffered still runs, then END. */
  end(): void {
    this.drainAndStop();
  }

  /** Ctrl-C and friends: what the kernel buffered before the stop still runs, then END. */
  private drainAndStop(): void {
    const k = this.kernel;
    if (k && !this.stopping) {
      k.stop();
    }
    this.stop();
  }

  /** Removes everything the kernel tracer created; safe to call on any path, more than once. */
  teardown(): void {
    // the programs' perf events first: a kprobe event one still holds cannot be removed
    this.inKernelState?.detach();
    this.kernel?.teardown();
    // a last read of its maps, then they are freed
    this.inKernelState?.close();
  }

  /** Ctrl-C / SIGTERM: the first stops tracing (END runs); a second exits at once. */
  interrupt(): void {
    this.interrupted++;
    if (this.interrupted === 1) {
      if (!this.stopping) this.rt.interrupted();
      this.drainAndStop();
    } else {
      this.stopped = true;
      this.rt.out.flush();
      this.resolveDone?.();
    }
  }

  private finish(): void {
    if (this.stopped) return;
    // exit(): what the kernel buffered before it still fires (the rest is dropped as it is read)
    if (this.stopTs >= 0) this.kernel?.stop();
    // the kernel's aggregations as they stand when tracing stops
    this.inKernelState?.detach();
    this.reportKernelDrops();
    this.teardown();
    this.fireOnCpu(this.dtrace.end);
    this.rt.out.flush();
    this.stopped = true;
    this.reportDrops();
    const rt = this.rt;
    rt.emitKept(this.ctx.cpu);
    try {
      rt.printFinal(rt.exitReq.status);
      rt.writeFlameGraph();
    } catch (e) {
      // a record too large to print (a huge strsize dumped in hex): dtrace(1)'s own failure
      if (!isAllocationFailure(e)) throw e;
      this.warn('failed to print aggregations: Memory allocation failure');
      rt.exitReq.status = 1;
    }
    rt.out.flush();
    this.resolveDone?.();
  }

  /** What dtrace checks every statusrate: drops to report; a fill buffer that filled stops tracing. */
  private statusCheck(): void {
    this.reportDrops();
    if (this.rt.principal?.filled() && !this.stopping) this.stop();
  }

  /** Drop counts that grew since the last report, in DTrace's words. */
  private reportDrops(): void {
    this.reportKernelDrops();
    this.inKernelState?.checkDrops();
    const rt = this.rt;
    const r = this.reported;
    const tag = (t: DropTag) => (rt.opts.flag('droptags') ? `[${t}] ` : '');
    const report = (now: number, was: number, kind: DropTag, what: string, extra = '') => {
      if (now > was) rt.report(kind, `${tag(kind)}${now - was} ${what}${now - was > 1 ? 's' : ''}${extra}`, { count: now - was, cpu: null });
    };
    report(rt.dyn.drops, r.dyn, 'DTRACEDROP_DYNAMIC', 'dynamic variable drop');
    report(rt.specDrops, r.spec, 'DTRACEDROP_SPEC', 'speculative drop');
    report(rt.specBusy, r.specBusy, 'DTRACEDROP_SPECBUSY', 'failed speculation', ' (available buffer(s) still busy)');
    report(rt.specUnavail, r.specUnavail, 'DTRACEDROP_SPECUNAVAIL', 'failed speculation', ' (no speculative buffer available)');
    report(this.dblErrors, r.dbl, 'DTRACEDROP_DBLERROR', 'error', ' in ERROR probe enabling');
    // dt_handle_cpudrop's words for the aggregation buffer, per CPU
    const aggDrops = rt.aggSpace.drops;
    for (let cpu = 0; cpu < aggDrops.length; cpu++) {
      const n = (aggDrops[cpu] ?? 0) - (r.agg[cpu] ?? 0);
      if (n > 0) rt.report('DTRACEDROP_AGGREGATION', `${tag('DTRACEDROP_AGGREGATION')}${n} aggregation drop${n > 1 ? 's' : ''} on CPU ${cpu}`, { count: n, cpu });
      r.agg[cpu] = aggDrops[cpu] ?? 0;
    }
    rt.principal?.takeDrops((cpu, n) => rt.report('DTRACEDROP_PRINCIPAL', `${tag('DTRACEDROP_PRINCIPAL')}${n} drop${n > 1 ? 's' : ''} on CPU ${cpu}`, { count: n, cpu }));
    for (let cpu = 0; cpu < this.heldDrops.length; cpu++) {
      const n = (this.heldDrops[cpu] ?? 0) - (this.heldDropsReported[cpu] ?? 0);
      if (n > 0) rt.report('DTRACEDROP_PRINCIPAL', `${tag('DTRACEDROP_PRINCIPAL')}${n} drop${n > 1 ? 's' : ''} on CPU ${cpu}`, { count: n, cpu });
      this.heldDropsReported[cpu] = this.heldDrops[cpu] ?? 0;
    }
    r.dyn = rt.dyn.drops;
    r.spec = rt.specDrops;
    r.specBusy = rt.specBusy;
    r.specUnavail = rt.specUnavail;
    r.dbl = this.dblErrors;
  }

  private lateReadsTold = false;

  /**
   * Events the kernel's buffers could not hold, per CPU: the probes' as DTrace reports principal
   * drops; dtrace's own (the process table's, in a buffer of their own) apart, since they are no
   * probe's, but said, since what the table did not see it may get wrong.
   */
  private reportKernelDrops(): void {
    const k = this.kernel;
    if (!k) return;
    if (k.user.lateReads > 0 && !this.lateReadsTold) {
      // said once: D code read user memory that no probe copied as it fired
      this.lateReadsTold = true;
      this.warn('copyin()/copyinstr() of an address no probe copied as it fired read the memory when the event was handled: it may have changed since');
    }
    const tag = this.rt.opts.flag('droptags') ? '[DTRACEDROP_PRINCIPAL] ' : '';
    k.checkDrops(
      (cpu, n) => this.rt.report('DTRACEDROP_PRINCIPAL', `${tag}${n} drop${n > 1 ? 's' : ''} on CPU ${cpu}`, { count: n, cpu }),
      (cpu, n) => this.warn(`${n} process table event${n > 1 ? 's' : ''} dropped on CPU ${cpu} (execname, ppid and uid of new processes may be wrong)`),
    );
  }
}
