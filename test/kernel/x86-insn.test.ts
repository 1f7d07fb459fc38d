// The x86-64 instruction-length decoder against binutils: every instruction objdump finds in the
// .text of real objects on this machine must have the length objdump gives it.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { ElfFile } from '../../src/kernel/elf.js';
import { x86InstructionLength, x86UprobeRefuses } from '../../src/kernel/x86-insn.js';

const noObjdump = spawnSync('objdump', ['--version']).status !== 0 ? 'objdump (binutils) not installed' : false;
const notX86 = process.arch !== 'x64' ? 'not x86-64' : false;

/** The libc dtrace's own node maps: the one its programs run with. */
function libc(): string | null {
  for (const p of ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/lib64/libc.so.6']) {
    if (existsSync(p)) return p;
  }
  return null;
}

interface Agreement {
  total: number;
  agree: number;
  /** objdump's "(bad)" and ".byte" (cut short by the section's end): data, not compared */
  bad: number;
  mismatches: string[];
}

/** Decodes at every address objdump disassembles in .text and compares the lengths. */
function compareWithObjdump(path: string): Agreement {
  const elf = ElfFile.open(path);
  let text;
  try {
    text = elf.sectionData('.text');
  } finally {
    elf.close();
  }
  assert.ok(text, `${path} has a .text`);
  const r = spawnSync('objdump', ['-d', '-j', '.text', '--insn-width=16', '-w', path], { encoding: 'latin1', maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, r.stderr);
  const out: Agreement = { total: 0, agree: 0, bad: 0, mismatches: [] };
  const line = /^ *([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*(.*)$/;
  for (const l of r.stdout.split('\n')) {
    const m = line.exec(l);
    if (m === null) continue;
    const addr = parseInt(m[1], 16);
    const want = m[2].trim().split(' ').length;
    const at = addr - text.addr;
    if (at < 0 || at >= text.data.length) continue;
    const got = x86InstructionLength(text.data, at);
    // not instructions to objdump either: hand-written objects (libcrypto's) keep tables in .text
    if (m[3].includes('(bad)') || m[3].startsWith('.byte')) {
      out.bad++;
      continue;
    }
    out.total++;
    if (got === want) out.agree++;
    else if (out.mismatches.length < 20) out.mismatches.push(`${addr.toString(16)}: ${m[2].trim()} ${m[3]}: ${got} bytes, objdump ${want}`);
  }
  return out;
}

for (const [label, path] of [
  ['libc.so.6', libc()],
  ['/usr/bin/ls', '/usr/bin/ls'],
  // hand-written SSE, AVX2 and AVX-512 code (VEX and EVEX)
  ['libcrypto.so.3', '/usr/lib/x86_64-linux-gnu/libcrypto.so.3'],
  ['libm.so.6', '/usr/lib/x86_64-linux-gnu/libm.so.6'],
  ['libgcrypt.so.20', '/usr/lib/x86_64-linux-gnu/libgcrypt.so.20'],
] as const) {
  test(`every instruction of ${label}'s .text has objdump's length`, { skip: noObjdump || notX86 || (path === null || !existsSync(path) ? 'not on this machine' : false) }, () => {
    const a = compareWithObjdump(path!);
    console.log(`${label}: ${a.agree} of ${a.total} instructions agree with objdump (${a.bad} not instructions to objdump, left out)`);
    assert.ok(a.total > 1000, `${path}: objdump found ${a.total} instructions`);
    assert.deepEqual(a.mismatches, []);
    assert.equal(a.agree, a.total);
  });
}

test('the odd lengths: moffs, enter, imm64, test imm, 66h, 67h, VEX, EVEX, 3DNow!', () => {
  const cases: Array<[string, number]> = [
    ['a1 88 77 66 55 44 33 22 11', 9], // mov moffs64, %eax
    ['67 a1 44 33 22 11', 6], // mov moffs32 (67h)
    ['c8 10 00 01', 4], // enter $0x10, $1
    ['48 b8 01 02 03 04 05 06 07 08', 10], // movabs $imm64, %rax
    ['b8 01 02 03 04', 5], // mov $imm32, %eax
    ['66 b8 01 02', 4], // mov $imm16, %ax
    ['f6 c1 01', 3], // test $1, %cl
    ['f6 d1', 2], // not %cl: no immediate
    ['f7 c1 01 00 00 00', 6], // test $1, %ecx
    ['66 f7 c1 01 00', 5], // test $1, %cx
    ['48 f7 c1 01 00 00 00', 7], // test $1, %rcx
    ['66 48 f7 c1 01 00 00 00', 8], // REX.W wins over 66h
    ['f7 d8', 2], // neg %eax
    ['66 81 7c 24 08 34 12', 7], // cmpw $0x1234, 8(%rsp)
    ['c7 05 00 00 00 00 01 00 00 00', 10], // movl $1, rip-relative
    ['66 2e 0f 1f 84 00 00 00 00 00', 10], // cs nopw
    ['c5 f8 77', 3], // vzeroupper
    ['c4 e3 79 0f c1 08', 6], // vpalignr $8 (map 3: imm8)
    ['c5 f9 70 c1 1b', 5], // vpshufd $0x1b
    ['62 f1 7d 48 6f 44 24 01', 8], // vmovdqa32 disp8*N
    ['62 f3 7d 48 3f c1 00', 7], // vpcmpb $0 (EVEX map 3)
    ['0f 0f c1 b4', 4], // pfmul (3DNow!)
    ['66 0f 78 c1 04 08', 6], // extrq $4, $8
    ['0f 20 c0', 3], // mov %cr0, %rax: register form whatever mod says
    ['f3 0f 1e fa', 4], // endbr64
    ['e8 00 00 00 00', 5], // call rel32
    ['0f 84 00 00 00 00', 6], // je rel32
    ['c2 08 00', 3], // ret $8
    ['8f c0', 2], // pop %rax (8F /0, not XOP)
    ['8f e8 78 c2 c1 04', 6], // XOP map 8: vprotb $4
    ['06', -1], // push %es: none in 64-bit mode
    ['48', -1], // a REX prefix alone
    ['0f', -1], // cut short
    ['9b d9 7c 24 02', 5], // fstcw 2(%rsp): binutils folds fwait in
    ['9b df e0', 3], // fstsw %ax
    ['9b 90', 1], // fwait alone
    ['9b 49 de 3f', 4], // fwait; fidivrs (%r15)
    ['0f a7 c0', 3], // xstore-rng (VIA PadLock)
    ['c6 c8 01', -1], // C6 /1: undefined
    ['8d c0', -1], // lea with a register operand
    ['66 66 66 66 66 66 66 66 66 66 66 66 66 66 90', 15],
    ['66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 90', -1], // over 15 bytes
  ];
  for (const [hex, len] of cases) {
    const b = Buffer.from(hex.replace(/ /g, ''), 'hex');
    assert.equal(x86InstructionLength(b, 0), len, hex);
  }
});

test('instructions uprobes refuse: lock, segment overrides but fs/gs, hlt, int3', () => {
  const cases: Array<[string, boolean]> = [
    ['f0 48 0f b1 17', true], // lock cmpxchg
    ['66 2e 0f 1f 84 00 00 00 00 00', true], // cs nopw
    ['64 48 8b 04 25 28 00 00 00', false], // mov %fs:0x28, %rax
    ['f4', true], // hlt
    ['cc', true], // int3
    ['55', false], // push %rbp
    ['f3 0f 1e fa', false], // endbr64
  ];
  for (const [hex, refused] of cases) {
    const b = Buffer.from(hex.replace(/ /g, ''), 'hex');
    assert.equal(x86UprobeRefuses(b, 0, x86InstructionLength(b, 0)), refused, hex);
  }
});
