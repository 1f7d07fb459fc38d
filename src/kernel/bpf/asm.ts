// eBPF instructions, encoded by hand (8 bytes each: opcode, dst and src registers, a 16-bit
// offset, a 32-bit immediate): just what dtrace-ts's small kernel programs need.

export const R0 = 0;
export const R1 = 1;
export const R2 = 2;
export const R3 = 3;
export const R4 = 4;
export const R5 = 5;
export const R6 = 6;
export const R7 = 7;
export const R8 = 8;
export const R9 = 9;
/** the read-only frame pointer */
export const R10 = 10;

/** Helper functions by number (include/uapi/linux/bpf.h). */
export const enum Helper {
  MapLookupElem = 1,
  MapUpdateElem = 2,
  MapDeleteElem = 3,
  KtimeGetNs = 5,
  GetSmpProcessorId = 8,
  TailCall = 12,
  GetCurrentPidTgid = 14,
  GetCurrentUidGid = 15,
  GetCurrentComm = 16,
  GetCurrentTask = 35,
  PerfEventOutput = 25,
  GetStack = 67,
  SendSignal = 109,
  ProbeReadUser = 112,
  ProbeReadKernel = 113,
  ProbeReadUserStr = 114,
  ProbeReadKernelStr = 115,
  GetAttachCookie = 174,
}

/** BPF_F_CURRENT_CPU: perf_event_output writes to the running CPU's buffer. */
export const CURRENT_CPU = 0xffffffff;

const BPF_PSEUDO_MAP_FD = 1;

export type Size = 1 | 2 | 4 | 8;

/** 64-bit ALU operations (BPF_ALU64 | op). */
export const enum Alu {
  Add = 0x00,
  Sub = 0x10,
  Mul = 0x20,
  Div = 0x30,
  Or = 0x40,
  And = 0x50,
  Lsh = 0x60,
  Rsh = 0x70,
  Mod = 0x90,
  Xor = 0xa0,
  Arsh = 0xc0,
}

/** Conditional jumps (BPF_JMP | op); the signed ones compare as int64. */
export const enum Jmp {
  Eq = 0x10,
  Gt = 0x20,
  Ge = 0x30,
  Ne = 0x50,
  Sgt = 0x60,
  Sge = 0x70,
  Lt = 0xa0,
  Le = 0xb0,
  Slt = 0xc0,
  Sle = 0xd0,
}
const SIZE_BITS: Record<Size, number> = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 };

export class Program {
  private readonly words: number[][] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: Array<{ at: number; label: string }> = [];

  private emit(code: number, dst: number, src: number, off: number, imm: number): this {
    this.words.push([code, (src << 4) | dst, off, imm]);
    return this;
  }

  /** dst = imm (64-bit, sign-extended from 32) */
  movImm(dst: number, imm: number): this {
    return this.emit(0xb7, dst, 0, 0, imm);
  }

  /** dst = imm as an unsigned 32-bit value (zero-extended) */
  movImm32(dst: number, imm: number): this {
    return this.emit(0xb4, dst, 0, 0, imm | 0);
  }

  mov(dst: number, src: number): this {
    return this.emit(0xbf, dst, src, 0, 0);
  }

  /** dst += src (64-bit) */
  add(dst: number, src: number): this {
    return this.emit(0x0f, dst, src, 0, 0);
  }

  addImm(dst: number, imm: number): this {
    return this.emit(0x07, dst, 0, 0, imm);
  }

  /** dst = dst op src (64-bit) */
  alu(op: Alu, dst: number, src: number): this {
    return this.emit(0x07 | 0x08 | op, dst, src, 0, 0);
  }

  /** dst = dst op imm (64-bit, imm sign-extended from 32) */
  aluImm(op: Alu, dst: number, imm: number): this {
    return this.emit(0x07 | op, dst, 0, 0, imm | 0);
  }

  /** dst = -dst (64-bit) */
  neg(dst: number): this {
    return this.emit(0x87, dst, 0, 0, 0);
  }

  /** dst = any 64-bit value (ld_imm64, two instruction slots) */
  movImm64(dst: number, v: bigint): this {
    const u = BigInt.asUintN(64, v);
    this.emit(0x18, dst, 0, 0, Number(BigInt.asIntN(32, u & 0xffffffffn)));
    return this.emit(0, 0, 0, 0, Number(BigInt.asIntN(32, u >> 32n)));
  }

  /** if (dst op src) goto label */
  jmp(op: Jmp, dst: number, src: number, label: string): this {
    this.fixups.push({ at: this.words.length, label });
    return this.emit(0x05 | 0x08 | op, dst, src, 0, 0);
  }

  /** if (dst op imm) goto label (imm sign-extended from 32) */
  jmpImm(op: Jmp, dst: number, imm: number, label: string): this {
    this.fixups.push({ at: this.words.length, label });
    return this.emit(0x05 | op, dst, 0, 0, imm | 0);
  }

  /** instructions so far (ld_imm64 counts two) */
  get length(): number {
    return this.words.length;
  }

  /** dst = the map's address (ld_imm64 with a map fd, which the kernel resolves) */
  loadMap(dst: number, mapFd: number): this {
    this.emit(0x18, dst, BPF_PSEUDO_MAP_FD, 0, mapFd);
    return this.emit(0, 0, 0, 0, 0);
  }

  /** dst = *(size *)(src + off) */
  load(size: Size, dst: number, src: number, off: number): this {
    return this.emit(0x61 | SIZE_BITS[size], dst, src, off, 0);
  }

  /** *(size *)(dst + off) = src */
  store(size: Size, dst: number, off: number, src: number): this {
    return this.emit(0x63 | SIZE_BITS[size], dst, src, off, 0);
  }

  /** *(size *)(dst + off) = imm */
  storeImm(size: Size, dst: number, off: number, imm: number): this {
    return this.emit(0x62 | SIZE_BITS[size], dst, 0, off, imm);
  }

  call(helper: Helper): this {
    return this.emit(0x85, 0, 0, 0, helper);
  }

  /** if (dst == imm) goto label */
  jeqImm(dst: number, imm: number, label: string): this {
    this.fixups.push({ at: this.words.length, label });
    return this.emit(0x15, dst, 0, 0, imm);
  }

  /** if (dst > imm), unsigned, goto label */
  jgtImm(dst: number, imm: number, label: string): this {
    this.fixups.push({ at: this.words.length, label });
    return this.emit(0x25, dst, 0, 0, imm);
  }

  /** if (dst s< imm) goto label */
  jsltImm(dst: number, imm: number, label: string): this {
    this.fixups.push({ at: this.words.length, label });
    return this.emit(0xc5, dst, 0, 0, imm);
  }

  /** goto label */
  ja(label: string): this {
    this.fixups.push({ at: this.words.length, label });
    return this.emit(0x05, 0, 0, 0, 0);
  }

  label(name: string): this {
    this.labels.set(name, this.words.length);
    return this;
  }

  exit(): this {
    return this.emit(0x95, 0, 0, 0, 0);
  }

  /** The instructions, one a line, as dtrace -S shows them (libdtrace's dt_dis layout). */
  listing(): string {
    const b = this.encode();
    let out = 'INS OFF  OPCODE                  INSTRUCTION\n';
    for (let i = 0; i < b.length / 8; i++) {
      const code = b[i * 8];
      const dst = b[i * 8 + 1] & 0xf;
      const src = b[i * 8 + 1] >> 4;
      const off = b.readInt16LE(i * 8 + 2);
      const imm = b.readInt32LE(i * 8 + 4);
      const raw = `${hex(code, 2)} ${dst.toString(16)} ${src.toString(16)} ${hex(off & 0xffff, 4)} ${hex(imm >>> 0, 8)}`;
      out += `${String(i).padStart(3, '0')} ${hex(i * 8, 4)}: ${raw}    ${describe(code, dst, src, off, imm, i, b)}\n`;
    }
    return out;
  }

  /** The instructions, jumps resolved. */
  encode(): Buffer {
    for (const f of this.fixups) {
      const target = this.labels.get(f.label);
      if (target === undefined) throw new Error(`internal: BPF label ${f.label} is not defined`);
      this.words[f.at][2] = target - f.at - 1;
    }
    const b = Buffer.alloc(this.words.length * 8);
    this.words.forEach(([code, regs, off, imm], i) => {
      b.writeUInt8(code, i * 8);
      b.writeUInt8(regs, i * 8 + 1);
      b.writeInt16LE(off, i * 8 + 2);
      b.writeInt32LE(imm, i * 8 + 4);
    });
    return b;
  }
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

const ALU_NAMES: Record<number, string> = { 0x00: 'add', 0x10: 'sub', 0x20: 'mul', 0x30: 'div', 0x40: 'or', 0x50: 'and', 0x60: 'lsh', 0x70: 'rsh', 0x80: 'neg', 0x90: 'mod', 0xa0: 'xor', 0xb0: 'mov', 0xc0: 'arsh' };
const JMP_NAMES: Record<number, string> = { 0x10: 'jeq', 0x20: 'jgt', 0x30: 'jge', 0x40: 'jset', 0x50: 'jne', 0x60: 'jsgt', 0x70: 'jsge', 0xa0: 'jlt', 0xb0: 'jle', 0xc0: 'jslt', 0xd0: 'jsle' };
const SIZE_NAMES: Record<number, string> = { 0x10: 'b', 0x08: 'h', 0x00: 'w', 0x18: 'dw' };
const HELPER_NAMES: Record<number, string> = {
  1: 'bpf_map_lookup_elem', 2: 'bpf_map_update_elem', 3: 'bpf_map_delete_elem', 5: 'bpf_ktime_get_ns', 8: 'bpf_get_smp_processor_id', 12: 'bpf_tail_call',
  14: 'bpf_get_current_pid_tgid', 15: 'bpf_get_current_uid_gid', 16: 'bpf_get_current_comm', 35: 'bpf_get_current_task', 25: 'bpf_perf_event_output', 67: 'bpf_get_stack',
  109: 'bpf_send_signal', 112: 'bpf_probe_read_user', 113: 'bpf_probe_read_kernel', 114: 'bpf_probe_read_user_str', 115: 'bpf_probe_read_kernel_str', 174: 'bpf_get_attach_cookie',
};

function reg(r: number): string {
  return r === 10 ? '%fp' : `%r${r}`;
}

function mem(r: number, off: number): string {
  return `[${reg(r)}${off < 0 ? off : off > 0 ? `+${off}` : ''}]`;
}

/** One instruction in words. */
function describe(code: number, dst: number, src: number, off: number, imm: number, at: number, b: Buffer): string {
  const cls = code & 0x07;
  if (code === 0x18) {
    if (src === 1) return `lddw ${reg(dst)}, map fd ${imm}`;
    const hi = b.readInt32LE((at + 1) * 8 + 4);
    return `lddw ${reg(dst)}, 0x${((BigInt(hi >>> 0) << 32n) | BigInt(imm >>> 0)).toString(16)}`;
  }
  if (code === 0 && dst === 0 && src === 0 && off === 0) return '(lddw, continued)';
  if (cls === 0x07) {
    const op = ALU_NAMES[code & 0xf0] ?? `alu?${hex(code, 2)}`;
    if ((code & 0xf0) === 0x80) return `neg ${reg(dst)}`;
    return `${op} ${reg(dst)}, ${code & 0x08 ? reg(src) : imm}`;
  }
  if (cls === 0x04) return `${ALU_NAMES[code & 0xf0] ?? 'alu32?'}32 ${reg(dst)}, ${code & 0x08 ? reg(src) : imm}`;
  if (cls === 0x05) {
    if (code === 0x85) return `call ${HELPER_NAMES[imm] ?? imm}`;
    if (code === 0x95) return 'exit';
    const target = String(at + 1 + off).padStart(3, '0');
    if (code === 0x05) return `ja ${target}`;
    return `${JMP_NAMES[code & 0xf0] ?? 'j?'} ${reg(dst)}, ${code & 0x08 ? reg(src) : imm}, ${target}`;
  }
  const size = SIZE_NAMES[code & 0x18];
  if (cls === 0x01) return `ldx${size} ${reg(dst)}, ${mem(src, off)}`;
  if (cls === 0x03) return `stx${size} ${mem(dst, off)}, ${reg(src)}`;
  if (cls === 0x02) return `st${size} ${mem(dst, off)}, ${imm}`;
  return `?${hex(code, 2)}`;
}
