// Kernel symbols (/proc/kallsyms), for stack() and sym(): an address becomes
// "vmlinux`do_syscall_64+0x5d", as DTrace prints kernel frames. Loaded on first use (the file
// is large and the kernel takes ~50 ms to produce it); each address is looked up once.

import { readFileSync } from 'node:fs';

/**
 * Kernel addresses all lie at or above this, so an address minus it fits a double exactly
 * (Numbers are exact to 2^53; kernel addresses need 48 bits here).
 */
const KERNEL_BASE = 0xffff_0000_0000_0000n;
const KERNEL_BASE_HI = 0xffff0000;

export class KernelSymbols {
  private addrs = new Float64Array(0);
  private names: string[] = [];
  private loaded = false;
  private readonly cache = new Map<number, string>();

  private load(): void {
    this.loaded = true;
    let text: string;
    try {
      text = readFileSync('/proc/kallsyms', 'latin1');
    } catch {
      return;
    }
    const rows: Array<[number, string]> = [];
    for (const line of text.split('\n')) {
      // "ffffffff81000000 T _stext" or "ffffffffc0201000 t name\t[module]"
      const sp = line.indexOf(' ');
      if (sp !== 16) continue;
      const type = line.charCodeAt(17) | 0x20;
      if (type !== 0x74 /* t */ && type !== 0x77 /* w */) continue;
      const hi = parseInt(line.slice(0, 8), 16);
      if (hi < KERNEL_BASE_HI) continue;
      const addr = (hi - KERNEL_BASE_HI) * 0x1_0000_0000 + parseInt(line.slice(8, 16), 16);
      const rest = line.slice(19);
      const tab = rest.indexOf('\t');
      const name = tab < 0 ? `vmlinux\`${rest}` : `${rest.slice(tab + 2, rest.length - 1)}\`${rest.slice(0, tab)}`;
      rows.push([addr, name]);
    }
    rows.sort((a, b) => a[0] - b[0]);
    this.addrs = Float64Array.from(rows, (r) => r[0]);
    this.names = rows.map((r) => r[1]);
  }

  /**
   * Loads the symbols now (a third of a second here, more on a loaded machine), before tracing
   * starts, rather than at the first stack while events wait.
   */
  preload(): void {
    if (!this.loaded) this.load();
  }

  /** Whether the kernel has a function of this name (in vmlinux or a module). */
  hasFunction(name: string): boolean {
    if (!this.loaded) this.load();
    return this.names.some((n) => n.endsWith(`\`${name}`));
  }

  /** The address of the kernel's own function of this name, or null (none, or addresses hidden: 0). */
  address(name: string): bigint | null {
    if (!this.loaded) this.load();
    const i = this.names.indexOf(`vmlinux\`${name}`);
    return i < 0 || this.addrs[i] === 0 ? null : KERNEL_BASE + BigInt(this.addrs[i]);
  }

  /** Every function, as [module, name] ("vmlinux" for the kernel's own). */
  functions(): Array<[string, string]> {
    if (!this.loaded) this.load();
    return this.names.map((n) => {
      const i = n.indexOf('`');
      return [n.slice(0, i), n.slice(i + 1)];
    });
  }

  /** The index of the symbol covering an address (as kernelOffset() gives it), or -1. */
  private find(off: number): number {
    if (!this.loaded) this.load();
    const a = this.addrs;
    let lo = 0;
    let hi = a.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid] <= off) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** "module`function" of the function an address is in (sym(), func()), or null. */
  symbol(off: number): string | null {
    const i = off < 0 ? -1 : this.find(off);
    return i < 0 ? null : this.names[i];
  }

  /** The address (as kernelOffset() gives it) of the function an address is in, or -1. */
  start(off: number): number {
    const i = off < 0 ? -1 : this.find(off);
    return i < 0 ? -1 : this.addrs[i];
  }

  /** The module an address is in ("vmlinux" for the kernel's own; mod()), or null. */
  module(off: number): string | null {
    const s = this.symbol(off);
    return s === null ? null : s.slice(0, s.indexOf('`'));
  }

  /**
   * A kernel stack a BPF program recorded with bpf_get_stack() (`n` addresses at `at`, zero past
   * the last) into `frames` as kernelOffset()s; returns how many.
   */
  recordedStack(view: DataView, at: number, n: number, frames: Float64Array): number {
    let k = 0;
    for (let i = 0; i < n && k < frames.length; i++) {
      const f = kernelOffset(view, at + i * 8);
      if (f < 0) break;
      frames[k++] = f;
    }
    return k;
  }

  /** An address (as kernelOffset() gives it) as DTrace prints a frame; hex if no symbol covers it. */
  frame(off: number): string {
    let s = this.cache.get(off);
    if (s !== undefined) return s;
    // find() loads the table on first use: read it after
    const found = this.find(off);
    if (found < 0) s = '0x' + (KERNEL_BASE + BigInt(off)).toString(16);
    else {
      const delta = off - this.addrs[found];
      s = delta === 0 ? this.names[found] : `${this.names[found]}+0x${delta.toString(16)}`;
    }
    this.cache.set(off, s);
    return s;
  }
}

/** A kernel address as an exact Number: its offset from the base of the kernel's half. */
export function kernelOffset(view: DataView, at: number): number {
  const hi = view.getUint32(at + 4, true);
  return hi < KERNEL_BASE_HI ? -1 : (hi - KERNEL_BASE_HI) * 0x1_0000_0000 + view.getUint32(at, true);
}

/** A 64-bit address (signed or not) as kernelOffset() gives it: -1 if it is not in the kernel's half. */
export function kernelOffsetOf(addr: bigint): number {
  const u = BigInt.asUintN(64, addr);
  return u < KERNEL_BASE ? -1 : Number(u - KERNEL_BASE);
}

/** The address a kernelOffset() stands for. */
export function kernelAddress(off: number): bigint {
  return KERNEL_BASE + BigInt(off);
}

export const kernelSymbols = new KernelSymbols();

/** The kernel's data symbols (kallsyms types d, b, r: variables), read on the first lookup. */
let dataSymbols: Map<string, bigint> | null = null;

/**
 * The address of a kernel variable ("vmlinux" or a module's), or null: none of that name, or a
 * kernel whose kallsyms lists functions only (CONFIG_KALLSYMS_ALL off).
 */
export function dataSymbolAddress(object: string, name: string): bigint | null {
  if (dataSymbols === null) {
    dataSymbols = new Map();
    let text = '';
    try {
      text = readFileSync('/proc/kallsyms', 'latin1');
    } catch {
      // no symbols
    }
    for (const line of text.split('\n')) {
      if (line.indexOf(' ') !== 16) continue;
      const type = line.charCodeAt(17) | 0x20;
      if (type !== 0x64 /* d */ && type !== 0x62 /* b */ && type !== 0x72 /* r */) continue;
      const rest = line.slice(19);
      const tab = rest.indexOf('\t');
      const key = tab < 0 ? `vmlinux\`${rest}` : `${rest.slice(tab + 2, rest.length - 1)}\`${rest.slice(0, tab)}`;
      // the first of a name: a static one of the same name elsewhere comes later, if at all
      if (!dataSymbols.has(key)) dataSymbols.set(key, BigInt(`0x${line.slice(0, 16)}`));
    }
  }
  const a = dataSymbols.get(`${object}\`${name}`);
  // an address of 0: kallsyms hides them (kptr_restrict)
  return a === undefined || a === 0n ? null : a;
}
