// Type checking through the compiler driver: each case is a program and the DTrace error it
// must produce (tag, line, message), or null when it must compile.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Compiler } from '../../src/compile/compile.js';
import { DCompileError } from '../../src/lang/diagnostics.js';
import { DtraceProvider } from '../../src/providers/dtrace.js';
import { ProfileProvider } from '../../src/providers/profile.js';
import { ProbeRegistry } from '../../src/providers/registry.js';
import { Options } from '../../src/runtime/options.js';

function compile(text: string): DCompileError | null {
  const opts = new Options();
  const registry = new ProbeRegistry();
  registry.add(new DtraceProvider());
  const c = new Compiler(opts, registry, { args: ['t.d'], defaultArgs: false, vars: new Map([['pid', 1]]), used: new Set() });
  registry.add(new ProfileProvider(c.types.get('uint64_t')));
  try {
    c.compile({ text, fromFile: true, name: 't.d', level: 3 });
    return null;
  } catch (e) {
    if (e instanceof DCompileError) return e;
    throw e;
  }
}

const ok = (text: string) => assert.equal(compile(text)?.format(true, true) ?? null, null, text);

function fails(text: string, tag: string, message: string, line?: number) {
  const e = compile(text);
  assert.ok(e, `expected ${tag} for: ${text}`);
  assert.equal(e.tag, tag, text);
  assert.equal(e.message, message, text);
  if (line !== undefined) assert.equal(e.line, line, text);
}

test('variables are typed by their first assignment', () => {
  ok('BEGIN { x = 1; y = x + 1; s = "a"; t = s; }');
  ok('BEGIN { a["k", 1] = 2; b = a["k", 1]; }');
  ok('BEGIN { self->t = timestamp; this->l = self->t; }');
  fails('BEGIN { trace(x); }', 'D_IDENT_UNDEF', 'failed to resolve x: Unknown variable name');
  fails('BEGIN { x = 1; x = "s"; }', 'D_OP_INCOMPAT', 'operands have incompatible types: "int" = "string"');
  fails('BEGIN { p -= 1; }', 'D_VAR_UNDEF', 'p has not yet been declared or assigned');
  fails('BEGIN { a[1] = 1; a["x"] = 2; }', 'D_PROTO_ARG', 'a[ ] key #1 is incompatible with prototype:\n\tprototype: int\n\t      key: string');
});

test('a predicate may read what its clause assigns (the action list is checked first)', () => {
  ok('BEGIN /x == 0/ { exit(x++); }');
  fails('END { t = timestamp - start; } BEGIN { start = timestamp; }', 'D_IDENT_UNDEF', 'failed to resolve start: Unknown variable name');
});

test('a unary operator may read a D variable no clause has assigned yet (dt_cook_op1): it is an int64_t', () => {
  // iosnoop's /! pending[dev]/ comes before the clause that counts pending[dev]
  ok('BEGIN /!pending[1]/ { last[1] = timestamp; } BEGIN { pending[1]++; }');
  ok('BEGIN /!self->a["k"]/ { trace(-self->x); trace(~this->y); } BEGIN { self->a["k"] = 1; }');
  ok('BEGIN { trace(!n[1]); n[2] = 5; x = n[1] + 1; }');
  // read as an int64_t from then on: a later string assignment does not fit
  fails('BEGIN { trace(!n[1]); n[1] = "s"; }', 'D_OP_INCOMPAT', 'operands have incompatible types: "int64_t" = "string"');
  // other readers still need it assigned first, and a global scalar must exist
  fails('BEGIN { trace(pending[1] + 1); } BEGIN { pending[1] = 1; }', 'D_VAR_UNDEF', 'pending has not yet been declared or assigned');
  fails('BEGIN { trace(!x); }', 'D_IDENT_UNDEF', 'failed to resolve x: Unknown variable name');
});

test('operators check their operand types', () => {
  fails('BEGIN { trace("a" * 2); }', 'D_OP_ARITH', 'operator * requires operands of arithmetic type');
  fails('BEGIN { trace("a" & 2); }', 'D_OP_INT', 'operator & requires operands of integral type');
  fails('BEGIN { trace(1 / 0); }', 'D_DIV_ZERO', 'expression contains division by zero');
  fails('BEGIN { x = 1; trace(*x); }', 'D_DEREF_NONPTR', 'cannot dereference non-pointer type');
  ok('BEGIN { s = "x"; trace(s == NULL); trace(s < "y"); }');
  fails('void *p; BEGIN { trace(p + 1); }', 'D_OP_INCOMPAT', 'operands have incompatible types: "void *" + "int"');
});

test('predicates must be scalar', () => {
  fails('BEGIN /"str"/ { }', 'D_PRED_SCALAR', 'predicate result must be of scalar type');
});

test('function and action prototypes', () => {
  fails('BEGIN { exit(); }', 'D_PROTO_LEN', 'exit( ) prototype mismatch: 0 args passed, 1 expected');
  fails('BEGIN { exit("s"); }', 'D_PROTO_ARG', 'exit( ) argument #1 is incompatible with prototype:\n\tprototype: int\n\t argument: string');
  fails('BEGIN { strlen(12); }', 'D_PROTO_ARG', 'strlen( ) argument #1 is incompatible with prototype:\n\tprototype: char *\n\t argument: int');
  fails('BEGIN { nosuch(1); }', 'D_FUNC_UNDEF', 'undefined function name: nosuch');
  fails('BEGIN { printf(); }', 'D_PROTO_LEN', 'printf( ) prototype mismatch: 0 args passed, at least 1 expected');
  fails('BEGIN { x = "%d"; printf(x, 1); }', 'D_PRINTF_ARG_FMT', 'printf( ) argument #1 is incompatible with prototype:\n\tprototype: string constant\n\t argument: string');
});

test('aggregations', () => {
  ok('BEGIN { @a[execname, pid] = count(); @q = quantize(1); @l = lquantize(1, 0, 10); printa(@a); }');
  fails('BEGIN { @a = count(); @a = sum(1); }', 'D_AGG_REDEF', 'aggregation redefined: @a\n\t current: @a = sum( )\n\tprevious: @a = count( ) : line 1');
  fails('BEGIN { @a; }', 'D_IDENT_UNDEF', 'failed to resolve @a: Unknown variable name');
  fails('BEGIN { @a = count(); @a; }', 'D_AGG_NULL', 'expression has null effect: @a');
  fails('BEGIN { @a = count(); trace(@a); }', 'D_TRACE_DYN', 'trace( ) may not be applied to a dynamic expression');
  fails('BEGIN { @a = lquantize(1, 0, 10, 0); }', 'D_LQUANT_STEPTYPE', 'lquantize( ) argument #3 must be a non-zero positive integer constant');
  fails('BEGIN { printa(@nosuch); }', 'D_PRINTA_AGGBAD', 'undefined aggregation: @nosuch');
});

test('clause action order rules', () => {
  fails('BEGIN { trace(1); speculate(1); }', 'D_SPEC_DREC', 'speculate( ) may not follow data-recording action(s)');
  fails('BEGIN { commit(1); trace(1); }', 'D_DREC_COMM', 'data-recording actions may not follow commit( )');
  fails('BEGIN { speculate(1); exit(0); }', 'D_EXIT_SPEC', 'exit( ) may not follow speculate( )');
  fails('BEGIN { speculate(1);\n copyout(0, 0, 1); }', 'D_ACT_SPEC', 'destructive actions may not follow speculate( )', 2);
  fails('BEGIN { speculate(1); copyoutstr("a", 0, 1); }', 'D_ACT_SPEC', 'destructive actions may not follow speculate( )');
});

test('probe descriptions must match', () => {
  fails('foo:::bar { }', 'D_PDESC_ZERO', 'probe description foo:::bar does not match any probes');
  fails('profile:::tick-1ns { }', 'D_PDESC_ZERO', 'probe description profile:::tick-1ns does not match any probes');
  ok('profile:::tick-5sec, tick-97hz, profile-1999 { }');
});

test('pragmas', () => {
  fails('#pragma D option nosuch\nBEGIN { }', 'D_PRAGMA_OPTSET', "failed to set option 'nosuch': Invalid option name", 1);
  fails('#pragma D nosuch\nBEGIN { }', 'D_PRAGMA_INVAL', 'invalid D pragma: nosuch');
  fails('#pragma D depends_on provider nosuch\nBEGIN { }', 'D_PRAGMA_DEPEND', 'program requires provider nosuch');
  ok('#pragma D option quiet\n#pragma ident "x"\nBEGIN { }');
});

test('error lines follow DTrace: node lines as its parser records them', () => {
  fails('BEGIN\n{\n\texit()\n}', 'D_PROTO_LEN', 'exit( ) prototype mismatch: 0 args passed, 1 expected', 3);
  fails('BEGIN\n/"a"/\n{\n}', 'D_PRED_SCALAR', 'predicate result must be of scalar type', 4);
  fails('int a[4];\nBEGIN\n/a/\n{\n\texit(0);\n}\n', 'D_PRED_SCALAR', 'predicate result must be of scalar type', 6);
});

test('?: with a condition constant at parse time picks its branch: actions as statements', () => {
  ok('inline int OPT = 1; BEGIN { OPT ? printf("x") : 1; OPT ? @a[1] = count() : 1; }');
  ok('inline int OPT = 0; BEGIN { OPT ? printf("x") : printf("y"); !OPT && 1 ? trace(1) : 1; }');
  ok('BEGIN { (int)2 > 1 ? exit(0) : 1; EPERM == 1 ? trace(1) : 1; }');
  ok('inline int A = 2; inline int B = A * 3; BEGIN { B == 6 ? trace(1) : nosuch(); }');
  fails('BEGIN { x = 1; x ? printf("x") : 1; }', 'D_OP_INCOMPAT', 'operator ?: operands must have compatible types');
  fails('BEGIN { x = 1; x ? printf("x") : trace(1); }', 'D_OP_ACT', 'action cannot be used in a conditional context');
  fails('BEGIN { x = 1; x ? @a = count() : 1; }', 'D_OP_INCOMPAT', 'operator ?: operands must have compatible types');
  fails('enum e { E1 = 1 }; BEGIN { E1 ? trace(1) : trace(2); }', 'D_OP_ACT', 'action cannot be used in a conditional context');
});

test('translated members: lwpsinfo_t pr_clname, cpuinfo_t cpu_info', () => {
  ok('BEGIN { trace(curlwpsinfo->pr_clname); trace(curcpu->cpu_info.pi_clock); trace(stringof(curcpu->cpu_info.pi_fputypes)); }');
  fails('BEGIN { trace(curlwpsinfo->pr_nice); }', 'D_XLATE_NOCONV', 'translator does not define conversion for member: pr_nice');
});

test('declaration errors: tags, words and lines as dt_decl.c gives them', () => {
  fails('BEGIN { i = (long short)0; }', 'D_UNKNOWN', 'failed to resolve type short long : Unknown type name');
  fails('BEGIN { i = (unsigned long long long)0; }', 'D_UNKNOWN', 'failed to resolve type unsigned long long long : Unknown type name');
  fails('BEGIN { i = (short double)0; }', 'D_UNKNOWN', 'failed to resolve type short double: Unknown type name');
  ok('BEGIN { i = (short short)0; }');
  fails('long struct s\n{\n\tint i;\n};', 'D_DECL_LONGINT', 'invalid type declaration: long and long long may only be used with integer or floating-point type', 2);
  fails('struct s {\n};', 'D_SYNTAX', 'syntax error near "}"', 2);
  fails('enum e {\n\tx = 3,\n\tx = 4\n};', 'D_UNKNOWN', "failed to define enumerator 'x': Duplicate member or variable name", 4);
  fails('enum e {\n\tT = "s"\n};', 'D_DECL_ENCONST', "enumerator 'T' must be assigned to an integral constant expression", 3);
  fails('BEGIN { ustack(1, -1); }', 'D_USTACK_STRSIZE', 'ustack( ) argument #2 must be a positive integer constant');
  ok('BEGIN { ustack(1, 0); }');
});

test("a typedef may name one of D's own again as the same type, through other typedefs (glibc's headers under -C)", () => {
  // <sys/mman.h>: typedef long int __off_t; typedef __off_t off_t;
  ok('typedef long int __off_t;\ntypedef __off_t off_t;\nBEGIN { x = (off_t)1; }');
  ok('typedef unsigned int __u32_t;\ntypedef __u32_t uint32_t;\nBEGIN { }');
  // as another type it is still a redeclaration (glibc's dev_t is 64 bits, D's 32)
  fails('typedef unsigned long int __dev_t;\ntypedef __dev_t dev_t;\nBEGIN { }', 'D_DECL_IDRED', 'typedef redeclared: dev_t', 2);
});

test('a syntax error at an identifier the lexer had to look past quotes the rest of its line', () => {
  fails('typedef pint new_int;\nBEGIN { }', 'D_SYNTAX', 'syntax error near "new_int;"');
  fails('BEGIN { trace(offsetof(vnode_t, v_x)); }', 'D_SYNTAX', 'syntax error near "vnode_t, v_x)); }"');
  // names D knows, or the program made known (x = ...), are quoted alone
  fails('BEGIN { x = 1; trace(1 x); }', 'D_SYNTAX', 'syntax error near "x"');
  fails('BEGIN { trace(1 pid); }', 'D_SYNTAX', 'syntax error near "pid"');
});

test('#pragma D option pspec: what follows is a probe description, "int*x" included', () => {
  fails('#pragma D option pspec\nint*x\n', 'D_SYNTAX', 'expected predicate and/or actions following probe description', 2);
});

test('pragmas a program may not use, or that name nothing', () => {
  fails('#pragma D option ldpath=/x\nBEGIN { }', 'D_PRAGMA_OPTSET', "failed to set option 'ldpath' to '/x': Option cannot be used from within a D program", 1);
  fails('#pragma D option incdir\nBEGIN { }', 'D_PRAGMA_OPTSET', "failed to set option 'incdir': Invalid value for specified option", 1);
  fails('#pragma D depends_on library net.d\nBEGIN { }', 'D_PRAGMA_DEPEND', 'main program may not explicitly depend on a library', 1);
  fails('\n#pragma D attributes Stable/Stable/Common nosuch\nBEGIN { }', 'D_PRAGMA_UNUSED', 'unused #pragma attributes', 2);
  ok('#pragma D attributes Stable/Stable/Common x\nint x;\nBEGIN { }');
  ok('#pragma D binding "1.0" y\ninline int y = 1;\nBEGIN { }');
});

test('messages name types and aggregations as DTrace does', () => {
  fails('struct { int a; } s;\nBEGIN { pcap(s, 0); }', 'D_PROTO_ARG', 'pcap( ) argument #1 is incompatible with prototype:\n\tprototype: void *\n\t argument: struct ');
  fails('BEGIN { @foo[1] = sum(1); @bar["a"] = sum(2); printa("%d %@d %@d", @foo, @bar); }', 'D_PRINTA_AGGPROTO',
    'printa( ): @bar[ ] key #1 is incompatible with @foo:\n      foo key #1: int\n      bar key #1: string');
  fails('BEGIN { trace(sizeof(`)); }', 'D_IDENT_UNDEF', 'failed to resolve `: Unknown symbol name');
});

test('alloca and copyin sizes past the scratch space; dynamic keys; inet_ntoa6 takes an in6_addr', () => {
  fails('#pragma D option scratchsize=1024\nBEGIN { ptr = alloca(1025); }', 'D_ALLOCA_SIZE', 'alloca(1025) size larger than scratchsize 1024', 2);
  fails('BEGIN { p = alloca(0xffffffffffffffff); }', 'D_ALLOCA_SIZE', 'alloca(18446744073709551615) size larger than scratchsize 256');
  fails('#pragma D option scratchsize=64\nBEGIN { copyin(0, 65); }', 'D_ALLOCA_SIZE', 'alloca(65) size larger than scratchsize 64', 2);
  ok('BEGIN { p = alloca(256); }');
  fails('BEGIN { @a[curpsinfo] = count(); }', 'D_KEY_TYPE', 'pointer to translated data expression may not be used as aggregation index: key #1');
  fails('int *p; BEGIN { trace(inet_ntoa6(p)); }', 'D_PROTO_ARG', 'inet_ntoa6( ) argument #1 is incompatible with prototype:\n\tprototype: struct in6_addr *\n\t argument: int *');
  ok('BEGIN { trace(inet_ntoa6((void *)alloca(16))); }');
});

test('uregs[ ], array key prototypes and print( ) as Oracle checks them', () => {
  fails('BEGIN { i = R_SP; trace(uregs[i]); }', 'D_PROTO_ARG', 'uregs[ ] argument #1 is incompatible with prototype:\n\tprototype: integer constant\n\t argument: int');
  fails('BEGIN { trace(uregs[42]); }', 'D_UNKNOWN', 'uregs[]: index out of bounds (42)');
  ok('BEGIN { trace(uregs[R_SP]); trace(uregs[R_TRAPNO]); }');
  fails('int x[void, char];', 'D_DECL_PROTO_TYPE', 'array prototype may not use parameter of type void: (anonymous), parameter #1');
  fails('BEGIN { print(1); }', 'D_PROTO_ARG', 'print( ) argument #1 is incompatible with prototype:\n\tprototype: void *\n\t argument: int');
});

test('a translated pointer cannot be cast', () => {
  fails('struct in { int ii; }; struct out { int oi; };\ntranslator struct out < struct in *i > { oi = i->ii; };\nstruct in *f;\nBEGIN\n{\n\taddr = (uintptr_t)xlate<struct out *>(f)\n}',
    'D_CAST_INVAL', 'invalid cast expression: "pointer to translated data" to "uintptr_t"', 7);
  ok('BEGIN { trace((int)curpsinfo->pr_pid); }');
});

test('the comma operator refuses dynamic operands (an aggregation) as DTrace does', () => {
  fails('BEGIN { @a = count(); ("%d", @a); }', 'D_OP_DYN', 'operator , operands cannot be of dynamic type');
  ok('BEGIN { x = (1, 2); }');
});
