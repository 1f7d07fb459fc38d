// C++ names as people read them: an Itanium C++ ABI demangler ("_ZN3foo3barEi" is
// "foo::bar(int)"), written as the ABI's grammar reads, printing what GNU's c++filt prints
// (`char const*`, `> >`, `[abi:cxx11]`, `{lambda(int)#1}`, ` [clone .cold]`). ustack(), usym()
// and ufunc() show names this way, as FreeBSD's libproc shows them to its DTrace (Oracle's
// port prints them mangled); pid probes keep the symbol as the object has it, as dt_pid.c
// does. Whatever is not understood is left as it is (null).
//                                 [Itanium C++ ABI, "Mangling"; FreeBSD libproc proc_addr2sym]

/** A type or a name, as it prints. */
type Node = NameNode | PtrNode | CvNode | FnNode | ArrNode | MemPtrNode | PackNode;

interface NameNode {
  k: 'name';
  s: string;
  /** the unqualified name a constructor or destructor of this class is called */
  base: string;
}
interface PtrNode {
  k: 'ptr';
  op: string;
  inner: Node;
}
interface CvNode {
  k: 'cv';
  q: string;
  qs: Set<string>;
  inner: Node;
}
interface FnNode {
  k: 'fn';
  ret: Node | null;
  params: Node[];
  quals: string;
}
interface ArrNode {
  k: 'arr';
  dim: string;
  inner: Node;
}
interface MemPtrNode {
  k: 'memptr';
  cls: Node;
  inner: Node;
}
interface PackNode {
  k: 'pack';
  items: Node[];
}

/** A name: its text, what a constructor of it is called, and what decides a return type. */
interface Name {
  node: NameNode;
  /** ends in template arguments (a template function's encoding has its return type) */
  templated: boolean;
  /** a constructor, destructor or conversion operator: no return type even if templated */
  noReturn: boolean;
  /** a member function's qualifiers (" const", " &&") */
  quals: string;
}

class Fail extends Error {}

const BUILTIN: Record<string, string> = {
  v: 'void', w: 'wchar_t', b: 'bool', c: 'char', a: 'signed char', h: 'unsigned char', s: 'short',
  t: 'unsigned short', i: 'int', j: 'unsigned int', l: 'long', m: 'unsigned long', x: 'long long',
  y: 'unsigned long long', n: '__int128', o: 'unsigned __int128', f: 'float', d: 'double',
  e: 'long double', g: '__float128', z: '...',
};

const D_BUILTIN: Record<string, string> = {
  d: 'decimal64', e: 'decimal128', f: 'decimal32', h: 'half', i: 'char32_t', s: 'char16_t',
  u: 'char8_t', a: 'auto', c: 'decltype(auto)', n: 'decltype(nullptr)',
};

const OPERATORS: Record<string, string> = {
  nw: 'new', na: 'new[]', dl: 'delete', da: 'delete[]', ps: '+', ng: '-', ad: '&', de: '*',
  co: '~', pl: '+', mi: '-', ml: '*', dv: '/', rm: '%', an: '&', or: '|', eo: '^', aS: '=',
  pL: '+=', mI: '-=', mL: '*=', dV: '/=', rM: '%=', aN: '&=', oR: '|=', eO: '^=', ls: '<<',
  rs: '>>', lS: '<<=', rS: '>>=', eq: '==', ne: '!=', lt: '<', gt: '>', le: '<=', ge: '>=',
  ss: '<=>', nt: '!', aa: '&&', oo: '||', pp: '++', mm: '--', cm: ',', pm: '->*', pt: '->',
  cl: '()', ix: '[]', qu: '?', aw: 'co_await',
};

/**
 * The std:: abbreviations: [short form, long form, base name]. c++filt prints the long form
 * (it demangles verbosely), and so does dtrace; the short one is what __cxa_demangle prints.
 */
const STD_ABBREV: Record<string, [string, string, string]> = {
  a: ['std::allocator', 'std::allocator', 'allocator'],
  b: ['std::basic_string', 'std::basic_string', 'basic_string'],
  s: ['std::string', 'std::basic_string<char, std::char_traits<char>, std::allocator<char> >', 'basic_string'],
  i: ['std::istream', 'std::basic_istream<char, std::char_traits<char> >', 'basic_istream'],
  o: ['std::ostream', 'std::basic_ostream<char, std::char_traits<char> >', 'basic_ostream'],
  d: ['std::iostream', 'std::basic_iostream<char, std::char_traits<char> >', 'basic_iostream'],
};

const LITERAL_SUFFIX: Record<string, string> = {
  int: '', 'unsigned int': 'u', long: 'l', 'unsigned long': 'ul', 'long long': 'll', 'unsigned long long': 'ull',
};

function nameNode(s: string, base = s): NameNode {
  return { k: 'name', s, base };
}

/**
 * A type's text around a declarator `d` (what is already written to its right: "*", " const",
 * "(*)(int)"): `int` with "*" is "int*", a function with "*" is "void (*)(int)".
 */
function decl(t: Node, d: string): string {
  switch (t.k) {
    case 'name':
      return t.s + d;
    case 'pack':
      return t.items.map((x) => decl(x, d)).join(', ');
    case 'cv':
      return decl(t.inner, t.q + d);
    case 'ptr':
      // a pointer to a function returning a function pointer: "void (*(*)(int))(char)"
      return decl(t.inner, t.op + ((t.inner.k === 'fn' || t.inner.k === 'arr') && d.startsWith(' (') ? d.slice(1) : d));
    case 'memptr': {
      const cls = decl(t.cls, '');
      return t.inner.k === 'fn' ? decl(t.inner, `${cls}::*${d}`) : decl(t.inner, ` ${cls}::*${d}`);
    }
    case 'arr': {
      // int [2][3]: the dimensions of arrays of arrays side by side
      let dims = `[${t.dim}]`;
      let el = t.inner;
      while (el.k === 'arr') {
        dims += `[${el.dim}]`;
        el = el.inner;
      }
      return d === '' ? decl(el, ` ${dims}`) : decl(el, ` (${d.startsWith(' ') ? d.slice(1) : d}) ${dims}`);
    }
    case 'fn': {
      const tail = `(${paramList(t.params)})${t.quals}`;
      const mid = d === '' ? ` ${tail}` : ` (${d.startsWith(' ') ? d.slice(1) : d})${tail}`;
      return t.ret === null ? mid.slice(1) : decl(t.ret, mid);
    }
  }
}

function typeText(t: Node): string {
  return decl(t, '');
}

/** Types joined by ", " as c++filt joins them: an element that prints nothing takes its comma along. */
function joinTypes(ts: Node[]): string {
  let s = ts.length > 0 ? typeText(ts[0]) : '';
  for (let i = 1; i < ts.length; i++) {
    const x = typeText(ts[i]);
    if (x !== '') s += `, ${x}`;
  }
  return s;
}

function paramList(ps: Node[]): string {
  if (ps.length === 1 && ps[0].k === 'name' && ps[0].s === 'void') return '';
  return joinTypes(ps);
}

function argList(args: Node[]): string {
  const s = joinTypes(args);
  // "> >", as c++filt writes it, except after an empty pack
  const last = args[args.length - 1];
  const emptyPack = last !== undefined && last.k === 'pack' && last.items.length === 0;
  return `<${s}${s.endsWith('>') && !emptyPack ? ' ' : ''}>`;
}

/** cv-qualifiers in the order c++filt prints them, each once */
function qualText(q: Set<string>): string {
  let s = '';
  if (q.has('K')) s += ' const';
  if (q.has('V')) s += ' volatile';
  if (q.has('r')) s += ' restrict';
  return s;
}

/** `inner` with the qualifiers `q` (an array's apply to its elements; a function's to it) */
function qualified(q: Set<string>, inner: Node): Node {
  if (inner.k === 'fn') return { ...inner, quals: qualText(q) + inner.quals };
  if (inner.k === 'arr') return { ...inner, inner: qualified(q, inner.inner) };
  if (inner.k === 'cv') {
    const all = new Set([...q, ...inner.qs]);
    return { k: 'cv', q: qualText(all), qs: all, inner: inner.inner };
  }
  return { k: 'cv', q: qualText(q), qs: q, inner };
}

/** A pointer or reference to `inner`; a reference to a reference collapses (T& && is T&). */
function pointerTo(op: string, inner: Node): Node {
  if (op !== '*' && inner.k === 'ptr' && inner.op !== '*') return { k: 'ptr', op: op === '&&' && inner.op === '&&' ? '&&' : '&', inner: inner.inner };
  return { k: 'ptr', op, inner };
}

class Demangler {
  pos = 0;
  readonly subs: Node[] = [];
  /** for each substitution that is a template parameter, its index (else -1): T_ is resolved where it is used */
  readonly subParam: number[] = [];
  /** the template arguments T_, T0_, ... stand for */
  tparams: Node[] | null = null;
  /** nesting of template arguments and types: a name's own arguments are its template's at 0 */
  depth = 0;
  /** which element of a pack T_ stands for inside a pack expansion (Dp); -2: finding its length */
  packIndex = -1;
  packLen = -1;
  /** in a lambda's parameters, where T_ is "auto:1" */
  inLambda = false;
  /** the index of the template parameter read last */
  lastParam = -1;

  /** Adds a substitution candidate (`param`: the template parameter it is, or -1). */
  push(t: Node, param = -1): void {
    this.subs.push(t);
    this.subParam.length = this.subs.length - 1;
    this.subParam.push(param);
  }

  constructor(readonly s: string) {}

  peek(k = 0): string {
    return this.s[this.pos + k] ?? '';
  }

  eat(c: string): boolean {
    if (this.s.startsWith(c, this.pos)) {
      this.pos += c.length;
      return true;
    }
    return false;
  }

  expect(c: string): void {
    if (!this.eat(c)) throw new Fail();
  }

  digit(k = 0): boolean {
    const c = this.peek(k);
    return c >= '0' && c <= '9';
  }

  number(): number {
    const neg = this.eat('n');
    const start = this.pos;
    while (this.digit()) this.pos++;
    if (this.pos === start) throw new Fail();
    const n = Number(this.s.slice(start, this.pos));
    return neg ? -n : n;
  }

  /** <seq-id> _: S_ is 0, S0_ 1, ... (base 36, digits then capitals) */
  seqId(): number {
    if (this.eat('_')) return 0;
    let n = 0;
    let any = false;
    for (;;) {
      const c = this.peek();
      if (c >= '0' && c <= '9') n = n * 36 + (c.charCodeAt(0) - 48);
      else if (c >= 'A' && c <= 'Z') n = n * 36 + (c.charCodeAt(0) - 55);
      else break;
      this.pos++;
      any = true;
    }
    if (!any || !this.eat('_')) throw new Fail();
    return n + 1;
  }

  /** _ <digit> or __ <number> _ (not printed) */
  discriminator(): void {
    if (this.peek() !== '_') return;
    if (this.peek(1) === '_') {
      this.pos += 2;
      this.number();
      this.expect('_');
    } else if (this.digit(1)) this.pos += 2;
  }

  // <mangled-name> ::= _Z <encoding> [. <clone suffix>]*
  top(): string {
    this.expect('_Z');
    let out = this.encoding(true);
    while (this.pos < this.s.length) {
      // .cold, .constprop.0, .isra.0, .part.1, .lto_priv.0: each " [clone ...]"
      const m = /^(?:\.[A-Za-z_][A-Za-z_0-9]*(?:\.[0-9]+)*|(?:\.[0-9]+)+)/.exec(this.s.slice(this.pos));
      if (m === null) throw new Fail();
      out += ` [clone ${m[0]}]`;
      this.pos += m[0].length;
    }
    return out;
  }

  atEnd(): boolean {
    return this.pos >= this.s.length || this.peek() === 'E' || this.peek() === '.';
  }

  /**
   * `nameOnly`: the name without its parameters (an address in a template argument);
   * `noReturn`: without its return type (a local entity's enclosing function).
   */
  encoding(top: boolean, nameOnly = false, noReturn = false): string {
    const c = this.peek();
    if (c === 'T' || (c === 'G' && 'VRT'.includes(this.peek(1)))) return this.specialName();
    const saved = this.tparams;
    const savedDepth = this.depth;
    const savedLambda = this.inLambda;
    // the function's own template arguments are what its T_ stand for, wherever it is nested
    this.depth = 0;
    this.inLambda = false;
    try {
      return this.encodingRest(nameOnly, noReturn);
    } finally {
      this.depth = savedDepth;
      this.inLambda = savedLambda;
      if (!top) this.tparams = saved;
    }
  }

  private encodingRest(nameOnly: boolean, noReturn: boolean): string {
    const name = this.name();
    if (this.atEnd()) return name.node.s;
    let ret: Node | null = null;
    if (name.templated && !name.noReturn) ret = this.type();
    const params: Node[] = [];
    while (!this.atEnd()) params.push(this.type());
    if (params.length === 0) throw new Fail();
    const fn = `${name.node.s}(${paramList(params)})${name.quals}`;
    if (nameOnly) {
      // an address in a template argument: the bare name, but a template's or a qualified
      // member's whole, in parentheses (as c++filt writes it)
      if (ret === null && name.quals === '') return name.node.s;
      return `(${ret === null || noReturn ? fn : decl(ret, ` ${fn}`)})`;
    }
    return ret === null || noReturn ? fn : decl(ret, ` ${fn}`);
  }

  specialName(): string {
    if (this.eat('TV')) return `vtable for ${typeText(this.type())}`;
    if (this.eat('TT')) return `VTT for ${typeText(this.type())}`;
    if (this.eat('TI')) return `typeinfo for ${typeText(this.type())}`;
    if (this.eat('TS')) return `typeinfo name for ${typeText(this.type())}`;
    if (this.eat('TH')) return `TLS init function for ${this.name().node.s}`;
    if (this.eat('TW')) return `TLS wrapper function for ${this.name().node.s}`;
    if (this.eat('Th')) {
      this.number();
      this.expect('_');
      return `non-virtual thunk to ${this.encoding(false)}`;
    }
    if (this.eat('Tv')) {
      this.number();
      this.expect('_');
      this.number();
      this.expect('_');
      return `virtual thunk to ${this.encoding(false)}`;
    }
    if (this.eat('Tc')) {
      this.callOffset();
      this.callOffset();
      return `covariant return thunk to ${this.encoding(false)}`;
    }
    if (this.eat('TC')) {
      const derived = this.type();
      this.number();
      this.expect('_');
      const base = this.type();
      return `construction vtable for ${typeText(base)}-in-${typeText(derived)}`;
    }
    if (this.eat('GV')) return `guard variable for ${this.name().node.s}`;
    if (this.eat('GR')) {
      const n = this.name().node.s;
      let seq = 0;
      if (!this.eat('_')) seq = this.seqId();
      return `reference temporary #${seq} for ${n}`;
    }
    if (this.eat('GTt')) return `transaction clone for ${this.encoding(false)}`;
    throw new Fail();
  }

  callOffset(): void {
    if (this.eat('h')) {
      this.number();
      this.expect('_');
    } else if (this.eat('v')) {
      this.number();
      this.expect('_');
      this.number();
      this.expect('_');
    } else throw new Fail();
  }

  // <name> ::= <nested-name> | <local-name> | <unscoped-name> | <unscoped-template-name> <template-args>
  name(): Name {
    const c = this.peek();
    if (c === 'N') return this.nestedName();
    if (c === 'Z') return this.localName();
    let node: NameNode;
    let noReturn = false;
    let isSub = false;
    if (c === 'S' && this.peek(1) !== 't') {
      // a substitution standing for a template: S_IiE, SaIcE
      node = this.substitution();
      if (this.peek() !== 'I') throw new Fail();
      isSub = true;
    } else {
      const std = this.eat('St');
      const u = this.unqualifiedName(std ? 'std' : '', nameNode(''));
      node = u.node;
      noReturn = u.noReturn;
    }
    if (this.peek() === 'I') {
      if (!isSub) this.push(node);
      const args = this.templateArgs();
      node = nameNode(node.s + (node.s.endsWith('<') ? ' ' : '') + argList(args), node.base);
      return { node, templated: true, noReturn, quals: '' };
    }
    return { node, templated: false, noReturn, quals: '' };
  }

  /** An unqualified name after `prefix` ("" or "std" or a class's), with its ABI tags. */
  unqualifiedName(prefix: string, cls: NameNode): { node: NameNode; noReturn: boolean } {
    this.eat('L');
    const c = this.peek();
    let text: string;
    let noReturn = false;
    if (this.digit()) {
      text = this.sourceName();
    } else if (c === 'C' && '12345I'.includes(this.peek(1))) {
      this.pos += 2;
      if (this.s[this.pos - 1] === 'I') {
        // an inheriting constructor: CI1 <base class type>
        this.pos++;
        this.type();
      }
      text = cls.base;
      noReturn = true;
    } else if (c === 'D' && '01245'.includes(this.peek(1))) {
      this.pos += 2;
      text = `~${cls.base}`;
      noReturn = true;
    } else if (c === 'U' && this.peek(1) === 't') {
      this.pos += 2;
      const n = this.peek() === '_' ? 1 : this.number() + 2;
      this.expect('_');
      text = `{unnamed type#${n}}`;
    } else if (c === 'U' && this.peek(1) === 'l') {
      this.pos += 2;
      const params: Node[] = [];
      const was = this.inLambda;
      this.inLambda = true;
      try {
        while (this.peek() !== 'E') params.push(this.type());
      } finally {
        this.inLambda = was;
      }
      this.pos++;
      const n = this.peek() === '_' ? 1 : this.number() + 2;
      this.expect('_');
      text = `{lambda(${paramList(params)})#${n}}`;
    } else if (c >= 'a' && c <= 'z') {
      const op = this.operatorName();
      text = op.text;
      noReturn = op.conversion;
    } else throw new Fail();
    const base = text;
    while (this.peek() === 'B') {
      this.pos++;
      text += `[abi:${this.sourceName()}]`;
    }
    return { node: nameNode(prefix === '' ? text : `${prefix}::${text}`, base), noReturn };
  }

  sourceName(): string {
    const n = this.number();
    if (n <= 0 || this.pos + n > this.s.length) throw new Fail();
    const id = this.s.slice(this.pos, this.pos + n);
    this.pos += n;
    return /^_GLOBAL_[._$]N/.test(id) ? '(anonymous namespace)' : id;
  }

  operatorName(): { text: string; conversion: boolean } {
    const two = this.s.slice(this.pos, this.pos + 2);
    if (two === 'cv') {
      this.pos += 2;
      return { text: `operator ${typeText(this.type())}`, conversion: true };
    }
    if (two === 'li') {
      this.pos += 2;
      return { text: `operator"" ${this.sourceName()}`, conversion: false };
    }
    if (this.peek() === 'v' && this.digit(1)) {
      this.pos += 2;
      return { text: `operator ${this.sourceName()}`, conversion: false };
    }
    const op = OPERATORS[two];
    if (op === undefined) throw new Fail();
    this.pos += 2;
    return { text: /^[a-z]/.test(op) ? `operator ${op}` : `operator${op}`, conversion: false };
  }

  // N [<CV-qualifiers>] [<ref-qualifier>] <prefix> <unqualified-name> E
  nestedName(): Name {
    this.expect('N');
    const q = new Set<string>();
    while ('rVK'.includes(this.peek()) && this.peek() !== '') q.add(this.s[this.pos++]);
    let quals = qualText(q);
    if (this.eat('R')) quals += ' &';
    else if (this.eat('O')) quals += ' &&';
    let cur: NameNode | null = null;
    let templated = false;
    let noReturn = false;
    let param = -1;
    while (!this.eat('E')) {
      const c = this.peek();
      if (c === 'S' && this.peek(1) === 't') {
        if (cur !== null) throw new Fail();
        this.pos += 2;
        // std itself is no substitution: the next component names something in it
        const u = this.unqualifiedName('std', nameNode('std'));
        cur = u.node;
        noReturn = u.noReturn;
        templated = false;
      } else if (c === 'S') {
        if (cur !== null) throw new Fail();
        cur = this.substitution();
        templated = false;
        noReturn = false;
        continue;
      } else if (c === 'T') {
        if (cur !== null) throw new Fail();
        this.pos++;
        const t = this.templateParam();
        param = this.lastParam;
        cur = t.k === 'name' ? t : nameNode(typeText(t));
        templated = false;
      } else if (c === 'I') {
        if (cur === null) throw new Fail();
        const args = this.templateArgs();
        cur = nameNode(cur.s + (cur.s.endsWith('<') ? ' ' : '') + argList(args), cur.base);
        templated = true;
      } else if (c === 'D' && (this.peek(1) === 't' || this.peek(1) === 'T')) {
        throw new Fail();
      } else if (c === 'M') {
        // a data member's closure prefix
        this.pos++;
        continue;
      } else {
        const u = this.unqualifiedName(cur === null ? '' : cur.s, cur ?? nameNode(''));
        cur = u.node;
        noReturn = u.noReturn;
        templated = false;
      }
      if (this.peek() !== 'E') this.push(cur, param);
      param = -1;
    }
    if (cur === null) throw new Fail();
    return { node: cur, templated, noReturn, quals };
  }

  // Z <function encoding> E <entity name> [<discriminator>] | Z <encoding> E s [<discriminator>]
  localName(): Name {
    this.expect('Z');
    const fn = this.encoding(false, false, true);
    this.expect('E');
    if (this.eat('s')) {
      this.discriminator();
      return { node: nameNode(`${fn}::string literal`), templated: false, noReturn: false, quals: '' };
    }
    if (this.eat('d')) {
      if (this.peek() !== '_') this.number();
      this.expect('_');
    }
    const inner = this.name();
    this.discriminator();
    return { ...inner, node: nameNode(`${fn}::${inner.node.s}`, inner.node.base) };
  }

  /** S_, S<seq>_, or a std:: abbreviation */
  substitution(): NameNode {
    const t = this.substitutionNode();
    return t.k === 'name' ? t : nameNode(typeText(t));
  }

  substitutionNode(): Node {
    this.expect('S');
    const ab = STD_ABBREV[this.peek()];
    if (ab !== undefined) {
      this.pos++;
      return nameNode(ab[1], ab[2]);
    }
    const i = this.seqId();
    const t = this.subs[i];
    if (t === undefined) throw new Fail();
    const p = this.subParam[i] ?? -1;
    if (p >= 0 && !this.inLambda && this.tparams !== null && p < this.tparams.length && this.packIndex === -1) return this.tparams[p];
    return t;
  }

  templateParam(): Node {
    const i = this.seqId();
    this.lastParam = i;
    if (this.inLambda) return nameNode(`auto:${i + 1}`);
    if (this.tparams === null || i >= this.tparams.length) throw new Fail();
    const t = this.tparams[i];
    if (t.k === 'pack' && this.packIndex >= 0) {
      this.packLen = t.items.length;
      return t.items[this.packIndex] ?? nameNode('');
    }
    if (t.k === 'pack' && this.packIndex === -2) this.packLen = t.items.length;
    return t;
  }

  templateArgs(): Node[] {
    this.expect('I');
    this.depth++;
    const args: Node[] = [];
    while (!this.eat('E')) args.push(this.templateArg());
    this.depth--;
    if (this.depth === 0) this.tparams = args;
    return args;
  }

  templateArg(): Node {
    const c = this.peek();
    if (c === 'L') return this.literal();
    if (c === 'J') {
      this.pos++;
      const items: Node[] = [];
      while (!this.eat('E')) items.push(this.templateArg());
      return { k: 'pack', items };
    }
    if (c === 'X') {
      this.pos++;
      const e = this.expression();
      this.expect('E');
      return nameNode(e);
    }
    return this.type();
  }

  /** The few expressions template arguments of real programs hold; others are not understood. */
  expression(): string {
    const c = this.peek();
    if (c === 'T') {
      this.pos++;
      return typeText(this.templateParam());
    }
    if (c === 'L') return typeText(this.literal());
    if (this.eat('ad')) return `&${this.expression()}`;
    if (this.eat('fp')) {
      this.eat('K');
      const n = this.peek() === '_' ? 1 : this.number() + 2;
      this.expect('_');
      return `{parm#${n}}`;
    }
    if (this.eat('st')) return `sizeof (${typeText(this.type())})`;
    if (this.eat('sz')) return `sizeof (${this.expression()})`;
    if (this.eat('sZ')) {
      // the length of a known pack, as c++filt prints it
      if (this.peek() === 'T') {
        this.pos++;
        const t = this.templateParam();
        return t.k === 'pack' ? String(t.items.length) : `sizeof...(${typeText(t)})`;
      }
      return `sizeof...(${this.expression()})`;
    }
    if (this.eat('sr')) {
      // a dependent name: T::name
      const t = this.type();
      return `${typeText(t)}::${this.unqualifiedName('', nameNode('')).node.s}`;
    }
    throw new Fail();
  }

  literal(): Node {
    this.expect('L');
    if (this.eat('_Z')) {
      // an entity's address: its name, without its parameters
      const e = this.encoding(false, true);
      this.expect('E');
      return nameNode(e);
    }
    const t = this.type();
    const neg = this.eat('n');
    const start = this.pos;
    while (this.pos < this.s.length && this.peek() !== 'E') this.pos++;
    const v = (neg ? '-' : '') + this.s.slice(start, this.pos);
    this.expect('E');
    if (t.k === 'name' && t.s === 'bool' && (v === '0' || v === '1')) return nameNode(v === '1' ? 'true' : 'false');
    if (t.k === 'name' && t.s === 'decltype(nullptr)' && v === '') return nameNode('nullptr');
    const suffix = t.k === 'name' ? LITERAL_SUFFIX[t.s] : undefined;
    if (suffix !== undefined) return nameNode(v + suffix);
    return nameNode(`(${typeText(t)})${v}`);
  }

  type(): Node {
    this.depth++;
    try {
      return this.typeInner();
    } finally {
      this.depth--;
    }
  }

  private typeInner(): Node {
    const c = this.peek();
    const b = BUILTIN[c];
    if (b !== undefined) {
      this.pos++;
      return nameNode(b);
    }
    let t: Node;
    switch (c) {
      case 'r':
      case 'V':
      case 'K': {
        const q = new Set<string>();
        while ('rVK'.includes(this.peek()) && this.peek() !== '') q.add(this.s[this.pos++]);
        t = qualified(q, this.type());
        break;
      }
      case 'P':
      case 'R':
      case 'O': {
        this.pos++;
        const op = c === 'P' ? '*' : c === 'R' ? '&' : '&&';
        const inner = this.type();
        t = inner.k === 'pack' ? { k: 'pack', items: inner.items.map((x) => pointerTo(op, x)) } : pointerTo(op, inner);
        break;
      }
      case 'F':
        t = this.functionType();
        break;
      case 'A': {
        this.pos++;
        let dim = '';
        if (this.digit()) dim = String(this.number());
        else if (this.peek() !== '_') throw new Fail();
        this.expect('_');
        t = { k: 'arr', dim, inner: this.type() };
        break;
      }
      case 'M': {
        this.pos++;
        const cls = this.type();
        t = { k: 'memptr', cls, inner: this.type() };
        break;
      }
      case 'T': {
        this.pos++;
        t = this.templateParam();
        const index = this.lastParam;
        this.push(t, index);
        if (this.peek() !== 'I') return t;
        const args = this.templateArgs();
        t = nameNode(typeText(t) + argList(args));
        break;
      }
      case 'u':
        this.pos++;
        t = nameNode(this.sourceName());
        break;
      case 'D': {
        const c2 = this.peek(1);
        if (D_BUILTIN[c2] !== undefined) {
          this.pos += 2;
          return nameNode(D_BUILTIN[c2]);
        }
        if (c2 === 'p') {
          this.pos += 2;
          return this.packExpansion();
        }
        if (c2 === 'o' && this.peek(2) === 'F') {
          // noexcept: "bool (*)(char) noexcept"
          this.pos += 2;
          const f = this.functionType();
          t = { ...f, quals: `${f.quals} noexcept` };
          break;
        }
        t = this.dType();
        break;
      }
      case 'S': {
        if (this.peek(1) !== 't') {
          const sub = this.substitutionNode();
          if (this.peek() !== 'I') return sub;
          const n = sub.k === 'name' ? sub : nameNode(typeText(sub));
          const args = this.templateArgs();
          t = nameNode(n.s + argList(args), n.base);
          break;
        }
        t = this.name().node;
        break;
      }
      case 'N':
      case 'Z':
        t = this.name().node;
        break;
      default:
        if (this.digit()) {
          t = this.name().node;
          break;
        }
        throw new Fail();
    }
    this.push(t);
    return t;
  }

  dType(): Node {
    const c2 = this.peek(1);
    if (c2 === 'F') {
      this.pos += 2;
      const n = this.number();
      const x = this.eat('x');
      this.expect('_');
      return nameNode(`_Float${n}${x ? 'x' : ''}`);
    }
    if (c2 === 'v') {
      this.pos += 2;
      const n = this.number();
      this.expect('_');
      const inner = this.type();
      return nameNode(`${typeText(inner)} __vector(${n})`);
    }
    throw new Fail();
  }

  /** Dp <type>: the type once for each element of the pack it names */
  packExpansion(): Node {
    const start = this.pos;
    const nsubs = this.subs.length;
    const params = this.subParam.slice(0, nsubs);
    const savedIndex = this.packIndex;
    const savedLen = this.packLen;
    this.packIndex = -2;
    this.packLen = -1;
    const whole = this.type();
    const len = this.packLen;
    const end = this.pos;
    const after = this.subs.slice(nsubs);
    const afterParams = this.subParam.slice(nsubs, this.subs.length);
    if (len < 0) {
      this.packIndex = savedIndex;
      this.packLen = savedLen;
      this.push(whole);
      return whole;
    }
    const items: Node[] = [];
    for (let i = 0; i < len; i++) {
      this.pos = start;
      this.subs.length = nsubs;
      this.packIndex = i;
      items.push(this.type());
    }
    this.pos = end;
    this.subs.length = nsubs;
    this.subs.push(...after);
    this.subParam.length = 0;
    this.subParam.push(...params, ...afterParams);
    this.packIndex = savedIndex;
    this.packLen = savedLen;
    const t: Node = { k: 'pack', items };
    this.push(t);
    return t;
  }

  // F [Y] <return type> <parameter types> [<ref-qualifier>] E
  functionType(): FnNode {
    this.expect('F');
    this.eat('Y');
    const ret = this.type();
    const params: Node[] = [];
    let quals = '';
    for (;;) {
      if (this.eat('E')) break;
      if (this.peek() === 'R' && this.peek(1) === 'E') {
        this.pos += 2;
        quals = ' &';
        break;
      }
      if (this.peek() === 'O' && this.peek(1) === 'E') {
        this.pos += 2;
        quals = ' &&';
        break;
      }
      params.push(this.type());
    }
    return { k: 'fn', ret, params, quals };
  }
}

const cache = new Map<string, string | null>();
const CACHE_MAX = 8192;

/** The demangled form of an Itanium C++ ABI name ("_Z..."), or null (not one, or not understood). */
export function demangle(symbol: string): string | null {
  if (!symbol.startsWith('_Z')) return null;
  const known = cache.get(symbol);
  if (known !== undefined) return known;
  let out: string | null;
  try {
    const d = new Demangler(symbol);
    out = d.top();
    if (d.pos !== symbol.length) out = null;
  } catch (e) {
    if (!(e instanceof Fail || e instanceof RangeError)) throw e;
    out = null;
  }
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(symbol, out);
  return out;
}

/** A symbol as it prints: demangled where it is a C++ name, else as it is. */
export function displayName(symbol: string): string {
  return symbol.startsWith('_Z') ? (demangle(symbol) ?? symbol) : symbol;
}
