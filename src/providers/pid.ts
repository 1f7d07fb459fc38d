// The pid provider: pid<PID>:<module>:<function>:entry, :return and :<offset> (an instruction's
// offset in the function, in hex) for every function of every object a process maps, made from
// uprobe events. Modules are the objects' base names (the executable's also answers to
// "a.out"); functions come from each object's .symtab and .dynsym (defined, of non-zero size,
// one name per address: a global name before a weak one before a local one). Probes are made
// only for what a description names: `pid$target::malloc:entry` reads symbol tables but makes
// one probe per object that has malloc, never one per function.
//
// Entry and offset probes get arg0..arg9 from the argument registers and the stack (at an
// offset probe, what those hold then); return probes get arg1 = the return value and arg0 = 0,
// as Oracle's port does (illumos gives the returning instruction's offset, which a uretprobe
// cannot tell). A uprobe enabled in tracefs traps in every process that maps its file: the
// probe's events come from perf events bound to the process's threads instead (the kernel then
// puts the breakpoint in that process only), or, where perf events cannot be opened, from
// tracefs recording only the process and the tasks it creates (set_event_pid); either way only
// the process's own threads fire it. A glob over probe names gives entry, return and one probe
// per instruction whose offset it matches (x86-64 instructions found by decoding the function
// from its start; those uprobes refuse are left out).                [dt_pid.c, dt_prov_uprobe.c]

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ElfError, ElfFile, bindRank, type ElfSymbol } from '../kernel/elf.js';
import { type MappedObject, inCode, parseMaps, plannedObjects, processObjects } from '../kernel/procmaps.js';
import { LoaderStopper, RT_CONSISTENT, isLoaderPath, loaderProbe } from '../kernel/rtld.js';
import { bpfUnavailable } from '../kernel/bpf/sys.js';
import { uprobeMultiSupported } from '../kernel/bpf/objects.js';
import { registerOffset, userRegisterOffset } from '../kernel/kprobes.js';
import { tracefsRoot } from '../kernel/tracefs.js';
import { x86InstructionLength, x86UprobeRefuses } from '../kernel/x86-insn.js';
import { UPROBE_RETURN_FETCH_ARGS, uprobeEntryFetchArgs, uprobeRegisterFetchArgs, uprobeStackArgument, type UprobeSpec } from '../kernel/uprobes.js';
import { DFatalError } from '../errors.js';
import { type ClausePlan, type KernelArg, type KernelProbe, sharedClausesKey } from './clause-plan.js';
import { argsRead, capturedStrings, compileDecoder, enableEventProbe, kernelRefused, readsRegisters, registerDecoderCode } from './kernel-event.js';
import { globMatch, isGlob } from './registry.js';
import type { FiringEnv, NewProbe, ProbeDef, ProbeDesc, Provider, ProviderFamily } from './provider.js';
import { ProbeDescError, ProviderUnavailable } from './provider.js';

/** An object's functions, read once: by name (every alias) and one name per address. */
interface Symbols {
  byName: Map<string, ElfSymbol>;
  /** the name DTrace shows for each address, and its symbol */
  byAddr: Map<number, ElfSymbol>;
  /** every name each address has */
  names: Map<number, string[]>;
  file: ElfFile | null;
}

/** Probes one uprobe_multi program serves. */
interface UprobeGroup {
  path: string;
  isReturn: boolean;
  plans: ClausePlan[];
  defs: ProbeDef[];
  /** each probe's instruction, as an offset in the file */
  offsets: number[];
}

/** What a probe is on. */
interface Target {
  obj: MappedObject;
  sym: ElfSymbol;
  /** offset in the function (0 for entry and return) */
  off: number;
  isReturn: boolean;
  /** an offset probe */
  isOffset: boolean;
  /** made for a glob over functions: the kernel may refuse it without failing the others */
  optional: boolean;
  /** the address a probe of the '-' function is named by */
  address?: number;
}

/** An object's file by what it is, not by the path naming it (/lib/... and /usr/lib/... are one file). */
function objectIdentity(o: MappedObject): string {
  try {
    const st = statSync(o.path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return o.path;
  }
}

/** A probe name as an offset, as dt_pid.c reads it (strtoull base 16); null if it is not one. */
export function parseOffset(name: string): number | null {
  const m = /^(?:0[xX])?([0-9a-fA-F]+)$/.exec(name);
  if (!m) return null;
  const n = parseInt(m[1], 16);
  return Number.isSafeInteger(n) ? n : null;
}

/** Whether a module pattern names an object: by glob, a.out for the executable, libc for libc.so.6. */
export function moduleMatches(pattern: string, obj: { module: string; isExec: boolean }): boolean {
  if (pattern === '' || globMatch(pattern, obj.module)) return true;
  if (isGlob(pattern)) return false;
  if (pattern === 'a.out') return obj.isExec;
  // a shared object's name without its version ("libc" for libc.so.6), as libproc allows
  return obj.module.startsWith(pattern + '.so');
}

export class PidProvider implements Provider {
  readonly name: string;
  private objs: MappedObject[] | null = null;
  private readonly syms = new Map<string, Symbols>();
  private readonly targets = new Map<ProbeDef, Target>();
  /** probes made, by object, address and probe name */
  private readonly made = new Set<string>();

  /** `command`: the executable a held -c process is about to exec (its maps are not yet its) */
  constructor(
    readonly pid: number,
    private readonly command: string | null = null,
  ) {
    this.name = `pid${pid}`;
  }

  private objects(): MappedObject[] {
    if (this.objs === null) {
      const o = this.command !== null ? plannedObjects(this.command) : processObjects(this.pid);
      if (o === null) throw new ProbeDescError('D_PROC_GRAB', `failed to grab process ${this.pid}`);
      this.objs = o;
    }
    return this.objs;
  }

  private symbols(obj: MappedObject): Symbols {
    let s = this.syms.get(obj.path);
    if (s !== undefined) return s;
    s = { byName: new Map(), byAddr: new Map(), names: new Map(), file: null };
    this.syms.set(obj.path, s);
    let file: ElfFile;
    try {
      file = ElfFile.open(obj.path);
    } catch (e) {
      if (e instanceof ElfError) return s;
      throw e;
    }
    s.file = file;
    // .symtab names static functions, .dynsym what a stripped object still exports: both
    const all = file.functionSymbols();
    if (file.sections.some((x) => x.type === 2)) all.push(...file.functionSymbols(true));
    for (const f of all) {
      if (f.size === 0) continue;
      if (!s.byName.has(f.name)) s.byName.set(f.name, f);
      const prev = s.byAddr.get(f.addr);
      if (prev === undefined || bindRank(f.bind) > bindRank(prev.bind)) s.byAddr.set(f.addr, f);
      const names = s.names.get(f.addr);
      if (names === undefined) s.names.set(f.addr, [f.name]);
      else if (!names.includes(f.name)) names.push(f.name);
    }
    return s;
  }

  populate(newProbe: NewProbe): void {
    this.populateFor({ provider: this.name, module: '', func: '', name: '' }, newProbe);
  }

  /** Only what the description names, as dt_pid_create_pid_probes_proc finds it. */
  populateFor(desc: ProbeDesc, newProbe: NewProbe): boolean {
    const mod = desc.module;
    const func = desc.func === '' ? '*' : desc.func;
    const name = desc.name === '' ? '*' : desc.name;
    if (this.pid === process.pid) throw new ProbeDescError('D_PROC_DYN', `process ${this.pid} is dtrace itself`);
    if (func === '-') {
      if (mod !== '' && mod !== 'a.out') throw new ProbeDescError('D_PROC_LIB', "only the a.out module is valid with the '-' function");
      if (isGlob(name)) throw new ProbeDescError('D_PROC_NAME', "only individual addresses may be specified with the '-' function");
      this.absoluteProbe(name, newProbe);
      return true;
    }
    this.populateIn(this.objects(), mod, func, name, newProbe, true);
    return true;
  }

  /**
   * pid<PID>:a.out:-:<address>: a probe on an address of the executable, named by it (hex, lower
   * case), as dt_pid.c makes it. The address is the process's (where the executable is mapped in
   * a running process), or, not being one of those (a -c process not yet started, whose mappings
   * are not known), the executable's own, as nm and objdump show it (for a non-PIE both are one).
   */
  private absoluteProbe(name: string, newProbe: NewProbe): void {
    const addr = parseOffset(name);
    if (addr === null) throw new ProbeDescError('D_PROC_NAME', `'${name}' is an invalid probe name`);
    const exe = this.objects().find((o) => o.isExec);
    const file = exe === undefined ? null : this.symbols(exe).file;
    const where = `failed to create probes at '-+0x${addr.toString(16)}'`;
    if (exe === undefined || file === null) throw new ProbeDescError('D_PROC_CREATEFAIL', `${where}: the executable cannot be read`);
    let fileOff = this.command === null ? runtimeFileOffset(this.pid, exe.path, addr) : -1;
    if (fileOff < 0) fileOff = file.fileOffset(addr);
    if (fileOff < 0 || !inCode(exe, fileOff)) throw new ProbeDescError('D_PROC_CREATEFAIL', `${where}: not an address of the code of ${exe.module}`);
    const at = file.addrOfFileOffset(fileOff);
    // a breakpoint inside an instruction would change what the process runs
    for (const f of this.symbols(exe).byAddr.values()) {
      if (at >= f.addr && at < f.addr + f.size && !onInstructionBoundary(file, f, at - f.addr)) {
        throw new ProbeDescError('D_PROC_ALIGN', `${where}: ${f.name}+0x${(at - f.addr).toString(16)} is not on an instruction boundary`);
      }
    }
    const hex = addr.toString(16);
    const key = `${exe.path}\0${at}\0-${hex}`;
    if (this.made.has(key)) return;
    this.made.add(key);
    const def = newProbe(exe.module, '-', hex, []);
    const sym: ElfSymbol = { name: '-', addr: at, size: 1, global: false, bind: 0 };
    this.targets.set(def, { obj: exe, sym, off: 0, isReturn: false, isOffset: true, optional: false, address: addr });
  }

  /**
   * The probes of `objs` a description names; `strict`: a function missing from a module
   * named exactly is an error (not so in an object loaded later).
   */
  private populateIn(objs: MappedObject[], mod: string, func: string, name: string, newProbe: NewProbe, strict: boolean): void {
    for (const obj of objs) {
      if (!moduleMatches(mod, obj)) continue;
      const s = this.symbols(obj);
      if (!isGlob(func)) {
        const sym = s.byName.get(func);
        if (sym === undefined) {
          if (strict && mod !== '' && !isGlob(mod)) throw new ProbeDescError('D_PROC_FUNC', `failed to lookup '${func}' in module '${mod}'`);
          continue;
        }
        this.perSymbol(obj, s, s.byAddr.get(sym.addr) ?? sym, name, newProbe, false);
        continue;
      }
      for (const sym of s.byAddr.values()) {
        // versioned and compiler-made names (memcpy@GLIBC_2.2.5, foo.cold) are left out, as Oracle's
        if (sym.name.includes('@') || sym.name.includes('.')) continue;
        if (globMatch(func, sym.name)) this.perSymbol(obj, s, sym, name, newProbe, true);
      }
    }
  }

  /**
   * Objects the process loads while it is traced (dlopen) get the probes the descriptions name,
   * as dt_proc_scan makes them when the loader says its list of objects is consistent again: a
   * uprobe on the loader's _dl_debug_state() tells, and (with BPF) stops the process there until
   * the new probes are in place, so that none of the new object's code runs untraced.
   */
  watch(descs: ProbeDesc[], env: FiringEnv, newProbe: NewProbe, found: (defs: ProbeDef[]) => void): void {
    const loader = this.objects().find((o) => isLoaderPath(o.path));
    if (loader === undefined) return;
    const lp = loaderProbe(loader.path);
    if (lp === null) return;
    const tracer = env.tracer();
    const uprobes = tracer.uprobes();
    // one event tells dtrace (tracefs), another runs the program that stops the process (perf):
    // the kernel lets a uprobe event serve one of the two at a time
    const useBpf = bpfUnavailable() === null;
    const spec = { path: lp.path, offset: lp.offset, isReturn: false, label: 'dl_debug_state', fetch: [lp.stateFetch] };
    const [made, stopAt] = uprobes.add(useBpf ? [spec, { ...spec, label: 'dl_debug_state_stop', fetch: [] }] : [spec]);
    if (made.event === null) {
      env.warn(`objects pid ${this.pid} loads later get no probes: the loader's uprobe was refused: ${made.error ?? 'by the kernel'}`);
      return;
    }
    const format = tracer.format(uprobes.group, made.event);
    const stateAt = format.fields.find((f) => f.name === 'state')!.offset;
    const pidAt = tracer.pidOffset(format);
    let stopper: LoaderStopper | null = null;
    if (useBpf && stopAt.event !== null) {
      try {
        stopper = LoaderStopper.attach(this.pid, tracer.format(uprobes.group, stopAt.event).id, lp);
        tracer.closeAtEnd(stopper);
      } catch {
        // the process runs on while its new objects get their probes: their first calls may be missed
      }
    }
    const known = new Set(this.objects().map(objectIdentity));
    const pid = this.pid;
    tracer.subscribeProcess(
      uprobes.group,
      made.event,
      null,
      (_cpu, _page, view, off) => {
        if (view.getInt32(off + stateAt, true) !== RT_CONSISTENT) return;
        if (tracer.procs.lookup(view.getInt32(off + pidAt, true)).tgid !== pid) return;
        try {
          const defs: ProbeDef[] = [];
          const record: NewProbe = (m, f, n, args) => {
            const d = newProbe(m, f, n, args);
            defs.push(d);
            return d;
          };
          const fresh = (processObjects(pid) ?? []).filter((o) => {
            const id = objectIdentity(o);
            if (known.has(id)) return false;
            known.add(id);
            return true;
          });
          if (fresh.length === 0) return;
          this.objs?.push(...fresh);
          for (const d of descs) {
            try {
              this.populateIn(fresh, d.module, d.func === '' ? '*' : d.func, d.name === '' ? '*' : d.name, record, false);
            } catch (e) {
              // a bad description was refused when it was compiled
              if (!(e instanceof ProbeDescError)) throw e;
            }
          }
          if (defs.length > 0) found(defs);
        } finally {
          stopper?.resume();
        }
      },
      pid,
    );
  }

  /** The probes of one function that a probe name names (dt_pid_per_sym). */
  private perSymbol(obj: MappedObject, s: Symbols, sym: ElfSymbol, name: string, newProbe: NewProbe, optional: boolean): void {
    const file = s.file;
    if (file === null) return;
    // code the process maps executable only (not a PLT in a writable mapping)
    const at = file.fileOffset(sym.addr);
    if (at < 0 || !inCode(obj, at)) return;
    let n = 0;
    if (globMatch(name, 'return')) n += this.announce(obj, sym, 0, 'return', newProbe, optional);
    if (globMatch(name, 'entry')) n += this.announce(obj, sym, 0, 'entry', newProbe, optional);
    if (isGlob(name)) {
      // and every instruction whose offset (hex, lower case) the glob matches; the kernel may
      // still refuse some: tracing goes on without them, and dtrace says so
      for (const off of instructionOffsets(file, sym)) {
        const hex = off.toString(16);
        if (globMatch(name, hex)) this.announce(obj, sym, off, hex, newProbe, true);
      }
      return;
    }
    if (n > 0) return;
    const off = parseOffset(name);
    if (off === null) throw new ProbeDescError('D_PROC_NAME', `'${name}' is an invalid probe name`);
    if (off >= sym.size) throw new ProbeDescError('D_PROC_OFF', `offset 0x${off.toString(16)} outside of function '${sym.name}'`);
    // a breakpoint inside an instruction would change what the process runs
    if (!onInstructionBoundary(file, sym, off)) {
      throw new ProbeDescError('D_PROC_ALIGN', `failed to create probes at '${sym.name}+0x${off.toString(16)}': offset is not on an instruction boundary`);
    }
    this.announce(obj, sym, off, off.toString(16), newProbe, false);
  }

  private announce(obj: MappedObject, sym: ElfSymbol, off: number, name: string, newProbe: NewProbe, optional: boolean): number {
    const key = `${obj.path}\0${sym.addr}\0${name}`;
    if (this.made.has(key)) return 1;
    this.made.add(key);
    const def = newProbe(obj.module, sym.name, name, []);
    this.targets.set(def, { obj, sym, off, isReturn: name === 'return', isOffset: name !== 'return' && name !== 'entry', optional });
    return 1;
  }

  matches(desc: ProbeDesc, def: ProbeDef): boolean {
    const t = this.targets.get(def);
    if (t === undefined) return false;
    if (!moduleMatches(desc.module, t.obj)) return false;
    if (!globMatch(desc.func, def.probe.func)) {
      // another name of the function (a weak alias)
      if (isGlob(desc.func)) return false;
      const names = this.syms.get(t.obj.path)?.names.get(t.sym.addr);
      if (names === undefined || !names.includes(desc.func)) return false;
    }
    if (globMatch(desc.name, def.probe.name)) return true;
    return t.isOffset && !isGlob(desc.name) && parseOffset(desc.name) === (t.address ?? t.off);
  }

  enable(all: ProbeDef[], env: FiringEnv): void {
    const probes = this.enableTogether(all, env);
    if (probes.length === 0) return;
    const tracer = env.tracer();
    const specs: UprobeSpec[] = probes.map((def) => {
      const t = this.targets.get(def)!;
      const strings = new Set(env.plans(def).flatMap((p) => [...p.stringArgs]));
      return {
        path: t.obj.path,
        offset: this.syms.get(t.obj.path)!.file!.fileOffset(t.sym.addr + t.off),
        isReturn: t.isReturn,
        label: t.isOffset ? `${t.sym.name}_${def.probe.name}` : t.sym.name,
        fetch: [...(t.isReturn ? UPROBE_RETURN_FETCH_ARGS : uprobeEntryFetchArgs(strings)), ...(readsRegisters(env.plans(def)) ? uprobeRegisterFetchArgs() : [])],
      };
    });
    const uprobes = tracer.uprobes();
    const made = uprobes.add(specs);
    made.forEach((r, i) => {
      if (r.event === null) {
        const p = probes[i].probe;
        throw new DFatalError(`could not enable tracing: failed to create probe ${p.desc}: ${r.error ?? 'refused by the kernel'}`);
      }
    });
    probes.forEach((def, i) => {
      const event = made[i].event!;
      const all = tracer.format(uprobes.group, event).fields.filter((f) => !f.name.startsWith('__probe_'));
      const fields = all.filter((f) => f.name.startsWith('arg') || f.name === 'retval');
      const strings = all.filter((f) => f.name.startsWith('str'));
      const isReturn = this.targets.get(def)!.isReturn;
      const regFields = all.filter((f) => /^u\d+$/.test(f.name)).map((f) => f.offset);
      const regs = regFields.length > 0 ? registerDecoderCode(regFields) : '';
      enableEventProbe(env, {
        def,
        system: uprobes.group,
        event,
        fields,
        fieldOf: (n) => (isReturn ? (n === 1 ? fields[0] : null) : (fields[n] ?? null)),
        decoder: isReturn
          ? returnDecoder(fields[0].offset, argsRead(env.plans(def)), regs)
          : strings.length > 0 || regs !== ''
            ? compileDecoder(fields, null, capturedStrings(strings) + regs)
            : undefined,
        copies: false,
        process: this.pid,
        optional: this.targets.get(def)!.optional,
        // clauses compiled to BPF run in the kernel as uprobe programs of this process only (a
        // perf event bound to it): the uprobe then traps in no other process mapping the file.
        // Arguments in the calling convention's registers and on the stack; at return arg1 is
        // the return value. Its other clauses read the event's records from perf events bound
        // to the process too (the kernel lets a uprobe event serve perf or tracefs, not both).
        registerArg: registerArgOf(isReturn),
        userRegister: (i) => userRegisterOffset(i),
        uprobeAt: { path: specs[i].path, offset: specs[i].offset, isReturn },
      });
    });
  }

  /**
   * The probes whose clauses all run in the kernel, where the kernel makes uprobe_multi links
   * (Linux 6.6+): one program for each object, direction and set of clauses, on one link bound
   * to the process, rather than a uprobe event, a program and a perf event each (closing a
   * thousand of those takes minutes: each waits for an RCU grace period). Returns the probes
   * left for uprobe events (clauses in dtrace, an instruction the kernel refused, older kernels).
   */
  private enableTogether(probes: ProbeDef[], env: FiringEnv): ProbeDef[] {
    const ik = env.inKernel();
    if (ik === null || !uprobeMultiSupported()) return probes;
    const { groups, rest } = this.togetherPlan(probes, env);
    for (const g of groups) {
      const arg = registerArgOf(g.isReturn);
      const members: KernelProbe[] = g.defs.map((def) => ({ ...def.probe, context: 'registers', arg, ureg: (i: number) => userRegisterOffset(i) }));
      const clauses = g.plans.map((plan) => plan.inKernel!);
      const first = g.defs[0].probe;
      const label = g.defs.length === 1 ? first.desc : `${first.provider}:${first.module}::${first.name} (${g.defs.length} functions, one uprobe_multi link on ${g.path})`;
      const r = ik.attachUprobes({ path: g.path, offsets: g.offsets, isReturn: g.isReturn, pid: this.pid }, label, { ...members[0], id: null }, members, clauses);
      if (!r.ok) {
        // each on a uprobe event of its own, which tells why the kernel refuses it
        kernelRefused(label, [], r.why);
        rest.push(...g.defs);
        continue;
      }
      const refused = new Set(r.refused ?? []);
      g.defs.forEach((def, i) => (refused.has(i) ? rest.push(def) : env.ranInKernel(def, g.plans)));
    }
    return rest;
  }

  /**
   * The probes whose clauses all compiled to BPF, grouped by what one uprobe_multi program can
   * serve (an object, a direction, the same clauses, the same values of the probe names they
   * compare), and the rest.
   */
  private togetherPlan(probes: ProbeDef[], env: FiringEnv): { groups: UprobeGroup[]; rest: ProbeDef[] } {
    const rest: ProbeDef[] = [];
    const groups = new Map<string, UprobeGroup>();
    const planIds = new Map<ClausePlan, number>();
    for (const def of probes) {
      const plans = env.plans(def);
      const t = this.targets.get(def)!;
      if (plans.length === 0 || plans.some((plan) => plan.inKernel === null || plan.inKernel.sampleOnly === true)) {
        rest.push(def);
        continue;
      }
      const key = [t.obj.path, String(t.isReturn), ...sharedClausesKey(plans, def.probe, planIds)].join('\0');
      let g = groups.get(key);
      if (g === undefined) {
        g = { path: t.obj.path, isReturn: t.isReturn, plans, defs: [], offsets: [] };
        groups.set(key, g);
      }
      g.defs.push(def);
      g.offsets.push(this.syms.get(t.obj.path)!.file!.fileOffset(t.sym.addr + t.off));
    }
    return { groups: [...groups.values()], rest };
  }

  /** BPF programs the probes' clauses take: one per uprobe_multi group where the kernel has them. */
  kernelPrograms(probes: ProbeDef[], env: FiringEnv): number {
    if (!uprobeMultiSupported()) return probes.length;
    const { groups, rest } = this.togetherPlan(probes, env);
    return groups.length + rest.length;
  }

  disable(): void {
    // the session's tracer owns the events and the uprobes: its teardown removes them
  }
}

/**
 * Where a pid probe's argument n is in the registers a uprobe program sees: the calling
 * convention's argument registers at entry and offsets, and past those (arg6.. on x86-64) the
 * stack above the stack pointer; the return value's as arg1 at return.
 */
function registerArgOf(isReturn: boolean): (n: number) => KernelArg | null {
  return (n) => {
    if (isReturn) {
      const at = n === 1 ? registerOffset('return') : null;
      return at === null ? null : { offset: at, size: 8, signed: false };
    }
    const at = registerOffset(n);
    if (at !== null) return { offset: at, size: 8, signed: false };
    const s = uprobeStackArgument(n);
    const sp = s === null ? null : userRegisterOffset(s.spIndex);
    return s === null || sp === null ? null : { offset: sp, size: 8, signed: false, memoryAt: s.offset };
  };
}

/** Where an address of a running process lies in the file `path` it maps, or -1. */
function runtimeFileOffset(pid: number, path: string, addr: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/maps`, 'latin1');
  } catch {
    return -1;
  }
  for (const m of parseMaps(text)) {
    if (m.path === path && addr >= m.start && addr < m.end) return addr - m.start + m.offset;
  }
  return -1;
}

const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/**
 * The offsets of a function's instructions that a glob over probe names gives, as dt_pid.c
 * steps through them: every 4 bytes on arm64; on x86-64 decoded from the first byte on, less
 * those uprobes refuse (lock and segment prefixes, hlt, int3, ...), up to an instruction that
 * does not decode (its successors cannot be found).
 */
function instructionOffsets(file: ElfFile, sym: ElfSymbol): number[] {
  const out: number[] = [];
  if (file.machine === EM_AARCH64) {
    for (let off = 0; off + 4 <= sym.size; off += 4) out.push(off);
    return out;
  }
  if (file.machine !== EM_X86_64) return out;
  const code = file.bytesAt(sym.addr, sym.size);
  if (code === null) return out;
  for (let off = 0; off < code.length; ) {
    const len = x86InstructionLength(code, off);
    if (len < 0) break;
    if (!x86UprobeRefuses(code, off, len)) out.push(off);
    off += len;
  }
  return out;
}

/** Whether an offset in a function starts one of its instructions (every 4 bytes on arm64). */
function onInstructionBoundary(file: ElfFile, sym: ElfSymbol, off: number): boolean {
  if (file.machine === EM_AARCH64) return off % 4 === 0;
  if (file.machine !== EM_X86_64) return true;
  const code = file.bytesAt(sym.addr, sym.size);
  if (code === null) return true;
  let at = 0;
  while (at < off) {
    const len = x86InstructionLength(code, at);
    if (len < 0) return false;
    at += len;
  }
  return at === off;
}

/** arg0 = 0 (Oracle's; illumos: the returning instruction's offset), arg1 = the return value. */
function returnDecoder(retvalAt: number, wanted: Set<number> | null, regs: string) {
  const readsValue = wanted === null || wanted.has(1);
  return compileDecoder([], null, `a[0] = 0n;\n${readsValue ? `a[1] = v.getBigInt64(o + ${retvalAt}, true);\n` : ''}${regs}`);
}

/**
 * The pid providers: pid<N> comes to exist when a description's provider name asks for it
 * (pid$target, pid1234, p*d1234: the digits that end the pattern are the process, and pid<N>
 * must match the pattern), as dt_pid_create_pid_probes makes them.
 */
export class PidProviders implements ProviderFamily {
  private readonly made = new Map<number, PidProvider>();

  /** `commands`: the executable of each -c process, held before its exec */
  constructor(private readonly commands: ReadonlyMap<number, string> = new Map()) {}

  instantiate(pattern: string): Provider[] {
    const m = /^(.*\D)?(\d+)$/.exec(pattern);
    if (!m || m[1] === undefined) return [];
    if (pattern === 'pid0') throw new ProbeDescError('D_PROC_BADPID', 'pid0 does not contain a valid pid');
    const pid = Number(m[2]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid > 0x7fffffff) return [];
    if (!globMatch(pattern, `pid${pid}`)) return [];
    let p = this.made.get(pid);
    if (p === undefined) {
      if (!existsSync(`/proc/${pid}`)) throw new ProbeDescError('D_PROC_GRAB', `failed to grab process ${pid}`);
      if (!existsSync(join(tracefsRoot(), 'uprobe_events'))) {
        throw new ProviderUnavailable('pid probes are not available: this kernel has no uprobe events (CONFIG_UPROBE_EVENTS)');
      }
      p = new PidProvider(pid, this.commands.get(pid) ?? null);
      this.made.set(pid, p);
    }
    return [p];
  }
}
