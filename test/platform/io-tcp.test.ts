// io and tcp on this platform: O_DIRECT reads of a loop device (over a file in a tmpfs: its
// only I/O is the test's) summed exactly by io:::start, and a loopback TCP connection made by
// node, its states and its payload seen by tcp:::state-change and tcp:::send with its ports,
// and its segments seen by tcp:::receive as tcp:::send saw them; where the kernel has kprobe
// events, io:::wait-start and wait-done around the flush an fsync of a loop device waits for.

import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { instancesOf, runDtrace } from '../live/harness.js';
import { READY_MS, kprobesOf, skipUnless } from './lab.js';

const dir = mkdtempSync(join(tmpdir(), 'lab-io-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BLOCKS = 16;
const BS = 65536;

test(`io:::start sums a dd iflag=direct of ${BLOCKS} x ${BS} bytes of a loop device exactly`, { skip: skipUnless('kernel', 'loop') }, () => {
  const img = join(dir, 'loop.img');
  writeFileSync(img, Buffer.alloc(4 << 20));
  // util-linux's and busybox's losetup alike: the next free device, then the file on it
  const loop = execFileSync('losetup', ['-f'], { encoding: 'latin1' }).trim();
  execFileSync('losetup', [loop, img]);
  try {
    const name = loop.replace('/dev/', '');
    const r = runDtrace([
      '-q',
      '-n', 'io:::start /pid == $target && args[1]->dev_statname == $$1/ { @[args[1]->dev_statname, args[0]->b_flags & B_READ ? "R" : "W"] = sum(args[0]->b_bcount); } END { printa("%s %s %@d\\n", @); }',
      '-c', `dd if=${loop} of=/dev/null bs=${BS} count=${BLOCKS} iflag=direct`,
      name,
    ], { timeout: READY_MS });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').filter((l) => /^\S+ [RW] \d+$/.test(l)).join('\n'), `${name} R ${BLOCKS * BS}`, r.stdout);
    assert.deepEqual(instancesOf(r.pid), []);
  } finally {
    spawnSync('losetup', ['-d', loop]);
  }
});

/** A TCP port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** dtrace with `script` (port as $1) around a node child: a server on the port, a client that sends 1000 bytes and is answered with 300. */
async function loopbackConnection(script: string): Promise<{ r: ReturnType<typeof runDtrace>; port: number }> {
  const port = await freePort();
  const f = join(dir, 'tcp.cjs');
  writeFileSync(f, `const net = require('net');
const port = Number(process.argv[2]);
const s = net.createServer((c) => c.once('data', () => c.end(Buffer.alloc(300)))).listen(port, '127.0.0.1', () => {
  const c = net.connect(port, '127.0.0.1', () => c.write(Buffer.alloc(1000)));
  c.on('data', () => {});
  c.on('end', () => { c.end(); s.close(); });
});
`);
  const r = runDtrace(['-q', '-n', script, '-c', `${process.execPath} ${f} ${port}`, String(port)], { timeout: READY_MS });
  return { r, port };
}

test('tcp:::state-change: a loopback connection\'s states, by port', { skip: skipUnless('kernel', 'tcp') }, async () => {
  const { r, port } = await loopbackConnection('tcp:::state-change /args[3]->tcps_lport == $1 || args[3]->tcps_rport == $1/ { printf("state %s %d %d\\n", tcp_state_string[args[3]->tcps_state], args[3]->tcps_lport, args[3]->tcps_rport); }');
  assert.equal(r.code, 0, r.stderr);
  // the client's port, chosen by the kernel
  const client = new RegExp(`^state state-established (\\d+) ${port}$`, 'm').exec(r.stdout)?.[1];
  assert.ok(client, r.stdout);
  const lines = r.stdout.split('\n');
  for (const want of [
    `state state-listen ${port} 0`,
    `state state-syn-sent 0 ${port}`,
    `state state-established ${client} ${port}`,
    `state state-established ${port} ${client}`,
    `state state-fin-wait-1 ${port} ${client}`,
    `state state-close-wait ${client} ${port}`,
  ]) assert.ok(lines.includes(want), `missing: ${want}\n${r.stdout}`);
  assert.deepEqual(instancesOf(r.pid), []);
});

test('tcp:::send: the payload each way, by port, with the peer\'s address', { skip: skipUnless('kernel', 'tcp') }, async (t) => {
  const { r, port } = await loopbackConnection('tcp:::send /(args[3]->tcps_lport == $1 || args[3]->tcps_rport == $1) && args[2]->ip_plength - args[4]->tcp_offset > 0/ { @[args[3]->tcps_lport == $1 ? "server" : "client", args[3]->tcps_raddr] = sum(args[2]->ip_plength - args[4]->tcp_offset); } END { printa("%s %s %@d\\n", @); }');
  // an older kernel without what tcp:::send is made from says so (in one line)
  const older = /^dtrace: could not enable tracing: probe tcp:vmlinux::send needs the tracepoint \S+, which this kernel \(\S+\) does not have\n$/.exec(r.stderr);
  if (older && r.code === 1) return t.skip(r.stderr.trim());
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').filter((l) => l !== '').sort(), ['client 127.0.0.1 1000', 'server 127.0.0.1 300'], `port ${port}:\n${r.stdout}`);
  assert.deepEqual(instancesOf(r.pid), []);
});

test('tcp:::receive: the handshake\'s segments as they were sent, in the receiving sockets\' states; every segment sent is received', { skip: skipUnless('kernel', 'tcp') }, async (t) => {
  const { r } = await loopbackConnection(
    'tcp:::send, tcp:::receive /args[4]->tcp_sport == $1 || args[4]->tcp_dport == $1/ { printf("%s %d %d %x %u %u %s\\n", probename, args[4]->tcp_sport, args[4]->tcp_dport, args[4]->tcp_flags, args[4]->tcp_seq, args[4]->tcp_ack, tcp_state_string[args[3]->tcps_state]); }',
  );
  const older = /^dtrace: could not enable tracing: probe tcp:vmlinux::send needs the tracepoint \S+, which this kernel \(\S+\) does not have\n$/.exec(r.stderr);
  if (older && r.code === 1) return t.skip(r.stderr.trim());
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split(' '));
  const sends = rows.filter((x) => x[0] === 'send');
  const receives = rows.filter((x) => x[0] === 'receive');
  // SYN at the listener, SYN|ACK at the client, ACK at the request socket: the numbers sent
  assert.deepEqual(receives.slice(0, 3).map((x) => [x[3], x[6]]), [['2', 'state-listen'], ['12', 'state-syn-sent'], ['10', 'state-syn-received']], r.stdout);
  const header = (x: string[]) => x.slice(1, 6).join(' ');
  assert.deepEqual(receives.slice(0, 3).map(header), sends.slice(0, 3).map(header), r.stdout);
  assert.deepEqual(receives.map(header).sort(), sends.map(header).sort(), r.stdout);
  assert.deepEqual(instancesOf(r.pid), []);
});

test('io:::wait-start and wait-done: the thread that fsyncs a loop device waits for its flush (submit_bio_wait), a write of no data', { skip: skipUnless('kernel', 'loop', 'kprobes') }, () => {
  const img = join(dir, 'flush.img');
  writeFileSync(img, Buffer.alloc(4 << 20));
  const loop = execFileSync('losetup', ['-f'], { encoding: 'latin1' }).trim();
  execFileSync('losetup', [loop, img]);
  try {
    const name = loop.replace('/dev/', '');
    const f = join(dir, 'flush.cjs');
    writeFileSync(f, "const fs = require('fs'); const fd = fs.openSync(process.argv[2], 'r+'); fs.writeSync(fd, Buffer.alloc(4096)); fs.fsyncSync(fd);\n");
    const r = runDtrace([
      '-q',
      '-n', 'io:::wait-start, io:::wait-done /pid == $target && args[1]->dev_statname == $$1/ { printf("%s %s %d %d %d %s\\n", probename, args[1]->dev_statname, args[0]->b_bcount, (args[0]->b_flags & B_WRITE) != 0, args[0]->b_error, args[2]->fi_name); }',
      '-c', `${process.execPath} ${f} ${loop}`,
      name,
    ], { timeout: READY_MS });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n').filter((l) => l !== ''), [`wait-start ${name} 0 1 0 <none>`, `wait-done ${name} 0 1 0 <none>`], r.stdout);
    assert.deepEqual(kprobesOf(r.pid), []);
    assert.deepEqual(instancesOf(r.pid), []);
  } finally {
    spawnSync('losetup', ['-d', loop]);
  }
});
