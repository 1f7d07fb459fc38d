// User stacks: the user registers and a copy of the user stack taken when a probe fired (by a
// perf event: PERF_SAMPLE_REGS_USER and PERF_SAMPLE_STACK_USER, as `perf record --call-graph
// dwarf` takes them), unwound here with the objects' DWARF call-frame information, falling back
// to frame pointers where an object has none; and the text DTrace prints for a user address
// ("libc.so.6`malloc+0x1a", "a.out`0x401000" with no symbol, "0x7f..." with no object).
//                                                      [dt_consume.c dt_print_ustack, dt_subr.c]

import { CFI_NREGS, CfiRow, type CfiTable, RULE_OFFSET, RULE_REGISTER, RULE_UNDEF, RULE_UNKNOWN, RULE_VAL_OFFSET } from './cfi.js';
import { displayName } from './demangle.js';
import { moduleName } from './procmaps.js';
import { userMappings } from './umaps.js';

/** The most user frames unwound (ustackframes is at most this). */
export const MAX_USTACK_FRAMES = 256;

/**
 * A user stack block as the capturing sources queue it: u32 abi (0: no registers), u32 bytes of
 * stack, USTACK_NREGS u64 registers (USTACK_REGS order), then the stack bytes from the user SP.
 */
export const USTACK_REGS_AT = 8;
export const USTACK_NREGS = 8;
export const USTACK_DATA_AT = USTACK_REGS_AT + USTACK_NREGS * 8;
/** perf's x86-64 register numbers of the registers captured (PERF_REG_X86_*), in sample order */
export const PERF_REGS_X86 = [1, 6, 7, 8, 20, 21, 22, 23]; // bx bp sp ip r12 r13 r14 r15
/** their DWARF numbers, in the same order */
const DWARF_OF = [3, 6, 7, 16, 12, 13, 14, 15];
const SP = 7;
const BP = 6;
const RA = 16;

/** The user stack of the event being handled (one, reused: STYLE rule 2). */
export class UserStack {
  pid = 0;
  /** a copy of registers and stack is there (else `fpN` frame-pointer frames, or nothing) */
  valid = false;
  view: DataView = new DataView(new ArrayBuffer(8));
  at = 0;
  /** the kernel's frame-pointer call chain, where that is all there is (a profile sample) */
  fpView: DataView = this.view;
  fpAt = 0;
  fpN = 0;
  /** the unwound frames, once unwind() ran for this event (n < 0: not yet) */
  readonly frames = new Float64Array(MAX_USTACK_FRAMES);
  n = -1;
  private readonly regs = new Float64Array(CFI_NREGS);
  private readonly next = new Float64Array(CFI_NREGS);
  private readonly row = new CfiRow();
  /** unwinding cost counters (bench/ustack.ts) */
  unwound = 0;
  cfiFrames = 0;
  fpFrames = 0;

  /** The event carries the block at `at` in `view`. */
  set(pid: number, view: DataView, at: number): void {
    this.pid = pid;
    this.view = view;
    this.at = at;
    this.valid = view.getUint32(at, true) !== 0;
    this.fpN = 0;
    this.n = -1;
  }

  /** The event carries only frame-pointer frames (u64s at `at`, innermost first). */
  setFramePointers(pid: number, view: DataView, at: number, n: number): void {
    this.pid = pid;
    this.valid = false;
    this.fpView = view;
    this.fpAt = at;
    this.fpN = n;
    this.n = -1;
  }

  clear(): void {
    this.pid = 0;
    this.valid = false;
    this.fpN = 0;
    this.n = 0;
  }

  /** Unwinds (once per event); returns the number of frames, innermost first in `frames`. */
  unwind(): number {
    if (this.n >= 0) return this.n;
    this.n = 0;
    if (!this.valid) {
      const k = Math.min(this.fpN, MAX_USTACK_FRAMES);
      for (let i = 0; i < k; i++) this.frames[i] = this.fpView.getUint32(this.fpAt + i * 8, true) + this.fpView.getUint32(this.fpAt + i * 8 + 4, true) * 0x1_0000_0000;
      return (this.n = k);
    }
    this.unwound++;
    const v = this.view;
    const regs = this.regs;
    regs.fill(NaN);
    for (let i = 0; i < USTACK_NREGS; i++) {
      const o = this.at + USTACK_REGS_AT + i * 8;
      regs[DWARF_OF[i]] = v.getUint32(o, true) + v.getUint32(o + 4, true) * 0x1_0000_0000;
    }
    const maps = userMappings.of(this.pid);
    const limit = MAX_USTACK_FRAMES;
    let n = 0;
    let pc = regs[RA];
    while (n < limit && pc !== 0 && !Number.isNaN(pc)) {
      this.frames[n++] = pc;
      let step = -1;
      const mi = maps.find(pc);
      if (mi >= 0) {
        const obj = maps.object(mi);
        // a return address is after its call: look up the call itself
        const a = obj === null ? -1 : maps.objectAddr(mi, n === 1 ? pc : pc - 1);
        if (obj !== null && a >= 0) {
          const hit = obj.rowCache.get(a);
          if (hit !== undefined) {
            if (hit.table !== null) {
              this.row.copyFrom(hit.row);
              step = this.cfiStep(hit.table);
            }
          } else {
            let found: CfiTable | null = null;
            for (const t of obj.cfi()) {
              if (t.rowAt(a, this.row)) {
                found = t;
                break;
              }
            }
            obj.cacheRow(a, found, this.row);
            if (found !== null) step = this.cfiStep(found);
          }
        }
      }
      if (step < 0) step = this.framePointerStep();
      else this.cfiFrames++;
      if (step <= 0) break;
      pc = regs[RA];
    }
    return (this.n = n);
  }

  /** A u64 of the stack copy at user address `addr` (NaN outside it). */
  private read(addr: number): number {
    const v = this.view;
    const len = v.getUint32(this.at + 4, true);
    const off = addr - this.regsSp0();
    if (!(off >= 0 && off + 8 <= len)) return NaN;
    const o = this.at + USTACK_DATA_AT + off;
    return v.getUint32(o, true) + v.getUint32(o + 4, true) * 0x1_0000_0000;
  }

  private regsSp0(): number {
    const o = this.at + USTACK_REGS_AT + 2 * 8;
    return this.view.getUint32(o, true) + this.view.getUint32(o + 4, true) * 0x1_0000_0000;
  }

  /** One step by a CFI row: 1 done, 0 the outermost frame, -1 no use. */
  private cfiStep(t: CfiTable): number {
    const row = this.row;
    const regs = this.regs;
    const cfa = row.exprAt >= 0 ? t.evalCfaExpr(row, regs) : regs[row.cfaReg] + row.cfaOff;
    if (Number.isNaN(cfa) || cfa <= regs[SP] - 1) return -1;
    const next = this.next;
    for (let r = 0; r < CFI_NREGS; r++) {
      const rule = row.rule[r];
      const val = row.value[r];
      switch (rule) {
        case RULE_OFFSET:
          next[r] = this.read(cfa + val);
          break;
        case RULE_VAL_OFFSET:
          next[r] = cfa + val;
          break;
        case RULE_REGISTER:
          next[r] = val < CFI_NREGS ? regs[val] : NaN;
          break;
        case RULE_UNDEF:
        case RULE_UNKNOWN:
          next[r] = NaN;
          if (r === row.raReg && rule === RULE_UNDEF) return 0;
          break;
        default:
          next[r] = regs[r];
      }
    }
    const ra = next[row.raReg];
    if (Number.isNaN(ra)) return 0;
    regs.set(next);
    regs[RA] = ra;
    regs[SP] = cfa;
    return 1;
  }

  /** One step by the frame pointer: 1 done, 0 no more. */
  private framePointerStep(): number {
    const regs = this.regs;
    const bp = regs[BP];
    if (Number.isNaN(bp) || bp < regs[SP]) return 0;
    const ra = this.read(bp + 8);
    const up = this.read(bp);
    if (Number.isNaN(ra) || ra === 0) return 0;
    this.fpFrames++;
    regs[BP] = up;
    regs[SP] = bp + 16;
    regs[RA] = ra;
    return 1;
  }
}

/** The user stack of the event being handled; sources set it, the runtime reads it. */
export const currentUserStack = new UserStack();

function hex(n: number): string {
  return n.toString(16);
}

/**
 * A user address as DTrace prints it in a stack and for uaddr(): "module`function+0xoff",
 * "module`function" at its first byte, "module`0xaddr" without a symbol, "0xaddr" outside any
 * object (a JIT function named by the process's perf map: "function+0xoff").
 */
export function userFrameText(pid: number, addr: number): string {
  const m = userMappings.of(pid);
  const per = m.texts;
  let s = per.get(addr);
  if (s !== undefined) return s;
  s = frameText(pid, addr);
  // mappings not known yet (a process gone before it was seen) may come in band later
  if (m.seeded || m.starts.length > 0) per.set(addr, s);
  return s;
}

/** Whether mapping i is anonymous memory (JIT code: "//anon", "[anon:...]", ""). */
function anonymous(path: string): boolean {
  return path === '' || path.startsWith('//') || path.startsWith('[anon');
}

function frameText(pid: number, addr: number): string {
  const maps = userMappings.of(pid);
  const mi = maps.find(addr);
  if (mi < 0 || anonymous(maps.paths[mi])) {
    const j = userMappings.jitSymbol(pid, addr);
    if (j !== null) return addr > j.start ? `${j.name}+0x${hex(addr - j.start)}` : j.name;
    return `0x${hex(addr)}`;
  }
  const mod = moduleName(maps.paths[mi]);
  const obj = maps.object(mi);
  const a = obj === null ? -1 : maps.objectAddr(mi, addr);
  if (obj !== null && a >= 0) {
    const t = obj.symbols();
    const i = t.find(a);
    if (i >= 0) {
      const off = a - t.starts[i];
      // C++ names demangled (once per address: the texts are kept)
      const name = displayName(t.names[i]);
      return off > 0 ? `${mod}\`${name}+0x${hex(off)}` : `${mod}\`${name}`;
    }
  }
  return `${mod}\`0x${hex(addr)}`;
}

/** The start of the function holding a user address (usym(), ufunc()), or the address itself. */
export function userSymbolStart(pid: number, addr: number): number {
  const maps = userMappings.of(pid);
  const mi = maps.find(addr);
  if (mi < 0 || anonymous(maps.paths[mi])) {
    const j = userMappings.jitSymbol(pid, addr);
    return j !== null ? j.start : addr;
  }
  const obj = maps.object(mi);
  const a = obj === null ? -1 : maps.objectAddr(mi, addr);
  if (obj === null || a < 0) return addr;
  const t = obj.symbols();
  const i = t.find(a);
  return i < 0 ? addr : addr - (a - t.starts[i]);
}

/** The module (object base name) holding a user address, or "0xaddr" (umod()). */
export function userModuleText(pid: number, addr: number): string {
  const maps = userMappings.of(pid);
  const mi = maps.find(addr);
  return mi < 0 || anonymous(maps.paths[mi]) ? `0x${hex(addr)}` : moduleName(maps.paths[mi]);
}


/** A user address under -x noresolve: "module:0xoffset" in its mapping, or "0xaddr". */
export function userFrameOffsetText(pid: number, addr: number): string {
  const maps = userMappings.of(pid);
  const mi = maps.find(addr);
  return mi < 0 ? `0x${hex(addr)}` : `${moduleName(maps.paths[mi])}:0x${hex(addr - maps.starts[mi])}`;
}

/** Whole stacks kept per process, at most. */
const STACKS_KEPT = 4096;

/**
 * The text of the innermost `depth` frames of `us`, one frame a line (`text` makes each line):
 * the same frames give back the same string, built once (STYLE rule 8: no string per event for
 * a stack seen before).
 */
export function userStackText(us: UserStack, depth: number, text: (pid: number, addr: number) => string): string {
  const m = userMappings.of(us.pid);
  const f = us.frames;
  let h = depth | (text === userFrameText ? 0 : 0x40000000);
  for (let i = 0; i < depth; i++) {
    const x = f[i];
    h = (Math.imul(h ^ (x >>> 0), 0x9e3779b1) + ((x / 0x1_0000_0000) | 0)) | 0;
  }
  const known = m.stacks.get(h);
  if (known !== undefined && known.frames.length === depth) {
    let i = 0;
    while (i < depth && known.frames[i] === f[i]) i++;
    if (i === depth) return known.text;
  }
  let s = '';
  for (let i = 0; i < depth; i++) s += (i > 0 ? '\n' : '') + text(us.pid, f[i]);
  if (m.seeded || m.starts.length > 0) {
    if (m.stacks.size >= STACKS_KEPT) m.stacks.clear();
    m.stacks.set(h, { frames: f.slice(0, depth), text: s });
  }
  return s;
}
