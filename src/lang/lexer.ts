// The D scanner: char codes in, tokens out. Two modes, as dt_lex.l: expression tokens inside
// clauses and declarations, probe specifiers in the outer scope.                     [dt_lex.l]

import { DCompileError } from './diagnostics.js';
import type { ErrTag } from './errtags.js';
import { KEYWORDS, T } from './tokens.js';

export class Token {
  constructor(
    public kind: T,
    /** the source text of the token (for "near" messages) */
    public text: string,
    public line: number,
    /** integer constants: the value */
    public int: bigint,
    /** integer constants: the suffix ("", "u", "ul", "ll", ...) lower-cased */
    public suffix: string,
    /** integer constants: written in decimal (C gives decimal and hex/octal different types) */
    public decimal: boolean,
    /** strings and identifiers: the cooked value */
    public value: string,
  ) {}

  /** identifiers: where the token starts in the source */
  start = -1;
}

/** Macro variables and arguments ($1, $$1, $pid, $target, ...) the lexer substitutes. */
export interface MacroEnv {
  /** $0 is the script name; $1.. the arguments after it */
  args: string[];
  /** -xdefaultargs: undefined $N become 0 / "" */
  defaultArgs: boolean;
  /** named macro variables: pid, ppid, uid, gid, target, ... */
  vars: ReadonlyMap<string, number>;
  /** which $N were used (for "macro argument not referenced" checks) */
  used: Set<number>;
}

/** A `#pragma` (or other control) line: its words, as the lexer found them. */
export interface ControlLine {
  line: number;
  words: Array<{ text: string; quoted: boolean }>;
}

const enum C {
  Tab = 9,
  LF = 10,
  VT = 11,
  FF = 12,
  CR = 13,
  Space = 32,
  Bang = 33,
  Quote = 34,
  Hash = 35,
  Dollar = 36,
  Percent = 37,
  Amp = 38,
  Apos = 39,
  LParen = 40,
  RParen = 41,
  Star = 42,
  Plus = 43,
  Comma = 44,
  Minus = 45,
  Dot = 46,
  Slash = 47,
  D0 = 48,
  D7 = 55,
  D9 = 57,
  Colon = 58,
  Semi = 59,
  Lt = 60,
  Eq = 61,
  Gt = 62,
  Question = 63,
  At = 64,
  UA = 65,
  UF = 70,
  UZ = 90,
  LBrack = 91,
  Backslash = 92,
  RBrack = 93,
  Caret = 94,
  Underscore = 95,
  Backquote = 96,
  LA = 97,
  LF_ = 102,
  LZ = 122,
  LBrace = 123,
  Pipe = 124,
  RBrace = 125,
  Tilde = 126,
}

function isSpace(c: number): boolean {
  return c === C.Space || c === C.Tab || c === C.LF || c === C.CR || c === C.VT || c === C.FF;
}
function isDigit(c: number): boolean {
  return c >= C.D0 && c <= C.D9;
}
function isIdentStart(c: number): boolean {
  return (c >= C.LA && c <= C.LZ) || (c >= C.UA && c <= C.UZ) || c === C.Underscore || c === C.Backquote;
}
function isIdentChar(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}
/** RGX_PSPEC's first character set: [-$:a-zA-Z_.?*\\\[\]!] */
function isPspecStart(c: number): boolean {
  return (
    (c >= C.LA && c <= C.LZ) ||
    (c >= C.UA && c <= C.UZ) ||
    c === C.Underscore ||
    c === C.Minus ||
    c === C.Dollar ||
    c === C.Colon ||
    c === C.Dot ||
    c === C.Question ||
    c === C.Star ||
    c === C.Backslash ||
    c === C.LBrack ||
    c === C.RBrack ||
    c === C.Bang
  );
}
function isPspecChar(c: number): boolean {
  return isPspecStart(c) || isDigit(c) || c === C.Backquote;
}

/**
 * Decodes escape sequences as DTrace's stresc2chr does: octal (up to 3 digits), \x with any
 * number of hex digits, \a \b \f \n \r \t \v, \" and \\; any other escape keeps its backslash.
 */
export function unescape(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch !== '\\' || i + 1 >= s.length) {
      out += ch;
      continue;
    }
    const e = s[++i];
    switch (e) {
      case 'a': out += '\x07'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case '"':
      case '\\':
        out += e;
        break;
      case 'x': {
        let v = 0;
        while (i + 1 < s.length && /[0-9a-fA-F]/.test(s[i + 1])) v = v * 16 + parseInt(s[++i], 16);
        out += String.fromCharCode(v & 0xff);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          let v = e.charCodeAt(0) - 48;
          let n = 1;
          while (n < 3 && i + 1 < s.length && s[i + 1] >= '0' && s[i + 1] <= '7') {
            v = v * 8 + (s.charCodeAt(++i) - 48);
            n++;
          }
          out += String.fromCharCode(v & 0xff);
        } else {
          out += '\\' + e;
        }
    }
  }
  return out;
}

/** A string constant as D sees it: a C string ends at its first NUL. */
function cString(s: string): string {
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}

/** Significant digits of 2^64 - 1 by radix: a literal with more overflows. */
const MAX_DIGITS: Record<number, number> = { 8: 22, 10: 20, 16: 16 };

/** More significant digits after `from` than 2^64 has: overflow, told without a huge BigInt. */
function tooManyDigits(digits: string, from: number, radix: number): boolean {
  const max = MAX_DIGITS[radix];
  if (digits.length - from <= max) return false;
  let i = from;
  while (i < digits.length && digits[i] === '0') i++;
  return digits.length - i > max;
}

export class Lexer {
  pos = 0;
  line = 1;
  /** flex's yylineno: the line the lexer has read up to, lookahead included (error lines) */
  yyline = 1;
  parens = 0;
  brackets = 0;
  braces = 0;
  /** called for each control line (#pragma ...) as the lexer meets it, so options apply at once */
  onControl: ((c: ControlLine) => void) | null = null;
  private readonly len: number;

  constructor(
    readonly text: string,
    readonly macros: MacroEnv,
    /** file input reports lines; -n strings do not (but tokens still carry them) */
    readonly fromFile: boolean,
  ) {
    this.len = text.length;
  }

  error(message: string, tag: ErrTag = 'D_SYNTAX', line = this.line): never {
    throw new DCompileError(tag, line, message);
  }

  /** yyerror: a syntax error that names the token it happened near. */
  /**
   * The rest of the line from an identifier. dt_lex.l classifies an unknown identifier by
   * reading ahead with input() and unput(), which leaves yytext unterminated: a syntax error
   * on such a token quotes the source from it to the end of the line.
   */
  restOfLine(tok: Token): string {
    const nl = this.text.indexOf('\n', tok.start);
    return this.text.slice(tok.start, nl < 0 ? this.len : nl);
  }

  /**
   * The identifier the input ends with (only white space after it), as a token, or null; not
   * a keyword, nor a member name (after -> or .) or a struct, union or enum tag, which dt_lex.l
   * reads without looking further.
   */
  trailingIdent(): Token | null {
    let end = this.len;
    while (end > 0 && isSpace(this.text.charCodeAt(end - 1))) end--;
    let start = end;
    while (start > 0 && isIdentChar(this.text.charCodeAt(start - 1))) start--;
    if (start === end || !isIdentStart(this.text.charCodeAt(start))) return null;
    const name = this.text.slice(start, end);
    if (KEYWORDS.has(name)) return null;
    const before = this.text.slice(Math.max(0, start - 16), start).trimEnd();
    if (/(->|\.|\b(struct|union|enum))$/.test(before)) return null;
    const t = new Token(T.Ident, name, this.line, 0n, '', false, name);
    t.start = start;
    return t;
  }

  /**
   * Whether dt_lex.l would have interned an identifier before this token: it does so when its
   * look-ahead sees ++, --, [, = or ; after the name, and a later occurrence is then known
   * (read without look-ahead). Searched only when a syntax error needs it.
   */
  internedBefore(tok: Token): boolean {
    const name = tok.value;
    for (let i = this.text.indexOf(name); i >= 0 && i < tok.start; i = this.text.indexOf(name, i + 1)) {
      if (i > 0 && isIdentChar(this.text.charCodeAt(i - 1))) continue;
      let j = i + name.length;
      if (isIdentChar(this.code(j))) continue;
      while (isSpace(this.code(j)) || this.code(j) === C.LF) j++;
      const c = this.code(j);
      const c1 = this.code(j + 1);
      if (c === C.Semi || c === C.LBrack || (c === C.Eq && c1 !== C.Eq) || ((c === C.Plus || c === C.Minus) && c1 === c)) return true;
    }
    return false;
  }

  syntaxNear(tok: Token, message = 'syntax error'): never {
    let near: string;
    if (tok.kind === T.EOF) near = ' near end of input';
    else near = ` near "${tok.text.split('\n')[0]}"`;
    throw new DCompileError('D_SYNTAX', tok.line, message + near);
  }

  private code(i: number): number {
    return i < this.len ? this.text.charCodeAt(i) : -1;
  }

  private atLineStart(i: number): boolean {
    let j = i - 1;
    while (j >= 0) {
      const c = this.text.charCodeAt(j);
      if (c === C.LF) return true;
      if (c !== C.Space && c !== C.Tab && c !== C.FF && c !== C.VT) return false;
      j--;
    }
    return true;
  }

  /** Skips white space, comments, escaped newlines and control lines. */
  skipTrivia(): void {
    for (;;) {
      const c = this.code(this.pos);
      if (c === C.LF) {
        this.line++;
        this.pos++;
      } else if (isSpace(c)) {
        this.pos++;
      } else if (c === C.Backslash && this.code(this.pos + 1) === C.LF) {
        this.pos += 2;
        this.line++;
      } else if (c === C.Slash && this.code(this.pos + 1) === C.Star) {
        this.skipComment();
      } else if (c === C.Hash && this.atLineStart(this.pos)) {
        this.controlLine();
      } else {
        return;
      }
    }
  }

  private skipComment(): void {
    this.pos += 2;
    for (;;) {
      const c = this.code(this.pos);
      if (c < 0) this.error('end-of-file encountered before matching */');
      if (c === C.Star && this.code(this.pos + 1) === C.Slash) {
        this.pos += 2;
        return;
      }
      if (c === C.Slash && this.code(this.pos + 1) === C.Star) this.error('/* encountered inside a comment');
      if (c === C.LF) this.line++;
      this.pos++;
    }
  }

  /** `#!` interpreter lines are discarded; `#pragma` and `# N "file"` lines are recorded. */
  private controlLine(): void {
    const line = this.line;
    let end = this.text.indexOf('\n', this.pos);
    if (end < 0) end = this.len;
    const body = this.text.slice(this.pos + 1, end);
    this.pos = end;
    if (body.startsWith('!')) return;
    const words: Array<{ text: string; quoted: boolean }> = [];
    let i = 0;
    while (i < body.length) {
      const ch = body[i];
      if (ch === ' ' || ch === '\t' || ch === '\f' || ch === '\v' || ch === '\r') {
        i++;
      } else if (ch === '"') {
        const close = body.indexOf('"', i + 1);
        if (close < 0) this.error('newline encountered in string literal', 'D_STR_NL', line);
        words.push({ text: unescape(body.slice(i + 1, close)), quoted: true });
        i = close + 1;
      } else {
        let j = i;
        while (j < body.length && !' \t\f\v\r"'.includes(body[j])) j++;
        words.push({ text: body.slice(i, j), quoted: false });
        i = j;
      }
    }
    if (end >= this.len) this.error('end-of-file encountered before end of control line');
    if (words.length === 0) return;
    // "# N" and "#line N" (cpp output) set the number of the next line
    let w = 0;
    if (words[0].text === 'line' && !words[0].quoted) w = 1;
    if (w < words.length && /^[0-9]+$/.test(words[w].text)) {
      if (w + 1 < words.length && !words[w + 1].quoted) {
        this.error(`malformed #line <line> [ ["file"] state ]`, 'D_PRAGMA_MALFORM', line);
      }
      this.line = parseInt(words[w].text, 10) - 1;
      return;
    }
    if (this.onControl) this.onControl({ line, words });
  }

  private tok(kind: T, start: number, line: number): Token {
    return new Token(kind, this.text.slice(start, this.pos), line, 0n, '', false, '');
  }

  /** The next token in expression mode (dt_lex.l state S0). */
  next(): Token {
    const t = this.scan();
    this.yyline = t.kind === T.EPred ? this.line + this.newlinesAhead() : this.line;
    return t;
  }

  /** Newlines between here and the next non-blank character (EPRED's lookahead reads them). */
  private newlinesAhead(): number {
    let n = 0;
    for (let j = this.pos; j < this.len; j++) {
      const c = this.text.charCodeAt(j);
      if (c === C.LF) n++;
      else if (!isSpace(c)) break;
    }
    return n;
  }

  private scan(): Token {
    this.skipTrivia();
    const start = this.pos;
    const line = this.line;
    const c = this.code(this.pos);
    if (c < 0) return new Token(T.EOF, '', line, 0n, '', false, '');

    if (isIdentStart(c)) {
      let j = this.pos + 1;
      while (isIdentChar(this.code(j))) j++;
      this.pos = j;
      const text = this.text.slice(start, j);
      const kw = KEYWORDS.get(text);
      const t = this.tok(kw ?? T.Ident, start, line);
      t.value = text;
      t.start = start;
      return t;
    }
    if (isDigit(c)) return this.number(start, line);

    switch (c) {
      case C.Quote:
        return this.stringLiteral(start, line);
      case C.Apos:
        return this.charLiteral(start, line);
      case C.Dollar:
        return this.macro(start, line);
      case C.At: {
        let j = this.pos + 1;
        if (isIdentStart(this.code(j)) && this.code(j) !== C.Backquote) {
          while (isIdentChar(this.code(j)) && this.code(j) !== C.Backquote) j++;
        }
        this.pos = j;
        const t = this.tok(T.Agg, start, line);
        t.value = j === start + 1 ? '@_' : t.text;
        return t;
      }
    }
    return this.punct(c, start, line);
  }

  private punct(c: number, start: number, line: number): Token {
    const c1 = this.code(this.pos + 1);
    const c2 = this.code(this.pos + 2);
    let kind: T;
    let n = 1;
    switch (c) {
      case C.LParen: kind = T.LParen; this.parens++; break;
      case C.RParen:
        kind = T.RParen;
        if (--this.parens < 0) this.error('extra ) in input stream');
        break;
      case C.LBrack: kind = T.LBrack; this.brackets++; break;
      case C.RBrack:
        kind = T.RBrack;
        if (--this.brackets < 0) this.error('extra ] in input stream');
        break;
      case C.LBrace: kind = T.LBrace; this.braces++; break;
      case C.RBrace:
        kind = T.RBrace;
        if (--this.braces < 0) this.error('extra } in input stream');
        break;
      case C.Semi: kind = T.Semi; break;
      case C.Comma: kind = T.Comma; break;
      case C.Question: kind = T.Question; break;
      case C.Colon: kind = T.Colon; break;
      case C.Tilde: kind = T.Tilde; break;
      case C.Dot:
        if (c1 === C.Dot && c2 === C.Dot) { kind = T.Ellipsis; n = 3; }
        else if (isDigit(c1)) this.error('floating-point constants are not permitted');
        else kind = T.Dot;
        break;
      case C.Plus:
        if (c1 === C.Plus) { kind = T.PlusPlus; n = 2; }
        else if (c1 === C.Eq) { kind = T.PlusAssign; n = 2; }
        else kind = T.Plus;
        break;
      case C.Minus:
        if (c1 === C.Minus) { kind = T.MinusMinus; n = 2; }
        else if (c1 === C.Eq) { kind = T.MinusAssign; n = 2; }
        else if (c1 === C.Gt) { kind = T.Arrow; n = 2; }
        else kind = T.Minus;
        break;
      case C.Star:
        if (c1 === C.Eq) { kind = T.StarAssign; n = 2; } else kind = T.Star;
        break;
      case C.Slash:
        if (c1 === C.Eq) { kind = T.SlashAssign; n = 2; }
        else {
          this.pos++;
          kind = this.slashEndsPredicate() ? T.EPred : T.Slash;
          this.pos--;
        }
        break;
      case C.Percent:
        if (c1 === C.Eq) { kind = T.PercentAssign; n = 2; } else kind = T.Percent;
        break;
      case C.Amp:
        if (c1 === C.Amp) { kind = T.AmpAmp; n = 2; }
        else if (c1 === C.Eq) { kind = T.AmpAssign; n = 2; }
        else kind = T.Amp;
        break;
      case C.Pipe:
        if (c1 === C.Pipe) { kind = T.PipePipe; n = 2; }
        else if (c1 === C.Eq) { kind = T.PipeAssign; n = 2; }
        else kind = T.Pipe;
        break;
      case C.Caret:
        if (c1 === C.Caret) { kind = T.CaretCaret; n = 2; }
        else if (c1 === C.Eq) { kind = T.CaretAssign; n = 2; }
        else kind = T.Caret;
        break;
      case C.Bang:
        if (c1 === C.Eq) { kind = T.NotEq; n = 2; } else kind = T.Bang;
        break;
      case C.Eq:
        if (c1 === C.Eq) { kind = T.EqEq; n = 2; } else kind = T.Assign;
        break;
      case C.Lt:
        if (c1 === C.Lt) {
          if (c2 === C.Eq) { kind = T.ShlAssign; n = 3; } else { kind = T.Shl; n = 2; }
        } else if (c1 === C.Eq) { kind = T.Le; n = 2; }
        else kind = T.Lt;
        break;
      case C.Gt:
        if (c1 === C.Gt) {
          if (c2 === C.Eq) { kind = T.ShrAssign; n = 3; } else { kind = T.Shr; n = 2; }
        } else if (c1 === C.Eq) { kind = T.Ge; n = 2; }
        else kind = T.Gt;
        break;
      default:
        this.pos++;
        this.error(`syntax error near "${String.fromCharCode(c)}"`);
    }
    this.pos += n;
    return this.tok(kind, start, line);
  }

  /**
   * Whether the "/" just scanned ends a predicate: the next non-blank character is end of
   * input, ";", "{" or "/" (dt_lex.l's lookahead for DT_TOK_EPRED).
   */
  slashEndsPredicate(): boolean {
    let j = this.pos;
    while (j < this.len && isSpace(this.text.charCodeAt(j))) j++;
    const c = this.code(j);
    const ends = c < 0 || c === C.Semi || c === C.LBrace || c === C.Slash;
    if (ends) {
      const line = this.line + this.newlinesAhead();
      if (this.parens !== 0) this.error('closing ) expected in predicate before /', 'D_SYNTAX', line);
      if (this.brackets !== 0) this.error('closing ] expected in predicate before /', 'D_SYNTAX', line);
    }
    return ends;
  }

  private number(start: number, line: number): Token {
    let j = this.pos;
    let isHex = false;
    if (this.code(j) === C.D0 && (this.code(j + 1) === 120 || this.code(j + 1) === 88)) {
      isHex = true;
      j += 2;
      while (/[0-9a-fA-F]/.test(this.text[j] ?? '')) j++;
    } else {
      while (isDigit(this.code(j))) j++;
      const c = this.code(j);
      if (c === C.Dot || c === 101 || c === 69) {
        // RGX_FP: digits '.' digits, or an exponent
        this.error('floating-point constants are not permitted');
      }
    }
    const digitsEnd = j;
    // RGX_INT's suffix [uU]?[lL]?[lL]?, then any identifier characters that follow
    if (/[uU]/.test(this.text[j] ?? '')) j++;
    if (/[lL]/.test(this.text[j] ?? '')) j++;
    if (/[lL]/.test(this.text[j] ?? '')) j++;
    // RGX_INT matches digits and a suffix only: letters after them start the next token
    this.pos = j;
    const text = this.text.slice(start, j);
    const digits = this.text.slice(start, digitsEnd);
    const t = this.tok(T.Int, start, line);
    t.suffix = text.slice(digits.length).toLowerCase();
    t.decimal = digits[0] !== '0';
    let v: bigint;
    if (isHex) {
      if (tooManyDigits(digits, 2, 16)) this.error(`constant ${text} results in integer overflow`, 'D_INT_OFLOW', line);
      v = digits.length > 2 ? BigInt(digits) : 0n;
    } else if (digits.length > 1 && digits[0] === '0') {
      for (let k = 1; k < digits.length; k++) {
        if (digits[k] > '7') this.error(`constant ${text} contains invalid digit ${digits[k]}`, 'D_INT_DIGIT', line);
      }
      if (tooManyDigits(digits, 1, 8)) this.error(`constant ${text} results in integer overflow`, 'D_INT_OFLOW', line);
      v = BigInt('0o' + digits.slice(1));
    } else {
      if (tooManyDigits(digits, 0, 10)) this.error(`constant ${text} results in integer overflow`, 'D_INT_OFLOW', line);
      v = BigInt(digits);
    }
    if (v > 0xffffffffffffffffn) this.error(`constant ${text} results in integer overflow`, 'D_INT_OFLOW', line);
    t.int = v;
    return t;
  }

  private stringLiteral(start: number, line: number): Token {
    let j = this.pos + 1;
    for (;;) {
      const c = this.code(j);
      if (c < 0) {
        this.pos = j;
        this.error('syntax error near end of input');
      }
      if (c === C.LF) this.error('newline encountered in string literal', 'D_STR_NL', this.line + 1);
      if (c === C.Backslash) {
        if (this.code(j + 1) === C.LF) this.error('newline encountered in string literal', 'D_STR_NL', this.line + 1);
        j += 2;
        continue;
      }
      if (c === C.Quote) break;
      j++;
    }
    this.pos = j + 1;
    const t = this.tok(T.String, start, line);
    t.value = cString(unescape(this.text.slice(start + 1, j)));
    return t;
  }

  private charLiteral(start: number, line: number): Token {
    let j = this.pos + 1;
    for (;;) {
      const c = this.code(j);
      if (c < 0 || c === C.LF) this.error('newline encountered in character constant', 'D_CHR_NL', this.line + 1);
      if (c === C.Backslash) {
        if (this.code(j + 1) === C.LF) this.error('newline encountered in character constant', 'D_CHR_NL', this.line + 1);
        j += 2;
        continue;
      }
      if (c === C.Apos) break;
      j++;
    }
    this.pos = j + 1;
    if (j === start + 1) this.error('empty character constant', 'D_CHR_NULL');
    const bytes = unescape(this.text.slice(start + 1, j));
    if (bytes.length > 8) this.error('character constant is too long', 'D_CHR_OFLOW');
    // little-endian: the first character is the most significant byte
    let v = 0n;
    for (let k = 0; k < bytes.length; k++) v = (v << 8n) | BigInt(bytes.charCodeAt(k) & 0xff);
    const t = this.tok(T.Int, start, line);
    t.int = v;
    t.decimal = true;
    // a one-character constant is a char; sign-extend it as C does for plain (signed) char
    if (bytes.length === 1) t.suffix = 'char';
    return t;
  }

  /** $N, $$N, $name, $$name: macro arguments and variables. */
  private macro(start: number, line: number): Token {
    const dbl = this.code(this.pos + 1) === C.Dollar;
    let j = this.pos + (dbl ? 2 : 1);
    const c = this.code(j);
    if (isDigit(c)) {
      while (isDigit(this.code(j))) j++;
      this.pos = j;
      const text = this.text.slice(start, j);
      const n = parseInt(text.slice(dbl ? 2 : 1), 10);
      const { args, defaultArgs } = this.macros;
      if (n >= args.length && !defaultArgs) this.error(`macro argument ${text} is not defined`, 'D_MACRO_UNDEF', line);
      if (n < args.length) this.macros.used.add(n);
      if (dbl) {
        const t = this.tok(T.String, start, line);
        t.value = unescape(n < args.length ? args[n] : '');
        return t;
      }
      return this.macroValue(n < args.length ? args[n] : '0', text, start, line);
    }
    if (isIdentStart(c)) {
      while (isIdentChar(this.code(j))) j++;
      this.pos = j;
      const text = this.text.slice(start, j);
      const name = text.slice(dbl ? 2 : 1);
      const v = this.macros.vars.get(name);
      if (v === undefined) this.error(`macro variable ${text} is not defined`, 'D_MACRO_UNDEF', line);
      if (dbl) {
        const t = this.tok(T.String, start, line);
        t.value = String(v >>> 0);
        return t;
      }
      const t = this.tok(T.Int, start, line);
      t.int = BigInt(v | 0);
      t.decimal = true;
      return t;
    }
    this.pos++;
    this.error('syntax error near "$"');
  }

  /** A $N argument's text becomes an integer, an identifier, or a string (dt_lex.l). */
  private macroValue(v: string, text: string, start: number, line: number): Token {
    if (badIdentOrNumber(v)) {
      const t = this.tok(T.String, start, line);
      const inner = v.length !== 1 && v[0] === '"' && v[v.length - 1] === '"' ? v.slice(1, -1) : v;
      t.value = unescape(inner);
      return t;
    }
    if (/^[0-9+-]/.test(v)) {
      let s = v;
      let neg = false;
      if (s[0] === '-' || s[0] === '+') {
        neg = s[0] === '-';
        s = s.slice(1);
      }
      const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)(.*)$/.exec(s);
      let val = 0n;
      let suffix = '';
      if (m) {
        const d = m[1];
        const hex = /^0[xX]/.test(d);
        if (tooManyDigits(d, hex ? 2 : 0, hex ? 16 : d.length > 1 && d[0] === '0' ? 8 : 10)) {
          this.error(`macro argument ${text} constant ${v} results in integer overflow`, 'D_MACRO_OFLOW', line);
        }
        val = /^0[xX]/.test(d) ? BigInt(d) : d.length > 1 && d[0] === '0' ? BigInt('0o' + d.slice(1)) : BigInt(d);
        suffix = m[2].toLowerCase();
      }
      if (val > 0xffffffffffffffffn) {
        this.error(`macro argument ${text} constant ${v} results in integer overflow`, 'D_MACRO_OFLOW', line);
      }
      const t = this.tok(T.Int, start, line);
      t.int = val;
      t.suffix = suffix;
      t.decimal = s[0] !== '0';
      t.text = v;
      if (neg) {
        // the sign is applied by the parser as a unary minus
        t.value = '-';
      }
      return t;
    }
    const t = this.tok(KEYWORDS.get(v) ?? T.Ident, start, line);
    t.value = v;
    t.text = v;
    return t;
  }

  // -- outer scope (dt_lex.l state S2) ---------------------------------------------------------

  /** The probe specifier starting here, without consuming it, or null. */
  peekPspec(): string | null {
    this.skipTrivia();
    const c = this.code(this.pos);
    if (!isPspecStart(c)) return null;
    let j = this.pos + 1;
    while (isPspecChar(this.code(j))) j++;
    return this.text.slice(this.pos, j);
  }

  /** The identifier starting here, without consuming it, or null. */
  peekIdent(): string | null {
    this.skipTrivia();
    if (!isIdentStart(this.code(this.pos))) return null;
    let j = this.pos + 1;
    while (isIdentChar(this.code(j))) j++;
    return this.text.slice(this.pos, j);
  }

  /** Consumes a probe specifier (RGX_PSPEC) or a probe ID, or a "," "/" "{" in the outer scope. */
  nextOuter(): Token {
    this.skipTrivia();
    const start = this.pos;
    const line = this.line;
    const c = this.code(this.pos);
    if (c < 0) return new Token(T.EOF, '', line, 0n, '', false, '');
    if (isPspecStart(c)) {
      let j = this.pos + 1;
      while (isPspecChar(this.code(j))) j++;
      this.pos = j;
      const t = this.tok(T.PSpec, start, line);
      t.value = t.text;
      return t;
    }
    if (isDigit(c)) return this.number(start, line);
    switch (c) {
      case C.Comma: this.pos++; return this.tok(T.Comma, start, line);
      case C.Slash: this.pos++; return this.tok(T.Slash, start, line);
      case C.LBrace: this.pos++; this.braces++; return this.tok(T.LBrace, start, line);
    }
    this.pos++;
    this.error(`syntax error near "${String.fromCharCode(c)}"`);
  }

  /** The next non-blank character code, or -1 at end of input (used for token classification). */
  peekChar(): number {
    let j = this.pos;
    while (j < this.len && isSpace(this.text.charCodeAt(j))) j++;
    return this.code(j);
  }

  peekChar2(): number {
    let j = this.pos;
    while (j < this.len && isSpace(this.text.charCodeAt(j))) j++;
    return this.code(j + 1);
  }
}

/** strbadidnum: true if s is neither a valid identifier nor a valid integer. */
function badIdentOrNumber(s: string): boolean {
  if (s === '') return true;
  if (/^[a-zA-Z_`][0-9a-zA-Z_`]*$/.test(s)) return false;
  const m = /^[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([uU]?[lL]?[lL]?)$/.exec(s);
  return m === null;
}
