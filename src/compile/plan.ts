// Planning a clause (providers/clause-plan.ts says what a plan holds): what a probe must record
// for the clause to run, and which parts of its predicate a kernel-side filter can evaluate.

import * as A from '../lang/ast.js';
import type { CheckedClause } from '../lang/check.js';
import type { ClausePlan, KernelTest } from '../providers/clause-plan.js';

const PUSHABLE = new Set(['pid', 'tid', 'ppid', 'uid', 'gid', 'execname', 'cpu', 'probefunc', 'probename']);

export function planClause(cc: CheckedClause): ClausePlan {
  const plan: ClausePlan = { reads: new Set(), bigArgs: null, kernelStack: false, userStack: false, userMemory: false, stringArgs: new Set(), speculates: false, kernel: [], inKernel: null };
  const c = cc.clause;
  const seen: Inlines = { seen: new Set(), todo: [] };
  if (c.predicate) {
    collectReads(c.predicate, plan, seen);
    for (const conj of conjuncts(c.predicate)) {
      const t = kernelTest(conj);
      if (t) plan.kernel.push(t);
    }
  }
  if (c.body) for (const s of c.body) collectStmt(s, plan, seen);
  // inlines the clause names, and the inlines they name, each once (a worklist, as chains of
  // inlines are as long as the program makes them)
  for (let e = seen.todo.pop(); e !== undefined; e = seen.todo.pop()) collectReads(e, plan, seen);
  return plan;
}

/** The operands of a && b && ..., left to right, without recursing (chains have no length limit). */
function conjuncts(e: A.Expr): A.Expr[] {
  const out: A.Expr[] = [];
  const todo: A.Expr[] = [e];
  for (let x = todo.pop(); x !== undefined; x = todo.pop()) {
    if (x.kind === A.N.Logical && x.op === '&&') todo.push(x.right, x.left);
    else out.push(x);
  }
  return out;
}

function builtinField(e: A.Expr): string | null {
  if (e.kind === A.N.Ident && e.resolved === A.IdentKind.Builtin) {
    if (PUSHABLE.has(e.name) || /^arg[0-9]$/.test(e.name)) return e.name;
  }
  if (e.kind === A.N.Index && e.mode === 'args' && e.args[0].kind === A.N.Int) return `arg${e.args[0].value}`;
  return null;
}

function constantOf(e: A.Expr): bigint | string | null {
  if (e.kind === A.N.Int) return e.value;
  if (e.kind === A.N.Str) return e.value;
  if (e.kind === A.N.Ident && e.resolved === A.IdentKind.EnumConst) return e.constValue;
  return null;
}

const FLIP: Record<string, KernelTest['op']> = { '==': '==', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

function kernelTest(e: A.Expr): KernelTest | null {
  if (e.kind !== A.N.Binary || !(e.op in FLIP)) return null;
  let field = builtinField(e.left);
  let value = constantOf(e.right);
  let op = e.op as KernelTest['op'];
  if (field === null || value === null) {
    field = builtinField(e.right);
    value = constantOf(e.left);
    op = FLIP[e.op];
  }
  if (field === null || value === null) return null;
  // strings only compare for (in)equality in a kernel filter
  const stringField = field === 'execname' || field === 'probefunc' || field === 'probename';
  if (stringField !== (typeof value === 'string')) return null;
  if (stringField && op !== '==' && op !== '!=') return null;
  return { field, op, value };
}

/** Inline expressions met while walking a clause: those seen, and those still to walk. */
interface Inlines {
  seen: Set<A.Expr>;
  todo: A.Expr[];
}

function collectStmt(s: A.Stmt, plan: ClausePlan, seen: Inlines): void {
  if (s.kind === 'if') {
    collectReads(s.cond, plan, seen);
    for (const t of s.then) collectStmt(t, plan, seen);
    if (s.otherwise) for (const t of s.otherwise) collectStmt(t, plan, seen);
    return;
  }
  collectReads(s.expr, plan, seen);
}

/** Calls that need the user stack or the user registers at the probe. */
const USER_STACK_CALLS = new Set(['ustack', 'jstack', 'ufunc', 'usym', 'umod', 'uaddr']);

/** Walks an expression for built-in reads and thread-local use; inlines it names go to `seen`. */
function collectReads(e: A.Expr, plan: ClausePlan, seen: Inlines): void {
  switch (e.kind) {
    case A.N.Ident:
      if (e.resolved === A.IdentKind.Builtin) {
        plan.reads.add(e.name);
        if (e.name === 'stackdepth' || e.name === 'caller') plan.kernelStack = true;
        if (e.name === 'ustackdepth' || e.name === 'ucaller') plan.userStack = true;
      }
      // an inline read twice (or by another inline) adds nothing new: walk each once
      if (e.resolved === A.IdentKind.Inline && e.inlineExpr && !seen.seen.has(e.inlineExpr)) {
        seen.seen.add(e.inlineExpr);
        seen.todo.push(e.inlineExpr);
      }
      return;
    case A.N.Index:
      if (e.mode === 'args') {
        // args[i]: the index only (args itself is no built-in read of its own)
        const i = e.args[0];
        plan.reads.add(i.kind === A.N.Int ? `arg${i.value}` : 'args');
        for (const a of e.args) collectReads(a, plan, seen);
        return;
      }
      // fds[argN]: the provider may copy that descriptor's file when the probe fires
      if (e.mode === 'fds') {
        const f = builtinField(e.args[0]);
        const m = f === null ? null : /^arg([0-9])$/.exec(f);
        (plan.fdArgs ??= new Set()).add(m ? Number(m[1]) : -1);
      }
      // uregs[R_X]: the provider fetches the user registers
      if (e.mode === 'builtin' && e.base.kind === A.N.Ident && e.base.name === 'uregs') plan.reads.add('uregs');
      break;
    case A.N.Call:
      if (e.name === 'stack') plan.kernelStack = true;
      if (USER_STACK_CALLS.has(e.name)) plan.userStack = true;
      if (e.name === 'copyin' || e.name === 'copyinstr' || e.name === 'copyinto') plan.userMemory = true;
      if (e.name === 'speculation') plan.speculates = true;
      if (e.name === 'copyinstr') {
        const arg = builtinField(e.args[0]);
        if (arg !== null && /^arg\d$/.test(arg)) plan.stringArgs.add(Number(arg.slice(3)));
      }
      break;
    case A.N.SizeofExpr:
      // sizeof does not evaluate its operand
      return;
    case A.N.Binary:
    case A.N.Logical:
    case A.N.Comma: {
      // down the left side of a chain in a loop: a + b + c ... has no length limit
      let x: A.Expr = e;
      for (; x.kind === A.N.Binary || x.kind === A.N.Logical || x.kind === A.N.Comma; x = x.left) collectReads(x.right, plan, seen);
      collectReads(x, plan, seen);
      return;
    }
    default:
      break;
  }
  A.forEachChild(e, (c) => collectReads(c, plan, seen));
}
