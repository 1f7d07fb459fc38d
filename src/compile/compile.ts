// The compiler driver: D source text -> checked clauses -> one JavaScript function per clause,
// with the probes each one enables.                                                 [dt_cc.c]

import * as A from '../lang/ast.js';
import { Builtins, isBuiltinName } from '../lang/builtins.js';
import { CheckedClause, Checker, ProbeInfo, Symbols } from '../lang/check.js';
import { DCompileError } from '../lang/diagnostics.js';
import { D_LIBRARY_INLINES, D_LIBRARY_NET_TYPES, D_LIBRARY_TYPES } from '../lang/dlib.js';
import { ControlLine, Lexer, MacroEnv } from '../lang/lexer.js';
import { type ParamInline, Parser } from '../lang/parser.js';
import { TypeScope } from '../lang/typescope.js';
import { DType, resolve } from '../lang/types.js';
import { type ProbeDef, type ProbeDesc, ProbeDescError, ProviderUnavailable } from '../providers/provider.js';
import { ProbeRegistry, parseProbeDesc } from '../providers/registry.js';
import type { AggregationAbi, ClauseAbi, DynArrayAbi } from '../runtime/abi.js';
import type { ProbeContext } from '../runtime/context.js';
import type { Value } from '../runtime/values.js';
import { BAD_CONTEXT, BAD_VALUE, Options, OptionError } from '../runtime/options.js';
import { AGGREGATION_ARG, FormatPlan, parseFormat, validateFormat } from '../runtime/printf.js';
import { kernelTypes } from '../kernel/btf.js';
import { ClauseGen, ConstPool, inlinePure } from './jsgen.js';
import type { ClausePlan } from '../providers/clause-plan.js';
import { planClause } from './plan.js';
import {
  KERNEL_PROVIDERS,
  computesFiringValues,
  clearedAggregations,
  firingValues,
  firingValuesOf,
  kernelClause,
  variablesUsed,
} from './bpfgen.js';
import { type RecordLayout, type RecordOptions, recordLayout } from './records.js';

export type ClauseFn = (ctx: ProbeContext) => void;

/** One clause, ready to run. */
export interface CompiledClause {
  checked: CheckedClause;
  probes: ProbeDef[];
  /** its probe descriptions, macros expanded: probes that come to exist later are matched against them */
  descs: ProbeDesc[];
  /** the enabled probe ID of each (clause, probe) pair, by probe id */
  epids: Map<number, number>;
  /** the clause's number among all compiled clauses */
  index: number;
  /** what its probes must record, and the predicate tests a kernel filter can take over */
  plan: ClausePlan;
  /** what a firing takes in the principal buffer */
  record: RecordLayout;
  fn: ClauseFn;
  source: string;
  /**
   * Where it prints in the kernel (plan.inKernel.output): what formats the kernel's record of a
   * firing, whose values are in ctx.firing (its predicate and the rest ran in the kernel)
   */
  output: ClauseFn | null;
}

export interface CompiledProgram {
  clauses: CompiledClause[];
  /** number of probe enablings, for "matched N probes" */
  matches: number;
}

export interface ProgramSource {
  text: string;
  /** a -s file (errors name lines) or a -n/-P/-m/-f/-i description */
  fromFile: boolean;
  /** script path or description text, for messages */
  name: string;
  /** which field a short probe description ends in (3: name; -f 2, -m 1, -P 0) */
  level: number;
}

/** Compiler state shared by every program of one dtrace invocation (as one dtrace handle). */
export class Compiler {
  readonly types: TypeScope;
  readonly builtins: Builtins;
  readonly syms = new Symbols();
  readonly K = new ConstPool();
  private nextEpid = 1;
  /** clauses are numbered across all programs (dt_clause_N; the ERROR probe's arg2) */
  private nextClause = 0;
  /** firing values' slots (ctx.firing), over every program */
  private nextFiringSlot = 0;
  private level = 3;
  /** -Z: descriptions that match nothing are not an error */
  allowZeroMatches = false;
  /** the descriptions of the clause being checked */
  private descsSeen: ProbeDesc[] = [];
  /** the descriptions that matched nothing (allowed by -Z or -l), as provider:module:function:name */
  readonly unmatched: string[] = [];
  /** aggregations some clause clears or truncates (their extremes are kept in dtrace) */
  private readonly clearedAggs = new Set<number>();
  /** every clause compiled so far (of every program: they share thread-local variables) */
  private readonly compiled: CompiledClause[] = [];

  /**
   * Which clauses run in the kernel where their probes allow: those that compile to BPF, where
   * every thread-local and global variable they use lives in the kernel, which it can only if
   * every clause that uses it runs there (on probes that are tracepoints): dtrace and the kernel
   * must never hold two copies of one variable.
   */
  private planInKernel(): void {
    // thread-locals by id, globals by -1 - id: one set of variables that live in the kernel
    const users = new Map<number, CompiledClause[]>();
    const use = (id: number, c: CompiledClause): void => {
      let list = users.get(id);
      if (list === undefined) users.set(id, (list = []));
      list.push(c);
    };
    for (const c of this.compiled) {
      const used = variablesUsed(c.checked.clause);
      for (const id of used.self) use(id, c);
      for (const id of used.global) use(-1 - id, c);
    }
    const allowed = new Set(users.keys());
    // a clause-local lives in a kernel clause's stack only if no other clause names it (a
    // firing's clause-locals pass from clause to clause, which may run in dtrace)
    const localUsers = new Map<A.VarInfo, number>();
    for (const c of this.compiled) for (const v of c.checked.locals) localUsers.set(v, (localUsers.get(v) ?? 0) + 1);
    const ownLocal = (v: A.VarInfo): boolean => localUsers.get(v) === 1;
    // a clause prints in the kernel only where every clause on its probes runs there: a
    // firing's output then comes in clause order, from one record after another
    const byProbe = new Map<number, CompiledClause[]>();
    for (const c of this.compiled) {
      for (const p of c.probes) {
        let list = byProbe.get(p.probe.id);
        if (list === undefined) byProbe.set(p.probe.id, (list = []));
        list.push(c);
      }
    }
    for (;;) {
      for (const c of this.compiled) c.plan.inKernel = kernelClause(c.checked, this.clearedAggs, (id) => allowed.has(id), this.opts.num('stackframes'), ownLocal, this.opts.num('strsize'), (id) => allowed.has(-1 - id));
      for (let demoted = true; demoted; ) {
        demoted = false;
        for (const c of this.compiled) {
          if (c.plan.inKernel?.output == null) continue;
          if (c.probes.every((p) => byProbe.get(p.probe.id)!.every((o) => o.plan.inKernel !== null))) continue;
          c.plan.inKernel = null;
          demoted = true;
        }
      }
      let changed = false;
      for (const [id, list] of users) {
        if (!allowed.has(id)) continue;
        if (list.every((c) => c.plan.inKernel !== null && c.probes.every((p) => KERNEL_PROVIDERS.has(p.probe.provider)))) continue;
        allowed.delete(id);
        changed = true;
      }
      if (!changed) return;
    }
  }
  /** the providers the programs define (provider p { probe q(int); };), for dtrace -h and -G */
  readonly providerDecls: A.ProviderDecl[] = [];

  /** D's library inlines with parameters (tcp_state_string[]) */
  private readonly libraryInlines: ReadonlyMap<string, ParamInline>;

  constructor(
    readonly opts: Options,
    readonly registry: ProbeRegistry,
    readonly macros: MacroEnv,
  ) {
    this.types = new TypeScope(opts.num('strsize'));
    new Parser(new Lexer(D_LIBRARY_TYPES, macros, true), this.types, new Set(), { fromFile: true, pspecOnly: false }).parseProgram();
    new Parser(new Lexer(D_LIBRARY_NET_TYPES, macros, true), this.types, new Set(), { fromFile: true, pspecOnly: false }).parseProgram();
    const lib = new Parser(new Lexer(D_LIBRARY_INLINES, macros, true), this.types, new Set(), { fromFile: true, pspecOnly: false });
    lib.parseProgram();
    this.libraryInlines = lib.parameterisedInlines;
    this.builtins = new Builtins(this.types);
    // kernel types (struct task_struct, sector_t...) from BTF, read when a program first names
    // one; after D's own library and built-ins, which must not read them
    this.types.external = kernelTypes;
  }

  compile(src: ProgramSource): CompiledProgram {
    const lx = new Lexer(src.text, this.macros, src.fromFile);
    lx.onControl = (c) => this.pragma(c);
    this.macros.used.clear();
    this.pendingPragmas = [];
    const opts = this.opts;
    const parser = new Parser(lx, this.types, new Set([...this.syms.globals.keys(), ...this.syms.inlines.keys()]), {
      fromFile: src.fromFile,
      inlines: this.libraryInlines,
      // read as each outer item starts: #pragma D option pspec may set it on the way
      get pspecOnly() {
        return !src.fromFile || opts.flag('pspec');
      },
    });
    const prog = parser.parseProgram();
    if (this.pendingPragmas.length > 0) this.pragmasUsed(prog);
    if (prog.items.filter((i) => i.kind !== 'pragma').length === 0 && !this.opts.flag('empty')) {
      // reported where the lexer stopped: the end of the input
      throw new DCompileError('D_EMPTY', lx.line, 'empty D program translation unit');
    }
    const args = this.macros.args;
    // a probe description's $N (pid$1:a.out::) is expanded only when its probes are matched
    for (const item of prog.items) {
      if (item.kind !== 'clause') continue;
      for (const p of item.probes) for (const m of p.text.matchAll(/\$([0-9]+)/g)) this.macros.used.add(Number(m[1]));
    }
    if (args.length > 1 && !this.opts.flag('argref') && !this.macros.used.has(args.length - 1)) {
      throw new DCompileError(
        'D_MACRO_UNUSED',
        0,
        `extraneous argument '${args[args.length - 1]}' ($${args.length - 1} is not referenced)`,
      );
    }
    this.level = src.level;
    const checker = new Checker(
      {
        types: this.types,
        builtins: this.builtins,
        matchProbes: (spec) => this.matchProbes(spec),
        formats: { check: (fn, fmt, fargs, line, agg) => this.checkFormat(fn, fmt, fargs, line, agg) },
        strsize: this.opts.num('strsize'),
        destructiveAllowed: () => this.opts.flag('destructive'),
        version: () => this.opts.text.get('version')?.at(-1) ?? null,
        scratchsize: () => this.opts.num('scratchsize'),
      },
      this.syms,
    );
    const checked: CheckedClause[] = [];
    const descsOf = new Map<CheckedClause, ProbeDesc[]>();
    for (const item of prog.items) {
      switch (item.kind) {
        case 'var':
          checker.declareVar(item);
          break;
        case 'inline':
          checker.declareInline(item);
          inlinePure(item.expr);
          break;
        case 'translator':
          checker.declareTranslator(item);
          break;
        case 'clause':
          this.descsSeen = [];
          checked.push(checker.checkClause(item));
          descsOf.set(checked[checked.length - 1], this.descsSeen);
          break;
        case 'provider':
          this.providerDecls.push(item);
          break;
        default:
          break;
      }
    }
    const gen = this.clauseGen();
    const clauses: CompiledClause[] = [];
    let matches = 0;
    let clauseIndex = 0;
    for (const id of clearedAggregations(checked)) this.clearedAggs.add(id);
    for (const cc of checked) {
      const probes = cc.probes.map((p) => this.registry.byId(p.id)!);
      // kernel memory the clause reads in dtrace is read by the probe's program as it fires
      const firing = probes.length > 0 && probes.every((p) => computesFiringValues(p.probe.provider));
      gen.firing = firing ? firingValuesOf(cc, () => this.nextFiringSlot++) : new Map();
      const g = gen.clause(cc);
      const epids = new Map<number, number>();
      for (const p of probes) epids.set(p.probe.id, this.nextEpid++);
      clauseIndex = this.nextClause++;
      matches += probes.length;
      const plan = planClause(cc);
      plan.bigArgs = bigArgsOf(g.source);
      if (gen.firing.size > 0) plan.firing = firingValues(gen.firing);
      clauses.push({ checked: cc, probes, descs: descsOf.get(cc) ?? [], epids, index: clauseIndex, plan, record: recordLayout(cc, this.recordOptions()), fn: null as unknown as ClauseFn, source: g.source, output: null });
    }
    this.compiled.push(...clauses);
    this.planInKernel();
    return { clauses, matches };
  }

  private recordOptions(): RecordOptions {
    const o = this.opts;
    return {
      strsize: o.num('strsize'),
      // more frames than maxframes are silently not asked for (dt_cg_stack_arg)
      stackframes: Math.min(o.num('stackframes'), o.num('maxframes')),
      ustackframes: Math.min(o.num('ustackframes'), o.num('maxframes')),
      jstackframes: o.num('jstackframes'),
      jstackstrsize: o.num('jstackstrsize'),
    };
  }

  /** Turns generated source into functions bound to the runtime (after every program compiled). */
  link(
    clauses: CompiledClause[],
    bind: { rt: ClauseAbi; G: Array<Value | null>; D: readonly DynArrayAbi[]; AG: readonly AggregationAbi[] },
  ): void {
    const make = (source: string): ClauseFn => new Function('rt', 'G', 'D', 'AG', 'K', `return function clause(ctx) {\n${source}\n};`)(bind.rt, bind.G, bind.D, bind.AG, this.K.items) as ClauseFn;
    for (const c of clauses) {
      c.fn = make(c.source);
      const out = c.plan.inKernel?.output;
      // the kernel's record of a firing: the clause's output actions alone, their values read from it
      if (out == null) continue;
      const gen = this.clauseGen();
      gen.firing = out.printed;
      c.output = make(gen.clause(c.checked, { printedOnly: true }).source);
    }
  }

  private clauseGen(): ClauseGen {
    return new ClauseGen(() => this.opts.num('strsize'), this.K, {
      int: this.types.get('int'),
      int64: this.types.get('int64_t'),
      uint64: this.types.get('uint64_t'),
      str: this.types.strsizeType,
      char: this.types.get('char'),
      sizeT: this.types.get('size_t'),
    });
  }

  private matchProbes(spec: A.ProbeSpec): ProbeInfo[] {
    let defs: ProbeDef[];
    let descText: string;
    if (spec.id >= 0) {
      const d = this.registry.byId(spec.id);
      defs = d ? [d] : [];
      descText = String(spec.id);
    } else {
      const text = this.expandMacros(spec.text, spec.line);
      const desc = parseProbeDesc(text, spec.line, this.level);
      this.descsSeen.push(desc);
      try {
        defs = this.registry.match(desc);
      } catch (e) {
        if (e instanceof ProviderUnavailable) throw new DCompileError('D_PDESC_ZERO', spec.line, e.message);
        if (e instanceof ProbeDescError) throw new DCompileError(e.tag, spec.line, e.message);
        throw e;
      }
      descText = `${desc.provider}:${desc.module}:${desc.func}:${desc.name}`;
    }
    if (defs.length === 0) {
      if (!this.allowZeroMatches) throw new DCompileError('D_PDESC_ZERO', spec.line, `probe description ${descText} does not match any probes`);
      this.unmatched.push(descText);
    }
    const registry = this.registry;
    return defs.map((d) => ({
      id: d.probe.id,
      provider: d.probe.provider,
      module: d.probe.module,
      func: d.probe.func,
      name: d.probe.name,
      // read from the kernel only if the clause uses args[]
      get argTypes() {
        return registry.describe(d).argTypes;
      },
    }));
  }

  /** $1, $target, ... inside a probe description. */
  private expandMacros(text: string, line: number): string {
    if (!text.includes('$')) return text;
    return text.replace(/\$(\$?)([0-9]+|[a-zA-Z_][a-zA-Z0-9_]*)/g, (whole, _dbl: string, name: string) => {
      if (/^[0-9]+$/.test(name)) {
        const n = parseInt(name, 10);
        if (n >= this.macros.args.length) {
          if (!this.macros.defaultArgs) throw new DCompileError('D_MACRO_UNDEF', line, `macro argument ${whole} is not defined`);
          return '';
        }
        this.macros.used.add(n);
        return this.macros.args[n];
      }
      const v = this.macros.vars.get(name);
      if (v === undefined) throw new DCompileError('D_MACRO_UNDEF', line, `macro variable ${whole} is not defined`);
      return String(v);
    });
  }

  private checkFormat(fn: string, fmt: string, args: A.Expr[], line: number, agg: A.AggInfo | null): FormatPlan {
    if (fn === 'printa') {
      const plan = parseFormat(fmt, line, 'printa');
      return validateFormat(plan, agg?.keys ?? [], line, { func: 'printa', aggFunc: agg?.fn ?? undefined, argOffset: 1 });
    }
    const plan = parseFormat(fmt, line, fn as 'printf' | 'system' | 'freopen');
    const types: DType[] = args.map((a) => (a.kind === A.N.Agg ? AGGREGATION_ARG : a.type!));
    return validateFormat(plan, types, line, { func: fn });
  }

  /**
   * #pragma attributes and binding name identifiers; one the program never declares (nor D
   * has) is D_PRAGMA_UNUSED, checked as dt_compile does once the program is parsed.
   */
  private pendingPragmas: Array<{ name: string; line: number; prname: string }> = [];

  private pragmasUsed(prog: A.Program): void {
    const declared = new Set<string>();
    for (const item of prog.items) if (item.kind === 'var' || item.kind === 'inline') declared.add(item.name);
    for (const p of this.pendingPragmas) {
      if (declared.has(p.name) || this.syms.globals.has(p.name) || this.syms.inlines.has(p.name) || isBuiltinName(p.name)) continue;
      throw new DCompileError('D_PRAGMA_UNUSED', p.line, `unused #pragma ${p.prname}`);
    }
  }

  /** #pragma lines, applied as the lexer meets them.                               [dt_pragma.c] */
  private pragma(c: ControlLine): void {
    const w = c.words;
    if (w[0].text === 'pragma') {
      if (w.length < 2) return;
      if (w[1].text !== 'D') {
        if (w[1].text === 'ident') return;
        if (w[1].text === 'error') throw pragmaError(c, w.slice(2));
        return; // K&R: unknown pragmas are ignored
      }
      const kw = w[2]?.text;
      switch (kw) {
        case 'option': {
          if (w.length < 4) throw new DCompileError('D_PRAGMA_MALFORM', c.line, 'malformed #pragma option <option>=<val>');
          if (w.length > 4) throw new DCompileError('D_PRAGMA_MALFORM', c.line, 'superfluous arguments specified for #pragma option');
          const t = w[3].text;
          const eq = t.indexOf('=');
          const name = eq < 0 ? t : t.slice(0, eq);
          const val = eq < 0 ? null : t.slice(eq + 1);
          try {
            const bar = NOT_IN_PROGRAMS.get(name);
            if (bar !== undefined) {
              // dt_options.c checks the value, then the context (dt_pcb is set while compiling)
              if (bar === 'value' ? val === null : bar === 'novalue' ? val !== null : false) throw new OptionError(BAD_VALUE);
              throw new OptionError(BAD_CONTEXT);
            }
            this.opts.set(name, val, 'pragma');
            if (name === 'strsize') this.types.strsizeType.size = this.opts.num('strsize');
            if (name === 'defaultargs') this.macros.defaultArgs = true;
            if (name === 'zdefs') this.allowZeroMatches = true;
          } catch (e) {
            const reason = e instanceof OptionError ? e.reason : String(e);
            const msg = val === null ? `failed to set option '${name}': ${reason}` : `failed to set option '${name}' to '${val}': ${reason}`;
            throw new DCompileError('D_PRAGMA_OPTSET', c.line, msg);
          }
          return;
        }
        case 'error':
          throw pragmaError(c, w.slice(3));
        case 'attributes': {
          if (w.length < 5 || w[3].quoted || w[4].quoted) {
            throw new DCompileError('D_PRAGMA_MALFORM', c.line, 'malformed #pragma attributes <attributes> <ident>');
          }
          if (!validAttributes(w[3].text)) {
            throw new DCompileError('D_PRAGMA_INVAL', c.line, 'invalid attributes specified by #pragma attributes');
          }
          if (w[4].text !== 'provider') this.pendingPragmas.push({ name: w[4].text, line: c.line, prname: 'attributes' });
          return;
        }
        case 'binding':
          if (w.length >= 5 && !w[4].quoted) this.pendingPragmas.push({ name: w[4].text, line: c.line, prname: 'binding' });
          return;
        case 'depends_on': {
          const cls = w[3]?.text;
          const what = w[4]?.text;
          if (cls === undefined || what === undefined) {
            throw new DCompileError('D_PRAGMA_MALFORM', c.line, 'malformed #pragma depends_on <class> <name>');
          }
          if (cls === 'provider') {
            if (!this.registry.providers.some((p) => p.name === what)) {
              throw new DCompileError('D_PRAGMA_DEPEND', c.line, `program requires provider ${what}`);
            }
          } else if (cls === 'library') {
            // only D's own library files may name others (their load order)
            throw new DCompileError('D_PRAGMA_DEPEND', c.line, 'main program may not explicitly depend on a library');
          } else if (cls !== 'module') {
            throw new DCompileError('D_PRAGMA_INVAL', c.line, `invalid class ${cls} specified by #pragma depends_on`);
          }
          return;
        }
        default:
          throw new DCompileError('D_PRAGMA_INVAL', c.line, `invalid D pragma: ${kw ?? ''}`);
      }
    }
    if (w[0].text === 'ident') return;
    if (w[0].text === 'error') throw pragmaError(c, w.slice(1));
    throw new DCompileError('D_PRAGCTL_INVAL', c.line, `invalid control directive: #${w[0].text}`);
  }
}

/**
 * Options a program may not set with #pragma D option (only -x): the preprocessor's, the
 * linker's and module paths, stdc, lockmem; and what each wants of its value before it says so.
 */
const NOT_IN_PROGRAMS = new Map<string, 'value' | 'novalue' | 'any'>([
  ['cppargs', 'value'], ['cpphdrs', 'novalue'], ['cpppath', 'value'], ['ctfpath', 'value'], ['define', 'value'],
  ['incdir', 'value'], ['undef', 'value'], ['ldpath', 'value'], ['modpath', 'value'], ['procfspath', 'value'],
  ['stdc', 'value'], ['lockmem', 'any'],
]);

/** #error / #pragma D error: the words, each followed by a space, as dt_pragma_error joins them. */
function pragmaError(c: ControlLine, words: Array<{ text: string }>): DCompileError {
  return new DCompileError('D_PRAGERR', c.line, `#error: ${words.map((x) => x.text + ' ').join('')}`);
}

const STABILITY = ['internal', 'private', 'obsolete', 'external', 'unstable', 'evolving', 'stable', 'standard'];
const CLASSES = ['unknown', 'cpu', 'platform', 'group', 'isa', 'common'];

/** dtrace_str2attr: "Stable/Stable/Common" and its prefixes. */
function validAttributes(s: string): boolean {
  const parts = s.split('/');
  if (parts.length > 3) return false;
  return parts.every((p, i) => (i < 2 ? STABILITY : CLASSES).includes(p.toLowerCase()));
}

/**
 * The space one dynamic variable takes, as Oracle sizes its dynamic variable map: every entry
 * has room for the largest key tuple and the largest value of the program, so dynvarsize
 * holds dynvarsize / (tuple + value) of them.
 */
export function dynvarSlotSize(vars: A.VarInfo[]): number {
  let tuple = 0;
  let value = 0;
  for (const v of vars) {
    let t = v.scope === 'self' ? 8 : 0;
    for (const k of v.keys ?? []) t += (resolve(k).size + 7) & ~7;
    tuple = Math.max(tuple, t);
    value = Math.max(value, v.type ? (resolve(v.type).size + 7) & ~7 : 8);
  }
  return Math.max(1, tuple + value);
}

/**
 * The arguments generated code reads as BigInts: ctx.args[N], rt.arg(ctx, N); null if it reads
 * one by a computed index. (Its Number reads, ctx.argn[N], fall back to rt.argNum(), and
 * rt.argValue() takes the BigInt only where the Number is not exact: a decoder never leaves
 * either to read a BigInt it did not fill, see compileDecoder.)
 */
export function bigArgsOf(source: string): Set<number> | null {
  const out = new Set<number>();
  for (const m of source.matchAll(/ctx\.args\[([^\]]*)\]|rt\.arg\(ctx, ([^)]*)\)/g)) {
    const i = m[1] ?? m[2];
    if (!/^[0-9]$/.test(i)) return null;
    out.add(Number(i));
  }
  return out;
}
