// Name resolution and type checking: D's rules for variables (first assignment types them),
// C's rules for operators, DTrace's rules for actions.          [dt_parser.c dt_node_cook_*, dt_cg.c]

import * as A from './ast.js';
import { Builtins, FnInfo, FnKind, Prototype, builtinInVersion } from './builtins.js';
import { DCompileError } from './diagnostics.js';
import { dConstants, maxUregsIndex } from './dlib.js';
import { foldBinary, foldUnary } from './fold.js';
import { checkAction } from './check-actions.js';
import { checkAggregation } from './check-aggs.js';
import type { CheckContext, FormatChecker } from './check-context.js';
import { AGGREGATION_ARG, STACK_TYPE, SYMADDR_TYPE, USYMADDR_TYPE } from './printf-parse.js';
import { TypeScope } from './typescope.js';
import type { ErrTag } from './errtags.js';
import {
  DType,
  Kind,
  VOID,
  findMember,
  isArithmetic,
  isArray,
  isCharArray,
  isCharPointer,
  isInteger,
  isPointer,
  isScalar,
  isString,
  isStringLike,
  isStructLike,
  isVoid,
  pointerTo,
  resolve,
  sameType,
} from './types.js';

/** A probe as the checker sees it: its name and the types of args[]. */
export interface ProbeInfo {
  id: number;
  provider: string;
  module: string;
  func: string;
  name: string;
  /** types of args[0..]; empty when the probe has no typed arguments */
  argTypes: DType[];
}

export interface CheckEnv {
  types: TypeScope;
  builtins: Builtins;
  /** the probes a description matches; throws DTrace's D_PDESC errors itself */
  matchProbes(spec: A.ProbeSpec): ProbeInfo[];
  formats: FormatChecker;
  strsize: number;
  /** -w / #pragma D option destructive */
  destructiveAllowed: () => boolean;
  /** the D version the program asked for (option version), null for the latest */
  version?: () => string | null;
  /** the scratchsize option (its 8 reserved bytes included) */
  scratchsize?: () => number;
}

/** What the code generator needs to know about one clause. */
export interface CheckedClause {
  clause: A.Clause;
  probes: ProbeInfo[];
  /** the clause records data (and so prints the probe line when not quiet) */
  recordsData: boolean;
  /** the clause uses destructive actions */
  destructive: boolean;
  /** clause-local variables (this->) it touches */
  locals: A.VarInfo[];
}

/** The variable tables of one dtrace session, shared by every program it compiles. */
export class Symbols {
  readonly globals = new Map<string, A.VarInfo>();
  readonly tls = new Map<string, A.VarInfo>();
  readonly locals = new Map<string, A.VarInfo>();
  readonly aggs = new Map<string, A.AggInfo>();
  readonly inlines = new Map<string, A.InlineDecl>();
  readonly translators: A.TranslatorDecl[] = [];
  nextGlobal = 0;
  nextTls = 0;
  nextLocal = 0;
}

/** the most keys a tuple can have (the D machine's tuple registers) */
const MAX_TUPLE = 10;

const CLS_DATAREC = 1;
const CLS_AGG = 2;
const CLS_SPECULATE = 4;
const CLS_COMMIT = 8;
const CLS_DISCARD = 16;

/** Actions that record nothing the consumer prints per probe (they act on the consumer's state). */
const LIBACT_ACTIONS = new Set(['clear', 'trunc', 'normalize', 'denormalize', 'setopt', 'ftruncate', 'chill']);

function opText(op: string): string {
  return op;
}

export class Checker implements CheckContext {
  private clauseFlags = 0;
  private probes: ProbeInfo[] = [];
  private locals: A.VarInfo[] = [];
  /** the same, for membership tests (a search of the list is quadratic in a long clause) */
  private localSet = new Set<A.VarInfo>();
  private readonly int: DType;
  private readonly int64: DType;
  private readonly uint64: DType;
  private readonly str: DType;
  /** the clause being checked is a predicate (some things are not allowed there) */
  private region: 'predicate' | 'action list' | null = null;

  constructor(
    readonly env: CheckEnv,
    readonly syms: Symbols,
  ) {
    this.int = env.types.get('int');
    this.int64 = env.types.get('int64_t');
    this.uint64 = env.types.get('uint64_t');
    this.str = env.types.strsizeType;
  }

  err(tag: ErrTag, line: number, message: string): never {
    throw new DCompileError(tag, line, message, this.region);
  }

  // -- program items ---------------------------------------------------------------------------

  declareVar(d: A.VarDecl): void {
    const table = d.scope === 'global' ? this.syms.globals : d.scope === 'self' ? this.syms.tls : this.syms.locals;
    if (
      d.scope === 'global' &&
      (this.env.builtins.variables.has(d.name) || this.env.builtins.functions.has(d.name)) &&
      builtinInVersion(d.name, this.env.version?.() ?? null)
    ) {
      this.err('D_DECL_IDRED', d.line, `built-in identifier redeclared: ${d.name}`);
    }
    if (d.scope === 'this' && d.keys) {
      this.err('D_DECL_LOCASSC', d.line, `associative arrays may not be declared as local variables: ${d.name}`);
    }
    if (isVoid(d.type) && resolve(d.type).kind === Kind.Void) {
      this.err('D_DECL_VOIDOBJ', d.line, `cannot have void object: ${d.name}`);
    }
    const kind: A.VarInfo['kind'] = d.keys ? 'assoc' : isArray(d.type) && d.scope === 'global' ? 'array' : 'scalar';
    const old = table.get(d.name);
    if (old) {
      if (old.kind !== kind || (old.type && !sameType(old.type, d.type))) {
        const cur = `${d.type.name}`;
        const prev = `${old.type ? old.type.name : 'int64_t'}`;
        this.err('D_DECL_IDRED', d.line, `identifier redeclared: ${d.name}\n\t current: ${cur}\n\tprevious: ${prev}`);
      }
      return;
    }
    table.set(d.name, this.newVar(d.name, d.scope, kind, d.type, d.keys, d.line, true));
  }

  declareInline(d: A.InlineDecl): void {
    const fn = this.env.builtins.functions.get(d.name);
    if (this.syms.inlines.has(d.name) || this.syms.globals.has(d.name) || fn || this.env.builtins.variables.has(d.name)) {
      const prev = this.syms.inlines.has(d.name)
        ? 'scalar inline'
        : fn
          ? `${fn.kind === FnKind.Subr ? 'function' : fn.kind === FnKind.Action ? 'tracing function' : 'aggregating function'} `
          : 'scalar variable';
      this.err('D_DECL_IDRED', d.line, `identifier redefined: ${d.name}\n\t current: inline definition\n\tprevious: ${prev}`);
    }
    if (isVoid(d.type)) this.err('D_DECL_VOIDOBJ', d.line, `cannot declare void inline: ${d.name}`);
    const e = this.expr(d.expr);
    // folded now, in declaration order: an inline naming this one finds the value cached
    folded.set(e, this.constValue(e));
    if (!this.assignable(d.type, e)) {
      this.err(
        'D_OP_INCOMPAT',
        d.line,
        `inline ${d.name} definition uses incompatible types: "${d.type.name}" = "${e.type!.name}"`,
      );
    }
    this.syms.inlines.set(d.name, d);
  }

  declareTranslator(d: A.TranslatorDecl): void {
    if (!isStructLike(d.output)) {
      this.err('D_XLATE_SOU', d.line, 'translator output type must be a struct or union');
    }
    if (!resolve(d.output).complete) this.err('D_XLATE_SOU', d.line, `incomplete struct/union/enum ${d.output.name}`);
    for (const t of this.syms.translators) {
      if (sameType(t.output, d.output) && sameType(t.input, d.input)) {
        this.err('D_XLATE_REDECL', d.line, `translator from ${d.input.name} to ${d.output.name} has already been declared`);
      }
    }
    // check member expressions with the input parameter bound
    const param = this.newVar(d.param, 'this', 'scalar', d.input, null, d.line, true);
    for (const m of d.members) {
      const mem = findMember(d.output, m.name);
      if (!mem) this.err('D_XLATE_MEMB', d.line, `translator member ${m.name} is not a member of ${d.output.name}`);
      this.withParam(d.param, param, () => {
        const e = this.expr(m.expr);
        if (!this.assignable(mem.type, e)) {
          this.err(
            'D_XLATE_INCOMPAT',
            d.line,
            `translator member ${m.name} definition uses incompatible types: "${mem.type.name}" = "${e.type!.name}"`,
          );
        }
      });
    }
    this.syms.translators.push(d);
  }

  private paramBinding: { name: string; v: A.VarInfo } | null = null;

  private withParam(name: string, v: A.VarInfo, f: () => void): void {
    const save = this.paramBinding;
    this.paramBinding = { name, v };
    try {
      f();
    } finally {
      this.paramBinding = save;
    }
  }

  private newVar(
    name: string,
    scope: A.VarInfo['scope'],
    kind: A.VarInfo['kind'],
    type: DType | null,
    keys: DType[] | null,
    line: number,
    defined: boolean,
  ): A.VarInfo {
    const id = scope === 'global' ? this.syms.nextGlobal++ : scope === 'self' ? this.syms.nextTls++ : this.syms.nextLocal++;
    return { name, scope, kind, type, keys, id, line, defined };
  }

  // -- clauses ---------------------------------------------------------------------------------

  checkClause(c: A.Clause): CheckedClause {
    const probes: ProbeInfo[] = [];
    const seen = new Set<ProbeInfo>();
    for (const spec of c.probes) {
      for (const p of this.env.matchProbes(spec)) {
        if (seen.has(p)) continue;
        seen.add(p);
        probes.push(p);
      }
    }
    this.probes = probes;
    this.clauseFlags = 0;
    this.locals = [];
    this.localSet = new Set();
    let destructive = false;
    // as dt_parser.c does: the action list first (so a predicate may read what the clause
    // assigns), and if that meets an undefined variable, the predicate first
    const body = (): void => {
      this.clauseFlags = 0;
      destructive = false;
      this.region = 'action list';
      this.destructiveSubr = false;
      if (c.body) for (const s of c.body) if (this.statement(s)) destructive = true;
      if (this.destructiveSubr) destructive = true;
      this.region = null;
    };
    const pred = (): void => {
      if (!c.predicate) return;
      this.region = 'predicate';
      const p = this.expr(c.predicate);
      if (!isScalar(p.type!)) this.err('D_PRED_SCALAR', c.predicateLine || c.predicate.line, 'predicate result must be of scalar type');
      this.region = null;
    };
    try {
      body();
    } catch (e) {
      if (!c.predicate || !(e instanceof DCompileError) || (e.tag !== 'D_IDENT_UNDEF' && e.tag !== 'D_VAR_UNDEF')) throw e;
      pred();
      body();
    }
    pred();
    const flags = this.clauseFlags;
    // an empty clause (or none) uses the default action, which records the probe
    // a speculating clause records too (its record goes to the speculation)
    const recordsData = c.body === null || c.body.length === 0 || (flags & (CLS_DATAREC | CLS_SPECULATE)) !== 0;
    return { clause: c, probes, recordsData, destructive, locals: this.locals };
  }

  /** Returns true if the statement uses a destructive action. */
  private statement(s: A.Stmt): boolean {
    if (s.kind === 'if') {
      const c = this.expr(s.cond);
      if (!isScalar(c.type!) && !isString(c.type!)) {
        this.err('D_COND_SCALAR', s.line, 'if condition must be of scalar type');
      }
      let d = false;
      for (const t of s.then) if (this.statement(t)) d = true;
      if (s.otherwise) for (const t of s.otherwise) if (this.statement(t)) d = true;
      return d;
    }
    const e = s.expr;
    if (e.kind === A.N.Agg || (e.kind === A.N.Index && e.base.kind === A.N.Agg)) {
      const name = e.kind === A.N.Agg ? e.name : (e.base as A.AggRef).name;
      this.expr(e);
      this.err('D_AGG_NULL', e.line, `expression has null effect: @${name.slice(1)}`);
    }
    if (e.kind === A.N.Call) {
      const fn = this.env.builtins.functions.get(e.name);
      if (fn && fn.kind === FnKind.Action) {
        this.action(e, fn);
        return fn.destructive;
      }
      if (fn && fn.kind === FnKind.Agg) {
        this.call(e);
        this.err('D_CG_EXPR', e.line, `aggregating function ${e.name}( ) may not be called from a D expression (D program context required)`);
      }
    }
    this.expr(e);
    if (e.kind === A.N.Assign && (e.target.kind === A.N.Agg || (e.target.kind === A.N.Index && e.target.base.kind === A.N.Agg))) {
      this.clsFlags('aggregate', e.line);
    }
    return false;
  }

  clsFlags(kind: string, line: number): void {
    const f = this.clauseFlags;
    if (kind === 'commit') {
      if (f & (CLS_DATAREC | CLS_AGG)) this.err('D_COMM_DREC', line, 'commit( ) may not follow data-recording action(s)');
      this.clauseFlags |= CLS_COMMIT;
      return;
    }
    if (kind === 'discard') {
      this.clauseFlags |= CLS_DISCARD;
      return;
    }
    if (kind === 'speculate') {
      if (f & CLS_SPECULATE) this.err('D_SPEC_SPEC', line, 'speculate( ) may not follow speculate( )');
      if (f & CLS_COMMIT) this.err('D_SPEC_COMM', line, 'speculate( ) may not follow commit( )');
      if (f & (CLS_DATAREC | CLS_AGG)) this.err('D_SPEC_DREC', line, 'speculate( ) may not follow data-recording action(s)');
      this.clauseFlags |= CLS_SPECULATE;
      return;
    }
    if (kind === 'aggregate') {
      if (f & CLS_COMMIT) this.err('D_AGG_COMM', line, 'aggregating actions may not follow commit( )');
      if (f & CLS_SPECULATE) this.err('D_AGG_SPEC', line, 'aggregating actions may not follow speculate( )');
      this.clauseFlags |= CLS_AGG;
      return;
    }
    const fn = this.env.builtins.functions.get(kind);
    if (f & CLS_SPECULATE) {
      if (fn?.destructive) this.err('D_ACT_SPEC', line, 'destructive actions may not follow speculate( )');
      if (kind === 'exit') this.err('D_EXIT_SPEC', line, 'exit( ) may not follow speculate( )');
    }
    if (f & CLS_COMMIT) this.err('D_DREC_COMM', line, 'data-recording actions may not follow commit( )');
    if (!LIBACT_ACTIONS.has(kind)) this.clauseFlags |= CLS_DATAREC;
  }

  // -- actions ---------------------------------------------------------------------------------

  /** An action statement (lang/check-actions.ts). */
  private action(call: A.Call, fn: FnInfo): void {
    checkAction(this, call, fn);
  }

  protoLen(call: A.Call, p: Prototype): void {
    const argc = call.args.length;
    const fixed = p.params.length;
    let mismatch = false;
    let cmp = '';
    let limit = fixed;
    if (p.variadic) {
      mismatch = argc < fixed;
      cmp = 'at least ';
    } else if (p.optionalFrom >= 0) {
      if (argc < p.optionalFrom) {
        mismatch = true;
        cmp = 'at least ';
        limit = p.optionalFrom;
      } else if (argc > fixed) {
        mismatch = true;
        cmp = 'at most ';
      }
    } else {
      mismatch = argc !== fixed;
    }
    if (mismatch) {
      this.err(
        'D_PROTO_LEN',
        call.line,
        `${call.name}( ) prototype mismatch: ${argc} arg${argc === 1 ? ' ' : 's '}passed, ${cmp}${limit} expected`,
      );
    }
  }

  /** Checks count and types of a call's arguments against its prototype. */
  protoArgs(call: A.Call, p: Prototype): void {
    this.protoLen(call, p);
    call.args.forEach((a, i) => {
      const e = this.expr(a);
      const want = i < p.params.length ? p.params[i] : null;
      if (want && !this.argCompatible(want, e)) {
        this.err(
          'D_PROTO_ARG',
          call.line,
          `${call.name}( ) argument #${i + 1} is incompatible with prototype:\n\tprototype: ${want.name}\n\t argument: ${e.type!.name}`,
        );
      }
    });
  }

  protoArg(fn: string, n: number, e: A.Expr, proto: string): never {
    this.err('D_PROTO_ARG', e.line, `${fn}( ) argument #${n} is incompatible with prototype:\n\tprototype: ${proto}\n\t argument: ${e.type!.name}`);
  }

  // -- expressions -----------------------------------------------------------------------------

  /** Type-checks an expression in place; returns it (or its replacement, for inlines). */
  expr(e: A.Expr): A.Expr {
    switch (e.kind) {
      case A.N.Int:
        e.type = this.intLiteralType(e);
        return e;
      case A.N.Str:
        e.type = this.str;
        return e;
      case A.N.Ident:
        return this.ident(e, false);
      case A.N.Agg:
        // an aggregation is a value only to printa() and friends; elsewhere its type is
        // "aggregation", which the surrounding operator or action then rejects
        if (!this.syms.aggs.has(e.name.slice(1))) {
          this.err('D_IDENT_UNDEF', e.line, `failed to resolve ${e.name}: Unknown variable name`);
        }
        this.aggRef(e, false);
        e.type = AGGREGATION_ARG;
        return e;
      case A.N.SelfVar:
      case A.N.ThisVar:
        return this.dynVar(e, false);
      case A.N.Index:
        return this.index(e, false);
      case A.N.Call:
        return this.call(e);
      case A.N.Member:
        return this.member(e);
      case A.N.Unary:
        return this.unary(e);
      case A.N.Postfix:
        this.incdec(e.operand, e.op, e.line);
        e.type = e.operand.type;
        return e;
      case A.N.Binary:
        return isChainLink(e.left) ? this.chain(e) : this.binary(e, this.expr(e.left));
      case A.N.Logical:
        return isChainLink(e.left) ? this.chain(e) : this.logical(e, this.expr(e.left));
      case A.N.Assign:
        return this.assign(e);
      case A.N.Ternary: {
        const c = this.expr(e.cond);
        if (!isScalar(c.type!)) this.err('D_OP_SCALAR', e.line, 'operator ?: expression must be of scalar type');
        const a = this.expr(e.then);
        const b = this.expr(e.otherwise);
        const ta = a.type!;
        const tb = b.type!;
        if (isInteger(ta) && isInteger(tb)) {
          e.type = this.promote(ta, tb);
        } else if (sameType(ta, tb)) {
          e.type = ta;
        } else if (isStringLike(ta) && isStringLike(tb) && (isString(ta) || isString(tb))) {
          e.type = this.str;
        } else if (isPointer(ta) && isInteger(tb) && this.isZero(b)) {
          e.type = ta;
        } else if (isPointer(tb) && isInteger(ta) && this.isZero(a)) {
          e.type = tb;
        } else if (isPointer(ta) && isPointer(tb) && (isVoid(resolve(ta).base!) || isVoid(resolve(tb).base!))) {
          e.type = isVoid(resolve(ta).base!) ? tb : ta;
        } else {
          this.err('D_OP_INCOMPAT', e.line, `operator ?: operands must have compatible types`);
        }
        // after the types, as dt_cook_op3: `c ? printf(...) : 1` is D_OP_INCOMPAT (void and int)
        if (isActionCall(a) || isActionCall(b)) this.err('D_OP_ACT', e.line, 'action cannot be used in a conditional context');
        return e;
      }
      case A.N.Cast:
        return this.cast(e);
      case A.N.SizeofType:
        if (e.of.size === 0) this.err('D_SIZEOF_TYPE', e.line, 'cannot apply sizeof to an operand of unknown size');
        e.type = this.env.types.get('size_t');
        return e;
      case A.N.SizeofExpr: {
        if (e.operand.kind === A.N.Ident && this.syms.globals.get(e.operand.name)?.kind === 'assoc') {
          this.err('D_IDENT_BADREF', e.line, `associative array '${e.operand.name}' may not be referenced as scalar`);
        }
        const o = this.exprNoRef(e.operand);
        if (o.kind === A.N.Member && this.isBitfield(o)) this.err('D_SIZEOF_BITFIELD', e.line, 'cannot apply sizeof to a bit-field');
        if (o.type!.size === 0) this.err('D_SIZEOF_TYPE', e.line, 'cannot apply sizeof to an operand of unknown size');
        e.type = this.env.types.get('size_t');
        return e;
      }
      case A.N.Stringof: {
        const o = this.expr(e.operand);
        const t = o.type!;
        if (!isScalar(t) && !isStringLike(t)) {
          this.err('D_STRINGOF_TYPE', e.line, `cannot apply stringof to a value of type ${t.name}`);
        }
        e.type = this.str;
        return e;
      }
      case A.N.Offsetof: {
        if (!isStructLike(e.of) || !resolve(e.of).complete) this.err('D_OFFSETOF_TYPE', e.line, 'offsetof operand must be a struct or union type');
        const m = findMember(e.of, e.member);
        if (!m) this.err('D_UNKNOWN', e.line, `failed to determine offset of ${e.member}: Member name not found`);
        if (m.bitWidth >= 0) this.err('D_OFFSETOF_BITFIELD', e.line, `cannot take offset of a bit-field: ${e.member}`);
        e.type = this.env.types.get('size_t');
        return e;
      }
      case A.N.Xlate:
        return this.xlate(e);
      case A.N.Comma:
        if (isChainLink(e.left)) return this.chain(e);
        return this.comma(e, this.expr(e.left));
    }
    throw new Error('unreachable');
  }

  /**
   * A left-deep chain (a + b + c ..., a && b && ..., a, b, ...): the parser builds these
   * without nesting and without limit, so they are checked innermost first, in a loop.
   */
  private chain(top: A.Binary | A.Logical | A.Comma): A.Expr {
    const links: Array<A.Binary | A.Logical | A.Comma> = [];
    let x: A.Expr = top;
    while (isChainLink(x)) {
      links.push(x);
      x = x.left;
    }
    let l = this.expr(x);
    for (let i = links.length - 1; i >= 0; i--) {
      const e = links[i];
      if (e.kind === A.N.Binary) l = this.binary(e, l);
      else if (e.kind === A.N.Logical) l = this.logical(e, l);
      else l = this.comma(e, l);
    }
    return l;
  }

  /** The comma operator, its left operand already checked: neither side may be dynamic. */
  private comma(e: A.Comma, l: A.Expr): A.Expr {
    const r = this.expr(e.right);
    if (l.type === AGGREGATION_ARG || r.type === AGGREGATION_ARG || isTranslatedPointer(l) || isTranslatedPointer(r)) {
      this.err('D_OP_DYN', e.line, 'operator , operands cannot be of dynamic type');
    }
    e.type = r.type;
    return e;
  }

  /** && || ^^, its left operand already checked. */
  private logical(e: A.Logical, l: A.Expr): A.Expr {
    const r = this.expr(e.right);
    if (!isScalar(l.type!) || !isScalar(r.type!)) {
      this.err('D_OP_SCALAR', e.line, `operator ${e.op} requires operands of scalar type`);
    }
    e.type = this.int;
    return e;
  }

  /** Checks an expression whose value is not read (sizeof's operand): variables need not exist yet. */
  private exprNoRef(e: A.Expr): A.Expr {
    return this.expr(e);
  }

  /** An integer constant zero (0, NULL, an inline or enum that is 0): what pointers compare with. */
  private isZero(e: A.Expr): boolean {
    return isInteger(e.type!) && this.constValue(e) === 0n;
  }

  /** dt_node_int: the first of int, unsigned, long, unsigned long, ... that holds the value. */
  private intLiteralType(e: A.IntLit): DType {
    const order = ['int', 'unsigned int', 'long', 'unsigned long', 'long long', 'unsigned long long'];
    const limits = [0x7fffffffn, 0xffffffffn, 0x7fffffffffffffffn, 0xffffffffffffffffn, 0x7fffffffffffffffn, 0xffffffffffffffffn];
    let i = 0;
    for (const c of e.suffix) {
      if (c === 'u') i += 1;
      else if (c === 'l') i += 2;
    }
    const step = e.decimal || e.suffix.includes('u') ? 2 : 1;
    for (; i < order.length; i += step) {
      if (e.value <= limits[i]) return this.env.types.get(order[i]);
    }
    this.err('D_INT_OFLOW', e.line, `integer constant 0x${e.value.toString(16)} cannot be represented in any built-in integral type`);
  }

  /**
   * dt_type_promote: the operand type of higher rank (bits, plus one if unsigned); enums count
   * as int. Unlike C there is no promotion to int: char + char is a char.
   */
  promote(a: DType, b: DType): DType {
    return promoteTypes(a, b, this.int);
  }

  private ident(e: A.Ident, write: boolean): A.Expr {
    const name = e.name;
    if (this.paramBinding && this.paramBinding.name === name) {
      e.resolved = A.IdentKind.Global;
      e.ref = this.paramBinding.v;
      e.type = this.paramBinding.v.type;
      return e;
    }
    const g = this.syms.globals.get(name);
    if (g) {
      if (g.kind === 'assoc') {
        this.err('D_ARR_BADREF', e.line, `associative array ${name} must be used with [ ]`);
      }
      if (!write && !g.defined) this.err('D_VAR_UNDEF', e.line, `${name} has not yet been declared or assigned`);
      e.resolved = g.kind === 'array' ? A.IdentKind.GlobalArray : A.IdentKind.Global;
      e.ref = g;
      e.type = g.type ?? this.int64;
      return e;
    }
    const inl = this.syms.inlines.get(name);
    if (inl) {
      e.resolved = A.IdentKind.Inline;
      e.inlineExpr = inl.expr;
      e.type = inl.type;
      return e;
    }
    const b = this.env.builtins.variables.get(name);
    if (b) {
      if (b.array) this.err('D_IDENT_BADREF', e.line, `variable '${name}' may not be referenced as a scalar`);
      e.resolved = A.IdentKind.Builtin;
      e.type = b.type;
      if (write) this.err('D_OP_WRITE', e.line, `operator = can only be applied to a writable variable`);
      return e;
    }
    const ec = this.env.types.enumConsts.get(name);
    if (ec) {
      e.resolved = A.IdentKind.EnumConst;
      e.constValue = BigInt(ec.value);
      e.type = ec.type;
      return e;
    }
    const dc = dConstants().get(name);
    if (dc) {
      e.resolved = A.IdentKind.EnumConst;
      e.constValue = dc.value;
      e.type = this.env.types.get(dc.type);
      return e;
    }
    const fn = this.env.builtins.functions.get(name);
    if (fn) {
      const what = fn.kind === FnKind.Subr ? 'function' : fn.kind === FnKind.Action ? 'action' : 'aggregating function';
      this.err('D_IDENT_BADREF', e.line, `${what} '${name}' may not be referenced as a scalar`);
    }
    if (write) {
      const v = this.newVar(name, 'global', 'scalar', null, null, e.line, false);
      this.syms.globals.set(name, v);
      e.resolved = A.IdentKind.Global;
      e.ref = v;
      e.type = null;
      return e;
    }
    // a scoped name (`sym, mod`sym) is a kernel variable: *(T *)its address, read where the
    // kernel's memory can be (in a BPF program as the probe fires)
    if (name.includes('`')) {
      const v = this.env.types.external?.variable?.(name) ?? null;
      if (v !== null) {
        if (v.type === null) this.err('D_SYM_NOTYPES', e.line, `no symbolic type information is available for ${v.object}\`${v.name}: No type information available for symbol`);
        const at = new A.Cast(e.line, pointerTo(v.type), new A.IntLit(e.line, v.address, 'ul', false));
        const place = this.expr(new A.Unary(e.line, '*', at));
        e.resolved = A.IdentKind.Inline;
        e.inlineExpr = place;
        e.type = place.type;
        return e;
      }
    }
    const what = name.includes('`') ? 'symbol' : 'variable';
    this.err('D_IDENT_UNDEF', e.line, `failed to resolve ${name}: Unknown ${what} name`);
  }

  private dynVar(e: A.SelfVar | A.ThisVar, write: boolean): A.Expr {
    const scope = e.kind === A.N.SelfVar ? 'self' : 'this';
    const table = scope === 'self' ? this.syms.tls : this.syms.locals;
    let v = table.get(e.name);
    if (!v) {
      if (!write) {
        this.err('D_VAR_UNDEF', e.line, `${scope}->${e.name} has not yet been declared or assigned`);
      }
      v = this.newVar(e.name, scope, 'scalar', null, null, e.line, false);
      table.set(e.name, v);
    }
    if (v.kind === 'assoc' && !write) {
      this.err('D_ARR_BADREF', e.line, `associative array ${scope}->${e.name} must be used with [ ]`);
    }
    if (!write && !v.defined) this.err('D_VAR_UNDEF', e.line, `${scope}->${e.name} has not yet been declared or assigned`);
    if (scope === 'this' && !this.localSet.has(v)) {
      this.localSet.add(v);
      this.locals.push(v);
    }
    e.ref = v;
    e.type = v.type;
    return e;
  }

  /** a[...]: associative arrays, aggregations, args[], C arrays and pointers. */
  private index(e: A.Index, write: boolean): A.Expr {
    const base = e.base;
    if (base.kind === A.N.Agg) {
      this.aggRef(base, true);
      base.type = AGGREGATION_ARG;
      for (const k of e.args) this.expr(k);
      e.mode = 'agg';
      e.type = AGGREGATION_ARG;
      return e;
    }
    if (base.kind === A.N.Ident) {
      const name = base.name;
      if (name === 'args' && !this.syms.globals.has('args')) return this.argsIndex(e);
      if (name === 'uregs' && !this.syms.globals.has('uregs')) {
        e.mode = 'builtin';
        if (e.args.length !== 1) this.err('D_PROTO_LEN', e.line, `uregs[ ] prototype mismatch: ${e.args.length} args passed, 1 expected`);
        const ix = this.expr(e.args[0]);
        // dt_idcook_regs and dt_cg_uregs: a constant index, within pt_regs (x86-64: and the five
        // task registers after them, R_DS .. R_TRAPNO; arm64: user_pt_regs, R_X0 .. R_PSTATE)
        const v = this.constValue(ix);
        if (v === null) {
          this.err('D_PROTO_ARG', e.line, `uregs[ ] argument #1 is incompatible with prototype:\n\tprototype: integer constant\n\t argument: ${ix.type!.name}`);
        }
        if (v < 0n) this.err('D_REGS_IDX', e.line, `index ${v} is out of range for array uregs`);
        if (v > BigInt(maxUregsIndex())) this.err('D_UNKNOWN', e.line, `uregs[]: index out of bounds (${v})`);
        e.type = this.uint64;
        return e;
      }
      if (name === 'fds' && !this.syms.globals.has('fds') && this.env.types.lookup('fileinfo_t')) return this.fdsIndex(e);
      const g = this.syms.globals.get(name);
      const builtin = !g && this.env.builtins.variables.has(name);
      // a scoped name (`avenrun[0]) is a kernel variable: C indexing, below
      if (!builtin && !name.includes('`') && (!g || g.kind === 'assoc' || (!g.defined && g.type === null))) {
        return this.assocIndex(e, this.syms.globals, 'global', name, base, write);
      }
    }
    if (base.kind === A.N.SelfVar || base.kind === A.N.ThisVar) {
      const table = base.kind === A.N.SelfVar ? this.syms.tls : this.syms.locals;
      const v = table.get(base.name);
      if (!v || v.kind === 'assoc') {
        if (base.kind === A.N.ThisVar) {
          this.err('D_ARR_LOCAL', e.line, `local variables may not be used as associative arrays: ${base.name}`);
        }
        return this.assocIndex(e, table, 'self', base.name, base, write);
      }
    }
    // C array or pointer indexing: E1[E2] is *(E1 + E2)
    const b = this.expr(base);
    if (e.args.length !== 1) {
      const what = base.kind === A.N.Ident ? `scalar ${base.name}` : 'expression';
      this.err('D_ARR_BADREF', e.line, `cannot access ${what} as an associative array`);
    }
    const i = this.expr(e.args[0]);
    const bt = resolve(b.type!);
    if (bt.kind !== Kind.Array && bt.kind !== Kind.Pointer) {
      if (isString(bt)) {
        e.mode = 'array';
        if (!isInteger(i.type!)) this.err('D_OP_INT', e.line, 'operator [ ] requires an index of integral type');
        e.type = this.env.types.get('char');
        return e;
      }
      this.err('D_OP_ARRPTR', e.line, `operator [ ] requires an array or pointer operand`);
    }
    if (!isInteger(i.type!)) this.err('D_OP_INT', e.line, 'operator [ ] requires an index of integral type');
    if (bt.kind === Kind.Array && i.kind === A.N.Int && bt.count > 1 && i.value >= BigInt(bt.count)) {
      this.err('D_ARR_BOUNDS', e.line, `index outside array bounds: ${i.value}, max is ${bt.count}`);
    }
    if (bt.kind === Kind.Pointer && isVoid(bt.base!)) this.err('D_DEREF_VOID', e.line, 'cannot dereference pointer to void');
    e.mode = 'array';
    e.type = bt.base!;
    return e;
  }

  /** fds[fd]: io.d's inline fileinfo_t fds[int fd], the current process's file descriptor fd. */
  private fdsIndex(e: A.Index): A.Expr {
    e.mode = 'fds';
    if (e.args.length !== 1) {
      this.err('D_PROTO_LEN', e.line, `fds[ ] prototype mismatch: ${e.args.length} args passed, 1 expected`);
    }
    const i = this.expr(e.args[0]);
    if (!isInteger(i.type!)) {
      this.err('D_PROTO_ARG', e.line, `fds[ ] argument #1 is incompatible with prototype:\n\tprototype: int\n\t argument: ${i.type!.name}`);
    }
    e.type = this.env.types.lookup('fileinfo_t')!;
    return e;
  }

  private argsIndex(e: A.Index): A.Expr {
    e.mode = 'args';
    if (e.args.length !== 1) {
      this.err('D_PROTO_LEN', e.line, `args[ ] prototype mismatch: ${e.args.length} args passed, 1 expected`);
    }
    const i = this.expr(e.args[0]);
    if (!isInteger(i.type!)) {
      this.err('D_PROTO_ARG', e.line, `args[ ] argument #1 is incompatible with prototype:\n\tprototype: int\n\t argument: ${i.type!.name}`);
    }
    const n = this.constValue(i);
    if (n === null) {
      e.type = this.int64;
      return e;
    }
    const idx = Number(n);
    let t: DType | null = null;
    for (const p of this.probes) {
      if (idx < 0 || idx >= p.argTypes.length) {
        const desc = `${p.provider}:${p.module}:${p.func}:${p.name}`;
        this.err('D_ARGS_IDX', e.line, `index ${idx} is out of range for ${desc} args[ ]`);
      }
      const pt = p.argTypes[idx];
      if (t && !sameType(t, pt)) {
        this.err('D_ARGS_TYPE', e.line, `args[${idx}] has conflicting types across probes`);
      }
      t = pt;
    }
    e.type = t ?? this.int64;
    return e;
  }

  private assocIndex(
    e: A.Index,
    table: Map<string, A.VarInfo>,
    scope: 'global' | 'self',
    name: string,
    base: A.Expr,
    write: boolean,
  ): A.Expr {
    let v = table.get(name);
    const prefix = scope === 'self' ? 'self->' : '';
    if (!v) {
      if (!write) this.err('D_VAR_UNDEF', e.line, `${prefix}${name} has not yet been declared or assigned`);
      v = this.newVar(name, scope, 'assoc', null, null, e.line, false);
      table.set(name, v);
    } else if (v.kind !== 'assoc') {
      if (v.type === null && !v.defined) v.kind = 'assoc';
      else this.err('D_IDENT_BADREF', e.line, `${prefix}${name} is not an associative array`);
    }
    if (!write && !v.defined) this.err('D_VAR_UNDEF', e.line, `${prefix}${name} has not yet been declared or assigned`);
    const keys = e.args.map((a) => this.expr(a));
    this.checkKeys(keys, 'associative array');
    if (v.keys === null) {
      v.keys = keys.map((k) => this.keyType(k.type!));
    } else {
      if (keys.length !== v.keys.length) {
        this.err(
          'D_PROTO_LEN',
          e.line,
          `${prefix}${name}[ ] prototype mismatch: ${keys.length} key${keys.length === 1 ? ' ' : 's '}passed, ${v.keys.length} expected`,
        );
      }
      keys.forEach((k, i) => {
        if (!this.keyCompatible(v!.keys![i], k)) {
          this.err(
            'D_PROTO_ARG',
            e.line,
            `${prefix}${name}[ ] key #${i + 1} is incompatible with prototype:\n\tprototype: ${v!.keys![i].name}\n\t      key: ${k.type!.name}`,
          );
        }
      });
    }
    base.ref = v;
    base.type = v.type;
    e.ref = v;
    e.mode = 'assoc';
    e.type = v.type ?? this.int64;
    return e;
  }

  /** dt_idcook_assc: a void or dynamic (aggregation) expression cannot be a key. */
  checkKeys(keys: A.Expr[], kind: string): void {
    if (keys.length > MAX_TUPLE) {
      // DTrace reports this without a line: it is found while generating code
      throw new DCompileError('D_TUPLE_OFLOW', 0, 'Insufficient tuple registers to generate code');
    }
    keys.forEach((k, i) => {
      const t = k.type!;
      if (t === AGGREGATION_ARG || (isVoid(t) && !VALUE_TYPES.has(t))) {
        this.err('D_KEY_TYPE', k.line, `${t.name} expression may not be used as ${kind} index: key #${i + 1}`);
      }
      if (isTranslatedPointer(k)) {
        this.err('D_KEY_TYPE', k.line, `pointer to translated data expression may not be used as ${kind} index: key #${i + 1}`);
      }
    });
  }

  /** Keys are stored by value: char arrays and char pointers key as strings. */
  keyType(t: DType): DType {
    if (isCharArray(t)) return this.str;
    return t;
  }

  keyCompatible(want: DType, k: A.Expr): boolean {
    const t = k.type!;
    if (isInteger(want) && isInteger(t)) return true;
    if (isString(want) && isStringLike(t)) return true;
    if (isPointer(want) && isPointer(t)) return true;
    return sameType(want, t);
  }

  aggRef(e: A.Expr, create: boolean): A.AggInfo {
    const ref = e as A.AggRef;
    const name = ref.name.slice(1);
    let a = this.syms.aggs.get(name);
    if (!a) {
      if (!create) this.err('D_PRINTA_AGGBAD', e.line, `undefined aggregation: @${name}`);
      a = { name, id: this.syms.aggs.size, fn: null, keys: null, keyNames: null, params: [], valueType: null, line: e.line, assigned: false };
      this.syms.aggs.set(name, a);
    }
    ref.ref = a;
    return a;
  }

  /** the clause's action list calls a destructive subroutine (copyout, copyoutstr) */
  private destructiveSubr = false;

  private call(e: A.Call): A.Expr {
    const fn = this.env.builtins.functions.get(e.name);
    if (!fn) {
      if (this.syms.globals.has(e.name) || this.env.builtins.variables.has(e.name)) {
        const kind = this.env.builtins.variables.has(e.name) ? 'variable' : 'variable';
        this.err('D_FUNC_IDKIND', e.line, `${kind} '${e.name}' may not be referenced as a function`);
      }
      this.err('D_FUNC_UNDEF', e.line, `undefined function name: ${e.name}`);
    }
    if (fn.kind === FnKind.Action || fn.kind === FnKind.Agg) {
      // a tracing or aggregating function has no value, except those that name a stack or symbol
      if (fn.kind === FnKind.Action) this.protoLen(e, fn.proto);
      for (const a of e.args) this.expr(a);
      e.type = VALUE_ACTIONS.get(e.name) ?? VOID;
      if (e.type === VOID) e.data = fn.kind === FnKind.Agg ? 'aggregating function' : 'tracing function';
      return e;
    }
    this.protoArgs(e, fn.proto);
    if (fn.destructive) {
      this.destructiveSubr = true;
      // a destructive action to the clause's rules wherever it is called (dt_cg_subr_copyout)
      this.clsFlags(e.name, e.line);
    }
    switch (e.name) {
      case 'speculation':
      case 'rand':
        break;
      case 'bcopy':
      case 'copyinto': {
        // the destination must be alloca() storage (dt_cg_subr_bcopy_impl); a string never is
        // (strings are assigned by value), unless it is the very cast of an alloca() result
        const n = e.name === 'bcopy' ? 2 : 3;
        const dst = e.args[n - 1];
        if (dst && isString(dst.type!) && !(dst.kind === A.N.Cast && dst.operand.kind === A.N.Call && dst.operand.name === 'alloca')) {
          this.err('D_PROTO_ARG', dst.line, `${e.name}( ) argument #${n} is incompatible with prototype:\n\tprototype: alloca pointer\n\t argument: non-alloca pointer`);
        }
        break;
      }
      case 'alloca':
      case 'copyin': {
        // a constant size past the scratch space cannot work (dt_cg_subr_alloca_impl)
        const size = e.args[e.name === 'alloca' ? 0 : 1];
        const v = size && this.env.scratchsize ? this.constValue(size) : null;
        const max = this.env.scratchsize ? this.env.scratchsize() - 8 : 0;
        if (v !== null && BigInt.asUintN(64, v) > BigInt(max)) {
          this.err('D_ALLOCA_SIZE', e.line, `alloca(${BigInt.asUintN(64, v)}) size larger than scratchsize ${max}`);
        }
        e.type = pointerTo(VOID);
        return e;
      }
    }
    e.type = fn.proto.ret;
    return e;
  }

  private member(e: A.Member): A.Expr {
    const b = this.expr(e.base);
    let t = resolve(b.type!);
    if (e.arrow) {
      if (t.kind !== Kind.Pointer) this.err('D_OP_PTR', e.line, 'operator -> must be applied to a pointer');
      t = resolve(t.base!);
    } else if (t.kind === Kind.Pointer) {
      this.err('D_OP_SOU', e.line, `operator . cannot be applied to type "${b.type!.name}"; must be applied to a struct or union`);
    }
    if (t.kind !== Kind.Struct && t.kind !== Kind.Union) {
      const op = e.arrow ? '->' : '.';
      const what = e.arrow ? `operator ${op} cannot be applied to pointer to type "${t.name}"; must be applied to a struct or union pointer` : `operator ${op} cannot be applied to type "${b.type!.name}"; must be applied to a struct or union`;
      this.err(e.arrow ? 'D_OP_SOU' : 'D_OP_SOU', e.line, what);
    }
    if (!t.complete) {
      this.err('D_OP_INCOMPLETE', e.line, `operator ${e.arrow ? '->' : '.'} cannot be applied to a forward declaration: no ${t.name} definition is available`);
    }
    if (e.arrow && e.base.kind === A.N.Ident && e.base.resolved === A.IdentKind.Builtin) {
      const allowed = TRANSLATED_MEMBERS[e.base.name];
      if (allowed && !allowed.has(e.name)) {
        this.err('D_XLATE_NOCONV', e.line, `translator does not define conversion for member: ${e.name}`);
      }
    }
    const m = findMember(t, e.name);
    if (!m) this.err('D_TYPE_MEMBER', e.line, `${e.name} is not a member of ${t.name}`);
    e.type = m.type;
    return e;
  }

  private isBitfield(e: A.Member): boolean {
    let t = resolve(e.base.type!);
    if (e.arrow) t = resolve(t.base!);
    const m = findMember(t, e.name);
    return !!m && m.bitWidth >= 0;
  }

  private unary(e: A.Unary): A.Expr {
    switch (e.op) {
      case '++':
      case '--':
        this.incdec(e.operand, e.op, e.line);
        e.type = e.operand.type;
        return e;
      case '-':
      case '+': {
        const o = this.unaryOperand(e.operand);
        if (!isArithmetic(o.type!)) this.err('D_OP_ARITH', e.line, `operator ${e.op} requires an operand of arithmetic type`);
        e.type = o.type;
        return e;
      }
      case '~': {
        const o = this.unaryOperand(e.operand);
        if (!isInteger(o.type!)) this.err('D_OP_INT', e.line, 'operator ~ requires an operand of integral type');
        e.type = o.type;
        return e;
      }
      case '!': {
        const o = this.unaryOperand(e.operand);
        if (!isScalar(o.type!)) this.err('D_OP_SCALAR', e.line, 'operator ! requires an operand of scalar type');
        e.type = this.int;
        return e;
      }
      case '*': {
        const o = this.expr(e.operand);
        const t = resolve(o.type!);
        if (t.kind === Kind.Array) {
          e.type = t.base!;
          return e;
        }
        if (t.kind !== Kind.Pointer) this.err('D_DEREF_NONPTR', e.line, 'cannot dereference non-pointer type');
        if (isVoid(t.base!)) this.err('D_DEREF_VOID', e.line, 'cannot dereference pointer to void');
        if (resolve(t.base!).kind === Kind.Function) this.err('D_DEREF_FUNC', e.line, 'cannot dereference pointer to function');
        e.type = t.base!;
        return e;
      }
      case '&': {
        const o = e.operand;
        if (o.kind === A.N.Agg) this.err('D_ADDROF_VAR', e.line, 'cannot take address of dynamic variable');
        // a kernel variable (&`jiffies): its address, the place's
        if (o.kind === A.N.Ident && o.name.includes('`')) {
          this.expr(o);
          e.type = pointerTo(o.type!);
          return e;
        }
        if (o.kind === A.N.Ident || o.kind === A.N.SelfVar || o.kind === A.N.ThisVar || (o.kind === A.N.Index && !this.isMemoryIndex(o))) {
          this.expr(o);
          if (o.kind === A.N.Ident && o.resolved === A.IdentKind.GlobalArray) {
            this.err('D_ADDROF_VAR', e.line, 'cannot take address of dynamic variable');
          }
          this.err('D_ADDROF_VAR', e.line, 'cannot take address of dynamic variable');
        }
        this.expr(o);
        if (o.kind === A.N.Member && this.isBitfield(o)) this.err('D_ADDROF_BITFIELD', e.line, 'cannot take address of bit-field');
        if (!(o.kind === A.N.Member || (o.kind === A.N.Unary && o.op === '*') || o.kind === A.N.Index)) {
          this.err('D_ADDROF_LVAL', e.line, 'unacceptable operand for unary & operator');
        }
        e.type = pointerTo(o.type!);
        return e;
      }
    }
  }

  /**
   * dt_cook_op1: a unary operator's operand is cooked before it counts as read, so a D variable
   * no clause has assigned yet (self->x, this->x, a[k], self->a[k]) may be its operand (as in
   * `/!pending[dev]/` ahead of the clause that counts pending[dev]): it reads as 0, and is an
   * int64_t from then on unless it already has a type. A global scalar no one assigned is still
   * unknown (failed to resolve).
   */
  private unaryOperand(o: A.Expr): A.Expr {
    const v = this.unassignedVar(o);
    if (v === undefined) return this.expr(o);
    const r = o.kind === A.N.Index ? this.index(o, true) : this.dynVar(o as A.SelfVar | A.ThisVar, true);
    const ref = (r.ref as A.VarInfo | null) ?? null;
    if (ref !== null) {
      if (ref.type === null) {
        ref.type = this.int64;
        r.type = this.int64;
        if (r.kind === A.N.Index) r.base.type = this.int64;
      }
      ref.defined = true;
    }
    return r;
  }

  /** The D variable `o` names if no clause has assigned it yet (null: not created yet); undefined if it is anything else. */
  private unassignedVar(o: A.Expr): A.VarInfo | null | undefined {
    const unassigned = (v: A.VarInfo | undefined, kind: A.VarInfo['kind']) =>
      v === undefined ? null : v.kind === kind && !v.defined ? v : undefined;
    if (o.kind === A.N.SelfVar) return unassigned(this.syms.tls.get(o.name), 'scalar');
    if (o.kind === A.N.ThisVar) return unassigned(this.syms.locals.get(o.name), 'scalar');
    if (o.kind !== A.N.Index) return undefined;
    const b = o.base;
    if (b.kind === A.N.SelfVar) return unassigned(this.syms.tls.get(b.name), 'assoc');
    if (b.kind !== A.N.Ident || b.name.includes('`')) return undefined;
    const name = b.name;
    if ((name === 'args' || name === 'uregs' || name === 'fds') && !this.syms.globals.has(name)) return undefined;
    if (!this.syms.globals.has(name) && this.env.builtins.variables.has(name)) return undefined;
    return unassigned(this.syms.globals.get(name), 'assoc');
  }

  private isMemoryIndex(e: A.Index): boolean {
    if (e.base.kind === A.N.Ident) {
      const g = this.syms.globals.get(e.base.name);
      return !!g && g.kind !== 'assoc' && g.type !== null;
    }
    return e.base.kind !== A.N.SelfVar && e.base.kind !== A.N.ThisVar;
  }

  private incdec(o: A.Expr, op: string, line: number): void {
    if (o.kind === A.N.Ident || o.kind === A.N.SelfVar || o.kind === A.N.ThisVar) {
      this.lvalue(o, op);
      const v = o.ref as A.VarInfo | null;
      if (v && v.type === null) {
        v.type = this.int64;
        o.type = this.int64;
      }
      if (v) v.defined = true;
    } else {
      this.lvalue(o, op);
    }
    const t = o.type!;
    if (!isScalar(t)) this.err('D_OP_SCALAR', line, `operator ${op} requires operand of scalar type`);
    if (isPointer(t) && resolve(resolve(t).base!).size === 0) {
      this.err('D_OP_VFPTR', line, `operator ${op} requires an operand of known size`);
    }
  }

  /** Resolves an assignment target, creating variables as D does. */
  private lvalue(t: A.Expr, op = '='): A.Expr {
    switch (t.kind) {
      case A.N.Ident: {
        this.ident(t, true);
        if (t.resolved !== A.IdentKind.Global) {
          if (t.resolved === A.IdentKind.GlobalArray) {
            this.err('D_OP_ARRFUN', t.line, `operator = may not be applied to operand of type "${t.type!.name}"`);
          }
          this.err('D_OP_WRITE', t.line, 'operator = can only be applied to a writable variable');
        }
        return t;
      }
      case A.N.SelfVar:
      case A.N.ThisVar:
        return this.dynVar(t, true);
      case A.N.Index:
        if (t.base.kind === A.N.Ident && t.base.name === 'args' && !this.syms.globals.has('args')) {
          this.argsIndex(t);
          this.err('D_OP_WRITE', t.line, 'operator = can only be applied to a writable variable');
        }
        return this.index(t, true);
      case A.N.Member:
      case A.N.Unary:
        if (t.kind === A.N.Unary && t.op !== '*') break;
        this.expr(t);
        return t;
      default:
        break;
    }
    this.expr(t);
    this.err('D_OP_LVAL', t.line, `operator ${op} requires modifiable lvalue as an operand`);
  }

  private assign(e: A.Assign): A.Expr {
    const target = e.target;
    if (target.kind === A.N.Agg || (target.kind === A.N.Index && target.base.kind === A.N.Agg)) {
      return this.aggAssign(e);
    }
    if (target.kind === A.N.Index && target.base.kind === A.N.Index && target.base.base.kind === A.N.Agg) {
      this.err('D_AGG_MDIM', e.line, `improper attempt to reference ${target.base.base.name} as a multi-dimensional array`);
    }
    if (e.op === '=') {
      const r = this.expr(e.value);
      const l = this.lvalue(target);
      const v = l.ref as A.VarInfo | null;
      const isVar = v !== null && (l.kind === A.N.Ident || l.kind === A.N.SelfVar || l.kind === A.N.ThisVar || (l.kind === A.N.Index && l.mode === 'assoc'));
      if (isVar && v.type === null) {
        // the first assignment gives a variable its type
        let t = r.type!;
        if (isVoid(t)) this.err('D_OP_VOID', e.line, `operator = cannot be applied to a void expression`);
        if (isCharArray(t) && v.kind === 'assoc') t = this.str;
        v.type = t;
        l.type = t;
        if (l.kind === A.N.Index) l.base.type = t;
      }
      if (v && isVar) v.defined = true;
      const lt = l.type!;
      if (!isString(lt)) {
        const k = resolve(lt).kind;
        if (k === Kind.Array || k === Kind.Function) {
          this.err('D_OP_ARRFUN', e.line, `operator = may not be applied to operand of type "${lt.name}"`);
        }
      }
      if (!this.assignable(lt, r)) {
        const dynDelete =
          isVar && (v!.kind === 'assoc' || v!.scope === 'self') && r.kind === A.N.Int && r.value === 0n;
        if (!dynDelete) {
          this.err('D_OP_INCOMPAT', e.line, `operands have incompatible types: "${lt.name}" = "${r.type!.name}"`);
        }
      }
      e.type = lt;
      return e;
    }
    // compound assignment: the target must already exist
    const l = this.lvalueExisting(target);
    const r = this.expr(e.value);
    const lt = l.type!;
    const rt = r.type!;
    const op = e.op;
    if (op === '+=' || op === '-=') {
      if (isString(lt) || isString(rt)) {
        this.err('D_OP_INCOMPAT', e.line, `operands have incompatible types: "${lt.name}" ${op} "${rt.name}"`);
      }
      if (!isInteger(lt) || !isInteger(rt)) {
        if (!isPointer(lt)) this.err('D_OP_VFPTR', e.line, `operator ${op} requires left-hand scalar operand of known size`);
        else if (!isInteger(rt)) this.err('D_OP_INCOMPAT', e.line, `operands have incompatible types: "${lt.name}" ${op} "${rt.name}"`);
      }
    } else if (op === '*=' || op === '/=') {
      if (!isArithmetic(lt) || !isArithmetic(rt)) this.err('D_OP_ARITH', e.line, `operator ${op} requires operands of arithmetic type`);
    } else if (!isInteger(lt) || !isInteger(rt)) {
      this.err('D_OP_INT', e.line, `operator ${op} requires operands of integral type`);
    }
    e.type = lt;
    return e;
  }

  /** A name that is something other than a new variable (builtin, inline, constant, function). */
  private knownName(name: string): boolean {
    return (
      this.syms.inlines.has(name) ||
      this.env.builtins.variables.has(name) ||
      this.env.builtins.functions.has(name) ||
      this.env.types.enumConsts.has(name) ||
      dConstants().has(name)
    );
  }

  private lvalueExisting(t: A.Expr): A.Expr {
    switch (t.kind) {
      case A.N.Ident:
      case A.N.SelfVar:
      case A.N.ThisVar:
      case A.N.Index:
      case A.N.Member:
        break;
      default:
        if (t.kind === A.N.Unary && t.op === '*') break;
        this.expr(t);
        this.err('D_OP_LVAL', t.line, 'operator = requires modifiable lvalue as an operand');
    }
    if (t.kind === A.N.Ident && !this.syms.globals.has(t.name) && !this.knownName(t.name)) {
      this.ident(t, true);
      this.err('D_VAR_UNDEF', t.line, `${t.name} has not yet been declared or assigned`);
    }
    this.expr(t);
    if (t.kind === A.N.Ident && t.resolved !== A.IdentKind.Global) {
      this.err('D_OP_WRITE', t.line, 'operator = can only be applied to a writable variable');
    }
    if (t.kind === A.N.Index && t.mode === 'args') this.err('D_OP_WRITE', t.line, 'operator = can only be applied to a writable variable');
    return t;
  }

  /** @a[keys] = fn(args): aggregation statements (lang/check-aggs.ts). */
  private aggAssign(e: A.Assign): A.Expr {
    return checkAggregation(this, e);
  }

  /** A binary operator, its left operand already checked. */
  private binary(e: A.Binary, l: A.Expr): A.Expr {
    const op = e.op;
    // comparisons may name an enum's constant on the right without scope
    const r = this.expr(e.right);
    const lt = l.type!;
    const rt = r.type!;
    switch (op) {
      case '&':
      case '^':
      case '|':
      case '%':
        if (!isInteger(lt) || !isInteger(rt)) this.err('D_OP_INT', e.line, `operator ${opText(op)} requires operands of integral type`);
        e.type = this.promote(lt, rt);
        if (op === '%' && this.isZero(r)) this.err('D_DIV_ZERO', e.line, 'expression contains division by zero');
        return e;
      case '<<':
      case '>>':
        if (!isInteger(lt) || !isInteger(rt)) this.err('D_OP_INT', e.line, `operator ${op} requires operands of integral type`);
        e.type = lt;
        return e;
      case '*':
      case '/':
        if (!isArithmetic(lt) || !isArithmetic(rt)) this.err('D_OP_ARITH', e.line, `operator ${op} requires operands of arithmetic type`);
        e.type = this.promote(lt, rt);
        if (op === '/' && this.isZero(r)) this.err('D_DIV_ZERO', e.line, 'expression contains division by zero');
        return e;
      case '<':
      case '<=':
      case '>':
      case '>=':
      case '==':
      case '!=': {
        if (sameType(lt, rt) && !isStructLike(lt)) {
          // ok
        } else if (isInteger(lt) && isInteger(rt)) {
          // ok
        } else if (isStringLike(lt) && isStringLike(rt) && (isString(lt) || isString(rt))) {
          // ok: strcmp
        } else if ((isString(lt) && this.isZero(r)) || (isString(rt) && this.isZero(l))) {
          // ok: a string compared with NULL
        } else if (!this.pointerCompatible(l, r)) {
          this.err('D_OP_INCOMPAT', e.line, `operands have incompatible types: "${lt.name}" ${op} "${rt.name}"`);
        }
        if (isStructLike(lt) || isStructLike(rt)) {
          this.err('D_OP_INCOMPAT', e.line, `operands have incompatible types: "${lt.name}" ${op} "${rt.name}"`);
        }
        e.type = this.int;
        return e;
      }
      case '+':
      case '-': {
        // pointers to void or functions have no element size to step by
        const lp = isString(lt) || ((isPointer(lt) || isArray(lt)) && !isVoidPtr(lt));
        const rp = isString(rt) || ((isPointer(rt) || isArray(rt)) && !isVoidPtr(rt));
        const li = isInteger(lt);
        const ri = isInteger(rt);
        if (li && ri) e.type = this.promote(lt, rt);
        else if (lp && ri) e.type = isArray(lt) ? pointerTo(resolve(lt).base!) : lt;
        else if (li && rp && op === '+') e.type = isArray(rt) ? pointerTo(resolve(rt).base!) : rt;
        else if (lp && rp && op === '-' && this.pointerCompatible(l, r)) e.type = this.env.types.get('ptrdiff_t');
        else this.err('D_OP_INCOMPAT', e.line, `operands have incompatible types: "${lt.name}" ${op} "${rt.name}"`);
        if (isString(e.type!)) {
          // string + n: D treats strings as pointers here; we keep the string and offset it
        }
        return e;
      }
    }
  }

  /** dt_node_is_ptrcompat: pointers to compatible types, void *, or a pointer and constant 0. */
  private pointerCompatible(l: A.Expr, r: A.Expr): boolean {
    const lt = resolve(l.type!);
    const rt = resolve(r.type!);
    const lptr = lt.kind === Kind.Pointer || lt.kind === Kind.Array;
    const rptr = rt.kind === Kind.Pointer || rt.kind === Kind.Array;
    if (lptr && isInteger(rt) && this.isZero(r)) return true;
    if (rptr && isInteger(lt) && this.isZero(l)) return true;
    if (!lptr || !rptr) return false;
    const lb = resolve(lt.base!);
    const rb = resolve(rt.base!);
    if (lb.kind === Kind.Void || rb.kind === Kind.Void) return true;
    return sameType(lb, rb);
  }

  /** dt_node_is_argcompat: may a value of e's type be stored in (or passed as) `want`? */
  private argCompatible(want: DType, e: A.Expr): boolean {
    const t = e.type!;
    if (isStringLike(want) && this.isZero(e)) return true;
    if (isString(t) && isPointer(want)) {
      const wb = resolve(resolve(want).base!);
      return wb.kind === Kind.Void || (wb.kind === Kind.Int && wb.size === 1);
    }
    if (isInteger(want) && isInteger(t)) return true;
    if (isString(want) && isStringLike(t)) return true;
    if (isStringLike(want) && isString(t)) return true;
    if (isPointer(want) && (isPointer(t) || isArray(t))) {
      const wb = resolve(resolve(want).base!);
      const tb = resolve(resolve(t).base!);
      if (wb.kind === Kind.Void || tb.kind === Kind.Void) return true;
      return sameType(wb, tb) || (isCharPointer(want) && isCharArray(t));
    }
    if (isPointer(want) && isInteger(t) && this.isZero(e)) return true;
    return sameType(want, t);
  }

  private assignable(want: DType, e: A.Expr): boolean {
    const t = e.type!;
    if (isString(want) && this.isZero(e)) return true;
    if (isInteger(want) && isInteger(t)) return true;
    if (isString(want) && isStringLike(t)) return true;
    if (isStringLike(want) && isString(t)) return isCharArray(want) || isCharPointer(want);
    if (isPointer(want) && (isPointer(t) || isArray(t))) {
      const wb = resolve(resolve(want).base!);
      const tb = resolve(resolve(t).base!);
      if (wb.kind === Kind.Void || tb.kind === Kind.Void) return true;
      return sameType(wb, tb);
    }
    if (isPointer(want) && isInteger(t) && this.isZero(e)) return true;
    return sameType(want, t);
  }

  private cast(e: A.Cast): A.Expr {
    const o = this.expr(e.operand);
    const to = e.to;
    const from = o.type!;
    const rto = resolve(to);
    if (rto.kind === Kind.Void) {
      e.type = to;
      return e;
    }
    if (isTranslatedPointer(o)) this.err('D_CAST_INVAL', e.line, `invalid cast expression: "pointer to translated data" to "${to.name}"`);
    if (isString(to)) {
      if (!isStringLike(from) && !isScalar(from)) this.err('D_CAST_INVAL', e.line, `invalid cast expression: "${from.name}" to "${to.name}"`);
      e.type = to;
      return e;
    }
    if (isScalar(to) && (isScalar(from) || isArray(from))) {
      e.type = to;
      return e;
    }
    if (isString(from) && isPointer(to)) {
      e.type = to;
      return e;
    }
    if (sameType(to, from)) {
      e.type = to;
      return e;
    }
    this.err('D_CAST_INVAL', e.line, `invalid cast expression: "${from.name}" to "${to.name}"`);
  }

  private xlate(e: A.Xlate): A.Expr {
    const o = this.expr(e.operand);
    const to = e.to;
    const toIsPtr = isPointer(to);
    const out = toIsPtr ? resolve(to).base! : to;
    const x = this.syms.translators.find(
      (t) => sameType(t.output, out) && (sameType(t.input, o.type!) || (isPointer(t.input) && isPointer(o.type!) && this.pointerCompatible(o, { type: t.input } as A.Expr))),
    );
    if (!x) {
      this.err('D_XLATE_NONE', e.line, `cannot translate from "${o.type!.name}" to "${out.name}"`);
    }
    e.type = to;
    (e as A.Xlate & { translator: A.TranslatorDecl }).translator = x;
    return e;
  }

  /** The value of an integer constant expression after checking, or null. */
  constValue(e: A.Expr): bigint | null {
    switch (e.kind) {
      case A.N.Int:
        return e.value;
      case A.N.Ident: {
        if (e.resolved === A.IdentKind.EnumConst) return e.constValue;
        if (e.resolved !== A.IdentKind.Inline || !e.inlineExpr) return null;
        const inner = e.inlineExpr;
        let v = folded.get(inner);
        if (v === undefined) {
          v = this.constValue(inner);
          folded.set(inner, v);
        }
        return v;
      }
      case A.N.Unary: {
        const v = this.constValue(e.operand);
        return v === null ? null : foldUnary(e.op, v);
      }
      case A.N.Binary: {
        const known = folded.get(e);
        if (known !== undefined) return known;
        // a + b + c ...: innermost first, without recursing down the chain
        const links: A.Binary[] = [];
        let x: A.Expr = e;
        while (x.kind === A.N.Binary && !folded.has(x)) {
          links.push(x);
          x = x.left;
        }
        let v = this.constValue(x);
        for (let i = links.length - 1; i >= 0; i--) {
          const r = v === null ? null : this.constValue(links[i].right);
          v = v === null || r === null ? null : foldBinary(links[i].op, v, r);
          folded.set(links[i], v);
        }
        return v;
      }
      case A.N.SizeofType:
        return BigInt(e.of.size);
      case A.N.SizeofExpr:
        return BigInt(sizeofOperand(e.operand));
      case A.N.Cast:
        return isInteger(e.to) ? this.constValue(e.operand) : null;
      default:
        return null;
    }
  }
}

/** Actions whose result can also be used as a value (aggregation keys, printf arguments). */
const VALUE_ACTIONS: ReadonlyMap<string, DType> = new Map([
  ['stack', STACK_TYPE],
  ['ustack', STACK_TYPE],
  ['jstack', STACK_TYPE],
  ['sym', SYMADDR_TYPE],
  ['func', SYMADDR_TYPE],
  ['mod', SYMADDR_TYPE],
  ['usym', USYMADDR_TYPE],
  ['ufunc', USYMADDR_TYPE],
  ['umod', USYMADDR_TYPE],
  ['uaddr', USYMADDR_TYPE],
]);

/** The members DTrace's psinfo_t and lwpsinfo_t translators define on Linux. */
const TRANSLATED_MEMBERS: Record<string, ReadonlySet<string>> = {
  curpsinfo: new Set([
    'pr_nlwp', 'pr_pid', 'pr_ppid', 'pr_pgid', 'pr_sid', 'pr_uid', 'pr_euid', 'pr_gid', 'pr_egid', 'pr_addr',
    'pr_ttydev', 'pr_fname', 'pr_psargs', 'pr_wstat', 'pr_argc', 'pr_argv', 'pr_envp', 'pr_dmodel', 'pr_taskid',
    'pr_projid', 'pr_nzomb', 'pr_poolid', 'pr_zoneid', 'pr_contract',
  ]),
  curlwpsinfo: new Set([
    'pr_flag', 'pr_lwpid', 'pr_addr', 'pr_wchan', 'pr_stype', 'pr_state', 'pr_sname', 'pr_pri', 'pr_name', 'pr_onpro',
    'pr_clname',
  ]),
};

/**
 * A translated pointer not dereferenced (xlate <T *> (...), or curpsinfo, which is
 * xlate <psinfo_t *> (curthread)): DTrace's dynamic type, which can be neither a key nor cast.
 */
function isTranslatedPointer(e: A.Expr): boolean {
  if (e.kind === A.N.Ident) return (e.name === 'curpsinfo' || e.name === 'curlwpsinfo') && e.resolved === A.IdentKind.Builtin;
  return e.kind === A.N.Xlate && resolve(e.type!).kind === Kind.Pointer;
}

const VALUE_TYPES: ReadonlySet<DType> = new Set([STACK_TYPE, SYMADDR_TYPE, USYMADDR_TYPE]);

/** DTrace's integer promotion of two operand types (see Checker.promote). */
export function promoteTypes(a: DType, b: DType, int: DType): DType {
  const ta = resolve(a).kind === Kind.Enum ? int : a;
  const tb = resolve(b).kind === Kind.Enum ? int : b;
  const rank = (t: DType) => resolve(t).size * 8 + (resolve(t).signed ? 0 : 1);
  return rank(tb) > rank(ta) ? tb : ta;
}

/** sizeof applied to an expression: a string constant counts its NUL. */
export function sizeofOperand(e: A.Expr): number {
  if (e.kind === A.N.Str) return e.value.length + 1;
  // D's predefined constants are inlines of integer constants: sizeof sees the constant (an int)
  if (e.kind === A.N.Ident && e.resolved === A.IdentKind.EnumConst && dConstants().has(e.name)) return 4;
  return e.type!.size;
}

/**
 * Values of inline expressions and operator chains already folded by constValue: inlines share
 * their nodes with every use, in this program and later ones.
 */
const folded = new WeakMap<A.Expr, bigint | null>();

/** A link of a left-deep operator chain (see Checker.chain). */
function isChainLink(e: A.Expr): e is A.Binary | A.Logical | A.Comma {
  return e.kind === A.N.Binary || e.kind === A.N.Logical || e.kind === A.N.Comma;
}

function isActionCall(e: A.Expr): boolean {
  return e.kind === A.N.Call && e.type === VOID && typeof e.data === 'string';
}

function isVoidPtr(t: DType): boolean {
  const r = resolve(t);
  if (r.kind !== Kind.Pointer) return false;
  const b = resolve(r.base!).kind;
  return b === Kind.Void || b === Kind.Function;
}

