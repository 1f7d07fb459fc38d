// A translated argument struct (bufinfo_t, tcpsinfo_t, ipinfo_t...) in bytes laid out as the D
// type says, filled in place by a provider when D code reads it: one reused buffer per probe
// argument, member offsets looked up once.                                        [dt_xlator.c]

import type { TypeScope } from '../lang/typescope.js';
import { Kind, resolve } from '../lang/types.js';
import { inet_ntoa6 } from '../runtime/subr.js';

/**
 * csinfo_t's cs_pid (illumos's member: the process the connection belongs to) where it is not
 * known, as illumos says it (NOPID): Linux's sockets do not record the process that made them.
 */
export const NO_PID = -1;

export class ArgStruct {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  private readonly offsets = new Map<string, { offset: number; size: number; str: boolean }>();

  constructor(types: TypeScope, typeName: string) {
    const t = types.lookup(typeName);
    if (!t) throw new Error(`internal: no type ${typeName}`);
    const r = resolve(t);
    this.bytes = new Uint8Array(r.size);
    this.dv = new DataView(this.bytes.buffer);
    for (const m of r.members ?? []) {
      const mt = resolve(m.type);
      this.offsets.set(m.name, { offset: m.offset, size: mt.kind === Kind.Pointer ? 8 : mt.size, str: mt.kind === Kind.String });
    }
  }

  /** A member's offset (-1: the type has no such member). */
  at(name: string): number {
    const m = this.offsets.get(name);
    return m === undefined ? -1 : m.offset;
  }

  clear(): void {
    this.bytes.fill(0);
  }

  /** Sets an integer member by name (any width; 64-bit members take a Number or a BigInt). */
  set(name: string, v: number | bigint): void {
    const m = this.offsets.get(name);
    if (m === undefined) return;
    const dv = this.dv;
    switch (m.size) {
      case 1:
        dv.setUint8(m.offset, Number(v) & 0xff);
        break;
      case 2:
        dv.setUint16(m.offset, Number(v) & 0xffff, true);
        break;
      case 4:
        dv.setUint32(m.offset, Number(BigInt.asUintN(32, BigInt(v))), true);
        break;
      case 8:
        dv.setBigUint64(m.offset, BigInt.asUintN(64, BigInt(v)), true);
        break;
    }
  }

  /** Sets a string member (latin1, cut to fit with its NUL). */
  str(name: string, s: string): void {
    const m = this.offsets.get(name);
    if (m === undefined) return;
    const n = Math.min(s.length, m.size - 1);
    const b = this.bytes;
    for (let i = 0; i < n; i++) b[m.offset + i] = s.charCodeAt(i) & 0xff;
    b[m.offset + n] = 0;
  }
}

/** IPv4 address bytes at `o` in dotted decimal. */
export function ipv4At(v: DataView, o: number): string {
  return `${v.getUint8(o)}.${v.getUint8(o + 1)}.${v.getUint8(o + 2)}.${v.getUint8(o + 3)}`;
}

/** IPv6 address bytes at `o` as inet_ntoa6() writes them (an IPv4-mapped one as a.b.c.d). */
export function ipv6At(v: DataView, o: number): string {
  return inet_ntoa6(new Uint8Array(v.buffer, v.byteOffset + o, 16), false, 64);
}

/**
 * A sockaddr_in or sockaddr_in6 as the kernel's TCP/UDP tracepoints carry it (28 bytes):
 * family, big-endian port, address.
 */
export function sockaddrAt(v: DataView, o: number): { family: number; port: number; addr: string } {
  const family = v.getUint16(o, true);
  const port = v.getUint16(o + 2, false);
  const addr = family === 10 ? ipv6At(v, o + 8) : family === 2 ? ipv4At(v, o + 4) : '<unknown>';
  return { family, port, addr };
}
