// What one firing of a clause takes in the principal buffer, laid out as DTrace lays out an
// enabled probe's records: the 4-byte enabled probe ID, then one record per data-recording
// action, each aligned to the largest power of two (up to 8) that divides its size. `needed` is
// what a firing reserves before its predicate runs, `size` what it keeps once it completes.
// The buffer policies (switch, ring, fill) count these bytes.     [illumos dtrace.c dtrace_ecb_resize]

import * as A from '../lang/ast.js';
import type { CheckedClause } from '../lang/check.js';
import { DType, Kind, resolve } from '../lang/types.js';

export interface RecordLayout {
  /** bytes reserved before the clause runs (0: nothing) */
  needed: number;
  /** bytes the record keeps once the clause completed (0: it writes none) */
  size: number;
  /** alignment of the record's start */
  align: number;
}

/** The option values record sizes depend on. */
export interface RecordOptions {
  strsize: number;
  stackframes: number;
  ustackframes: number;
  jstackframes: number;
  jstackstrsize: number;
}

const EPID = 4;

/** A record's alignment: the largest power of two up to 8 that divides its size. */
function alignOf(size: number): number {
  if (size === 0) return 1;
  for (let a = 8; a > 1; a >>= 1) if (size % a === 0) return a;
  return 1;
}

/** The size DTrace records for a value of type t (dtdt_size; strings take strsize). */
function valueSize(t: DType | null, o: RecordOptions): number {
  if (t === null) return 8;
  const r = resolve(t);
  if (r.kind === Kind.String) return o.strsize;
  if (r.kind === Kind.Void) return 0;
  return r.size > 0 ? r.size : 8;
}

/** The records one action statement writes, in order (sizes; an aggregation's are apart). */
function actionRecords(e: A.Expr, o: RecordOptions, recs: number[], aggs: number[][]): void {
  if (e.kind === A.N.Assign && e.ref && 'fn' in e.ref) {
    // an aggregation: its key records and its data (reserved, not kept)
    const keys = (e.ref.keys ?? []).map((k) => valueSize(k, o));
    aggs.push([...keys, 8]);
    return;
  }
  if (e.kind !== A.N.Call) return;
  const a = e.args;
  switch (e.name) {
    case 'trace':
      recs.push(valueSize(a[0].type, o));
      return;
    case 'print':
      recs.push(resolve(a[0].type!).kind === Kind.Pointer ? 8 : valueSize(a[0].type, o));
      return;
    case 'printf':
    case 'printa':
    case 'system':
    case 'freopen':
      if (a.length <= 1) recs.push(8);
      else for (let i = 1; i < a.length; i++) recs.push(a[i].kind === A.N.Agg ? 8 : valueSize(a[i].type, o));
      return;
    case 'tracemem': {
      if (a[2]) recs.push(valueSize(a[2].type, o));
      const n = a[1].kind === A.N.Int ? Number((a[1] as A.IntLit).value) : 0;
      recs.push(n);
      return;
    }
    case 'stack':
      recs.push(8 * (a[0] && a[0].kind === A.N.Int ? Number((a[0] as A.IntLit).value) : o.stackframes));
      return;
    case 'ustack':
    case 'jstack': {
      const java = e.name === 'jstack';
      const frames = a[0] && a[0].kind === A.N.Int ? Number((a[0] as A.IntLit).value) : java ? o.jstackframes : o.ustackframes;
      const strsize = a[1] && a[1].kind === A.N.Int ? Number((a[1] as A.IntLit).value) : java ? o.jstackstrsize : 0;
      recs.push(Math.ceil(((frames + 1) * 8 + strsize) / 8) * 8);
      return;
    }
    case 'sym':
    case 'mod':
    case 'func':
      recs.push(8);
      return;
    case 'usym':
    case 'umod':
    case 'ufunc':
    case 'uaddr':
      recs.push(16);
      return;
    case 'exit':
      recs.push(4);
      return;
    case 'setopt':
      recs.push(o.strsize);
      if (a[1]) recs.push(o.strsize);
      return;
    case 'clear':
    case 'trunc':
    case 'normalize':
    case 'denormalize':
    case 'ftruncate':
      recs.push(8);
      if ((e.name === 'trunc' || e.name === 'normalize') && a[1]) recs.push(8);
      return;
    default:
      // speculate, commit, discard, chill, raise, stop, ...: nothing recorded
      return;
  }
}

function collect(stmts: A.Stmt[], o: RecordOptions, recs: number[], aggs: number[][], kinds: string[]): void {
  for (const s of stmts) {
    if (s.kind === 'if') {
      collect(s.then, o, recs, aggs, kinds);
      if (s.otherwise) collect(s.otherwise, o, recs, aggs, kinds);
      continue;
    }
    kinds.push(s.expr.kind === A.N.Call ? s.expr.name : '');
    actionRecords(s.expr, o, recs, aggs);
  }
}

/** The principal-buffer layout of one clause's firing. */
export function recordLayout(cc: CheckedClause, o: RecordOptions): RecordLayout {
  const body = cc.clause.body ?? [];
  const recs: number[] = [];
  const aggs: number[][] = [];
  const kinds: string[] = [];
  collect(body, o, recs, aggs, kinds);
  let offs = EPID;
  let needed = EPID;
  let size = EPID;
  let maxAlign = EPID;
  for (const r of recs) {
    const al = alignOf(r);
    if (al > maxAlign) maxAlign = al;
    if (r !== 0 && offs % al !== 0) offs += al - (offs % al);
    if (offs + r > needed) needed = offs + r;
    size = offs + r;
    offs += r;
  }
  // aggregations: the tuple starts at offset 4 of an 8-byte block (after the aggregation ID);
  // their records are reserved past the kept ones but not kept
  for (const keys of aggs) {
    let o2 = offs;
    if ((o2 + 4) % 8 !== 0) o2 += 8 - ((o2 + 4) % 8);
    for (const r of keys) {
      const al = alignOf(r);
      if (al > maxAlign) maxAlign = al;
      if (r !== 0 && o2 % al !== 0) o2 += al - (o2 % al);
      o2 += r;
      if (o2 > needed) needed = o2;
    }
  }
  if (body.length === 0) return { needed: EPID, size: EPID, align: EPID };
  const onlySpeculate = kinds.length === 1 && kinds[0] === 'speculate';
  if (!onlySpeculate && size === EPID) {
    // no action keeps data: nothing is written
    return { needed: needed === EPID ? 0 : roundUp(needed, EPID), size: 0, align: maxAlign };
  }
  return { needed: roundUp(needed, EPID), size: roundUp(size, EPID), align: maxAlign };
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
