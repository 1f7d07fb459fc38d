// ELF objects as the pid and usdt providers and ustack() need them: function symbols (.symtab,
// else .dynsym), where an address lives in the file (a uprobe is placed by file offset), and the
// USDT probes programs ship as .note.stapsdt notes. 64-bit little-endian objects only (x86-64,
// arm64). Only the headers and the sections asked for are read, never the whole file.
//                                                           [elf(5); SystemTap's SDT notes format]

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const ET_EXEC = 2;
const ET_DYN = 3;
const SHT_SYMTAB = 2;
const SHT_NOTE = 7;
const SHT_DYNSYM = 11;
const PT_LOAD = 1;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_UNDEF = 0;
const NT_STAPSDT = 3;

/** An object dtrace cannot read, with the reason. */
export class ElfError extends Error {}

export interface ElfSection {
  name: string;
  type: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

interface LoadSegment {
  vaddr: number;
  offset: number;
  filesz: number;
  memsz: number;
  flags: number;
}

export interface ElfFunction {
  name: string;
  /** the symbol's value: its address in the object's own address space */
  addr: number;
  size: number;
  /** local (static) functions are found too: DTrace's pid provider offers them */
  global: boolean;
}

/** A function symbol, with its binding (STB_LOCAL 0, STB_GLOBAL 1, STB_WEAK 2, ...). */
export interface ElfSymbol extends ElfFunction {
  bind: number;
}

/** Which of two names of one address DTrace shows: global, then weak, then local. */
export function bindRank(bind: number): number {
  return bind === 1 ? 3 : bind === 2 ? 2 : bind === 0 ? 0 : 1;
}

/** One USDT probe of a .note.stapsdt note. */
export interface SdtProbe {
  provider: string;
  name: string;
  /** the probe's address, adjusted as the note's base says (prelink may have moved it) */
  pc: number;
  /** the semaphore's address, or 0 for an unguarded probe */
  semaphore: number;
  /** the argument specification: "8@%rdi -4@-12(%rbp) 1@$2" */
  args: string;
}

export class ElfFile {
  readonly type: 'exec' | 'dyn';
  readonly machine: number;
  readonly sections: ElfSection[] = [];
  private readonly segments: LoadSegment[] = [];

  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly fileSize: number,
  ) {
    const h = this.read(0, Math.min(64, fileSize));
    if (h.length < 64 || h.readUInt32BE(0) !== 0x7f454c46) throw new ElfError(`${path}: not an ELF object`);
    if (h[4] !== 2 || h[5] !== 1) throw new ElfError(`${path}: not a 64-bit little-endian ELF object`);
    const type = h.readUInt16LE(16);
    if (type !== ET_EXEC && type !== ET_DYN) throw new ElfError(`${path}: neither an executable nor a shared object`);
    this.type = type === ET_EXEC ? 'exec' : 'dyn';
    this.machine = h.readUInt16LE(18);
    const phoff = this.num(h, 32);
    const shoff = this.num(h, 40);
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    const shentsize = h.readUInt16LE(58);
    const shnum = h.readUInt16LE(60);
    const shstrndx = h.readUInt16LE(62);
    if (phnum > 0) {
      const ph = this.read(phoff, phentsize * phnum);
      for (let i = 0; i < phnum; i++) {
        const o = i * phentsize;
        if (ph.readUInt32LE(o) !== PT_LOAD) continue;
        this.segments.push({ flags: ph.readUInt32LE(o + 4), offset: this.num(ph, o + 8), vaddr: this.num(ph, o + 16), filesz: this.num(ph, o + 32), memsz: this.num(ph, o + 40) });
      }
    }
    if (shnum > 0 && shoff > 0) {
      const sh = this.read(shoff, shentsize * shnum);
      const raw: Array<Omit<ElfSection, 'name'> & { nameOff: number }> = [];
      for (let i = 0; i < shnum; i++) {
        const o = i * shentsize;
        raw.push({
          nameOff: sh.readUInt32LE(o),
          type: sh.readUInt32LE(o + 4),
          addr: this.num(sh, o + 16),
          offset: this.num(sh, o + 24),
          size: this.num(sh, o + 32),
          link: sh.readUInt32LE(o + 40),
          entsize: this.num(sh, o + 56),
        });
      }
      const names = shstrndx < raw.length ? this.read(raw[shstrndx].offset, raw[shstrndx].size) : Buffer.alloc(0);
      for (const s of raw) {
        const end = names.indexOf(0, s.nameOff);
        this.sections.push({ name: names.toString('latin1', s.nameOff, end < 0 ? names.length : end), type: s.type, addr: s.addr, offset: s.offset, size: s.size, link: s.link, entsize: s.entsize });
      }
    }
  }

  /** Opens an object; close() when done. */
  static open(path: string): ElfFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new ElfError(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}`);
    }
    try {
      return new ElfFile(path, fd, fstatSync(fd).size);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  private read(offset: number, length: number): Buffer {
    if (offset < 0 || length < 0 || offset + length > this.fileSize) throw new ElfError(`${this.path}: truncated ELF object`);
    const b = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.fd, b, got, length - got, offset + got);
      if (n <= 0) throw new ElfError(`${this.path}: truncated ELF object`);
      got += n;
    }
    return b;
  }

  /** A u64 field as a Number (addresses and sizes of user-space objects fit in 53 bits). */
  private num(b: Buffer, at: number): number {
    return Number(b.readBigUInt64LE(at));
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /**
   * Every defined function symbol of the object, aliases included, in table order: from .symtab
   * if it has one (it names static functions too), else from .dynsym; `dynsym` reads .dynsym.
   */
  functionSymbols(dynsym = false): ElfSymbol[] {
    const symtab = this.sections.find((s) => s.type === SHT_SYMTAB);
    const table = dynsym || symtab === undefined ? this.sections.find((s) => s.type === SHT_DYNSYM) : symtab;
    if (table === undefined || table.entsize < 24) return [];
    const strs = this.sections[table.link];
    if (strs === undefined) return [];
    const syms = this.read(table.offset, table.size);
    const names = this.read(strs.offset, strs.size);
    const out: ElfSymbol[] = [];
    for (let o = 0; o + 24 <= syms.length; o += table.entsize) {
      const info = syms[o + 4];
      const kind = info & 0xf;
      if (kind !== STT_FUNC && kind !== STT_GNU_IFUNC) continue;
      if (syms.readUInt16LE(o + 6) === SHN_UNDEF) continue;
      const addr = this.num(syms, o + 8);
      if (addr === 0) continue;
      const nameOff = syms.readUInt32LE(o);
      const end = names.indexOf(0, nameOff);
      const name = names.toString('latin1', nameOff, end < 0 ? names.length : end);
      if (name === '') continue;
      const bind = info >> 4;
      out.push({ name, addr, size: this.num(syms, o + 16), global: bind !== 0, bind });
    }
    return out;
  }

  /** The address of a defined symbol of any kind (a function, a variable), from .dynsym then .symtab; -1 if none. */
  symbolAddress(name: string): number {
    for (const type of [SHT_DYNSYM, SHT_SYMTAB]) {
      const table = this.sections.find((s) => s.type === type);
      if (table === undefined || table.entsize < 24) continue;
      const strs = this.sections[table.link];
      if (strs === undefined) continue;
      const syms = this.read(table.offset, table.size);
      const names = this.read(strs.offset, strs.size);
      const want = Buffer.from(name + '\0', 'latin1');
      for (let o = 0; o + 24 <= syms.length; o += table.entsize) {
        if (syms.readUInt16LE(o + 6) === SHN_UNDEF) continue;
        const at = syms.readUInt32LE(o);
        if (names.compare(want, 0, want.length, at, at + want.length) === 0) return this.num(syms, o + 8);
      }
    }
    return -1;
  }

  /**
   * The object's functions (see functionSymbols), each address once under the name DTrace shows
   * for it: a global name before a weak one, a weak one before a local one, else the first; by
   * address.
   */
  functions(): ElfFunction[] {
    const byAddr = new Map<number, ElfSymbol>();
    for (const f of this.functionSymbols()) {
      const prev = byAddr.get(f.addr);
      if (prev === undefined || bindRank(f.bind) > bindRank(prev.bind)) byAddr.set(f.addr, f);
    }
    return [...byAddr.values()].map(({ name, addr, size, global }) => ({ name, addr, size, global })).sort((a, b) => a.addr - b.addr);
  }

  /** Where an address of the object lies in its file (uprobes are placed by file offset), or -1. */
  fileOffset(addr: number): number {
    for (const s of this.segments) {
      if (addr >= s.vaddr && addr < s.vaddr + s.filesz) return addr - s.vaddr + s.offset;
    }
    return -1;
  }

  /** The file ranges [offset, offset + size) of the segments loaded executable: its code. */
  codeRanges(): Array<[number, number]> {
    return this.segments.filter((s) => (s.flags & 1) !== 0).map((s) => [s.offset, s.offset + s.filesz]);
  }

  /** The address the object asks to be loaded at (0 for position-independent objects). */
  get loadBias(): number {
    return this.segments.length > 0 ? this.segments[0].vaddr - this.segments[0].offset : 0;
  }

  /** The file's bytes at [addr, addr + length) of the object's address space, or null if they are not all in one loaded segment. */
  bytesAt(addr: number, length: number): Buffer | null {
    for (const s of this.segments) {
      if (addr >= s.vaddr && addr + length <= s.vaddr + s.filesz) return this.read(addr - s.vaddr + s.offset, length);
    }
    return null;
  }

  /** The bytes of a section (null if the object has none of that name, or it holds no data). */
  sectionData(name: string): { data: Buffer; addr: number } | null {
    const s = this.section(name);
    if (s === undefined || s.type === 8 /* SHT_NOBITS */ || s.size === 0) return null;
    return { data: this.read(s.offset, s.size), addr: s.addr };
  }

  /** The object's GNU build ID (.note.gnu.build-id) in hex, or null. */
  buildId(): string | null {
    const n = this.sectionData('.note.gnu.build-id');
    if (n === null || n.data.length < 16) return null;
    const namesz = n.data.readUInt32LE(0);
    const descsz = n.data.readUInt32LE(4);
    const at = 12 + ((namesz + 3) & ~3);
    return at + descsz <= n.data.length ? n.data.toString('hex', at, at + descsz) : null;
  }

  /** The address (in the object's own address space) of a file offset in a loaded segment, or -1. */
  addrOfFileOffset(off: number): number {
    for (const s of this.segments) {
      if (off >= s.offset && off < s.offset + Math.max(s.filesz, 1)) return off - s.offset + s.vaddr;
    }
    return -1;
  }

  /** The USDT probes of its .note.stapsdt notes. */
  sdtProbes(): SdtProbe[] {
    const notes = this.sections.find((s) => s.type === SHT_NOTE && s.name === '.note.stapsdt');
    if (notes === undefined) return [];
    const base = this.section('.stapsdt.base');
    const b = this.read(notes.offset, notes.size);
    const out: SdtProbe[] = [];
    const align4 = (n: number) => (n + 3) & ~3;
    for (let o = 0; o + 12 <= b.length; ) {
      const namesz = b.readUInt32LE(o);
      const descsz = b.readUInt32LE(o + 4);
      const type = b.readUInt32LE(o + 8);
      const nameAt = o + 12;
      const descAt = nameAt + align4(namesz);
      o = descAt + align4(descsz);
      if (o > b.length) throw new ElfError(`${this.path}: truncated .note.stapsdt`);
      if (type !== NT_STAPSDT || b.toString('latin1', nameAt, nameAt + namesz - 1) !== 'stapsdt' || descsz < 24) continue;
      let pc = this.num(b, descAt);
      const noteBase = this.num(b, descAt + 8);
      const semaphore = this.num(b, descAt + 16);
      // prelink moves code; the note records where .stapsdt.base was when it was written
      if (base !== undefined && noteBase !== 0) pc += base.addr - noteBase;
      const strs = b.toString('latin1', descAt + 24, descAt + descsz).split('\0');
      out.push({ provider: strs[0] ?? '', name: strs[1] ?? '', pc, semaphore, args: strs[2] ?? '' });
    }
    return out;
  }
}
