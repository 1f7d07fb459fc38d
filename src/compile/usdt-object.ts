// dtrace -G: the object a DTrace build links in beside the objects whose probes it describes.
// With the header dtrace -h writes, the probe sites are already complete in those objects (each
// is a nop and a .note.stapsdt note, as sys/sdt.h makes them): what is left is a home for the
// probes' semaphores. So the object is an ELF relocatable object, written here with no
// toolchain, that defines each semaphore of the script's providers (2 bytes, in .probes,
// hidden, as SystemTap's dtrace -G compiles them); the header's own weak definitions give way
// to these. The objects named on the command line are checked to be ELF objects holding probes
// of those providers; they are not rewritten (illumos's -G rewrites call sites: Linux's probes
// need none).                                                                 [dt_link.c]

import { closeSync, openSync, readSync } from 'node:fs';
import { arch } from 'node:os';
import type { ProviderDecl } from '../lang/ast.js';
import { declaredProbeName, semaphoreName } from './usdt-header.js';

const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/** The machine an object is for (its e_machine), or null if it is no 64-bit ELF object. */
export function elfMachine(head: Buffer): number | null {
  if (head.length < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return null;
  return head.readUInt16LE(18);
}

/** Reads the first bytes of a file (an object's ELF header); throws the errno error. */
export function readHead(path: string, n = 64): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** The semaphores of every probe of the providers, in declaration order. */
export function semaphoresOf(providers: ProviderDecl[]): string[] {
  return providers.flatMap((p) => p.probes.map((q) => semaphoreName(p.name, declaredProbeName(q.name))));
}

/**
 * An ELF64 little-endian relocatable object defining each symbol of `semaphores` as a global,
 * hidden 2-byte object in a writable .probes section (zeroed), with a .note.GNU-stack section
 * (no executable stack). `machine`: EM_X86_64 or EM_AARCH64 (default: this machine's).
 */
export function semaphoreObject(semaphores: string[], machine = arch() === 'arm64' ? EM_AARCH64 : EM_X86_64): Buffer {
  const strtab: number[] = [0];
  const addStr = (tab: number[], s: string): number => {
    const at = tab.length;
    for (const c of Buffer.from(s, 'latin1')) tab.push(c);
    tab.push(0);
    return at;
  };
  const shstr: number[] = [0];
  const names = ['.probes', '.note.GNU-stack', '.symtab', '.strtab', '.shstrtab'].map((n) => addStr(shstr, n));
  // symbols: the null one, .probes's section symbol, then the semaphores (global)
  const syms = Buffer.alloc(24 * (2 + semaphores.length));
  syms.writeUInt8(3, 24 + 4); // STB_LOCAL, STT_SECTION
  syms.writeUInt16LE(1, 24 + 6);
  semaphores.forEach((s, i) => {
    const o = 24 * (2 + i);
    syms.writeUInt32LE(addStr(strtab, s), o);
    syms.writeUInt8((1 << 4) | 1, o + 4); // STB_GLOBAL, STT_OBJECT
    syms.writeUInt8(2, o + 5); // STV_HIDDEN
    syms.writeUInt16LE(1, o + 6); // .probes
    syms.writeBigUInt64LE(BigInt(2 * i), o + 8);
    syms.writeBigUInt64LE(2n, o + 16);
  });
  const probes = Buffer.alloc(2 * semaphores.length);
  const strBuf = Buffer.from(strtab);
  const shstrBuf = Buffer.from(shstr);
  // layout: header, then each section's bytes (8-aligned), then the section headers
  const parts: Buffer[] = [];
  let at = 64;
  const place = (b: Buffer, align: number): number => {
    const pad = (align - (at % align)) % align;
    if (pad > 0) parts.push(Buffer.alloc(pad));
    at += pad;
    const where = at;
    parts.push(b);
    at += b.length;
    return where;
  };
  const probesAt = place(probes, 2);
  const symAt = place(syms, 8);
  const strAt = place(strBuf, 1);
  const shstrAt = place(shstrBuf, 1);
  const pad = (8 - (at % 8)) % 8;
  if (pad > 0) parts.push(Buffer.alloc(pad));
  at += pad;
  const shoff = at;
  const sh = Buffer.alloc(64 * 6);
  const section = (i: number, name: number, type: number, flags: number, off: number, size: number, link: number, info: number, align: number, entsize: number) => {
    const o = 64 * i;
    sh.writeUInt32LE(name, o);
    sh.writeUInt32LE(type, o + 4);
    sh.writeBigUInt64LE(BigInt(flags), o + 8);
    sh.writeBigUInt64LE(BigInt(off), o + 24);
    sh.writeBigUInt64LE(BigInt(size), o + 32);
    sh.writeUInt32LE(link, o + 40);
    sh.writeUInt32LE(info, o + 44);
    sh.writeBigUInt64LE(BigInt(align), o + 48);
    sh.writeBigUInt64LE(BigInt(entsize), o + 56);
  };
  section(1, names[0], 1, 3, probesAt, probes.length, 0, 0, 2, 0); // PROGBITS, WA
  section(2, names[1], 1, 0, probesAt + probes.length, 0, 0, 0, 1, 0);
  section(3, names[2], 2, 0, symAt, syms.length, 4, 2, 8, 24); // SYMTAB: link .strtab, first global 2
  section(4, names[3], 3, 0, strAt, strBuf.length, 0, 0, 1, 0);
  section(5, names[4], 3, 0, shstrAt, shstrBuf.length, 0, 0, 1, 0);
  const h = Buffer.alloc(64);
  h.writeUInt32BE(0x7f454c46, 0);
  h[4] = 2; // ELFCLASS64
  h[5] = 1; // little-endian
  h[6] = 1; // EV_CURRENT
  h.writeUInt16LE(1, 16); // ET_REL
  h.writeUInt16LE(machine, 18);
  h.writeUInt32LE(1, 20);
  h.writeBigUInt64LE(BigInt(shoff), 40);
  h.writeUInt16LE(64, 52); // e_ehsize
  h.writeUInt16LE(64, 58); // e_shentsize
  h.writeUInt16LE(6, 60); // e_shnum
  h.writeUInt16LE(5, 62); // e_shstrndx
  return Buffer.concat([h, ...parts, sh]);
}
