// What the network providers copy from kernel memory as their probes fire, where BPF can be
// used: the IP header of a packet (from its struct sk_buff) and a socket's addresses and ports
// (from its struct sock_common), with the members' offsets from the kernel's BTF. Each is a
// kernel copy of a capture program (kernel/bpf/capture.ts, UserCopy.kernel); null where BTF
// does not place the members (the probes then fire without them).          [ip.d, tcp.d, udp.d]

import type { UserCopy } from '../kernel/bpf/capture.js';
import { kernelTypes } from '../kernel/btf.js';
import { findMember } from '../lang/types.js';
import { ipv4At, ipv6At } from './arg-struct.js';

/** Bytes copied of an IP header: IPv6's fixed header (IPv4's, options aside, is 20). */
export const IP_HEADER_BYTES = 40;
const AF_INET = 2;
const AF_INET6 = 10;

function offsetsOf(struct: string, members: string[]): number[] | null {
  const t = kernelTypes.lookup(struct);
  if (t === undefined) return null;
  const out: number[] = [];
  for (const name of members) {
    const m = findMember(t, name);
    if (m === undefined || m.bitWidth >= 0) return null;
    out.push(m.offset);
  }
  return out;
}

let skb: number[] | null | undefined;
let sock: number[] | null | undefined;
let skbMore: number[] | null | undefined;
let sockState: number[] | null | undefined;

function skbOffsets(): number[] | null {
  if (skb === undefined) skb = offsetsOf('struct sk_buff', ['head', 'data', 'network_header', 'protocol']);
  return skb;
}

/** sk_buff's sk and transport_header */
function skbMoreOffsets(): number[] | null {
  if (skbMore === undefined) skbMore = offsetsOf('struct sk_buff', ['sk', 'transport_header']);
  return skbMore;
}

/** sock_common's skc_state (a request_sock and a timewait sock begin with a sock_common too) */
export function sockStateAt(): number {
  if (sockState === undefined) sockState = offsetsOf('struct sock_common', ['skc_state']);
  return sockState === null ? -1 : sockState[0];
}

/** sock_common: skc_daddr, skc_rcv_saddr, skc_dport, skc_num, skc_v6_daddr, skc_v6_rcv_saddr */
function sockOffsets(): number[] | null {
  if (sock === undefined) sock = offsetsOf('struct sock_common', ['skc_daddr', 'skc_rcv_saddr', 'skc_dport', 'skc_num', 'skc_v6_daddr', 'skc_v6_rcv_saddr']);
  return sock;
}

/** Bytes copied of a packet received, for its TCP header too: IPv4's header with the most options (60) and TCP's without options. */
export const RECEIVED_SEGMENT_BYTES = 80;

/**
 * The IP header (`bytes` of it and what follows) of the sk_buff whose address is at `skbAt` of
 * the record: at a packet's send, where the network header is (head + network_header); at its
 * receipt, where the data begins (the link layer's header is pulled off by then, and
 * network_header not yet set).
 */
export function ipHeaderCopy(skbAt: number, send: boolean, bytes = IP_HEADER_BYTES): UserCopy | null {
  const o = skbOffsets();
  if (o === null) return null;
  const [head, data, network] = o;
  return { ptrOffset: skbAt, maxLen: bytes, kernel: send ? { deref: head, plusU16: network, at: 0 } : { deref: data, at: 0 } };
}

/** Bytes copied of a transport header: TCP's without options (UDP's is 8). */
export const TRANSPORT_HEADER_BYTES = 20;

/** The transport (TCP, UDP) header of the sk_buff at `skbAt` (head + transport_header), once the stack has set it. */
export function transportHeaderCopy(skbAt: number): UserCopy | null {
  const o = skbOffsets();
  const m = skbMoreOffsets();
  if (o === null || m === null) return null;
  return { ptrOffset: skbAt, maxLen: TRANSPORT_HEADER_BYTES, kernel: { deref: o[0], plusU16: m[1], at: 0 } };
}

let receiveQueue: number[] | null | undefined;

/**
 * The IP header (`transport`: the transport header) of the sk_buff last queued on the socket
 * at `skAt` of the record (sock.sk_receive_queue.prev), once the stack has set it.
 */
export function queuedHeaderCopy(skAt: number, transport: boolean): UserCopy | null {
  const o = skbOffsets();
  const m = skbMoreOffsets();
  if (receiveQueue === undefined) receiveQueue = offsetsOf('struct sock', ['sk_receive_queue']);
  const q = receiveQueue;
  const prev = offsetsOf('struct sk_buff_head', ['prev']);
  if (o === null || m === null || q === null || prev === null) return null;
  return { ptrOffset: skAt, maxLen: transport ? TRANSPORT_HEADER_BYTES : IP_HEADER_BYTES, kernel: { deref0: q[0] + prev[0], deref: o[0], plusU16: transport ? m[1] : o[2], at: 0 } };
}

/** The sk_buff's socket: the pointer itself (8 bytes, 0: none). */
export function skbSockPointerCopy(skbAt: number): UserCopy | null {
  const m = skbMoreOffsets();
  return m === null ? null : { ptrOffset: skbAt, maxLen: 8, kernel: { at: m[0] } };
}

/** The sock_common of the sk_buff's socket (sockCopy()'s bytes; none when the sk_buff has no socket). */
export function skbSockCopy(skbAt: number): UserCopy | null {
  const m = skbMoreOffsets();
  const o = sockOffsets();
  const st = sockStateAt();
  if (m === null || o === null || st < 0) return null;
  return { ptrOffset: skbAt, maxLen: Math.max(...o) + 16, kernel: { deref: m[0], at: 0 } };
}

/** Where a tcp_sock's sequence numbers and windows are in tcpSockCopy()'s bytes. */
export interface TcpSockPlaces {
  snxt: number;
  suna: number;
  swnd: number;
  rwnd: number;
  cwnd: number;
  ssthresh: number;
  /** srtt_us: the smoothed round trip time in µs, times 8 */
  srtt: number;
}

let tcpSock: { from: number; bytes: number; places: TcpSockPlaces } | null | undefined;

function tcpSockLayout(): { from: number; bytes: number; places: TcpSockPlaces } | null {
  if (tcpSock !== undefined) return tcpSock;
  const o = offsetsOf('struct tcp_sock', ['snd_nxt', 'snd_una', 'snd_wnd', 'rcv_wnd', 'snd_cwnd', 'snd_ssthresh', 'srtt_us']);
  if (o === null) return (tcpSock = null);
  const from = Math.min(...o);
  const [snxt, suna, swnd, rwnd, cwnd, ssthresh, srtt] = o.map((x) => x - from);
  tcpSock = { from, bytes: Math.max(...o) + 4 - from, places: { snxt, suna, swnd, rwnd, cwnd, ssthresh, srtt } };
  return tcpSock;
}

/**
 * The sequence numbers and windows of the sk_buff's socket, read as a struct tcp_sock (the
 * span of it that holds them): meaningful only for a full TCP socket (not a request or
 * timewait socket, nor the raw socket a reset with no socket is sent from).
 */
export function tcpSockCopy(skbAt: number): UserCopy | null {
  const m = skbMoreOffsets();
  const t = tcpSockLayout();
  if (m === null || t === null) return null;
  return { ptrOffset: skbAt, maxLen: t.bytes, kernel: { deref: m[0], at: t.from } };
}

/** Where tcpSockCopy()'s members are in its bytes (null: BTF does not place them). */
export function tcpSockPlaces(): TcpSockPlaces | null {
  return tcpSockLayout()?.places ?? null;
}

/** The sk_buff's protocol (the link layer's: ETH_P_IP...), big-endian u16. */
export function ipProtocolCopy(skbAt: number): UserCopy | null {
  const o = skbOffsets();
  return o === null ? null : { ptrOffset: skbAt, maxLen: 2, kernel: { at: o[3] } };
}

/** Bytes of sock_common copied: up to the end of its last address wanted. */
export function sockCopy(skAt: number): UserCopy | null {
  const o = sockOffsets();
  if (o === null) return null;
  return { ptrOffset: skAt, maxLen: Math.max(...o) + 16, kernel: { at: 0 } };
}

/**
 * Where a socket's local and remote addresses and ports are in its copy (sockCopy()), for a
 * socket of `family`; null: not placed (no BTF) or no such family.
 */
export function sockPlaces(family: number): { laddr: number; raddr: number; lport: number; rport: number } | null {
  const o = sockOffsets();
  if (o === null || (family !== AF_INET && family !== AF_INET6)) return null;
  const [daddr, saddr, dport, num, d6, s6] = o;
  const six = family === AF_INET6;
  return { laddr: six ? s6 : saddr, raddr: six ? d6 : daddr, lport: num, rport: dport };
}

/** A socket's ends as copied (sockCopy()): addresses in text, ports in host order. */
export class SockAddrs {
  laddr = '<unknown>';
  raddr = '<unknown>';
  lport = 0;
  rport = 0;

  /** Reads the copy at `at` of `v` for a socket of `family`; false: not placed (no BTF) or no such family. */
  read(v: DataView, at: number, family: number): boolean {
    const o = sockOffsets();
    if (o === null || at < 0 || (family !== AF_INET && family !== AF_INET6)) return false;
    const [daddr, saddr, dport, num, d6, s6] = o;
    const six = family === AF_INET6;
    this.laddr = six ? ipv6At(v, at + s6) : ipv4At(v, at + saddr);
    this.lport = v.getUint16(at + num, true);
    this.rport = v.getUint16(at + dport, false);
    // not connected: no remote end
    const zero = six ? isZero(v, at + d6, 16) : v.getUint32(at + daddr, true) === 0;
    this.raddr = zero && this.rport === 0 ? '<unknown>' : six ? ipv6At(v, at + d6) : ipv4At(v, at + daddr);
    return true;
  }
}

function isZero(v: DataView, at: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (v.getUint8(at + i) !== 0) return false;
  return true;
}
