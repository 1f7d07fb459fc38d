// The dynamic loader's events: what a debugger (and DTrace, through libproc's rtld_db) watches to
// learn that a process loaded or unloaded objects. glibc's ld.so calls the empty function
// _dl_debug_state() around every change of its list of objects, with r_debug.r_state saying
// which: RT_ADD or RT_DELETE before the change, RT_CONSISTENT once the new objects are mapped
// and relocated (and before their initialisers run). A uprobe on that function tells dtrace;
// where BPF is available, a program on the same uprobe also stops the process (SIGSTOP) at
// RT_CONSISTENT, so that probes on the new objects are in place before any of their code runs,
// as DTrace's breakpoint on the loader does; dtrace lets it go (SIGCONT) once they are.
//                                                          [libproc rtld_db.c, dt_proc.c dt_proc_rdevent]

import { readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { ElfError, ElfFile } from './elf.js';
import { Alu, Helper, Jmp, Program, R0, R1, R2, R3, R6, R10 } from './bpf/asm.js';
import { BPF_PROG_TYPE_KPROBE, BpfObjects } from './bpf/objects.js';

/** r_debug.r_state's value once the list of objects is consistent (link.h's RT_CONSISTENT). */
export const RT_CONSISTENT = 0;

/** Where r_state lies in struct r_debug (int r_version; struct link_map *r_map; ElfW(Addr) r_brk; r_state). */
const R_STATE_OFFSET = 24;

/** Offset of the instruction pointer in the registers a uprobe's BPF program sees (struct pt_regs). */
const PC_IN_REGS: Record<string, number> = { x64: 16 * 8, arm64: 32 * 8 };

/** Where to watch a loader. */
export interface LoaderProbe {
  /** the loader's path */
  path: string;
  /** _dl_debug_state's file offset: the uprobe's */
  offset: number;
  /** r_debug.r_state's address minus _dl_debug_state's (both in the loader: the same load bias) */
  stateFromPc: number;
  /**
   * r_state's place as a uprobe fetch argument's "@+OFFSET" (the kernel takes it as a file
   * offset of the probed object, from the probe's own address and offset)
   */
  stateFetch: string;
}

/** Whether a path names a dynamic loader (ld-linux-x86-64.so.2, ld-linux-aarch64.so.1, ld.so). */
export function isLoaderPath(path: string): boolean {
  return /\/ld(-linux[^/]*)?\.so(\.\d+)*$/.test(path) || /\/ld-[^/]*\.so(\.\d+)*$/.test(path);
}

/** The loader's watch point, or null if the object is not glibc's loader (no _dl_debug_state, no _r_debug). */
export function loaderProbe(path: string): LoaderProbe | null {
  let f: ElfFile;
  try {
    f = ElfFile.open(path);
  } catch (e) {
    if (e instanceof ElfError) return null;
    throw e;
  }
  try {
    const fn = f.symbolAddress('_dl_debug_state');
    const rdebug = f.symbolAddress('_r_debug');
    if (fn <= 0 || rdebug <= 0) return null;
    const offset = f.fileOffset(fn);
    if (offset < 0) return null;
    const state = rdebug + R_STATE_OFFSET;
    // the kernel's address for @+X: the probe's address - the probe's file offset + X
    const fetchAt = state - (fn - offset);
    return { path, offset, stateFromPc: state - fn, stateFetch: `state=@+${fetchAt}:s32` };
  } finally {
    f.close();
  }
}

/**
 * The program that stops `pid` (SIGSTOP) when its loader says its objects are consistent: the
 * uprobe fires in every process that maps the loader, so the process is told by its tgid.
 */
export function stopperProgram(pid: number, stateFromPc: number, machine = arch()): Program | null {
  const pcAt = PC_IN_REGS[machine];
  if (pcAt === undefined) return null;
  const p = new Program();
  p.mov(R6, R1); // r6 = the registers
  p.call(Helper.GetCurrentPidTgid);
  p.aluImm(Alu.Rsh, R0, 32);
  p.jmpImm(Jmp.Ne, R0, pid, 'out');
  // r_state, read from the process's memory next to the loader's code
  p.load(8, R3, R6, pcAt);
  p.movImm64(R2, BigInt(stateFromPc));
  p.add(R3, R2);
  p.storeImm(8, R10, -8, 0);
  p.mov(R1, R10);
  p.addImm(R1, -8);
  p.movImm(R2, 4);
  p.call(Helper.ProbeReadUser);
  // unreadable: stop anyway (dtrace looks, finds nothing new, and lets it go)
  p.jmpImm(Jmp.Ne, R0, 0, 'stop');
  p.load(4, R0, R10, -8);
  p.jmpImm(Jmp.Ne, R0, RT_CONSISTENT, 'out');
  p.label('stop');
  p.movImm(R1, 19 /* SIGSTOP */);
  p.call(Helper.SendSignal);
  p.label('out');
  p.movImm(R0, 0);
  p.exit();
  return p;
}

/** Stops a process at its loader's consistent points (see stopperProgram); close() detaches it. */
export class LoaderStopper {
  private readonly objs = new BpfObjects();
  private closed = false;

  private constructor(readonly pid: number) {}

  /** Attaches to the loader's uprobe event (its tracepoint id); throws where the kernel refuses. */
  static attach(pid: number, tracepointId: number, probe: LoaderProbe): LoaderStopper {
    const prog = stopperProgram(pid, probe.stateFromPc);
    if (prog === null) throw new Error(`stopping a process at its loader's events is not supported on ${arch()}`);
    const s = new LoaderStopper(pid);
    try {
      const fd = s.objs.loadProgram(BPF_PROG_TYPE_KPROBE, prog.encode(), 'dtrace_rtld');
      // bound to the process: the uprobe then traps in it only (the kernel filters uprobes by
      // address space, so every thread of it runs the program), not in every process using the loader
      s.objs.attachTracepoint(tracepointId, fd, 0, pid);
    } catch (e) {
      s.objs.close();
      throw e;
    }
    return s;
  }

  /** Lets the process go on after an event the program stopped it at. */
  resume(): void {
    try {
      process.kill(this.pid, 'SIGCONT');
    } catch {
      // gone
    }
  }

  /**
   * Detaches the program; a process it stopped whose event dtrace did not handle (tracing ended
   * first) is let go.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.objs.close();
    if (processStopped(this.pid)) this.resume();
  }
}

/** Whether a process is stopped (state T in /proc/<pid>/stat). */
function processStopped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] === 'T';
  } catch {
    return false;
  }
}
