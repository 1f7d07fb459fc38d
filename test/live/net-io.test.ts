// The tcp, io and lockstat providers against the live kernel: loopback TCP over IPv4 and IPv6
// made by a node child, O_DIRECT reads of a file on the machine's disk and of a loop device.

import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { instancesOf, liveUnavailable, runDtrace } from './harness.js';

const skip = liveUnavailable() ?? false;
const dir = mkdtempSync(join(process.env.TMPDIR ?? '/var/tmp', 'dtrace-netio-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A TCP port nothing listens on now (on both loopbacks). */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, host, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * A child that listens on `port`, connects to it, reads "hi", both sides close; then
 * connects to `refused` (nothing listening) and prints the error.
 */
function tcpWorkload(host: string, port: number, refused: number): string {
  const f = join(dir, `tcp-${port}.cjs`);
  writeFileSync(
    f,
    `const net = require('net');
const s = net.createServer((c) => c.end('hi')).listen(${port}, '${host}', () => {
  const c = net.connect(${port}, '${host}');
  c.on('data', () => {});
  c.on('end', () => {
    c.end();
    s.close();
    net.connect(${refused}, '${host}').on('error', (e) => console.log(e.code));
  });
});
`,
  );
  return f;
}

const TCP_SCRIPT = `
tcp:::state-change /args[3]->tcps_lport == $1 || args[3]->tcps_rport == $1 || args[3]->tcps_rport == $2/
{ printf("%s %s:%d -> %s:%d %s\\n", probename, args[3]->tcps_laddr, args[3]->tcps_lport, args[3]->tcps_raddr, args[3]->tcps_rport, tcp_state_string[args[3]->tcps_state]); }
tcp:::accept-established, tcp:::connect-established, tcp:::connect-request, tcp:::connect-refused, tcp:::accept-refused
/args[3]->tcps_lport == $1 || args[3]->tcps_rport == $1 || args[3]->tcps_rport == $2 || args[3]->tcps_lport == $2/
{ printf("%s %s:%d -> %s:%d %s was %s ip%d\\n", probename, args[3]->tcps_laddr, args[3]->tcps_lport, args[3]->tcps_raddr, args[3]->tcps_rport,
  tcp_state_string[args[3]->tcps_state], tcp_state_string[args[5]->tcps_state], args[2]->ip_ver); }
`;

async function tcpCase(host: string, any: string, ver: number): Promise<void> {
  const port = await freePort(host);
  const refused = await freePort(host);
  const r = runDtrace(['-q', '-n', TCP_SCRIPT, '-c', `${process.execPath} ${tcpWorkload(host, port, refused)}`, String(port), String(refused)]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  // the client's ports, chosen by the kernel
  const c = /^connect-established \S+:(\d+) /m.exec(r.stdout)?.[1];
  const c2 = /^connect-refused \S+:(\d+) /m.exec(r.stdout)?.[1];
  assert.ok(c && c2, r.stdout);
  const masked = lines.map((l) => l.replaceAll(`:${c} `, ':C ').replace(new RegExp(`:${c}( |$)`), ':C$1').replaceAll(`:${c2} `, ':R ').replace(new RegExp(`:${c2}( |$)`), ':R$1'));
  const h = host;
  const P = port;
  const Q = refused;
  const expected = [
    `state-change ${h}:${P} -> ${any}:0 state-listen`,
    `state-change ${h}:0 -> ${h}:${P} state-syn-sent`,
    `connect-request ${h}:0 -> ${h}:${P} state-syn-sent was state-closed ip${ver}`,
    `state-change ${h}:C -> ${h}:${P} state-established`,
    `connect-established ${h}:C -> ${h}:${P} state-established was state-syn-sent ip${ver}`,
    `state-change ${h}:${P} -> ${h}:C state-syn-received`,
    `state-change ${h}:${P} -> ${h}:C state-established`,
    `accept-established ${h}:${P} -> ${h}:C state-established was state-syn-received ip${ver}`,
    `state-change ${h}:${P} -> ${any}:0 state-closed`,
    `state-change ${h}:0 -> ${h}:${Q} state-syn-sent`,
    `connect-request ${h}:0 -> ${h}:${Q} state-syn-sent was state-closed ip${ver}`,
    `accept-refused ${h}:${Q} -> ${h}:R state-closed was state-closed ip${ver}`,
    `state-change ${h}:R -> ${h}:${Q} state-closed`,
    `connect-refused ${h}:R -> ${h}:${Q} state-closed was state-syn-sent ip${ver}`,
    'ECONNREFUSED',
  ];
  for (const e of expected) assert.ok(masked.includes(e), `missing: ${e}\n${masked.join('\n')}`);
  // each side of the connection closes: FIN-WAIT-1, CLOSE-WAIT, LAST-ACK, FIN-WAIT-2, CLOSED
  for (const s of ['state-fin-wait-1', 'state-close-wait', 'state-last-ack']) assert.ok(masked.some((l) => l.startsWith('state-change') && l.endsWith(s)), `${s}\n${masked.join('\n')}`);
  assert.deepEqual(instancesOf(r.pid), []);
}

test('tcp: a loopback IPv4 connection, refused connection, their states and addresses', { skip }, async () => {
  await tcpCase('127.0.0.1', '0.0.0.0', 4);
});

test('tcp: the same over IPv6', { skip }, async () => {
  await tcpCase('::1', '::', 6);
});

/** The device numbers of the file system holding `path` (st_dev: 12-bit major, 20-bit minor in glibc's encoding). */
function devOf(path: string): [number, number] {
  const d = statSync(path).dev;
  return [((d >>> 8) & 0xfff) | ((d / 2 ** 32) & ~0xfff), (d & 0xff) | ((d >>> 12) & ~0xff)];
}

test('io: an O_DIRECT read of a file gives exactly its bytes, on its device, as reads', { skip }, () => {
  const f = join(dir, 'io.dat');
  writeFileSync(f, Buffer.alloc(3 << 20, 7));
  spawnSync('sync');
  // dd's own pages (its program, its libraries) in the page cache first: a page the target
  // faults in from the same disk is its I/O too (4096 bytes more, after memory pressure)
  spawnSync('dd', ['if=/dev/null', 'of=/dev/null', 'status=none']);
  const [major, minor] = devOf(f);
  const r = runDtrace([
    '-q',
    '-n',
    'io:::start /pid == $target/ { @[args[1]->dev_major, args[1]->dev_minor, args[0]->b_flags & B_READ ? "R" : "W"] = sum(args[0]->b_bcount); } END { printa("%d %d %s %@d\\n", @); }',
    '-c',
    `dd if=${f} of=/dev/null bs=1M count=3 iflag=direct status=none`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `${major} ${minor} R ${3 << 20}`);
});

/** Where the file system holding `path` is mounted, and its type (mountinfo, by the file's device). */
function mountOf(path: string): { mount: string; fstype: string } {
  const [major, minor] = devOf(path);
  for (const line of readFileSync('/proc/self/mountinfo', 'latin1').split('\n')) {
    const f = line.split(' ');
    if (f[2] === `${major}:${minor}` && f[3] === '/') return { mount: f[4], fstype: f[f.indexOf('-') + 1] };
  }
  throw new Error(`no mount for ${path}`);
}

test('io: args[2] fileinfo_t of a buffered read (page cache pages) and a direct one (iomap): the file\'s path, name, directory, file system, mount, offsets and open flags', { skip }, () => {
  const f = join(dir, 'iofile.dat');
  writeFileSync(f, Buffer.alloc(3 << 20, 9));
  spawnSync('sync');
  const { mount, fstype } = mountOf(f);
  // io.d defines no O_DIRECT: Linux's on x86-64 and most others (arm64's is 0200000)
  const oDirect = process.arch === 'arm64' ? 0o200000 : 0o40000;
  const script = `inline int O_DIRECT = ${oDirect};
  io:::start /pid == $target/ {
    @[args[2]->fi_pathname, args[2]->fi_name, args[2]->fi_dirname, args[2]->fi_fs, args[2]->fi_mount, args[0]->b_flags & B_READ ? "R" : "W",
      args[2]->fi_oflags & (O_ACCMODE | O_DIRECT)] = sum(args[0]->b_bcount);
    @lo[args[2]->fi_pathname] = min(args[2]->fi_offset); @hi[args[2]->fi_pathname] = max(args[2]->fi_offset); }
    END { printa("%s %s %s %s %s %s %o %@d\\n", @); printa("lo %s %@d\\n", @lo); printa("hi %s %@d\\n", @hi); }`;
  // fi_oflags: the open file's flags where the I/O has one (direct I/O's kiocb); a page cache
  // page has none (0)
  const want = (hi: number, oflags: number) => [`${f} iofile.dat ${dir} ${fstype} ${mount} R ${oflags.toString(8)} ${3 << 20}`, `hi ${f} ${hi}`, `lo ${f} 0`];
  // buffered: the file's pages dropped from the cache first (dd's nocache), then read through it
  spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']);
  const b = runDtrace(['-q', '-n', script, '-c', `dd if=${f} of=/dev/null bs=1M status=none`]);
  assert.equal(b.code, 0, b.stderr);
  const rows = (s: string) => s.split('\n').filter((l) => l.includes(f)).sort();
  const buffered = rows(b.stdout);
  // read-ahead's bios: the first from offset 0, the last within the file's last MiB
  assert.equal(buffered.length, 3, b.stdout);
  assert.equal(buffered[0], want(0, 0)[0]);
  assert.equal(buffered[2], `lo ${f} 0`);
  const hi = Number(/^hi \S+ (\d+)$/.exec(buffered[1])?.[1]);
  assert.ok(hi >= 2 << 20 && hi < 3 << 20 && hi % 4096 === 0, buffered[1]);
  // direct: three 1 MiB reads at 0, 1 and 2 MiB (the kiocb's position)
  const d = runDtrace(['-q', '-n', script, '-c', `dd if=${f} of=/dev/null bs=1M iflag=direct status=none`]);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(rows(d.stdout), want(2 << 20, oDirect));
  // a direct write: the file open for writing (O_WRONLY)
  const w = runDtrace(['-q', '-n', script, '-c', `dd if=/dev/zero of=${f} bs=1M count=1 oflag=direct conv=notrunc status=none`]);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(rows(w.stdout)[0], `${f} iofile.dat ${dir} ${fstype} ${mount} W ${(1 | oDirect).toString(8)} ${1 << 20}`, w.stdout);
});

test('io: O_DIRECT reads and writes of a loop device, by its names', { skip }, (t) => {
  const img = join(dir, 'loop.img');
  writeFileSync(img, Buffer.alloc(4 << 20));
  let loop = '';
  try {
    loop = execFileSync('losetup', ['-f', '--show', img], { encoding: 'latin1' }).trim();
  } catch {
    t.skip('no loop device');
    return;
  }
  try {
    const name = loop.replace('/dev/', '');
    const sh = join(dir, 'loop.sh');
    writeFileSync(sh, `dd if=${loop} of=/dev/null bs=64k count=16 iflag=direct status=none\ndd if=/dev/zero of=${loop} bs=4k count=8 oflag=direct status=none\n`);
    const r = runDtrace([
      '-q',
      '-n',
      // the loop device is this test's own: nothing else does I/O on it
      // the device itself is read and written, no file: fileinfo_t's members are "<none>"
      'io:::start /args[1]->dev_statname == $$1/ { @[args[1]->dev_statname, args[1]->dev_pathname, args[1]->dev_name, args[0]->b_flags & B_READ ? "R" : "W", args[2]->fi_pathname, args[2]->fi_name] = sum(args[0]->b_bcount); } END { printa("%s %s %s %s %s %s %@d\\n", @); }',
      '-c',
      `/bin/sh ${sh}`,
      name,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `${name} ${loop} loop W <none> <none> ${8 * 4096}\n${name} ${loop} loop R <none> <none> ${16 * 65536}`);
  } finally {
    spawnSync('losetup', ['-d', loop]);
  }
});

test('io: wait-start and wait-done are refused with the reason, in one line, and leave nothing behind', { skip }, () => {
  for (const name of ['wait-start', 'wait-done']) {
    const r = runDtrace(['-n', `io:::${name} { trace(args[0]->b_bcount); }`]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    // DTrace's frame for a description it cannot make probes for, and why
    assert.match(r.stderr, new RegExp(`^dtrace: invalid probe specifier io:::${name} \\{ trace\\(args\\[0\\]->b_bcount\\); \\}: io:::${name} is not available: it fires as a thread waits for its block I/O \\(submit_bio_wait\\(\\), which no tracepoint marks\\) and [^\\n]+; io:::start and io:::done trace block I/O from tracepoints\\n$`));
    assert.deepEqual(instancesOf(r.pid), []);
  }
  // a pattern over names matches the probes there are, as in DTrace
  const l = runDtrace(['-l', '-n', 'io:::*']);
  assert.equal(l.code, 0, l.stderr);
  assert.deepEqual(l.stdout.split('\n').slice(1).filter((x) => x !== '').map((x) => x.trim().split(/\s+/).slice(1).join(' ')), ['io vmlinux done', 'io vmlinux start']);
});

test('lockstat: the contention probes, listed', { skip }, () => {
  const r = runDtrace(['-l', '-P', 'lockstat']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    r.stdout.split('\n').slice(1).filter((l) => l !== '').map((l) => l.trim().split(/\s+/).slice(1).join(' ')),
    ['lockstat vmlinux adaptive-block', 'lockstat vmlinux adaptive-spin', 'lockstat vmlinux rw-block', 'lockstat vmlinux rw-spin', 'lockstat vmlinux spin-spin'],
  );
});

const kprobeEvents = existsSync('/sys/kernel/tracing/kprobe_events');

test('lockstat: the acquire and release probes are refused with the reason where the kernel has no kprobe events, and leave nothing behind', { skip: skip || (kprobeEvents && 'this kernel has kprobe events (the lab tests the probes themselves)') }, () => {
  for (const name of ['adaptive-acquire', 'adaptive-acquire-error', 'adaptive-release', 'rw-acquire', 'rw-release', 'spin-acquire', 'spin-release']) {
    const r = runDtrace(['-n', `lockstat:::${name} { @[args[0]] = count(); }`]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^dtrace: invalid probe specifier lockstat:::${name} \\{ @\\[args\\[0\\]\\] = count\\(\\); \\}: lockstat:::${name} is not available: it fires as the kernel's lock functions take or drop a lock, which no tracepoint marks, and the kernel has no kprobe events [^\\n]+; lockstat's \\*-block and \\*-spin probes trace contention from tracepoints\\n$`));
    assert.deepEqual(instancesOf(r.pid), []);
  }
  // a pattern over names matches the probes there are, as in DTrace
  const r = runDtrace(['-n', 'lockstat:::*-acquire']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'dtrace: invalid probe specifier lockstat:::*-acquire: probe description lockstat:::*-acquire does not match any probes\n');
});
