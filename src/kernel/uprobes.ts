// uprobe events: probes on instructions of user-space objects, created in tracefs's
// uprobe_events file ("p:GROUP/EVENT /path/to/object:0xOFFSET fetch-args", "r:" for a function's
// return). A uprobe is placed in a file, so it fires in every process that maps that file: the
// pid provider limits what it records to its process. As with kprobe events, every event this
// process creates lives in a group of its own, dtrace_tsu_<pid>_<pid namespace>_<start time>
// (identity.ts), so that the next dtrace can remove what a killed one left, and only that. An
// event can only be removed once no instance has it enabled: instances go first.

import { writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { DFatalError } from '../errors.js';
import { Liveness, ownerTag } from './identity.js';
import { eventName, reapStaleProbeEvents } from './kprobes.js';

export const UPROBE_GROUP_PREFIX = 'dtrace_tsu_';

/** How many arguments an entry probe fetches (arg0..arg9, as DTrace's args). */
export const UPROBE_ARGS = 10;

/**
 * Where a function's integer arguments are at its first instruction, per architecture: the
 * argument registers, then the caller's stack (x86-64: above the return address; arm64: x0-x7,
 * then the stack).
 */
const ARGUMENT_PLACES: Record<string, string[]> = {
  x64: ['%di', '%si', '%dx', '%cx', '%r8', '%r9', '+8(%sp)', '+16(%sp)', '+24(%sp)', '+32(%sp)'],
  arm64: ['%x0', '%x1', '%x2', '%x3', '%x4', '%x5', '%x6', '%x7', '+0(%sp)', '+8(%sp)'],
};

/** Where argument i is at a function's entry, as a fetch argument's location (null: unknown). */
export function uprobeArgumentAt(i: number, machine = arch()): string | null {
  return ARGUMENT_PLACES[machine]?.[i] ?? null;
}

/**
 * The fetch arguments of an entry (or offset) probe: arg0..arg9 as 64-bit values, then, for
 * the register arguments in `strings`, the string each points to (str0 ...), copied when the
 * probe fires. A uprobe's "string" reads the process's own memory.
 */
export function uprobeEntryFetchArgs(strings: Iterable<number> = [], machine = arch()): string[] {
  const out: string[] = [];
  for (let i = 0; i < UPROBE_ARGS; i++) {
    const at = uprobeArgumentAt(i, machine);
    if (at !== null) out.push(`arg${i}=${at}:u64`);
  }
  for (const i of strings) {
    const at = uprobeArgumentAt(i, machine);
    if (at !== null && at.startsWith('%')) out.push(`str${i}=+0(${at}):string`);
  }
  return out;
}

/**
 * The user registers as uprobe fetch arguments ("u<index>=%reg:u64"), by the index uregs[]
 * gives each (the order of struct pt_regs, as DTrace's R_* names: x86-64's R_R15 = 0 ... R_SS =
 * 20, R_DS .. R_TRAPNO after them are not in pt_regs and read 0; arm64's R_X0 = 0 ... R_PSTATE =
 * 33); empty where not known.
 */
export function uprobeRegisterFetchArgs(machine = arch()): string[] {
  const regs = REGISTERS[machine];
  return regs === undefined ? [] : regs.map((r, i) => `u${i}=%${r}:u64`);
}

/** The registers by uregs[] index, as fetch arguments name them (the kernel's regs_query_register_offset). */
const REGISTERS: Record<string, string[]> = {
  x64: ['r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8', 'ax', 'cx', 'dx', 'si', 'di', 'orig_ax', 'ip', 'cs', 'flags', 'sp', 'ss'],
  // arm64: user_pt_regs (R_X0 = 0 .. R_X30 = 30, R_SP, R_PC, R_PSTATE)
  arm64: [...Array.from({ length: 31 }, (_, i) => `x${i}`), 'sp', 'pc', 'pstate'],
};

/** The uregs[] index of a register as fetch arguments name it ("bx", "x0"), or -1. */
export function uprobeRegisterIndex(name: string, machine = arch()): number {
  return REGISTERS[machine]?.indexOf(name) ?? -1;
}

/**
 * Where argument i is at a function's entry when the caller passed it on the stack: the uregs[]
 * index of the stack pointer and the bytes above it (null: in a register, or not known).
 */
export function uprobeStackArgument(i: number, machine = arch()): { spIndex: number; offset: number } | null {
  const m = /^\+(\d+)\(%sp\)$/.exec(uprobeArgumentAt(i, machine) ?? '');
  const spIndex = REGISTERS[machine]?.indexOf('sp') ?? -1;
  return m === null || spIndex < 0 ? null : { spIndex, offset: Number(m[1]) };
}

/** The fetch argument of a return probe: the return value. */
export const UPROBE_RETURN_FETCH_ARGS = ['retval=$retval:u64'];

export interface UprobeSpec {
  /** the object's path, as the kernel is to open it */
  path: string;
  /** the instruction's offset in the file */
  offset: number;
  /** probe the function's return (a uretprobe) instead of the instruction */
  isReturn: boolean;
  /** what the event is named after (the function, and its probe name) */
  label: string;
  /** fetch arguments, "name=where:type" */
  fetch: string[];
  /**
   * a USDT probe's semaphore, as a file offset: the kernel increments it in every process that
   * maps the object while the event is enabled (Linux 4.20+; usdt.ts tells whether it can)
   */
  refCtrOffset?: number;
}

/** One uprobe_events line. */
export function uprobeLine(group: string, event: string, s: UprobeSpec): string {
  return `${s.isReturn ? 'r' : 'p'}:${group}/${event} ${s.path}:0x${s.offset.toString(16)}${s.refCtrOffset ? `(0x${s.refCtrOffset.toString(16)})` : ''}${s.fetch.length > 0 ? ' ' + s.fetch.join(' ') : ''}\n`;
}

/** The uprobe events of groups whose dtrace is gone, as "group/event"; removes them. */
export function reapStaleUprobes(root: string, live = new Liveness()): string[] {
  return reapStaleProbeEvents(root, 'uprobe_events', UPROBE_GROUP_PREFIX, live);
}

/** The uprobe events one dtrace process created; removes them all on remove(). */
export class UprobeSet {
  readonly group = `${UPROBE_GROUP_PREFIX}${ownerTag('_')}`;
  private readonly created: string[] = [];
  private readonly taken = new Set<string>();

  constructor(readonly root: string) {}

  private command(text: string): void {
    // appended: opened to write without O_APPEND, the file would be cleared
    writeFileSync(join(this.root, 'uprobe_events'), text, { flag: 'a' });
  }

  /**
   * Creates the probes, in one write where the kernel takes them all; returns each one's event
   * name (in the group), or null where the kernel refused it (with the kernel's reason).
   */
  add(specs: UprobeSpec[]): Array<{ event: string | null; error: string | null }> {
    // a path the line format cannot carry (blanks) is refused here
    const names = specs.map((s) => eventName(s.label, s.isReturn ? 'return' : 'entry', this.taken));
    const lines = specs.map((s, i) => (/\s/.test(s.path) ? null : uprobeLine(this.group, names[i], s)));
    if (lines.every((l) => l !== null)) {
      try {
        this.command(lines.join(''));
        this.created.push(...names);
        return names.map((event) => ({ event, error: null }));
      } catch {
        // one line the kernel refuses fails the write, but the lines before it were taken:
        // remove what may exist, then one by one, to tell which it refuses
        this.removeNames(names);
      }
    }
    const out: Array<{ event: string | null; error: string | null }> = [];
    let denied: NodeJS.ErrnoException | null = null;
    lines.forEach((line, i) => {
      if (line === null) {
        out.push({ event: null, error: 'the path of the object holds a blank' });
        return;
      }
      try {
        this.command(line);
        this.created.push(names[i]);
        out.push({ event: names[i], error: null });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'EACCES' || err.code === 'EPERM') denied = err;
        out.push({ event: null, error: err.message });
      }
    });
    if (denied !== null && out.every((r) => r.event === null)) {
      throw new DFatalError(`could not create uprobe events: ${(denied as Error).message} (is the kernel locked down?)`);
    }
    return out;
  }

  private removeNames(names: string[]): void {
    for (const n of names) {
      try {
        this.command(`-:${this.group}/${n}\n`);
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
      this.command(names.map((n) => `-:${this.group}/${n}\n`).join(''));
    } catch {
      this.removeNames(names);
    }
  }
}
