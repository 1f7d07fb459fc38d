// One program on raw_syscalls' sys_enter or sys_exit serving many system calls, rather than a
// program on each call's own tracepoint (syscalls:sys_enter_<name>) through a perf event each:
// opening hundreds of perf events takes long, and closing each waits for an RCU grace period,
// one after another. The program finds the firing call by its number. raw_syscalls' records
// are laid out as the calls' own (the number at 8, then the six arguments or the return
// value), so what reads one reads the other.

import { Alu, Helper, Jmp, type Program, R0, R1, R10, R2, R3, R6 } from './asm.js';
import type { TaskFlag } from '../syscall-numbers.js';

/** where raw_syscalls' sys_enter and sys_exit records hold the call's number (long id) */
export const SYSCALL_NR_OFFSET = 8;

/**
 * Fewer system calls than this in one direction get a program each: a shared program runs on
 * every system call, a call's own only on that call.
 */
export const SYSCALL_DISPATCH_MIN = 8;

/**
 * `reg` = the call's number, from the record R6 points to; to `none` if it is not below
 * `tableSize` (a long: -1 for none, which unsigned is past any table's end).
 */
export function loadSyscallNumber(p: Program, reg: number, tableSize: number, none: string): void {
  p.load(8, reg, R6, SYSCALL_NR_OFFSET).jmpImm(Jmp.Ge, reg, tableSize, none);
}

/**
 * To `none` if the call is a 32-bit one (its number is another table's; the syscall
 * tracepoints leave those out), told by `compat`. Uses R0-R3 and the stack at -16.
 */
export function skipCompatCall(p: Program, compat: TaskFlag, none: string): void {
  p.call(Helper.GetCurrentTask).mov(R3, R0).addImm(R3, compat.offset).mov(R1, R10).addImm(R1, -16).movImm(R2, compat.size).call(Helper.ProbeReadKernel);
  p.jmpImm(Jmp.Ne, R0, 0, 'native').load(compat.size, R1, R10, -16).aluImm(Alu.And, R1, compat.mask).jmpImm(Jmp.Ne, R1, 0, none).label('native');
}
