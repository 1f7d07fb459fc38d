// printf()-family formats at compile time: the conversion dictionary, the parse of a format
// (dt_printf_create) and the check of its arguments (dt_printf_validate), which together make
// the FormatPlan that runtime/printf.ts fills in per event.                     [dt_printf.c]

import { DCompileError } from './diagnostics.js';
import type { ErrTag } from './errtags.js';
import { DType, Kind, VOID, intType, isCharArray, resolve, typedefOf } from './types.js';

/** Conversion flags, as parsed from the format (DT_PFCONV_*). */
export const F_ALT = 0x1;
export const F_ZPAD = 0x2;
export const F_LEFT = 0x4;
export const F_SPOS = 0x8;
export const F_DYNWIDTH = 0x10;
export const F_DYNPREC = 0x20;
export const F_GROUP = 0x40;
export const F_SPACE = 0x80;
export const F_AGG = 0x100;

export type FormatKind = 'printf' | 'printa' | 'system' | 'freopen';

/**
 * The type of an argument that is an aggregation (`printf("%d", @a)`): it is incompatible with
 * every conversion and prints as "aggregation" in messages, as DTrace's <DYN> node does.
 */
export const AGGREGATION_ARG: DType = typedefOf('aggregation', VOID);

/**
 * D's special types, typedefs of void that only some conversions accept: stack() and
 * ustack() results (%k), sym()/func()/mod() results (%a), usym()/ufunc()/uaddr() results (%A).
 * Any typedef of void with these names is recognized.
 */
export const STACK_TYPE: DType = typedefOf('stack', VOID);
export const SYMADDR_TYPE: DType = typedefOf('_symaddr', VOID);
export const USYMADDR_TYPE: DType = typedefOf('_usymaddr', VOID);

/** What the value of a %@ conversion is checked against: count() is unsigned, all else signed. */
const AGG_SIGNED = typedefOf('int64_t', intType('long', 8, true));
const AGG_UNSIGNED = typedefOf('uint64_t', intType('unsigned long', 8, false));

// -- the conversion dictionary ------------------------------------------------------------------

// how an argument is checked (pfcheck_*)
const C_KADDR = 0;
const C_UADDR = 1;
const C_STACK = 2;
const C_TIME = 3;
const C_STR = 4;
const C_WSTR = 5;
const C_CSI = 6;
const C_FP = 7;
const C_XINT = 8;
const C_DINT = 9;
const C_XSHORT = 10;
const C_XLONG = 11;
const C_XLONGLONG = 12;
const C_TYPE = 13;
const C_ADDR = 14;
const C_NONE = 15;

// how a value is printed (pfprint_*)
export const P_SINT = 0;
export const P_UINT = 1;
export const P_DINT = 2;
export const P_FP = 3;
export const P_ADDR = 4;
export const P_UADDR = 5;
export const P_STACK = 6;
export const P_TIME = 7;
export const P_TIME822 = 8;
export const P_CSTR = 9;
export const P_WSTR = 10;
export const P_ESTR = 11;
export const P_ECHR = 12;
export const P_PCT = 13;
/** illumos's %I and %P: an address's host name, a port's service name */
export const P_INETADDR = 14;
export const P_PORT = 15;

interface ConvDef {
  /** the conversion's name as written: "d", "lld", "hx" */
  name: string;
  /** the printf(3) conversion it turns into: "d", "x", "s", "lc" */
  ofmt: string;
  /** the prototype named in D_PRINTF_ARG_TYPE messages */
  proto: string;
  check: number;
  print: number;
  /** C_TYPE: the type the argument must be compatible with (kind, size, signedness) */
  tkind?: Kind;
  tsize?: number;
  tsigned?: boolean;
}

const PROTO_XINT = 'char, short, int, long, or long long';
const PROTO_CSI = 'char, short, or int';
const PROTO_FP = 'float, double, or long double';
const PROTO_ADDR = 'pointer or integer';
const PROTO_UADDR = 'pointer or integer (with -p/-c) or _usymaddr (without -p/-c)';
const PROTO_CSTR = 'char [] or string (or use stringof)';
const PROTO_WSTR = 'wchar_t []';

function conv(name: string, ofmt: string, proto: string, check: number, print: number): ConvDef {
  return { name, ofmt, proto, check, print };
}

function typed(name: string, ofmt: string, proto: string, print: number, k: Kind, size: number, signed: boolean): ConvDef {
  return { name, ofmt, proto, check: C_TYPE, print, tkind: k, tsize: size, tsigned: signed };
}

const CONVERSIONS = new Map<string, ConvDef>();
for (const c of [
  conv('a', 's', PROTO_ADDR, C_KADDR, P_ADDR),
  conv('A', 's', PROTO_UADDR, C_UADDR, P_UADDR),
  conv('c', 'c', PROTO_CSI, C_CSI, P_SINT),
  conv('C', 's', PROTO_CSI, C_CSI, P_ECHR),
  conv('d', 'd', PROTO_XINT, C_DINT, P_DINT),
  conv('e', 'e', PROTO_FP, C_FP, P_FP),
  conv('E', 'E', PROTO_FP, C_FP, P_FP),
  conv('f', 'f', PROTO_FP, C_FP, P_FP),
  conv('g', 'g', PROTO_FP, C_FP, P_FP),
  conv('G', 'G', PROTO_FP, C_FP, P_FP),
  typed('hd', 'd', 'short', P_SINT, Kind.Int, 2, true),
  typed('hi', 'i', 'short', P_SINT, Kind.Int, 2, true),
  typed('ho', 'o', 'unsigned short', P_UINT, Kind.Int, 2, false),
  typed('hu', 'u', 'unsigned short', P_UINT, Kind.Int, 2, false),
  conv('hx', 'x', 'short', C_XSHORT, P_UINT),
  conv('hX', 'X', 'short', C_XSHORT, P_UINT),
  conv('i', 'i', PROTO_XINT, C_DINT, P_DINT),
  conv('I', 's', PROTO_CSTR, C_STR, P_INETADDR),
  conv('k', 's', 'stack', C_STACK, P_STACK),
  typed('lc', 'lc', 'int', P_SINT, Kind.Int, 4, true),
  typed('ld', 'd', 'long', P_SINT, Kind.Int, 8, true),
  typed('li', 'i', 'long', P_SINT, Kind.Int, 8, true),
  typed('lo', 'o', 'unsigned long', P_UINT, Kind.Int, 8, false),
  typed('lu', 'u', 'unsigned long', P_UINT, Kind.Int, 8, false),
  conv('ls', 'ls', PROTO_WSTR, C_WSTR, P_WSTR),
  conv('lx', 'x', 'long', C_XLONG, P_UINT),
  conv('lX', 'X', 'long', C_XLONG, P_UINT),
  typed('lld', 'd', 'long long', P_SINT, Kind.Int, 8, true),
  typed('lli', 'i', 'long long', P_SINT, Kind.Int, 8, true),
  typed('llo', 'o', 'unsigned long long', P_UINT, Kind.Int, 8, false),
  typed('llu', 'u', 'unsigned long long', P_UINT, Kind.Int, 8, false),
  conv('llx', 'x', 'long long', C_XLONGLONG, P_UINT),
  conv('llX', 'X', 'long long', C_XLONGLONG, P_UINT),
  typed('Le', 'e', 'long double', P_FP, Kind.Float, 16, false),
  typed('LE', 'E', 'long double', P_FP, Kind.Float, 16, false),
  typed('Lf', 'f', 'long double', P_FP, Kind.Float, 16, false),
  typed('Lg', 'g', 'long double', P_FP, Kind.Float, 16, false),
  typed('LG', 'G', 'long double', P_FP, Kind.Float, 16, false),
  conv('o', 'o', PROTO_XINT, C_XINT, P_UINT),
  conv('p', 'x', PROTO_ADDR, C_ADDR, P_UINT),
  typed('P', 's', 'uint16_t', P_PORT, Kind.Int, 2, false),
  conv('s', 's', PROTO_CSTR, C_STR, P_CSTR),
  conv('S', 's', PROTO_CSTR, C_STR, P_ESTR),
  conv('T', 's', 'int64_t', C_TIME, P_TIME822),
  conv('u', 'u', PROTO_XINT, C_XINT, P_UINT),
  typed('wc', 'wc', 'int', P_SINT, Kind.Int, 4, true),
  conv('ws', 'ws', PROTO_WSTR, C_WSTR, P_WSTR),
  conv('x', 'x', PROTO_XINT, C_XINT, P_UINT),
  conv('X', 'X', PROTO_XINT, C_XINT, P_UINT),
  conv('Y', 's', 'int64_t', C_TIME, P_TIME),
  conv('%', '%', 'void', C_NONE, P_PCT),
]) {
  CONVERSIONS.set(c.name, c);
}

// -- plans ---------------------------------------------------------------------------------------

/** One conversion of a format, with the literal text before it. */
export class FormatConv {
  /** literal text printed before the conversion */
  prefix = '';
  /** DT_PFCONV_* flags (F_*) */
  flags = 0;
  /** static width and precision; 0 when absent (DTrace ignores a precision of 0) */
  width = 0;
  prec = 0;
  def: ConvDef = CONVERSIONS.get('%')!;
  // -- filled in by validateFormat
  /** how the value is printed (P_*; P_DINT resolved to P_SINT or P_UINT) */
  print = P_PCT;
  /** the printf(3) conversion: "d" "u" "x" "c" "lc" "e" "s" ... */
  ofmt = '%';
  /** size in bytes of the value's record (the argument type's size) */
  size = 0;
  /** size of each dynamic width / precision argument's record */
  wsize = 0;
  psize = 0;

  /** the conversion's name as DTrace reports it ("d", "lld", "@"-less) */
  get name(): string {
    return this.def.name;
  }
}

export interface FormatPlan {
  readonly kind: FormatKind;
  /** the format as given (for freopen(""), the restore sentinel ".") */
  readonly format: string;
  readonly convs: FormatConv[];
  /** literal text after the last conversion ('' if none) */
  readonly suffix: string;
  /** freopen(""): restore the original standard output */
  readonly restore: boolean;
  /** true once validateFormat has bound the conversions to argument types */
  validated: boolean;
  /** number of values formatPrintf consumes (dynamic widths/precisions included) */
  nvalues: number;
  /** number of %@ conversions */
  naggs: number;
}

function syntax(line: number, msg: string): never {
  throw new DCompileError('D_SYNTAX', line, msg);
}

/**
 * Parses a format string (dt_printf_create), throwing DCompileError with DTrace's D_SYNTAX
 * message for malformed conversions. `kind` 'freopen' maps "" to the restore sentinel and
 * rejects the sentinel itself (D_FREOPEN_INVALID).
 */
export function parseFormat(fmt: string, line: number, kind: FormatKind = 'printf'): FormatPlan {
  let restore = false;
  if (kind === 'freopen') {
    if (fmt === '.') throw new DCompileError('D_FREOPEN_INVALID', line, 'freopen( ) argument #1 cannot be "."');
    if (fmt === '') {
      fmt = '.';
      restore = true;
    }
  }
  // the format is a C string
  const nul = fmt.indexOf('\0');
  if (nul >= 0) fmt = fmt.substring(0, nul);

  const convs: FormatConv[] = [];
  const len = fmt.length;
  let q = 0;
  let p: number;
  while ((p = fmt.indexOf('%', q)) >= 0) {
    const cv = new FormatConv();
    const num = convs.length + 1;
    convs.push(cv);
    cv.prefix = fmt.substring(q, p);
    let name = '';
    let namelen = 0;
    let digits = 0;
    let dot = 0;
    let c = '';
    scan: for (;;) {
      c = ++p < len ? fmt[p] : '\0';
      switch (c) {
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
        case '8':
        case '9': {
          if (dot === 0 && digits === 0 && c === '0') {
            cv.flags = (cv.flags | F_ZPAD) & ~F_LEFT;
            continue;
          }
          let n = 0;
          let d = fmt.charCodeAt(p) - 48;
          while (p < len && d >= 0 && d <= 9) {
            n = n * 10 + d;
            d = fmt.charCodeAt(++p) - 48;
          }
          if (dot) cv.prec = n;
          else cv.width = n;
          p--;
          digits++;
          continue;
        }
        case '#':
          cv.flags |= F_ALT;
          continue;
        case '*': {
          const f = dot ? F_DYNPREC : F_DYNWIDTH;
          if (cv.flags & f) {
            syntax(
              line,
              `format conversion #${num} has more than one '*' specified for the output ${dot ? 'precision' : 'width'}`,
            );
          }
          cv.flags |= f;
          continue;
        }
        case '+':
          cv.flags |= F_SPOS;
          continue;
        case '-':
          cv.flags = (cv.flags | F_LEFT) & ~F_ZPAD;
          continue;
        case '.':
          if (dot++ !== 0) syntax(line, `format conversion #${num} has more than one '.' specified`);
          digits = 0;
          continue;
        case '?':
          cv.width = 16; // LP64
          continue;
        case '@':
          cv.flags |= F_AGG;
          continue;
        case "'":
          cv.flags |= F_GROUP;
          continue;
        case ' ':
          cv.flags |= F_SPACE;
          continue;
        case '$':
          syntax(line, `format conversion #${num} uses unsupported positional format (%n$)`);
        case '%':
          if (fmt[p - 1] === '%') {
            name += c;
            break scan;
          }
          syntax(line, `format conversion #${num} cannot be combined with other format flags: %%`);
        case '\0':
          syntax(line, `format conversion #${num} name expected before end of format string`);
        case 'h':
        case 'l':
        case 'L':
        case 'w':
          if (namelen < 6) {
            name += c;
            namelen++;
          }
          continue;
        default:
          name += c;
          break scan;
      }
    }
    const def = CONVERSIONS.get(name);
    if (def === undefined) syntax(line, `format conversion #${num} is undefined: %${name}`);
    cv.def = def;
    cv.print = def.print;
    cv.ofmt = def.ofmt;
    q = p < len ? p + 1 : p;
  }
  return {
    kind,
    format: fmt,
    convs,
    suffix: fmt.substring(q),
    restore,
    validated: false,
    nvalues: 0,
    naggs: 0,
  };
}

// -- validation ----------------------------------------------------------------------------------

export interface ValidateOptions {
  /** the action's name in messages (default: the plan's kind) */
  func?: string;
  /** printa(): the aggregating function of the aggregation printed ("count" is unsigned) */
  aggFunc?: string;
  /** whether -p or -c gave a $target (%A then accepts pointers and integers) */
  hasTarget?: boolean;
  /** number of arguments before the first value argument (default 1: the format) */
  argOffset?: number;
}

function argError(tag: ErrTag, line: number, msg: string): never {
  throw new DCompileError(tag, line, msg);
}

/** A typedef chain containing `name` that ends in void: D's stack, _symaddr, _usymaddr. */
function isSpecial(t: DType, name: string): boolean {
  for (let u: DType | null = t; u !== null && u.kind === Kind.Typedef; u = u.base) {
    if (u.name === name) return resolve(t).kind === Kind.Void;
  }
  return false;
}

function isIntegerArg(t: DType): boolean {
  const r = resolve(t);
  return (r.kind === Kind.Int && r.size > 0) || r.kind === Kind.Enum;
}

function isPointerArg(t: DType): boolean {
  const k = resolve(t).kind;
  return k === Kind.Pointer || k === Kind.Array;
}

/** dt_node_type_assign's DT_NF_SIGNED: only signed integers (not enums) are signed. */
export function isSignedArg(t: DType): boolean {
  const r = resolve(t);
  return r.kind === Kind.Int && r.signed;
}

function resolvedName(t: DType): string {
  return resolve(t).name;
}

function checkArg(cv: FormatConv, t: DType, hasTarget: boolean): boolean {
  const def = cv.def;
  switch (def.check) {
    case C_ADDR:
      return isPointerArg(t) || isIntegerArg(t);
    case C_KADDR:
      return isPointerArg(t) || isIntegerArg(t) || isSpecial(t, '_symaddr');
    case C_UADDR:
      if (isSpecial(t, '_usymaddr')) return true;
      return hasTarget && (isPointerArg(t) || isIntegerArg(t));
    case C_STACK:
      return isSpecial(t, 'stack');
    case C_TIME:
      return isIntegerArg(t) && resolve(t).size === 8;
    case C_STR:
      return resolve(t).kind === Kind.String || isCharArray(t);
    case C_WSTR: {
      const r = resolve(t);
      if (r.kind !== Kind.Array) return false;
      const e = resolve(r.base!);
      return e.kind === Kind.Int && e.size === 4;
    }
    case C_CSI:
      return isIntegerArg(t) && resolve(t).size <= 4;
    case C_FP:
      return resolve(t).kind === Kind.Float;
    case C_XINT:
      return isIntegerArg(t);
    case C_DINT:
      if (!isSignedArg(t)) cv.ofmt = 'u';
      return isIntegerArg(t);
    case C_XSHORT: {
      const n = resolvedName(t);
      return resolve(t).kind === Kind.Int && (n === 'short' || n === 'signed short' || n === 'unsigned short');
    }
    case C_XLONG: {
      const n = resolvedName(t);
      return resolve(t).kind === Kind.Int && (n === 'long' || n === 'signed long' || n === 'unsigned long');
    }
    case C_XLONGLONG: {
      const n = resolvedName(t);
      if (
        resolve(t).kind === Kind.Int &&
        (n === 'long long' || n === 'signed long long' || n === 'unsigned long long')
      ) {
        return true;
      }
      for (let u: DType | null = t; u !== null && u.kind === Kind.Typedef; u = u.base) {
        if (u.name === 'int64_t' || u.name === 'uint64_t') return true;
      }
      return false;
    }
    case C_TYPE: {
      // ctf_type_compat: same kind and encoding (size, signedness)
      const r = resolve(t);
      if (r.kind !== def.tkind || r.size !== def.tsize) return false;
      return r.kind === Kind.Float || r.signed === def.tsigned;
    }
    default:
      return false;
  }
}

/**
 * Checks a parsed format against its arguments (dt_printf_validate) and binds each conversion
 * to its argument's type. `args` are the value arguments after the format (for printa(): the
 * aggregation's key types), with AGGREGATION_ARG for an aggregation. Throws DCompileError with
 * DTrace's D_PRINTF_* tag and message.
 *
 * printa() of several aggregations validates the format once per aggregation, in order; the
 * plan keeps the binding of the first call (as DTrace prints with the first one's format).
 */
export function validateFormat(
  plan: FormatPlan,
  args: readonly DType[],
  line: number,
  opts: ValidateOptions = {},
): FormatPlan {
  const func = opts.func ?? plan.kind;
  const agg = plan.kind === 'printa';
  const foff = opts.argOffset ?? 1;
  const hasTarget = opts.hasTarget ?? false;
  const aggType = opts.aggFunc === 'count' ? AGG_UNSIGNED : AGG_SIGNED;

  if (plan.format === '') argError('D_PRINTF_FMT_EMPTY', line, `${func}( ) format string is empty`);

  // a second validation (another aggregation of the same printa) only checks
  const convs = plan.validated ? plan.convs.map(cloneConv) : plan.convs;
  let j = 0; // arguments consumed
  let naggs = 0;
  for (let i = 0; i < convs.length; i++) {
    const cv = convs[i];
    cv.print = cv.def.print;
    cv.ofmt = cv.def.ofmt;
    if (cv.print === P_PCT) continue;

    const dyn: string[] = [];
    if (cv.flags & F_DYNWIDTH) dyn.push('*');
    if (cv.flags & F_DYNPREC) dyn.push('.*');
    for (const d of dyn) {
      if (j >= args.length) {
        argError(
          'D_PRINTF_DYN_PROTO',
          line,
          `${func}( ) prototype mismatch: conversion #${i + 1} (%${cv.name}) is missing a corresponding "${d}" argument`,
        );
      }
      const t = args[j];
      if (!isIntegerArg(t)) {
        argError(
          'D_PRINTF_DYN_TYPE',
          line,
          `${func}( ) argument #${j + foff + 1} is incompatible with conversion #${i + 1} prototype:\n` +
            `\tconversion: % ${d} ${cv.name}\n\t prototype: int\n\t  argument: ${t.name}`,
        );
      }
      if (d === '*') cv.wsize = resolve(t).size;
      else cv.psize = resolve(t).size;
      j++;
    }

    let t: DType;
    let vname: string;
    if (cv.flags & F_AGG) {
      if (!agg) {
        argError(
          'D_PRINTF_AGG_CONV',
          line,
          `%@ conversion requires an aggregation and is not for use with ${func}( )`,
        );
      }
      t = aggType;
      vname = 'aggregating action';
      naggs++;
    } else if (j >= args.length) {
      argError(
        'D_PRINTF_ARG_PROTO',
        line,
        `${func}( ) prototype mismatch: conversion #${i + 1} (%${cv.name}) is missing a corresponding value argument`,
      );
    } else {
      t = args[j];
      vname = `argument #${j + foff + 1}`;
      j++;
    }
    cv.size = resolve(t).kind === Kind.String ? 0 : resolve(t).size;
    if (!checkArg(cv, t, hasTarget)) {
      argError(
        'D_PRINTF_ARG_TYPE',
        line,
        `${func}( ) ${vname} is incompatible with conversion #${i + 1} prototype:\n` +
          `\tconversion: %${cv.name}\n\t prototype: ${cv.def.proto}\n\t  argument: ${t.name}`,
      );
    }
    if (cv.print === P_DINT) cv.print = cv.ofmt === 'u' ? P_UINT : P_SINT;
  }
  if (!agg && j < args.length) {
    argError('D_PRINTF_ARG_EXTRA', line, `${func}( ) prototype mismatch: only ${j} arguments required by this format string`);
  }
  if (!plan.validated) {
    plan.validated = true;
    plan.nvalues = j;
    plan.naggs = naggs;
  }
  return plan;
}

function cloneConv(c: FormatConv): FormatConv {
  const n = new FormatConv();
  n.prefix = c.prefix;
  n.flags = c.flags;
  n.width = c.width;
  n.prec = c.prec;
  n.def = c.def;
  return n;
}
