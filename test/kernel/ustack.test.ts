// User stacks without the kernel: the call-frame information of a program gcc builds here
// (-O2, .eh_frame; and -g without unwind tables, .debug_frame), the mapping table, perf maps,
// and the unwinder on a stack laid out by those CFI rows, as a perf event would copy it.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CfiRow, RULE_OFFSET } from '../../src/kernel/cfi.js';
import { ElfFile } from '../../src/kernel/elf.js';
import { MappingTable, ProcessMappings, parsePerfMap, userMappings } from '../../src/kernel/umaps.js';
import { userObject } from '../../src/kernel/uobject.js';
import { USTACK_DATA_AT, USTACK_REGS_AT, UserStack, userFrameOffsetText, userFrameText, userModuleText, userStackText, userSymbolStart } from '../../src/kernel/ustack.js';

const dir = mkdtempSync(join(tmpdir(), 'ustack-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SRC = `
volatile long sink;
__attribute__((noinline)) long c(long x) { sink += x; return x + 1; }
__attribute__((noinline)) long b(long x) { long r = c(x * 3); sink += r; return r * 2; }
__attribute__((noinline)) long a(long x) { long r = b(x + 1); sink ^= r; return r - 1; }
int main(int argc, char **argv) { (void)argv; return (int)a(argc); }
`;

function build(name: string, flags: string[]): string | null {
  const src = join(dir, 'chain.c');
  writeFileSync(src, SRC);
  const out = join(dir, name);
  const r = spawnSync('cc', [...flags, '-o', out, src], { encoding: 'latin1' });
  return r.error || r.status !== 0 ? null : out;
}

const eh = build('chain-eh', ['-O2']);
const df = build('chain-df', ['-O2', '-g', '-fno-asynchronous-unwind-tables', '-fno-unwind-tables']);
const skip = eh === null ? 'no C compiler' : false;

function symbol(path: string, name: string): { addr: number; size: number } {
  const f = ElfFile.open(path);
  try {
    const s = f.functionSymbols().find((x) => x.name === name)!;
    return { addr: s.addr, size: s.size };
  } finally {
    f.close();
  }
}

test('.eh_frame: at a function\'s first instruction the CFA is rsp + 8 and the return address is at CFA - 8', { skip }, () => {
  const obj = userObject(eh!)!;
  const row = new CfiRow();
  for (const fn of ['a', 'b', 'c', 'main']) {
    const s = symbol(eh!, fn);
    const t = obj.cfi().find((x) => x.rowAt(s.addr, row));
    assert.ok(t !== undefined, fn);
    assert.equal(row.cfaReg, 7, fn);
    assert.equal(row.cfaOff, 8, fn);
    assert.equal(row.rule[16], RULE_OFFSET);
    assert.equal(row.value[16], -8);
  }
  // no FDE covers an address outside the program's code
  assert.equal(obj.cfi().some((x) => x.rowAt(1, row)), false);
});

test('.debug_frame (no .eh_frame): the same rules, from the section\'s own index', { skip: skip || df === null ? 'no C compiler' : false }, () => {
  const obj = userObject(df!)!;
  const row = new CfiRow();
  const s = symbol(df!, 'b');
  const t = obj.cfi().find((x) => x.isDebugFrame && x.rowAt(s.addr, row));
  assert.ok(t !== undefined);
  assert.equal(row.cfaReg, 7);
  assert.equal(row.cfaOff, 8);
  // every address of b has its row there, none past its end
  for (let a = s.addr; a < s.addr + s.size; a++) assert.ok(t.rowAt(a, row), a.toString(16));
  assert.equal(t.rowAt(s.addr + s.size + 0x100000, row), false);
});

test('a PLT entry\'s CFA is a DWARF expression: rsp + 8, or + 16 past the push', { skip }, () => {
  const f = ElfFile.open(eh!);
  const plt = f.section('.plt');
  f.close();
  if (plt === undefined) return;
  const obj = userObject(eh!)!;
  const row = new CfiRow();
  const t = obj.cfi().find((x) => x.rowAt(plt.addr + 16, row));
  if (t === undefined || row.exprAt < 0) return;
  const regs = new Float64Array(17).fill(NaN);
  regs[7] = 0x7ffc0000;
  regs[16] = plt.addr + 16; // the first instruction of an entry: jmp *GOT
  assert.equal(t.evalCfaExpr(row, regs), 0x7ffc0000 + 8);
  regs[16] = plt.addr + 16 + 11; // after its push
  assert.equal(t.evalCfaExpr(row, regs), 0x7ffc0000 + 16);
});

test('mappings: added, found, replaced where they overlap; exec starts afresh, fork copies', () => {
  const m = new ProcessMappings(1);
  m.add(0x1000, 0x3000, 0, '/a');
  m.add(0x5000, 0x6000, 0x1000, '/b');
  assert.equal(m.find(0x1fff), 0);
  assert.equal(m.find(0x3000), -1);
  assert.equal(m.find(0x5000), 1);
  m.add(0x2000, 0x5800, 0, '/c');
  assert.deepEqual(m.paths, ['/c']);
  const t = new MappingTable();
  t.mmap(10, 0x1000, 0x1000, 0, '/x');
  t.fork(11, 10);
  t.exec(10);
  assert.equal(t.of(10).find(0x1000), -1);
  assert.equal(t.of(11).paths[t.of(11).find(0x1800)], '/x');
});

test('perf maps: "start size name" in hex, sorted', () => {
  const j = parsePerfMap('7f0000002000 40 LazyCompile:*fib /x.js:1\n0x7f0000001000 0x10 Builtin:A\nbad line\n');
  assert.deepEqual(j, { starts: [0x7f0000001000, 0x7f0000002000], sizes: [0x10, 0x40], names: ['Builtin:A', 'LazyCompile:*fib /x.js:1'] });
});

/** A pid no process has (the table's entries are this test's own). */
const PID = 0x3fffff00;
const BASE = 0x555500000000;

test('frame texts: module`function+0xoff, module`function at its start, module`0xaddr, 0xaddr; usym/umod/noresolve', { skip }, () => {
  // the program's executable segment is mapped at BASE + its file offset, as ld.so would
  const f = ElfFile.open(eh!);
  const [off, end] = f.codeRanges()[0];
  const vaddr = f.addrOfFileOffset(off);
  f.close();
  userMappings.exec(PID);
  userMappings.mmap(PID, BASE + vaddr, end - off, off, eh!);
  const c = symbol(eh!, 'c');
  const mod = 'chain-eh';
  assert.equal(userFrameText(PID, BASE + c.addr), `${mod}\`c`);
  assert.equal(userFrameText(PID, BASE + c.addr + 3), `${mod}\`c+0x3`);
  assert.equal(userSymbolStart(PID, BASE + c.addr + 3), BASE + c.addr);
  assert.equal(userModuleText(PID, BASE + c.addr + 3), mod);
  assert.equal(userFrameOffsetText(PID, BASE + c.addr), `${mod}:0x${(c.addr - vaddr).toString(16)}`);
  assert.equal(userFrameText(PID, 0x1234), '0x1234');
  assert.equal(userModuleText(PID, 0x1234), '0x1234');
});

test('the unwinder follows the CFI rows through a copied stack, then stops at the end of the copy', { skip }, () => {
  const f = ElfFile.open(eh!);
  const [off, end] = f.codeRanges()[0];
  const vaddr = f.addrOfFileOffset(off);
  f.close();
  userMappings.exec(PID);
  userMappings.mmap(PID, BASE + vaddr, end - off, off, eh!);
  const obj = userObject(eh!)!;
  // the chain's PCs: c at its entry, then a return address inside b, a and main
  const pcs = [symbol(eh!, 'c').addr, symbol(eh!, 'b').addr + 5, symbol(eh!, 'a').addr + 5, symbol(eh!, 'main').addr + 5].map((x) => x + BASE);
  const SP0 = 0x7ffd00001000;
  const stack = new DataView(new ArrayBuffer(4096));
  let sp = SP0;
  const row = new CfiRow();
  for (let i = 0; i < pcs.length - 1; i++) {
    const a = pcs[i] - BASE - (i === 0 ? 0 : 1);
    assert.ok(obj.cfi().some((t) => t.rowAt(a, row)));
    assert.equal(row.cfaReg, 7);
    const cfa = sp + row.cfaOff;
    stack.setBigUint64(cfa - 8 - SP0, BigInt(pcs[i + 1]), true);
    sp = cfa;
  }
  // the outermost frame's return address lies past the copy: unwinding stops there
  const block = new DataView(new ArrayBuffer(USTACK_DATA_AT + sp - SP0 + 8));
  block.setUint32(0, 2, true); // abi 64
  block.setUint32(4, sp - SP0 + 8, true);
  const regs = [0, 0, SP0, pcs[0], 0, 0, 0, 0]; // bx bp sp ip r12..r15
  regs.forEach((v, i) => block.setBigUint64(USTACK_REGS_AT + i * 8, BigInt(v), true));
  new Uint8Array(block.buffer, USTACK_DATA_AT).set(new Uint8Array(stack.buffer, 0, sp - SP0 + 8));
  const us = new UserStack();
  us.set(PID, block, 0);
  const n = us.unwind();
  assert.deepEqual([...us.frames.subarray(0, Math.min(n, pcs.length))], pcs);
  assert.equal(us.cfiFrames >= pcs.length - 1, true);
  // the stack's text, one frame a line; the same frames give the very same string back
  const text = userStackText(us, 2, userFrameText);
  assert.equal(text, `chain-eh\`c\n${userFrameText(PID, pcs[1])}`);
  assert.match(text.split('\n')[1], /^chain-eh`b\+0x[0-9a-f]+$/);
  us.set(PID, block, 0);
  us.unwind();
  assert.equal(userStackText(us, 2, userFrameText), text);
  assert.equal(userStackText(us, 1, userFrameText), 'chain-eh`c');
});

test('no registers: the frame-pointer chain the kernel gave, as it is', () => {
  const v = new DataView(new ArrayBuffer(24));
  v.setBigUint64(0, 0x401000n, true);
  v.setBigUint64(8, 0x401234n, true);
  const us = new UserStack();
  us.setFramePointers(PID, v, 0, 2);
  assert.equal(us.unwind(), 2);
  assert.deepEqual([...us.frames.subarray(0, 2)], [0x401000, 0x401234]);
  us.clear();
  assert.equal(us.unwind(), 0);
});
