// The rawtp provider: every kernel tracepoint as a raw tracepoint, rawtp:<group>::<event>
// (Oracle DTrace's naming: the module is the tracepoint's group; one the kernel lists in no
// group, as the scheduler's bare tracepoints, is rawtp:vmlinux::<name> when named), with the
// tracepoint's own arguments, untranslated: what the kernel passes to the tracepoint, before
// the event's format turns it into fields (sched_process_fork's two task_struct pointers,
// sys_enter's pt_regs pointer and system call number). Their count and types come from the
// kernel's BTF (the btf_trace_<name> typedef: a pointer to a function whose first parameter
// is the program's context); without BTF, the count is found by trial, as Oracle's dtrace
// does, and each is a uint64_t. A BPF program per probe copies the arguments as it fires
// (kernel/bpf/raw-tracepoints.ts); where BPF cannot be used there is no rawtp provider, and a
// description naming it says why.                                            [dt_prov_rawtp.c]

import type { ClausePlan, KernelArg, KernelProbe } from './clause-plan.js';
import { DFatalError } from '../errors.js';
import { RAW_ARGS, RAW_TID, type RawTest, rawTracepointArgCount, rawValuesAt } from '../kernel/bpf/raw-tracepoints.js';
import { bpfUnavailable } from '../kernel/bpf/sys.js';
import { kernelBtf } from '../kernel/btf.js';
import type { EventField } from '../kernel/event-format.js';
import { KPROBE_GROUP_PREFIX } from '../kernel/kprobes.js';
import { availableEvents, hasEventNamed, tracefsRoot } from '../kernel/tracefs.js';
import { UPROBE_GROUP_PREFIX } from '../kernel/uprobes.js';
import type { TypeScope } from '../lang/typescope.js';
import type { DType } from '../lang/types.js';
import { argsRead, bigArgsRead, captureValuesOf, compileDecoder, fillTask, firingDecoder, firingValuesOfPlans, runClausesInKernel, usableFiringValues } from './kernel-event.js';
import { fillFiredTask, readsTask, taskValues } from './task-fields.js';
import { isGlob } from './registry.js';
import { type FiringEnv, type NewProbe, type ProbeDef, type ProbeDesc, type Provider, ProviderUnavailable } from './provider.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Groups of events that are no tracepoints (kprobe and uprobe events, dtrace-ts's own) or that
 * another provider presents (syscalls: their raw tracepoints are raw_syscalls's sys_enter and
 * sys_exit), as Oracle's provider leaves them out.
 */
const NOT_RAW = new Set(['syscalls', 'kprobes', 'uprobes', 'ftrace']);

/** Groups of the dynamic events there are now (kprobe, uprobe, synthetic, eprobe events): no raw tracepoints. */
function dynamicGroups(root: string): Set<string> {
  const out = new Set<string>();
  const file = join(root, 'dynamic_events');
  if (!existsSync(file)) return out;
  try {
    // "p:kprobes/name symbol", "u:group/name path:0x..."
    for (const line of readFileSync(file, 'latin1').split('\n')) {
      const m = /^\S+:([^/\s]+)\//.exec(line);
      if (m) out.add(m[1]);
    }
  } catch {
    // unreadable: the fixed list and the prefixes still apply
  }
  return out;
}

function isRawGroup(group: string, dynamic: Set<string>): boolean {
  return !NOT_RAW.has(group) && !dynamic.has(group) && !group.startsWith(KPROBE_GROUP_PREFIX) && !group.startsWith(UPROBE_GROUP_PREFIX);
}

/** Why rawtp probes cannot be used here, or null; cheap checks only (no BPF system call). */
function quickRefusal(): string | null {
  if (process.env.DTRACE_TS_NO_BPF === '1') return bpfUnavailable();
  if (process.geteuid && process.geteuid() !== 0) return 'DTrace requires additional privileges (run it as root)';
  return null;
}

/** A raw tracepoint's arguments: how many, and (once asked for) their D types and C names. */
interface RawArgs {
  count: number;
  /** BTF's type IDs of the arguments (null: no BTF for it: each is a uint64_t) */
  btfIds: number[] | null;
  types: DType[] | null;
  names: string[] | null;
}

export class RawtpProvider implements Provider {
  readonly name = 'rawtp';
  private announcedAll = false;
  private readonly args = new Map<string, RawArgs>();

  constructor(private readonly types: TypeScope) {}

  canName(name: string): boolean {
    return hasEventNamed(tracefsRoot(), name);
  }

  /** Every tracepoint the kernel lists, but where BPF cannot be used (none then). */
  populate(newProbe: NewProbe): void {
    if (this.announcedAll || quickRefusal() !== null) return;
    this.announceAll(newProbe);
  }

  /** A description naming rawtp outright: refused, with the reason, where BPF cannot be used. */
  populateFor(_desc: ProbeDesc, newProbe: NewProbe): boolean {
    const why = bpfUnavailable();
    if (why !== null) throw new ProviderUnavailable(`rawtp probes are not available: ${why}`);
    if (!this.announcedAll) this.announceAll(newProbe);
    return true;
  }

  private announceAll(newProbe: NewProbe): void {
    this.announcedAll = true;
    const root = tracefsRoot();
    const dynamic = dynamicGroups(root);
    for (const [group, event] of availableEvents(root)) {
      if (isRawGroup(group, dynamic)) newProbe(group, '', event, []);
    }
  }

  /**
   * A raw tracepoint no group lists (the scheduler's pelt_cfs_tp and its kind: tracepoints with
   * no event), named exactly: rawtp:vmlinux::<name>, if BTF knows it.
   */
  provide(desc: ProbeDesc, newProbe: NewProbe): ProbeDef | null {
    if (desc.provider !== this.name || isGlob(desc.name) || desc.name === '' || isGlob(desc.module) || desc.func !== '') return null;
    if (desc.module !== '' && desc.module !== 'vmlinux') return null;
    if (availableEvents(tracefsRoot()).some(([, e]) => e === desc.name)) return null;
    const btf = kernelBtf();
    if (btf === null || btf.functionPointerParams(`btf_trace_${desc.name}`) === null) return null;
    return newProbe('vmlinux', '', desc.name, []);
  }

  /** How many arguments a raw tracepoint has (BTF's prototype, or by trial), cheaply: no types. */
  private argsOf(name: string): RawArgs {
    let a = this.args.get(name);
    if (a !== undefined) return a;
    const params = kernelBtf()?.functionPointerParams(`btf_trace_${name}`) ?? null;
    if (params !== null) {
      // the first parameter is the program's context (void *)
      a = { count: Math.max(0, params.length - 1), btfIds: params.slice(1), types: null, names: null };
    } else {
      let n: number | null;
      try {
        n = rawTracepointArgCount(name);
      } catch (e) {
        throw new DFatalError(`invalid probe specifier rawtp:::${name}: Cannot retrieve argument count: ${(e as Error).message}`);
      }
      a = { count: n ?? 0, btfIds: null, types: null, names: null };
    }
    this.args.set(name, a);
    return a;
  }

  /** The D types and C names of the arguments: BTF's (a struct is converted with all it reaches). */
  describe(def: ProbeDef): void {
    const a = this.argsOf(def.probe.name);
    if (a.types === null || a.names === null) {
      const btf = kernelBtf();
      if (a.btfIds !== null && btf !== null) {
        a.types = a.btfIds.map((id) => btf.type(id));
        a.names = a.btfIds.map((id) => btf.cName(id));
      } else {
        a.types = new Array<DType>(a.count).fill(this.types.get('uint64_t'));
        a.names = new Array<string>(a.count).fill('uint64_t');
      }
    }
    def.argTypes = a.types;
    def.nativeTypes = a.names;
  }

  enable(probes: ProbeDef[], env: FiringEnv): void {
    const why = bpfUnavailable();
    if (why !== null) throw new DFatalError(`rawtp probes are not available: ${why}`);
    const tracer = env.tracer();
    const raw = tracer.rawTracepoints();
    const procs = tracer.procs;
    const ctx = env.ctx;
    for (const def of probes) {
      const name = def.probe.name;
      const nargs = this.argsOf(name).count;
      let plans = env.plans(def);
      plans = runInKernel(env, def, name, nargs, plans);
      if (plans.length === 0) continue;
      const filter = rawFilter(def, plans, nargs);
      if (filter === 'never') continue;
      const decode = compileDecoder(rawFields(nargs), argsRead(plans), '', bigArgsRead(plans));
      // kernel memory the clauses read, and who fired the probe, computed as it fires
      const all = firingValuesOfPlans(plans);
      const probe: KernelProbe = { ...def.probe, context: 'arguments', arg: rawArg(nargs) };
      const usable = usableFiringValues(all, probe);
      const values = captureValuesOf(usable, probe);
      const task = readsTask(plans);
      if (task) values.push(taskValues());
      const valuesAt = rawValuesAt(nargs);
      const areas = raw.add(
        name,
        nargs,
        (cpu, page, view, off, _len, ts) => {
          fillTask(ctx, procs, cpu, view.getInt32(off + RAW_TID, true), ts);
          if (taskArea >= 0) fillFiredTask(ctx, procs, page, view, off + valuesAt + taskArea);
          decode(page, view, off, ctx);
          if (firing !== null) firing(page, view, off, ctx, valuesAt);
          env.fire(def);
        },
        filter,
        values,
      );
      const firing = all.length > 0 ? firingDecoder(all, usable, areas) : null;
      const taskArea = task ? areas[areas.length - 1] : -1;
    }
  }

  disable(): void {
    // the session's tracer owns the programs: its teardown closes them
  }
}

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;

/**
 * The tests the probe's program makes before it sends a record, from the predicates' conjuncts
 * it can evaluate (pid, tid, cpu, arguments against 32-bit constants): for each clause the AND
 * of its tests, the OR of those; [] if some clause has none (every record is sent); 'never' if
 * no clause can fire on this probe (a probefunc or probename test false for it). dtrace still
 * runs every predicate: a filter only spares it the records no clause wants.
 */
export function rawFilter(def: ProbeDef, plans: ClausePlan[], nargs: number): RawTest[][] | 'never' {
  const ors: RawTest[][] = [];
  for (const plan of plans) {
    const ands: RawTest[] = [];
    let never = false;
    for (const t of plan.kernel) {
      if (t.field === 'probefunc' || t.field === 'probename') {
        const eq = (t.field === 'probefunc' ? def.probe.func : def.probe.name) === t.value;
        if ((t.op === '==' && !eq) || (t.op === '!=' && eq)) never = true;
        continue;
      }
      if (typeof t.value !== 'bigint' || t.value < INT32_MIN || t.value > INT32_MAX) continue;
      const m = /^arg([0-9])$/.exec(t.field);
      let what: RawTest['what'];
      if (m) what = Number(m[1]);
      else if (t.field === 'pid' || t.field === 'tid' || t.field === 'cpu') what = t.field;
      else continue;
      if (typeof what === 'number' && what >= nargs) continue;
      ands.push({ what, op: t.op, value: Number(t.value) });
    }
    if (never) continue;
    if (ands.length === 0) return [];
    ors.push(ands);
  }
  return ors.length === 0 ? 'never' : ors;
}

/** The arguments in a raw tracepoint's record, as fields a decoder reads (a u64 each). */
function rawFields(n: number): EventField[] {
  const out: EventField[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ name: `arg${i}`, type: 'u64', offset: RAW_ARGS + 8 * i, size: 8, signed: true, charArray: false, dataLoc: false, pointer: false });
  }
  return out;
}

/**
 * Runs the probe's clauses that compiled to BPF in the kernel, on the raw tracepoint (its
 * context is the arguments, a u64 each); returns the plans of those left for dtrace.
 */
function runInKernel(env: FiringEnv, def: ProbeDef, tracepoint: string, nargs: number, plans: ClausePlan[]): ClausePlan[] {
  return runClausesInKernel(env, def, plans, 'arguments', rawArg(nargs), (ik, probe, clauses) => ik.attachRaw(tracepoint, probe, clauses));
}

/** Where a raw tracepoint program finds argument i; past the last one: 0 (a program may not read past the tracepoint's arguments). */
function rawArg(nargs: number): (i: number) => KernelArg | null {
  return (i) => (i < nargs ? { offset: 8 * i, size: 8, signed: true } : i < 10 ? { offset: 0, size: 0, signed: false } : null);
}
