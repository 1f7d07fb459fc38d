// ip, udp and tcp with the packets' and sockets' addresses copied in the kernel as the probes
// fire (BPF), against the live kernel: ICMP (ping) over both loopbacks, and TCP, UDP and ICMP
// over IPv4 and IPv6 between this namespace and a network namespace the test makes, joined by
// a veth pair; every namespace and link made is removed, pass or fail. Without BPF, the
// addresses read "<unknown>" (one test checks that too).

import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { instancesOf, liveUnavailable, runDtrace } from './harness.js';

const skip = liveUnavailable() ?? false;
const dir = mkdtempSync(join(process.env.TMPDIR ?? '/var/tmp', 'dtrace-netaddr-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function has(cmd: string): boolean {
  return spawnSync('/bin/sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const noPing = has('ping') ? false : 'no ping (apt-get install iputils-ping)';

/** A payload size no other traffic here has, so that counts are exact. */
const PING_BYTES = 1111;
/** ICMP's header and the payload: the IP payload's length */
const ICMP_LEN = 8 + PING_BYTES;

const IP_SCRIPT = `
ip:::send, ip:::receive /args[2]->ip_plength == $1/ {
  @[probename, args[3]->if_name, args[2]->ip_saddr, args[2]->ip_daddr, args[4] != NULL ? args[4]->ipv4_protostr : args[5]->ipv6_nextstr,
    args[2]->ip_ver, args[4] != NULL ? args[4]->ipv4_ihl : 40] = count();
}
END { printa("%s %s %s -> %s %s ip%d hl%d %@d\\n", @); }`;

/** dtrace's lines (not ping's), sorted. */
function lines(s: string): string[] {
  return s.split('\n').filter((l) => /^(send|receive) /.test(l)).sort();
}

for (const [host, v, proto] of [['127.0.0.1', 4, 'ICMP'], ['::1', 6, 'ICMPv6']] as const) {
  test(`ip: ping over loopback (${host}): addresses and protocol from the packet, exact counts`, { skip: skip || noPing }, () => {
    const r = runDtrace(['-q', '-n', IP_SCRIPT, '-c', `ping -${v} -c 3 -i 0.2 -s ${PING_BYTES} ${host}`, String(ICMP_LEN)]);
    assert.equal(r.code, 0, r.stderr);
    const hl = v === 4 ? 20 : 40;
    // three echo requests and three replies, each sent and received on lo
    assert.deepEqual(lines(r.stdout), [`receive lo ${host} -> ${host} ${proto} ip${v} hl${hl} 6`, `send lo ${host} -> ${host} ${proto} ip${v} hl${hl} 6`]);
    assert.deepEqual(instancesOf(r.pid), []);
  });
}

test('ip: without BPF the addresses are <unknown>', { skip: skip || noPing }, () => {
  const r = runDtrace(['-q', '-n', IP_SCRIPT, '-c', `ping -4 -c 1 -s ${PING_BYTES} 127.0.0.1`, String(ICMP_LEN)], { env: { DTRACE_TS_NO_BPF: '1' } });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout), ['receive lo <unknown> -> <unknown>  ip4 hl20 2', 'send lo <unknown> -> <unknown>  ip4 hl20 2']);
});

for (const [fam, host] of [['udp4', '127.0.0.1'], ['udp6', '::1']] as const) {
  test(`udp: a connected socket and an unconnected one over loopback (${host}): sendto()'s destination from the datagram, ports and addresses`, { skip }, () => {
    const f = join(dir, `udp-${fam}.cjs`);
    writeFileSync(
      f,
      `const d = require('dgram');
const s = d.createSocket('${fam}');
s.bind(0, '${host}', () => {
  const port = s.address().port;
  const c = d.createSocket('${fam}');
  let n = 0;
  s.on('message', () => {
    if (++n === 1) c.connect(port, '${host}', () => c.send(Buffer.alloc(77)));
    else { c.close(); s.close(); }
  });
  c.bind(0, '${host}', () => c.send(Buffer.alloc(55), port, '${host}'));
});
`,
    );
    const r = runDtrace([
      '-q',
      '-n',
      `udp:::send, udp:::receive /pid == $target/ {
         printf("%s %s:%d -> %s:%d %d %s %s\\n", probename, args[2]->ip_saddr, args[4]->udp_sport, args[2]->ip_daddr, args[4]->udp_dport, args[4]->udp_length,
           args[3]->udps_laddr, args[3]->udps_raddr); }`,
      '-c',
      `${process.execPath} ${f}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout.split('\n').filter((l) => l !== '');
    const h = host;
    // the ports the kernel chose: the server's is the receiver's local port
    const S = new RegExp(`^receive \\S+ -> ${h.replace(/\./g, '\\.')}:(\\d+) 63 `, 'm').exec(r.stdout)?.[1];
    const C = new RegExp(`^send ${h.replace(/\./g, '\\.')}:(\\d+) `, 'm').exec(r.stdout)?.[1];
    assert.ok(S && C, r.stdout);
    // the datagrams' own ends, from their headers: as sendto() queued one on lo, and as each
    // was queued on the (unconnected) receiving socket
    assert.deepEqual(out, [
      `send ${h}:${C} -> ${h}:${S} 63 ${h} ${h}`,
      `receive ${h}:${C} -> ${h}:${S} 63 ${h} ${h}`,
      `send ${h}:${C} -> ${h}:${S} 85 ${h} ${h}`,
      `receive ${h}:${C} -> ${h}:${S} 85 ${h} ${h}`,
    ]);
  });
}

test('udp: without BPF an unconnected socket\'s send has no remote end', { skip }, () => {
  const f = join(dir, 'udp-nobpf.cjs');
  writeFileSync(f, `const s = require('dgram').createSocket('udp4');
s.bind(0, '127.0.0.1', () => s.send(Buffer.alloc(55), s.address().port, '127.0.0.1', () => s.close()));
`);
  const r = runDtrace(['-q', '-n', 'udp:::send /pid == $target/ { printf("%s:%d %d\\n", args[2]->ip_daddr, args[4]->udp_dport, args[4]->udp_length); }', '-c', `${process.execPath} ${f}`], {
    env: { DTRACE_TS_NO_BPF: '1' },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '<unknown>:0 63');
});

/** A port for the tcp workload, unlikely to be another test's. */
const TCP_PORT = 20000 + (process.pid % 20000);

for (const host of ['127.0.0.1', '::1']) {
  test(`tcp: tcpinfo_t from each segment's header over loopback (${host}): the handshake's SYN, SYN|ACK, ACK sent and received; seq and ack advance by the bytes sent; every segment sent is received`, { skip }, () => {
    const f = join(dir, `tcp-hdr-${host.replace(/:/g, '_')}.cjs`);
    writeFileSync(
      f,
      `const net = require('net');
const s = net.createServer((c) => c.once('data', () => c.end(Buffer.alloc(300)))).listen(${TCP_PORT}, '${host}', () => {
  const c = net.connect(${TCP_PORT}, '${host}', () => c.write(Buffer.alloc(1000)));
  c.on('data', () => {});
  c.on('end', () => { c.end(); s.close(); });
});
`,
    );
    const r = runDtrace([
      '-q',
      '-n',
      `tcp:::send, tcp:::receive /args[4]->tcp_sport == $1 || args[4]->tcp_dport == $1/ {
         printf("%s %s %d %d %x %u %u %d %d %s %u %u %u %d\\n", probename, args[2]->ip_saddr, args[4]->tcp_sport, args[4]->tcp_dport, args[4]->tcp_flags,
           args[4]->tcp_seq, args[4]->tcp_ack, args[4]->tcp_offset, args[2]->ip_plength - args[4]->tcp_offset, tcp_state_string[args[3]->tcps_state],
           args[3]->tcps_snxt, args[3]->tcps_suna, args[3]->tcps_cwnd, args[0]->pkt_addr != 0); }`,
      '-c',
      `${process.execPath} ${f}`,
      String(TCP_PORT),
    ]);
    assert.equal(r.code, 0, r.stderr);
    type Seg = { probe: string; saddr: string; sport: number; dport: number; flags: number; seq: number; ack: number; off: number; len: number; state: string; snxt: number; suna: number; cwnd: number; pkt: string };
    const segs: Seg[] = r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [probe, saddr, sport, dport, flags, seq, ack, off, len, state, snxt, suna, cwnd, pkt] = l.split(' ');
        return { probe, saddr, sport: +sport, dport: +dport, flags: parseInt(flags, 16), seq: +seq, ack: +ack, off: +off, len: +len, state, snxt: +snxt, suna: +suna, cwnd: +cwnd, pkt };
      });
    const P = TCP_PORT;
    const sends = segs.filter((x) => x.probe === 'send');
    for (const x of segs) {
      assert.equal(x.saddr, host);
      // the header's length: 20 bytes and its options
      assert.ok(x.off >= 20 && x.off <= 60 && x.off % 4 === 0, JSON.stringify(x));
    }
    // the handshake: SYN, SYN|ACK, ACK (TH_SYN 0x02, TH_ACK 0x10)
    const [syn, synack, ack] = sends;
    assert.deepEqual([syn.flags, syn.dport, syn.ack, syn.len, syn.state], [0x02, P, 0, 0, 'state-syn-sent'], r.stdout);
    assert.deepEqual([synack.flags, synack.sport, synack.ack, synack.len, synack.state], [0x12, P, (syn.seq + 1) >>> 0, 0, 'state-syn-received'], r.stdout);
    assert.deepEqual([ack.flags, ack.dport, ack.seq, ack.ack, ack.state], [0x10, P, (syn.seq + 1) >>> 0, (synack.seq + 1) >>> 0, 'state-established'], r.stdout);
    // received: the same three, each in the state of the socket that takes it in (the
    // listener's, the connecting socket's, the request socket's)
    const receives = segs.filter((x) => x.probe === 'receive');
    const [rsyn, rsynack, rack] = receives;
    assert.deepEqual([rsyn.flags, rsyn.dport, rsyn.seq, rsyn.ack, rsyn.state], [0x02, P, syn.seq, 0, 'state-listen'], r.stdout);
    assert.deepEqual([rsynack.flags, rsynack.sport, rsynack.seq, rsynack.ack, rsynack.state], [0x12, P, synack.seq, synack.ack, 'state-syn-sent'], r.stdout);
    assert.deepEqual([rack.flags, rack.dport, rack.seq, rack.ack, rack.state], [0x10, P, ack.seq, ack.ack, 'state-syn-received'], r.stdout);
    // over loopback each segment sent is received once, with the same header (the closing
    // ones too: FINs and ACKs taken in by sockets in FIN-WAIT and LAST-ACK)
    const key = (x: Seg) => `${x.sport} ${x.dport} ${x.flags.toString(16)} ${x.seq} ${x.ack} ${x.len}`;
    assert.deepEqual(receives.map(key).sort(), sends.map(key).sort(), r.stdout);
    assert.ok(receives.some((x) => x.state === 'state-fin-wait-1') && receives.some((x) => x.state === 'state-last-ack'), r.stdout);
    // the client's 1000 bytes: sent and received with the same numbers, and acknowledged
    const data = sends.find((x) => x.dport === P && x.len === 1000);
    assert.ok(data, r.stdout);
    assert.equal(data.seq, (syn.seq + 1) >>> 0);
    assert.ok((data.flags & 0x10) !== 0);
    assert.ok(segs.some((x) => x.probe === 'receive' && x.dport === P && x.len === 1000 && x.seq === data.seq && x.ack === data.ack), r.stdout);
    // every segment has its sk_buff (pkt_addr)
    assert.ok(segs.every((x) => x.pkt === '1'), r.stdout);
    // the sending socket's numbers as the segment is queued: the data not yet counted sent
    // (snxt is its first byte), nothing unacknowledged, a congestion window; a request
    // socket (behind the SYN|ACK) has none
    assert.deepEqual([data.snxt, data.suna, data.cwnd > 0], [data.seq, data.seq, true], r.stdout);
    assert.deepEqual([synack.snxt, synack.suna, synack.cwnd], [0, 0, 0], r.stdout);
    assert.ok(sends.some((x) => x.sport === P && x.ack === ((data.seq + 1000) >>> 0)), r.stdout);
    // the server's 300 bytes, after its SYN|ACK's one sequence number; the client acknowledges them
    const reply = sends.find((x) => x.sport === P && x.len === 300);
    assert.ok(reply, r.stdout);
    assert.equal(reply.seq, (synack.seq + 1) >>> 0);
    assert.ok(sends.some((x) => x.dport === P && x.ack >= ((reply.seq + 300) >>> 0)), r.stdout);
    // FINs (TH_FIN 0x01) both ways
    assert.ok(sends.some((x) => x.sport === P && (x.flags & 0x01) !== 0) && sends.some((x) => x.dport === P && (x.flags & 0x01) !== 0), r.stdout);
  });
}

// ---- a network namespace joined by a veth pair ----

const tag = `${process.pid % 100000}`;
const NS = `dtns${tag}`;
const HOST_IF = `dtv${tag}a`;
const NS_IF = `dtv${tag}b`;
const octet = 16 + (process.pid % 200);
const A4 = `10.213.${octet}.1`;
const B4 = `10.213.${octet}.2`;
const A6 = `fd00:213:${octet.toString(16)}::1`;
const B6 = `fd00:213:${octet.toString(16)}::2`;
let netns: string | false = skip || (has('ip') ? false : 'no ip(8)');

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

function removeNetns(): void {
  spawnSync('ip', ['link', 'del', HOST_IF], { stdio: 'ignore' });
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
}

before(() => {
  if (netns !== false) return;
  try {
    ip('netns', 'add', NS);
    ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF);
    ip('link', 'set', NS_IF, 'netns', NS);
    ip('addr', 'add', `${A4}/24`, 'dev', HOST_IF);
    ip('-6', 'addr', 'add', `${A6}/64`, 'dev', HOST_IF, 'nodad');
    ip('link', 'set', HOST_IF, 'up');
    ip('-n', NS, 'addr', 'add', `${B4}/24`, 'dev', NS_IF);
    ip('-n', NS, '-6', 'addr', 'add', `${B6}/64`, 'dev', NS_IF, 'nodad');
    ip('-n', NS, 'link', 'set', NS_IF, 'up');
    ip('-n', NS, 'link', 'set', 'lo', 'up');
  } catch (e) {
    netns = `cannot make a network namespace: ${(e as Error).message.split('\n')[0]}`;
    removeNetns();
  }
});
after(removeNetns);

for (const [a, b, v, proto] of [[A4, B4, 4, 'ICMP'], [A6, B6, 6, 'ICMPv6']] as const) {
  test(`ip: ping into a network namespace over veth (IPv${v}): each packet sent on one end and received on the other`, { skip: skip || noPing }, (t) => {
    if (netns !== false) return t.skip(netns);
    const r = runDtrace(['-q', '-n', IP_SCRIPT, '-c', `ping -${v} -c 2 -i 0.2 -s ${PING_BYTES} ${b}`, String(ICMP_LEN)]);
    assert.equal(r.code, 0, r.stderr);
    const hl = v === 4 ? 20 : 40;
    assert.deepEqual(
      lines(r.stdout),
      [
        `send ${HOST_IF} ${a} -> ${b} ${proto} ip${v} hl${hl} 2`,
        `receive ${NS_IF} ${a} -> ${b} ${proto} ip${v} hl${hl} 2`,
        `send ${NS_IF} ${b} -> ${a} ${proto} ip${v} hl${hl} 2`,
        `receive ${HOST_IF} ${b} -> ${a} ${proto} ip${v} hl${hl} 2`,
      ].sort(),
    );
  });
}

/**
 * A server in the namespace on `host` answers 1000 bytes with 300 over TCP, and a datagram of
 * 123 bytes with one of 45 over UDP; the client here connects to it (both), and all close.
 */
function nsWorkload(host: string): string {
  const server = join(dir, `server-${host.replace(/:/g, '_')}.cjs`);
  const client = join(dir, `client-${host.replace(/:/g, '_')}.cjs`);
  writeFileSync(
    server,
    `const net = require('net');
const d = require('dgram');
const u = d.createSocket('${host.includes(':') ? 'udp6' : 'udp4'}');
u.on('message', (m, from) => u.send(Buffer.alloc(45), from.port, from.address, () => u.close()));
u.bind(7001, '${host}', () => {
  const s = net.createServer((c) => c.once('data', () => c.end(Buffer.alloc(300), () => s.close()))).listen(7000, '${host}', () => console.log('ready'));
});
`,
  );
  writeFileSync(
    client,
    `const net = require('net');
const d = require('dgram');
const c = net.connect(7000, '${host}', () => c.write(Buffer.alloc(1000)));
c.on('data', () => {});
c.on('end', () => {
  c.end();
  const u = d.createSocket('${host.includes(':') ? 'udp6' : 'udp4'}');
  u.on('message', () => u.close());
  u.connect(7001, '${host}', () => u.send(Buffer.alloc(123)));
});
`,
  );
  const sh = join(dir, `ns-${host.replace(/:/g, '_')}.sh`);
  writeFileSync(
    sh,
    `ip netns exec ${NS} ${process.execPath} ${server} > ${sh}.ready &
while ! grep -q ready ${sh}.ready 2>/dev/null; do sleep 0.05; done
${process.execPath} ${client}
wait
`,
  );
  return sh;
}

for (const [a, b, v] of [[A4, B4, 4], [A6, B6, 6]] as const) {
  test(`tcp and udp into a network namespace over veth (IPv${v}): bytes, ports and addresses at both ends`, { skip }, (t) => {
    if (netns !== false) return t.skip(netns);
    const r = runDtrace([
      '-q',
      '-n',
      `tcp:::send, tcp:::receive /(args[4]->tcp_sport == 7000 || args[4]->tcp_dport == 7000) && args[2]->ip_plength - args[4]->tcp_offset > 0 && args[2]->ip_ver == $1/ {
         @[probename, args[2]->ip_saddr, args[4]->tcp_sport == 7000 ? "S" : "C", args[2]->ip_daddr, args[4]->tcp_dport == 7000 ? "S" : "C",
           args[2]->ip_plength - args[4]->tcp_offset] = count(); }
       udp:::send, udp:::receive /(args[4]->udp_sport == 7001 || args[4]->udp_dport == 7001) && args[2]->ip_ver == $1/ {
         @[probename, args[2]->ip_saddr, args[4]->udp_sport == 7001 ? "S" : "C", args[2]->ip_daddr, args[4]->udp_dport == 7001 ? "S" : "C",
           args[4]->udp_length - 8] = count(); }
       END { printa("%s %s:%s -> %s:%s %d %@d\\n", @); }`,
      '-c',
      `/bin/sh ${nsWorkload(b)}`,
      String(v),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      lines(r.stdout),
      [
        // the client's 1000 bytes, sent here and taken in there; the server's 300 back
        `send ${a}:C -> ${b}:S 1000 1`,
        `receive ${a}:C -> ${b}:S 1000 1`,
        `send ${b}:S -> ${a}:C 300 1`,
        `receive ${b}:S -> ${a}:C 300 1`,
        // udp: the client's socket is connected; the server's is not: its send and receive
        // have the datagrams' own ends, from their headers
        `send ${a}:C -> ${b}:S 123 1`,
        `receive ${a}:C -> ${b}:S 123 1`,
        `send ${b}:S -> ${a}:C 45 1`,
        `receive ${b}:S -> ${a}:C 45 1`,
      ].sort(),
    );
  });
}
