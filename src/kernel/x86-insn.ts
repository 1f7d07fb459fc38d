// x86-64 instruction lengths, for the pid provider's offset probes: a glob over probe names gives
// one probe per instruction of a function, so its instructions must be found from its first
// byte. Lengths only (no operands, no mnemonics): legacy prefixes, REX, the VEX, EVEX and XOP
// escapes, the one-byte, 0F, 0F38 and 0F3A opcode maps, ModRM/SIB/displacement and immediates.
// 64-bit mode only. Which instructions uprobes refuse is here too: it is a property of the bytes.
//                                                  [Intel SDM vol. 2, ch. 2 and appendix A]

// What follows an opcode, one letter per opcode in the tables below:
//   .  nothing              m  ModRM                 b  imm8            z  imm16/32 (66h)
//   M  ModRM + imm8         Z  ModRM + imm16/32      w  imm16           v  imm16/32/64 (B8+r)
//   o  moffs (8 bytes, 4 with 67h)   e  imm16 + imm8 (enter)   r  ModRM, register form only
//   g  ModRM, then imm8 (F6) or imm16/32 (F7) for /0 and /1 (test)
//   x  not an instruction in 64-bit mode   p  a prefix   c  an escape to another map
const NONE = 0;
const MODRM = 1;
const IMM8 = 2;
const IMMZ = 4;
const IMM16 = 8;
const IMMV = 16;
const MOFFS = 32;
const REGONLY = 64;
const GROUP3 = 128;
const INVALID = 256;
const SPECIAL = 512;

const LETTERS: Record<string, number> = {
  '.': NONE,
  m: MODRM,
  b: IMM8,
  z: IMMZ,
  M: MODRM | IMM8,
  Z: MODRM | IMMZ,
  w: IMM16,
  v: IMMV,
  o: MOFFS,
  e: IMM16 | IMM8,
  r: MODRM | REGONLY,
  g: MODRM | GROUP3,
  x: INVALID,
  p: SPECIAL,
  c: SPECIAL,
};

function table(rows: string[]): Uint16Array {
  const t = new Uint16Array(256);
  const all = rows.join('').replace(/\s/g, '');
  if (all.length !== 256) throw new Error(`opcode table of ${all.length} entries`);
  for (let i = 0; i < 256; i++) t[i] = LETTERS[all[i]];
  return t;
}

/** The one-byte map. 26/2E/36/3E/64-67/F0/F2/F3 and 40-4F (REX) are prefixes; 0F, 62 (EVEX), C4/C5 (VEX) and 8F (XOP or pop) escape. */
const ONE_BYTE = table([
  /* 00 */ 'mmmmbzxx mmmmbzxc',
  /* 10 */ 'mmmmbzxx mmmmbzxx',
  /* 20 */ 'mmmmbzpx mmmmbzpx',
  /* 30 */ 'mmmmbzpx mmmmbzpx',
  /* 40 */ 'pppppppp pppppppp',
  /* 50 */ '........ ........',
  /* 60 */ 'xxcmpppp zZbM....',
  /* 70 */ 'bbbbbbbb bbbbbbbb',
  /* 80 */ 'MZxMmmmm mmmmmmmc',
  /* 90 */ '........ ..x.....',
  /* a0 */ 'oooo.... bz......',
  /* b0 */ 'bbbbbbbb vvvvvvvv',
  /* c0 */ 'MMw.ccMZ e.w..bx.',
  /* d0 */ 'mmmmxxx. mmmmmmmm',
  /* e0 */ 'bbbbbbbb zzxb....',
  /* f0 */ 'p.pp..gg ......mm',
]);

/**
 * 0F xx. 0F 38 and 0F 3A escape; 0F 0F is 3DNow! (ModRM, then an imm8 naming the operation);
 * 0F A6, 0F A7 are VIA PadLock's (xcrypt-*, xstore: a ModRM-like byte).
 */
const TWO_BYTE = table([
  /* 00 */ 'mmmmx... ..x.xm.M',
  /* 10 */ 'mmmmmmmm mmmmmmmm',
  /* 20 */ 'rrrrxxxx mmmmmmmm',
  /* 30 */ '......x. cxcxxxxx',
  /* 40 */ 'mmmmmmmm mmmmmmmm',
  /* 50 */ 'mmmmmmmm mmmmmmmm',
  /* 60 */ 'mmmmmmmm mmmmmmmm',
  /* 70 */ 'MMMMmmm. mmxxmmmm',
  /* 80 */ 'zzzzzzzz zzzzzzzz',
  /* 90 */ 'mmmmmmmm mmmmmmmm',
  /* a0 */ '...mMmmm ...mMmmm',
  /* b0 */ 'mmmmmmmm mmMmmmmm',
  /* c0 */ 'mmMmMMMm ........',
  /* d0 */ 'mmmmmmmm mmmmmmmm',
  /* e0 */ 'mmmmmmmm mmmmmmmm',
  /* f0 */ 'mmmmmmmm mmmmmmmm',
]);

/** VEX and EVEX map 1 (0F): ModRM throughout, but for VEX 0F 77 (vzeroupper, vzeroall); imm8 on shifts, compares and shuffles. */
const VEX_MAP1_IMM8 = new Set([0x70, 0x71, 0x72, 0x73, 0xc2, 0xc4, 0xc5, 0xc6]);

const MAX_LENGTH = 15;

/**
 * The length of the instruction at `code[at]` (64-bit mode), or -1 if the bytes up to `end`
 * are not a whole instruction (not one in 64-bit mode, cut short, or longer than 15 bytes).
 */
export function x86InstructionLength(code: Uint8Array, at: number, end = code.length): number {
  const limit = Math.min(end, code.length, at + MAX_LENGTH);
  let p = at;
  let opsize16 = false;
  let addr32 = false;
  let rexW = false;
  let rep = 0;
  // prefixes; a REX prefix counts only right before the opcode
  for (;;) {
    if (p >= limit) return -1;
    const b = code[p];
    if (b >= 0x40 && b <= 0x4f) {
      rexW = (b & 8) !== 0;
      p++;
      // binutils ends an instruction at a REX prefix that another prefix follows (the CPU would
      // ignore it): only data has these
      if (p < limit && (isLegacyPrefix(code[p]) || (code[p] >= 0x40 && code[p] <= 0x4f) || code[p] === 0x9b)) return p - at;
      break;
    }
    if (!isLegacyPrefix(b)) break;
    if (b === 0x66) opsize16 = true;
    else if (b === 0x67) addr32 = true;
    else if (b === 0xf2 || b === 0xf3) rep = b;
    p++;
  }
  if (p >= limit) return -1;
  let op = code[p++];
  let flags: number;
  let oneByte = false;
  if (op === 0x0f) {
    if (p >= limit) return -1;
    op = code[p++];
    if (op === 0x38 || op === 0x3a) {
      if (p >= limit) return -1;
      p++;
      flags = op === 0x3a ? MODRM | IMM8 : MODRM;
    } else {
      flags = TWO_BYTE[op];
      // extrq/insertq with an immediate: two imm8 (66 0F 78 /0, F2 0F 78)
      if (op === 0x78 && (opsize16 || rep === 0xf2)) flags = MODRM | IMM16;
    }
  } else if (op === 0xc4 || op === 0xc5 || op === 0x62) {
    return vexLength(code, at, p, limit, op);
  } else if (op === 0x8f && p < limit && (code[p] & 0x1f) >= 8) {
    return xopLength(code, at, p, limit);
  } else if (op === 0x8f) {
    flags = MODRM;
  } else {
    flags = ONE_BYTE[op];
    oneByte = true;
  }
  if ((flags & INVALID) !== 0 || (flags & SPECIAL) !== 0) return -1;
  if (op === 0x9b && p === at + 1) {
    // fwait before an x87 instruction is one instruction to binutils (fstcw = fwait; fnstcw),
    // as a prefix is (a REX before it ends the instruction, see above)
    let q = p;
    while (q < limit && (isLegacyPrefix(code[q]) || (code[q] >= 0x40 && code[q] <= 0x4f))) q++;
    if (q < limit && code[q] >= 0xd8 && code[q] <= 0xdf) {
      const n = x86InstructionLength(code, p, limit);
      return n < 0 ? -1 : p + n - at;
    }
  }
  if ((flags & MODRM) !== 0) {
    if (p >= limit) return -1;
    if (oneByte && !validOneByteModrm(op, code[p])) return -1;
    const q = modrmEnd(code, p, limit, (flags & REGONLY) !== 0);
    if (q < 0) return -1;
    if ((flags & GROUP3) !== 0 && ((code[p] >> 3) & 7) < 2) flags |= op === 0xf6 ? IMM8 : IMMZ;
    p = q;
  }
  if ((flags & IMM8) !== 0) p += 1;
  if ((flags & IMM16) !== 0) p += 2;
  if ((flags & IMMZ) !== 0) p += opsize16 && !rexW ? 2 : 4;
  if ((flags & IMMV) !== 0) p += rexW ? 8 : opsize16 ? 2 : 4;
  if ((flags & MOFFS) !== 0) p += addr32 ? 4 : 8;
  return p <= limit ? p - at : -1;
}

/** One-byte opcodes whose ModRM leaves some encodings undefined (binutils' "(bad)"). */
function validOneByteModrm(op: number, modrm: number): boolean {
  const reg = (modrm >> 3) & 7;
  switch (op) {
    case 0x8d: // lea: a memory operand only
      return modrm >> 6 !== 3;
    case 0x8f: // pop r/m: /0 (others are XOP)
      return reg === 0;
    case 0xc6: // mov imm: /0, and xabort (C6 F8)
    case 0xc7: // and xbegin (C7 F8)
      return reg === 0 || modrm === 0xf8;
    case 0xfe: // inc, dec
      return reg < 2;
    case 0xff: // /7 is undefined
      return reg !== 7;
  }
  return true;
}

function isLegacyPrefix(b: number): boolean {
  switch (b) {
    case 0x26:
    case 0x2e:
    case 0x36:
    case 0x3e:
    case 0x64:
    case 0x65:
    case 0x66:
    case 0x67:
    case 0xf0:
    case 0xf2:
    case 0xf3:
      return true;
  }
  return false;
}

/** Where a ModRM operand (ModRM, SIB, displacement) starting at `p` ends, or -1. */
function modrmEnd(code: Uint8Array, p: number, limit: number, registerOnly: boolean): number {
  if (p >= limit) return -1;
  const modrm = code[p++];
  const mod = modrm >> 6;
  const rm = modrm & 7;
  if (mod === 3 || registerOnly) return p;
  if (rm === 4) {
    if (p >= limit) return -1;
    const sib = code[p++];
    if (mod === 0 && (sib & 7) === 5) return p + 4;
  } else if (mod === 0 && rm === 5) {
    return p + 4; // RIP-relative
  }
  return mod === 1 ? p + 1 : mod === 2 ? p + 4 : p;
}

/** VEX (C4, C5) and EVEX (62) instructions: the escape's payload names the map. */
function vexLength(code: Uint8Array, at: number, p: number, limit: number, escape: number): number {
  const payload = escape === 0xc5 ? 1 : escape === 0xc4 ? 2 : 3;
  if (p + payload >= limit) return -1;
  const map = escape === 0xc5 ? 1 : escape === 0xc4 ? code[p] & 0x1f : code[p] & 7;
  p += payload;
  const op = code[p++];
  let imm = 0;
  if (map === 1) {
    if (escape !== 0x62 && op === 0x77) return p - at; // vzeroupper, vzeroall: no ModRM
    if (VEX_MAP1_IMM8.has(op)) imm = 1;
  } else if (map === 3) {
    imm = 1;
  } else if (map !== 2 && !(escape === 0x62 && (map === 5 || map === 6))) {
    return -1;
  }
  const q = modrmEnd(code, p, limit, false);
  if (q < 0) return -1;
  return q + imm <= limit ? q + imm - at : -1;
}

/** AMD's XOP (8F with a map of 8 or more): map 8 has an imm8, map 9 none, map 0A an imm32. */
function xopLength(code: Uint8Array, at: number, p: number, limit: number): number {
  if (p + 2 >= limit) return -1;
  const map = code[p] & 0x1f;
  if (map > 10) return -1;
  p += 3;
  const q = modrmEnd(code, p, limit, false);
  if (q < 0) return -1;
  const imm = map === 8 ? 1 : map === 10 ? 4 : 0;
  return q + imm <= limit ? q + imm - at : -1;
}

/**
 * Whether x86 uprobes refuse an instruction (arch/x86/kernel/uprobes.c): one with an ES, CS,
 * SS, DS or LOCK prefix, or one that uprobes never single-step (in, out, int, iret, hlt, cli,
 * sti, ...). Others the kernel may refuse too; it says so when the probe is enabled.
 */
export function x86UprobeRefuses(code: Uint8Array, at: number, length: number): boolean {
  let p = at;
  const end = at + length;
  while (p < end) {
    const b = code[p];
    if (b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e || b === 0xf0) return true;
    if (!isLegacyPrefix(b) && !(b >= 0x40 && b <= 0x4f)) break;
    p++;
  }
  if (p >= end) return true;
  switch (code[p]) {
    case 0x6c:
    case 0x6d:
    case 0x6e:
    case 0x6f:
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
    case 0xd6:
    case 0xe4:
    case 0xe5:
    case 0xe6:
    case 0xe7:
    case 0xec:
    case 0xed:
    case 0xee:
    case 0xef:
    case 0xf1:
    case 0xf4:
    case 0xfa:
    case 0xfb:
      return true;
  }
  return false;
}
