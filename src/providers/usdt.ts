// The usdt provider: the probes programs describe in .note.stapsdt ELF notes (Python, PostgreSQL,
// QEMU, programs built with dtrace -h), as provider<PID>:module:function:name for every object
// the process maps, with DTrace's naming (function__entry is function-entry). A probe is one
// uprobe event per site (a probe in an inlined function has a site per copy); each site's
// argument specification becomes its event's fetch arguments (usdt.ts), with sign and size, and
// constants are filled in by dtrace. Clauses that compiled to BPF run in the kernel, as pid
// probes' do: a uprobe program bound to the process reads each argument from its register, from
// the memory a register points to, or is given its constant; and a capture program writes the
// records of clauses that print from the same places (sites whose arguments it cannot read so,
// an object's address or a high byte register, keep their clauses in dtrace), sharing one
// uprobe_multi link with the object's other such sites. Semaphores are counted by the kernel
// where uprobe events take a reference counter (a program bound to the event, or a link given
// the semaphore, counts too), else set in the process's memory while dtrace traces the probe.
// Only the process's own threads fire its probes, as pid probes.     [dt_prov_uprobe.c, dt_pid.c]

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { ElfError, ElfFile, type ElfFunction } from '../kernel/elf.js';
import { type MappedObject, inCode, moduleName, parseMaps, plannedObjects, processObjects } from '../kernel/procmaps.js';
import { tracefsRoot } from '../kernel/tracefs.js';
import { userRegisterOffset } from '../kernel/kprobes.js';
import { type UprobeSpec, uprobeRegisterFetchArgs, uprobeRegisterIndex } from '../kernel/uprobes.js';
import { type UsdtArg, adjustSemaphores, parseUsdtArgs, uprobeRefCtrSupported } from '../kernel/usdt.js';
import { DFatalError } from '../errors.js';
import type { KernelArg } from './clause-plan.js';
import { type RecordDecoder, capturedStrings, enableEventProbe, readsRegisters, registerDecoderCode } from './kernel-event.js';
import { globMatch, isGlob } from './registry.js';
import type { FiringEnv, NewProbe, ProbeDef, Provider, ProviderFamily } from './provider.js';

/** One place a probe is: an instruction of an object, its arguments and its semaphore. */
interface Site {
  path: string;
  /** the instruction's file offset */
  offset: number;
  args: UsdtArg[];
  /** the semaphore's file offset (0: none) */
  semaphore: number;
}

/** A probe of a process, before it is announced. */
interface Found {
  provider: string;
  module: string;
  func: string;
  name: string;
  sites: Site[];
}

/** A .note.stapsdt name as DTrace names probes: a double underscore is a dash. */
export function usdtProbeName(name: string): string {
  return name.replace(/__/g, '-');
}

/** The function that holds an address (functions sorted by address), or ''. */
function functionAt(fns: ElfFunction[], addr: number): string {
  let lo = 0;
  let hi = fns.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const f = fns[mid];
    if (addr < f.addr) hi = mid - 1;
    else if (addr >= f.addr + Math.max(f.size, 1)) lo = mid + 1;
    else return f.name;
  }
  return '';
}

/** The USDT probes of one object (a file read once per dtrace), by provider. */
function objectProbes(obj: MappedObject, path: string): Found[] {
  let file: ElfFile;
  try {
    file = ElfFile.open(path);
  } catch (e) {
    if (e instanceof ElfError) return [];
    throw e;
  }
  try {
    const notes = file.sdtProbes();
    if (notes.length === 0) return [];
    let fns: ElfFunction[] | null = null;
    let dyn: ElfFunction[] | null = null;
    const symbolOf = (name: string): number | null => {
      for (const s of file.functionSymbols()) if (s.name === name) return s.addr;
      return null;
    };
    const out = new Map<string, Found>();
    for (const n of notes) {
      const offset = file.fileOffset(n.pc);
      if (offset < 0 || !inCode(obj, offset)) continue;
      fns ??= file.functions();
      let func = functionAt(fns, n.pc);
      if (func === '') {
        dyn ??= file.functionSymbols(true).sort((a, b) => a.addr - b.addr);
        func = functionAt(dyn, n.pc);
      }
      const name = usdtProbeName(n.name);
      const key = `${n.provider}\0${func}\0${name}`;
      let f = out.get(key);
      if (f === undefined) {
        f = { provider: n.provider, module: obj.module, func, name, sites: [] };
        out.set(key, f);
      }
      const semaphore = n.semaphore === 0 ? 0 : Math.max(0, file.fileOffset(n.semaphore));
      f.sites.push({ path, offset, args: parseUsdtArgs(n.args, symbolOf, n.pc - offset), semaphore });
    }
    return [...out.values()];
  } finally {
    file.close();
  }
}

/** One provider of one process (python1234): its probes, their sites and semaphores. */
export class UsdtProvider implements Provider {
  readonly name: string;
  private readonly sites = new Map<ProbeDef, Site[]>();
  /** semaphores dtrace set itself (no kernel reference counter): addresses in the process */
  private raised: number[] = [];

  constructor(
    readonly provider: string,
    readonly pid: number,
    private readonly found: Found[],
  ) {
    this.name = `${provider}${pid}`;
  }

  populate(newProbe: NewProbe): void {
    for (const f of this.found) this.sites.set(newProbe(f.module, f.func, f.name, []), f.sites);
  }

  enable(probes: ProbeDef[], env: FiringEnv): void {
    const tracer = env.tracer();
    const refCtr = uprobeRefCtrSupported(tracer.root);
    const specs: UprobeSpec[] = [];
    const owners: Array<{ def: ProbeDef; site: Site }> = [];
    const semaphores: Site[] = [];
    for (const def of probes) {
      const strings = new Set(env.plans(def).flatMap((p) => [...p.stringArgs]));
      const regs = readsRegisters(env.plans(def)) ? uprobeRegisterFetchArgs() : [];
      for (const site of this.sites.get(def) ?? []) {
        const fetch: string[] = [];
        site.args.forEach((a, i) => {
          if (i < 10 && a.kind === 'fetch') fetch.push(`arg${i}=${a.fetch}:${a.type}`);
        });
        for (const i of strings) {
          const a = site.args[i];
          if (a !== undefined && a.kind === 'fetch' && a.size === 8) fetch.push(`str${i}=+0(${a.fetch}):string`);
        }
        fetch.push(...regs);
        specs.push({
          path: site.path,
          offset: site.offset,
          isReturn: false,
          label: def.probe.name.replace(/-/g, '_'),
          fetch,
          refCtrOffset: refCtr && site.semaphore > 0 ? site.semaphore : undefined,
        });
        owners.push({ def, site });
        if (!refCtr && site.semaphore > 0) semaphores.push(site);
      }
    }
    const uprobes = tracer.uprobes();
    const made = uprobes.add(specs);
    made.forEach((r, i) => {
      if (r.event === null) {
        throw new DFatalError(`could not enable tracing: failed to create probe ${owners[i].def.probe.desc}: ${r.error ?? 'refused by the kernel'}`);
      }
    });
    owners.forEach(({ def, site }, i) => {
      const event = made[i].event!;
      const all = tracer.format(uprobes.group, event).fields;
      const fields = all.filter((f) => f.name.startsWith('arg'));
      const strings = all.filter((f) => f.name.startsWith('str'));
      const regFields = all.filter((f) => /^u\d+$/.test(f.name)).map((f) => f.offset);
      const regs = regFields.length > 0 ? registerDecoderCode(regFields) : '';
      enableEventProbe(env, {
        def,
        system: uprobes.group,
        event,
        fields,
        fieldOf: (n) => fields.find((f) => f.name === `arg${n}`) ?? null,
        decoder: usdtDecoder(site.args, (i) => fields.find((f) => f.name === `arg${i}`)?.offset ?? -1, (strings.length > 0 ? capturedStrings(strings) : '') + regs),
        copies: false,
        process: this.pid,
        registerArg: (n) => usdtKernelArg(site.args, n),
        userRegister: (i) => userRegisterOffset(i),
        // records written from the registers share a capture program on one uprobe_multi link,
        // which counts the semaphore as the event would
        uprobeAt: { path: site.path, offset: site.offset, isReturn: false, refCtrOffset: specs[i].refCtrOffset },
      });
    });
    if (semaphores.length > 0) this.raise(semaphores, env);
  }

  /** Sets the semaphores in the process's memory (the kernel cannot count them). */
  private raise(sites: Site[], env: FiringEnv): void {
    let maps;
    try {
      maps = parseMaps(readFileSync(`/proc/${this.pid}/maps`, 'latin1'));
    } catch {
      return;
    }
    const addrs = new Set<number>();
    for (const s of sites) {
      const m = maps.find((x) => x.path === s.path && s.semaphore >= x.offset && s.semaphore < x.offset + (x.end - x.start) && x.perms[1] === 'w');
      if (m !== undefined) addrs.add(m.start + (s.semaphore - m.offset));
    }
    this.raised = adjustSemaphores(this.pid, [...addrs], 1);
    if (this.raised.length < addrs.size || addrs.size === 0) {
      env.warn(`failed to set the semaphores of ${this.name}'s probes: guarded probes may not fire`);
    }
  }

  disable(): void {
    // the kernel's counters go with the events; those dtrace set, it resets
    const raised = this.raised.splice(0);
    if (raised.length > 0) adjustSemaphores(this.pid, raised, -1);
  }
}

/**
 * Where a site's argument n is for a uprobe program, which sees the registers: a register (its
 * low `size` bytes), `size` bytes of memory at a register plus a displacement, or a constant; an
 * argument the site does not have, or one uprobes cannot fetch, reads as 0 (as in dtrace). Null:
 * only the event's fetch can read it (an object's address, a high byte register).
 */
export function usdtKernelArg(args: readonly UsdtArg[], n: number, machine?: string): KernelArg | null {
  const a = args[n];
  if (a === undefined || a.kind === 'none') return { offset: 0, size: 0, signed: false };
  if (a.kind === 'const') return { offset: 0, size: 8, signed: true, constant: a.value };
  if (a.reg === undefined || (a.size !== 1 && a.size !== 2 && a.size !== 4 && a.size !== 8)) return null;
  const index = uprobeRegisterIndex(a.reg, machine);
  const offset = index < 0 ? null : userRegisterOffset(index, machine);
  if (offset === null) return null;
  return a.disp === undefined ? { offset, size: a.size, signed: a.signed } : { offset, size: a.size, signed: a.signed, memoryAt: a.disp };
}

/**
 * Decodes a site's arguments: each fetched one from its field, with its size and sign (a
 * 32-bit value sign-extended if it is signed), constants as they are, the rest 0.
 */
export function usdtDecoder(args: UsdtArg[], offsetOf: (i: number) => number, extra = ''): RecordDecoder {
  let body = '';
  for (let i = 0; i < 10; i++) {
    const a = args[i];
    const at = a !== undefined && a.kind === 'fetch' ? offsetOf(i) : -1;
    if (a === undefined || a.kind === 'none' || (a.kind === 'fetch' && at < 0)) body += `a[${i}] = 0n;\n`;
    else if (a.kind === 'const') body += `a[${i}] = ${a.value}n;\n`;
    else if (a.size === 8) body += `a[${i}] = v.get${a.signed ? 'BigInt64' : 'BigUint64'}(o + ${at}, true);\n`;
    else body += `a[${i}] = BigInt(v.get${a.signed ? 'Int' : 'Uint'}${a.size * 8}(o + ${at}${a.size > 1 ? ', true' : ''}));\n`;
  }
  if (extra !== '') body += `{\n${extra}}\n`;
  return new Function(`return function decode(page, v, o, ctx) {\nconst a = ctx.args;\nctx.argnSet = 0;\n${body}};`)() as RecordDecoder;
}

/**
 * The usdt providers: provider<PID> for each provider of the process's notes, made when a
 * description's provider name asks for one (python$target, python1234, python*: a pattern
 * without a process ID names the -c/-p processes').
 */
export class UsdtProviders implements ProviderFamily {
  private readonly scanned = new Map<number, Map<string, UsdtProvider>>();

  constructor(
    /** the executable of each -c process, held before its exec */
    private readonly commands: ReadonlyMap<number, string> = new Map(),
    /** the -c/-p processes */
    private readonly targets: () => number[] = () => [],
  ) {}

  instantiate(pattern: string): Provider[] {
    const m = /^(.*\D)(\d+)$/.exec(pattern);
    let pids: number[];
    if (m) {
      const pid = Number(m[2]);
      if (!Number.isSafeInteger(pid) || pid <= 0 || pid > 0x7fffffff) return [];
      pids = [pid];
    } else if (pattern === '' || isGlob(pattern)) pids = this.targets();
    else return [];
    const out: Provider[] = [];
    for (const pid of pids) {
      for (const [name, p] of this.scan(pid)) {
        if (name !== 'pid' && globMatch(pattern, p.name)) out.push(p);
      }
    }
    return out;
  }

  private scan(pid: number): Map<string, UsdtProvider> {
    let s = this.scanned.get(pid);
    if (s !== undefined) return s;
    s = new Map();
    this.scanned.set(pid, s);
    if (pid === process.pid || !existsSync(`/proc/${pid}`) || !existsSync(join(tracefsRoot(), 'uprobe_events'))) return s;
    const command = this.commands.get(pid);
    let objs: MappedObject[] | null;
    try {
      objs = command !== undefined ? plannedObjects(command) : processObjects(pid);
    } catch {
      objs = null;
    }
    const byProvider = new Map<string, Found[]>();
    for (const obj of objs ?? []) {
      let path = obj.path;
      try {
        path = realpathSync(obj.path);
      } catch {
        // as the maps name it
      }
      let found: Found[];
      try {
        found = objectProbes({ ...obj, module: moduleName(path) }, path);
      } catch {
        continue;
      }
      for (const f of found) {
        const l = byProvider.get(f.provider);
        if (l === undefined) byProvider.set(f.provider, [f]);
        else l.push(f);
      }
    }
    for (const [name, found] of byProvider) s.set(name, new UsdtProvider(name, pid, found));
    return s;
  }
}
