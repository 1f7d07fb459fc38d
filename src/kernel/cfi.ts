// DWARF call-frame information (.eh_frame with its .eh_frame_hdr search table, or
// .debug_frame): for an address of an object, how to find its caller's frame (the CFA rule and
// where the return address and the callee-saved registers were saved). Read lazily: an FDE is
// found by binary search in .eh_frame_hdr (or in an index built once from a scan of the
// section), and only its CIE's and its own instructions are run, up to the address asked for.
// x86-64 register numbering (DWARF: 0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp,
// 8-15 r8-r15, 16 the return address).        [DWARF 5 §6.4; LSB Core, Exception Frames]

/** Registers tracked (DWARF numbers 0..16 on x86-64). */
export const CFI_NREGS = 17;
export const RULE_SAME = 0;
export const RULE_UNDEF = 1;
/** saved at CFA + value */
export const RULE_OFFSET = 2;
/** the value is CFA + value */
export const RULE_VAL_OFFSET = 3;
/** in register `value` */
export const RULE_REGISTER = 4;
/** an expression we do not evaluate: unwinding stops */
export const RULE_UNKNOWN = 5;

/** The unwind row at one address (reused: one per unwinder). */
export class CfiRow {
  cfaReg = 7;
  cfaOff = 0;
  /** a DW_CFA_def_cfa_expression: its bytes in the section's data [exprAt, exprAt + exprLen) */
  exprAt = -1;
  exprLen = 0;
  raReg = 16;
  readonly rule = new Int32Array(CFI_NREGS);
  readonly value = new Float64Array(CFI_NREGS);

  reset(): void {
    this.cfaReg = 7;
    this.cfaOff = 0;
    this.exprAt = -1;
    this.exprLen = 0;
    this.raReg = 16;
    this.rule.fill(RULE_SAME);
    this.value.fill(0);
  }

  copyFrom(o: CfiRow): void {
    this.cfaReg = o.cfaReg;
    this.cfaOff = o.cfaOff;
    this.exprAt = o.exprAt;
    this.exprLen = o.exprLen;
    this.raReg = o.raReg;
    this.rule.set(o.rule);
    this.value.set(o.value);
  }
}

interface Cie {
  codeAlign: number;
  dataAlign: number;
  raReg: number;
  fdeEnc: number;
  hasAug: boolean;
  insnAt: number;
  insnEnd: number;
}

/** A byte cursor over a section. */
class Cursor {
  constructor(
    readonly b: Buffer,
    public at: number,
  ) {}
  u8(): number {
    return this.b[this.at++];
  }
  u16(): number {
    const v = this.b.readUInt16LE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    const v = this.b.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  s32(): number {
    const v = this.b.readInt32LE(this.at);
    this.at += 4;
    return v;
  }
  u64(): number {
    const v = this.b.readUInt32LE(this.at) + this.b.readUInt32LE(this.at + 4) * 0x1_0000_0000;
    this.at += 8;
    return v;
  }
  uleb(): number {
    let r = 0;
    let mul = 1;
    for (;;) {
      const c = this.b[this.at++];
      r += (c & 0x7f) * mul;
      mul *= 128;
      if ((c & 0x80) === 0 || this.at >= this.b.length) return r;
    }
  }
  sleb(): number {
    let r = 0;
    let mul = 1;
    let c = 0;
    do {
      c = this.b[this.at++];
      r += (c & 0x7f) * mul;
      mul *= 128;
    } while ((c & 0x80) !== 0 && this.at < this.b.length);
    if ((c & 0x40) !== 0) r -= mul;
    return r;
  }
  cstr(): string {
    const end = this.b.indexOf(0, this.at);
    const s = this.b.toString('latin1', this.at, end < 0 ? this.b.length : end);
    this.at = end < 0 ? this.b.length : end + 1;
    return s;
  }
}

const DW_EH_PE_omit = 0xff;

/**
 * The call-frame information of one object: .eh_frame (sectionAddr: its address in the object,
 * for pc-relative pointers), with .eh_frame_hdr's table if it has one, or .debug_frame.
 */
export class CfiTable {
  private readonly cies = new Map<number, Cie>();
  /** sorted FDE index [pcBegin, fde offset] when there is no .eh_frame_hdr table */
  private index: Float64Array | null = null;
  private readonly saved: CfiRow[] = [];

  constructor(
    /** the section's bytes */
    readonly data: Buffer,
    readonly sectionAddr: number,
    /** .debug_frame's format (CIE ids 0xffffffff, absolute addresses) */
    readonly isDebugFrame: boolean,
    private readonly hdr: Buffer | null = null,
    private readonly hdrAddr = 0,
  ) {}

  /** A pointer encoded as `enc` at the cursor; `base` the section address of the cursor's data. */
  private ptr(c: Cursor, enc: number, base: number): number {
    if (enc === DW_EH_PE_omit) return 0;
    const at = c.at;
    let v: number;
    switch (enc & 0x0f) {
      case 0x00:
        v = c.u64();
        break;
      case 0x01:
        v = c.uleb();
        break;
      case 0x02:
        v = c.u16();
        break;
      case 0x03:
        v = c.u32();
        break;
      case 0x04:
        v = c.u64();
        break;
      case 0x09:
        v = c.sleb();
        break;
      case 0x0a:
        v = c.b.readInt16LE(c.at);
        c.at += 2;
        break;
      case 0x0b:
        v = c.s32();
        break;
      case 0x0c:
        v = Number(c.b.readBigInt64LE(c.at));
        c.at += 8;
        break;
      default:
        throw new Error('bad pointer encoding');
    }
    switch (enc & 0x70) {
      case 0x10:
        v += base + at;
        break;
      case 0x30:
        // datarel: relative to .eh_frame_hdr (the only place it is used)
        v += this.hdrAddr;
        break;
    }
    return v;
  }

  private cie(off: number): Cie {
    let cie = this.cies.get(off);
    if (cie !== undefined) return cie;
    const c = new Cursor(this.data, off);
    let len = c.u32();
    if (len === 0xffffffff) len = c.u64();
    const end = c.at + len;
    c.at += this.isDebugFrame && this.data.readUInt32LE(c.at) !== 0xffffffff ? 8 : 4;
    const version = c.u8();
    const aug = c.cstr();
    if (version >= 4) c.at += 2;
    const codeAlign = c.uleb();
    const dataAlign = c.sleb();
    const raReg = version === 1 ? c.u8() : c.uleb();
    let fdeEnc = 0;
    const hasAug = aug.startsWith('z');
    if (hasAug) {
      const augLen = c.uleb();
      const augEnd = c.at + augLen;
      for (let i = 1; i < aug.length; i++) {
        const ch = aug[i];
        if (ch === 'R') fdeEnc = c.u8();
        else if (ch === 'P') {
          const e = c.u8();
          this.ptr(c, e & 0x7f, this.sectionAddr);
        } else if (ch === 'L') c.u8();
        else if (ch !== 'S') break;
      }
      c.at = augEnd;
    }
    cie = { codeAlign, dataAlign, raReg, fdeEnc, hasAug, insnAt: c.at, insnEnd: end };
    this.cies.set(off, cie);
    return cie;
  }

  /** The FDE whose range holds `pc` (an object address), as [fde offset, pcBegin]; -1 if none. */
  private findFde(pc: number): number {
    const h = this.hdr;
    if (h !== null && h.length >= 4 && h[0] === 1 && h[3] !== DW_EH_PE_omit) {
      const c = new Cursor(h, 4);
      this.ptr(c, h[1], this.hdrAddr);
      const count = this.ptr(c, h[2], this.hdrAddr);
      const tableEnc = h[3];
      // the table is sorted; entries are fixed size (datarel sdata4 in practice)
      const size = (tableEnc & 0x0f) === 0x03 || (tableEnc & 0x0f) === 0x0b ? 8 : 16;
      const start = c.at;
      let lo = 0;
      let hi = count - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        c.at = start + mid * size;
        const loc = this.ptr(c, tableEnc, this.hdrAddr);
        if (loc <= pc) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (found < 0) return -1;
      c.at = start + found * size + size / 2;
      return this.ptr(c, tableEnc, this.hdrAddr) - this.sectionAddr;
    }
    const idx = this.index ?? (this.index = this.buildIndex());
    let lo = 0;
    let hi = idx.length / 2 - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (idx[mid * 2] <= pc) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? -1 : idx[found * 2 + 1];
  }

  /** [pcBegin, offset] of every FDE, sorted. */
  private buildIndex(): Float64Array {
    const pairs: Array<[number, number]> = [];
    const b = this.data;
    let off = 0;
    while (off + 4 <= b.length) {
      let len = b.readUInt32LE(off);
      let hdr = 4;
      if (len === 0) break;
      if (len === 0xffffffff) {
        len = Number(b.readBigUInt64LE(off + 4));
        hdr = 12;
      }
      const idAt = off + hdr;
      const id = b.readUInt32LE(idAt);
      const isCie = this.isDebugFrame ? id === 0xffffffff : id === 0;
      if (!isCie) {
        try {
          const f = this.fde(off);
          if (f !== null) pairs.push([f.begin, off]);
        } catch {
          // a malformed FDE: skipped
        }
      }
      off = idAt + len;
    }
    pairs.sort((x, y) => x[0] - y[0]);
    const out = new Float64Array(pairs.length * 2);
    pairs.forEach(([a, o], i) => {
      out[i * 2] = a;
      out[i * 2 + 1] = o;
    });
    return out;
  }

  private fde(off: number): { cie: Cie; begin: number; range: number; insnAt: number; insnEnd: number } | null {
    const c = new Cursor(this.data, off);
    let len = c.u32();
    if (len === 0xffffffff) len = c.u64();
    const end = c.at + len;
    const idAt = c.at;
    const id = c.u32();
    const cieOff = this.isDebugFrame ? id : idAt - id;
    if (cieOff < 0 || cieOff >= this.data.length) return null;
    const cie = this.cie(cieOff);
    const enc = this.isDebugFrame ? 0 : cie.fdeEnc;
    const begin = this.ptr(c, enc, this.sectionAddr);
    const range = this.ptr(c, enc & 0x0f, 0);
    if (cie.hasAug) {
      const n = c.uleb();
      c.at += n;
    }
    return { cie, begin, range, insnAt: c.at, insnEnd: end };
  }

  /**
   * Fills `row` with the rule at `pc` (an address of the object); false if no FDE covers it or
   * its instructions cannot be followed.
   */
  rowAt(pc: number, row: CfiRow): boolean {
    try {
      const off = this.findFde(pc);
      if (off < 0) return false;
      const f = this.fde(off);
      if (f === null || pc < f.begin || pc >= f.begin + f.range) return false;
      row.reset();
      row.raReg = f.cie.raReg;
      this.saved.length = 0;
      const init = new CfiRow();
      this.run(f.cie, f.cie.insnAt, f.cie.insnEnd, Infinity, 0, row, null);
      init.copyFrom(row);
      this.run(f.cie, f.insnAt, f.insnEnd, pc, f.begin, row, init);
      return true;
    } catch {
      return false;
    }
  }

  private setRule(row: CfiRow, reg: number, rule: number, value: number): void {
    if (reg < CFI_NREGS) {
      row.rule[reg] = rule;
      row.value[reg] = value;
    }
  }

  private run(cie: Cie, at: number, end: number, pc: number, start: number, row: CfiRow, init: CfiRow | null): void {
    const c = new Cursor(this.data, at);
    let loc = start;
    const ca = cie.codeAlign;
    const da = cie.dataAlign;
    while (c.at < end) {
      const op = c.u8();
      const hi = op & 0xc0;
      const low = op & 0x3f;
      if (hi === 0x40) {
        loc += low * ca;
        if (loc > pc) return;
        continue;
      }
      if (hi === 0x80) {
        this.setRule(row, low, RULE_OFFSET, c.uleb() * da);
        continue;
      }
      if (hi === 0xc0) {
        if (init !== null && low < CFI_NREGS) this.setRule(row, low, init.rule[low], init.value[low]);
        continue;
      }
      switch (op) {
        case 0x00: // nop
          break;
        case 0x01: // set_loc
          loc = this.ptr(c, cie.fdeEnc, this.sectionAddr);
          if (loc > pc) return;
          break;
        case 0x02:
          loc += c.u8() * ca;
          if (loc > pc) return;
          break;
        case 0x03:
          loc += c.u16() * ca;
          if (loc > pc) return;
          break;
        case 0x04:
          loc += c.u32() * ca;
          if (loc > pc) return;
          break;
        case 0x05: {
          const r = c.uleb();
          this.setRule(row, r, RULE_OFFSET, c.uleb() * da);
          break;
        }
        case 0x06: {
          const r = c.uleb();
          if (init !== null && r < CFI_NREGS) this.setRule(row, r, init.rule[r], init.value[r]);
          break;
        }
        case 0x07:
          this.setRule(row, c.uleb(), RULE_UNDEF, 0);
          break;
        case 0x08:
          this.setRule(row, c.uleb(), RULE_SAME, 0);
          break;
        case 0x09: {
          const r = c.uleb();
          this.setRule(row, r, RULE_REGISTER, c.uleb());
          break;
        }
        case 0x0a: {
          const s = new CfiRow();
          s.copyFrom(row);
          this.saved.push(s);
          break;
        }
        case 0x0b: {
          const s = this.saved.pop();
          if (s !== undefined) {
            // the CFA rule is not part of the remembered state's restore in practice: GCC
            // restores both, and so do unwinders (libgcc restores the whole row)
            row.copyFrom(s);
          }
          break;
        }
        case 0x0c:
          row.cfaReg = c.uleb();
          row.cfaOff = c.uleb();
          row.exprAt = -1;
          break;
        case 0x0d:
          row.cfaReg = c.uleb();
          row.exprAt = -1;
          break;
        case 0x0e:
          row.cfaOff = c.uleb();
          break;
        case 0x0f: {
          const n = c.uleb();
          row.exprAt = c.at;
          row.exprLen = n;
          c.at += n;
          break;
        }
        case 0x10: {
          const r = c.uleb();
          const n = c.uleb();
          this.setRule(row, r, RULE_UNKNOWN, 0);
          c.at += n;
          break;
        }
        case 0x11: {
          const r = c.uleb();
          this.setRule(row, r, RULE_OFFSET, c.sleb() * da);
          break;
        }
        case 0x12:
          row.cfaReg = c.uleb();
          row.cfaOff = c.sleb() * da;
          row.exprAt = -1;
          break;
        case 0x13:
          row.cfaOff = c.sleb() * da;
          break;
        case 0x14: {
          const r = c.uleb();
          this.setRule(row, r, RULE_VAL_OFFSET, c.uleb() * da);
          break;
        }
        case 0x15: {
          const r = c.uleb();
          this.setRule(row, r, RULE_VAL_OFFSET, c.sleb() * da);
          break;
        }
        case 0x16: {
          const r = c.uleb();
          const n = c.uleb();
          this.setRule(row, r, RULE_UNKNOWN, 0);
          c.at += n;
          break;
        }
        case 0x2e: // GNU_args_size
          c.uleb();
          break;
        case 0x2f: {
          // GNU_negative_offset_extended
          const r = c.uleb();
          this.setRule(row, r, RULE_OFFSET, -c.uleb() * da);
          break;
        }
        default:
          throw new Error(`unknown CFA instruction ${op}`);
      }
    }
  }

  /**
   * Evaluates the row's CFA expression (DW_CFA_def_cfa_expression: PLT entries use one) with
   * register values `regs`; NaN if it uses what we do not evaluate.
   */
  evalCfaExpr(row: CfiRow, regs: Float64Array): number {
    const c = new Cursor(this.data, row.exprAt);
    const end = row.exprAt + row.exprLen;
    const st: bigint[] = [];
    const pop = (): bigint => st.pop() ?? 0n;
    while (c.at < end) {
      const op = c.u8();
      if (op >= 0x30 && op <= 0x4f) st.push(BigInt(op - 0x30));
      else if (op >= 0x70 && op <= 0x8f) {
        const r = op - 0x70;
        if (r >= CFI_NREGS) return NaN;
        st.push(BigInt(regs[r]) + BigInt(c.sleb()));
      } else {
        switch (op) {
          case 0x08:
            st.push(BigInt(c.u8()));
            break;
          case 0x0a:
            st.push(BigInt(c.u16()));
            break;
          case 0x0c:
            st.push(BigInt(c.u32()));
            break;
          case 0x11:
            st.push(BigInt(c.sleb()));
            break;
          case 0x10:
            st.push(BigInt(c.uleb()));
            break;
          case 0x12:
            st.push(st[st.length - 1] ?? 0n);
            break;
          case 0x1a: {
            const b = pop();
            st.push(pop() & b);
            break;
          }
          case 0x1c: {
            const b = pop();
            st.push(pop() - b);
            break;
          }
          case 0x1e: {
            const b = pop();
            st.push(pop() * b);
            break;
          }
          case 0x21: {
            const b = pop();
            st.push(pop() | b);
            break;
          }
          case 0x22: {
            const b = pop();
            st.push(pop() + b);
            break;
          }
          case 0x23:
            st.push(pop() + BigInt(c.uleb()));
            break;
          case 0x24: {
            const b = pop();
            st.push(pop() << b);
            break;
          }
          case 0x25: {
            const b = pop();
            st.push(pop() >> b);
            break;
          }
          case 0x29:
          case 0x2a:
          case 0x2b:
          case 0x2c:
          case 0x2d:
          case 0x2e: {
            const b = pop();
            const a = pop();
            const r = op === 0x29 ? a === b : op === 0x2a ? a >= b : op === 0x2b ? a > b : op === 0x2c ? a <= b : op === 0x2d ? a < b : a !== b;
            st.push(r ? 1n : 0n);
            break;
          }
          default:
            return NaN;
        }
      }
    }
    return st.length > 0 ? Number(BigInt.asUintN(64, st[st.length - 1])) : NaN;
  }
}
