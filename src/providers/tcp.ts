// The tcp provider: connections changing state, being requested, established and refused,
// made from the kernel's sock:inet_sock_set_state and tcp:* tracepoints. Arguments are
// DTrace's: pktinfo_t, csinfo_t, ipinfo_t, tcpsinfo_t, tcpinfo_t and tcplsinfo_t, built only
// when D code reads them.                                                   [tcp.d, dt_prov_ip.c]
//
// send and receive: where BPF can be used and BTF places the sk_buff's members, send fires for
// each segment as it is queued on its device (net:net_dev_queue: handshakes, data, ACKs, FINs,
// resets, in the sender's context, or a timer's), its IP and TCP headers and its socket's
// sock_common copied as it fires: ipinfo_t and tcpinfo_t are the segment's own (ip_plength the
// TCP header and data; tcp_seq, tcp_ack, tcp_offset, tcp_flags, tcp_window, tcp_checksum,
// tcp_urgent), tcps_state the socket's (a request socket's, behind a SYN|ACK: SYN-RECEIVED; no
// socket: CLOSED). Elsewhere send fires for each send call that queued data on a TCP socket
// (sock:sock_send_length), not per segment, with the socket's addresses and ports copied from
// its sock_common as it fires where BPF and BTF can be used (net-kernel.ts), else those of a
// connection this session saw change state or receive (else "<unknown>" and port 0), and no
// TCP header: ip_plength is the payload's length and tcp_offset reads 0, so DTrace's
// `ip_plength - tcp_offset` is the payload either way.
// receive fires for each segment an established connection takes in (tcp:tcp_probe, which
// carries the socket's addresses, sequence numbers and windows, and its address since Linux
// 6.2: before, cs_addr and tcps_addr read 0), with the segment's TCP header
// copied from its sk_buff as it fires where BPF and BTF can be used. There, too, the segments
// tcp_probe does not see (no established socket takes them in) fire it as they reach the
// machine (net:netif_receive_skb, their IP and TCP headers copied), with no socket address,
// sequence numbers or windows: the handshake's, a SYN (the listener's state: LISTEN), a
// SYN|ACK (the connecting socket's: SYN-SENT) and the next segment of the connection a SYN
// opened (its request socket's: SYN-RECEIVED), and those of a connection this session saw
// leave ESTABLISHED (FIN-WAIT-1 ... LAST-ACK, as sock:inet_sock_set_state said). A SYN to a
// port nothing listens on fires too, as LISTEN; a connection that was closing before the
// session began does not. Before Linux 6.2 tcp_probe's record has no sk_buff to copy the
// header from: there (with BPF) every segment received fires this way, established ones as
// ESTABLISHED, and none from tcp_probe (so no sequence numbers or windows at receive).
//
// pkt_addr is the segment's sk_buff where the event has one (send and receive; Oracle's
// translator gives the same). At send per segment, for clauses that read tcpsinfo_t, the
// sending socket's sequence numbers and windows (tcps_snxt, tcps_suna, tcps_swnd, tcps_rwnd,
// tcps_cwnd, tcps_cwnd_ssthresh, tcps_rtt) are copied from its struct tcp_sock as the segment
// is queued, before TCP counts it sent (a new segment's tcps_snxt is its first sequence
// number); a request or timewait socket has none.
// What the tracepoints do not carry reads as zero: tcp_hdr, tcps_iss, tcps_irs, tcps_rnxt,
// tcps_mss and the like, the numbers elsewhere, and the TCP header's fields other than the
// ports where it is not copied. connect-request fires as connect()
// moves the socket to SYN-SENT, before the kernel has chosen its local port: tcps_lport is 0
// there unless the socket was bound.

import { bpfUnavailable } from '../kernel/bpf/sys.js';
import type { EventHandler } from '../kernel/tracer.js';
import type { TypeScope } from '../lang/typescope.js';
import type { ArgBuilder } from '../runtime/context.js';
import { ViewKind, viewAddress } from '../runtime/memory.js';
import { ArgStruct, NO_PID, ipv4At, ipv6At } from './arg-struct.js';
import { type DerivedProbe, DerivedProvider, type Fields, type Hook } from './derived.js';
import {
  RECEIVED_SEGMENT_BYTES,
  ipHeaderCopy,
  ipProtocolCopy,
  skbSockCopy,
  skbSockPointerCopy,
  sockCopy,
  sockPlaces,
  sockStateAt,
  tcpSockCopy,
  tcpSockPlaces,
  transportHeaderCopy,
} from './net-kernel.js';

/** Linux's TCP states (DTrace's TCP_STATE_* have the same numbers) */
const TCP_ESTABLISHED = 1;
const TCP_SYN_SENT = 2;
const TCP_SYN_RECV = 3;
const TCP_TIME_WAIT = 6;
const TCP_CLOSE = 7;
const TCP_LISTEN = 10;
/** TCP header flags */
const TH_SYN = 0x02;
const TH_ACK = 0x10;
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const IPPROTO_TCP = 6;
const AF_INET = 2;
const AF_INET6 = 10;
/** tcp_send_reset's reason: no socket took the segment */
const SK_RST_REASON_NO_SOCKET = 1;

export const TCP_ARGS = ['pktinfo_t *', 'csinfo_t *', 'ipinfo_t *', 'tcpsinfo_t *', 'tcpinfo_t *', 'tcplsinfo_t *'];

/** The arguments of one firing: what the record said, turned into DTrace's structs on demand. */
export class TcpArgs implements ArgBuilder {
  v: DataView = new DataView(new ArrayBuffer(8));
  /** where the record's local and remote addresses are (-1: unknown) */
  laddrAt = -1;
  raddrAt = -1;
  family = 0;
  lport = 0;
  rport = 0;
  state = 0;
  oldState = 0;
  /** the socket's address in the kernel (high and low halves; 0: none) */
  skHi = 0;
  skLo = 0;
  /** the packet goes out (the local address is its source) */
  outbound = true;
  /** send and receive: the payload's length, and whether the socket's numbers below are known */
  plength = 0;
  seqs = false;
  /** where the segment's TCP header is in `v` (-1: not known) */
  thAt = -1;
  /** the segment's sk_buff in the kernel (high and low halves; 0: none) */
  pktHi = 0;
  pktLo = 0;
  snxt = 0;
  suna = 0;
  swnd = 0;
  rwnd = 0;
  cwnd = 0;
  ssthresh = 0;
  rtt = 0;
  private readonly pkt: ArgStruct;
  private readonly cs: ArgStruct;
  private readonly ip: ArgStruct;
  private readonly tcps: ArgStruct;
  private readonly tcp: ArgStruct;
  private readonly tcpls: ArgStruct;

  constructor(types: TypeScope) {
    this.pkt = new ArgStruct(types, 'pktinfo_t');
    this.cs = new ArgStruct(types, 'csinfo_t');
    this.ip = new ArgStruct(types, 'ipinfo_t');
    this.tcps = new ArgStruct(types, 'tcpsinfo_t');
    this.tcp = new ArgStruct(types, 'tcpinfo_t');
    this.tcpls = new ArgStruct(types, 'tcplsinfo_t');
  }

  private addr(at: number): string {
    if (at < 0) return '<unknown>';
    return this.family === AF_INET6 ? ipv6At(this.v, at) : ipv4At(this.v, at);
  }

  private sk(): bigint {
    return (BigInt(this.skHi >>> 0) << 32n) | BigInt(this.skLo >>> 0);
  }

  build(slot: number): Uint8Array | null {
    switch (slot) {
      case 0: {
        // the sk_buff's address, as Oracle's translator from struct sk_buff gives it
        const s = this.pkt;
        s.clear();
        s.set('pkt_addr', (BigInt(this.pktHi >>> 0) << 32n) | BigInt(this.pktLo >>> 0));
        return s.bytes;
      }
      case 1: {
        const s = this.cs;
        s.clear();
        s.set('cs_addr', this.sk());
        s.set('cs_pid', NO_PID);
        return s.bytes;
      }
      case 2: {
        const s = this.ip;
        s.clear();
        s.set('ip_ver', this.family === AF_INET6 ? 6 : this.family === AF_INET ? 4 : 0);
        const l = this.addr(this.laddrAt);
        const r = this.addr(this.raddrAt);
        s.str('ip_saddr', this.outbound ? l : r);
        s.str('ip_daddr', this.outbound ? r : l);
        s.set('ip_plength', this.plength);
        return s.bytes;
      }
      case 3: {
        const s = this.tcps;
        s.clear();
        s.set('tcps_addr', this.sk());
        const l = this.addr(this.laddrAt);
        const r = this.addr(this.raddrAt);
        s.set('tcps_local', this.laddrAt >= 0 && l === r ? 1 : 0);
        s.set('tcps_lport', this.lport);
        s.set('tcps_rport', this.rport);
        s.str('tcps_laddr', l);
        s.str('tcps_raddr', r);
        s.set('tcps_state', this.state);
        if (this.seqs) {
          s.set('tcps_snxt', this.snxt);
          s.set('tcps_suna', this.suna);
          s.set('tcps_swnd', this.swnd);
          s.set('tcps_rwnd', this.rwnd);
          s.set('tcps_cwnd', this.cwnd);
          s.set('tcps_cwnd_ssthresh', this.ssthresh);
          s.set('tcps_rtt', this.rtt);
        }
        return s.bytes;
      }
      case 4: {
        const s = this.tcp;
        s.clear();
        s.set('tcp_sport', this.outbound ? this.lport : this.rport);
        s.set('tcp_dport', this.outbound ? this.rport : this.lport);
        const th = this.thAt;
        if (th >= 0) {
          // tcp.d's translator from struct tcphdr, in host order
          const v = this.v;
          s.set('tcp_seq', v.getUint32(th + 4, false));
          s.set('tcp_ack', v.getUint32(th + 8, false));
          s.set('tcp_offset', (v.getUint8(th + 12) >>> 4) * 4);
          s.set('tcp_flags', v.getUint8(th + 13));
          s.set('tcp_window', v.getUint16(th + 14, false));
          s.set('tcp_checksum', v.getUint16(th + 16, false));
          s.set('tcp_urgent', v.getUint16(th + 18, false));
        }
        return s.bytes;
      }
      case 5: {
        const s = this.tcpls;
        s.set('tcps_state', this.oldState);
        return s.bytes;
      }
      default:
        return null;
    }
  }
}

function pointArgs(h: Hook, a: TcpArgs): void {
  const args = h.ctx.args;
  for (let i = 0; i < 6; i++) args[i] = viewAddress(ViewKind.Arg, i);
  h.ctx.argBuild = a;
}

/** Where inet_sock_set_state's record holds the socket, its new state, ports and addresses. */
function stateFields(f: Fields) {
  return {
    skAt: f.at('skaddr'),
    newAt: f.at('newstate'),
    sportAt: f.at('sport'),
    dportAt: f.at('dport'),
    famAt: f.at('family'),
    protoAt: f.at('protocol'),
    s4: f.at('saddr'),
    d4: f.at('daddr'),
    s6: f.at('saddr_v6'),
    d6: f.at('daddr_v6'),
  };
}

/**
 * inet_sock_set_state for TCP sockets: `fire` says whether this change is the probe's
 * (from old to new state, on socket `sk`), and `a` takes the record.
 */
function onStateChange(a: TcpArgs, fire: (oldState: number, newState: number, skLo: number, skHi: number) => boolean) {
  return (f: Fields, h: Hook): EventHandler => {
    const pidAt = f.at('common_pid');
    const oldAt = f.at('oldstate');
    const { skAt, newAt, sportAt, dportAt, famAt, protoAt, s4, d4, s6, d6 } = stateFields(f);
    return (cpu, _p, v, o, _l, ts) => {
      if (v.getUint16(o + protoAt, true) !== IPPROTO_TCP) return;
      const oldState = v.getInt32(o + oldAt, true);
      const newState = v.getInt32(o + newAt, true);
      const skLo = v.getUint32(o + skAt, true);
      const skHi = v.getUint32(o + skAt + 4, true);
      if (!fire(oldState, newState, skLo, skHi)) return;
      const fam = v.getUint16(o + famAt, true);
      a.v = v;
      a.family = fam;
      a.laddrAt = o + (fam === AF_INET6 ? s6 : s4);
      a.raddrAt = o + (fam === AF_INET6 ? d6 : d4);
      a.lport = v.getUint16(o + sportAt, true);
      a.rport = v.getUint16(o + dportAt, true);
      a.state = newState;
      a.oldState = oldState;
      a.skLo = skLo;
      a.skHi = skHi;
      a.outbound = true;
      a.plength = 0;
      a.seqs = false;
      a.thAt = -1;
      a.pktHi = 0;
      a.pktLo = 0;
      pointArgs(h, a);
      h.fireAs(v.getInt32(o + pidAt, true), cpu, ts);
    };
  };
}

/** A connection's addresses (local at 0, remote at 16) and ports, as last seen. */
class Conn {
  readonly v = new DataView(new ArrayBuffer(32));
  family = 0;
  lport = 0;
  rport = 0;
  state = 0;
}

/** TCP sockets by kernel address, learnt from the events that carry their addresses. */
class Conns {
  private readonly bySk = new Map<number, Conn>();

  /** Records the socket at `sk` (lo ^ hi) with the addresses at `l`, `r` of `v` (4 or 16 bytes). */
  learn(key: number, fam: number, v: DataView, l: number, r: number, lport: number, rport: number, state: number): void {
    if (state === TCP_CLOSE) {
      this.bySk.delete(key);
      return;
    }
    let c = this.bySk.get(key);
    if (c === undefined) {
      // bounded: sockets closed before this session began are never seen closing
      if (this.bySk.size >= 65536) this.bySk.clear();
      c = new Conn();
      this.bySk.set(key, c);
    }
    const n = fam === AF_INET6 ? 16 : 4;
    for (let i = 0; i < n; i++) {
      c.v.setUint8(i, v.getUint8(l + i));
      c.v.setUint8(16 + i, v.getUint8(r + i));
    }
    c.family = fam;
    c.lport = lport;
    c.rport = rport;
    c.state = state;
  }

  get(key: number): Conn | undefined {
    return this.bySk.get(key);
  }
}

/** A TCP socket's changes of state, only to learn its addresses. */
function learnStates(conns: Conns) {
  return (f: Fields): EventHandler => {
    const { skAt, newAt, sportAt, dportAt, famAt, protoAt, s4, d4, s6, d6 } = stateFields(f);
    return (_c, _p, v, o) => {
      if (v.getUint16(o + protoAt, true) !== IPPROTO_TCP) return;
      const fam = v.getUint16(o + famAt, true);
      const key = v.getUint32(o + skAt, true) ^ v.getUint32(o + skAt + 4, true);
      const six = fam === AF_INET6;
      conns.learn(key, fam, v, o + (six ? s6 : s4), o + (six ? d6 : d4), v.getUint16(o + sportAt, true), v.getUint16(o + dportAt, true), v.getInt32(o + newAt, true));
    };
  };
}

/** Where tcp_probe's fields are. */
class ProbeFields {
  readonly pid: number;
  /** the socket (-1: the record has none: Linux before 6.2) */
  readonly sk: number;
  readonly fam: number;
  readonly saddr: number;
  readonly daddr: number;
  readonly sport: number;
  readonly dport: number;
  readonly len: number;
  readonly snxt: number;
  readonly suna: number;
  readonly cwnd: number;
  readonly ssthresh: number;
  readonly swnd: number;
  readonly srtt: number;
  readonly rwnd: number;

  constructor(f: Fields) {
    this.pid = f.at('common_pid');
    this.sk = f.has('skaddr') ? f.at('skaddr') : -1;
    this.fam = f.at('family');
    this.saddr = f.at('saddr');
    this.daddr = f.at('daddr');
    this.sport = f.at('sport');
    this.dport = f.at('dport');
    this.len = f.at('data_len');
    this.snxt = f.at('snd_nxt');
    this.suna = f.at('snd_una');
    this.cwnd = f.at('snd_cwnd');
    this.ssthresh = f.at('ssthresh');
    this.swnd = f.at('snd_wnd');
    this.srtt = f.at('srtt');
    this.rwnd = f.at('rcv_wnd');
  }
}

/** tcp_probe: a segment taken in by an established connection (saddr is the local end). */
function onReceive(a: TcpArgs, conns: Conns | null) {
  return (f: Fields, h: Hook | null): EventHandler => {
    const P = new ProbeFields(f);
    const id = f.format.id;
    // the segment's TCP header (head + transport_header of its sk_buff), copied as it fires
    const copy = h !== null && (h.reads(2) || h.reads(4)) && f.has('skbaddr') ? transportHeaderCopy(f.at('skbaddr')) : null;
    const user = h?.tracer.user;
    const thJ = copy === null || user === undefined ? -1 : user.want(f.format, [copy])[0];
    const skbAt = f.has('skbaddr') ? f.at('skbaddr') : -1;
    return (cpu, _p, v, o, _l, ts) => {
      const fam = v.getUint16(o + P.fam, true);
      // the addresses are sockaddr_in (address at 4) or sockaddr_in6 (at 8)
      const at = fam === AF_INET6 ? 8 : 4;
      const lport = v.getUint16(o + P.sport, true);
      const rport = v.getUint16(o + P.dport, true);
      const skLo = P.sk < 0 ? 0 : v.getUint32(o + P.sk, true);
      const skHi = P.sk < 0 ? 0 : v.getUint32(o + P.sk + 4, true);
      if (conns !== null && P.sk >= 0) conns.learn(skLo ^ skHi, fam, v, o + P.saddr + at, o + P.daddr + at, lport, rport, TCP_ESTABLISHED);
      if (h === null) return;
      a.v = v;
      a.family = fam;
      a.laddrAt = o + P.saddr + at;
      a.raddrAt = o + P.daddr + at;
      a.lport = lport;
      a.rport = rport;
      a.state = TCP_ESTABLISHED;
      a.oldState = TCP_ESTABLISHED;
      a.skLo = skLo;
      a.skHi = skHi;
      a.outbound = false;
      a.thAt = thJ < 0 ? -1 : user!.kernelCopyAt(id, v, o, thJ);
      // the IP payload: the data and the TCP header (its length, where the header is known)
      a.plength = v.getUint16(o + P.len, true) + (a.thAt < 0 ? 0 : (v.getUint8(a.thAt + 12) >>> 4) * 4);
      a.pktLo = skbAt < 0 ? 0 : v.getUint32(o + skbAt, true);
      a.pktHi = skbAt < 0 ? 0 : v.getUint32(o + skbAt + 4, true);
      a.seqs = true;
      a.snxt = v.getUint32(o + P.snxt, true);
      a.suna = v.getUint32(o + P.suna, true);
      a.swnd = v.getUint32(o + P.swnd, true);
      a.rwnd = v.getUint32(o + P.rwnd, true);
      a.cwnd = v.getUint32(o + P.cwnd, true);
      a.ssthresh = v.getUint32(o + P.ssthresh, true);
      a.rtt = v.getUint32(o + P.srtt, true);
      pointArgs(h, a);
      h.fireAs(v.getInt32(o + P.pid, true), cpu, ts);
    };
  };
}

/** sock_send_length on a TCP socket: a send call queued `ret` bytes. */
function onSend(a: TcpArgs, conns: Conns) {
  const none = new DataView(new ArrayBuffer(32));
  return (f: Fields, h: Hook): EventHandler => {
    const pidAt = f.at('common_pid');
    const skAt = f.at('sk');
    const famAt = f.at('family');
    const protoAt = f.at('protocol');
    const retAt = f.at('ret');
    const id = f.format.id;
    const user = h.tracer.user;
    // the socket's ends copied as it fires (BPF and BTF), else as last seen
    const copy = h.reads(2) || h.reads(3) || h.reads(4) ? sockCopy(skAt) : null;
    const j = copy === null ? -1 : user.want(f.format, [copy])[0];
    return (cpu, _p, v, o, _l, ts) => {
      if (v.getUint16(o + protoAt, true) !== IPPROTO_TCP) return;
      const ret = v.getInt32(o + retAt, true);
      if (ret <= 0) return;
      const skLo = v.getUint32(o + skAt, true);
      const skHi = v.getUint32(o + skAt + 4, true);
      const c = conns.get(skLo ^ skHi);
      a.family = v.getUint16(o + famAt, true);
      const at = j < 0 ? -1 : user.kernelCopyAt(id, v, o, j);
      const places = at < 0 ? null : sockPlaces(a.family);
      if (places !== null) {
        a.v = v;
        a.laddrAt = at + places.laddr;
        a.raddrAt = at + places.raddr;
        a.lport = v.getUint16(at + places.lport, true);
        a.rport = v.getUint16(at + places.rport, false);
        a.state = c !== undefined ? c.state : TCP_ESTABLISHED;
      } else if (c !== undefined) {
        a.v = c.v;
        a.laddrAt = 0;
        a.raddrAt = 16;
        a.lport = c.lport;
        a.rport = c.rport;
        a.state = c.state;
      } else {
        a.v = none;
        a.laddrAt = -1;
        a.raddrAt = -1;
        a.lport = 0;
        a.rport = 0;
        a.state = TCP_ESTABLISHED;
      }
      a.oldState = a.state;
      a.skLo = skLo;
      a.skHi = skHi;
      a.outbound = true;
      a.plength = ret;
      a.seqs = false;
      a.thAt = -1;
      a.pktHi = 0;
      a.pktLo = 0;
      pointArgs(h, a);
      h.fireAs(v.getInt32(o + pidAt, true), cpu, ts);
    };
  };
}

/** Linux's state of a request socket (a SYN received, the SYN|ACK sent): DTrace's SYN-RECEIVED */
const TCP_NEW_SYN_RECV = 12;

/**
 * Whether tcp:::send fires per segment as it is queued on its device (net:net_dev_queue, with
 * its IP and TCP headers and its socket copied as it fires): where BPF can be used and BTF
 * places the sk_buff's headers and socket. Elsewhere it fires per send call (onSend).
 */
function segments(): boolean {
  return bpfUnavailable() === null && ipHeaderCopy(0, true) !== null && transportHeaderCopy(0) !== null && skbSockCopy(0) !== null && skbSockPointerCopy(0) !== null;
}

/**
 * Whether a socket in Linux state `st` is a whole struct tcp_sock with sequence numbers: not a
 * request socket (NEW_SYN_RECV), a timewait one, a listener, nor a closed one (a reset with no
 * socket goes out on a raw control socket).
 */
function fullSocket(st: number): boolean {
  return st > 0 && st < TCP_NEW_SYN_RECV && st !== TCP_TIME_WAIT && st !== TCP_CLOSE && st !== TCP_LISTEN;
}

/** net_dev_queue: a TCP segment goes out (any of the machine's: handshakes, data, ACKs, resets). */
function onSegment(a: TcpArgs) {
  return (f: Fields, h: Hook): EventHandler => {
    const pidAt = f.at('common_pid');
    const skbAt = f.at('skbaddr');
    const id = f.format.id;
    const user = h.tracer.user;
    const [ipJ, thJ, skJ, skpJ] = user.want(f.format, [ipHeaderCopy(skbAt, true)!, transportHeaderCopy(skbAt)!, skbSockCopy(skbAt)!, skbSockPointerCopy(skbAt)!]);
    const stateAt = sockStateAt();
    // the socket's sequence numbers and windows, for clauses that read tcpsinfo_t
    const tcpCopy = h.reads(3) ? tcpSockCopy(skbAt) : null;
    const T = tcpSockPlaces();
    const tcpJ = tcpCopy === null ? -1 : user.want(f.format, [tcpCopy])[0];
    return (cpu, _p, v, o, _l, ts) => {
      const ip = user.kernelCopyAt(id, v, o, ipJ);
      if (ip < 0) return;
      const ver = v.getUint8(ip) >>> 4;
      let plength: number;
      if (ver === 4) {
        // TCP, and not a later fragment
        if (v.getUint8(ip + 9) !== IPPROTO_TCP || (v.getUint16(ip + 6, false) & 0x1fff) !== 0) return;
        plength = v.getUint16(ip + 2, false) - (v.getUint8(ip) & 0xf) * 4;
        a.family = AF_INET;
        a.laddrAt = ip + 12;
        a.raddrAt = ip + 16;
      } else if (ver === 6) {
        if (v.getUint8(ip + 6) !== IPPROTO_TCP) return;
        plength = v.getUint16(ip + 4, false);
        a.family = AF_INET6;
        a.laddrAt = ip + 8;
        a.raddrAt = ip + 24;
      } else {
        return;
      }
      const th = user.kernelCopyAt(id, v, o, thJ);
      if (th < 0) return;
      const sk = user.kernelCopyAt(id, v, o, skJ);
      const skp = user.kernelCopyAt(id, v, o, skpJ);
      // the socket's state (a request socket's: SYN-RECEIVED); no socket (a reset for a
      // segment no socket took): CLOSED
      const st = sk < 0 ? TCP_CLOSE : v.getUint8(sk + stateAt);
      a.v = v;
      a.thAt = th;
      a.lport = v.getUint16(th, false);
      a.rport = v.getUint16(th + 2, false);
      a.state = st === TCP_NEW_SYN_RECV ? TCP_SYN_RECV : st;
      a.oldState = a.state;
      a.skLo = skp < 0 ? 0 : v.getUint32(skp, true);
      a.skHi = skp < 0 ? 0 : v.getUint32(skp + 4, true);
      a.outbound = true;
      a.plength = plength;
      a.pktLo = v.getUint32(o + skbAt, true);
      a.pktHi = v.getUint32(o + skbAt + 4, true);
      const t = tcpJ < 0 || !fullSocket(st) ? -1 : user.kernelCopyAt(id, v, o, tcpJ);
      a.seqs = t >= 0 && T !== null;
      if (a.seqs) {
        a.snxt = v.getUint32(t + T!.snxt, true);
        a.suna = v.getUint32(t + T!.suna, true);
        a.swnd = v.getUint32(t + T!.swnd, true);
        a.rwnd = v.getUint32(t + T!.rwnd, true);
        a.cwnd = v.getUint32(t + T!.cwnd, true);
        a.ssthresh = v.getUint32(t + T!.ssthresh, true);
        // in µs, as tcp_probe gives it at receive
        a.rtt = v.getUint32(t + T!.srtt, true) >>> 3;
      }
      pointArgs(h, a);
      h.fireAs(v.getInt32(o + pidAt, true), cpu, ts);
    };
  };
}

/**
 * The state of connections whose segments no established socket takes in (tcp_probe does not
 * see them), by their ends: those a SYN received opened and no later segment has reached yet
 * (their request sockets: SYN-RECEIVED), and those closing (FIN-WAIT-1 ... LAST-ACK). A fixed
 * table, so nothing is allocated per segment; a connection whose slot another takes is
 * forgotten (its segments then do not fire).
 */
class Unestablished {
  private static readonly SLOTS = 4096;
  /** per slot: the state (0: none), family, local and remote ports (2 bytes each), local and remote addresses (16 each) */
  private static readonly SLOT_BYTES = 40;
  private readonly t = new Uint8Array(Unestablished.SLOTS * Unestablished.SLOT_BYTES);

  /** The slot of the ends at `l`, `r` of `v` (`n` bytes each) and ports `lport`, `rport`. */
  private slot(v: DataView, l: number, r: number, n: number, lport: number, rport: number): number {
    // FNV-1a over the ports and addresses
    let h = Math.imul(0x811c9dc5 ^ lport, 0x01000193) ^ rport;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ v.getUint8(l + i), 0x01000193);
    for (let i = 0; i < n; i++) h = Math.imul(h ^ v.getUint8(r + i), 0x01000193);
    return ((h >>> 0) % Unestablished.SLOTS) * Unestablished.SLOT_BYTES;
  }

  /** Records the connection's state (0: forgets it). */
  set(fam: number, v: DataView, l: number, r: number, lport: number, rport: number, state: number): void {
    const n = fam === AF_INET6 ? 16 : 4;
    const s = this.slot(v, l, r, n, lport, rport);
    const t = this.t;
    if (state === 0) {
      if (this.holds(s, fam, v, l, r, n, lport, rport)) t[s] = 0;
      return;
    }
    t[s] = state;
    t[s + 1] = fam;
    t[s + 2] = lport >>> 8;
    t[s + 3] = lport & 0xff;
    t[s + 4] = rport >>> 8;
    t[s + 5] = rport & 0xff;
    for (let i = 0; i < n; i++) {
      t[s + 8 + i] = v.getUint8(l + i);
      t[s + 24 + i] = v.getUint8(r + i);
    }
  }

  /** The connection's state, 0 if not here. */
  get(fam: number, v: DataView, l: number, r: number, lport: number, rport: number): number {
    const n = fam === AF_INET6 ? 16 : 4;
    const s = this.slot(v, l, r, n, lport, rport);
    return this.holds(s, fam, v, l, r, n, lport, rport) ? this.t[s] : 0;
  }

  private holds(s: number, fam: number, v: DataView, l: number, r: number, n: number, lport: number, rport: number): boolean {
    const t = this.t;
    if (t[s] === 0 || t[s + 1] !== fam || t[s + 2] !== lport >>> 8 || t[s + 3] !== (lport & 0xff) || t[s + 4] !== rport >>> 8 || t[s + 5] !== (rport & 0xff)) return false;
    for (let i = 0; i < n; i++) if (t[s + 8 + i] !== v.getUint8(l + i) || t[s + 24 + i] !== v.getUint8(r + i)) return false;
    return true;
  }
}

/** An IPv6 address that is an IPv4 one (::ffff:a.b.c.d): a dual-stack socket's IPv4 connection. */
function v4Mapped(v: DataView, at: number): boolean {
  for (let i = 0; i < 10; i++) if (v.getUint8(at + i) !== 0) return false;
  return v.getUint16(at + 10, false) === 0xffff;
}

/**
 * inet_sock_set_state for TCP sockets: learns which connections are closing (their segments
 * reach tcp_rcv_state_process, not tcp_probe) and which are established again or gone.
 */
function learnClosing(table: Unestablished) {
  return (f: Fields): EventHandler => {
    const { newAt, sportAt, dportAt, famAt, protoAt, s4, d4, s6, d6 } = stateFields(f);
    return (_c, _p, v, o) => {
      if (v.getUint16(o + protoAt, true) !== IPPROTO_TCP) return;
      const st = v.getInt32(o + newAt, true);
      // the handshake's states are known from the segments' flags (onReceivedSegment)
      if (st === TCP_SYN_SENT || st === TCP_SYN_RECV || st === TCP_LISTEN || st === TCP_NEW_SYN_RECV) return;
      const keep = st === TCP_ESTABLISHED || st === TCP_CLOSE ? 0 : st;
      const fam = v.getUint16(o + famAt, true);
      // the record holds both families' addresses: an IPv4 connection of an IPv6 socket is keyed as its packets are
      const four = fam === AF_INET || (fam === AF_INET6 && v4Mapped(v, o + s6) && v4Mapped(v, o + d6));
      if (four) table.set(AF_INET, v, o + s4, o + d4, v.getUint16(o + sportAt, true), v.getUint16(o + dportAt, true), keep);
      else if (fam === AF_INET6) table.set(AF_INET6, v, o + s6, o + d6, v.getUint16(o + sportAt, true), v.getUint16(o + dportAt, true), keep);
    };
  };
}

/**
 * Whether tcp_probe's record has the segment's sk_buff (Linux 6.2 and later), so that its
 * header can be copied as it fires; before, every segment received fires from
 * netif_receive_skb (onReceivedSegment), and none from tcp_probe, where BPF can be used.
 */
function probeHasSkb(h: Hook): boolean {
  try {
    return h.tracer.format('tcp', 'tcp_probe').fields.some((x) => x.name === 'skbaddr');
  } catch {
    return false;
  }
}

/** Whether segments received that tcp_probe does not see fire receive (onReceivedSegment): where BPF can be used and BTF places the sk_buff's data. */
function handshakes(): boolean {
  return bpfUnavailable() === null && ipHeaderCopy(0, false) !== null && ipProtocolCopy(0) !== null;
}

/**
 * netif_receive_skb: a packet reaches the machine (any of its interfaces, loopback's too); of
 * TCP segments, fires receive for those no established socket takes in, which tcp_probe does
 * not see: the handshake's and a closing connection's.
 */
function onReceivedSegment(a: TcpArgs, table: Unestablished) {
  return (f: Fields, h: Hook): EventHandler => {
    // where tcp_probe cannot have the segment's header, every segment fires here
    const every = !probeHasSkb(h);
    const pidAt = f.at('common_pid');
    const skbAt = f.at('skbaddr');
    const id = f.format.id;
    const user = h.tracer.user;
    const [segJ, protoJ] = user.want(f.format, [ipHeaderCopy(skbAt, false, RECEIVED_SEGMENT_BYTES)!, ipProtocolCopy(skbAt)!]);
    return (cpu, _p, v, o, _l, ts) => {
      const pr = user.kernelCopyAt(id, v, o, protoJ);
      const ip = user.kernelCopyAt(id, v, o, segJ);
      if (pr < 0 || ip < 0) return;
      const proto = v.getUint16(pr, false);
      let th: number;
      let plength: number;
      if (proto === ETH_P_IP) {
        const ihl = (v.getUint8(ip) & 0xf) * 4;
        // TCP, and not a later fragment
        if (v.getUint8(ip) >>> 4 !== 4 || v.getUint8(ip + 9) !== IPPROTO_TCP || (v.getUint16(ip + 6, false) & 0x1fff) !== 0 || ihl < 20) return;
        th = ip + ihl;
        plength = v.getUint16(ip + 2, false) - ihl;
        a.family = AF_INET;
        a.raddrAt = ip + 12;
        a.laddrAt = ip + 16;
      } else if (proto === ETH_P_IPV6) {
        if (v.getUint8(ip) >>> 4 !== 6 || v.getUint8(ip + 6) !== IPPROTO_TCP) return;
        th = ip + 40;
        plength = v.getUint16(ip + 4, false);
        a.family = AF_INET6;
        a.raddrAt = ip + 8;
        a.laddrAt = ip + 24;
      } else {
        return;
      }
      const rport = v.getUint16(th, false);
      const lport = v.getUint16(th + 2, false);
      const flags = v.getUint8(th + 13);
      let state: number;
      if ((flags & TH_SYN) !== 0) {
        if ((flags & TH_ACK) !== 0) {
          state = TCP_SYN_SENT;
        } else {
          state = TCP_LISTEN;
          table.set(a.family, v, a.laddrAt, a.raddrAt, lport, rport, TCP_SYN_RECV);
        }
      } else {
        state = table.get(a.family, v, a.laddrAt, a.raddrAt, lport, rport);
        if (state === 0) {
          // an established connection's (tcp_probe fires for it, where it has the header), or
          // one this session does not know
          if (!every) return;
          state = TCP_ESTABLISHED;
        }
        // the segment that completes (or ends) a handshake: the connection is established or gone after it
        if (state === TCP_SYN_RECV) table.set(a.family, v, a.laddrAt, a.raddrAt, lport, rport, 0);
      }
      a.v = v;
      a.thAt = th;
      a.lport = lport;
      a.rport = rport;
      a.state = state;
      a.oldState = state;
      a.skLo = 0;
      a.skHi = 0;
      a.outbound = false;
      a.plength = plength;
      a.seqs = false;
      a.pktLo = v.getUint32(o + skbAt, true);
      a.pktHi = v.getUint32(o + skbAt + 4, true);
      pointArgs(h, a);
      h.fireAs(v.getInt32(o + pidAt, true), cpu, ts);
    };
  };
}

/** Whether tcp:::send needs to learn connections' addresses from other events (see onSend). */
function learnersNeeded(h: Hook): boolean {
  if (!h.reads(2) && !h.reads(3) && !h.reads(4)) return false;
  if (segments()) return false;
  return sockCopy(0) === null || bpfUnavailable() !== null;
}

function probes(types: TypeScope): DerivedProbe[] {
  const conns = new Conns();
  const learnProbe = onReceive(new TcpArgs(types), conns);
  const a = new TcpArgs(types);
  const change = (fire: Parameters<typeof onStateChange>[1]) => [{ system: 'sock', event: 'inet_sock_set_state', handler: onStateChange(a, fire) }];
  /** sockets that received a reset (tcp_receive_reset comes just before the state change it causes, on the same CPU) */
  const reset = new Set<number>();
  const unestablished = new Unestablished();
  return [
    {
      name: 'accept-established',
      args: TCP_ARGS,
      sources: change((o, n) => o === TCP_SYN_RECV && n === TCP_ESTABLISHED),
    },
    {
      name: 'accept-refused',
      args: TCP_ARGS,
      // a reset sent for a segment no socket took: the local side is the reset's source
      sources: [
        {
          system: 'tcp',
          event: 'tcp_send_reset',
          handler: (f, h) => {
            const pidAt = f.at('common_pid');
            const skAt = f.at('skaddr');
            const reasonAt = f.has('reason') ? f.at('reason') : -1;
            const srcAt = f.at('saddr');
            const dstAt = f.at('daddr');
            return (cpu, _p, v, o, _l, ts) => {
              if (v.getUint32(o + skAt, true) !== 0 || v.getUint32(o + skAt + 4, true) !== 0) return;
              if (reasonAt >= 0 && v.getUint32(o + reasonAt, true) !== SK_RST_REASON_NO_SOCKET) return;
              const fam = v.getUint16(o + srcAt, true);
              a.v = v;
              a.family = fam;
              a.laddrAt = o + srcAt + (fam === AF_INET6 ? 8 : 4);
              a.raddrAt = o + dstAt + (fam === AF_INET6 ? 8 : 4);
              a.lport = v.getUint16(o + srcAt + 2, false);
              a.rport = v.getUint16(o + dstAt + 2, false);
              a.state = TCP_CLOSE;
              a.oldState = TCP_CLOSE;
              a.skLo = 0;
              a.skHi = 0;
              a.outbound = true;
              a.plength = 0;
              a.seqs = false;
              a.thAt = -1;
              a.pktHi = 0;
              a.pktLo = 0;
              pointArgs(h, a);
              h.fireAs(v.getInt32(o + pidAt, true), cpu, ts);
            };
          },
        },
      ],
    },
    {
      name: 'connect-established',
      args: TCP_ARGS,
      sources: change((o, n) => o === TCP_SYN_SENT && n === TCP_ESTABLISHED),
    },
    {
      name: 'connect-refused',
      args: TCP_ARGS,
      // a reset received in SYN-SENT closes the socket
      sources: [
        {
          system: 'tcp',
          event: 'tcp_receive_reset',
          handler: (f) => {
            const skAt = f.at('skaddr');
            return (_c, _p, v, o) => {
              reset.add(v.getUint32(o + skAt, true) ^ v.getUint32(o + skAt + 4, true));
            };
          },
        },
        ...change((o, n, lo, hi) => n === TCP_CLOSE && reset.delete(lo ^ hi) && o === TCP_SYN_SENT),
      ],
    },
    {
      name: 'connect-request',
      args: TCP_ARGS,
      sources: change((o, n) => o === TCP_CLOSE && n === TCP_SYN_SENT),
    },
    {
      name: 'receive',
      args: TCP_ARGS,
      sources: [
        { system: 'tcp', event: 'tcp_probe', handler: onReceive(a, null), needed: (h) => !handshakes() || probeHasSkb(h) },
        { system: 'sock', event: 'inet_sock_set_state', handler: learnClosing(unestablished), needed: handshakes },
        { system: 'net', event: 'netif_receive_skb', handler: onReceivedSegment(a, unestablished), needed: handshakes },
      ],
    },
    {
      name: 'send',
      args: TCP_ARGS,
      sources: [
        // the connections' addresses as last seen: only for clauses that read them where the
        // socket's cannot be copied as the probe fires
        { system: 'sock', event: 'inet_sock_set_state', handler: learnStates(conns), needed: learnersNeeded },
        { system: 'tcp', event: 'tcp_probe', handler: (f) => learnProbe(f, null), needed: learnersNeeded },
        { system: 'sock', event: 'sock_send_length', handler: onSend(a, conns), needed: () => !segments() },
        { system: 'net', event: 'net_dev_queue', handler: onSegment(a), needed: segments },
      ],
    },
    {
      name: 'state-change',
      args: TCP_ARGS,
      sources: change(() => true),
    },
  ];
}

export class TcpProvider extends DerivedProvider {
  readonly name = 'tcp';
  protected readonly table: DerivedProbe[];

  constructor(types: TypeScope) {
    super(types);
    this.table = probes(types);
  }
}
