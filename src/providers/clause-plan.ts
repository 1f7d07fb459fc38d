// The clause plan: what a provider needs to know of the clauses on its probes to enable them
// (the contract between the compiler, which makes plans, and the providers, which read them):
// what each event must carry, and which parts of a predicate a kernel-side filter can evaluate
// before an event ever reaches user space (e.g. the tracefs filter "common_pid == 42").

/** A predicate conjunct of the form <built-in> <op> <constant>. */
export interface KernelTest {
  /** pid, tid, uid, gid, execname, cpu, probefunc, arg0..arg9, or args[N] as "argN" */
  field: string;
  op: '==' | '!=' | '<' | '<=' | '>' | '>=';
  value: bigint | string;
}

export interface ClausePlan {
  /** built-in variables and arguments the clause reads (what each event must carry) */
  reads: Set<string>;
  /**
   * the arguments its generated code reads as BigInts (ctx.args[N]); null: any of them. Others
   * it reads only as Numbers (ctx.argn), which a decoder fills without making a BigInt
   */
  bigArgs: Set<number> | null;
  /** the clause needs the kernel stack (stack(), stackdepth, caller) */
  kernelStack: boolean;
  /** the clause reads user memory (copyin, copyinstr, copyinto) */
  userMemory: boolean;
  /** arguments the clause passes straight to copyinstr() (probes that can fetch strings when they fire) */
  stringArgs: Set<number>;
  /** the clause calls speculation() (the session then needs speculation buffers) */
  speculates: boolean;
  /**
   * Conjuncts of the predicate a kernel filter can evaluate (the predicate holds only where
   * all of them do; user space still evaluates the whole predicate).
   */
  kernel: KernelTest[];
}
