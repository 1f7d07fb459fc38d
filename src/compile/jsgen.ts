// Code generation: one JavaScript function per clause, built as source text.         [dt_cg.c]
//
// D has no loops, so the generated code is bounded. Expressions compile to JavaScript
// expressions over the value representations of compile/repr.ts; the function calls only
// the runtime entry points declared in runtime/abi.ts, through the typed builders of abi-call.ts.

import * as A from '../lang/ast.js';
import { type CheckedClause, promoteTypes, sizeofOperand } from '../lang/check.js';
import {
  DType,
  Kind,
  Repr,
  findMember,
  isArray,
  isCharArray,
  isCharPointer,
  isInteger,
  isPointer,
  isString,
  isStructLike,
  reprOf,
  resolve,
} from '../lang/types.js';
import { aggCall, dynCall, memCall, rtCall } from './abi-call.js';
import * as I from './intval.js';
import { accessor, intLiteral, truthCode, zeroCode } from './repr.js';
import { type FormatPlan, compileFormatter } from '../runtime/printf.js';
import type { FiringValue } from '../providers/clause-plan.js';
import { isOutputStatement } from './bpfgen.js';

/** Constants the generated code refers to as K[i] (format plans, types, strings). */
export class ConstPool {
  readonly items: unknown[] = [];
  add(v: unknown): string {
    let i = this.items.indexOf(v);
    if (i < 0) {
      i = this.items.length;
      this.items.push(v);
    }
    return `K[${i}]`;
  }
}

const BUILTIN_CODE: Record<string, string> = {
  arg0: 'ctx.args[0]',
  arg1: 'ctx.args[1]',
  arg2: 'ctx.args[2]',
  arg3: 'ctx.args[3]',
  arg4: 'ctx.args[4]',
  arg5: 'ctx.args[5]',
  arg6: 'ctx.args[6]',
  arg7: 'ctx.args[7]',
  arg8: 'ctx.args[8]',
  arg9: 'ctx.args[9]',
  caller: rtCall('caller', 'ctx'),
  ucaller: rtCall('ucaller', 'ctx'),
  cpu: 'ctx.cpu',
  epid: 'BigInt(ctx.epid)',
  errno: 'ctx.errno',
  execname: 'ctx.execname',
  gid: 'ctx.gid',
  uid: 'ctx.uid',
  id: 'ctx.probe.id',
  ipl: '0',
  pid: 'ctx.pid',
  ppid: 'ctx.ppid',
  tid: 'ctx.tid',
  probefunc: 'ctx.probe.func',
  probemod: 'ctx.probe.module',
  probename: 'ctx.probe.name',
  probeprov: 'ctx.probe.provider',
  stackdepth: rtCall('stackdepth', 'ctx'),
  ustackdepth: rtCall('ustackdepth', 'ctx'),
  timestamp: rtCall('timestamp', 'ctx'),
  vtimestamp: rtCall('vtimestamp', 'ctx'),
  walltimestamp: rtCall('walltimestamp', 'ctx'),
  curthread: '0n',
  curpsinfo: rtCall('curpsinfo', 'ctx'),
  curlwpsinfo: rtCall('curlwpsinfo', 'ctx'),
  curcpu: rtCall('curcpu', 'ctx'),
  chip: rtCall('cpuChip', 'ctx'),
  pset: '0',
  lgrp: rtCall('cpuLgrp', 'ctx'),
};

/** A compiled clause: its source text and what the runtime needs to run it. */
export interface GeneratedClause {
  source: string;
  /** number of actions, for "in action #N" in error messages */
  actions: number;
}

/** Chains (a + b + c ...) longer than this are computed link by link into one temporary. */
const CHAIN_FLAT = 32;

/** Inlines up to this many nodes, naming no other inline, are expanded where they are used. */
const INLINE_IN_PLACE = 16;

/** Subroutines without side effects or state (an inline calling only these may be memoized). */
const PURE_SUBRS = new Set([
  'strlen', 'strjoin', 'substr', 'index', 'rindex', 'strchr', 'strrchr', 'strstr', 'basename', 'dirname',
  'cleanpath', 'toupper', 'tolower', 'lltostr', 'strtoll', 'htons', 'ntohs', 'htonl', 'ntohl', 'htonll', 'ntohll',
  'getmajor', 'getminor',
]);

/** An inline's helper function, generated once per clause (see inlineRef). */
interface InlineHelper {
  name: string;
  expr: A.Expr;
  type: DType;
  /** no side effects: within one evaluation, its inlines may be computed once */
  pure: boolean;
}

export class ClauseGen {
  private temps = 0;
  private maxTemps = 0;
  private action = 0;
  /** the translator parameter currently bound (xlate member expressions) */
  private binding: { name: string; code: string } | null = null;
  /** chain links whose value is already in a temporary: code as ival/expr/truth return it */
  private readonly done = new Map<A.Expr, I.IntVal | string>();
  /** this clause's inline helpers by inline expression, and their source */
  private helpers = new Map<A.Expr, InlineHelper>();
  /** helpers named but not generated yet (generated after the clause: no recursion per inline) */
  private pending: InlineHelper[] = [];
  /** inside a pure helper: the inlines it computes at most once (memo variables) */
  private memo: Set<InlineHelper> | null = null;
  /** the clause's values the kernel computes as the probe fires (bpfgen firingValuesOf), read from ctx.firing */
  firing: ReadonlyMap<A.Expr, FiringValue> = new Map();

  constructor(
    private readonly strsize: () => number,
    private readonly K: ConstPool,
    private readonly types: { int: DType; int64: DType; uint64: DType; str: DType; char: DType; sizeT: DType },
  ) {}

  private tmp(): string {
    const t = `t${this.temps++}`;
    if (this.temps > this.maxTemps) this.maxTemps = this.temps;
    return t;
  }

  /**
   * The body of `function (ctx) { ... }` for one clause; `printedOnly`: of its output actions
   * alone (a kernel clause's: its predicate and other statements ran in the kernel), with
   * their action numbers.
   */
  clause(cc: CheckedClause, only: { printedOnly: boolean } = { printedOnly: false }): GeneratedClause {
    const c = cc.clause;
    const lines: string[] = [];
    this.temps = 0;
    this.maxTemps = 0;
    this.action = 0;
    this.helpers = new Map();
    this.pending = [];
    if (c.predicate && !only.printedOnly) lines.push(`if (!(${this.truth(c.predicate)})) return;`);
    this.temps = 0;
    if (cc.recordsData) lines.push(rtCall('beginRecord', 'ctx') + ';');
    if (c.body) {
      for (const s of c.body) {
        if (only.printedOnly && !isOutputStatement(s)) this.action++;
        else this.stmt(s, lines);
      }
    }
    if (cc.recordsData) lines.push(rtCall('endRecord', 'ctx') + ';');
    const body = lines.join('\n');
    // P: printf()'s argument array (rt.pargs)
    const decl = tempDecl(this.maxTemps) + (body.includes('(P = rt.pargs, ') ? 'let P;\n' : '');
    return { source: decl + this.helperBodies() + body, actions: this.action };
  }

  private stmt(s: A.Stmt, out: string[]): void {
    this.temps = 0;
    if (s.kind === 'if') {
      out.push(`if (${this.truth(s.cond)}) {`);
      for (const t of s.then) this.stmt(t, out);
      if (s.otherwise) {
        out.push('} else {');
        for (const t of s.otherwise) this.stmt(t, out);
      }
      out.push('}');
      return;
    }
    const e = s.expr;
    this.action++;
    out.push(`ctx.action = ${this.action};`);
    if (e.kind === A.N.Call && e.type !== null && resolve(e.type).kind === Kind.Void && !isSubrCall(e)) {
      out.push(this.actionCall(e) + ';');
      return;
    }
    if (e.kind === A.N.Assign && e.ref && 'fn' in e.ref) {
      out.push(this.aggregate(e) + ';');
      return;
    }
    out.push(this.expr(e) + ';');
  }

  // -- expressions -----------------------------------------------------------------------------

  /** A JavaScript boolean expression for a D condition. */
  truth(e: A.Expr): string {
    if ((e.kind === A.N.Binary || e.kind === A.N.Logical || e.kind === A.N.Comma) && (this.done.size > 0 || isChainLink(e.left))) {
      const d = this.done.get(e);
      if (d !== undefined) return typeof d === 'string' ? truthCode(d, e.type!) : I.truth(d);
      if (this.longChain(e)) {
        const prefix = this.chainPrefix(e);
        const c = this.truth(e);
        this.done.delete(e.left);
        return `(${prefix}, ${c})`;
      }
    }
    if (e.kind === A.N.Logical) {
      const l = this.truth(e.left);
      const r = this.truth(e.right);
      if (e.op === '&&') return `(${l} && ${r})`;
      if (e.op === '||') return `(${l} || ${r})`;
      return `((${l}) !== (${r}))`;
    }
    if (e.kind === A.N.Unary && e.op === '!') return `!(${this.truth(e.operand)})`;
    if (e.kind === A.N.Binary && isComparison(e.op)) return this.compare(e);
    if (isIntLike(e.type!)) return I.truth(this.ival(e));
    return truthCode(this.expr(e), e.type!);
  }

  /** An integer or pointer expression as a 64-bit register value (compile/intval.ts). */
  ival(e: A.Expr): I.IntVal {
    const fired = this.firing.get(e);
    if (fired !== undefined) return I.loaded(firingRead(fired.slot), e.type!);
    if ((e.kind === A.N.Binary || e.kind === A.N.Logical || e.kind === A.N.Comma) && (this.done.size > 0 || isChainLink(e.left))) {
      const v = this.ivalLink(e);
      if (v !== null) return v;
    }
    const t = e.type!;
    const signed = I.typeSigned(t);
    switch (e.kind) {
      case A.N.Int: {
        const [lo, hi] = I.typeRange(t);
        const v = e.value < lo || e.value > hi ? (signed ? BigInt.asIntN(64, e.value) : BigInt.asUintN(64, e.value)) : e.value;
        return I.constant(v);
      }
      case A.N.Ident:
        if (e.resolved === A.IdentKind.EnumConst) return I.constant(e.constValue);
        if (e.resolved === A.IdentKind.Inline) return I.loaded(this.inlineRef(e), t);
        return I.loaded(this.ident(e), t);
      case A.N.Unary:
        switch (e.op) {
          case '+':
            return this.ival(e.operand);
          case '-':
            return I.negate(this.ival(e.operand), signed);
          case '~':
            return I.complement(this.ival(e.operand), signed);
          case '!':
            return { code: `(${this.truth(e.operand)} ? 0 : 1)`, big: false, lo: 0n, hi: 1n, sig: true };
          default:
            break;
        }
        break;
      case A.N.Binary:
        if (isComparison(e.op)) return { code: `(${this.compare(e)} ? 1 : 0)`, big: false, lo: 0n, hi: 1n, sig: true };
        return this.binary(e);
      case A.N.Logical:
        return { code: `(${this.truth(e)} ? 1 : 0)`, big: false, lo: 0n, hi: 1n, sig: true };
      case A.N.Ternary: {
        const [a, b, v] = I.join(this.ival(e.then), this.ival(e.otherwise), signed);
        v.code = `(${this.truth(e.cond)} ? ${a} : ${b})`;
        return v;
      }
      case A.N.Cast:
        if (isIntLike(e.operand.type!)) return I.loaded(I.toStorage(this.ival(e.operand), e.to), e.to);
        break;
      case A.N.SizeofType:
        return I.constant(BigInt(e.of.size));
      case A.N.SizeofExpr:
        return I.constant(BigInt(sizeofOperand(e.operand)));
      case A.N.Offsetof:
        return I.constant(BigInt(findMember(e.of, e.member)!.offset));
      case A.N.Comma: {
        const r = this.ival(e.right);
        return { ...r, code: `(${this.expr(e.left)}, ${r.code})` };
      }
      default:
        break;
    }
    return I.loaded(this.exprStored(e), t);
  }

  /** The JavaScript expression for a D expression, in the representation of its type. */
  expr(e: A.Expr): string {
    if (isIntLike(e.type!) && e.kind !== A.N.Assign && e.kind !== A.N.Postfix && !(e.kind === A.N.Unary && (e.op === '++' || e.op === '--'))) {
      return I.toStorage(this.ival(e), e.type!);
    }
    return this.exprStored(e);
  }

  /** Expressions whose code already yields their type's storage representation. */
  private exprStored(e: A.Expr): string {
    const fired = this.firing.get(e);
    if (fired !== undefined) return firingRead(fired.slot);
    if ((e.kind === A.N.Binary || e.kind === A.N.Logical || e.kind === A.N.Comma) && (this.done.size > 0 || isChainLink(e.left))) {
      const d = this.done.get(e);
      if (d !== undefined) return typeof d === 'string' ? d : I.toStorage(d, e.type!);
      if (this.longChain(e)) {
        const prefix = this.chainPrefix(e);
        const c = this.exprStored(e);
        this.done.delete(e.left);
        return `(${prefix}, ${c})`;
      }
    }
    switch (e.kind) {
      case A.N.Int:
        return intLiteral(e.value, e.type!);
      case A.N.Str:
        // a string constant holds at most strsize bytes, like any D string
        return JSON.stringify(e.value.length > this.strsize() ? e.value.slice(0, this.strsize()) : e.value);
      case A.N.Ident:
        return this.ident(e);
      case A.N.SelfVar:
        return rtCall('tlsGet', 'ctx', (e.ref as A.VarInfo).id, dynZero(e.type!));
      case A.N.ThisVar: {
        if (this.binding && this.binding.name === e.name) return this.binding.code;
        const id = (e.ref as A.VarInfo).id;
        // a clause-local string may hold NULL; only a never-assigned one reads as ""
        if (reprOf(e.type!) === Repr.Str) return rtCall('localStr', 'ctx', id);
        return `(ctx.L[${id}] ?? ${zeroCode(e.type!)})`;
      }
      case A.N.Index:
        return this.index(e);
      case A.N.Call:
        return this.subr(e);
      case A.N.Member:
        return this.member(e);
      case A.N.Unary:
        return this.unary(e);
      case A.N.Postfix:
        return this.incdec(e.operand, e.op, true);
      case A.N.Binary:
        return I.toStorage(this.binary(e), e.type!);
      case A.N.Logical:
        return `(${this.truth(e)} ? 1 : 0)`;
      case A.N.Assign:
        return this.assign(e);
      case A.N.Ternary: {
        const t = e.type!;
        const a = this.valueAs(e.then, t);
        const b = this.valueAs(e.otherwise, t);
        return `(${this.truth(e.cond)} ? ${a} : ${b})`;
      }
      case A.N.Cast:
        return this.valueAs(e.operand, e.to);
      case A.N.SizeofType:
        return intLiteral(BigInt(e.of.size), e.type!);
      case A.N.SizeofExpr:
        return intLiteral(BigInt(e.operand.type!.size), e.type!);
      case A.N.Stringof:
        return this.toStr(e.operand);
      case A.N.Offsetof:
        return intLiteral(BigInt(findMember(e.of, e.member)!.offset), e.type!);
      case A.N.Xlate:
        return this.xlate(e);
      case A.N.Comma:
        return `(${this.expr(e.left)}, ${this.expr(e.right)})`;
      case A.N.Agg:
        throw new Error('internal: aggregation in expression');
    }
  }

  /** The value of `e` converted to type `to` (assignment conversion, or a cast). */
  valueAs(e: A.Expr, to: DType): string {
    const from = e.type!;
    const tr = reprOf(to);
    if (tr === Repr.Str) return this.toStr(e);
    if (tr === Repr.Bytes || tr === Repr.None) return this.expr(e);
    if (reprOf(from) === Repr.Str) {
      // a string used as a pointer (const char *): its address
      return rtCall('strAddr', this.expr(e));
    }
    if (reprOf(from) === Repr.Bytes) {
      // an array decays to a pointer to its storage
      return rtCall('bytesAddr', this.expr(e));
    }
    return I.toStorage(this.ival(e), to);
  }

  /** A string-typed value from a string, char array, char pointer or (stringof) scalar. */
  private toStr(e: A.Expr): string {
    const t = e.type!;
    if (isString(t)) return this.expr(e);
    if (isInteger(t) && constZero(e)) return 'null';
    if (isCharArray(t) || reprOf(t) === Repr.Bytes) return rtCall('bytesStr', this.expr(e));
    if (isPointer(t)) return memCall('str', this.expr(e));
    if (isInteger(t)) return rtCall('intStr', this.expr(e));
    return this.expr(e);
  }

  private ident(e: A.Ident): string {
    switch (e.resolved) {
      case A.IdentKind.Global:
      case A.IdentKind.GlobalArray:
        if (this.binding && this.binding.name === e.name) return this.binding.code;
        return `G[${(e.ref as A.VarInfo).id}]`;
      case A.IdentKind.Builtin:
        return BUILTIN_CODE[e.name] ?? '0';
      case A.IdentKind.EnumConst:
        return intLiteral(e.constValue, e.type!);
      case A.IdentKind.Inline:
        return this.inlineRef(e);
      default:
        throw new Error(`internal: unresolved identifier ${e.name}`);
    }
  }

  // -- long chains and shared inlines ------------------------------------------------------------

  /** ival of a chain link: its temporary if done, or the whole chain flattened if long; else null. */
  private ivalLink(e: A.Binary | A.Logical | A.Comma): I.IntVal | null {
    const d = this.done.get(e);
    if (d !== undefined) return typeof d === 'string' ? I.loaded(d, e.type!) : d;
    if (!this.longChain(e)) return null;
    const prefix = this.chainPrefix(e);
    const v = this.ival(e);
    this.done.delete(e.left);
    return { ...v, code: `(${prefix}, ${v.code})` };
  }

  /**
   * Whether e heads a left-deep chain (a + b + c ..., a && b ..., a, b ...) longer than
   * CHAIN_FLAT. Nested JavaScript that deep would overflow V8's parser when the clause first
   * runs, and our own recursion before that.
   */
  private longChain(e: A.Binary | A.Logical | A.Comma): boolean {
    let n = 0;
    for (let x: A.Expr = e; isChainLink(x) && !this.done.has(x); x = x.left) if (++n > CHAIN_FLAT) return true;
    return false;
  }

  /**
   * Computes every link below `top` into one temporary, innermost first, and records top.left
   * as done: returns the JavaScript sequence that does it (t = a + b, t = t + c, ...). The
   * caller generates `top` itself after it (reading top.left from the temporary), so operands
   * are evaluated in the order the nested form evaluates them. Only links are ever done, so
   * only links are looked up.
   */
  private chainPrefix(top: A.Binary | A.Logical | A.Comma): string {
    const links: Array<A.Binary | A.Logical | A.Comma> = [];
    let x: A.Expr = top.left;
    for (; isChainLink(x) && !this.done.has(x); x = x.left) links.push(x);
    const t = this.tmp();
    const parts: string[] = [];
    const compute = (n: A.Expr): void => {
      if (isIntLike(n.type!)) {
        const v = this.ival(n);
        parts.push(`${t} = ${v.code}`);
        this.done.set(n, { ...v, code: t });
      } else {
        parts.push(`${t} = ${this.exprStored(n)}`);
        this.done.set(n, t);
      }
    };
    for (let i = links.length - 1; i >= 0; i--) {
      compute(links[i]);
      this.done.delete(links[i].left);
    }
    return parts.join(', ');
  }

  /**
   * An inline's value where it is used. A small self-contained one is expanded in place, as
   * DTrace does; a larger one, or one naming other inlines, is generated once per clause as a
   * helper function that each use calls: chained inlines (b = a + a, c = b + b, ...) would
   * otherwise double the code at every level. Inside a pure helper, each inline it names is
   * computed at most once per call, so chains also run in linear time.
   */
  private inlineRef(e: A.Ident): string {
    const inner = e.inlineExpr!;
    const t = e.type!;
    if (inlineInPlace(inner)) return this.valueAs(inner, t);
    let h = this.helpers.get(inner);
    if (h === undefined) {
      h = { name: `I${this.helpers.size}`, expr: inner, type: t, pure: inlinePure(inner) };
      this.helpers.set(inner, h);
      this.pending.push(h);
    }
    if (this.memo === null || !h.pure) return `${h.name}()`;
    this.memo.add(h);
    return `(f${h.name} ? m${h.name} : (f${h.name} = true, m${h.name} = ${h.name}()))`;
  }

  /** The helper functions the clause named, each with its own temporaries. */
  private helperBodies(): string {
    let out = '';
    for (let h = this.pending.shift(); h !== undefined; h = this.pending.shift()) {
      this.temps = 0;
      this.maxTemps = 0;
      // an inline's names were resolved where it was declared, never to a translator's parameter
      this.binding = null;
      this.memo = h.pure ? new Set() : null;
      const code = this.valueAs(h.expr, h.type);
      const memos = [...(this.memo ?? [])].map((m) => `f${m.name} = false, m${m.name}`);
      this.memo = null;
      const decls = tempDecl(this.maxTemps) + (memos.length > 0 ? `let ${memos.join(', ')};\n` : '');
      out += `function ${h.name}() {\n${decls}return ${code};\n}\n`;
    }
    return out;
  }

  private keyCodes(args: A.Expr[], keyTypes: DType[]): string[] {
    return args.map((a, i) => {
      const kt = keyTypes[i] ?? a.type!;
      const code = this.valueAs(a, kt);
      if (reprOf(kt) === Repr.Bytes) return rtCall('bytesKey', code);
      // an unset string variable as a key is a NULL string: DTrace's fault
      return reprOf(kt) === Repr.Str && !neverNull(a) ? rtCall('strKey', code) : code;
    });
  }

  private index(e: A.Index): string {
    switch (e.mode) {
      case 'assoc': {
        const v = e.ref as A.VarInfo;
        const keys = this.keyCodes(e.args, v.keys ?? []);
        const store = v.scope === 'self' ? rtCall('tlsArray', 'ctx', v.id) : `D[${v.id}]`;
        return `(${dynCall(store, 'get', keys[0], ...keys.slice(1))} ?? ${dynZero(e.type!)})`;
      }
      case 'args': {
        const i = this.valueAs(e.args[0], this.types.int);
        const t = e.type!;
        if (isString(t)) return rtCall('argStr', 'ctx', i);
        // args[N] of a type of 32 bits or less: the low bits of its Number (STYLE rule 4)
        const n = e.args[0];
        if (n.kind === A.N.Int && n.value >= 0n && n.value <= 9n && reprOf(t) === Repr.Num && resolve(t).kind !== Kind.Float && resolve(t).name !== '_Bool') {
          const v: I.IntVal = { code: rtCall('argLow', 'ctx', Number(n.value)), big: false, lo: -(2n ** 53n), hi: 2n ** 53n, sig: true };
          return I.toStorage(v, t);
        }
        return I.toStorage(I.loaded(rtCall('arg', 'ctx', i), this.types.int64), t);
      }
      case 'builtin':
        return rtCall('uregs', 'ctx', this.valueAs(e.args[0], this.types.int));
      case 'fds':
        return this.load(e.type!, this.locationOf(e));
      case 'array':
        return this.load(e.type!, this.elementAddress(e));
      default:
        throw new Error('internal: aggregation index in expression');
    }
  }

  /** An lvalue location: either memory (`{addr}`) or a byte image (`{bytes, off}`). */
  private elementAddress(e: A.Index): Loc {
    const base = e.base;
    const bt = resolve(base.type!);
    const elem = e.type!;
    const size = Math.max(1, resolve(elem).size);
    const idx = this.valueAs(e.args[0], this.types.int64);
    if (bt.kind === Kind.String) {
      return { kind: 'str', code: this.expr(base), off: `Number(${idx})` };
    }
    if (bt.kind === Kind.Array) {
      const loc = this.locationOf(base);
      const count = bt.count;
      const i = this.tmp();
      const check = count > 1 ? `(${i} = ${idx}, (${i} < 0n || ${i} >= ${count}n) ? ${rtCall('faultIndex', i)} : 0, Number(${i}) * ${size})` : `Number(${idx}) * ${size}`;
      if (loc.kind === 'bytes') return { kind: 'bytes', code: loc.code, off: `(${loc.off} + ${check})` };
      if (loc.kind === 'mem') return { kind: 'mem', code: `(${loc.code} + BigInt(${check}))`, off: '0' };
      return { kind: 'bytes', code: this.expr(base), off: check };
    }
    // pointer arithmetic
    return { kind: 'mem', code: `BigInt.asUintN(64, ${this.expr(base)} + ${idx} * ${size}n)`, off: '0' };
  }

  /** Where an lvalue of aggregate or scalar type lives. */
  private locationOf(e: A.Expr): Loc {
    switch (e.kind) {
      case A.N.Member: {
        const base = e.base;
        let t = resolve(base.type!);
        if (e.arrow) t = resolve(t.base!);
        const m = findMember(t, e.name)!;
        if (e.arrow) return { kind: 'mem', code: `(${this.expr(base)} + ${m.offset}n)`, off: '0' };
        const loc = this.locationOf(base);
        if (loc.kind === 'mem') return { kind: 'mem', code: `(${loc.code} + ${m.offset}n)`, off: '0' };
        return { kind: 'bytes', code: loc.code, off: `(${loc.off} + ${m.offset})` };
      }
      case A.N.Unary:
        if (e.op === '*') return { kind: 'mem', code: this.expr(e.operand), off: '0' };
        break;
      case A.N.Index:
        if (e.mode === 'array') return this.elementAddress(e);
        // fds[fd]: a view of the current process's descriptor, built when read
        if (e.mode === 'fds') return { kind: 'mem', code: rtCall('fds', 'ctx', this.valueAs(e.args[0], this.types.int)), off: '0' };
        break;
      case A.N.Ident:
        if (e.resolved === A.IdentKind.Global || e.resolved === A.IdentKind.GlobalArray) {
          if (reprOf(e.type!) === Repr.Bytes) return { kind: 'bytes', code: `G[${(e.ref as A.VarInfo).id}]`, off: '0' };
        }
        // a kernel variable: the place *(T *)address
        if (e.resolved === A.IdentKind.Inline && e.name.includes('`')) return this.locationOf(e.inlineExpr!);
        break;
      case A.N.ThisVar:
        if (reprOf(e.type!) === Repr.Bytes) {
          const id = (e.ref as A.VarInfo).id;
          return { kind: 'bytes', code: `(ctx.L[${id}] ??= ${zeroCode(e.type!)})`, off: '0' };
        }
        break;
      case A.N.SelfVar:
        if (reprOf(e.type!) === Repr.Bytes) {
          return { kind: 'bytes', code: rtCall('tlsBytes', 'ctx', (e.ref as A.VarInfo).id, resolve(e.type!).size), off: '0' };
        }
        break;
    }
    // a value (not addressable): operate on a copy of its bytes
    return { kind: 'bytes', code: this.expr(e), off: '0' };
  }

  /** Loads a value of type t from a location. */
  private load(t: DType, loc: Loc): string {
    const r = reprOf(t);
    if (loc.kind === 'str') {
      return rtCall('strByte', loc.code, loc.off);
    }
    if (r === Repr.Bytes) {
      const size = resolve(t).size;
      if (loc.kind === 'mem') return memCall('bytes', loc.code, size);
      return `${loc.code}.subarray(${loc.off}, ${loc.off} + ${size})`;
    }
    if (r === Repr.Str) {
      if (loc.kind === 'mem') return memCall('str', loc.code);
      return rtCall('bytesStr', `${loc.code}.subarray(${loc.off})`);
    }
    const acc = accessor(t);
    if (loc.kind === 'mem') return memCall(`ld_${acc}`, loc.code);
    return rtCall(`bld_${acc}`, loc.code, loc.off);
  }

  private store(t: DType, loc: Loc, value: string): string {
    const r = reprOf(t);
    if (r === Repr.Bytes || r === Repr.Str) {
      const size = resolve(t).size;
      const src = r === Repr.Str ? rtCall('strBytes', value, size) : value;
      if (loc.kind === 'mem') return memCall('copyIn', loc.code, src, size);
      return rtCall('bcopyInto', loc.code, loc.off, src, size);
    }
    const acc = accessor(t);
    if (loc.kind === 'mem') return memCall(`st_${acc}`, loc.code, value);
    if (loc.kind === 'str') throw new Error('internal: store into string');
    return rtCall(`bst_${acc}`, loc.code, loc.off, value);
  }

  private member(e: A.Member): string {
    const base = e.base;
    // xlate<T *>(x)->m and xlate<T>(x).m: evaluate the translator's member expression
    if (base.kind === A.N.Xlate) return this.xlateMember(base, e.name);
    let t = resolve(base.type!);
    if (e.arrow) t = resolve(t.base!);
    const m = findMember(t, e.name)!;
    const loc = this.locationOf(e);
    if (m.bitWidth >= 0) return this.loadBits(m, loc);
    return this.load(m.type, loc);
  }

  private xlateMember(x: A.Xlate, name: string): string {
    const tr = (x as A.Xlate & { translator: A.TranslatorDecl }).translator;
    const m = tr.members.find((mm) => mm.name === name);
    if (!m) throw new Error(`internal: translator has no member ${name}`);
    const t = this.tmp();
    const save = this.binding;
    this.binding = { name: tr.param, code: t };
    const out = findMember(resolve(isPointer(x.to) ? resolve(x.to).base! : x.to), name)!;
    const v = this.valueAs(m.expr, out.type);
    this.binding = save;
    return `(${t} = ${this.valueAs(x.operand, tr.input)}, ${v})`;
  }

  private xlate(e: A.Xlate): string {
    const tr = (e as A.Xlate & { translator: A.TranslatorDecl }).translator;
    const outType = isPointer(e.to) ? resolve(e.to).base! : e.to;
    const size = resolve(outType).size;
    const b = this.tmp();
    const parts: string[] = [`${b} = new Uint8Array(${size})`];
    const p = this.tmp();
    parts.push(`${p} = ${this.valueAs(e.operand, tr.input)}`);
    const save = this.binding;
    this.binding = { name: tr.param, code: p };
    for (const m of tr.members) {
      const mem = findMember(outType, m.name)!;
      parts.push(this.store(mem.type, { kind: 'bytes', code: b, off: `${mem.offset}` }, this.valueAs(m.expr, mem.type)));
    }
    this.binding = save;
    parts.push(isPointer(e.to) ? rtCall('bytesAddr', b) : b);
    return `(${parts.join(', ')})`;
  }

  private unary(e: A.Unary): string {
    const t = e.type!;
    switch (e.op) {
      case '*': {
        const ot = resolve(e.operand.type!);
        if (ot.kind === Kind.Array) return this.load(t, { kind: 'bytes', code: this.expr(e.operand), off: '0' });
        return this.load(t, { kind: 'mem', code: this.expr(e.operand), off: '0' });
      }
      case '&': {
        const loc = this.locationOf(e.operand);
        if (loc.kind === 'mem') return loc.code;
        // a character of a string (&s[i]): the address of a copy of the string, for the clause
        if (loc.kind === 'str') return `(${rtCall('strAddr', loc.code)} + BigInt(${loc.off}))`;
        return `(${rtCall('bytesAddr', loc.code)} + BigInt(${loc.off}))`;
      }
      case '++':
      case '--':
        return this.incdec(e.operand, e.op, false);
      default:
        return this.expr(e);
    }
  }

  /** An arithmetic or bitwise operator in register semantics, read with type t's signedness. */
  private arith(op: string, l: I.IntVal, r: I.IntVal, t: DType): I.IntVal {
    const signed = I.typeSigned(t);
    switch (op) {
      case '+':
      case '-':
      case '*':
        return I.addSubMul(op, l, r, signed);
      case '/':
      case '%':
        return I.divMod(op, l, r, signed);
      case '&':
      case '|':
      case '^':
        return I.bitwise(op, l, r, signed);
      case '<<':
      case '>>':
        return I.shift(op, l, r, signed);
    }
    throw new Error(`internal: operator ${op}`);
  }

  private binary(e: A.Binary): I.IntVal {
    const t = e.type!;
    const op = e.op;
    const lt = e.left.type!;
    const rt = e.right.type!;
    const lp = isPointer(lt) || isArray(lt) || isString(lt);
    const rp = isPointer(rt) || isArray(rt) || isString(rt);
    if (op === '-' && lp && rp) {
      const size = Math.max(1, resolve(resolve(lt).base!).size);
      const d = I.addSubMul('-', this.ptrVal(e.left), this.ptrVal(e.right), true);
      return I.divMod('/', d, I.constant(BigInt(size)), true);
    }
    if ((op === '+' || op === '-') && (lp || rp)) return this.pointerArith(e);
    return this.arith(op, this.ival(e.left), this.ival(e.right), t);
  }

  /** A pointer-valued operand as a register value (arrays and strings decay to addresses). */
  private ptrVal(e: A.Expr): I.IntVal {
    const t = e.type!;
    if (isPointer(t)) return this.ival(e);
    return I.loaded(this.valueAs(e, this.types.uint64), this.types.uint64);
  }

  private pointerArith(e: A.Binary): I.IntVal {
    const t = e.type!;
    const ptrLeft = !isInteger(e.left.type!);
    const p = ptrLeft ? e.left : e.right;
    const n = ptrLeft ? e.right : e.left;
    if (isString(t)) {
      return I.loaded(e.op === '-' ? rtCall('strOffset', this.expr(p), this.valueAs(n, this.types.int64), 'true') : rtCall('strOffset', this.expr(p), this.valueAs(n, this.types.int64)), t);
    }
    const size = Math.max(1, resolve(resolve(t).base!).size);
    const scaled = I.addSubMul('*', this.ival(n), I.constant(BigInt(size)), true);
    return I.addSubMul(e.op as '+' | '-', this.ptrVal(p), scaled, false);
  }

  /**
   * argN compared (signed) with an integer constant within ±(2^53 - 1), on argN's Number form
   * (STYLE rule 4: no BigInt per event). Exact: the Number is the argument's nearest double, and
   * rounding keeps order and can only reach values beyond 2^53 from values beyond it.
   */
  private argNumCompare(e: A.Binary, op: string): string | null {
    const arg = (x: A.Expr) => x.kind === A.N.Ident && x.resolved === A.IdentKind.Builtin && /^arg[0-9]$/.test(x.name);
    const safe = (x: A.Expr) => x.kind === A.N.Int && x.value >= -9007199254740991n && x.value <= 9007199254740991n;
    const num = (x: A.Ident) => {
      const i = Number(x.name.slice(3));
      return `(ctx.argnSet & ${1 << i} ? ctx.argn[${i}] : rt.argNum(ctx, ${i}))`;
    };
    const lit = (x: A.IntLit) => (x.value < 0n ? `(${x.value})` : `${x.value}`);
    if (arg(e.left) && safe(e.right)) return `(${num(e.left as A.Ident)} ${op} ${lit(e.right as A.IntLit)})`;
    if (safe(e.left) && arg(e.right)) return `(${lit(e.left as A.IntLit)} ${op} ${num(e.right as A.Ident)})`;
    return null;
  }

  /**
   * An integer operand as its own type holds it, before the comparison widens it: `-1u` is
   * 0xffffffff (register arithmetic left -1 there), so `arg0 == -1u` holds for a 32-bit -1.
   */
  private narrowed(e: A.Expr, ct: DType): I.IntVal {
    const v = this.narrowTo(this.ival(e), e.type!);
    // both operands convert to a common type narrower than 64 bits (-1 == -1u)
    return I.typeSize(ct) < 8 ? this.narrowTo(v, ct) : v;
  }

  private narrowTo(v: I.IntVal, t: DType): I.IntVal {
    if (I.typeSize(t) >= 8) return v;
    const [lo, hi] = I.typeRange(t);
    if (v.lo >= lo && v.hi <= hi) return v;
    if (v.lo === v.hi) {
      const bits = I.typeSize(t) * 8;
      return I.constant(I.typeSigned(t) ? BigInt.asIntN(bits, v.lo) : BigInt.asUintN(bits, v.lo));
    }
    return I.loaded(I.toStorage(v, t), t);
  }

  private compare(e: A.Binary): string {
    const op = e.op === '==' ? '===' : e.op === '!=' ? '!==' : e.op;
    const lt = e.left.type!;
    const rt = e.right.type!;
    if (isString(lt) || isString(rt)) {
      const l = this.toStr(e.left);
      const r = this.toStr(e.right);
      // NULL sorts before every string; literals and built-ins are never NULL
      if ((op === '===' || op === '!==') && (neverNull(e.left) || neverNull(e.right) || l === 'null' || r === 'null')) {
        return `(${l} ${op} ${r})`;
      }
      return `(${rtCall('strcmp', l, r)} ${op} 0)`;
    }
    if (isInteger(lt) && isInteger(rt)) {
      const ct = promoteForCompare(lt, rt, this.types.int);
      if (I.typeSigned(ct)) {
        const n = this.argNumCompare(e, op);
        if (n !== null) return n;
      }
      return I.compare(e.op, this.narrowed(e.left, ct), this.narrowed(e.right, ct), I.typeSigned(ct));
    }
    return I.compare(e.op, this.ptrVal(e.left), this.ptrVal(e.right), false);
  }

  // -- assignment ------------------------------------------------------------------------------

  private assign(e: A.Assign): string {
    const target = e.target;
    const t = target.type!;
    if (e.op === '=') {
      let v = this.valueAs(e.value, t);
      // structs and arrays are stored by value: a variable must not share the bytes of the
      // one it was assigned from (an integer 0, which deletes, has no bytes to copy)
      if (reprOf(t) === Repr.Bytes && reprOf(e.value.type!) === Repr.Bytes && holdsReference(target)) {
        v = `${v}.slice()`;
      }
      // a string or struct dynamic variable is deleted only by a literal 0 (or NULL), as
      // DTrace's store passes the value's address otherwise: "" and zeroed bytes are kept
      const r = reprOf(t);
      if ((r === Repr.Str || r === Repr.Bytes) && (target.kind === A.N.SelfVar || (target.kind === A.N.Index && target.mode === 'assoc')) && isLiteralZero(e.value)) {
        v = 'null';
      }
      return this.storeTo(target, v);
    }
    const op = e.op.slice(0, -1);
    const cur = I.loaded(this.expr(target), t);
    let next: I.IntVal;
    if ((op === '+' || op === '-') && isPointer(t)) {
      const size = Math.max(1, resolve(resolve(t).base!).size);
      const scaled = I.addSubMul('*', this.ival(e.value), I.constant(BigInt(size)), true);
      next = I.addSubMul(op, cur, scaled, false);
    } else {
      // the operation happens in the promoted type, then converts back on the store
      const pt = op === '<<' || op === '>>' ? t : isInteger(e.value.type!) ? promoteForCompare(t, e.value.type!, this.types.int) : t;
      next = this.arith(op, cur, this.ival(e.value), pt);
    }
    return this.storeTo(target, I.toStorage(next, t));
  }

  /** Stores `value` (already in the target's representation) into an lvalue; yields the value. */
  private storeTo(target: A.Expr, value: string): string {
    const t = target.type!;
    switch (target.kind) {
      case A.N.Ident: {
        const id = (target.ref as A.VarInfo).id;
        return `(G[${id}] = ${value})`;
      }
      case A.N.ThisVar:
        return `(ctx.L[${(target.ref as A.VarInfo).id}] = ${value})`;
      case A.N.SelfVar:
        return rtCall('tlsSet', 'ctx', (target.ref as A.VarInfo).id, value);
      case A.N.Index: {
        if (target.mode === 'assoc') {
          const v = target.ref as A.VarInfo;
          const keys = this.keyCodes(target.args, v.keys ?? []);
          const store = v.scope === 'self' ? rtCall('tlsArray', 'ctx', v.id) : `D[${v.id}]`;
          return dynCall(store, 'set', value, ...keys);
        }
        const loc = this.elementAddress(target);
        const tv = this.tmp();
        return `(${tv} = ${value}, ${this.store(t, loc, tv)}, ${tv})`;
      }
      case A.N.Member: {
        const base = target.base;
        let bt = resolve(base.type!);
        if (target.arrow) bt = resolve(bt.base!);
        const m = findMember(bt, target.name)!;
        const loc = this.locationOf(target);
        const tv = this.tmp();
        if (m.bitWidth >= 0) {
          return `(${tv} = ${value}, ${this.storeBits(m, loc, tv)}, ${tv})`;
        }
        return `(${tv} = ${value}, ${this.store(t, loc, tv)}, ${tv})`;
      }
      case A.N.Unary: {
        const loc = this.locationOf(target);
        const tv = this.tmp();
        return `(${tv} = ${value}, ${this.store(t, loc, tv)}, ${tv})`;
      }
    }
    throw new Error('internal: bad assignment target');
  }

  /** A bit-field's value: the low `bitWidth` bits of its ceil(width/8) bytes, sign-extended if signed. */
  private loadBits(m: { type: DType; bitWidth: number }, loc: Loc): string {
    const nbytes = Math.ceil(m.bitWidth / 8);
    const signed = I.typeSigned(m.type);
    const big = I.typeSize(m.type) === 8;
    if (loc.kind === 'mem') return rtCall('bfldMem', loc.code, nbytes, m.bitWidth, signed, big);
    return rtCall('bfld', loc.code, loc.off, nbytes, m.bitWidth, signed, big);
  }

  private storeBits(m: { type: DType; bitWidth: number }, loc: Loc, v: string): string {
    const nbytes = Math.ceil(m.bitWidth / 8);
    if (loc.kind === 'mem') return rtCall('bfstMem', loc.code, nbytes, m.bitWidth, v);
    return rtCall('bfst', loc.code, loc.off, nbytes, m.bitWidth, v);
  }

  private incdec(target: A.Expr, op: '++' | '--', post: boolean): string {
    const t = target.type!;
    const cur = this.tmp();
    const step = isPointer(t) ? BigInt(Math.max(1, resolve(resolve(t).base!).size)) : 1n;
    const next = I.addSubMul(op === '++' ? '+' : '-', I.loaded(cur, t), I.constant(step), I.typeSigned(t));
    const stored = this.storeTo(target, I.toStorage(next, t));
    return post ? `(${cur} = ${this.expr(target)}, ${stored}, ${cur})` : `(${cur} = ${this.expr(target)}, ${stored})`;
  }

  // -- aggregations ------------------------------------------------------------------------------

  private aggregate(e: A.Assign): string {
    const agg = e.ref as A.AggInfo;
    const call = e.value as A.Call;
    const target = e.target;
    const keys = target.kind === A.N.Index ? this.keyCodes(target.args, agg.keys ?? []) : [];
    const fn = call.name;
    // find the entry without allocating (slot0..slot3 take keys as arguments), then update it
    // with a Number when the value's range allows (add) or a BigInt (addBig)
    const a = `AG[${agg.id}]`;
    const [k0, k1, k2] = keys;
    const slot =
      keys.length === 0
        ? aggCall(a, 'slot0')
        : keys.length === 1
          ? aggCall(a, 'slot1', k0)
          : keys.length === 2
            ? aggCall(a, 'slot2', k0, k1)
            : keys.length === 3
              ? aggCall(a, 'slot3', k0, k1, k2)
              : aggCall(a, 'slotN', `[${keys.join(', ')}]`);
    if (fn === 'count') return aggCall(a, 'add', slot, 0, 1);
    const vt = call.args[0].type!;
    const v = this.ival(call.args[0]);
    const signed = I.typeSigned(vt) || !isPointer(vt);
    const incrArg = fn === 'quantize' ? call.args[1] : fn === 'lquantize' ? call.args[4] : fn === 'llquantize' ? call.args[5] : undefined;
    let incr = '1';
    if (incrArg) {
      const iv = this.ival(incrArg);
      incr = iv.big ? I.asBig(iv, true) : iv.code;
    }
    const numeric = !v.big && v.lo >= -(2n ** 31n) && v.hi < 2n ** 31n;
    // argN: by its Number where the decoder made one (Aggregation.addArg)
    const arg = call.args[0];
    if (arg.kind === A.N.Ident && arg.resolved === A.IdentKind.Builtin && /^arg[0-9]$/.test(arg.name)) return aggCall(a, 'addArg', slot, 'ctx', Number(arg.name.slice(3)), incr);
    return numeric ? aggCall(a, 'add', slot, v.code, incr) : aggCall(a, 'addBig', slot, I.asBig(v, signed), incr);
  }

  // -- subroutines and actions -----------------------------------------------------------------------

  private subr(e: A.Call): string {
    const a = e.args;
    const s = (i: number) => this.toStr(a[i]);
    const i32 = (i: number) => this.valueAs(a[i], this.types.int);
    const i64 = (i: number) => this.valueAs(a[i], this.types.int64);
    const u64 = (i: number) => this.valueAs(a[i], this.types.uint64);
    switch (e.name) {
      case 'stack':
      case 'ustack':
      case 'jstack':
        return rtCall('stackValue', 'ctx', JSON.stringify(e.name), a[0] ? i32(0) : -1);
      case 'sym':
      case 'func':
        // DTrace aggregates them by function: every address in one is its start
        return rtCall('symbolStart', u64(0));
      case 'mod':
        return u64(0);
      case 'usym':
      case 'ufunc':
      case 'umod':
      case 'uaddr':
        return rtCall('userSymbolValue', 'ctx', JSON.stringify(e.name), u64(0));
      case 'strlen':
        return rtCall('strlen', s(0));
      case 'strjoin':
        return rtCall('strjoin', s(0), s(1));
      case 'substr':
        return a.length > 2 ? rtCall('substr', s(0), i32(1), i32(2)) : rtCall('substr', s(0), i32(1));
      case 'index':
      case 'rindex':
        return a.length > 2 ? rtCall(e.name, s(0), s(1), i32(2)) : rtCall(e.name, s(0), s(1));
      case 'strchr':
      case 'strrchr':
        return rtCall(e.name, s(0), this.valueAs(a[1], this.types.char));
      case 'strstr':
        return rtCall('strstr', s(0), s(1));
      case 'strtok':
        // strtok(NULL, delims) continues the previous string
        if (isInteger(a[0].type!) && constZero(a[0])) return rtCall('strtokNext', 'ctx', s(1));
        return rtCall('strtok', 'ctx', s(0), s(1));
      case 'basename':
      case 'dirname':
      case 'cleanpath':
      case 'toupper':
      case 'tolower':
        return rtCall(e.name, s(0));
      case 'lltostr':
        return a.length > 1 ? rtCall('lltostr', i64(0), i32(1)) : rtCall('lltostr', i64(0));
      case 'strtoll':
        return a.length > 1 ? rtCall('strtoll', s(0), i32(1)) : rtCall('strtoll', s(0));
      case 'htons':
      case 'ntohs':
        return rtCall('bswap16', this.valueAs(a[0], e.type!));
      case 'htonl':
      case 'ntohl':
        return rtCall('bswap32', this.valueAs(a[0], e.type!));
      case 'htonll':
      case 'ntohll':
        return rtCall('bswap64', u64(0));
      case 'rand':
        return rtCall('rand');
      case 'speculation':
        return rtCall('speculation', 'ctx');
      case 'alloca':
        return memCall('alloca', u64(0));
      case 'bcopy':
        return memCall('bcopy', u64(0), u64(1), u64(2));
      case 'copyin':
        return rtCall('copyin', 'ctx', u64(0), u64(1));
      case 'copyinstr':
        return a.length > 1 ? rtCall('copyinstr', 'ctx', u64(0), u64(1)) : rtCall('copyinstr', 'ctx', u64(0));
      case 'copyinto':
        return rtCall('copyinto', 'ctx', u64(0), u64(1), u64(2));
      case 'progenyof':
        return rtCall('progenyof', 'ctx', i32(0));
      case 'getmajor':
        return `((${this.valueAs(a[0], e.type!)}) >>> 20)`;
      case 'getminor':
        return `((${this.valueAs(a[0], e.type!)}) & 0xfffff)`;
      case 'inet_ntoa':
      case 'inet_ntoa6':
        return rtCall(e.name, u64(0));
      case 'inet_ntop':
        return rtCall('inet_ntop', i32(0), u64(1));
      case 'link_ntop':
        return rtCall('link_ntop', i32(0), u64(1));
    }
    return rtCall('unsupported', JSON.stringify(e.name));
  }

  private actionCall(e: A.Call): string {
    const a = e.args;
    switch (e.name) {
      case 'trace':
        return rtCall('trace', this.K.add(a[0].type), this.argOrExpr(a[0]));
      case 'printf': {
        // the values go into the runtime's one argument array (no array per event)
        const args = a.slice(1).map((x, i) => `P[${i}] = ${this.formatArg(x)}, `);
        const plan = e.data as FormatPlan;
        return `(P = rt.pargs, ${args.join('')}${rtCall('printf', 'ctx', this.K.add(plan), 'P', args.length, this.K.add(compileFormatter(plan)))})`;
      }
      case 'system':
      case 'freopen': {
        const args = a.slice(1).map((x) => this.formatArg(x));
        return rtCall(e.name, 'ctx', this.K.add(e.data), `[${args.join(', ')}]`);
      }
      case 'printa': {
        const aggs = a.filter((x) => x.kind === A.N.Agg).map((x) => (x.ref as A.AggInfo).id);
        return rtCall('printa', 'ctx', e.data === null ? 'null' : this.K.add(e.data), `[${aggs.join(', ')}]`);
      }
      case 'exit':
        return rtCall('exit', 'ctx', this.valueAs(a[0], this.types.int));
      case 'clear':
        return rtCall('aggClear', (a[0].ref as A.AggInfo).id);
      case 'trunc':
        {
        const id = (a[0].ref as A.AggInfo).id;
        return a[1] ? rtCall('aggTrunc', id, this.valueAs(a[1], this.types.int64)) : rtCall('aggTrunc', id);
      }
      case 'normalize':
        return rtCall('aggNormalize', (a[0].ref as A.AggInfo).id, this.valueAs(a[1], this.types.uint64));
      case 'denormalize':
        return rtCall('aggDenormalize', (a[0].ref as A.AggInfo).id);
      case 'speculate':
        return rtCall('speculate', 'ctx', this.valueAs(a[0], this.types.int));
      case 'commit':
        return rtCall('commit', 'ctx', this.valueAs(a[0], this.types.int));
      case 'discard':
        return rtCall('discard', 'ctx', this.valueAs(a[0], this.types.int));
      case 'tracemem':
        {
        const addr = this.valueAs(a[0], this.types.uint64);
        const n = this.valueAs(a[1], this.types.int64);
        return a[2] ? rtCall('tracemem', addr, n, this.valueAs(a[2], this.types.int64), this.K.add(a[2].type)) : rtCall('tracemem', addr, n);
      }
      case 'print': {
        // a pointer: the object it points to (Oracle); any other value: itself (illumos)
        const k = resolve(a[0].type!).kind;
        if (k === Kind.Pointer) return rtCall('print', this.K.add(a[0].type), this.expr(a[0]));
        if (k === Kind.Int || k === Kind.Enum) return rtCall('printValue', this.K.add(a[0].type), this.valueAs(a[0], this.types.uint64));
        return rtCall('printValue', this.K.add(a[0].type), this.expr(a[0]));
      }
      case 'setopt':
        return a[1] ? rtCall('setopt', 'ctx', this.toStr(a[0]), this.toStr(a[1])) : rtCall('setopt', 'ctx', this.toStr(a[0]));
      case 'raise':
        return rtCall('raise', 'ctx', this.valueAs(a[0], this.types.int));
      case 'stack':
      case 'ustack':
      case 'jstack':
        return rtCall('stack', 'ctx', JSON.stringify(e.name), a[0] ? this.valueAs(a[0], this.types.int) : -1);
      case 'sym':
      case 'func':
      case 'usym':
      case 'ufunc':
      case 'uaddr':
      case 'mod':
      case 'umod':
        return rtCall('symbol', 'ctx', JSON.stringify(e.name), this.valueAs(a[0], this.types.uint64));
      case 'ftruncate':
        return rtCall('ftruncate');
      case 'chill':
        return rtCall('chill', this.valueAs(a[0], this.types.int));
      default:
        return rtCall('unsupported', JSON.stringify(e.name));
    }
  }

  /** A printf argument: strings and byte images pass as they are, integers in their repr. */
  /** A value to print: argN as its Number where exact (printed as its BigInt would be), else expr(). */
  private argOrExpr(e: A.Expr): string {
    if (this.firing.has(e)) return this.expr(e);
    if (e.kind === A.N.Ident && e.resolved === A.IdentKind.Builtin && /^arg[0-9]$/.test(e.name)) return rtCall('argValue', 'ctx', Number(e.name.slice(3)));
    return this.expr(e);
  }

  private formatArg(e: A.Expr): string {
    const t = e.type!;
    if (e.kind === A.N.Ident) return this.argOrExpr(e);
    if (isCharArray(t)) return this.toStr(e);
    return this.expr(e);
  }
}

interface Loc {
  kind: 'mem' | 'bytes' | 'str';
  /** mem: the address (BigInt code); bytes: the Uint8Array; str: the string */
  code: string;
  /** bytes/str: byte offset (Number code) */
  off: string;
}

/** `let t0, t1, ...;` for a function body that used n temporaries. */
/** A firing value's read: what the kernel computed, or its fault (rt.firingFault throws it). */
function firingRead(slot: number): string {
  return `(ctx.firingFault[${slot}] === 0 ? ctx.firing[${slot}] : ${rtCall('firingFault', 'ctx', String(slot))})`;
}

function tempDecl(n: number): string {
  return n > 0 ? `let ${Array.from({ length: n }, (_, i) => `t${i}`).join(', ')};\n` : '';
}

function isChainLink(e: A.Expr): e is A.Binary | A.Logical | A.Comma {
  return e.kind === A.N.Binary || e.kind === A.N.Logical || e.kind === A.N.Comma;
}

/** Every node of an expression, without recursion (chains are unbounded); `stop` ends the walk early. */
function someNode(e: A.Expr, stop: (n: A.Expr) => boolean): boolean {
  const todo: A.Expr[] = [e];
  const push = (c: A.Expr) => {
    todo.push(c);
  };
  for (let n = todo.pop(); n !== undefined; n = todo.pop()) {
    if (stop(n)) return true;
    A.forEachChild(n, push);
  }
  return false;
}

const inPlaceCache = new WeakMap<A.Expr, boolean>();

/** 0 or NULL as written: the value that deletes a string or struct dynamic variable. */
function isLiteralZero(e: A.Expr): boolean {
  return (e.kind === A.N.Int && e.value === 0n) || (e.kind === A.N.Ident && e.resolved === A.IdentKind.EnumConst && e.constValue === 0n);
}

/** A store target that keeps the value itself (a variable), not a copy in memory. */
function holdsReference(t: A.Expr): boolean {
  return t.kind === A.N.Ident || t.kind === A.N.ThisVar || t.kind === A.N.SelfVar || (t.kind === A.N.Index && t.mode === 'assoc');
}

/** A small inline that names no other inline: its code is no bigger than a call would be. */
function inlineInPlace(e: A.Expr): boolean {
  let r = inPlaceCache.get(e);
  if (r === undefined) {
    let nodes = 0;
    r = !someNode(e, (n) => ++nodes > INLINE_IN_PLACE || (n.kind === A.N.Ident && n.resolved === A.IdentKind.Inline));
    inPlaceCache.set(e, r);
  }
  return r;
}

const pureCache = new WeakMap<A.Expr, boolean>();

/**
 * An inline expression without side effects (no assignment, ++/--, or stateful subroutine).
 * The compiler asks as each inline is declared, so an inline naming an earlier one finds its
 * answer cached (no recursion down a chain of inlines).
 */
export function inlinePure(e: A.Expr): boolean {
  let r = pureCache.get(e);
  if (r === undefined) {
    r = !someNode(e, (n) => {
      switch (n.kind) {
        case A.N.Assign:
        case A.N.Postfix:
          return true;
        case A.N.Unary:
          return n.op === '++' || n.op === '--';
        case A.N.Call:
          return !PURE_SUBRS.has(n.name);
        case A.N.Ident:
          // inlines are declared before use, so this recursion follows declaration order once
          return n.resolved === A.IdentKind.Inline && n.inlineExpr !== null && !inlinePure(n.inlineExpr);
        default:
          return false;
      }
    });
    pureCache.set(e, r);
  }
  return r;
}

/** The zero value a missing dynamic variable reads as: NULL for strings. */
function dynZero(t: DType): string {
  return reprOf(t) === Repr.Str ? 'null' : zeroCode(t);
}

function constZero(e: A.Expr): boolean {
  if (e.kind === A.N.Int) return e.value === 0n;
  if (e.kind === A.N.Ident && e.resolved === A.IdentKind.EnumConst) return e.constValue === 0n;
  if (e.kind === A.N.Cast) return constZero(e.operand);
  return false;
}

/** String expressions that can never be NULL: literals and built-in variables. */
function neverNull(e: A.Expr): boolean {
  return e.kind === A.N.Str || (e.kind === A.N.Ident && e.resolved === A.IdentKind.Builtin);
}

/** Integer, enum or pointer: values generated through compile/intval.ts. */
function isIntLike(t: DType): boolean {
  const r = reprOf(t);
  return (r === Repr.Num || r === Repr.Big) && resolve(t).kind !== Kind.Float;
}

function isComparison(op: string): boolean {
  return op === '<' || op === '>' || op === '<=' || op === '>=' || op === '==' || op === '!=';
}

function isSubrCall(e: A.Call): boolean {
  return e.name === 'bcopy' || e.name === 'copyinto';
}

/** The type both sides of an integer comparison are read as (DTrace's promotion). */
function promoteForCompare(a: DType, b: DType, int: DType): DType {
  return promoteTypes(a, b, int);
}

export { isStructLike, isCharPointer };
