// Aggregation statements: @a[keys] = fn(args). Key signatures, the aggregating function and
// the constant arguments of lquantize() and llquantize(), checked as DTrace's code generator
// checks them.                                               [dt_cg.c dt_cg_agg_*, dt_parser.c]

import * as A from './ast.js';
import { FnInfo, FnKind } from './builtins.js';
import type { CheckContext } from './check-context.js';
import { VOID, isScalar, resolve } from './types.js';

/** @a[keys] = fn(args): the aggregation statement. */
export function checkAggregation(c: CheckContext, e: A.Assign): A.Expr {
  const target = e.target;
  const aggNode = target.kind === A.N.Agg ? target : ((target as A.Index).base as A.AggRef);
  const agg = c.aggRef(aggNode, true);
  const v = e.value;
  if (e.op !== '=' ) c.err('D_OP_LVAL', e.line, `operator ${e.op} requires modifiable lvalue as an operand`);
  if (v.kind !== A.N.Call) c.err('D_AGG_FUNC', e.line, `@${agg.name} must be assigned the result of an aggregating function`);
  const fn = c.env.builtins.functions.get(v.name);
  if (!fn) c.err('D_FUNC_UNDEF', v.line, `undefined function name: ${v.name}`);
  if (fn.kind !== FnKind.Agg) c.err('D_AGG_FUNC', e.line, `@${agg.name} must be assigned the result of an aggregating function`);
  if (agg.fn !== null && agg.fn !== v.name) {
    c.err(
      'D_AGG_REDEF',
      e.line,
      `aggregation redefined: @${agg.name}\n\t current: @${agg.name} = ${v.name}( )\n\tprevious: @${agg.name} = ${agg.fn}( ) : line ${agg.line}`,
    );
  }
  // keys (their names before checking: a checked key may be another node)
  const keyNames = target.kind === A.N.Index ? target.args.map((k) => (k.kind === A.N.Ident ? (k as A.Ident).name : null)) : [];
  const keys = target.kind === A.N.Index ? target.args.map((k) => c.expr(k)) : [];
  const keyTypes = keys.map((k) => c.keyType(k.type!));
  c.checkKeys(keys, 'aggregation');
  if (agg.keys === null) {
    agg.keys = keyTypes;
    agg.keyNames = keyNames;
  } else {
    if (agg.keys.length !== keys.length) {
      c.err(
        'D_PROTO_LEN',
        e.line,
        `@${agg.name}[ ] prototype mismatch: ${keys.length} key${keys.length === 1 ? ' ' : 's '}passed, ${agg.keys.length} expected`,
      );
    }
    keys.forEach((k, i) => {
      if (!c.keyCompatible(agg.keys![i], k)) {
        c.err(
          'D_PROTO_ARG',
          e.line,
          `@${agg.name}[ ] key #${i + 1} is incompatible with prototype:\n\tprototype: ${agg.keys![i].name}\n\t      key: ${k.type!.name}`,
        );
      }
    });
  }
  if (target.kind === A.N.Index) {
    target.mode = 'agg';
    target.ref = agg;
  }
  aggFunction(c, v, fn, agg);
  if (agg.fn === null) agg.line = e.line;
  agg.fn = v.name;
  agg.assigned = true;
  e.type = VOID;
  e.ref = agg;
  return e;
}

function aggFunction(c: CheckContext, call: A.Call, fn: FnInfo, agg: A.AggInfo): void {
  const args = call.args.map((a) => c.expr(a));
  const name = call.name;
  const needsValue = name !== 'count';
  const argc = args.length;
  const want = fn.proto.params.length;
  if (name === 'count') {
    if (argc !== 0) c.err('D_PROTO_LEN', call.line, `count( ) prototype mismatch: ${argc} arg${argc === 1 ? ' ' : 's '}passed, 0 expected`);
  } else if (name === 'quantize' || name === 'lquantize' || name === 'llquantize') {
    if (argc < want) {
      c.err('D_PROTO_LEN', call.line, `${name}( ) prototype mismatch: ${argc} arg${argc === 1 ? ' ' : 's '}passed, at least ${want} expected`);
    }
    const extraAllowed = name === 'lquantize' ? 2 : 1;
    if (argc > want + extraAllowed) {
      c.err('D_PROTO_LEN', call.line, `${name}( ) prototype mismatch: ${argc} args passed, at most ${want + extraAllowed} expected`);
    }
  } else if (argc !== want) {
    c.err('D_PROTO_LEN', call.line, `${name}( ) prototype mismatch: ${argc} arg${argc === 1 ? ' ' : 's '}passed, ${want} expected`);
  }
  if (needsValue) {
    const vt = args[0].type!;
    if (!isScalar(vt)) {
      c.err('D_AGG_SCALAR', call.line, `${name}( ) argument #1 must be of scalar type`);
    }
    agg.valueType = vt;
  }
  const params: bigint[] = [];
  const u64 = (v: bigint) => BigInt.asUintN(64, v);
  const posconst = (v: bigint | null, e: A.Expr) => v !== null && v !== 0n && (!resolve(e.type!).signed || v > 0n);
  if (name === 'lquantize') {
    const base = c.constValue(args[1]);
    if (base === null) c.err('D_LQUANT_BASETYPE', args[1].line, 'lquantize( ) argument #1 must be an integer constant');
    if (base < -0x80000000n || base > 0x7fffffffn) c.err('D_LQUANT_BASEVAL', args[1].line, 'lquantize( ) argument #1 must be a 32-bit quantity');
    const limit = c.constValue(args[2]);
    if (limit === null) c.err('D_LQUANT_LIMTYPE', args[2].line, 'lquantize( ) argument #2 must be an integer constant');
    if (limit < -0x80000000n || limit > 0x7fffffffn) c.err('D_LQUANT_LIMVAL', args[2].line, 'lquantize( ) argument #2 must be a 32-bit quantity');
    if (limit <= base) c.err('D_LQUANT_MISMATCH', call.line, 'lquantize( ) base (argument #1) must be less than limit (argument #2)');
    let step = 1n;
    if (argc > 3) {
      const sv = c.constValue(args[3]);
      if (!posconst(sv, args[3])) {
        c.err('D_LQUANT_STEPTYPE', args[3].line, 'lquantize( ) argument #3 must be a non-zero positive integer constant');
      }
      step = u64(sv!);
      if (step > 0xffffn) c.err('D_LQUANT_STEPVAL', args[3].line, 'lquantize( ) argument #3 must be a 16-bit quantity');
    }
    const nlevels = (limit - base) / step;
    if (nlevels === 0n) {
      c.err('D_LQUANT_STEPLARGE', call.line, 'lquantize( ) step (argument #3) too large: must have at least one quantization level');
    }
    if (nlevels > 0xffffn) {
      c.err('D_LQUANT_STEPSMALL', call.line, 'lquantize( ) step (argument #3) too small: number of quantization levels must be a 16-bit quantity');
    }
    params.push(base, limit, step);
    if (agg.params.length && (agg.params[0] !== base || agg.params[1] !== limit || agg.params[2] !== step)) {
      if (agg.params[0] !== base) c.err('D_LQUANT_MATCHBASE', call.line, `lquantize( ) base (argument #1) doesn't match previous declaration: expected ${agg.params[0]}, found ${base}`);
      if (agg.params[1] !== limit) c.err('D_LQUANT_MATCHLIM', call.line, `lquantize( ) limit (argument #2) doesn't match previous declaration: expected ${agg.params[1]}, found ${limit}`);
      c.err('D_LQUANT_MATCHSTEP', call.line, `lquantize( ) step (argument #3) doesn't match previous declaration: expected ${agg.params[2]}, found ${step}`);
    }
    if (argc > 4) aggIncrement(c, call, args[4], 5);
  } else if (name === 'llquantize') {
    const fv = c.constValue(args[1]);
    if (fv === null) c.err('D_LLQUANT_FACTORTYPE', args[1].line, 'llquantize( ) argument #1 must be an integer constant');
    const factor = u64(fv);
    if (factor < 2n || factor > 0xffffn) c.err('D_LLQUANT_FACTORVAL', args[1].line, 'llquantize( ) argument #1 must be an unsigned 16-bit quantity greater than or equal to 2');
    const lv = c.constValue(args[2]);
    if (lv === null) c.err('D_LLQUANT_LMAGTYPE', args[2].line, 'llquantize( ) argument #2 must be an integer constant');
    const low = u64(lv);
    if (low > 0xffffn) c.err('D_LLQUANT_LMAGVAL', args[2].line, 'llquantize( ) argument #2 must be an unsigned 16-bit quantity');
    const hv = c.constValue(args[3]);
    if (hv === null) c.err('D_LLQUANT_HMAGTYPE', args[3].line, 'llquantize( ) argument #3 must be an integer constant');
    const high = u64(hv);
    if (high > 0xffffn) c.err('D_LLQUANT_HMAGVAL', args[3].line, 'llquantize( ) argument #3 must be an unsigned 16-bit quantity');
    if (high < low) c.err('D_LLQUANT_HMAGVAL', args[3].line, 'llquantize( ) argument #3 (high magnitude) must be at least argument #2 (low magnitude)');
    if (factor ** (high + 1n) > 0xffffffffffffffffn) {
      c.err('D_LLQUANT_HMAGVAL', args[3].line, 'llquantize( ) argument #3 (high magnitude) will cause overflow of 64 bits');
    }
    const sv = c.constValue(args[4]);
    if (!posconst(sv, args[4])) c.err('D_LLQUANT_STEPTYPE', args[4].line, 'llquantize( ) argument #4 must be a non-zero positive integer constant');
    const steps = u64(sv!);
    if (steps > 0xffffn) c.err('D_LLQUANT_STEPVAL', args[4].line, 'llquantize( ) argument #4 must be an unsigned 16-bit quantity');
    if (steps < factor && factor % steps !== 0n) {
      c.err('D_LLQUANT_STEPVAL', args[1].line, 'llquantize() argument #4 (steps) must evenly divide argument #1 (factor) when steps<factor');
    }
    if (steps > factor) {
      if (steps % factor !== 0n) {
        c.err('D_LLQUANT_STEPVAL', args[1].line, 'llquantize() argument #4 (steps) must be a multiple of argument #1 (factor) when steps>factor');
      }
      if (low === 0n) {
        if ((factor * factor) % steps !== 0n) {
          c.err('D_LLQUANT_STEPVAL', args[1].line, 'llquantize() argument #4 (steps) must evenly divide the square of argument #1 (factor) when steps>factor and lmag==0');
        }
      } else if (factor ** (low + 1n) % steps !== 0n) {
        c.err('D_LLQUANT_STEPVAL', args[1].line, 'llquantize() argument #4 (steps) must evenly divide pow(argument #1 (factor), lmag (argument #2) + 1) when steps>factor and lmag>0');
      }
    }
    params.push(factor, low, high, steps);
    if (agg.params.length) {
      if (agg.params[0] !== factor) c.err('D_LLQUANT_MATCHFACTOR', call.line, `llquantize() factor (argument #1) doesn't match previous declaration: expected ${agg.params[0]}, found ${factor}`);
      if (agg.params[1] !== low) c.err('D_LLQUANT_MATCHLMAG', call.line, `llquantize() lmag (argument #2) doesn't match previous declaration: expected ${agg.params[1]}, found ${low}`);
      if (agg.params[2] !== high) c.err('D_LLQUANT_MATCHHMAG', call.line, `llquantize() hmag (argument #3) doesn't match previous declaration: expected ${agg.params[2]}, found ${high}`);
      if (agg.params[3] !== steps) c.err('D_LLQUANT_MATCHSTEPS', call.line, `llquantize() steps (argument #4) doesn't match previous declaration: expected ${agg.params[3]}, found ${steps}`);
    }
    if (argc > 5) aggIncrement(c, call, args[5], 6);
  } else if (name === 'quantize') {
    if (argc > 1) aggIncrement(c, call, args[1], 2);
  }
  agg.params = params;
  call.type = VOID;
}

function aggIncrement(c: CheckContext, call: A.Call, incr: A.Expr, n: number): void {
  if (!isScalar(incr.type!)) {
    c.err('D_PROTO_ARG', incr.line, `${call.name}( ) increment value (argument #${n}) must be of scalar type`);
  }
}

