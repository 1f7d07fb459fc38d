import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import * as A from '../../src/lang/ast.js';
import { DCompileError } from '../../src/lang/diagnostics.js';
import { Lexer } from '../../src/lang/lexer.js';
import { Parser } from '../../src/lang/parser.js';
import { TypeScope } from '../../src/lang/typescope.js';
import { Kind, resolve } from '../../src/lang/types.js';

function parse(text: string, fromFile = true, types = new TypeScope(256)): A.Program {
  const lx = new Lexer(text, { args: ['d'], defaultArgs: false, vars: new Map(), used: new Set() }, fromFile);
  return new Parser(lx, types, new Set(), { fromFile, pspecOnly: !fromFile }).parseProgram();
}

function parseError(text: string, fromFile = true): [string, number, string] {
  try {
    parse(text, fromFile);
  } catch (e) {
    if (e instanceof DCompileError) return [e.tag, e.line, e.message];
    throw e;
  }
  throw new Error(`no error for ${text}`);
}

/** An expression as fully parenthesised text, to check precedence and associativity. */
function show(e: A.Expr): string {
  switch (e.kind) {
    case A.N.Int:
      return String(e.value);
    case A.N.Ident:
      return e.name;
    case A.N.Str:
      return JSON.stringify(e.value);
    case A.N.Binary:
    case A.N.Logical:
      return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case A.N.Assign:
      return `(${show(e.target)} ${e.op} ${show(e.value)})`;
    case A.N.Unary:
      return `(${e.op}${show(e.operand)})`;
    case A.N.Postfix:
      return `(${show(e.operand)}${e.op})`;
    case A.N.Ternary:
      return `(${show(e.cond)} ? ${show(e.then)} : ${show(e.otherwise)})`;
    case A.N.Cast:
      return `((${e.to.name})${show(e.operand)})`;
    case A.N.Call:
      return `${e.name}(${e.args.map(show).join(', ')})`;
    case A.N.Index:
      return `${show(e.base)}[${e.args.map(show).join(', ')}]`;
    case A.N.Member:
      return `${show(e.base)}${e.arrow ? '->' : '.'}${e.name}`;
    case A.N.SelfVar:
      return `self->${e.name}`;
    case A.N.ThisVar:
      return `this->${e.name}`;
    case A.N.Agg:
      return e.name;
    default:
      return `<${e.kind}>`;
  }
}

function expr(text: string): string {
  const prog = parse(`BEGIN { ${text}; }`);
  const c = prog.items[0] as A.Clause;
  return show((c.body![0] as A.ExprStmt).expr);
}

test('C precedence and associativity', () => {
  const cases: Array<[string, string]> = [
    ['a + b * c', '(a + (b * c))'],
    ['a - b - c', '((a - b) - c)'],
    ['a = b = c', '(a = (b = c))'],
    ['a << 1 + 2', '(a << (1 + 2))'],
    ['a & b == c', '(a & (b == c))'],
    ['a || b && c', '(a || (b && c))'],
    ['a ^^ b || c', '((a ^^ b) || c)'],
    ['a ? b : c ? d : e', '(a ? b : (c ? d : e))'],
    ['-a++', '(-(a++))'],
    ['!*p', '(!(*p))'],
    ['(int)x + 1', '(((int)x) + 1)'],
    ['self->x[1] += @a', '(self->x[1] += @a)'],
    ['this->p->q.r', 'this->p->q.r'],
    ['f(a, b)[2]', 'f(a, b)[2]'],
  ];
  for (const [input, want] of cases) assert.equal(expr(input), want, input);
});

test('probe descriptions, predicates and clause forms', () => {
  const prog = parse('syscall::open*:entry, profile:::tick-1sec /pid == 1/ { } BEGIN { x = 1 }');
  const c = prog.items[0] as A.Clause;
  assert.deepEqual(c.probes.map((p) => p.text), ['syscall::open*:entry', 'profile:::tick-1sec']);
  assert.ok(c.predicate);
  assert.deepEqual(c.body, []);
  const d = prog.items[1] as A.Clause;
  assert.equal(d.body!.length, 1);
  // a -n description alone is a clause with the default action
  assert.equal((parse('BEGIN', false).items[0] as A.Clause).body, null);
});

test('declarations define types as they are parsed', () => {
  const types = new TypeScope(256);
  parse('struct s { int a; char b[3]; long c; }; typedef struct s s_t; enum e { A, B = 4, C }; s_t x;', true, types);
  const s = resolve(types.lookup('s_t')!);
  assert.equal(s.kind, Kind.Struct);
  assert.equal(s.size, 16);
  assert.deepEqual(s.members.map((m) => [m.name, m.offset]), [
    ['a', 0],
    ['b', 4],
    ['c', 8],
  ]);
  assert.deepEqual([...types.enumConsts].map(([n, c]) => [n, c.value]), [
    ['A', 0],
    ['B', 4],
    ['C', 5],
  ]);
});

test('casts are told from parenthesised expressions by type names', () => {
  assert.equal(expr('(uint64_t)x'), '((uint64_t)x)');
  assert.equal(expr('(x) + 1'), '(x + 1)');
  assert.equal(expr('(struct foo *)p'), '((struct foo *)p)');
});

test('if / else statements', () => {
  const prog = parse('BEGIN { if (x) { y = 1; } else if (z) y = 2; else { } }');
  const s = (prog.items[0] as A.Clause).body![0] as A.IfStmt;
  assert.equal(s.kind, 'if');
  assert.equal(s.then.length, 1);
  assert.equal((s.otherwise![0] as A.IfStmt).kind, 'if');
});

test('syntax errors name the token they happened near', () => {
  const cases: Array<[string, [string, number, string]]> = [
    ['BEGIN { x = 1 +; }', ['D_SYNTAX', 1, 'syntax error near ";"']],
    ['BEGIN\n{\n\tx = (1;\n}', ['D_SYNTAX', 3, 'syntax error near ";"']],
    // y is new: the lexer looked past it (so the message quotes the rest of the line)
    ['BEGIN { x = 1 y = 2 }', ['D_SYNTAX', 1, 'syntax error near "y = 2 }"']],
    ['BEGIN { x = 1 x = 2 }', ['D_SYNTAX', 1, 'syntax error near "x"']],
    // the look-ahead past a new name at the very end pushes back a NUL, which the lexer reports
    ['BEGIN { y\n', ['D_SYNTAX', 2, 'syntax error near end-of-input']],
    ['int*x\n', ['D_SYNTAX', 2, 'syntax error near end-of-input']],
    ['BEGIN { x = 1; x', ['D_SYNTAX', 1, 'syntax error near end of input']],
    ['BEGIN', ['D_SYNTAX', 1, 'expected predicate and/or actions following probe description']],
    ['BEGIN /x/', ['D_SYNTAX', 1, 'expected actions { } following probe description and predicate']],
    ['int a[0];', ['D_DECL_ARRSUB', 1, 'positive integral constant expression or tuple signature expected as array declaration subscript']],
    ['struct s { int a; char a; };', ['D_UNKNOWN', 1, "failed to define member 'a': Duplicate member or variable name"]],
    ['unsigned struct s x;', ['D_DECL_SIGNINT', 1, 'invalid type declaration: signed and unsigned may only be used with integer type']],
    ['register x;', ['D_DECL_BADCLASS', 1, 'specified storage class not appropriate in D']],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseError(text), want, text);
});

test('forEachChild visits the child expressions of every node kind, in source order', () => {
  const names = (text: string) => {
    const c = parse(`BEGIN { ${text}; }`).items[0] as A.Clause;
    const e = (c.body![0] as A.ExprStmt).expr;
    const out: string[] = [];
    const walk = (x: A.Expr) => {
      if (x.kind === A.N.Ident) out.push(x.name);
      A.forEachChild(x, walk);
    };
    walk(e);
    return out.join(' ');
  };
  assert.equal(names('a ? b[c, d] : f(g)->h + -i'), 'a b c d g i');
  assert.equal(names('x = (y, sizeof (z))'), 'x y z');
  assert.equal(names('@n[k] = count()'), 'k');
});
