// uregs[] and the argument registers on arm64, which cannot run here: a byte image of arm64's
// struct pt_regs (arch/arm64/include/asm/ptrace.h, Linux 6.13+: user_pt_regs, orig_x0,
// syscallno, pmr, sdei_ttbr1, the stack frame record, lockdep_hardirqs, exit_rcu), as a uprobe's
// BPF program gets it, decoded through DTrace's register names (Oracle's libdtrace/arm64/regs.d)
// and the offsets the BPF code generator loads from; x86-64's beside it, which does run here.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { registerOffset, userRegisterOffset } from '../../src/kernel/kprobes.js';
import { uprobeRegisterFetchArgs } from '../../src/kernel/uprobes.js';
import { maxUregsIndex, registerNames } from '../../src/lang/dlib.js';

/** arm64's struct pt_regs as the kernel lays it out; its registers hold recognisable values. */
function arm64PtRegs(): DataView {
  const v = new DataView(new ArrayBuffer(31 * 8 + 3 * 8 + 8 + 8 + 8 + 24 + 16));
  // user_pt_regs: u64 regs[31], sp, pc, pstate
  for (let i = 0; i < 31; i++) v.setBigUint64(i * 8, 0xa0a0_0000_0000_0000n + BigInt(i), true);
  v.setBigUint64(31 * 8, 0x0000_ffff_e000_1ff0n, true); // sp: the user stack, 16-byte aligned
  v.setBigUint64(32 * 8, 0x0000_aaaa_c000_0754n, true); // pc: the probed instruction
  v.setBigUint64(33 * 8, 0x6000_0000n, true); // pstate: EL0t, Z and C set
  let at = 34 * 8;
  v.setBigUint64(at, 0xa0a0_0000_0000_0000n, true); // orig_x0: x0 before the system call
  at += 8;
  v.setInt32(at, -1, true); // syscallno: none
  v.setUint32(at + 4, 0xe0, true); // pmr
  at += 8;
  v.setBigUint64(at, 0n, true); // sdei_ttbr1
  at += 8;
  // stackframe: struct frame_record_meta { struct frame_record { fp, lr }; type }
  v.setBigUint64(at, 0xdead_0000_0000_0001n, true);
  v.setBigUint64(at + 8, 0xdead_0000_0000_0002n, true);
  v.setBigUint64(at + 16, 1n, true);
  return v;
}

function ureg(v: DataView, name: string, machine: string): bigint {
  const i = registerNames(machine).get(name);
  assert.notEqual(i, undefined, `${name} is no register on ${machine}`);
  const at = userRegisterOffset(i!, machine);
  assert.notEqual(at, null, `${name} is not in ${machine}'s pt_regs`);
  return v.getBigUint64(at!, true);
}

test("arm64: uregs[] under Oracle's names, from struct pt_regs", () => {
  const v = arm64PtRegs();
  for (let i = 0; i <= 30; i++) assert.equal(ureg(v, `R_X${i}`, 'arm64'), 0xa0a0_0000_0000_0000n + BigInt(i));
  assert.equal(ureg(v, 'R_FP', 'arm64'), 0xa0a0_0000_0000_0000n + 29n);
  assert.equal(ureg(v, 'R_SP', 'arm64'), 0x0000_ffff_e000_1ff0n);
  assert.equal(ureg(v, 'R_PC', 'arm64'), 0x0000_aaaa_c000_0754n);
  assert.equal(ureg(v, 'R_PSTATE', 'arm64'), 0x6000_0000n);
  // R_X0 .. R_PSTATE are 0 .. 33, as Oracle numbers them; x86-64's names are not arm64's
  assert.equal(registerNames('arm64').get('R_PSTATE'), 33);
  assert.equal(registerNames('arm64').get('R_RIP'), undefined);
  assert.equal(registerNames('arm64').size, 35);
  // past user_pt_regs (orig_x0 ...) is the kernel's own: no uregs[] index reaches it
  assert.equal(maxUregsIndex('arm64'), 33);
  assert.equal(userRegisterOffset(34, 'arm64'), null);
  assert.equal(userRegisterOffset(-1, 'arm64'), null);
});

test('arm64: arg0..arg7 are x0..x7, the return value x0; an eighth is on the stack, not in pt_regs', () => {
  const v = arm64PtRegs();
  for (let i = 0; i < 8; i++) assert.equal(v.getBigUint64(registerOffset(i, 'arm64')!, true), 0xa0a0_0000_0000_0000n + BigInt(i));
  assert.equal(v.getBigUint64(registerOffset('return', 'arm64')!, true), 0xa0a0_0000_0000_0000n);
  assert.equal(registerOffset(8, 'arm64'), null);
});

test('arm64: a uprobe fetches the registers by the names the kernel gives them, at their uregs[] index', () => {
  const f = uprobeRegisterFetchArgs('arm64');
  assert.equal(f.length, 34);
  assert.equal(f[0], 'u0=%x0:u64');
  assert.equal(f[29], 'u29=%x29:u64');
  assert.equal(f[30], 'u30=%x30:u64');
  assert.deepEqual(f.slice(31), ['u31=%sp:u64', 'u32=%pc:u64', 'u33=%pstate:u64']);
});

test('x86-64: the same tables give pt_regs as x86-64 lays it out', () => {
  // r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss
  assert.equal(userRegisterOffset(registerNames('x64').get('R_RDI')!, 'x64'), 112);
  assert.equal(userRegisterOffset(registerNames('x64').get('R_RSP')!, 'x64'), 152);
  assert.equal(userRegisterOffset(registerNames('x64').get('R_PC')!, 'x64'), 128);
  // R_DS .. R_TRAPNO are the task's, not pt_regs'
  assert.equal(userRegisterOffset(registerNames('x64').get('R_DS')!, 'x64'), null);
  assert.equal(maxUregsIndex('x64'), 25);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => registerOffset(i, 'x64')), [112, 104, 96, 88, 72, 64]);
  assert.equal(registerOffset('return', 'x64'), 80);
  assert.equal(registerOffset(6, 'x64'), null);
  assert.equal(uprobeRegisterFetchArgs('x64')[14], 'u14=%di:u64');
});
