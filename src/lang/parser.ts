// Hand-written recursive-descent parser for D, with C's precedence.          [dt_grammar.y]
//
// Declarations take effect while parsing (C needs to know type names to parse casts), so the
// parser writes struct, union, enum and typedef definitions straight into the TypeScope.

import * as A from './ast.js';
import { DCompileError } from './diagnostics.js';
import { isBuiltinName } from './builtins.js';
import { dConstants } from './dlib.js';
import { foldBinary, foldUnary } from './fold.js';
import { Lexer, Token } from './lexer.js';
import { OUTER_DECL_KEYWORDS, T } from './tokens.js';
import { TypeScope } from './typescope.js';
import type { ErrTag } from './errtags.js';
import {
  DType,
  Kind,
  MemberDecl,
  VOID,
  arrayOf,
  constOf,
  functionType,
  isInteger,
  layoutStruct,
  pointerTo,
  resolve,
  sameType,
} from './types.js';

const ASSIGN_OPS: ReadonlyMap<T, A.AssignOp> = new Map([
  [T.Assign, '='],
  [T.StarAssign, '*='],
  [T.SlashAssign, '/='],
  [T.PercentAssign, '%='],
  [T.PlusAssign, '+='],
  [T.MinusAssign, '-='],
  [T.ShlAssign, '<<='],
  [T.ShrAssign, '>>='],
  [T.AmpAssign, '&='],
  [T.CaretAssign, '^='],
  [T.PipeAssign, '|='],
]);

/** Binary operators by precedence level (higher binds tighter), as C. */
const BINARY: ReadonlyMap<T, [number, A.BinaryOp]> = new Map([
  [T.Pipe, [4, '|']],
  [T.Caret, [5, '^']],
  [T.Amp, [6, '&']],
  [T.EqEq, [7, '==']],
  [T.NotEq, [7, '!=']],
  [T.Lt, [8, '<']],
  [T.Gt, [8, '>']],
  [T.Le, [8, '<=']],
  [T.Ge, [8, '>=']],
  [T.Shl, [9, '<<']],
  [T.Shr, [9, '>>']],
  [T.Plus, [10, '+']],
  [T.Minus, [10, '-']],
  [T.Star, [11, '*']],
  [T.Slash, [11, '/']],
  [T.Percent, [11, '%']],
]);

const TYPE_KEYWORDS = new Set([
  T.KwChar, T.KwShort, T.KwInt, T.KwLong, T.KwFloat, T.KwDouble, T.KwSigned, T.KwUnsigned,
  T.KwVoid, T.KwString, T.KwStruct, T.KwUnion, T.KwEnum, T.KwConst, T.KwVolatile, T.KwRestrict,
]);

const STORAGE_KEYWORDS = new Set([T.KwTypedef, T.KwExtern, T.KwStatic, T.KwRegister, T.KwAuto, T.KwSelf, T.KwThis]);

interface Specifiers {
  storage: 'typedef' | 'extern' | 'static' | 'register' | 'auto' | 'self' | 'this' | null;
  type: DType;
  isConst: boolean;
  line: number;
}

/** A declarator's result: the name (or "" for an abstract one) and its full type. */
interface Declarator {
  name: string;
  type: DType;
  /** associative array key types, when the declarator was name[type, ...] */
  keys: DType[] | null;
  /** the keys' names, when they were given (an inline's parameters: name[int x, ...]) */
  keyNames?: string[];
  line: number;
}

/** An inline with parameters (inline int f[int x] = x + 1;): its body, substituted per use. */
export interface ParamInline {
  type: DType;
  names: string[];
  keys: DType[];
  body: A.Expr;
}

/** The AST's expression base class, to tell expression nodes from the types they hold. */
const EXPR_BASE = Object.getPrototypeOf(A.IntLit.prototype).constructor as abstract new (...a: never[]) => object;

/** A copy of an expression with the named identifiers replaced (parameterised inlines). */
function substitute(e: A.Expr, by: ReadonlyMap<string, A.Expr>): A.Expr {
  if (e.kind === A.N.Ident) {
    const r = by.get(e.name);
    if (r !== undefined) return r;
  }
  const copy = Object.create(Object.getPrototypeOf(e)) as Record<string, unknown>;
  const cloneValue = (v: unknown): unknown => {
    if (v instanceof EXPR_BASE) return substitute(v as A.Expr, by);
    if (Array.isArray(v)) return v.map(cloneValue);
    return v;
  };
  for (const [k, v] of Object.entries(e)) copy[k] = cloneValue(v);
  return copy as unknown as A.Expr;
}

/**
 * How deeply constructs may nest: parentheses, unary operators, casts, ?:, chained =, calls,
 * subscripts and members, if statements, pointer and array declarators. Oracle's bison parser
 * stops at YYMAXDEPTH (10000 parser states) with "memory exhausted"; ours counts nesting
 * levels instead, and stops where every later pass (checker, code generator, and V8 compiling
 * the generated code) still fits in Node's default stack. Left-associative chains (a + b + c,
 * a && b && c, a, b, c) do not nest here: they are walked iteratively everywhere.
 */
export const MAX_NESTING = 256;

export interface ParseOptions {
  /** -n / -P etc. programs: a probe description alone is a complete clause */
  fromFile: boolean;
  /** DTRACE_C_PSPEC: outer-scope words are probe specifiers even when they name types */
  pspecOnly: boolean;
  /** parameterised inlines defined before this program (D's library: tcp_state_string[]) */
  inlines?: ReadonlyMap<string, ParamInline>;
}

export class Parser {
  private tok!: Token;
  /** open nesting levels (MAX_NESTING) */
  private depth = 0;
  /** identifiers known to be variables (so `x` followed by `*` is not read as a type) */
  private readonly knownIdents: Set<string>;
  /** the identifiers known before this program (earlier programs' variables) */
  private readonly priorIdents: ReadonlySet<string>;
  /** inlines whose value is an integer constant: parse-time constants, as in dt_node_ident */
  private readonly inlineInts = new Map<string, bigint>();
  /** inlines with parameters, by name */
  private readonly paramInlines = new Map<string, ParamInline>();

  constructor(
    private readonly lx: Lexer,
    private readonly types: TypeScope,
    knownIdents: Set<string>,
    private readonly opts: ParseOptions,
  ) {
    this.knownIdents = knownIdents;
    this.priorIdents = new Set(knownIdents);
    if (opts.inlines) for (const [k, v] of opts.inlines) this.paramInlines.set(k, v);
  }

  /** The parameterised inlines this program defined (and those it was given). */
  get parameterisedInlines(): ReadonlyMap<string, ParamInline> {
    return this.paramInlines;
  }

  // -- token helpers ---------------------------------------------------------------------------

  private advance(): Token {
    const t = this.tok;
    this.tok = this.lx.next();
    return t;
  }

  private at(kind: T): boolean {
    return this.tok.kind === kind;
  }

  private accept(kind: T): boolean {
    if (this.tok.kind === kind) {
      this.advance();
      return true;
    }
    return false;
  }

  private expect(kind: T): Token {
    if (this.tok.kind !== kind) this.syntax();
    return this.advance();
  }

  /** Checks the item-ending token without reading past it (the next item may be outer scope). */
  private expectLast(kind: T): void {
    if (this.tok.kind !== kind) this.syntax();
  }

  private syntax(message = 'syntax error'): never {
    const t = this.tok;
    // identifiers DTrace's lexer already knows (D's own, the program's variables) are read
    // without the look-ahead that unterminates yytext (Lexer.restOfLine)
    if (t.kind === T.Ident && t.start >= 0 && this.lookedPast(t)) {
      throw new DCompileError('D_SYNTAX', t.line, `${message} near "${this.lx.restOfLine(t)}"`);
    }
    if (t.kind === T.EOF && message === 'syntax error') {
      // an unknown identifier at the very end: the look-ahead met the end and pushed back a
      // NUL, which the lexer then reports itself
      const last = this.lx.trailingIdent();
      // (a declaration that ends there has made its name known since: ask the text instead)
      if (last !== null && !this.priorIdents.has(last.value) && !isBuiltinName(last.value) && !this.lx.internedBefore(last)) throw new DCompileError('D_SYNTAX', t.line, 'syntax error near end-of-input');
    }
    this.lx.syntaxNear(t, message);
  }

  /** dt_lex.l's id_or_type read past this identifier (it knew nothing of it yet). */
  private lookedPast(t: Token): boolean {
    return !this.knownIdents.has(t.value) && !isBuiltinName(t.value) && !this.lx.internedBefore(t);
  }

  private error(tag: ErrTag, line: number, message: string): never {
    throw new DCompileError(tag, line, message);
  }

  /**
   * Nesting past MAX_NESTING: bison's error for a full parser stack (D_SYNTAX). Callers count
   * levels in `depth` inline (`++this.depth > MAX_NESTING`, then `this.depth--`): this runs for
   * every operator, and an error unwinds the whole parse, so no finally is needed.
   */
  private tooDeep(): never {
    this.syntax('memory exhausted');
  }

  // -- program ---------------------------------------------------------------------------------

  parseProgram(): A.Program {
    const items: A.Item[] = [];
    for (;;) {
      this.lx.skipTrivia();
      if (this.lx.pos >= this.lx.text.length) break;
      if (this.startsDeclaration()) {
        this.tok = this.lx.next();
        this.outerDeclaration(items);
      } else {
        items.push(this.clause());
      }
    }
    if (items.length === 0 && !this.opts.fromFile) {
      // an empty -n program
    }
    return new A.Program(items);
  }

  /** The outer-scope decision of dt_lex.l state S2: a declaration, or a probe description. */
  private startsDeclaration(): boolean {
    const id = this.lx.peekIdent();
    const spec = this.lx.peekPspec();
    // lex takes the longest match: "int*x" is a probe specifier token before it is a keyword
    if (id !== null && OUTER_DECL_KEYWORDS.has(id) && (spec === null || spec.length === id.length)) return true;
    if (spec === null) return false;
    if (this.opts.pspecOnly) return false;
    if (/[:\-.?!`]/.test(spec) || spec === 'BEGIN' || spec === 'END' || spec === 'ERROR') return false;
    const star = spec.indexOf('*');
    const name = star > 0 ? spec.slice(0, star) : spec;
    return this.types.isTypeName(name);
  }

  private clause(): A.Clause {
    const probes: A.ProbeSpec[] = [];
    let t = this.lx.nextOuter();
    const line = t.line;
    for (;;) {
      if (t.kind === T.PSpec) probes.push(new A.ProbeSpec(t.line, t.value, -1));
      else if (t.kind === T.Int) probes.push(new A.ProbeSpec(t.line, t.text, Number(t.int)));
      else this.lx.syntaxNear(t);
      this.lx.skipTrivia();
      if (this.lx.peekChar() === 44 /* , */) {
        this.lx.nextOuter();
        t = this.lx.nextOuter();
        continue;
      }
      break;
    }
    this.lx.skipTrivia();
    const c = this.lx.peekChar();
    let predicate: A.Expr | null = null;
    if (c === 47 /* / */) {
      this.lx.nextOuter();
      this.tok = this.lx.next();
      predicate = this.expression();
      if (!this.at(T.EPred)) this.syntax();
      this.lx.skipTrivia();
      if (this.lx.peekChar() !== 123 /* { */) {
        throw new DCompileError(
          'D_SYNTAX',
          predicate.line,
          'expected actions { } following probe description and predicate',
        );
      }
    } else if (c !== 123) {
      if (this.opts.fromFile) {
        throw new DCompileError('D_SYNTAX', line, 'expected predicate and/or actions following probe description');
      }
      if (c >= 0) {
        const t2 = this.lx.nextOuter();
        this.lx.syntaxNear(t2);
      }
      return new A.Clause(line, probes, null, null);
    }
    this.lx.nextOuter(); // {
    this.tok = this.lx.next();
    const body = this.statements();
    this.expectLast(T.RBrace);
    return new A.Clause(line, probes, predicate, body, this.tok.line);
  }

  /** statement_list up to the closing brace (the brace is left as the current token). */
  private statements(): A.Stmt[] {
    const list: A.Stmt[] = [];
    for (;;) {
      if (this.at(T.RBrace)) return list;
      if (this.accept(T.Semi)) continue;
      if (this.at(T.KwIf)) {
        list.push(this.ifStatement());
        continue;
      }
      if (this.at(T.EOF)) this.syntax();
      const line = this.tok.line;
      const e = this.expression();
      list.push(new A.ExprStmt(line, e));
      if (this.at(T.RBrace)) return list;
      this.expect(T.Semi);
    }
  }

  private ifStatement(): A.IfStmt {
    if (++this.depth > MAX_NESTING) this.tooDeep();
    const line = this.advance().line;
    this.expect(T.LParen);
    const cond = this.expression();
    this.expect(T.RParen);
    const then = this.statementOrBlock();
    let otherwise: A.Stmt[] | null = null;
    if (this.accept(T.KwElse)) otherwise = this.statementOrBlock();
    this.depth--;
    return new A.IfStmt(line, cond, then, otherwise);
  }

  private statementOrBlock(): A.Stmt[] {
    if (this.accept(T.LBrace)) {
      const body = this.statements();
      this.expect(T.RBrace);
      return body;
    }
    if (this.accept(T.Semi)) return [];
    if (this.at(T.KwIf)) return [this.ifStatement()];
    const line = this.tok.line;
    const e = this.expression();
    if (!this.at(T.RBrace)) this.expect(T.Semi);
    return [new A.ExprStmt(line, e)];
  }

  // -- expressions -----------------------------------------------------------------------------

  expression(): A.Expr {
    let e = this.assignment();
    while (this.at(T.Comma)) {
      this.advance();
      const r = this.assignment();
      e = new A.Comma(this.lx.yyline, e, r);
    }
    return e;
  }

  private assignment(): A.Expr {
    const left = this.conditional();
    const op = ASSIGN_OPS.get(this.tok.kind);
    if (op !== undefined) {
      if (++this.depth > MAX_NESTING) this.tooDeep();
      this.advance();
      const r = this.assignment();
      this.depth--;
      return new A.Assign(this.lx.yyline, op, left, r);
    }
    return left;
  }

  private conditional(): A.Expr {
    const cond = this.logicalOr();
    if (!this.at(T.Question)) return cond;
    if (++this.depth > MAX_NESTING) this.tooDeep();
    this.advance();
    const then = this.expression();
    this.expect(T.Colon);
    const otherwise = this.conditional();
    this.depth--;
    // A condition that is an integer constant at parse time picks its branch here and the other
    // is never checked (dt_node_op3): so `OPT ? printf(...) : 1;` with an inline OPT or a $1
    // is an action statement, the DTraceToolkit's idiom.
    const c = evalConstant(cond, this.types, this.parseTimeIdent);
    if (c !== null) return c !== 0n ? then : otherwise;
    return new A.Ternary(this.lx.yyline, cond, then, otherwise);
  }

  private logicalOr(): A.Expr {
    let e = this.logicalXor();
    while (this.at(T.PipePipe)) {
      this.advance();
      if (++this.depth > MAX_NESTING) this.tooDeep();
      const r = this.logicalXor();
      this.depth--;
      e = new A.Logical(this.lx.yyline, '||', e, r);
    }
    return e;
  }

  private logicalXor(): A.Expr {
    let e = this.logicalAnd();
    while (this.at(T.CaretCaret)) {
      this.advance();
      if (++this.depth > MAX_NESTING) this.tooDeep();
      const r = this.logicalAnd();
      this.depth--;
      e = new A.Logical(this.lx.yyline, '^^', e, r);
    }
    return e;
  }

  private logicalAnd(): A.Expr {
    let e = this.binary(4);
    while (this.at(T.AmpAmp)) {
      this.advance();
      if (++this.depth > MAX_NESTING) this.tooDeep();
      const r = this.binary(4);
      this.depth--;
      e = new A.Logical(this.lx.yyline, '&&', e, r);
    }
    return e;
  }

  /** Precedence climbing over C's binary operators from `minPrec` up. */
  private binary(minPrec: number): A.Expr {
    let left = this.cast();
    for (;;) {
      const entry = BINARY.get(this.tok.kind);
      if (entry === undefined || entry[0] < minPrec) return left;
      const [prec, op] = entry;
      this.advance();
      // a right operand of higher precedence nests one level (a | b ^ c & ...)
      if (++this.depth > MAX_NESTING) this.tooDeep();
      const right = this.binary(prec + 1);
      this.depth--;
      left = new A.Binary(this.lx.yyline, op, left, right);
    }
  }

  private cast(): A.Expr {
    if (this.at(T.LParen) && this.typeNameFollows()) {
      if (++this.depth > MAX_NESTING) this.tooDeep();
      const line = this.advance().line;
      const to = this.typeName();
      this.expect(T.RParen);
      const operand = this.cast();
      // the node's line is where the lexer is once the operand is complete (dt_node_alloc)
      const e = new A.Cast(Math.max(line, this.lx.yyline), to, operand);
      this.depth--;
      return e;
    }
    return this.unary();
  }

  /** After "(": does a type name start here? (dt_lex.l's id_or_type heuristics) */
  private typeNameFollows(): boolean {
    // the current token is "("; look at what the lexer has after it
    const save = this.saveLexer();
    const t = this.lx.next();
    let result = false;
    if (TYPE_KEYWORDS.has(t.kind)) result = true;
    else if (t.kind === T.Ident) result = this.identIsType(t.value);
    this.restoreLexer(save);
    return result;
  }

  private saveLexer(): [number, number, number, number, number] {
    return [this.lx.pos, this.lx.line, this.lx.parens, this.lx.brackets, this.lx.braces];
  }

  private restoreLexer(s: [number, number, number, number, number]): void {
    [this.lx.pos, this.lx.line, this.lx.parens, this.lx.brackets, this.lx.braces] = s;
  }

  /** An identifier just read (lexer positioned after it) names a type rather than a variable. */
  private identIsType(name: string): boolean {
    if (this.knownIdents.has(name)) return false;
    if (!this.types.isTypeName(name)) return false;
    const c = this.lx.peekChar();
    const c1 = this.lx.peekChar2();
    if ((c === 43 || c === 45) && c1 === c) return false; // ++ --
    if (c === 61 && c1 !== 61) return false; // = but not ==
    if (c === 91 || c === 59) return false; // [ ;
    return true;
  }

  private unary(): A.Expr {
    switch (this.tok.kind) {
      case T.PlusPlus:
      case T.MinusMinus:
      case T.Amp:
      case T.Star:
      case T.Plus:
      case T.Minus:
      case T.Tilde:
      case T.Bang:
      case T.KwSizeof:
      case T.KwStringof: {
        if (++this.depth > MAX_NESTING) this.tooDeep();
        const e = this.prefixed();
        this.depth--;
        return e;
      }
    }
    return this.postfix();
  }

  /** A unary operator and its operand. */
  private prefixed(): A.Expr {
    const t = this.tok;
    switch (t.kind) {
      case T.PlusPlus:
      case T.MinusMinus: {
        this.advance();
        return new A.Unary(t.line, t.kind === T.PlusPlus ? '++' : '--', this.unary());
      }
      case T.Amp:
        this.advance();
        return new A.Unary(t.line, '&', this.cast());
      case T.Star:
        this.advance();
        return new A.Unary(t.line, '*', this.cast());
      case T.Plus:
        this.advance();
        return new A.Unary(t.line, '+', this.cast());
      case T.Minus:
        this.advance();
        return new A.Unary(t.line, '-', this.cast());
      case T.Tilde:
        this.advance();
        return new A.Unary(t.line, '~', this.cast());
      case T.Bang:
        this.advance();
        return new A.Unary(t.line, '!', this.cast());
      case T.KwSizeof: {
        this.advance();
        if (this.at(T.LParen) && this.typeNameFollows()) {
          this.advance();
          const ty = this.typeName();
          this.expect(T.RParen);
          return new A.SizeofType(t.line, ty);
        }
        return new A.SizeofExpr(t.line, this.unary());
      }
      case T.KwStringof:
        this.advance();
        return new A.Stringof(t.line, this.unary());
    }
    this.syntax();
  }

  private postfix(): A.Expr {
    let e = this.primary();
    // each postfix operator makes the tree one level deeper (a[1][1]..., x++++)
    const depth0 = this.depth;
    for (;;) {
      const t = this.tok;
      switch (t.kind) {
        case T.LBrack:
        case T.LParen:
        case T.Dot:
        case T.Arrow:
        case T.PlusPlus:
        case T.MinusMinus:
          if (++this.depth > MAX_NESTING) this.tooDeep();
          break;
      }
      switch (t.kind) {
        case T.LBrack: {
          this.advance();
          const args = this.argumentList(T.RBrack);
          // yacc reduces these without a lookahead: the node has the closing token's line
          const close = this.expect(T.RBrack);
          const pin = e.kind === A.N.Ident ? this.paramInlines.get(e.name) : undefined;
          if (pin !== undefined && pin.names.length === args.length) {
            // a parameterised inline: its body, each parameter the argument converted to its type
            const by = new Map<string, A.Expr>();
            pin.names.forEach((n, i) => by.set(n, new A.Cast(close.line, pin.keys[i]!, args[i]!)));
            e = new A.Cast(close.line, pin.type, substitute(pin.body, by));
            continue;
          }
          e = new A.Index(close.line, e, args);
          continue;
        }
        case T.LParen: {
          this.advance();
          const args = this.at(T.RParen) ? [] : this.argumentList(T.RParen);
          const close = this.expect(T.RParen);
          if (e.kind !== A.N.Ident) {
            throw new DCompileError('D_FUNC_IDENT', t.line, 'function designator is not of function type');
          }
          e = new A.Call(close.line, e.name, args);
          continue;
        }
        case T.Dot:
        case T.Arrow: {
          this.advance();
          const nameLine = this.tok.line;
          const name = this.memberName();
          e = new A.Member(nameLine, e, name, t.kind === T.Arrow);
          continue;
        }
        case T.PlusPlus:
          this.advance();
          e = new A.Postfix(t.line, '++', e);
          continue;
        case T.MinusMinus:
          this.advance();
          e = new A.Postfix(t.line, '--', e);
          continue;
      }
      this.depth = depth0;
      return e;
    }
  }

  /** After "." or "->": an identifier, even if it spells a keyword-free type name. */
  private memberName(): string {
    const t = this.tok;
    if (t.kind === T.Ident) {
      this.advance();
      return t.value;
    }
    // keywords are not member names, but type names are (dt_lex.l's SIDENT state)
    this.syntax();
  }

  private argumentList(close: T): A.Expr[] {
    const args: A.Expr[] = [];
    if (this.at(close)) return args;
    args.push(this.assignment());
    while (this.accept(T.Comma)) args.push(this.assignment());
    return args;
  }

  private primary(): A.Expr {
    const t = this.tok;
    switch (t.kind) {
      case T.Int: {
        this.advance();
        const lit = new A.IntLit(t.line, t.int, t.suffix, t.decimal);
        // a macro argument like "-3" arrives as an integer token marked negative
        return t.value === '-' ? new A.Unary(t.line, '-', lit) : lit;
      }
      case T.String: {
        this.advance();
        // adjacent string literals are not concatenated in D
        return new A.StrLit(t.line, t.value);
      }
      case T.Ident:
        this.advance();
        return new A.Ident(t.line, t.value);
      case T.Agg:
        this.advance();
        return new A.AggRef(t.line, t.value);
      case T.KwSelf:
      case T.KwThis: {
        this.advance();
        if (!this.at(T.Arrow)) this.syntax();
        this.advance();
        const name = this.memberName();
        return t.kind === T.KwSelf ? new A.SelfVar(t.line, name) : new A.ThisVar(t.line, name);
      }
      case T.LParen: {
        if (++this.depth > MAX_NESTING) this.tooDeep();
        this.advance();
        const e = this.expression();
        this.expect(T.RParen);
        this.depth--;
        return e;
      }
      case T.KwOffsetof: {
        this.advance();
        this.expect(T.LParen);
        const ty = this.typeName();
        this.expect(T.Comma);
        const name = this.memberName();
        this.expect(T.RParen);
        return new A.Offsetof(t.line, ty, name);
      }
      case T.KwXlate: {
        this.advance();
        this.expect(T.Lt);
        const ty = this.typeName();
        this.expect(T.Gt);
        this.expect(T.LParen);
        if (++this.depth > MAX_NESTING) this.tooDeep();
        const e = this.expression();
        this.depth--;
        this.expect(T.RParen);
        return new A.Xlate(t.line, ty, e);
      }
    }
    this.syntax();
  }

  // -- types and declarations --------------------------------------------------------------------

  /** type_name: specifier-qualifier-list followed by an abstract declarator. */
  typeName(): DType {
    const spec = this.specifiers(false);
    const d = this.declarator(spec.type, true);
    return d.type;
  }

  private isSpecifierStart(): boolean {
    const k = this.tok.kind;
    if (TYPE_KEYWORDS.has(k) || STORAGE_KEYWORDS.has(k)) return true;
    return k === T.Ident && this.types.isTypeName(this.tok.value) && !this.knownIdents.has(this.tok.value);
  }

  /** declaration_specifiers: storage class, qualifiers and the type specifier words. */
  private specifiers(allowStorage: boolean): Specifiers {
    const line = this.tok.line;
    let storage: Specifiers['storage'] = null;
    let isConst = false;
    let signedness: 'signed' | 'unsigned' | null = null;
    let shorts = 0;
    let longs = 0;
    let base: string | null = null;
    let named: DType | null = null;
    const combo = (): never => this.error('D_DECL_COMBO', this.tok.line, 'invalid type combination');
    let attrLine = line;
    for (;;) {
      const t = this.tok;
      if (STORAGE_KEYWORDS.has(t.kind)) {
        if (!allowStorage) break;
        if (storage !== null) this.error('D_DECL_CLASS', t.line, 'only one storage class allowed in a declaration');
        storage = t.text as Specifiers['storage'];
        this.advance();
        continue;
      }
      switch (t.kind) {
        case T.KwConst:
          isConst = true;
          this.advance();
          continue;
        case T.KwVolatile:
        case T.KwRestrict:
          this.advance();
          continue;
        case T.KwSigned:
        case T.KwUnsigned:
          if (signedness !== null) combo();
          signedness = t.kind === T.KwSigned ? 'signed' : 'unsigned';
          this.advance();
          continue;
        // attributes are flags to DTrace: "short short" is short; "short long" and a third
        // long make a name no type has (D_UNKNOWN, from composeBase)
        case T.KwShort:
          shorts = 1;
          this.advance();
          continue;
        case T.KwLong:
          longs++;
          this.advance();
          continue;
        case T.KwChar:
        case T.KwInt:
        case T.KwVoid:
        case T.KwFloat:
        case T.KwDouble:
          if (base !== null || named) combo();
          base = t.text;
          this.advance();
          continue;
        case T.KwString:
          if (base !== null || named) combo();
          named = this.types.strsizeType;
          this.advance();
          continue;
        case T.KwStruct:
        case T.KwUnion:
          if (base !== null || named) combo();
          named = this.structSpecifier();
          attrLine = this.tagLine;
          continue;
        case T.KwEnum:
          if (base !== null || named) combo();
          named = this.enumSpecifier();
          attrLine = this.tagLine;
          continue;
        case T.Ident:
          if (base === null && named === null && signedness === null && shorts === 0 && longs === 0) {
            const ty = this.types.lookup(t.value);
            if (ty && !this.knownIdents.has(t.value)) {
              named = ty;
              this.advance();
              continue;
            }
          }
          break;
      }
      break;
    }
    // dt_decl_check: attributes that the base type cannot take
    if (base === 'char' && (shorts || longs)) {
      this.error('D_DECL_CHARATTR', line, 'invalid type declaration: short and long may not be used with char type');
    }
    if (base === 'void' && (shorts || longs || signedness)) {
      this.error('D_DECL_VOIDATTR', line, 'invalid type declaration: attributes may not be used with void type');
    }
    const intKind = named ? resolve(named).kind === Kind.Int : base !== 'float' && base !== 'double' && base !== 'void';
    if (signedness && !intKind) {
      this.error('D_DECL_SIGNINT', attrLine, 'invalid type declaration: signed and unsigned may only be used with integer type');
    }
    const floatKind = named ? resolve(named).kind === Kind.Float : base === 'float' || base === 'double';
    if ((longs || shorts) && !intKind && !floatKind) {
      this.error('D_DECL_LONGINT', attrLine, 'invalid type declaration: long and long long may only be used with integer or floating-point type');
    }
    let type: DType;
    if (named && (signedness || shorts || longs)) {
      // "unsigned my_int_typedef": the attribute applies to the typedef's integer type
      const r = resolve(named);
      type = this.composeBase(r.size === 1 ? 'char' : 'int', signedness, shorts || (r.size === 2 ? 1 : 0), longs || (r.size === 8 ? 1 : 0), line);
    } else if (named) {
      type = named;
    } else {
      if (base === null && signedness === null && shorts === 0 && longs === 0) {
        if (storage !== null || isConst) {
          // "self x;" or "const x" with no type: C's implicit int is not D
          type = this.types.get('int');
        } else {
          this.syntax();
        }
      } else {
        if ((shorts && longs) || longs > 2) this.unknownBase(base, signedness, shorts, longs);
        type = this.composeBase(base, signedness, shorts, longs, line);
      }
    }
    if (isConst) type = constOf(type);
    return { storage, type, isConst, line };
  }

  /** dt_decl_type's name for attributes no integer type has, which it then fails to find. */
  private unknownBase(base: string | null, signedness: string | null, shorts: number, longs: number): never {
    let name = signedness ? `${signedness} ` : '';
    if (shorts) name += 'short ';
    if (longs === 1 || longs === 3) name += 'long ';
    if (longs >= 2) name += 'long long ';
    if (base !== null && base !== 'int') name += base;
    this.error('D_UNKNOWN', this.tok.line, `failed to resolve type ${name}: Unknown type name`);
  }

  /**
   * The line of the token after a struct, union or enum tag: DTrace declares the type (and
   * checks attributes such as long against it) when it has read that token.
   */
  private tagLine = 0;

  private composeBase(
    base: string | null,
    signedness: 'signed' | 'unsigned' | null,
    shorts: number,
    longs: number,
    line: number,
  ): DType {
    let name: string;
    if (base === 'void' || base === 'float') {
      if (base === 'float' && !signedness && (shorts || longs)) this.unknownBase(base, signedness, shorts, longs);
      if (signedness || shorts || longs) this.error('D_DECL_COMBO', line, 'invalid type combination');
      name = base;
    } else if (base === 'double') {
      if (!signedness && (shorts || longs > 1)) this.unknownBase(base, signedness, shorts, longs);
      if (signedness || shorts || longs > 1) this.error('D_DECL_COMBO', line, 'invalid type combination');
      name = longs ? 'long double' : 'double';
    } else if (base === 'char') {
      if (shorts || longs) this.error('D_DECL_COMBO', line, 'invalid type combination');
      name = signedness ? `${signedness} char` : 'char';
    } else {
      const size = shorts ? 'short' : longs === 2 ? 'long long' : longs === 1 ? 'long' : 'int';
      name = signedness === 'unsigned' ? `unsigned ${size === 'int' ? 'int' : size}` : size;
    }
    return this.types.get(name);
  }

  private structSpecifier(): DType {
    const kw = this.advance();
    const kind = kw.kind === T.KwStruct ? Kind.Struct : Kind.Union;
    let tag = '';
    if (this.at(T.Ident)) tag = this.advance().value;
    this.tagLine = this.tok.line;
    if (!this.at(T.LBrace)) {
      if (tag === '') this.syntax();
      return this.types.tagReference(kind, tag);
    }
    if (++this.depth > MAX_NESTING) this.tooDeep();
    const line = this.advance().line;
    let t: DType;
    if (tag === '') {
      t = this.types.tag(kind, `<anon:${line}:${this.lx.pos}>`);
      t.name = kind === Kind.Struct ? 'struct ' : 'union ';
    } else {
      t = this.types.tag(kind, tag);
      if (t.complete) {
        this.error('D_DECL_TYPERED', line, `type redeclared: ${t.name}`);
      }
    }
    const decls: MemberDecl[] = [];
    // names so far, for the duplicate check (a search of decls would be quadratic)
    const names = new Set<string>();
    if (this.at(T.RBrace)) this.syntax(); // C's grammar: at least one member
    while (!this.at(T.RBrace)) {
      const spec = this.specifiers(false);
      for (;;) {
        let name = '';
        let type = spec.type;
        let bits = -1;
        if (!this.at(T.Colon)) {
          const d = this.declarator(spec.type, false);
          name = d.name;
          type = d.type;
        }
        if (this.accept(T.Colon)) {
          const line2 = this.tok.line;
          const w = this.constantInt(this.conditional());
          if (w === 0n && name === '') {
            decls.push({ name, type, bits: 0 });
            if (!this.accept(T.Comma)) break;
            continue;
          }
          if (w <= 0n) this.error('D_DECL_BFCONST', line2, 'positive integral constant expression expected as bit-field size');
          if (!isInteger(type)) this.error('D_DECL_BFTYPE', line2, 'invalid type for bit-field: ' + (name || '(anon)'));
          if (w < 0 || w > type.size * 8 || w > 64) this.error('D_DECL_BFSIZE', line2, `bit-field too big for type: ${name}`);
          bits = Number(w);
        }
        if (resolve(type).kind === Kind.Function || resolve(type).kind === Kind.Void) {
          this.error('D_DECL_VOIDOBJ', this.tok.line, `cannot have void member: ${name}`);
        }
        if (name !== '' && names.has(name)) {
          this.error('D_UNKNOWN', this.tok.line, `failed to define member '${name}': Duplicate member or variable name`);
        }
        if (bits < 0 && !resolve(type).complete && resolve(type).kind !== Kind.Function) {
          this.error('D_DECL_INCOMPLETE', this.tok.line, `incomplete struct/union/enum ${type.name}: ${name}`);
        }
        decls.push({ name, type, bits });
        names.add(name);
        if (!this.accept(T.Comma)) break;
      }
      this.expect(T.Semi);
    }
    this.advance(); // }
    this.depth--;
    layoutStruct(t, decls);
    return t;
  }

  private enumSpecifier(): DType {
    this.advance();
    let tag = '';
    if (this.at(T.Ident)) tag = this.advance().value;
    this.tagLine = this.tok.line;
    if (!this.at(T.LBrace)) {
      if (tag === '') this.syntax();
      return this.types.tagReference(Kind.Enum, tag);
    }
    const line = this.advance().line;
    const t = tag === '' ? this.types.tag(Kind.Enum, `<anon:${line}:${this.lx.pos}>`) : this.types.tag(Kind.Enum, tag);
    if (tag === '') t.name = 'enum ';
    else if (t.complete) this.error('D_DECL_TYPERED', line, `type redeclared: ${t.name}`);
    let next = 0n;
    const names = new Set(t.enumerators.map(([n]) => n));
    for (;;) {
      const id = this.tok;
      if (id.kind !== T.Ident) this.syntax();
      this.advance();
      // dt_decl_enumerator runs once the token after the enumerator is read: its errors name
      // that token's line, in this order
      if (this.accept(T.Assign)) {
        const v = evalConstant(this.conditional(), this.types);
        if (v === null) {
          this.error('D_DECL_ENCONST', this.lx.yyline, `enumerator '${id.value}' must be assigned to an integral constant expression`);
        }
        next = v;
      }
      if (next < -0x80000000n || next > 0x7fffffffn) {
        this.error('D_DECL_ENOFLOW', this.lx.yyline, `enumerator '${id.value}' value overflows INT_MAX (2147483647)`);
      }
      if (names.has(id.value)) {
        this.error('D_UNKNOWN', this.lx.yyline, `failed to define enumerator '${id.value}': Duplicate member or variable name`);
      }
      if (this.types.enumConsts.has(id.value) || this.knownIdents.has(id.value)) {
        this.error('D_DECL_IDRED', this.lx.yyline, `identifier redeclared: ${id.value}`);
      }
      t.enumerators.push([id.value, Number(next)]);
      names.add(id.value);
      this.types.enumConsts.set(id.value, { value: Number(next), type: t });
      next++;
      if (!this.accept(T.Comma)) break;
      if (this.at(T.RBrace)) break;
    }
    this.expect(T.RBrace);
    t.complete = true;
    return t;
  }

  /**
   * A declarator around `base`: pointers, a name (or none when abstract), array and function
   * suffixes, and parenthesised inner declarators, composed inside out as C reads them.
   */
  private declarator(base: DType, abstract: boolean): Declarator {
    const line = this.tok.line;
    const shape = this.declaratorShape(abstract);
    if (shape.emptyDim && !abstract && this.declaringVariable) {
      this.error('D_DECL_ARRNULL', line, `array declaration requires array dimension or tuple signature: ${shape.name}`);
    }
    return { name: shape.name, type: shape.apply(base), keys: shape.keys, keyNames: shape.keyNames, line };
  }

  private declaratorShape(abstract: boolean): { name: string; keys: DType[] | null; keyNames?: string[]; apply: (t: DType) => DType; emptyDim: boolean } {
    let ptrs = 0;
    // every *, [n] and (params) is a level: bison's pointer rule recurses, and long chains
    // would build type names quadratic in their length
    const depth0 = this.depth;
    while (this.at(T.Star)) {
      if (++this.depth > MAX_NESTING) this.tooDeep();
      this.advance();
      ptrs++;
      while (this.at(T.KwConst) || this.at(T.KwVolatile) || this.at(T.KwRestrict)) this.advance();
    }
    let name = '';
    let keys: DType[] | null = null;
    let keyNames: string[] | undefined;
    let inner: ((t: DType) => DType) | null = null;
    if (this.at(T.Ident) && !abstract) {
      name = this.advance().value;
    } else if (this.at(T.LParen) && this.parenIsDeclarator()) {
      if (++this.depth > MAX_NESTING) this.tooDeep();
      this.advance();
      const d = this.declaratorShape(abstract);
      this.expect(T.RParen);
      name = d.name;
      keys = d.keys;
      inner = d.apply;
    }

    const suffixes: Array<(t: DType) => DType> = [];
    let emptyDim = false;
    for (;;) {
      if ((this.at(T.LBrack) || this.at(T.LParen)) && ++this.depth > MAX_NESTING) this.tooDeep();
      if (this.at(T.LBrack)) {
        const bline = this.advance().line;
        if (this.at(T.RBrack)) {
          this.advance();
          emptyDim = true;
          suffixes.push((t) => arrayOf(t, 0));
          continue;
        }
        if (this.isSpecifierStart() || this.at(T.Ellipsis)) {
          // name[type, type, ...]: an associative array's key signature
          const list: DType[] = [];
          const names: string[] = [];
          for (;;) {
            if (this.at(T.Ellipsis)) {
              this.error('D_DECL_PROTO_VARARGS', this.tok.line, 'array prototype may not use a variable-length argument list');
            }
            if (STORAGE_KEYWORDS.has(this.tok.kind)) {
              this.error('D_DECL_PARMCLASS', this.tok.line, 'inappropriate storage class for function or associative array parameter');
            }
            const spec = this.specifiers(false);
            const d = this.declarator(spec.type, false);
            list.push(d.type);
            names.push(d.name);
            if (!this.accept(T.Comma)) break;
          }
          // dt_decl_prototype, once the list is read: each void parameter is refused (an array
          // key cannot be void), before "void must be sole parameter" could apply
          list.forEach((t, i) => {
            if (resolve(t).kind === Kind.Void) {
              this.error('D_DECL_PROTO_TYPE', this.tok.line, `array prototype may not use parameter of type ${t.name}: ${names[i] || '(anonymous)'}, parameter #${i + 1}`);
            }
          });
          this.expect(T.RBrack);
          keys = list;
          keyNames = names;
          continue;
        }
        const n = this.constantInt(this.conditional());
        this.expect(T.RBrack);
        if (n <= 0n) this.error('D_DECL_ARRSUB', bline, 'positive integral constant expression or tuple signature expected as array declaration subscript');
        if (n > 0xffffffffn) this.error('D_DECL_ARRBIG', bline, 'array dimension too big');
        const count = Number(n);
        suffixes.push((t) => arrayOf(t, count));
        continue;
      }
      if (this.at(T.LParen)) {
        this.advance();
        const params: DType[] = [];
        let variadic = false;
        let sawVoid = false;
        if (!this.at(T.RParen)) {
          for (;;) {
            if (this.accept(T.Ellipsis)) {
              variadic = true;
              break;
            }
            if (STORAGE_KEYWORDS.has(this.tok.kind)) {
              this.error('D_DECL_PARMCLASS', this.tok.line, 'inappropriate storage class for function or associative array parameter');
            }
            const spec = this.specifiers(false);
            const d = this.declarator(spec.type, false);
            const n = params.length + 1;
            if (d.keys) {
              this.error('D_DECL_PROTO_TYPE', d.line, `function prototype may not use parameter of type dynamic variable: ${d.name || '(anonymous)'}, parameter #${n}`);
            }
            if (resolve(d.type).kind === Kind.Void) {
              if (d.name !== '') this.error('D_DECL_PROTO_NAME', d.line, `void parameter may not have a name: ${d.name}`);
              sawVoid = true;
            }
            params.push(d.type);
            if (!this.accept(T.Comma)) break;
          }
        }
        this.expect(T.RParen);
        if (sawVoid && params.length > 1) this.error('D_DECL_PROTO_VOID', this.tok.line, 'void must be sole parameter');
        const ps = params.length === 1 && resolve(params[0]) === VOID ? [] : params;
        suffixes.push((t) => functionType(t, ps, variadic));
        continue;
      }
      break;
    }
    this.depth = depth0;
    const apply = (base: DType): DType => {
      let t = base;
      for (let i = 0; i < ptrs; i++) t = pointerTo(t);
      // int a[2][3] is an array of 2 arrays of 3: apply suffixes right to left
      for (let i = suffixes.length - 1; i >= 0; i--) t = suffixes[i](t);
      return inner ? inner(t) : t;
    };
    return { name, keys, keyNames, apply, emptyDim };
  }

  /** After "(" in a declarator: a nested declarator "(*p)" rather than a parameter list. */
  private parenIsDeclarator(): boolean {
    const save = this.saveLexer();
    const t = this.lx.next();
    this.restoreLexer(save);
    return t.kind === T.Star || (t.kind === T.Ident && !this.types.isTypeName(t.value)) || t.kind === T.LParen;
  }

  /** set while parsing the declarators of a variable declaration (not a struct member or type) */
  private declaringVariable = false;

  /** external_declaration other than a probe clause. */
  private outerDeclaration(items: A.Item[]): void {
    const t = this.tok;
    if (t.kind === T.KwInline) return this.inlineDefinition(items);
    if (t.kind === T.KwTranslator) return this.translatorDefinition(items);
    if (t.kind === T.KwProvider) return this.providerDefinition(items);
    if (t.kind === T.KwCounter || t.kind === T.KwImport) this.syntax();

    const spec = this.specifiers(true);
    if (spec.storage === 'register' || spec.storage === 'auto' || spec.storage === 'static') {
      this.error('D_DECL_BADCLASS', spec.line, 'specified storage class not appropriate in D');
    }
    if (this.at(T.Semi)) {
      // "struct foo { ... };" or "enum e { ... };"; anything else declares nothing
      const k = resolve(spec.type).kind;
      if (!(k === Kind.Struct || k === Kind.Union || k === Kind.Enum) || spec.storage !== null) {
        this.error('D_DECL_USELESS', this.tok.line, 'useless declaration');
      }
      this.expectLast(T.Semi);
      return;
    }
    for (;;) {
      this.declaringVariable = spec.storage !== 'typedef' && spec.storage !== 'extern';
      const d = this.declarator(spec.type, false);
      this.declaringVariable = false;
      if (d.name === '') this.syntax();
      this.declare(spec, d, items);
      if (!this.accept(T.Comma)) break;
    }
    this.expectLast(T.Semi);
  }

  private declare(spec: Specifiers, d: Declarator, items: A.Item[]): void {
    if (spec.storage === 'typedef') {
      if (d.keys) this.syntax();
      // the kernel's typedefs are another scope: a program may name its own alike
      const existing = this.types.ownType(d.name);
      if (existing && existing.kind === Kind.Typedef && (existing.base === d.type || sameType(existing, d.type))) return;
      if (existing) this.error('D_DECL_IDRED', d.line, `typedef redeclared: ${d.name}`);
      this.types.defineTypedef(d.name, d.type);
      return;
    }
    if (spec.storage === 'extern' || spec.storage === 'static' || spec.storage === 'register' || spec.storage === 'auto') {
      // extern declarations name kernel symbols; others are accepted and ignored as DTrace does
      if (spec.storage === 'extern') {
        this.knownIdents.add(d.name);
        items.push(new A.VarDecl(d.line, 'global', d.name, d.type, null));
        return;
      }
    }
    const scope: A.VarScope = spec.storage === 'self' ? 'self' : spec.storage === 'this' ? 'this' : 'global';
    if (resolve(d.type).kind === Kind.Function) {
      // a function prototype declaration: accepted, nothing to do
      return;
    }
    this.knownIdents.add(d.name);
    items.push(new A.VarDecl(d.line, scope, d.name, d.type, d.keys));
  }

  private inlineDefinition(items: A.Item[]): void {
    const line = this.advance().line;
    const spec = this.specifiers(false);
    const d = this.declarator(spec.type, false);
    if (d.name === '') this.syntax();
    this.expect(T.Assign);
    const e = this.assignment();
    this.knownIdents.add(d.name);
    if (d.keys !== null && d.keyNames !== undefined && d.keyNames.every((n) => n !== '')) {
      // name[type param, ...]: each use name[args] is the body with the arguments put in
      this.paramInlines.set(d.name, { type: d.type, names: d.keyNames, keys: d.keys, body: e });
      this.inlineInts.delete(d.name);
      this.expectLast(T.Semi);
      return;
    }
    const v = isInteger(d.type) ? evalConstant(e, this.types, this.parseTimeIdent) : null;
    if (v !== null) this.inlineInts.set(d.name, v);
    else this.inlineInts.delete(d.name);
    items.push(new A.InlineDecl(line, d.name, d.type, e));
    this.expectLast(T.Semi);
  }

  private translatorDefinition(items: A.Item[]): void {
    this.advance();
    const output = this.typeName();
    this.expect(T.Lt);
    const input = this.typeName();
    const param = this.expect(T.Ident).value;
    this.expect(T.Gt);
    this.expect(T.LBrace);
    const members: Array<{ line: number; name: string; expr: A.Expr }> = [];
    while (!this.at(T.RBrace)) {
      const id = this.expect(T.Ident);
      this.expect(T.Assign);
      const e = this.assignment();
      this.expect(T.Semi);
      members.push({ line: id.line, name: id.value, expr: e });
    }
    this.advance();
    this.expectLast(T.Semi);
    items.push(new A.TranslatorDecl(this.lx.yyline, output, input, param, members));
  }

  private providerDefinition(items: A.Item[]): void {
    const line = this.advance().line;
    const name = this.expect(T.Ident).value;
    this.expect(T.LBrace);
    const probes: Array<{ name: string; args: DType[] }> = [];
    while (!this.at(T.RBrace)) {
      if (!this.at(T.KwProbe)) this.syntax();
      this.advance();
      const pname = this.expect(T.Ident).value;
      this.expect(T.LParen);
      const args: DType[] = [];
      if (!this.at(T.RParen)) {
        for (;;) {
          const spec = this.specifiers(false);
          const d = this.declarator(spec.type, false);
          if (resolve(d.type) !== VOID) args.push(d.type);
          if (!this.accept(T.Comma)) break;
        }
      }
      this.expect(T.RParen);
      if (this.accept(T.Colon)) {
        this.expect(T.LParen);
        while (!this.at(T.RParen)) this.advance();
        this.expect(T.RParen);
      }
      this.expect(T.Semi);
      probes.push({ name: pname, args });
    }
    this.advance();
    this.expectLast(T.Semi);
    items.push(new A.ProviderDecl(line, name, probes));
  }

  // -- constant expressions (array sizes, bit-field widths, enumerator values) -----------------

  /**
   * Identifiers that are integer constants while parsing: integer inlines, including D's own
   * (errno and signal names); enumerators are not (DTrace resolves them when cooking).
   */
  private readonly parseTimeIdent = (name: string): bigint | null => {
    const v = this.inlineInts.get(name);
    if (v !== undefined) return v;
    if (this.knownIdents.has(name)) return null;
    return dConstants().get(name)?.value ?? null;
  };

  constantInt(e: A.Expr): bigint {
    const v = evalConstant(e, this.types);
    if (v === null) {
      throw new DCompileError('D_DECL_ARRSUB', e.line, 'positive integral constant expression or tuple signature expected as array declaration subscript');
    }
    return v;
  }
}

/** Folds an integer constant expression at parse time, or returns null if it is not one. */
export function evalConstant(
  e: A.Expr,
  types: TypeScope,
  ident?: (name: string) => bigint | null,
): bigint | null {
  switch (e.kind) {
    case A.N.Int:
      return e.value;
    case A.N.Ident: {
      if (ident !== undefined) return ident(e.name);
      const c = types.enumConsts.get(e.name);
      return c ? BigInt(c.value) : null;
    }
    case A.N.Logical: {
      const l = evalConstant(e.left, types, ident);
      const r = l === null ? null : evalConstant(e.right, types, ident);
      if (l === null || r === null) return null;
      const v = e.op === '&&' ? l !== 0n && r !== 0n : e.op === '||' ? l !== 0n || r !== 0n : (l !== 0n) !== (r !== 0n);
      return v ? 1n : 0n;
    }
    case A.N.SizeofType:
      return BigInt(e.of.size);
    case A.N.Cast: {
      const v = evalConstant(e.operand, types, ident);
      if (v === null || !isInteger(e.to)) return null;
      const r = resolve(e.to);
      return r.signed ? BigInt.asIntN(r.size * 8, v) : BigInt.asUintN(r.size * 8, v);
    }
    case A.N.Unary: {
      const v = evalConstant(e.operand, types, ident);
      return v === null ? null : foldUnary(e.op, v);
    }
    case A.N.Binary: {
      // a + b + c ...: innermost first, in a loop (the parser builds such chains unbounded)
      const links: A.Binary[] = [];
      let x: A.Expr = e;
      for (; x.kind === A.N.Binary; x = x.left) links.push(x);
      let v = evalConstant(x, types, ident);
      for (let i = links.length - 1; i >= 0 && v !== null; i--) {
        const r = evalConstant(links[i].right, types, ident);
        v = r === null ? null : foldBinary(links[i].op, v, r);
      }
      return v;
    }
    case A.N.Ternary: {
      const c = evalConstant(e.cond, types, ident);
      if (c === null) return null;
      return evalConstant(c !== 0n ? e.then : e.otherwise, types, ident);
    }
    default:
      return null;
  }
}
