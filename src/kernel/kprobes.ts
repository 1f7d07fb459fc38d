// kprobe events: probes on kernel functions, created in tracefs's kprobe_events file. Unlike an
// instance, that file is global: every event this process creates lives in its own group,
// dtrace_ts_<pid>_<pid namespace>_<start time> (identity.ts), so the next dtrace can remove what a
// killed one left behind, and only that. An event can only be removed once no instance has it
// enabled: instances go first.

import { readFileSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { DFatalError } from '../errors.js';
import { Liveness, ownerTag } from './identity.js';

export const KPROBE_GROUP_PREFIX = 'dtrace_ts_';

/** Where a function's first six integer arguments are at its entry, per architecture. */
const ARGUMENT_REGISTERS: Record<string, string[]> = {
  x64: ['%di', '%si', '%dx', '%cx', '%r8', '%r9'],
  arm64: ['%x0', '%x1', '%x2', '%x3', '%x4', '%x5'],
};

/**
 * Where a system call's arguments are, given the struct pt_regs * its wrapper function
 * (__x64_sys_chdir) receives: the registers the caller loaded, saved at these offsets.
 */
const SYSCALL_REGS_OFFSETS: Record<string, number[]> = {
  // di, si, dx, r10, r8, r9 in x86-64's struct pt_regs
  x64: [112, 104, 96, 56, 72, 64],
  // regs[0..5]
  arm64: [0, 8, 16, 24, 32, 40],
};

/**
 * Where a kprobe's BPF program finds, in the struct pt_regs it is given, argument i (0..5) at
 * a function's entry, or (`i` = 'return') the return value at its return; null if elsewhere.
 */
export function registerOffset(i: number | 'return', machine: string = arch()): number | null {
  // x86-64: di, si, dx, cx, r8, r9 (R_RDI ...), the return value in ax (R_RAX); arm64: the
  // arguments in x0..x7, the return value in x0
  const at = ARGUMENT_UREGS[machine];
  if (at === undefined) return null;
  const r = i === 'return' ? at.ret : at.args[i];
  return r === undefined ? null : userRegisterOffset(r, machine);
}

/** The uregs[] indexes of the argument registers and of the return value's. */
const ARGUMENT_UREGS: Record<string, { args: number[]; ret: number }> = {
  x64: { args: [14, 13, 12, 11, 9, 8], ret: 10 },
  arm64: { args: [0, 1, 2, 3, 4, 5, 6, 7], ret: 0 },
};

/**
 * How many 8-byte slots of struct pt_regs uregs[] indexes, in order (uregs[i] is slot i):
 * x86-64's pt_regs is r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp
 * ss (R_R15 = 0 .. R_SS = 20); arm64's begins with user_pt_regs, regs[0..30] sp pc pstate
 * (R_X0 = 0 .. R_X30 = 30, R_SP 31, R_PC 32, R_PSTATE 33), then orig_x0 and the kernel's own.
 *                          [arch/x86/include/asm/ptrace.h, arch/arm64/include/asm/ptrace.h]
 */
const PT_REGS_UREGS: Record<string, number> = { x64: 21, arm64: 34 };

/**
 * Where uregs[i] is in struct pt_regs as a uprobe's BPF program gets it (a user task's
 * registers, as the kernel saved them at the breakpoint); null: not in pt_regs (x86-64's R_DS ..
 * R_TRAPNO) or a machine not known.
 */
export function userRegisterOffset(i: number, machine: string = arch()): number | null {
  const n = PT_REGS_UREGS[machine];
  return n === undefined || !Number.isInteger(i) || i < 0 || i >= n ? null : i * 8;
}

/**
 * Where a system call wrapper's argument i (0..5) is in the struct pt_regs its first argument
 * points to (the user registers the call was made with), or null on a machine not known.
 */
export function syscallRegsOffset(i: number, machine: string = arch()): number | null {
  return SYSCALL_REGS_OFFSETS[machine]?.[i] ?? null;
}

/** Where argument i (0..5) is at a function's entry, as a fetch argument's location. */
export function argumentAt(i: number, viaSyscallRegs: boolean): string {
  const a = arch();
  const regs = ARGUMENT_REGISTERS[a];
  if (viaSyscallRegs && SYSCALL_REGS_OFFSETS[a]) return `+${SYSCALL_REGS_OFFSETS[a][i]}(${regs[0]})`;
  if (regs) return regs[i];
  return `$arg${i + 1}`; // other architectures: the kernel's own argument access (4.20+)
}

/**
 * The fetch arguments of an entry probe: arg0..arg5 as 64-bit values, then, for the
 * arguments in `strings`, the user string each points to (str0 ...), copied when it fires.
 */
export function entryFetchArgs(viaSyscallRegs: boolean, strings: Iterable<number> = [], root = ''): string[] {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push(`arg${i}=${argumentAt(i, viaSyscallRegs)}:u64`);
  for (const i of strings) {
    if (i < 6) out.push(`str${i}=+0(${argumentAt(i, viaSyscallRegs)}):${userStringType(root)}`);
  }
  return out;
}

let ustring: boolean | null = null;

/**
 * Kernels since 5.5 fetch user strings with "ustring"; before, "string" read user memory too
 * (the kernel's README lists the types it knows).
 */
function userStringType(root: string): string {
  if (ustring === null) {
    try {
      ustring = /\bustring\b/.test(readFileSync(join(root, 'README'), 'latin1'));
    } catch {
      ustring = false;
    }
  }
  return ustring ? 'ustring' : 'string';
}

/** The fetch argument of a return probe: the return value. */
export const RETURN_FETCH_ARGS = ['retval=$retval:u64'];

/** Appends commands to kprobe_events (opening it to write without O_APPEND would clear it). */
function command(root: string, text: string): void {
  writeFileSync(join(root, 'kprobe_events'), text, { flag: 'a' });
}

/** The events of groups whose dtrace is gone, as "group/event"; removes them. */
export function reapStaleKprobes(root: string, live = new Liveness()): string[] {
  return reapStaleProbeEvents(root, 'kprobe_events', KPROBE_GROUP_PREFIX, live);
}

/**
 * What reapStaleKprobes does, for any dynamic-event file (kprobe_events, uprobe_events): the
 * events of `file` whose group is `prefix`<owner> and whose dtrace is gone.
 */
export function reapStaleProbeEvents(root: string, file: string, prefix: string, live = new Liveness()): string[] {
  let text: string;
  try {
    text = readFileSync(join(root, file), 'latin1');
  } catch {
    return [];
  }
  const removed: string[] = [];
  const owned = new RegExp(`^[pr]\\d*:(${prefix}(\\d+)(?:_(\\d+)_(\\d+))?/\\S+)`);
  for (const line of text.split('\n')) {
    // "p:dtrace_ts_123_4026531836_9876/do_sys_open_entry do_sys_open arg0=%di:u64 ...", or an
    // older dtrace-ts's group, dtrace_ts_123
    const m = owned.exec(line);
    if (!m || !live.gone({ pid: Number(m[2]), ns: Number(m[3] ?? 0), start: Number(m[4] ?? 0) })) continue;
    try {
      writeFileSync(join(root, file), `-:${m[1]}\n`, { flag: 'a' });
      removed.push(m[1]);
    } catch {
      // still enabled somewhere: the next run tries again
    }
  }
  return removed;
}

/** Event names are C identifiers of at most 64 characters (MAX_EVENT_NAME_LEN). */
export function eventName(symbol: string, suffix: string, taken: Set<string>): string {
  const base = symbol.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=[0-9])/, '_').slice(0, 48);
  let name = `${base}_${suffix}`;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}_${suffix}`;
  taken.add(name);
  return name;
}

export interface KprobeSpec {
  /** the kernel function */
  symbol: string;
  /** probe its return (a kretprobe) instead of its entry */
  isReturn: boolean;
  /** fetch arguments, "name=where:type" */
  fetch: string[];
}

/** The kprobe events one dtrace process created; removes them all on remove(). */
export class KprobeSet {
  readonly group = `${KPROBE_GROUP_PREFIX}${ownerTag('_')}`;
  private readonly created: string[] = [];
  private readonly taken = new Set<string>();

  constructor(readonly root: string) {}

  /**
   * Creates the probes, in one write where the kernel takes them all; returns each one's event
   * name (in the group), or null where the kernel refused the function (not probeable).
   */
  add(specs: KprobeSpec[]): Array<string | null> {
    const names = specs.map((s) => eventName(s.symbol, s.isReturn ? 'return' : 'entry', this.taken));
    const lines = specs.map((s, i) => `${s.isReturn ? 'r' : 'p'}:${this.group}/${names[i]} ${s.symbol} ${s.fetch.join(' ')}\n`);
    try {
      command(this.root, lines.join(''));
      this.created.push(...names);
      return names;
    } catch {
      // one line the kernel refuses fails the write, but the lines before it were taken:
      // remove what may exist, then one by one, to tell which functions cannot be probed
      this.removeNames(names);
    }
    const out: Array<string | null> = [];
    let lastError: NodeJS.ErrnoException | null = null;
    lines.forEach((line, i) => {
      try {
        command(this.root, line);
        this.created.push(names[i]);
        out.push(names[i]);
      } catch (e) {
        lastError = e as NodeJS.ErrnoException;
        out.push(null);
      }
    });
    if (out.every((n) => n === null) && lastError !== null) {
      const e = lastError as NodeJS.ErrnoException;
      if (e.code === 'EACCES' || e.code === 'EPERM') {
        throw new DFatalError(`could not create kprobe events: ${e.message} (is the kernel locked down?)`);
      }
    }
    return out;
  }

  private removeNames(names: string[]): void {
    for (const n of names) {
      try {
        command(this.root, `-:${this.group}/${n}\n`);
      } catch {
        // never created
      }
    }
  }

  /** Removes every probe created (the instances that enabled them must be gone). */
  remove(): void {
    const names = this.created.splice(0);
    if (names.length === 0) return;
    try {
      // one write for all: fast for thousands of probes
      command(this.root, names.map((n) => `-:${this.group}/${n}\n`).join(''));
    } catch {
      this.removeNames(names);
    }
  }
}
