// The BTF reader: a BTF object assembled here byte by byte (every kind D has a type for), the
// kernel's own, and D programs that name kernel types.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { Btf, BtfError, BtfKind, kernelBtf, kernelBtfRead } from '../../src/kernel/btf.js';
import { Compiler } from '../../src/compile/compile.js';
import { ProbeRegistry } from '../../src/providers/registry.js';
import { DtraceProvider } from '../../src/providers/dtrace.js';
import { Options } from '../../src/runtime/options.js';
import { Kind, findMember, resolve } from '../../src/lang/types.js';
import { cli as cliPath } from '../live/harness.js';

/** Member, enumerator and parameter names: first in the string section, so their offsets are known. */
const NAMES = ['key', 'next', 'name', 'flag', 'mode', 'RED', 'GREEN', 'a', 'x'];
function nameOf(s: string): number {
  return 1 + NAMES.slice(0, NAMES.indexOf(s)).reduce((n, x) => n + x.length + 1, 0);
}

/** Builds a BTF object: types as [kind, name, vlen, kindFlag, sizeOrType, kind-specific u32s]. */
function assemble(types: Array<[BtfKind, string, number, number, number, number[]]>): Buffer {
  const strings = ['', ...NAMES];
  let strLen = nameOf(NAMES[NAMES.length - 1]) + NAMES[NAMES.length - 1].length + 1;
  const strOff = (s: string): number => {
    if (s === '') return 0;
    const off = strLen;
    strings.push(s);
    strLen += s.length + 1;
    return off;
  };
  const words: number[] = [];
  for (const [kind, name, vlen, kindFlag, sizeOrType, extra] of types) {
    words.push(strOff(name), ((kindFlag << 31) | (kind << 24) | vlen) >>> 0, sizeOrType, ...extra);
  }
  const typeBytes = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => typeBytes.writeUInt32LE(w >>> 0, i * 4));
  const strBytes = Buffer.from(strings.join('\0') + '\0', 'latin1');
  const hdr = Buffer.alloc(24);
  hdr.writeUInt16LE(0xeb9f, 0);
  hdr.writeUInt8(1, 2);
  hdr.writeUInt32LE(24, 4);
  hdr.writeUInt32LE(0, 8);
  hdr.writeUInt32LE(typeBytes.length, 12);
  hdr.writeUInt32LE(typeBytes.length, 16);
  hdr.writeUInt32LE(strBytes.length, 20);
  return Buffer.concat([hdr, typeBytes, strBytes]);
}

function blob(): Buffer {
  return assemble([
    /* 1 */ [BtfKind.Int, 'int', 0, 0, 4, [(1 << 24) | 32]],
    /* 2 */ [BtfKind.Int, 'unsigned char', 0, 0, 1, [8]],
    /* 3 */ [BtfKind.Ptr, '', 0, 0, 4, []],
    /* 4: struct node { int key; node_t next; unsigned char name[8]; int flag:3; int mode:5; } */
    [BtfKind.Struct, 'node', 5, 1, 24, [nameOf('key'), 1, 0, nameOf('next'), 3, 64, nameOf('name'), 6, 128, nameOf('flag'), 1, (3 << 24) | 192, nameOf('mode'), 1, (5 << 24) | 195]],
    /* 5 */ [BtfKind.Typedef, 'node_t', 0, 0, 3, []],
    /* 6 */ [BtfKind.Array, '', 0, 0, 0, [2, 1, 8]],
    /* 7: enum color { RED = -1, GREEN = 7 } (signed) */
    [BtfKind.Enum, 'color', 2, 1, 4, [nameOf('RED'), -1 >>> 0, nameOf('GREEN'), 7]],
    /* 8 */ [BtfKind.Fwd, 'opaque', 0, 1, 0, []],
    /* 9 */ [BtfKind.Const, '', 0, 0, 1, []],
    /* 10: int (const int a, ...) */
    [BtfKind.FuncProto, '', 2, 0, 1, [nameOf('a'), 9, 0, 0]],
    /* 11 */ [BtfKind.Func, 'fn', 0, 0, 10, []],
    /* 12: a definition after a forward declaration of the same name */
    [BtfKind.Fwd, 'later', 0, 0, 0, []],
    /* 13 */ [BtfKind.Struct, 'later', 1, 0, 4, [nameOf('x'), 1, 0]],
  ]);
}

function reader(): Btf {
  return new Btf(blob());
}

test('BTF: ints, pointers, arrays, structs with bit-fields, typedefs, enums, forward declarations, prototypes', () => {
  const b = reader();
  assert.equal(b.count, 13);
  const node = b.type(b.find('struct node')!);
  assert.equal(node.kind, Kind.Struct);
  assert.equal(node.name, 'struct node');
  assert.equal(node.size, 24);
  assert.equal(node.complete, true);
  assert.deepEqual(
    node.members.map((m) => [m.name, m.type.name, m.offset, m.bitOffset, m.bitWidth]),
    [
      ['key', 'int', 0, 0, -1],
      ['next', 'struct node *', 8, 64, -1],
      ['name', 'unsigned char [8]', 16, 128, -1],
      ['flag', 'int', 24, 192, 3],
      ['mode', 'int', 24, 195, 5],
    ],
  );
  assert.equal(findMember(node, 'key')!.type.signed, true);
  const t = b.type(b.find('node_t')!);
  assert.equal(t.kind, Kind.Typedef);
  assert.equal(resolve(t).name, 'struct node *');
  const color = b.type(b.find('enum color')!);
  assert.deepEqual(color.enumerators, [['RED', -1], ['GREEN', 7]]);
  const opaque = b.type(b.find('union opaque')!);
  assert.equal(opaque.kind, Kind.Union);
  assert.equal(opaque.complete, false);
  const fn = b.type(b.find('func:fn')!);
  assert.equal(fn.kind, Kind.Function);
  assert.equal(fn.variadic, true);
  assert.deepEqual(fn.params.map((p) => [p.name, p.isConst]), [['int', true]]);
  assert.deepEqual(b.paramNames(b.find('func:fn')!), ['a', '']);
  assert.equal(b.type(b.find('struct later')!).complete, true, 'the definition wins over the forward declaration');
  assert.equal(b.find('struct nothing'), undefined);
});

test('BTF: a struct that points at itself is one type', () => {
  const b = reader();
  const node = b.type(b.find('struct node')!);
  assert.equal(resolve(findMember(node, 'next')!.type).base, node);
  assert.equal(b.type(4), node);
});

test('BTF: malformed objects are refused with a reason', () => {
  assert.throws(() => new Btf(Buffer.alloc(24)), (e: unknown) => e instanceof BtfError && /bad magic/.test(e.message));
  const b = blob();
  assert.throws(() => new Btf(b.subarray(0, b.length - 10)), BtfError);
  const cut = Buffer.from(b);
  cut.writeUInt32LE(cut.readUInt32LE(12) - 2, 12); // the last type runs past the section
  assert.throws(() => new Btf(cut), /truncated/);
});

const kernel = existsSync('/sys/kernel/btf/vmlinux');

test("a program that names no kernel type never reads the kernel's BTF (D's library and built-ins included)", { skip: kernel ? false : 'no /sys/kernel/btf/vmlinux' }, () => {
  // first in this file to touch kernelBtf (tests run in order)
  assert.equal(kernelBtfRead(), false);
  const registry = new ProbeRegistry();
  registry.add(new DtraceProvider());
  const c = new Compiler(new Options(), registry, { args: ['dtrace'], defaultArgs: false, vars: new Map(), used: new Set() });
  c.compile({ text: 'typedef int mine_t; BEGIN { x = (mine_t)1; y = curpsinfo->pr_pid; printf("%d %s", x, execname); exit(0); }', fromFile: false, name: 'test', level: 3 });
  assert.equal(kernelBtfRead(), false);
});

test("the kernel's BTF: task_struct as the kernel lays it out", { skip: kernel ? false : 'no /sys/kernel/btf/vmlinux' }, () => {
  const b = kernelBtf()!;
  const task = b.type(b.find('struct task_struct')!);
  assert.ok(task.size > 1000);
  const comm = findMember(task, 'comm')!;
  assert.equal(comm.type.name, 'char [16]');
  const parent = resolve(findMember(task, 'real_parent')!.type);
  assert.equal(parent.kind, Kind.Pointer);
  assert.equal(parent.base, task);
});

test('D programs name kernel types: sizeof, offsetof, member types, typedefs', { skip: kernel ? false : 'no /sys/kernel/btf/vmlinux' }, () => {
  const r = spawnSync(process.execPath, [
    cliPath,
    '-q',
    '-n',
    'BEGIN { printf("%d %d %d %d %d %d\\n", sizeof(((struct task_struct *)0)->comm), sizeof(struct list_head), offsetof(struct list_head, prev), sizeof(struct timespec64), sizeof(atomic_t), sizeof(vmlinux`spinlock_t) > 0); exit(0); }',
  ], { encoding: 'latin1' });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, '16 16 8 16 4 1\n\n');
  // a program's own declaration of a kernel type's name is its own
  const own = spawnSync(process.execPath, [cliPath, '-q', '-n', 'struct task_struct { int a; }; BEGIN { printf("%d\\n", sizeof(struct task_struct)); exit(0); }'], { encoding: 'latin1' });
  assert.equal(own.stdout, '4\n\n');
});

test("BTF: a raw tracepoint's btf_trace_ typedef gives its parameters, named as C writes them", () => {
  const b = new Btf(
    assemble([
      /* 1 */ [BtfKind.Int, 'int', 0, 0, 4, [(1 << 24) | 32]],
      /* 2 */ [BtfKind.Int, 'unsigned char', 0, 0, 1, [8]],
      /* 3 */ [BtfKind.Fwd, 'opaque', 0, 0, 0, []],
      /* 4: void * */ [BtfKind.Ptr, '', 0, 0, 0, []],
      /* 5: struct opaque * */ [BtfKind.Ptr, '', 0, 0, 3, []],
      /* 6 */ [BtfKind.Const, '', 0, 0, 2, []],
      /* 7: const unsigned char * */ [BtfKind.Ptr, '', 0, 0, 6, []],
      /* 8 */ [BtfKind.Enum, 'color', 2, 1, 4, [nameOf('RED'), -1 >>> 0, nameOf('GREEN'), 7]],
      /* 9: void (void *, struct opaque *, const unsigned char *, enum color) */
      [BtfKind.FuncProto, '', 4, 0, 0, [0, 4, 0, 5, 0, 7, 0, 8]],
      /* 10 */ [BtfKind.Ptr, '', 0, 0, 9, []],
      /* 11 */ [BtfKind.Typedef, 'btf_trace_x', 0, 0, 10, []],
      /* 12 */ [BtfKind.Typedef, 'not_fn', 0, 0, 1, []],
      /* 13: struct opaque ** */ [BtfKind.Ptr, '', 0, 0, 5, []],
      /* 14: unsigned char [8] */ [BtfKind.Array, '', 0, 0, 0, [2, 1, 8]],
    ]),
  );
  const params = b.functionPointerParams('btf_trace_x');
  assert.deepEqual(params, [4, 5, 7, 8]);
  assert.deepEqual(params!.map((id) => b.cName(id)), ['void *', 'struct opaque *', 'const unsigned char *', 'enum color']);
  assert.equal(b.cName(13), 'struct opaque **');
  assert.equal(b.cName(14), 'unsigned char [8]');
  assert.equal(b.cName(10), 'void (*)()');
  assert.equal(b.cName(12), 'not_fn');
  assert.equal(b.functionPointerParams('not_fn'), null);
  assert.equal(b.functionPointerParams('btf_trace_nothing'), null);
  // the same once the index of every name is built
  assert.equal(b.find('struct nothing'), undefined);
  assert.deepEqual(b.functionPointerParams('btf_trace_x'), [4, 5, 7, 8]);
  assert.equal(b.findTypedef('btf_trace_x'), 11);
  assert.equal(b.findTypedef('color'), undefined);
});
