// Who fired a probe, as it fired. A tracefs record names only the thread (common_pid); the
// process table (kernel/proctable.ts) answers the rest when the event is handled, from /proc
// and from the task events it follows, and is wrong for what changed in between: a setuid(),
// a parent that exited (the task is reparented), a task that exited before it was read. Where
// a probe's records come from a capture program (kernel/bpf/capture.ts), and some clause on it
// in dtrace reads who fired it, the program writes the task's identity into each record:
//   +0 u32 process id (tgid)   +4 u32 parent's process id   +8 u32 uid   +12 u32 gid
//   +16 u32 euid   +20 u32 egid   +24 char comm[16]
// (an id the program could not read is 0xffffffff: the table's is used).

import { Alu, Helper, type Program, R0, R1, R2, R3, R10 } from '../kernel/bpf/asm.js';
import type { CaptureValues } from '../kernel/bpf/capture.js';
import { bpfUnavailable } from '../kernel/bpf/sys.js';
import { kernelTypes, memberOffset } from '../kernel/btf.js';
import type { ProcessTable, TaskInfo } from '../kernel/proctable.js';
import type { ProbeContext } from '../runtime/context.js';
import type { ClausePlan } from './clause-plan.js';

export const TASK_BYTES = 40;
const TGID = 0;
const PPID = 4;
const UID = 8;
const GID = 12;
const EUID = 16;
const EGID = 20;
const COMM = 24;
const COMM_BYTES = 16;
const UNREAD = 0xffffffff;
/** a stack slot for a pointer read on the way (capture programs use the first 16 bytes) */
const TEMP_AT = -24;

/**
 * Built-in variables that say who fired a probe and may have changed by the time the event is
 * handled (tid is in every record already; a thread's pid is fixed from its creation, which
 * the process table follows).
 */
export const TASK_READS: readonly string[] = ['execname', 'ppid', 'uid', 'gid', 'curpsinfo', 'curlwpsinfo'];

/** Whether a clause on the probe, running in dtrace, reads who fired it, and BPF can say. */
export function readsTask(plans: readonly ClausePlan[]): boolean {
  return plans.some((p) => TASK_READS.some((n) => p.reads.has(n))) && bpfUnavailable() === null;
}

interface TaskPlaces {
  realParent: number;
  tgid: number;
  cred: number;
  euid: number;
  egid: number;
}

let places: TaskPlaces | null | undefined;

/** Where BTF places task_struct's parent and credentials (null: no BTF; ppid and the effective ids then come from the table). */
function taskPlaces(): TaskPlaces | null {
  if (places !== undefined) return places;
  const task = kernelTypes.lookup('struct task_struct');
  const cred = kernelTypes.lookup('struct cred');
  const v = {
    realParent: memberOffset(task, ['real_parent']),
    tgid: memberOffset(task, ['tgid']),
    cred: memberOffset(task, ['cred']),
    euid: memberOffset(cred, ['euid']),
    egid: memberOffset(cred, ['egid']),
  };
  places = Object.values(v).some((x) => x === null) ? null : (v as TaskPlaces);
  return places;
}

/** The capture program's code that writes the identity of the task that fired into the record. */
export function taskValues(): CaptureValues {
  const where = taskPlaces();
  return {
    bytes: TASK_BYTES,
    emit(p: Program, baseAt: number, areaAt: number): void {
      const end = `task${areaAt}_end`;
      p.load(8, R1, R10, baseAt).addImm(R1, areaAt + COMM).movImm(R2, COMM_BYTES).call(Helper.GetCurrentComm);
      p.call(Helper.GetCurrentPidTgid).load(8, R1, R10, baseAt).aluImm(Alu.Rsh, R0, 32).store(4, R1, areaAt + TGID, R0);
      p.call(Helper.GetCurrentUidGid).load(8, R1, R10, baseAt).store(4, R1, areaAt + UID, R0).aluImm(Alu.Rsh, R0, 32).store(4, R1, areaAt + GID, R0);
      p.storeImm(4, R1, areaAt + PPID, -1).storeImm(4, R1, areaAt + EUID, -1).storeImm(4, R1, areaAt + EGID, -1);
      if (where === null) return;
      // the parent's process id: current->real_parent->tgid
      p.call(Helper.GetCurrentTask).mov(R3, R0).addImm(R3, where.realParent);
      p.mov(R1, R10).addImm(R1, TEMP_AT).movImm(R2, 8).call(Helper.ProbeReadKernel).jsltImm(R0, 0, `${end}p`);
      p.load(8, R3, R10, TEMP_AT).addImm(R3, where.tgid).load(8, R1, R10, baseAt).addImm(R1, areaAt + PPID).movImm(R2, 4).call(Helper.ProbeReadKernel);
      p.label(`${end}p`);
      // the effective ids: current->cred->euid, egid (kuid_t: the id in the initial namespace)
      p.call(Helper.GetCurrentTask).mov(R3, R0).addImm(R3, where.cred);
      p.mov(R1, R10).addImm(R1, TEMP_AT).movImm(R2, 8).call(Helper.ProbeReadKernel).jsltImm(R0, 0, end);
      p.load(8, R3, R10, TEMP_AT).addImm(R3, where.euid).load(8, R1, R10, baseAt).addImm(R1, areaAt + EUID).movImm(R2, 4).call(Helper.ProbeReadKernel);
      p.load(8, R3, R10, TEMP_AT).addImm(R3, where.egid).load(8, R1, R10, baseAt).addImm(R1, areaAt + EGID).movImm(R2, 4).call(Helper.ProbeReadKernel);
      p.label(end);
    },
  };
}

/**
 * Puts who fired the probe, from the record's task area at `at`, in the context, and keeps the
 * process table's entry for the thread right (later events without an area use it).
 */
export function fillFiredTask(ctx: ProbeContext, procs: ProcessTable, page: Buffer, view: DataView, at: number): void {
  const t: TaskInfo = procs.fired(ctx.tid, view.getUint32(at + TGID, true), page, at + COMM, COMM_BYTES);
  const ppid = view.getUint32(at + PPID, true);
  if (ppid !== UNREAD) t.ppid = ppid;
  t.uid = view.getUint32(at + UID, true);
  t.gid = view.getUint32(at + GID, true);
  const euid = view.getUint32(at + EUID, true);
  const egid = view.getUint32(at + EGID, true);
  ctx.pid = t.tgid;
  ctx.ppid = t.ppid;
  ctx.uid = t.uid;
  ctx.gid = t.gid;
  ctx.euid = euid === UNREAD ? t.uid : euid;
  ctx.egid = egid === UNREAD ? t.gid : egid;
  // the idle task is swapper/N in the record too
  if (ctx.tid !== 0) ctx.execname = t.comm;
  ctx.taskFired = true;
}
