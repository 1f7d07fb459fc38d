// Action statements: trace, printf, printa, exit, speculate, ... Their arguments, and the
// order rules DTrace enforces within a clause.                       [dt_cg.c dt_cg_act_*]

import * as A from './ast.js';
import { FnInfo } from './builtins.js';
import type { CheckContext } from './check-context.js';
import { AGGREGATION_ARG } from './printf-parse.js';
import { VOID, isInteger, isPointer, isStringLike, isVoid, sameType } from './types.js';

/** An action statement: its arguments, and where it may stand in the clause. */
export function checkAction(c: CheckContext, call: A.Call, fn: FnInfo): void {
  const name = call.name;
  const args = call.args;
  call.type = VOID;
  switch (name) {
    case 'printf':
    case 'system':
    case 'freopen': {
      if (args.length === 0) {
        c.err('D_PROTO_LEN', call.line, `${name}( ) prototype mismatch: 0 args passed, at least 1 expected`);
      }
      for (const a of args) c.expr(a);
      if (!isStringLike(args[0].type!)) {
        c.err(
          'D_PROTO_ARG',
          call.line,
          `${name}( ) argument #1 is incompatible with prototype:\n\tprototype: string\n\t argument: ${args[0].type!.name}`,
        );
      }
      if (args[0].kind !== A.N.Str) {
        c.err(
          'D_PRINTF_ARG_FMT',
          call.line,
          `${name}( ) argument #1 is incompatible with prototype:\n\tprototype: string constant\n\t argument: ${args[0].type!.name}`,
        );
      }
      call.data = c.env.formats.check(name, args[0].value, args.slice(1), call.line, null);
      c.clsFlags(name, call.line);
      return;
    }
    case 'printa': {
      let fmt: string | null = null;
      let rest = args;
      if (args.length > 0 && args[0].kind === A.N.Str) {
        fmt = args[0].value;
        rest = args.slice(1);
      }
      const argr = fmt !== null ? 2 : 1;
      if (args.length === 0) {
        c.err('D_PROTO_LEN', call.line, 'printa( ) prototype mismatch: 0 args passed, at least 1 expected');
      }
      if (args.length < argr) {
        c.err('D_PRINTA_PROTO', call.line, `printa( ) prototype mismatch: ${args.length} args passed, ${argr} expected`);
      }
      let first: A.AggInfo | null = null;
      rest.forEach((a, i) => {
        if (a.kind !== A.N.Agg) {
          c.expr(a);
          c.err(
            'D_PRINTA_AGGARG',
            call.line,
            `printa( ) argument #${i + argr} is incompatible with prototype:\n\tprototype: aggregation\n\t argument: ${a.type!.name}`,
          );
        }
        const agg = c.aggRef(a, false);
        if (!agg.assigned) c.err('D_PRINTA_AGGBAD', call.line, `undefined aggregation: @${agg.name}`);
        if (first) printaKeys(c, first, agg, call.line);
        if (!first) first = agg;
      });
      call.data = fmt !== null ? c.env.formats.check('printa', fmt, [], call.line, first) : null;
      c.clsFlags('printa', call.line);
      return;
    }
    case 'clear':
    case 'trunc':
    case 'normalize':
    case 'denormalize': {
      const tagBase = name === 'clear' ? 'D_CLEAR' : name === 'trunc' ? 'D_TRUNC' : 'D_NORMALIZE';
      const min = name === 'normalize' ? 2 : 1;
      const max = name === 'clear' || name === 'denormalize' ? 1 : 2;
      if (args.length < min || args.length > max) {
        const exp = min === max ? `${min}` : args.length < min ? `at least ${min}` : `at most ${max}`;
        c.err('D_PROTO_LEN', call.line, `${name}( ) prototype mismatch: ${args.length} arg${args.length === 1 ? '' : 's'} passed, ${exp} expected`);
      }
      const a0 = args[0];
      if (a0.kind !== A.N.Agg) {
        c.expr(a0);
        c.err(
          `${tagBase}_AGGARG`,
          call.line,
          `${name}( ) argument #1 is incompatible with prototype:\n\tprototype: aggregation\n\t argument: ${a0.type!.name}`,
        );
      }
      const agg = c.aggRef(a0, false);
      if (!agg.assigned) c.err(`${tagBase}_AGGBAD`, call.line, `undefined aggregation: @${agg.name}`);
      if (args.length > 1) {
        const n = c.expr(args[1]);
        if (!isInteger(n.type!)) c.protoArg(name, 2, n, name === 'normalize' ? 'uint64_t' : 'int64_t');
      }
      c.clsFlags(name, call.line);
      return;
    }
    case 'trace': {
      c.protoLen(call, fn.proto);
      const a = c.expr(args[0]);
      if (a.type === AGGREGATION_ARG) c.err('D_TRACE_DYN', a.line, 'trace( ) may not be applied to a dynamic expression');
      if (isVoid(a.type!)) c.err('D_TRACE_VOID', a.line, 'trace( ) may not be applied to a void expression');
      c.clsFlags(name, call.line);
      return;
    }
    case 'tracemem': {
      c.protoLen(call, fn.proto);
      const a = c.expr(args[0]);
      if (!isInteger(a.type!) && !isPointer(a.type!)) {
        c.err(
          'D_TRACEMEM_ADDR',
          a.line,
          `tracemem( ) argument #1 is incompatible with prototype:\n\tprototype: pointer or integer\n\t argument: ${a.type!.name}`,
        );
      }
      const n = c.expr(args[1]);
      if (!isInteger(n.type!)) c.protoArg('tracemem', 2, n, 'size_t');
      const nv = c.constValue(n);
      if (nv === null || nv <= 0n) {
        c.err('D_TRACEMEM_SIZE', n.line, 'tracemem( ) argument #2 must be a non-zero positive integral constant expression');
      }
      if (args[2]) c.expr(args[2]);
      c.clsFlags(name, call.line);
      return;
    }
    case 'print': {
      c.protoLen(call, fn.proto);
      const a = c.expr(args[0]);
      if (isVoid(a.type!)) c.err('D_PROTO_ARG', a.line, 'print( ) argument #1 is incompatible with prototype:\n\tprototype: void *\n\t argument: void');
      // Oracle's prototype is void * (the pointee is printed); illumos prints any value with its
      // type ("char 'a'"), and so do we, but for a bare integer literal, which has no type
      // worth showing: Oracle refuses print(1) and so do we
      if (args[0].kind === A.N.Int) c.protoArgs(call, fn.proto);
      c.clsFlags(name, call.line);
      return;
    }
    case 'speculate':
    case 'commit':
    case 'discard': {
      c.protoArgs(call, fn.proto);
      c.clsFlags(name, call.line);
      return;
    }
    case 'exit':
    case 'raise':
    case 'chill':
    case 'stop':
    case 'panic':
    case 'breakpoint':
      c.protoArgs(call, fn.proto);
      c.clsFlags(name, call.line);
      return;
    case 'setopt': {
      c.protoArgs(call, fn.proto);
      c.clsFlags(name, call.line);
      return;
    }
    case 'stack':
    case 'ustack':
    case 'jstack': {
      c.protoArgs(call, fn.proto);
      args.forEach((a, i) => {
        const v = c.constValue(a);
        if (i === 1) {
          // the string size may be zero (dt_cg_stack_arg)
          if (v === null || v < 0n) c.err('D_USTACK_STRSIZE', a.line, `${name}( ) argument #2 must be a positive integer constant`);
        } else if (v === null || v <= 0n) {
          const tag = name === 'stack' ? 'D_STACK_SIZE' : 'D_USTACK_FRAMES';
          c.err(tag, a.line, `${name}( ) argument #${i + 1} must be a non-zero positive integer constant`);
        }
      });
      c.clsFlags(name, call.line);
      return;
    }
    default:
      c.protoArgs(call, fn.proto);
      c.clsFlags(name, call.line);
  }
}

/** dt_printa_validate: aggregations printed together need matching key signatures. */
function printaKeys(c: CheckContext, l: A.AggInfo, r: A.AggInfo, line: number): void {
  const lk = l.keys ?? [];
  const rk = r.keys ?? [];
  if (lk.length !== rk.length) {
    const s = (n: number) => (n === 1 ? '' : 's');
    c.err(
      'D_PRINTA_AGGKEY',
      line,
      `printa( ): @${l.name} and @${r.name} do not have matching key signatures: @${l.name} has ${lk.length} key${s(lk.length)}, @${r.name} has ${rk.length} key${s(rk.length)}`,
    );
  }
  lk.forEach((t, i) => {
    const u = rk[i];
    const ok = (isInteger(t) && isInteger(u)) || (isStringLike(t) && isStringLike(u)) || sameType(t, u);
    if (!ok) {
      c.err(
        'D_PRINTA_AGGPROTO',
        line,
        `printa( ): @${r.name}[ ] key #${i + 1} is incompatible with @${l.name}:\n${l.name.padStart(9)} key #${i + 1}: ${t.name}\n${r.name.padStart(9)} key #${i + 1}: ${u.name}`,
      );
    }
  });
}


