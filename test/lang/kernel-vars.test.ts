// Kernel variables by name (`jiffies, vmlinux`jiffies): the checker makes each one the place
// *(T *)address, from what the kernel's symbols and types say (TypeScope.external.variable); a
// symbol whose type is not known is DTrace's D_SYM_NOTYPES, one the kernel lacks D_IDENT_UNDEF.
// The kernel side (kallsyms' data symbols, read by BPF as probes fire) is checked in the lab,
// whose kernels list data symbols (test/platform/kernel-vars.test.ts); this machine's does not.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Compiler } from '../../src/compile/compile.js';
import { DCompileError } from '../../src/lang/diagnostics.js';
import type { KernelVariable } from '../../src/lang/typescope.js';
import { DtraceProvider } from '../../src/providers/dtrace.js';
import { ProbeRegistry } from '../../src/providers/registry.js';
import { Options } from '../../src/runtime/options.js';
import { arrayOf } from '../../src/lang/types.js';

const JIFFIES_AT = 0xffffffff82a05000n;

function compile(text: string): DCompileError | null {
  const registry = new ProbeRegistry();
  registry.add(new DtraceProvider());
  const c = new Compiler(new Options(), registry, { args: [], defaultArgs: false, vars: new Map(), used: new Set() });
  const kernel = c.types.external!;
  c.types.external = {
    lookup: (n) => kernel.lookup(n),
    variable: (scoped): KernelVariable | null => {
      const name = scoped.slice(scoped.indexOf('`') + 1);
      if (name === 'jiffies') return { object: 'vmlinux', name, address: JIFFIES_AT, type: c.types.get('unsigned long') };
      if (name === 'avenrun') return { object: 'vmlinux', name, address: JIFFIES_AT + 0x100n, type: arrayOf(c.types.get('unsigned long'), 3) };
      if (name === '_sdata') return { object: 'vmlinux', name, address: JIFFIES_AT - 0x1000n, type: null };
      return null;
    },
  };
  try {
    c.compile({ text, fromFile: false, name: 't.d', level: 3 });
    return null;
  } catch (e) {
    if (e instanceof DCompileError) return e;
    throw e;
  }
}

test('a kernel variable is a place of its type at its address', () => {
  assert.equal(compile('BEGIN { x = `jiffies + 1; y = vmlinux`jiffies; @ = max(`jiffies); }')?.message ?? null, null);
  // its type's size
  assert.equal(compile('BEGIN /sizeof(`jiffies) == 8/ { exit(0); }')?.message ?? null, null);
});

test('a symbol without a type, and one the kernel does not have, are refused as DTrace does', () => {
  const notypes = compile('BEGIN { trace(`_sdata); }');
  assert.equal(notypes?.tag, 'D_SYM_NOTYPES');
  assert.equal(notypes?.message, 'no symbolic type information is available for vmlinux`_sdata: No type information available for symbol');
  const none = compile('BEGIN { trace(`no_such_variable); }');
  assert.equal(none?.tag, 'D_IDENT_UNDEF');
  assert.equal(none?.message, 'failed to resolve `no_such_variable: Unknown symbol name');
});

test('a kernel array is indexed as C indexes it, not as an associative array', () => {
  // DTraceToolkit's iopending: `hp_avenrun[0] / 65536
  assert.equal(compile('BEGIN { x = `avenrun[0] / 2048; y = vmlinux`avenrun[2]; exit(sizeof (`avenrun[1]) == 8 ? 0 : 1); }')?.message ?? null, null);
  const none = compile('BEGIN { trace(`hp_avenrun[0]); }');
  assert.equal(none?.tag, 'D_IDENT_UNDEF');
  assert.equal(none?.message, 'failed to resolve `hp_avenrun: Unknown symbol name');
});

test('&`name is the variable\'s address, a pointer to its type', () => {
  assert.equal(compile('BEGIN { p = &`jiffies; x = *p; y = (uint64_t)&vmlinux`jiffies; exit(sizeof (*&`jiffies) == 8 ? 0 : 1); }')?.message ?? null, null);
  assert.equal(compile('BEGIN { trace(&`_sdata); }')?.tag, 'D_SYM_NOTYPES');
  assert.equal(compile('BEGIN { x = 1; trace(&x); }')?.tag, 'D_ADDROF_VAR');
});
