// Decoders of the tcp, io and lockstat providers: synthetic records laid out as the kernel's
// published formats say (sock/inet_sock_set_state, block/block_rq_issue), and /proc, /sys parsing.

import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { blockDrivers, deviceNames } from '../../src/kernel/blockdev.js';
import { D_LIBRARY_NET_TYPES, D_LIBRARY_TYPES } from '../../src/lang/dlib.js';
import { Lexer, type MacroEnv } from '../../src/lang/lexer.js';
import { Parser } from '../../src/lang/parser.js';
import { TypeScope } from '../../src/lang/typescope.js';
import { findMember, resolve } from '../../src/lang/types.js';
import { ipv4At, ipv6At, sockaddrAt } from '../../src/providers/arg-struct.js';
import { rwbsFlags } from '../../src/providers/io.js';
import { LockKind, lockKind } from '../../src/providers/lockstat.js';
import { IpArgs, UdpArgs } from '../../src/providers/net.js';
import { TcpArgs } from '../../src/providers/tcp.js';

function types(): TypeScope {
  const t = new TypeScope(256);
  const macros: MacroEnv = { args: ['dtrace'], defaultArgs: false, vars: new Map(), used: new Set() };
  for (const src of [D_LIBRARY_TYPES, D_LIBRARY_NET_TYPES]) new Parser(new Lexer(src, macros, true), t, new Set(), { fromFile: true, pspecOnly: false }).parseProgram();
  return t;
}

function str(b: Uint8Array, at: number): string {
  let s = '';
  for (let i = at; b[i] !== 0; i++) s += String.fromCharCode(b[i]!);
  return s;
}

test('addresses: dotted IPv4, IPv6 as inet_ntoa6, sockaddr_in/in6', () => {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  b.set([127, 0, 0, 1], 0);
  assert.equal(ipv4At(v, 0), '127.0.0.1');
  b.fill(0);
  b[15] = 1;
  assert.equal(ipv6At(v, 0), '::1');
  b.fill(0);
  b.set([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34], 0);
  assert.equal(ipv6At(v, 0), 'fe80::1234');
  // sockaddr_in: family 2, port 8080 big-endian, 10.1.2.3
  b.fill(0);
  v.setUint16(0, 2, true);
  v.setUint16(2, 8080, false);
  b.set([10, 1, 2, 3], 4);
  assert.deepEqual(sockaddrAt(v, 0), { family: 2, port: 8080, addr: '10.1.2.3' });
});

test('tcpsinfo_t, tcplsinfo_t and ipinfo_t from an inet_sock_set_state record', () => {
  const t = types();
  const a = new TcpArgs(t);
  // the offsets of this kernel's sock/inet_sock_set_state format (6.18)
  const rec = new Uint8Array(72);
  const v = new DataView(rec.buffer);
  rec.set([127, 0, 0, 1], 32);
  rec.set([127, 0, 0, 2], 36);
  a.v = v;
  a.family = 2;
  a.laddrAt = 32;
  a.raddrAt = 36;
  a.lport = 40000;
  a.rport = 80;
  a.state = 1;
  a.oldState = 2;
  a.skLo = 0x1000;
  a.skHi = 0xffff8880;
  const S = resolve(t.lookup('tcpsinfo_t')!);
  const b = a.build(3)!;
  const dv = new DataView(b.buffer, b.byteOffset);
  assert.equal(str(b, findMember(S, 'tcps_laddr')!.offset), '127.0.0.1');
  assert.equal(str(b, findMember(S, 'tcps_raddr')!.offset), '127.0.0.2');
  assert.equal(dv.getUint16(findMember(S, 'tcps_lport')!.offset, true), 40000);
  assert.equal(dv.getUint16(findMember(S, 'tcps_rport')!.offset, true), 80);
  assert.equal(dv.getInt32(findMember(S, 'tcps_state')!.offset, true), 1);
  assert.equal(dv.getBigUint64(findMember(S, 'tcps_addr')!.offset, true), 0xffff8880_00001000n);
  assert.equal(dv.getInt32(findMember(S, 'tcps_local')!.offset, true), 0);
  const ls = a.build(5)!;
  assert.equal(new DataView(ls.buffer).getInt32(0, true), 2);
  const I = resolve(t.lookup('ipinfo_t')!);
  const ip = a.build(2)!;
  assert.equal(ip[findMember(I, 'ip_ver')!.offset], 4);
  assert.equal(str(ip, findMember(I, 'ip_saddr')!.offset), '127.0.0.1');
  assert.equal(str(ip, findMember(I, 'ip_daddr')!.offset), '127.0.0.2');
  assert.equal(a.build(6), null);
});

test("csinfo_t: cs_addr the socket; illumos's cs_pid -1 (no process is known) and cs_zoneid 0", () => {
  const t = types();
  const C = resolve(t.lookup('csinfo_t')!);
  const at = (m: string) => findMember(C, m)!.offset;
  const tcp = new TcpArgs(t);
  tcp.skLo = 0x2000;
  tcp.skHi = 0xffff8880;
  for (const [b, addr] of [
    [tcp.build(1)!, 0xffff8880_00002000n],
    [new IpArgs(t).build(1)!, 0n],
    [new UdpArgs(t).build(1)!, 0n],
  ] as const) {
    const dv = new DataView(b.buffer, b.byteOffset);
    assert.equal(dv.getBigUint64(at('cs_addr'), true), addr);
    assert.equal(dv.getInt32(at('cs_pid'), true), -1);
    assert.equal(dv.getInt32(at('cs_zoneid'), true), 0);
  }
});

test('ipinfo_t, ipv4info_t and ipv6info_t from a copied IP header, as ip.d translates it', () => {
  const t = types();
  const a = new IpArgs(t);
  const h = new Uint8Array(48);
  const v = new DataView(h.buffer);
  // IPv4, ihl 5, tos 0x10, length 84, id 0x1234, DF + offset 0, ttl 64, ICMP, checksum 0xbeef, 10.0.0.1 -> 10.0.0.2
  h.set([0x45, 0x10, 0, 84, 0x12, 0x34, 0x40, 0, 64, 1, 0xbe, 0xef, 10, 0, 0, 1, 10, 0, 0, 2], 8);
  a.ver = 4;
  a.length = 84;
  a.hlen = 20;
  a.hdr = v;
  a.hdrAt = 8;
  const I = resolve(t.lookup('ipinfo_t')!);
  const ip = a.build(2)!;
  assert.equal(new DataView(ip.buffer).getUint32(findMember(I, 'ip_plength')!.offset, true), 64);
  assert.equal(str(ip, findMember(I, 'ip_saddr')!.offset), '10.0.0.1');
  assert.equal(str(ip, findMember(I, 'ip_daddr')!.offset), '10.0.0.2');
  const V4 = resolve(t.lookup('ipv4info_t')!);
  const b = a.build(4)!;
  const dv = new DataView(b.buffer);
  const at = (m: string) => findMember(V4, m)!.offset;
  assert.deepEqual([b[at('ipv4_ihl')], b[at('ipv4_tos')], b[at('ipv4_ttl')], b[at('ipv4_protocol')], b[at('ipv4_flags')]], [20, 0x10, 64, 1, 4]);
  assert.deepEqual([dv.getUint16(at('ipv4_ident'), true), dv.getUint16(at('ipv4_checksum'), true), dv.getUint16(at('ipv4_length'), true)], [0x1234, 0xbeef, 84]);
  assert.equal(str(b, at('ipv4_protostr')), 'ICMP');
  // ipaddr_t: the address's bytes as they are
  assert.equal(dv.getUint32(at('ipv4_src'), true), new DataView(h.buffer).getUint32(20, true));
  assert.equal(str(b, at('ipv4_daddr')), '10.0.0.2');
  assert.equal(a.build(5), null);
  // IPv6: tclass 0x12, flow 0x34567, payload 40, next header 58 (ICMPv6), hop limit 255, ::1 -> fe80::2
  h.fill(0);
  h.set([0x61, 0x23, 0x45, 0x67, 0, 40, 58, 255], 0);
  h[23] = 1;
  h.set([0xfe, 0x80], 24);
  h[39] = 2;
  a.ver = 6;
  a.length = 80;
  a.hdrAt = 0;
  const V6 = resolve(t.lookup('ipv6info_t')!);
  const c = a.build(5)!;
  const cv = new DataView(c.buffer);
  const at6 = (m: string) => findMember(V6, m)!.offset;
  assert.deepEqual([c[at6('ipv6_tclass')], cv.getUint32(at6('ipv6_flow'), true), cv.getUint16(at6('ipv6_plen'), true), c[at6('ipv6_nexthdr')], c[at6('ipv6_hlim')]], [0x12, 0x34567, 40, 58, 255]);
  assert.equal(str(c, at6('ipv6_nextstr')), 'ICMPv6');
  assert.equal(str(c, at6('ipv6_saddr')), '::1');
  assert.equal(str(c, at6('ipv6_daddr')), 'fe80::2');
  // no header copied (no BPF): the addresses are unknown
  a.hdrAt = -1;
  assert.equal(str(a.build(2)!, findMember(I, 'ip_saddr')!.offset), '<unknown>');
});

test('b_flags from rwbs', () => {
  const cases: Array<[string, number]> = [
    ['R', 0x40 | 0x400 | 0x20],
    ['RS', 0x40 | 0x20],
    ['W', 0x100 | 0x400 | 0x20],
    ['WS', 0x100 | 0x20],
    ['FWS', 0x100 | 0x20],
    ['D', 0x100 | 0x400 | 0x20],
    ['RA', 0x40 | 0x400 | 0x20],
  ];
  for (const [rwbs, flags] of cases) {
    const b = new Uint8Array(16);
    for (let i = 0; i < rwbs.length; i++) b[4 + i] = rwbs.charCodeAt(i);
    assert.equal(rwbsFlags(new DataView(b.buffer), 4), flags, rwbs);
  }
});

test('lockstat: contention flags name the probe', () => {
  const cases: Array<[number, LockKind]> = [
    [0x20, LockKind.AdaptiveBlock],
    [0x21, LockKind.AdaptiveSpin],
    [0x2, LockKind.RwBlock],
    [0x4, LockKind.RwBlock],
    [0x3, LockKind.RwSpin],
    [0x1, LockKind.SpinSpin],
    [0x0, LockKind.Other],
  ];
  for (const [f, k] of cases) assert.equal(lockKind(f), k, String(f));
});

test('devinfo_t names: drivers from /proc/devices, disks and partitions from /sys/dev/block', () => {
  const root = mkdtempSync(join(tmpdir(), 'blockdev-'));
  try {
    const proc = join(root, 'proc');
    const sys = join(root, 'sys');
    mkdirSync(proc);
    writeFileSync(join(proc, 'devices'), 'Character devices:\n  1 mem\n  7 vcs\n\nBlock devices:\n  7 loop\n254 virtblk\n259 blkext\n');
    assert.deepEqual([...blockDrivers(`Block devices:\n  7 loop\n254 virtblk\n`)], [[7, 'loop'], [254, 'virtblk']]);
    const disk = join(sys, 'devices', 'pci0000:00', 'virtio1', 'block', 'vda');
    mkdirSync(join(disk, 'vda2'), { recursive: true });
    writeFileSync(join(disk, 'uevent'), 'MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n');
    writeFileSync(join(disk, 'vda2', 'uevent'), 'MAJOR=254\nMINOR=2\nDEVNAME=vda2\nDEVTYPE=partition\n');
    writeFileSync(join(disk, 'vda2', 'partition'), '2\n');
    mkdirSync(join(sys, 'dev', 'block'), { recursive: true });
    symlinkSync('../../devices/pci0000:00/virtio1/block/vda', join(sys, 'dev', 'block', '254:0'));
    symlinkSync('../../devices/pci0000:00/virtio1/block/vda/vda2', join(sys, 'dev', 'block', '254:2'));
    assert.deepEqual(deviceNames(254, 0, sys, proc), { name: 'virtblk', statname: 'vda', pathname: '/dev/vda', instance: 0 });
    assert.deepEqual(deviceNames(254, 2, sys, proc), { name: 'virtblk', statname: 'vda2', pathname: '/dev/vda2', instance: 0 });
    assert.deepEqual(deviceNames(9, 9, sys, proc), { name: '<unknown>', statname: '<unknown>', pathname: '<unknown>', instance: 0 });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
