// The fbt provider (function boundary tracing): fbt:<module>:<function>:entry and :return for
// every kernel function ftrace can trace (available_filter_functions; kallsyms where the kernel
// has no dynamic ftrace), made from kprobe events. Entry probes get arg0..arg5 from the
// argument registers; return probes get arg1 = the return value and arg0 = -1 (the offset of
// the returning instruction, which a kretprobe does not know; Oracle's port does the same).
// On kernels built without kprobe events, a description naming fbt gets a plain account of
// why, and of the probe that traces the same thing from a tracepoint.        [dt_prov_fbt.c]

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EventField } from '../kernel/event-format.js';
import { RETURN_FETCH_ARGS, entryFetchArgs, type KprobeSpec, registerOffset, syscallRegsOffset } from '../kernel/kprobes.js';
import { BtfKind, kernelBtf, moduleBtf } from '../kernel/btf.js';
import { kernelSymbols } from '../kernel/ksyms.js';
import type { TypeScope } from '../lang/typescope.js';
import { Kind } from '../lang/types.js';
import { noKprobeEvents } from '../kernel/platform.js';
import { availableEvents, tracefsRoot } from '../kernel/tracefs.js';
import { DFatalError } from '../errors.js';
import { argsRead, capturedStrings, compileDecoder, enableEventProbe } from './kernel-event.js';
import { globMatch, isGlob } from './registry.js';
import type { FiringEnv, NewProbe, ProbeDef, ProbeDesc, Provider } from './provider.js';
import { ProviderUnavailable } from './provider.js';

/** Prefixes of a system call's kernel functions: __x64_sys_chdir, __do_sys_chdir, ksys_read ... */
const SYSCALL_FUNCTION = /^(?:__(?:x64|ia32|arm64|riscv|s390x?)_sys_|__se_sys_|__do_sys_|do_sys_|ksys_|sys_|SyS_)(\w+)$/;

/**
 * The kernel's names for sys_X over the years, most direct first: SyS_X (3.x-4.16 wrappers),
 * then the pt_regs wrappers of 4.17+ (their one argument is the caller's saved registers,
 * so the call's arguments are read through it), then the inner functions, when not inlined.
 */
const SYSCALL_SYMBOLS: Array<{ prefix: string; viaRegs: boolean }> = [
  { prefix: 'SyS_', viaRegs: false },
  { prefix: '__x64_sys_', viaRegs: true },
  { prefix: '__arm64_sys_', viaRegs: true },
  { prefix: '__se_sys_', viaRegs: false },
  { prefix: '__do_sys_', viaRegs: false },
];

/** ftrace's own entries that are not functions one can probe (as Oracle's port skips them). */
const NOT_PROBEABLE = /^(?:__ftrace_invalid_address__|__probestub_|__traceiter_)|\./;

interface Target {
  symbol: string;
  viaRegs: boolean;
}

export class FbtProvider implements Provider {
  readonly name = 'fbt';

  constructor(private readonly types: TypeScope) {}

  private why: string | null = null;
  /** the kernel function each probe is on (differs from its name for sys_X aliases) */
  private readonly targets = new Map<ProbeDef, Target>();
  /** every function ftrace can trace, [module, function], read once (null: not yet) */
  private traceable: Array<[string, string]> | null = null;
  private readonly functions = new Set<string>();
  /** the functions whose probes are announced */
  private readonly announced = new Set<string>();

  /** Reads what the kernel can trace, once; false where it has no kprobe events (`why` says). */
  private load(): boolean {
    if (this.traceable !== null) return true;
    if (this.why !== null) return false;
    const root = tracefsRoot();
    if (!existsSync(join(root, 'kprobe_events'))) {
      this.why = noKprobeEvents(root);
      return false;
    }
    this.traceable = traceableFunctions(root);
    for (const [, func] of this.traceable) this.functions.add(func);
    return true;
  }

  canName(name: string): boolean {
    return name === 'entry' || name === 'return';
  }

  populate(newProbe: NewProbe): void {
    if (!this.load()) return;
    for (const [module, func] of this.traceable!) this.announce(module, func, newProbe);
  }

  /**
   * Only the functions a description's function pattern matches: ~33,000 functions make
   * ~66,000 probes, far more work than one probe (or a few dozen) needs. A description with
   * no function pattern needs them all.
   */
  populateFor(desc: ProbeDesc, newProbe: NewProbe): boolean {
    if (desc.func === '' || desc.func === '*') return false;
    if (!this.load()) return true;
    for (const [module, func] of this.traceable!) {
      if (globMatch(desc.func, func) && globMatch(desc.module, module)) this.announce(module, func, newProbe);
    }
    return true;
  }

  private announce(module: string, func: string, newProbe: NewProbe): void {
    if (this.announced.has(func)) return; // duplicate static names: one probe each, as Oracle's
    this.announced.add(func);
    for (const name of ['entry', 'return']) {
      this.targets.set(newProbe(module, func, name, []), { symbol: func, viaRegs: false });
    }
  }

  /**
   * args[] typed from the function's prototype in the kernel's BTF (or its module's): at entry
   * its parameters; at return args[0] the offset (int) and args[1] the return value. A
   * sys_X alias on a wrapper (its one parameter the saved registers) and a function BTF does
   * not know keep untyped arguments.
   */
  describe(def: ProbeDef): void {
    const t = this.targets.get(def);
    if (t === undefined || t.viaRegs) return;
    const module = def.probe.module;
    const btf = module === 'vmlinux' ? kernelBtf() : moduleBtf(module);
    const id = btf?.find(`func:${t.symbol}`);
    if (btf == null || id === undefined || btf.kind(id) !== BtfKind.Func) return;
    const fn = btf.type(id);
    if (def.probe.name === 'return') {
      const ret = fn.base!;
      def.argTypes = ret.kind === Kind.Void ? [this.types.get('int')] : [this.types.get('int'), ret];
    } else {
      def.argTypes = fn.params.slice(0, 10);
    }
    def.nativeTypes = def.argTypes.map((x) => x.name);
  }

  /**
   * sys_chdir on a kernel that calls it __x64_sys_chdir (or SyS_chdir, ...): probes under the
   * name the user wrote, on the function the kernel has. Without kprobe events: why not.
   */
  provide(desc: ProbeDesc, newProbe: NewProbe): ProbeDef[] | null {
    if (desc.provider !== this.name) return null;
    if (this.why !== null) {
      // a function the kernel does not have matches nothing, kprobes or not
      if (desc.func !== '' && !isGlob(desc.func) && !SYSCALL_FUNCTION.test(desc.func) && !kernelSymbols.hasFunction(desc.func)) return null;
      throw new ProviderUnavailable(`fbt probes are not available: ${this.why}; ${insteadOf(desc)}`);
    }
    const m = /^sys_(\w+)$/.exec(desc.func);
    if (!m || (desc.module !== '' && desc.module !== 'vmlinux' && !isGlob(desc.module))) return null;
    const found = SYSCALL_SYMBOLS.find((s) => this.functions.has(s.prefix + m[1]));
    if (!found) return null;
    const target = { symbol: found.prefix + m[1], viaRegs: found.viaRegs };
    const out: ProbeDef[] = [];
    for (const name of ['entry', 'return']) {
      if (desc.name !== '' && desc.name !== name && !isGlob(desc.name)) continue;
      const def = newProbe('vmlinux', desc.func, name, []);
      this.targets.set(def, target);
      out.push(def);
    }
    return out.length > 0 ? out : null;
  }

  enable(probes: ProbeDef[], env: FiringEnv): void {
    const tracer = env.tracer();
    const specs: KprobeSpec[] = probes.map((def) => {
      const t = this.targets.get(def)!;
      const isReturn = def.probe.name === 'return';
      // strings copyinstr() reads from arguments are copied by the kprobe as it fires (the
      // thread, or its memory, may be gone by the time user space handles the event), for the
      // clauses that run in dtrace: one that compiled to BPF reads its own (and an event with
      // strings is not one a capture program writes from the registers)
      const inDtrace = env.plans(def).filter((p) => p.inKernel === null || p.inKernel.sampleOnly === true || env.inKernel() === null);
      const strings = new Set(inDtrace.flatMap((p) => [...p.stringArgs]));
      return { symbol: t.symbol, isReturn, fetch: isReturn ? RETURN_FETCH_ARGS : entryFetchArgs(t.viaRegs, strings, tracer.root) };
    });
    const kprobes = tracer.kprobes();
    const events = kprobes.add(specs);
    if (events.every((e) => e === null)) {
      throw new DFatalError(`could not enable tracing: the kernel refused a kprobe on ${specs[0].symbol}`);
    }
    probes.forEach((def, i) => {
      const t = this.targets.get(def)!;
      const event = events[i];
      if (event === null) return;
      // after the common header, a kprobe's record starts with the probed address (and a
      // kretprobe's with the return address): the fetch arguments follow
      const all = tracer.format(kprobes.group, event).fields.filter((f) => !f.name.startsWith('__probe_'));
      const fields = all.filter((f) => f.name.startsWith('arg') || f.name === 'retval');
      const strings = all.filter((f) => f.name.startsWith('str'));
      const isReturn = def.probe.name === 'return';
      enableEventProbe(env, {
        def,
        system: kprobes.group,
        event,
        fields,
        fieldOf: (n) => (isReturn ? (n === 1 ? fields[0] : null) : (fields[n] ?? null)),
        decoder: isReturn
          ? returnDecoder(fields[0], argsRead(env.plans(def)))
          : strings.length > 0
            ? compileDecoder(fields, null, capturedStrings(strings))
            : undefined,
        copies: false,
        // arguments in registers: the function's own, or a system call wrapper's in the user
        // registers its first argument points to (read from kernel memory as the probe fires)
        registerArg: (n) => {
          if (!isReturn && t.viaRegs) {
            const pointer = registerOffset(0);
            const at = syscallRegsOffset(n);
            return pointer === null || at === null ? null : { offset: pointer, size: 8, signed: false, memoryAt: at, kernelMemory: true };
          }
          const at = isReturn ? (n === 1 ? registerOffset('return') : null) : registerOffset(n);
          return at === null ? null : { offset: at, size: 8, signed: false };
        },
      });
    });
  }

  disable(): void {
    // the session's tracer owns the events and the kprobes: its teardown removes them
  }
}

/** arg0 = -1 (no return offset), arg1 = the return value. */
function returnDecoder(retval: EventField, wanted: Set<number> | null) {
  const readsValue = wanted === null || wanted.has(1);
  return compileDecoder([], null, `a[0] = -1n;\n${readsValue ? `a[1] = v.getBigInt64(o + ${retval.offset}, true);\n` : ''}`);
}

/** [module, function] for every function ftrace can trace, vmlinux's first. */
export function traceableFunctions(root: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let text: string | null = null;
  try {
    text = readFileSync(join(root, 'available_filter_functions'), 'latin1');
  } catch {
    // no dynamic ftrace: every text symbol is a candidate
  }
  if (text === null) {
    for (const [module, func] of kernelSymbols.functions()) if (!NOT_PROBEABLE.test(func)) out.push([module, func]);
    return out;
  }
  for (const line of text.split('\n')) {
    // "do_sys_open" or "ext4_file_open [ext4]"
    if (line === '') continue;
    const sp = line.indexOf(' ');
    const func = sp < 0 ? line : line.slice(0, sp);
    if (NOT_PROBEABLE.test(func)) continue;
    const module = sp < 0 ? 'vmlinux' : line.slice(sp + 1).replace(/^\[|\]$/g, '');
    out.push([module, func]);
  }
  return out;
}

function insteadOf(desc: ProbeDesc): string {
  const m = SYSCALL_FUNCTION.exec(desc.func);
  if (m) {
    const events = availableEvents(tracefsRoot());
    const name = m[1];
    if (events.some(([sys, ev]) => sys === 'syscalls' && ev === `sys_enter_${name}`)) {
      const probe = desc.name === 'return' ? 'return' : 'entry';
      return `syscall::${name}:${probe} traces the same system call`;
    }
  }
  return 'the syscall, proc, sched and sdt providers (kernel tracepoints: dtrace -l -P sdt) trace without kprobes';
}
