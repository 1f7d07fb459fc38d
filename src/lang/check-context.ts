// What the checker's helpers (check-actions.ts, check-aggs.ts) may ask of the checker: a small
// interface that check.ts's Checker implements, so the helpers import it and not check.ts.

import type * as A from './ast.js';
import type { Builtins, Prototype } from './builtins.js';
import type { ErrTag } from './errtags.js';
import type { DType } from './types.js';

/** Format-string services (printf, printa, system, freopen); supplied by the runtime's printf module. */
export interface FormatChecker {
  /** parse + validate a format against its argument types; returns a plan for code generation */
  check(fn: string, format: string, args: A.Expr[], line: number, aggregation: A.AggInfo | null): unknown;
}

export interface CheckContext {
  readonly env: { readonly builtins: Builtins; readonly formats: FormatChecker };
  /** raises a compile error at `line` (in the current region) */
  err(tag: ErrTag, line: number, message: string): never;
  /** checks an expression: resolves it and sets its type; returns the node to use in its place */
  expr(e: A.Expr): A.Expr;
  /** an integer constant expression's value, or null if it is not one */
  constValue(e: A.Expr): bigint | null;
  /** records an action of this kind in the clause, refusing an order DTrace refuses (after speculate, commit...) */
  clsFlags(kind: string, line: number): void;
  /** refuses too few or too many arguments for a prototype (D_PROTO_LEN) */
  protoLen(call: A.Call, p: Prototype): void;
  /** checks each argument against its prototype (D_PROTO_ARG) */
  protoArgs(call: A.Call, p: Prototype): void;
  /** raises D_PROTO_ARG: argument n of fn is not of the prototype's type */
  protoArg(fn: string, n: number, e: A.Expr, proto: string): never;
  /** checks the keys of an associative array or aggregation (kind names it in messages) */
  checkKeys(keys: A.Expr[], kind: string): void;
  /** the type a key of type t is stored as */
  keyType(t: DType): DType;
  /** whether key expression k may be used where a key of type want was declared */
  keyCompatible(want: DType, k: A.Expr): boolean;
  /** the aggregation an @name or @name[...] refers to, created if `create` */
  aggRef(e: A.Expr, create: boolean): A.AggInfo;
}
