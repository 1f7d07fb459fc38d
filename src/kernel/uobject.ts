// User-space objects as ustack() and usym() need them: function symbols by address and the
// call-frame information, read lazily and cached per object (by build ID where the object has
// one, so two paths of one file share it). Names come from .symtab and .dynsym, from the
// MiniDebugInfo section (.gnu_debugdata, xz-compressed: decompressed by an `xz` child process
// where one is installed) and from a separate debug file under /usr/lib/debug/.build-id/.
//                                                                  [dt_symtab.c, libproc Psymtab]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CfiRow, CfiTable } from './cfi.js';
import { ElfFile, bindRank, type ElfSymbol } from './elf.js';

/** Symbols sorted by address, one name per address (global before weak before local). */
export class SymbolTable {
  constructor(
    readonly starts: Float64Array,
    readonly sizes: Float64Array,
    readonly names: string[],
  ) {}

  static of(syms: ElfSymbol[]): SymbolTable {
    const byAddr = new Map<number, ElfSymbol>();
    for (const f of syms) {
      const prev = byAddr.get(f.addr);
      if (prev === undefined || bindRank(f.bind) > bindRank(prev.bind) || (prev.size === 0 && f.size > 0)) byAddr.set(f.addr, f);
    }
    const all = [...byAddr.values()].sort((a, b) => a.addr - b.addr);
    return new SymbolTable(Float64Array.from(all, (s) => s.addr), Float64Array.from(all, (s) => s.size), all.map((s) => s.name));
  }

  /** The index of the symbol covering `addr` (an object address), or -1. */
  find(addr: number): number {
    const st = this.starts;
    let lo = 0;
    let hi = st.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (st[mid] <= addr) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return -1;
    const size = this.sizes[found];
    // a symbol of size 0 covers up to the next one
    if (size > 0 ? addr < st[found] + size : true) return found;
    return -1;
  }
}

/** The unwind rule found at an address (table null: no CFI covers it). */
export interface CachedRow {
  table: CfiTable | null;
  row: CfiRow;
}

/** Rows kept per object (a stack's return addresses repeat: most lookups are hits). */
const ROW_CACHE = 4096;

/** One object file: its symbols and call-frame information, each read on first use. */
export class UserObject {
  /** unwind rows by object address */
  readonly rowCache = new Map<number, CachedRow>();

  private symtab: SymbolTable | null = null;
  private cfiTables: CfiTable[] | null = null;
  private elf: ElfFile | null = null;

  constructor(
    readonly path: string,
    /** where the file is read from (through /proc/<pid>/root if need be) */
    readonly openPath: string,
    readonly buildId: string | null,
  ) {}

  private file(): ElfFile | null {
    if (this.elf === null) {
      try {
        this.elf = ElfFile.open(this.openPath);
      } catch {
        return null;
      }
    }
    return this.elf;
  }

  /** The object address of a file offset (how a mapping's address becomes the object's), or -1. */
  addrOf(fileOffset: number): number {
    return this.file()?.addrOfFileOffset(fileOffset) ?? -1;
  }

  /** Keeps the row found at `addr` (a copy), forgetting all once the cache is full. */
  cacheRow(addr: number, table: CfiTable | null, row: CfiRow): void {
    if (this.rowCache.size >= ROW_CACHE) this.rowCache.clear();
    const copy = new CfiRow();
    if (table !== null) copy.copyFrom(row);
    this.rowCache.set(addr, { table, row: copy });
  }

  symbols(): SymbolTable {
    if (this.symtab !== null) return this.symtab;
    const f = this.file();
    let syms: ElfSymbol[] = [];
    if (f !== null) {
      try {
        syms = f.functionSymbols().concat(f.functionSymbols(true));
      } catch {
        syms = [];
      }
      const extra = debugSymbols(f, this.buildId);
      if (extra.length > 0) syms = syms.concat(extra);
    }
    this.symtab = SymbolTable.of(syms);
    return this.symtab;
  }

  /** The CFI tables: .eh_frame (with .eh_frame_hdr), then .debug_frame. */
  cfi(): CfiTable[] {
    if (this.cfiTables !== null) return this.cfiTables;
    const out: CfiTable[] = [];
    const f = this.file();
    if (f !== null) {
      try {
        const eh = f.sectionData('.eh_frame');
        const hdr = f.sectionData('.eh_frame_hdr');
        if (eh !== null) out.push(new CfiTable(eh.data, eh.addr, false, hdr?.data ?? null, hdr?.addr ?? 0));
        const df = f.sectionData('.debug_frame');
        if (df !== null) out.push(new CfiTable(df.data, 0, true));
      } catch {
        // no usable CFI: frame pointers only
      }
    }
    this.cfiTables = out;
    return out;
  }
}

/** Symbols from a separate debug file (/usr/lib/debug/.build-id/xx/yyyy.debug) and MiniDebugInfo. */
function debugSymbols(f: ElfFile, buildId: string | null): ElfSymbol[] {
  let out: ElfSymbol[] = [];
  if (buildId !== null && buildId.length > 2) {
    const p = `/usr/lib/debug/.build-id/${buildId.slice(0, 2)}/${buildId.slice(2)}.debug`;
    try {
      const d = ElfFile.open(p);
      try {
        out = d.functionSymbols();
      } finally {
        d.close();
      }
    } catch {
      // not installed
    }
  }
  const mini = f.section('.gnu_debugdata') !== undefined ? f.sectionData('.gnu_debugdata') : null;
  if (mini !== null) out = out.concat(miniDebugSymbols(mini.data));
  return out;
}

let xzMissing = false;

/** The .symtab of a MiniDebugInfo section (an xz-compressed ELF object); [] without xz. */
function miniDebugSymbols(xzData: Buffer): ElfSymbol[] {
  if (xzMissing) return [];
  const r = spawnSync('xz', ['-dc'], { input: xzData, maxBuffer: 256 * 1024 * 1024, timeout: 10_000 });
  if (r.error !== undefined || r.status !== 0) {
    if (r.error !== undefined) xzMissing = true;
    return [];
  }
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-mdi-'));
  try {
    const p = join(dir, 'obj');
    writeFileSync(p, r.stdout);
    const e = ElfFile.open(p);
    try {
      return e.functionSymbols();
    } finally {
      e.close();
    }
  } catch {
    return [];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const byFile = new Map<string, UserObject | null>();
const byBuildId = new Map<string, UserObject>();

/**
 * The object at `path` (as a process's maps name it; `pid` to read it through that process's
 * root if it is not at that path here), cached; null if it is no readable ELF object.
 */
export function userObject(path: string, pid = 0): UserObject | null {
  let openPath = path;
  let key: string;
  try {
    const st = statSync(path);
    key = `${path}\0${st.dev}\0${st.ino}\0${st.mtimeMs}`;
  } catch {
    if (pid <= 0) return null;
    openPath = `/proc/${pid}/root${path}`;
    try {
      const st = statSync(openPath);
      key = `${openPath}\0${st.dev}\0${st.ino}\0${st.mtimeMs}`;
    } catch {
      return null;
    }
  }
  const known = byFile.get(key);
  if (known !== undefined) return known;
  let obj: UserObject | null = null;
  try {
    const f = ElfFile.open(openPath);
    let id: string | null = null;
    try {
      id = f.buildId();
    } finally {
      f.close();
    }
    obj = (id !== null ? byBuildId.get(id) : undefined) ?? new UserObject(path, openPath, id);
    if (id !== null) byBuildId.set(id, obj);
  } catch {
    obj = null;
  }
  byFile.set(key, obj);
  return obj;
}
