// USDT probes on uprobe events: a .note.stapsdt argument specification ("8@%rbx -4@112(%rsp)
// 8@-8(%rbp) -4@$5 8@foo(%rip)", arm64's "8@x0 -4@[sp, 12]") as uprobe fetch arguments, with
// the value's size and sign; and the probes' semaphores, which programs test before they
// compute a probe's arguments: the kernel counts them itself where the uprobe event takes a
// reference-counter offset (4.20+: "PATH:0xOFF(0xREFOFF)"), else dtrace increments them in
// the traced process's memory (/proc/PID/mem) and decrements them when it is done.
//                                                        [sys/sdt.h; uprobetracer.rst; dt_prov_uprobe.c]

import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';

/** Where one USDT argument is, as a uprobe fetch argument (or a constant dtrace supplies). */
export type UsdtArg =
  /**
   * `fetch`: the location in fetch-argument syntax ("%bx", "+112(%sp)", "@+0x1234"); `type`: s32,
   * u64, ...; `reg` and `disp`, for a BPF program that reads it from the registers: the register
   * (as fetch arguments name it), and for one in memory the bytes from the address it holds
   * (absent: an object's address or a high byte register, which only the fetch reads)
   */
  | { kind: 'fetch'; fetch: string; type: string; size: number; signed: boolean; reg?: string; disp?: number }
  /** an immediate operand ($5) */
  | { kind: 'const'; value: bigint }
  /** a form uprobes cannot fetch (an indexed address): the argument reads as 0 */
  | { kind: 'none'; spec: string };

/** x86-64 register names as the assembler writes them → pt_regs names, and the bits they are. */
const X86_REGS = new Map<string, [string, number]>();
{
  const legacy: Array<[string, string[]]> = [
    ['ax', ['rax', 'eax', 'ax', 'al']],
    ['bx', ['rbx', 'ebx', 'bx', 'bl']],
    ['cx', ['rcx', 'ecx', 'cx', 'cl']],
    ['dx', ['rdx', 'edx', 'dx', 'dl']],
    ['si', ['rsi', 'esi', 'si', 'sil']],
    ['di', ['rdi', 'edi', 'di', 'dil']],
    ['bp', ['rbp', 'ebp', 'bp', 'bpl']],
    ['sp', ['rsp', 'esp', 'sp', 'spl']],
  ];
  for (const [reg, names] of legacy) names.forEach((n, i) => X86_REGS.set(n, [reg, [64, 32, 16, 8][i]]));
  for (let r = 8; r <= 15; r++) {
    X86_REGS.set(`r${r}`, [`r${r}`, 64]);
    X86_REGS.set(`r${r}d`, [`r${r}`, 32]);
    X86_REGS.set(`r${r}w`, [`r${r}`, 16]);
    X86_REGS.set(`r${r}b`, [`r${r}`, 8]);
  }
  X86_REGS.set('rip', ['ip', 64]);
}

/** The high byte registers: bits 8..15 of ax..dx. */
const X86_HIGH = new Map([['ah', 'ax'], ['bh', 'bx'], ['ch', 'cx'], ['dh', 'dx']]);

/** arm64: x0..x30, w0..w30 (their low halves), sp, pc. */
function arm64Reg(name: string): [string, number] | null {
  const m = /^([xw])([0-9]|[12][0-9]|30)$/.exec(name);
  if (m) return [`x${m[2]}`, m[1] === 'x' ? 64 : 32];
  if (name === 'sp' || name === 'wsp') return ['sp', 64];
  if (name === 'pc') return ['pc', 64];
  return null;
}

function typeOf(size: number, signed: boolean): string {
  return `${signed ? 's' : 'u'}${size * 8}`;
}

/** A displacement as the kernel's fetch syntax wants it: "+8", "-12". */
function disp(n: number): string {
  return n < 0 ? `-${-n}` : `+${n}`;
}

/**
 * Parses one argument of a note ("-4@112(%rsp)"); `symbol` gives the address of a name in the
 * object (RIP-relative operands: "8@foo(%rip)", "8@foo+8(%rip)"), `codeBias` the difference
 * between the probe's address and its file offset (an address of the object A is fetched as
 * "@+(A - codeBias)": the kernel adds the probe's load address to a file offset).
 */
export function parseUsdtArg(
  text: string,
  symbol: (name: string) => number | null = () => null,
  codeBias = 0,
  machine = arch(),
): UsdtArg {
  let size = 8;
  let signed = false;
  let loc = text;
  const m = /^(-?)(1|2|4|8)@(.*)$/.exec(text);
  if (m) {
    signed = m[1] === '-';
    size = Number(m[2]);
    loc = m[3];
  }
  const none: UsdtArg = { kind: 'none', spec: text };
  const fetch = (f: string, reg?: string, disp?: number): UsdtArg => {
    const a: UsdtArg = { kind: 'fetch', fetch: f, type: typeOf(size, signed), size, signed };
    if (reg !== undefined) a.reg = reg;
    if (disp !== undefined) a.disp = disp;
    return a;
  };
  const konst = (v: bigint): UsdtArg => {
    const bits = BigInt(size * 8);
    return { kind: 'const', value: signed ? BigInt.asIntN(Number(bits), v) : BigInt.asUintN(Number(bits), v) };
  };
  if (machine === 'arm64') {
    const imm = /^#?(-?(?:0x[0-9a-fA-F]+|[0-9]+))$/.exec(loc);
    if (imm) return konst(BigInt(imm[1]));
    const r = arm64Reg(loc);
    if (r) return fetch(`%${r[0]}`, r[0]);
    const mem = /^\[\s*(\w+)\s*(?:,\s*#?(-?(?:0x[0-9a-fA-F]+|[0-9]+)))?\s*\]$/.exec(loc);
    if (mem) {
      const base = arm64Reg(mem[1]);
      if (base === null) return none;
      const off = mem[2] === undefined ? 0 : Number(mem[2]);
      return fetch(`${disp(off)}(%${base[0]})`, base[0], off);
    }
    return none;
  }
  // x86-64 (AT&T syntax)
  const imm = /^\$(-?(?:0x[0-9a-fA-F]+|[0-9]+))$/.exec(loc);
  if (imm) return konst(BigInt(imm[1]));
  if (loc.startsWith('%')) {
    const name = loc.slice(1);
    const high = X86_HIGH.get(name);
    // bits 8..15 of the register: a bit-field fetch, always unsigned
    if (high !== undefined) return { kind: 'fetch', fetch: `%${high}`, type: 'b8@8/64', size: 1, signed: false };
    const r = X86_REGS.get(name);
    if (r === undefined || r[0] === 'ip') return none;
    return fetch(`%${r[0]}`, r[0]);
  }
  const mem = /^([^(]*)\((%\w+)\)$/.exec(loc);
  if (!mem) return none;
  const base = mem[2].slice(1);
  let off = mem[1];
  if (base === 'rip') {
    // foo(%rip), foo+8(%rip), foo-8(%rip): an address of the object, by its symbol
    const s = /^([A-Za-z_.$][\w.$@]*)([+-](?:0x[0-9a-fA-F]+|[0-9]+))?$/.exec(off);
    if (!s) return none;
    const at = symbol(s[1]);
    if (at === null) return none;
    const addr = at + (s[2] === undefined ? 0 : Number(s[2])) - codeBias;
    return fetch(`@${addr < 0 ? '-' : '+'}0x${Math.abs(addr).toString(16)}`);
  }
  const r = X86_REGS.get(base);
  if (r === undefined || r[1] !== 64) return none;
  if (off === '') off = '0';
  if (!/^-?(?:0x[0-9a-fA-F]+|[0-9]+)$/.test(off)) return none;
  return fetch(`${disp(Number(off))}(%${r[0]})`, r[0], Number(off));
}

/** Every argument of a note's specification (blank-separated; arm64's "[sp, 12]" is one). */
export function parseUsdtArgs(spec: string, symbol?: (name: string) => number | null, codeBias = 0, machine = arch()): UsdtArg[] {
  const words = spec.match(/(?:\[[^\]]*\]|\S)+/g) ?? [];
  return words.map((w) => parseUsdtArg(w, symbol, codeBias, machine));
}

let refCtrKnown: boolean | null = null;

/**
 * Whether uprobe events take a reference counter ("PATH:0xOFF(0xREFOFF)", Linux 4.20+): the
 * kernel then increments the semaphore in every process that maps the object while the event
 * is enabled. tracefs's README shows the syntax where it is. DTRACE_TS_NO_REF_CTR=1 makes
 * dtrace set semaphores itself (tests of the fallback).
 */
export function uprobeRefCtrSupported(tracefs: string): boolean {
  if (process.env.DTRACE_TS_NO_REF_CTR === '1') return false;
  if (refCtrKnown === null) {
    try {
      refCtrKnown = readFileSync(join(tracefs, 'README'), 'latin1').includes('(ref_ctr_offset)');
    } catch {
      refCtrKnown = false;
    }
  }
  return refCtrKnown;
}

/**
 * Adds `delta` to the 2-byte semaphores at `addrs` in a process's memory (the fallback where the
 * kernel cannot count them). Returns the addresses it changed; a process that is gone, or
 * memory that cannot be written, changes nothing.
 */
export function adjustSemaphores(pid: number, addrs: number[], delta: number): number[] {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/mem`, 'r+');
  } catch {
    return [];
  }
  const done: number[] = [];
  const b = Buffer.alloc(2);
  try {
    for (const a of addrs) {
      try {
        if (readSync(fd, b, 0, 2, a) !== 2) continue;
        const v = b.readUInt16LE(0);
        b.writeUInt16LE(Math.max(0, Math.min(0xffff, v + delta)), 0);
        if (writeSync(fd, b, 0, 2, a) === 2) done.push(a);
      } catch {
        // unmapped, or not writable
      }
    }
  } finally {
    closeSync(fd);
  }
  return done;
}
