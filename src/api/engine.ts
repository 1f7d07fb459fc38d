// What the dtrace command and the library share, from compiled D to a running session: the
// providers, the compiler, the checks before tracing, the runtime (text or JSON output) and the
// session. The command (src/cli) and the library (api/index.ts) are its two users.    [dt_open.c]

import { Compiler, CompiledClause, ProgramSource, dynvarSlotSize } from '../compile/compile.js';
import { zeroCode } from '../compile/repr.js';
import { reapStale } from '../kernel/tracer.js';
import { tracefsIfMounted } from '../kernel/tracefs.js';
import type { MacroEnv } from '../lang/lexer.js';
import { DtraceProvider } from '../providers/dtrace.js';
import { FbtProvider } from '../providers/fbt.js';
import { PidProviders } from '../providers/pid.js';
import { UsdtProviders } from '../providers/usdt.js';
import { ProcProvider } from '../providers/proc.js';
import { CpcProvider } from '../providers/cpc.js';
import { ProfileProvider } from '../providers/profile.js';
import { ProbeRegistry } from '../providers/registry.js';
import { SchedProvider } from '../providers/sched.js';
import { TcpProvider } from '../providers/tcp.js';
import { IpProvider, UdpProvider } from '../providers/net.js';
import { IoProvider } from '../providers/io.js';
import { LockstatProvider } from '../providers/lockstat.js';
import { SdtProvider } from '../providers/sdt.js';
import { RawtpProvider } from '../providers/rawtp.js';
import { SyscallProvider } from '../providers/syscall.js';
import { type BufferNeeds, sizeBuffers } from '../runtime/buffers.js';
import { JsonRuntime } from '../runtime/json.js';
import type { Options } from '../runtime/options.js';
import type { OutputSink } from '../runtime/output.js';
import { type AggSpec, Runtime, aggRecordSizes } from '../runtime/runtime.js';
import type { Value } from '../runtime/values.js';
import { Session, endReserve } from '../session/session.js';

/** The macro variables of a dtrace process ($pid, $uid, ...), with $target and the arguments. */
export function macroEnv(args: string[], defaultArgs: boolean, target: number): MacroEnv {
  return {
    args,
    defaultArgs,
    vars: new Map([
      ['pid', process.pid],
      ['ppid', process.ppid],
      ['uid', process.getuid?.() ?? 0],
      ['gid', process.getgid?.() ?? 0],
      ['euid', process.geteuid?.() ?? 0],
      ['egid', process.getegid?.() ?? 0],
      ['pgid', process.pid],
      ['sid', process.pid],
      ['target', target],
    ]),
    used: new Set(),
  };
}

/**
 * Removes what killed dtraces left in tracefs, wherever this run can (root, tracefs mounted):
 * every run does, not only those that trace the kernel, so that -l or a BEGIN-only run cleans up.
 */
export function reapLeftovers(): void {
  const root = tracefsIfMounted();
  if (root !== null) reapStale(root);
}

export class Engine {
  readonly registry = new ProbeRegistry();
  readonly dtraceProv = new DtraceProvider();
  readonly compiler: Compiler;
  readonly clauses: CompiledClause[] = [];
  /** probes the programs matched, summed */
  total = 0;

  constructor(
    readonly opts: Options,
    readonly macros: MacroEnv,
    zdefs: boolean,
    /** the executable of each -c process, held before its exec (the pid provider's objects) */
    commands: ReadonlyMap<number, string> = new Map(),
  ) {
    const registry = this.registry;
    registry.add(this.dtraceProv);
    const compiler = (this.compiler = new Compiler(opts, registry, macros));
    registry.add(new ProfileProvider(compiler.types.get('uint64_t')));
    registry.add(new CpcProvider(compiler.types.get('uint64_t')), true);
    registry.add(new SyscallProvider(compiler.types), true);
    registry.add(new ProcProvider(compiler.types), true);
    registry.add(new SchedProvider(compiler.types), true);
    registry.add(new IoProvider(compiler.types), true);
    registry.add(new IpProvider(compiler.types), true);
    registry.add(new TcpProvider(compiler.types), true);
    registry.add(new UdpProvider(compiler.types), true);
    registry.add(new LockstatProvider(compiler.types), true);
    registry.add(new SdtProvider(compiler.types), true);
    registry.add(new RawtpProvider(compiler.types), true);
    registry.add(new FbtProvider(compiler.types), true);
    registry.addFamily(new PidProviders(commands));
    // usdt: provider<PID> from the notes of what a process maps; python* names the -c/-p processes'
    const target = Number(macros.vars.get('target') ?? 0);
    registry.addFamily(new UsdtProviders(commands, () => [...new Set([...(target > 0 ? [target] : []), ...commands.keys()])]));
    compiler.allowZeroMatches = zdefs || opts.flag('zdefs');
  }

  /** Compiles one program (throws DCompileError or DFatalError); its clauses join the others. */
  compile(src: ProgramSource): { clauses: CompiledClause[]; matches: number } {
    const prog = this.compiler.compile(src);
    this.clauses.push(...prog.clauses);
    this.total += prog.matches;
    return { clauses: prog.clauses, matches: prog.matches };
  }

  /**
   * Why the programs cannot be enabled, in DTrace's words after "dtrace: ", or null. Sizes the
   * buffers (`notice`: what dtrace says of a buffer it lowered).
   */
  refusal(programs: number, notice: (msg: string) => void): string | null {
    const { clauses, opts } = this;
    if (this.total === 0 && !this.compiler.allowZeroMatches) return programs > 0 ? 'no probes matched' : 'no probes specified';
    if (clauses.some((c) => c.checked.destructive) && !opts.flag('destructive')) {
      return 'could not enable tracing: Destructive actions not allowed';
    }
    const refusal = sizeBuffers(opts, this.bufferNeeds(), notice);
    return refusal === null ? null : `could not enable tracing: ${refusal}`;
  }

  /** The runtime and the session that run the programs, their output going to `out`. */
  start(out: OutputSink, warn: (msg: string) => void, testing: boolean, target: number): { rt: Runtime; session: Session } {
    const { opts, compiler, clauses } = this;
    const rt = opts.get('oformat') === 1n ? new JsonRuntime(opts, out, warn, testing) : new Runtime(opts, out, warn, testing);
    const syms = compiler.syms;
    const slot = dynvarSlotSize([...[...syms.globals.values()].filter((v) => v.kind === 'assoc'), ...syms.tls.values()]);
    const globals = [...syms.globals.values()].map((v) => ({
      id: v.id,
      zero: zeroFactory(v.type ? zeroCode(v.type) : '0n'),
      assoc: v.kind === 'assoc',
      nkeys: v.keys?.length ?? 0,
      elemSize: slot,
    }));
    const tlsSizes: number[] = [];
    const tlsKeys: number[] = [];
    for (const v of syms.tls.values()) {
      tlsSizes[v.id] = slot;
      tlsKeys[v.id] = v.keys?.length ?? 1;
    }
    rt.init(globals, { sizes: tlsSizes, keyCounts: tlsKeys }, this.aggSpecs());
    const T = compiler.types;
    const psinfo = T.lookup('psinfo_t');
    const lwpsinfo = T.lookup('lwpsinfo_t');
    const cpuinfo = T.lookup('cpuinfo_t');
    if (psinfo && lwpsinfo && cpuinfo) rt.procTypes = { psinfo, lwpsinfo, cpuinfo };
    rt.fileinfoType = T.lookup('fileinfo_t') ?? null;
    compiler.link(clauses, { rt, G: rt.G, D: rt.D, AG: rt.aggs });
    const session = new Session(rt, this.registry, this.dtraceProv, clauses, warn, testing, target);
    return { rt, session };
  }

  /** The program's aggregations (-x prometheus): each one's ID and the identifiers of its keys. */
  exportedAggregations(): Array<{ id: number; keyNames: Array<string | null> }> {
    return [...this.compiler.syms.aggs.values()].filter((a) => a.fn !== null).map((a) => ({ id: a.id, keyNames: a.keyNames ?? [] }));
  }

  private aggSpecs(): AggSpec[] {
    return [...this.compiler.syms.aggs.values()]
      .filter((a) => a.fn !== null)
      .map((a) => ({ name: a.name, id: a.id, fn: a.fn!, keys: a.keys ?? [], params: a.params }));
  }

  /** What the program stores in the buffers its size options declare. */
  private bufferNeeds(): BufferNeeds {
    const syms = this.compiler.syms;
    const assocs = [...syms.globals.values()].filter((v) => v.kind === 'assoc');
    return {
      aggRecord: aggRecordSizes(this.aggSpecs()),
      dynvars: assocs.length > 0 || syms.tls.size > 0,
      dynvarSlot: assocs.length > 0 ? dynvarSlotSize(assocs) : 0,
      speculates: this.clauses.some((c) => c.plan.speculates),
      records: this.clauses.some((c) => c.record.needed > 0),
      endReserve: endReserve(this.clauses),
    };
  }
}

function zeroFactory(code: string): () => Value | null {
  return new Function(`return ${code};`) as () => Value | null;
}
