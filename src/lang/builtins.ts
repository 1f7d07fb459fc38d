// D's built-in identifiers: variables, subroutines, actions and aggregating functions, with
// their prototypes in DTrace's own notation.                                       [dt_open.c]

import { dConstants } from './dlib.js';
import { TypeScope } from './typescope.js';
import { DType, Kind, constOf, pointerTo, typedefOf } from './types.js';

export const enum FnKind {
  /** a subroutine: returns a value, usable in expressions (strlen, strjoin, ...) */
  Subr,
  /** an action: records data or changes state; must be a statement of its own */
  Action,
  /** an aggregating function: only on the right of @a[...] = */
  Agg,
}

export interface Prototype {
  ret: DType;
  /** parameter types; null means "@" (any type) */
  params: Array<DType | null>;
  /** index of the first optional parameter, or -1 */
  optionalFrom: number;
  /** variadic after the fixed parameters ("...") */
  variadic: boolean;
}

export interface FnInfo {
  name: string;
  kind: FnKind;
  proto: Prototype;
  /** destructive actions need -w */
  destructive: boolean;
}

export interface BuiltinVar {
  name: string;
  type: DType;
  /** args[] and uregs[]: indexed */
  array: boolean;
}

/** "string(const char *, int, [int])" and friends, in DTrace's idops notation. */
function parseProto(types: TypeScope, text: string): Prototype {
  const open = text.indexOf('(');
  const ret = typeFromName(types, text.slice(0, open).trim());
  const inner = text.slice(open + 1, text.lastIndexOf(')')).trim();
  const params: Array<DType | null> = [];
  let optionalFrom = -1;
  let variadic = false;
  if (inner !== '') {
    for (let part of inner.split(',')) {
      part = part.trim();
      if (part === '...') {
        variadic = true;
        continue;
      }
      if (part.startsWith('[')) {
        if (optionalFrom < 0) optionalFrom = params.length;
        part = part.slice(1, -1).trim();
      }
      params.push(part === '@' ? null : typeFromName(types, part));
    }
  }
  return { ret, params, optionalFrom, variadic };
}

/** A type from a simple name: "const char *", "uint64_t", "void *", "string". */
export function typeFromName(types: TypeScope, name: string): DType {
  let s = name.trim();
  let ptrs = 0;
  while (s.endsWith('*')) {
    ptrs++;
    s = s.slice(0, -1).trim();
  }
  let isConst = false;
  if (s.startsWith('const ')) {
    isConst = true;
    s = s.slice(6);
  }
  let t = types.lookup(s);
  if (!t) {
    if (s.startsWith('struct ')) t = types.tag(Kind.Struct, s.slice(7));
    else t = typedefOf(s, types.tag(Kind.Struct, s));
  }
  if (isConst) t = constOf(t);
  for (let i = 0; i < ptrs; i++) t = pointerTo(t);
  return t;
}

const SUBRS: Array<[string, string]> = [
  ['alloca', 'void *(size_t)'],
  ['basename', 'string(const char *)'],
  ['bcopy', 'void(void *, void *, size_t)'],
  ['cleanpath', 'string(const char *)'],
  ['copyin', 'void *(uintptr_t, size_t)'],
  ['copyinstr', 'string(uintptr_t, [size_t])'],
  ['copyinto', 'void(uintptr_t, size_t, void *)'],
  ['copyout', 'void(void *, uintptr_t, size_t)'],
  ['copyoutstr', 'void(string, uintptr_t, size_t)'],
  ['d_path', 'string(struct path *)'],
  ['link_ntop', 'string(int, void *)'],
  ['msgdsize', 'size_t(mblk_t *)'],
  ['msgsize', 'size_t(mblk_t *)'],
  ['mutex_owned', 'int(struct mutex *)'],
  ['mutex_owner', 'struct task_struct *(struct mutex *)'],
  ['mutex_type_adaptive', 'int(struct mutex *)'],
  ['mutex_type_spin', 'int(struct mutex *)'],
  ['rw_iswriter', 'int(rwlock_t *)'],
  ['rw_read_held', 'int(rwlock_t *)'],
  ['rw_write_held', 'int(rwlock_t *)'],
  ['dirname', 'string(const char *)'],
  ['getmajor', 'dev_t(dev_t)'],
  ['getminor', 'dev_t(dev_t)'],
  ['htonl', 'uint32_t(uint32_t)'],
  ['htonll', 'uint64_t(uint64_t)'],
  ['htons', 'uint16_t(uint16_t)'],
  ['index', 'int(const char *, const char *, [int])'],
  ['inet_ntoa', 'string(ipaddr_t *)'],
  ['inet_ntoa6', 'string(struct in6_addr *, [int])'],
  ['inet_ntop', 'string(int, void *)'],
  ['lltostr', 'string(int64_t, [int])'],
  ['ntohl', 'uint32_t(uint32_t)'],
  ['ntohll', 'uint64_t(uint64_t)'],
  ['ntohs', 'uint16_t(uint16_t)'],
  ['progenyof', 'int(pid_t)'],
  ['rand', 'int()'],
  ['rindex', 'int(const char *, const char *, [int])'],
  ['speculation', 'int()'],
  ['strchr', 'string(const char *, char)'],
  ['strjoin', 'string(const char *, const char *)'],
  ['strlen', 'size_t(const char *)'],
  ['strrchr', 'string(const char *, char)'],
  ['strstr', 'string(const char *, const char *)'],
  ['strtok', 'string(const char *, const char *)'],
  ['strtoll', 'int64_t(const char *, [int])'],
  ['substr', 'string(const char *, int, [int])'],
  ['tolower', 'string(const char *)'],
  ['toupper', 'string(const char *)'],
];

/** Subroutines that write to the traced process: a clause calling one needs -w, as an action would. */
const DESTRUCTIVE_SUBRS = new Set(['copyout', 'copyoutstr']);

const ACTIONS: Array<[string, string, boolean]> = [
  ['breakpoint', 'void()', true],
  ['chill', 'void(int)', true],
  ['clear', 'void(@)', false],
  ['commit', 'void(int)', false],
  ['denormalize', 'void(@)', false],
  ['discard', 'void(int)', false],
  ['exit', 'void(int)', false],
  ['freopen', 'void(@, ...)', true],
  ['ftruncate', 'void()', false],
  ['func', 'void(uintptr_t)', false],
  ['jstack', 'void([uint32_t], [uint32_t])', false],
  ['mod', 'void(uintptr_t)', false],
  ['normalize', 'void(@, uint64_t)', false],
  ['panic', 'void()', true],
  ['pcap', 'void(void *, int)', false],
  ['print', 'void(void *)', false],
  ['printa', 'void(@, ...)', false],
  ['printf', 'void(@, ...)', false],
  ['raise', 'void(int)', true],
  ['setopt', 'void(const char *, [const char *])', false],
  ['speculate', 'void(int)', false],
  ['stack', 'void([uint32_t])', false],
  ['stop', 'void()', true],
  ['sym', 'void(uintptr_t)', false],
  ['system', 'void(@, ...)', true],
  ['trace', 'void(@)', false],
  ['tracemem', 'void(@, size_t, [size_t])', false],
  ['trunc', 'void(@, [int64_t])', false],
  ['uaddr', 'void(uintptr_t)', false],
  ['ufunc', 'void(uintptr_t)', false],
  ['umod', 'void(uintptr_t)', false],
  ['ustack', 'void([uint32_t], [uint32_t])', false],
  ['usym', 'void(uintptr_t)', false],
];

const AGGS: Array<[string, string]> = [
  ['avg', 'void(@)'],
  ['count', 'void()'],
  ['llquantize', 'void(@, int32_t, int32_t, int32_t, int32_t, ...)'],
  ['lquantize', 'void(@, int32_t, int32_t, ...)'],
  ['max', 'void(@)'],
  ['min', 'void(@)'],
  ['quantize', 'void(@, ...)'],
  ['stddev', 'void(@)'],
  ['sum', 'void(@)'],
];

const VARS: Array<[string, string]> = [
  ['arg0', 'int64_t'],
  ['arg1', 'int64_t'],
  ['arg2', 'int64_t'],
  ['arg3', 'int64_t'],
  ['arg4', 'int64_t'],
  ['arg5', 'int64_t'],
  ['arg6', 'int64_t'],
  ['arg7', 'int64_t'],
  ['arg8', 'int64_t'],
  ['arg9', 'int64_t'],
  ['caller', 'uintptr_t'],
  ['cpu', 'processorid_t'],
  ['epid', 'uint64_t'],
  ['errno', 'int'],
  ['execname', 'string'],
  ['gid', 'gid_t'],
  ['id', 'uint_t'],
  ['ipl', 'uint_t'],
  ['pid', 'pid_t'],
  ['ppid', 'pid_t'],
  ['probefunc', 'string'],
  ['probemod', 'string'],
  ['probename', 'string'],
  ['probeprov', 'string'],
  ['stackdepth', 'uint32_t'],
  ['tid', 'id_t'],
  ['timestamp', 'uint64_t'],
  ['ucaller', 'uint64_t'],
  ['uid', 'uid_t'],
  ['ustackdepth', 'uint32_t'],
  ['vtimestamp', 'uint64_t'],
  ['walltimestamp', 'int64_t'],
];

let builtinNames: Set<string> | null = null;

/** Whether a name is one of D's built-in functions or variables. */
export function isBuiltinName(name: string): boolean {
  if (!builtinNames) {
    builtinNames = new Set([...SUBRS, ...ACTIONS, ...AGGS, ...VARS].map((e) => e[0]));
    for (const n of ['args', 'uregs', 'fds', 'curthread', 'curpsinfo', 'curlwpsinfo', 'curcpu', 'chip', 'pset', 'lgrp']) builtinNames.add(n);
  }
  return builtinNames.has(name) || dConstants().has(name);
}

export class Builtins {
  readonly functions = new Map<string, FnInfo>();
  readonly variables = new Map<string, BuiltinVar>();

  constructor(types: TypeScope) {
    for (const [name, proto] of SUBRS) {
      this.functions.set(name, { name, kind: FnKind.Subr, proto: parseProto(types, proto), destructive: DESTRUCTIVE_SUBRS.has(name) });
    }
    for (const [name, proto, destructive] of ACTIONS) {
      this.functions.set(name, { name, kind: FnKind.Action, proto: parseProto(types, proto), destructive });
    }
    for (const [name, proto] of AGGS) {
      this.functions.set(name, { name, kind: FnKind.Agg, proto: parseProto(types, proto), destructive: false });
    }
    for (const [name, type] of VARS) {
      this.variables.set(name, { name, type: typeFromName(types, type), array: false });
    }
    this.variables.set('args', { name: 'args', type: typeFromName(types, 'int64_t'), array: true });
    this.variables.set('uregs', { name: 'uregs', type: typeFromName(types, 'uint64_t'), array: true });
    // the kernel's struct task_struct (from BTF), looked up only when a program names curthread
    let curthread: DType | null = null;
    this.variables.set('curthread', {
      name: 'curthread',
      get type(): DType {
        return (curthread ??= pointerTo(types.tagReference(Kind.Struct, 'task_struct')));
      },
      array: false,
    });
    // the process, thread and CPU views (types from dlib.ts's D library)
    for (const [name, type] of [
      ['curpsinfo', 'psinfo_t *'],
      ['curlwpsinfo', 'lwpsinfo_t *'],
      ['curcpu', 'cpuinfo_t *'],
      ['chip', 'chipid_t'],
      ['pset', 'psetid_t'],
      ['lgrp', 'lgrp_id_t'],
    ]) {
      if (types.lookup(type.replace(' *', ''))) this.variables.set(name, { name, type: typeFromName(types, type), array: false });
    }
  }
}

/** Built-in identifiers added after D 1.0, and the version that added them (dt_open.c). */
const INTRODUCED: Record<string, string> = {
  freopen: '1.1', index: '1.1', rindex: '1.1', strchr: '1.1', strrchr: '1.1', strstr: '1.1', strtok: '1.1', substr: '1.1',
  func: '1.2', mod: '1.2', setopt: '1.2', sym: '1.2', uaddr: '1.2', ucaller: '1.2', ufunc: '1.2', umod: '1.2',
  ustackdepth: '1.2', usym: '1.2',
  htonl: '1.3', htonll: '1.3', htons: '1.3', ntohl: '1.3', ntohll: '1.3', ntohs: '1.3',
  inet_ntoa: '1.5', inet_ntoa6: '1.5', inet_ntop: '1.5', link_ntop: '1.5',
  stddev: '1.6', llquantize: '1.6.4', pcap: '1.6.4', print: '2.0',
};

function versionNumber(v: string): number {
  const [a, b, c] = v.split('.').map(Number);
  return (a << 24) | (b << 12) | (c || 0);
}

/** Whether a built-in identifier exists in a D version (null: the latest). */
export function builtinInVersion(name: string, version: string | null): boolean {
  const since = INTRODUCED[name];
  return since === undefined || version === null || versionNumber(version) >= versionNumber(since);
}
