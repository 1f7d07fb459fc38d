// The probe context: one reused object of fixed shape per consumer, filled in place for each
// firing (STYLE rules 1 and 2). Built-in variables read from it.

import type { Value } from './values.js';

/** A probe as the runtime knows it: identity and names. */
export class Probe {
  constructor(
    readonly id: number,
    readonly provider: string,
    readonly module: string,
    readonly func: string,
    readonly name: string,
  ) {}

  get desc(): string {
    return `${this.provider}:${this.module}:${this.func}:${this.name}`;
  }
}

/** Builds a firing's translated argument struct on demand (the bytes may be reused by the next firing). */
export interface ArgBuilder {
  build(slot: number): Uint8Array | null;
}

/** The deepest kernel stack recorded (the kernel's own limit is lower). */
export const MAX_STACK_FRAMES = 128;

export class ProbeContext {
  probe: Probe = new Probe(0, '', '', '', '');
  /** enabled probe ID of the clause running */
  epid = 0;
  /** statement number within the clause (0: the predicate), for error messages */
  action = 0;
  cpu = 0;
  pid = 0;
  ppid = 0;
  tid = 0;
  uid = 0;
  gid = 0;
  /** the effective ids, where the record said who fired the probe (taskFired) */
  euid = 0;
  egid = 0;
  /** pid, ppid, uid, gid, euid, egid and execname are the task's as the probe fired (from its record), not the process table's */
  taskFired = false;
  errno = 0;
  execname = '';
  /**
   * arg0..arg9 as 64-bit signed values. A tracefs event's decoder fills only the ones some
   * clause reads as a BigInt (ClausePlan.bigArgs), and the others when they need 64 bits.
   */
  args: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  /**
   * argN as a Number (the nearest double: exact within ±2^53), where bit N of argnSet says a
   * decoder filled it for this firing (STYLE rule 4: no BigInt for an argument compared with a
   * constant); Session.fire() clears argnSet after each firing
   */
  argn = new Float64Array(10);
  argnSet = 0;
  /** string arguments (tracepoint char arrays), where args[i] has type string */
  argStrs: string[] = ['', '', '', '', '', '', '', '', '', ''];
  /**
   * builds the bytes of this firing's translated argument structs (args[slot] points at
   * viewAddress(ViewKind.Arg, slot)) when D code reads one; set by the provider before each
   * firing, cleared after it
   */
  argBuild: ArgBuilder | null = null;
  /** nanoseconds since boot when the probe fired (-1n: not read yet) */
  timestamp = -1n;
  /** a kernel event's time, in ns after the tracer's time base (-1: the probe fired here, now) */
  eventTs = -1;
  /** the kernel stack recorded with the event (kernel addresses as offsets: see kernel/ksyms) */
  kstack = new Float64Array(MAX_STACK_FRAMES);
  kstackLen = 0;
  /**
   * user memory the kernel copied when the probe fired, by the address it was read from: its
   * bytes as a latin1 string (one char per byte), which is what copyinstr() wants
   */
  capturedAddr: bigint[] = [];
  capturedText: string[] = [];
  capturedN = 0;
  /**
   * fds[] at firing time: the descriptor whose file the kernel copied as the probe fired (-1:
   * none), whether a file was open on it, and the file's offset, flags, name and file system
   * type then; set by the provider before a firing, reset after it
   */
  firedFd = -1;
  firedFdOpen = false;
  firedFdPos = 0;
  firedFdFlags = 0;
  firedFdName = '';
  firedFdFs = '';
  /** its path from the root ('': not known then) */
  firedFdPath = '';
  /**
   * the user registers at the probe, as uregs[] indexes them (x86-64: R_R15 = 0 ... R_SS = 20),
   * for the first uregsN of them; a provider that fetched them sets uregsN, and Session.fire()
   * clears it after each firing
   */
  uregs = new BigUint64Array(32);
  uregsN = 0;
  /**
   * values the kernel computed as the probe fired, for the clauses' firing values (compile:
   * firingValuesOf), by slot; where firingFault[slot] is not 0 (a fault code, FLT_*), the
   * kernel met that fault and firing[slot] is its address
   */
  firing: Array<number | bigint | string | Uint8Array> = [];
  firingFault: number[] = [];
  /** clause-local (this->) variables of this firing, by id */
  L: Array<Value | null | undefined> = [];
}
