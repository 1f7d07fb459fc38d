// The ip and udp providers: packets leaving and reaching the machine's interfaces, and the
// datagrams UDP sockets send and receive, from the kernel's net: and sock: tracepoints.
// Arguments are DTrace's (pktinfo_t, csinfo_t, ipinfo_t, ifinfo_t, ipv4info_t, ipv6info_t;
// udpsinfo_t, udpinfo_t), built only when D code reads them.              [ip.d, udp.d, dt_prov_ip.c]
//
// What the tracepoints carry: ip:::send (net:net_dev_start_xmit) the device, the protocol
// and the packet's length and header offsets; ip:::receive (net:netif_receive_skb) the device
// and the length, with the protocol and header length of a packet this session saw sent
// (loopback, veth) or a driver announced (netif_receive_skb_entry): other packets (ARP...)
// do not fire. The tracepoints carry no addresses: where BPF can be used and the kernel has
// BTF, and D code reads args[2], args[4] or args[5], the events come from a capture program
// (kernel/bpf/capture.ts) that copies the packet's IP header as the probe fires (at send, from
// skb->head + skb->network_header; at receive, from skb->data, with skb->protocol, so that every
// IP packet received fires), and ipinfo_t, ipv4info_t and ipv6info_t are whole, as ip.d's
// translators make them from the header. Elsewhere ip_saddr/ip_daddr read "<unknown>", and
// ipv4info_t/ipv6info_t hold only the version, lengths and header length.
// udp:::send/receive (sock:sock_send_length, sock_recv_length on UDP sockets) fire per send and
// receive call with the datagram's length (udp_length and ip_plength: the payload plus UDP's
// 8-byte header) and the socket's address; with BPF and BTF the socket's addresses and ports
// are copied from its sock_common as the probe fires, else they read "<unknown>" and 0. A
// datagram sent is also seen as it is queued on its device (net:net_dev_queue, in the sender's
// context, just before sock_send_length), its IP and UDP headers copied: udp:::send then has
// the datagram's own ends (an unconnected socket's sendto() destination). A datagram received
// is seen as it is queued on its socket (sock:sk_data_ready: the headers of the sk_buff last on
// its receive queue, copied), and each receive call takes the socket's oldest: udp:::receive
// has the datagram's source even on a socket that is not connected.

import { bpfUnavailable } from '../kernel/bpf/sys.js';
import type { EventHandler } from '../kernel/tracer.js';
import type { TypeScope } from '../lang/typescope.js';
import type { ArgBuilder } from '../runtime/context.js';
import { ViewKind, viewAddress } from '../runtime/memory.js';
import { ArgStruct, NO_PID, ipv4At, ipv6At } from './arg-struct.js';
import { SockAddrs, ipHeaderCopy, ipProtocolCopy, queuedHeaderCopy, skbSockPointerCopy, sockCopy, transportHeaderCopy } from './net-kernel.js';
import { type DerivedProbe, DerivedProvider, type Fields, type Hook } from './derived.js';

const AF_INET6 = 10;
const IPPROTO_UDP = 17;
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
/** recvmsg's MSG_PEEK: nothing was taken */
const MSG_PEEK = 2;

export const IP_ARGS = ['pktinfo_t *', 'csinfo_t *', 'ipinfo_t *', 'ifinfo_t *', 'ipv4info_t *', 'ipv6info_t *'];
export const UDP_ARGS = ['pktinfo_t *', 'csinfo_t *', 'ipinfo_t *', 'udpsinfo_t *', 'udpinfo_t *'];

function pointArgs(h: Hook, a: ArgBuilder, n: number): void {
  const args = h.ctx.args;
  for (let i = 0; i < n; i++) args[i] = viewAddress(ViewKind.Arg, i);
  h.ctx.argBuild = a;
}

/** ip's arguments: args[4] (ipv4info_t *) is NULL for an IPv6 packet, args[5] for an IPv4 one, as ip.d's translators give. */
function pointIpArgs(h: Hook, a: IpArgs): void {
  pointArgs(h, a, 6);
  if (a.ver !== 4) h.ctx.args[4] = 0n;
  if (a.ver !== 6) h.ctx.args[5] = 0n;
}

/** An __data_loc char[] field's string. */
function dataLocStr(v: DataView, o: number, at: number): string {
  const loc = v.getUint32(o + at, true);
  const start = o + (loc & 0xffff);
  const end = start + (loc >>> 16);
  let s = '';
  for (let i = start; i < end; i++) {
    const c = v.getUint8(i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/** ip.d's names of the protocols after the IP header (ipv4_protostr, ipv6_nextstr). */
const PROTO_NAMES: Record<number, string> = {
  0: 'IP',
  1: 'ICMP',
  2: 'IGMP',
  6: 'TCP',
  8: 'EGP',
  17: 'UDP',
  41: 'IPv6',
  43: 'ROUTE',
  50: 'ESP',
  51: 'AH',
  58: 'ICMPv6',
  89: 'OSPF',
  132: 'SCTP',
  255: 'RAW',
};

function protoStr(p: number): string {
  return PROTO_NAMES[p] ?? String(p);
}

/** One packet at an interface. */
export class IpArgs implements ArgBuilder {
  ver = 0;
  /** the IP packet's length and its header's (-1: unknown) */
  length = 0;
  hlen = -1;
  dev = '';
  skb = 0n;
  /** the packet's IP header as the probe fired (`hdr` at `hdrAt`), -1: not copied */
  hdr: DataView = new DataView(new ArrayBuffer(8));
  hdrAt = -1;
  private readonly pkt: ArgStruct;
  private readonly cs: ArgStruct;
  private readonly ip: ArgStruct;
  private readonly ifi: ArgStruct;
  private readonly v4: ArgStruct;
  private readonly v6: ArgStruct;

  constructor(types: TypeScope) {
    this.pkt = new ArgStruct(types, 'pktinfo_t');
    this.cs = new ArgStruct(types, 'csinfo_t');
    this.cs.set('cs_pid', NO_PID);
    this.ip = new ArgStruct(types, 'ipinfo_t');
    this.ifi = new ArgStruct(types, 'ifinfo_t');
    this.v4 = new ArgStruct(types, 'ipv4info_t');
    this.v6 = new ArgStruct(types, 'ipv6info_t');
  }

  private plength(): number {
    return this.hlen >= 0 && this.length >= this.hlen ? this.length - this.hlen : 0;
  }

  /** The header's source (or destination) address, as inet_ntoa()/inet_ntoa6() write it. */
  private addr(source: boolean): string {
    const at = this.hdrAt;
    if (at < 0) return '<unknown>';
    if (this.ver === 4) return ipv4At(this.hdr, at + (source ? 12 : 16));
    return ipv6At(this.hdr, at + (source ? 8 : 24));
  }

  build(slot: number): Uint8Array | null {
    switch (slot) {
      case 0: {
        const s = this.pkt;
        s.set('pkt_addr', this.skb);
        return s.bytes;
      }
      case 1:
        return this.cs.bytes;
      case 2: {
        const s = this.ip;
        s.clear();
        s.set('ip_ver', this.ver);
        s.set('ip_plength', this.plength());
        s.str('ip_saddr', this.addr(true));
        s.str('ip_daddr', this.addr(false));
        return s.bytes;
      }
      case 3: {
        const s = this.ifi;
        s.clear();
        s.str('if_name', this.dev);
        s.set('if_local', this.dev === 'lo' ? 1 : 0);
        return s.bytes;
      }
      case 4: {
        // NULL for an IPv6 packet, as DTrace's translator gives
        if (this.ver !== 4) return null;
        const s = this.v4;
        s.clear();
        s.set('ipv4_ver', 4);
        if (this.hlen >= 0) s.set('ipv4_ihl', this.hlen);
        s.set('ipv4_length', this.length);
        const h = this.hdr;
        const at = this.hdrAt;
        if (at >= 0) {
          s.set('ipv4_tos', h.getUint8(at + 1));
          s.set('ipv4_ident', h.getUint16(at + 4, false));
          const frag = h.getUint16(at + 6, false);
          s.set('ipv4_flags', frag >>> 12);
          s.set('ipv4_offset', frag & 0x0fff);
          s.set('ipv4_ttl', h.getUint8(at + 8));
          const proto = h.getUint8(at + 9);
          s.set('ipv4_protocol', proto);
          s.str('ipv4_protostr', protoStr(proto));
          s.set('ipv4_checksum', h.getUint16(at + 10, false));
          // ipaddr_t: the address's bytes as they are (network order)
          s.set('ipv4_src', h.getUint32(at + 12, true));
          s.set('ipv4_dst', h.getUint32(at + 16, true));
        }
        s.str('ipv4_saddr', this.addr(true));
        s.str('ipv4_daddr', this.addr(false));
        return s.bytes;
      }
      case 5: {
        if (this.ver !== 6) return null;
        const s = this.v6;
        s.clear();
        s.set('ipv6_ver', 6);
        s.set('ipv6_plen', this.length >= 40 ? this.length - 40 : 0);
        const h = this.hdr;
        const at = this.hdrAt;
        if (at >= 0) {
          const first = h.getUint32(at, false);
          s.set('ipv6_tclass', (first & 0x0fffffff) >>> 20);
          s.set('ipv6_flow', first & 0x000fffff);
          s.set('ipv6_plen', h.getUint16(at + 4, false));
          const next = h.getUint8(at + 6);
          s.set('ipv6_nexthdr', next);
          s.str('ipv6_nextstr', protoStr(next));
          s.set('ipv6_hlim', h.getUint8(at + 7));
        }
        s.str('ipv6_saddr', this.addr(true));
        s.str('ipv6_daddr', this.addr(false));
        return s.bytes;
      }
      default:
        return null;
    }
  }
}

/** One UDP send or receive call. */
export class UdpArgs implements ArgBuilder {
  ver = 0;
  length = 0;
  sk = 0n;
  /** a receive (the remote end is the source) */
  recv = false;
  /** the socket's ends as the probe fired (`known`: copied) */
  readonly ends = new SockAddrs();
  known = false;
  /** the datagram's own ends, from its IP and UDP headers (Datagrams), or null: the socket's are used */
  dgram: DataView | null = null;
  private readonly pkt: ArgStruct;
  private readonly cs: ArgStruct;
  private readonly ip: ArgStruct;
  private readonly udps: ArgStruct;
  private readonly udp: ArgStruct;

  constructor(types: TypeScope) {
    this.pkt = new ArgStruct(types, 'pktinfo_t');
    this.cs = new ArgStruct(types, 'csinfo_t');
    this.cs.set('cs_pid', NO_PID);
    this.ip = new ArgStruct(types, 'ipinfo_t');
    this.udps = new ArgStruct(types, 'udpsinfo_t');
    this.udp = new ArgStruct(types, 'udpinfo_t');
  }

  build(slot: number): Uint8Array | null {
    switch (slot) {
      case 0:
        return this.pkt.bytes;
      case 1: {
        const s = this.cs;
        s.set('cs_addr', this.sk);
        return s.bytes;
      }
      case 2: {
        const s = this.ip;
        s.clear();
        s.set('ip_ver', this.ver);
        s.set('ip_plength', this.length);
        const l = this.laddr();
        const r = this.raddr();
        s.str('ip_saddr', this.recv ? r : l);
        s.str('ip_daddr', this.recv ? l : r);
        return s.bytes;
      }
      case 3: {
        const s = this.udps;
        s.clear();
        s.set('udps_addr', this.sk);
        s.str('udps_laddr', this.laddr());
        s.str('udps_raddr', this.raddr());
        s.set('udps_lport', this.lport());
        s.set('udps_rport', this.rport());
        return s.bytes;
      }
      case 4: {
        const s = this.udp;
        s.clear();
        s.set('udp_length', this.length);
        s.set('udp_sport', this.recv ? this.rport() : this.lport());
        s.set('udp_dport', this.recv ? this.lport() : this.rport());
        return s.bytes;
      }
      default:
        return null;
    }
  }

  private laddr(): string {
    const d = this.dgram;
    if (d !== null) return addrOf(d, DG_LADDR);
    return this.known ? this.ends.laddr : '<unknown>';
  }

  private raddr(): string {
    const d = this.dgram;
    if (d !== null) return addrOf(d, DG_RADDR);
    return this.known ? this.ends.raddr : '<unknown>';
  }

  private lport(): number {
    const d = this.dgram;
    if (d !== null) return d.getUint16(DG_LPORT, true);
    return this.known ? this.ends.lport : 0;
  }

  private rport(): number {
    const d = this.dgram;
    if (d !== null) return d.getUint16(DG_RPORT, true);
    return this.known ? this.ends.rport : 0;
  }
}

/** A datagram's ends (Datagrams): [u8 version][u8 0][u16 local port][u16 remote port][..][local address: 16][remote address: 16] */
const DG_VER = 0;
const DG_LPORT = 2;
const DG_RPORT = 4;
const DG_LADDR = 8;
const DG_RADDR = 24;
const DG_BYTES = 40;

function addrOf(d: DataView, at: number): string {
  return d.getUint8(DG_VER) === 6 ? ipv6At(d, at) : ipv4At(d, at);
}

/**
 * The ends of the datagrams each socket put on a device or had queued for it, from their IP and
 * UDP headers as copied then: the udp probes' source of a datagram's remote end, which an
 * unconnected socket does not hold. Sent: the last one only (a send whose datagram did not
 * reach a device as it was sent, waiting for a neighbour, has none rather than another's);
 * received: in the order they were queued, up to `limit`, each taken by a receive call.
 */
class Datagrams {
  private readonly m = new Map<number, DataView[]>();
  /** the ones taken, for reuse */
  private readonly free: DataView[] = [];
  private last: DataView | null = null;

  constructor(private readonly limit: number) {}

  /**
   * Learns the datagram whose IP header is at `ip` and UDP header at `uh` of `v` (for a send, the
   * local end is its source); false: not a UDP datagram's first fragment.
   */
  put(key: number, v: DataView, ip: number, uh: number, send: boolean): boolean {
    const ver = v.getUint8(ip) >>> 4;
    let src: number;
    let dst: number;
    let n: number;
    if (ver === 4) {
      // UDP, and the first fragment (the one with the UDP header)
      if (v.getUint8(ip + 9) !== IPPROTO_UDP || (v.getUint16(ip + 6, false) & 0x1fff) !== 0) return false;
      src = ip + 12;
      dst = ip + 16;
      n = 4;
    } else if (ver === 6) {
      if (v.getUint8(ip + 6) !== IPPROTO_UDP) return false;
      src = ip + 8;
      dst = ip + 24;
      n = 16;
    } else {
      return false;
    }
    let q = this.m.get(key);
    if (q === undefined) {
      // bounded: a socket closed with datagrams not taken leaves its entry
      if (this.m.size >= 4096) this.m.clear();
      q = [];
      this.m.set(key, q);
    }
    if (q.length >= this.limit) this.release(q.shift()!);
    const d = this.free.pop() ?? new DataView(new ArrayBuffer(DG_BYTES));
    q.push(d);
    d.setUint8(DG_VER, ver);
    const sport = v.getUint16(uh, false);
    const dport = v.getUint16(uh + 2, false);
    d.setUint16(DG_LPORT, send ? sport : dport, true);
    d.setUint16(DG_RPORT, send ? dport : sport, true);
    const l = send ? src : dst;
    const r = send ? dst : src;
    for (let i = 0; i < n; i++) {
      d.setUint8(DG_LADDR + i, v.getUint8(l + i));
      d.setUint8(DG_RADDR + i, v.getUint8(r + i));
    }
    return true;
  }

  /** The oldest entry for `key`, taken (valid until the next take()), or null. */
  take(key: number): DataView | null {
    const q = this.m.get(key);
    const d = q?.shift();
    if (q === undefined || d === undefined) return null;
    if (q.length === 0) this.m.delete(key);
    if (this.last !== null) this.release(this.last);
    this.last = d;
    return d;
  }

  private release(d: DataView): void {
    if (this.free.length < 64) this.free.push(d);
  }
}

/** Packets' protocol and header length by sk_buff address, learnt before they are received. */
class Skbs {
  private readonly m = new Map<number, number>();

  /** `ver` 4 or 6, header length (-1: unknown) */
  put(key: number, ver: number, hlen: number): void {
    // bounded: most packets sent out of real interfaces never come back
    if (this.m.size >= 4096) this.m.clear();
    this.m.set(key, ver * 65536 + (hlen + 1));
  }

  take(key: number): number {
    const v = this.m.get(key);
    if (v === undefined) return -1;
    this.m.delete(key);
    return v;
  }
}

/** Where a copied IP header is (`at` in `v`), if it is one of version `ver`; else -1. */
function headerAt(at: number, v: DataView, ver: number): number {
  return at >= 0 && v.getUint8(at) >>> 4 === ver ? at : -1;
}

function verOf(proto: number): number {
  return proto === ETH_P_IP ? 4 : proto === ETH_P_IPV6 ? 6 : 0;
}

function ipProbes(types: TypeScope): DerivedProbe[] {
  const a = new IpArgs(types);
  const skbs = new Skbs();
  /** net_dev_start_xmit: fires ip:::send (h) and/or remembers the packet for its receipt */
  const xmit = (send: boolean) => (f: Fields, h: Hook): EventHandler => {
    const pidAt = f.at('common_pid');
    const nameAt = f.at('name');
    const skbAt = f.at('skbaddr');
    const protoAt = f.at('protocol');
    const lenAt = f.at('len');
    const netAt = f.at('network_offset');
    const tvalidAt = f.at('transport_offset_valid');
    const transAt = f.at('transport_offset');
    const id = f.format.id;
    const user = h.tracer.user;
    const hdrCopy = send && (h.reads(2) || h.reads(4) || h.reads(5)) ? ipHeaderCopy(skbAt, true) : null;
    const hdrJ = hdrCopy === null ? -1 : user.want(f.format, [hdrCopy])[0];
    return (cpu, _p, v, o, _l, ts) => {
      const ver = verOf(v.getUint16(o + protoAt, true));
      if (ver === 0) return;
      const net = v.getUint16(o + netAt, true);
      const hlen = v.getUint8(o + tvalidAt) !== 0 ? v.getUint16(o + transAt, true) - net : -1;
      const skLo = v.getUint32(o + skbAt, true);
      const skHi = v.getUint32(o + skbAt + 4, true);
      if (!send) {
        skbs.put(skLo ^ skHi, ver, hlen);
        return;
      }
      a.ver = ver;
      a.length = v.getUint32(o + lenAt, true) - net;
      a.hlen = hlen;
      a.dev = dataLocStr(v, o, nameAt);
      a.skb = (BigInt(skHi) << 32n) | BigInt(skLo);
      a.hdr = v;
      a.hdrAt = hdrJ < 0 ? -1 : headerAt(user.kernelCopyAt(id, v, o, hdrJ), v, ver);
      pointIpArgs(h, a);
      h.fireAs(v.getInt32(o + pidAt, true), cpu, ts);
    };
  };
  /** netif_receive_skb_entry and _list_entry: the driver says what the packet is */
  const announce = (f: Fields): EventHandler => {
    const skbAt = f.at('skbaddr');
    const protoAt = f.at('protocol');
    return (_c, _p, v, o) => {
      const ver = verOf(v.getUint16(o + protoAt, true));
      if (ver !== 0) skbs.put(v.getUint32(o + skbAt, true) ^ v.getUint32(o + skbAt + 4, true), ver, -1);
    };
  };
  return [
    {
      name: 'receive',
      args: IP_ARGS,
      sources: [
        { system: 'net', event: 'net_dev_start_xmit', handler: xmit(false) },
        { system: 'net', event: 'netif_receive_skb_entry', handler: announce },
        { system: 'net', event: 'netif_receive_skb_list_entry', handler: announce },
        {
          system: 'net',
          event: 'netif_receive_skb',
          handler: (f, h) => {
            const pidAt = f.at('common_pid');
            const nameAt = f.at('name');
            const skbAt = f.at('skbaddr');
            const lenAt = f.at('len');
            const id = f.format.id;
            const user = h.tracer.user;
            // with the header copied as it fires, every IP packet received fires (its protocol
            // copied too), not only those announced or seen sent
            const hdrCopy = h.reads(2) || h.reads(4) || h.reads(5) ? ipHeaderCopy(skbAt, false) : null;
            const protoCopy = hdrCopy === null ? null : ipProtocolCopy(skbAt);
            const [hdrJ, protoJ] = hdrCopy === null || protoCopy === null ? [-1, -1] : user.want(f.format, [hdrCopy, protoCopy]);
            return (cpu, _p, v, o, _l, ts) => {
              const skLo = v.getUint32(o + skbAt, true);
              const skHi = v.getUint32(o + skbAt + 4, true);
              const k = skbs.take(skLo ^ skHi);
              const protoAt = protoJ < 0 ? -1 : user.kernelCopyAt(id, v, o, protoJ);
              if (protoAt >= 0) {
                a.ver = verOf(v.getUint16(protoAt, false));
                if (a.ver === 0) return;
                a.hdrAt = headerAt(user.kernelCopyAt(id, v, o, hdrJ), v, a.ver);
                a.hlen = a.hdrAt < 0 ? -1 : a.ver === 4 ? (v.getUint8(a.hdrAt) & 0xf) * 4 : 40;
              } else {
                if (k < 0) return;
                a.ver = Math.floor(k / 65536);
                a.hlen = (k % 65536) - 1;
                a.hdrAt = -1;
              }
              a.hdr = v;
              a.length = v.getUint32(o + lenAt, true);
              a.dev = dataLocStr(v, o, nameAt);
              a.skb = (BigInt(skHi) << 32n) | BigInt(skLo);
              pointIpArgs(h, a);
              h.fireAs(v.getInt32(o + pidAt, true), cpu, ts);
            };
          },
        },
      ],
    },
    { name: 'send', args: IP_ARGS, sources: [{ system: 'net', event: 'net_dev_start_xmit', handler: xmit(true) }] },
  ];
}

/** Whether a udp probe's clauses read the addresses or ports (args[2], [3], [4]). */
function readsEnds(h: Hook): boolean {
  return h.reads(2) || h.reads(3) || h.reads(4);
}

/**
 * Whether the datagrams' own ends can be had as they go out and come in (BPF, and BTF placing
 * the sk_buff's headers and socket), for clauses that read them.
 */
function datagramsNeeded(h: Hook): boolean {
  return readsEnds(h) && bpfUnavailable() === null && transportHeaderCopy(0) !== null && skbSockPointerCopy(0) !== null && ipHeaderCopy(0, true) !== null;
}

/**
 * A UDP datagram's headers as it is queued on a device (net_dev_queue: in the sender's
 * context, before sock_send_length), keyed by its socket.
 */
function learnDatagrams(dgrams: Datagrams) {
  return (f: Fields, h: Hook): EventHandler => {
    const skbAt = f.at('skbaddr');
    const id = f.format.id;
    const user = h.tracer.user;
    const [ipJ, uhJ, skJ] = user.want(f.format, [ipHeaderCopy(skbAt, true)!, transportHeaderCopy(skbAt)!, skbSockPointerCopy(skbAt)!]);
    return (_c, _p, v, o) => {
      const ip = user.kernelCopyAt(id, v, o, ipJ);
      const uh = user.kernelCopyAt(id, v, o, uhJ);
      if (ip < 0 || uh < 0) return;
      const sk = user.kernelCopyAt(id, v, o, skJ);
      if (sk < 0) return;
      const key = v.getUint32(sk, true) ^ v.getUint32(sk + 4, true);
      if (key !== 0) dgrams.put(key, v, ip, uh, true);
    };
  };
}

/**
 * A datagram queued on a UDP socket (sock:sk_data_ready, as the stack wakes its readers): its
 * headers, from the sk_buff last on the socket's receive queue, keyed by the socket.
 */
function learnQueued(dgrams: Datagrams) {
  return (f: Fields, h: Hook): EventHandler => {
    const skAt = f.at('skaddr');
    const protoAt = f.at('protocol');
    const id = f.format.id;
    const user = h.tracer.user;
    const [ipJ, uhJ] = user.want(f.format, [queuedHeaderCopy(skAt, false)!, queuedHeaderCopy(skAt, true)!]);
    return (_c, _p, v, o) => {
      if (v.getUint16(o + protoAt, true) !== IPPROTO_UDP) return;
      const ip = user.kernelCopyAt(id, v, o, ipJ);
      const uh = user.kernelCopyAt(id, v, o, uhJ);
      if (ip < 0 || uh < 0) return;
      dgrams.put(v.getUint32(o + skAt, true) ^ v.getUint32(o + skAt + 4, true), v, ip, uh, false);
    };
  };
}

/** Whether udp:::receive has the datagrams' own ends (as datagramsNeeded(), and the receive queue placed). */
function queuedNeeded(h: Hook): boolean {
  return datagramsNeeded(h) && queuedHeaderCopy(0, false) !== null;
}

function udpProbes(types: TypeScope): DerivedProbe[] {
  const a = new UdpArgs(types);
  const sent = new Datagrams(1);
  const queued = new Datagrams(256);
  const call = (recv: boolean) => (f: Fields, h: Hook): EventHandler => {
    const pidAt = f.at('common_pid');
    const skAt = f.at('sk');
    const famAt = f.at('family');
    const protoAt = f.at('protocol');
    const retAt = f.at('ret');
    const flagsAt = f.at('flags');
    const id = f.format.id;
    const user = h.tracer.user;
    const copy = readsEnds(h) ? sockCopy(skAt) : null;
    const j = copy === null ? -1 : user.want(f.format, [copy])[0];
    const dgrams = recv ? (queuedNeeded(h) ? queued : null) : datagramsNeeded(h) ? sent : null;
    return (cpu, _p, v, o, _l, ts) => {
      if (v.getUint16(o + protoAt, true) !== IPPROTO_UDP) return;
      const tid = v.getInt32(o + pidAt, true);
      const skLo = v.getUint32(o + skAt, true);
      const skHi = v.getUint32(o + skAt + 4, true);
      const ret = v.getInt32(o + retAt, true);
      const peek = recv && (v.getInt32(o + flagsAt, true) & MSG_PEEK) !== 0;
      // the datagram's own ends: a send's taken even if the call failed, so that no later call
      // sees them; a receive's only when it took a datagram
      const d = dgrams === null || (recv && (ret < 0 || peek)) ? null : dgrams.take(skLo ^ skHi);
      if (ret < 0 || peek) return;
      const fam = v.getUint16(o + famAt, true);
      a.known = j >= 0 && a.ends.read(v, user.kernelCopyAt(id, v, o, j), fam);
      a.dgram = d;
      a.recv = recv;
      a.ver = fam === AF_INET6 ? 6 : 4;
      a.length = ret + 8;
      a.sk = (BigInt(skHi) << 32n) | BigInt(skLo);
      pointArgs(h, a, 5);
      h.fireAs(tid, cpu, ts);
    };
  };
  return [
    {
      name: 'receive',
      args: UDP_ARGS,
      sources: [
        { system: 'sock', event: 'sk_data_ready', handler: learnQueued(queued), needed: queuedNeeded },
        { system: 'sock', event: 'sock_recv_length', handler: call(true) },
      ],
    },
    {
      name: 'send',
      args: UDP_ARGS,
      sources: [
        { system: 'net', event: 'net_dev_queue', handler: learnDatagrams(sent), needed: datagramsNeeded },
        { system: 'sock', event: 'sock_send_length', handler: call(false) },
      ],
    },
  ];
}

export class IpProvider extends DerivedProvider {
  readonly name = 'ip';
  protected readonly table: DerivedProbe[];

  constructor(types: TypeScope) {
    super(types);
    this.table = ipProbes(types);
  }
}

export class UdpProvider extends DerivedProvider {
  readonly name = 'udp';
  protected readonly table: DerivedProbe[];

  constructor(types: TypeScope) {
    super(types);
    this.table = udpProbes(types);
  }
}
