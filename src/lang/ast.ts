// The D syntax tree. One class per node kind, every field set in the constructor.   [dt_parser.h]
//
// The checker fills in `type` (and a few resolution fields) on expression nodes in place.

import type { DType } from './types.js';

export const enum N {
  Int,
  Str,
  Ident,
  Agg,
  SelfVar,
  ThisVar,
  Index,
  Call,
  Member,
  Unary,
  Postfix,
  Binary,
  Logical,
  Assign,
  Ternary,
  Cast,
  SizeofType,
  SizeofExpr,
  Stringof,
  Offsetof,
  Xlate,
  Comma,
}

export type Expr =
  | IntLit
  | StrLit
  | Ident
  | AggRef
  | SelfVar
  | ThisVar
  | Index
  | Call
  | Member
  | Unary
  | Postfix
  | Binary
  | Logical
  | Assign
  | Ternary
  | Cast
  | SizeofType
  | SizeofExpr
  | Stringof
  | Offsetof
  | Xlate
  | Comma;

/** A D variable, as the checker resolved it (globals, self->, this->, associative arrays). */
export interface VarInfo {
  name: string;
  scope: 'global' | 'self' | 'this';
  /** scalar; assoc: associative array (keys); array: a declared C array global */
  kind: 'scalar' | 'assoc' | 'array';
  /** null until the first assignment gives it one */
  type: DType | null;
  keys: DType[] | null;
  /** slot in its scope's storage */
  id: number;
  line: number;
  /** declared with a type, or already assigned (D's "declared or assigned") */
  defined: boolean;
}

export interface AggInfo {
  /** without the @; "_" for the anonymous one */
  name: string;
  id: number;
  /** the aggregating function, fixed by the first assignment */
  fn: string | null;
  keys: DType[] | null;
  /** each key's variable name where the first assignment's key is a plain identifier (execname, pid, x), else null */
  keyNames: Array<string | null> | null;
  /** lquantize/llquantize parameters, fixed by the first assignment */
  params: bigint[];
  /** type of the aggregated value expression (null for count) */
  valueType: DType | null;
  line: number;
  /** assigned somewhere (printa of an aggregation never assigned is an error) */
  assigned: boolean;
}

abstract class ExprBase {
  /** set by the checker */
  type: DType | null = null;
  /** the variable or aggregation this node names, set by the checker */
  ref: VarInfo | AggInfo | null = null;
  constructor(readonly line: number) {}
}

export class IntLit extends ExprBase {
  readonly kind = N.Int;
  constructor(
    line: number,
    public value: bigint,
    /** lower-case suffix: "", "u", "l", "ul", "ll", "ull", or "char" for 'c' constants */
    readonly suffix: string,
    readonly decimal: boolean,
  ) {
    super(line);
  }
}

export class StrLit extends ExprBase {
  readonly kind = N.Str;
  constructor(
    line: number,
    readonly value: string,
  ) {
    super(line);
  }
}

/** What an identifier turned out to be, decided by the checker. */
export const enum IdentKind {
  Unresolved,
  Global,
  Builtin,
  EnumConst,
  Inline,
  Function,
  /** a `int a[N]` global array used whole */
  GlobalArray,
}

export class Ident extends ExprBase {
  readonly kind = N.Ident;
  resolved: IdentKind = IdentKind.Unresolved;
  /** enum constants: their value; inlines: the expression to substitute */
  constValue = 0n;
  inlineExpr: Expr | null = null;
  constructor(
    line: number,
    readonly name: string,
  ) {
    super(line);
  }
}

export class AggRef extends ExprBase {
  readonly kind = N.Agg;
  constructor(
    line: number,
    /** with its @: "@foo", "@_" for the anonymous aggregation */
    readonly name: string,
  ) {
    super(line);
  }
}

export class SelfVar extends ExprBase {
  readonly kind = N.SelfVar;
  constructor(
    line: number,
    readonly name: string,
  ) {
    super(line);
  }
}

export class ThisVar extends ExprBase {
  readonly kind = N.ThisVar;
  constructor(
    line: number,
    readonly name: string,
  ) {
    super(line);
  }
}

export class Index extends ExprBase {
  readonly kind = N.Index;
  /** set by the checker: assoc (dynamic array), agg (@a[...]), array (C array or pointer) */
  mode: 'assoc' | 'agg' | 'array' | 'args' | 'builtin' | 'fds' = 'assoc';
  constructor(
    line: number,
    readonly base: Expr,
    readonly args: Expr[],
  ) {
    super(line);
  }
}

export class Call extends ExprBase {
  readonly kind = N.Call;
  /** checker-attached details for code generation (format plans, aggregation info, ...) */
  data: unknown = null;
  constructor(
    line: number,
    readonly name: string,
    readonly args: Expr[],
  ) {
    super(line);
  }
}

export class Member extends ExprBase {
  readonly kind = N.Member;
  constructor(
    line: number,
    readonly base: Expr,
    readonly name: string,
    readonly arrow: boolean,
  ) {
    super(line);
  }
}

export type UnaryOp = '+' | '-' | '~' | '!' | '*' | '&' | '++' | '--';

export class Unary extends ExprBase {
  readonly kind = N.Unary;
  constructor(
    line: number,
    readonly op: UnaryOp,
    readonly operand: Expr,
  ) {
    super(line);
  }
}

export class Postfix extends ExprBase {
  readonly kind = N.Postfix;
  constructor(
    line: number,
    readonly op: '++' | '--',
    readonly operand: Expr,
  ) {
    super(line);
  }
}

export type BinaryOp = '*' | '/' | '%' | '+' | '-' | '<<' | '>>' | '<' | '>' | '<=' | '>=' | '==' | '!=' | '&' | '^' | '|';

export class Binary extends ExprBase {
  readonly kind = N.Binary;
  constructor(
    line: number,
    readonly op: BinaryOp,
    readonly left: Expr,
    readonly right: Expr,
  ) {
    super(line);
  }
}

export class Logical extends ExprBase {
  readonly kind = N.Logical;
  constructor(
    line: number,
    readonly op: '&&' | '||' | '^^',
    readonly left: Expr,
    readonly right: Expr,
  ) {
    super(line);
  }
}

export type AssignOp = '=' | '*=' | '/=' | '%=' | '+=' | '-=' | '<<=' | '>>=' | '&=' | '^=' | '|=';

export class Assign extends ExprBase {
  readonly kind = N.Assign;
  constructor(
    line: number,
    readonly op: AssignOp,
    readonly target: Expr,
    readonly value: Expr,
  ) {
    super(line);
  }
}

export class Ternary extends ExprBase {
  readonly kind = N.Ternary;
  constructor(
    line: number,
    readonly cond: Expr,
    readonly then: Expr,
    readonly otherwise: Expr,
  ) {
    super(line);
  }
}

export class Cast extends ExprBase {
  readonly kind = N.Cast;
  constructor(
    line: number,
    readonly to: DType,
    readonly operand: Expr,
  ) {
    super(line);
  }
}

export class SizeofType extends ExprBase {
  readonly kind = N.SizeofType;
  constructor(
    line: number,
    readonly of: DType,
  ) {
    super(line);
  }
}

export class SizeofExpr extends ExprBase {
  readonly kind = N.SizeofExpr;
  constructor(
    line: number,
    readonly operand: Expr,
  ) {
    super(line);
  }
}

export class Stringof extends ExprBase {
  readonly kind = N.Stringof;
  constructor(
    line: number,
    readonly operand: Expr,
  ) {
    super(line);
  }
}

export class Offsetof extends ExprBase {
  readonly kind = N.Offsetof;
  constructor(
    line: number,
    readonly of: DType,
    readonly member: string,
  ) {
    super(line);
  }
}

export class Xlate extends ExprBase {
  readonly kind = N.Xlate;
  constructor(
    line: number,
    readonly to: DType,
    readonly operand: Expr,
  ) {
    super(line);
  }
}

export class Comma extends ExprBase {
  readonly kind = N.Comma;
  constructor(
    line: number,
    readonly left: Expr,
    readonly right: Expr,
  ) {
    super(line);
  }
}

/**
 * Calls `fn` on each direct child expression of `e`, in source order: the one list of which
 * fields of a node are expressions, for every walker (the code generator's, the planner's). An
 * identifier's inline expression is not a child (it belongs to the inline's declaration), and
 * sizeof's operand is one although it is never evaluated: a walker that cares says so. A node
 * kind added to `Expr` and not here does not compile.
 */
export function forEachChild(e: Expr, fn: (child: Expr) => void): void {
  switch (e.kind) {
    case N.Int:
    case N.Str:
    case N.Ident:
    case N.Agg:
    case N.SelfVar:
    case N.ThisVar:
    case N.SizeofType:
    case N.Offsetof:
      return;
    case N.Index:
      fn(e.base);
      for (const a of e.args) fn(a);
      return;
    case N.Call:
      for (const a of e.args) fn(a);
      return;
    case N.Member:
      fn(e.base);
      return;
    case N.Unary:
    case N.Postfix:
    case N.Cast:
    case N.SizeofExpr:
    case N.Stringof:
    case N.Xlate:
      fn(e.operand);
      return;
    case N.Binary:
    case N.Logical:
    case N.Comma:
      fn(e.left);
      fn(e.right);
      return;
    case N.Assign:
      fn(e.target);
      fn(e.value);
      return;
    case N.Ternary:
      fn(e.cond);
      fn(e.then);
      fn(e.otherwise);
      return;
    default: {
      const unknown: never = e;
      throw new Error(`internal: unknown expression node ${(unknown as Expr).kind}`);
    }
  }
}

// -- statements ------------------------------------------------------------------------------

export type Stmt = ExprStmt | IfStmt;

export class ExprStmt {
  readonly kind = 'expr' as const;
  constructor(
    readonly line: number,
    readonly expr: Expr,
  ) {}
}

export class IfStmt {
  readonly kind = 'if' as const;
  constructor(
    readonly line: number,
    readonly cond: Expr,
    readonly then: Stmt[],
    readonly otherwise: Stmt[] | null,
  ) {}
}

// -- program items ---------------------------------------------------------------------------

export class ProbeSpec {
  constructor(
    readonly line: number,
    /** the specifier as written, e.g. "syscall::open*:entry" or "BEGIN" */
    readonly text: string,
    /** a numeric probe ID given instead of a name, or -1 */
    readonly id: number,
  ) {}
}

export class Clause {
  readonly kind = 'clause' as const;
  constructor(
    readonly line: number,
    readonly probes: ProbeSpec[],
    readonly predicate: Expr | null,
    /** null: no action list at all (default action); [] : an empty { } */
    readonly body: Stmt[] | null,
    /**
     * the line of the closing "}": the clause node's line in DTrace (made when that brace is
     * read), which errors raised while cooking the clause itself name (D_PRED_SCALAR)
     */
    readonly predicateLine = 0,
  ) {}
}

export type VarScope = 'global' | 'self' | 'this';

/** `int x;`, `self string s;`, `this int t;`, `int a[5];`, `int b[int, string];` */
export class VarDecl {
  readonly kind = 'var' as const;
  constructor(
    readonly line: number,
    readonly scope: VarScope,
    readonly name: string,
    readonly type: DType,
    /** associative array key types, or null for a scalar (or a C array, see `type`) */
    readonly keys: DType[] | null,
  ) {}
}

export class InlineDecl {
  readonly kind = 'inline' as const;
  constructor(
    readonly line: number,
    readonly name: string,
    readonly type: DType,
    /** the inline's own parameters, for `inline int f[int x] = ...` (unsupported forms error) */
    readonly expr: Expr,
  ) {}
}

export class TranslatorDecl {
  readonly kind = 'translator' as const;
  constructor(
    readonly line: number,
    readonly output: DType,
    readonly input: DType,
    readonly param: string,
    readonly members: Array<{ line: number; name: string; expr: Expr }>,
  ) {}
}

export class ProviderDecl {
  readonly kind = 'provider' as const;
  constructor(
    readonly line: number,
    readonly name: string,
    readonly probes: Array<{ name: string; args: DType[] }>,
  ) {}
}

/** A `#pragma D ...` line that must be applied in program order. */
export class PragmaItem {
  readonly kind = 'pragma' as const;
  constructor(
    readonly line: number,
    readonly words: string[],
  ) {}
}

export type Item = Clause | VarDecl | InlineDecl | TranslatorDecl | ProviderDecl | PragmaItem;

export class Program {
  constructor(readonly items: Item[]) {}
}
