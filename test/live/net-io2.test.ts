// tcp send/receive, udp and ip send/receive, and fds[] against the live kernel: loopback
// traffic made by a node child, descriptors of a C child.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { instancesOf, liveUnavailable, runDtrace } from './harness.js';

const skip = liveUnavailable() ?? false;
const dir = mkdtempSync(join(process.env.TMPDIR ?? '/var/tmp', 'dtrace-netio2-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A child that sends one datagram of `n` bytes over loopback to itself and receives it. */
function udpWorkload(family: 'udp4' | 'udp6', host: string, n: number): string {
  const f = join(dir, `udp-${family}.cjs`);
  writeFileSync(
    f,
    `const d = require('dgram');
const s = d.createSocket('${family}');
s.bind(0, '${host}', () => {
  const c = d.createSocket('${family}');
  s.on('message', () => { c.close(); s.close(); });
  c.send(Buffer.alloc(${n}), s.address().port, '${host}');
});
`,
  );
  return f;
}

for (const [family, host, ver] of [['udp4', '127.0.0.1', 4], ['udp6', '::1', 6]] as const) {
  test(`udp and ip: one ${family} datagram over loopback, its lengths and device`, { skip }, () => {
    const r = runDtrace([
      '-q',
      '-n',
      `udp:::send, udp:::receive /pid == $target/ { printf("udp %s ip%d %d %d %d\\n", probename, args[2]->ip_ver, args[2]->ip_plength, args[4]->udp_length, args[3]->udps_addr != 0); }
       ip:::send, ip:::receive /args[3]->if_name == "lo" && args[2]->ip_plength == 1242/ { printf("ip %s ip%d %d %s %d\\n", probename, args[2]->ip_ver, args[2]->ip_plength, args[3]->if_name, args[3]->if_local); }`,
      '-c',
      `${process.execPath} ${udpWorkload(family, host, 1234)}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l !== '').sort();
    assert.deepEqual(lines, [`ip receive ip${ver} 1242 lo 1`, `ip send ip${ver} 1242 lo 1`, `udp receive ip${ver} 1242 1242 1`, `udp send ip${ver} 1242 1242 1`]);
    assert.deepEqual(instancesOf(r.pid), []);
  });
}

/** A child that connects over loopback, sends 1000 bytes, is answered with 300, and both close. */
function tcpWorkload(host: string): string {
  const f = join(dir, `tcp-${host.replace(/:/g, '_')}.cjs`);
  writeFileSync(
    f,
    `const net = require('net');
const s = net.createServer((c) => c.once('data', () => c.end(Buffer.alloc(300)))).listen(0, '${host}', () => {
  const c = net.connect(s.address().port, '${host}', () => c.write(Buffer.alloc(1000)));
  c.on('data', () => {});
  c.on('end', () => { c.end(); s.close(); });
});
`,
  );
  return f;
}

for (const host of ['127.0.0.1', '::1']) {
  test(`tcp: send and receive over loopback (${host}): payload bytes by direction and addresses`, { skip }, () => {
    const r = runDtrace([
      '-q',
      '-n',
      `tcp:::send, tcp:::receive /pid == $target && args[2]->ip_plength - args[4]->tcp_offset > 0/
       { @[probename, args[2]->ip_saddr, args[3]->tcps_laddr, tcp_state_string[args[3]->tcps_state], args[2]->ip_plength - args[4]->tcp_offset,
           args[4]->tcp_sport == args[3]->tcps_lport] = count(); }
       tcp:::receive /pid == $target/ { @seq = max(args[3]->tcps_snxt != 0); }
       END { printa("%s %s %s %s %d %d %@d\\n", @); printa("snxt %@d\\n", @seq); }`,
      '-c',
      `${process.execPath} ${tcpWorkload(host)}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const h = host;
    assert.deepEqual(r.stdout.split('\n').filter((l) => l !== '').sort(), [
      `receive ${h} ${h} state-established 1000 0 1`,
      `receive ${h} ${h} state-established 300 0 1`,
      `send ${h} ${h} state-established 1000 1 1`,
      `send ${h} ${h} state-established 300 1 1`,
      'snxt 1',
    ]);
  });
}

test('fds[]: a descriptor of the current process, its offset and flags (the file\'s: no O_CLOEXEC); a closed one is <none>', { skip }, () => {
  const src = join(dir, 'fds.c');
  const bin = join(dir, 'fds');
  writeFileSync(
    src,
    `#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
int main(void) {
  int f = open("${dir}/data", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  lseek(f, 77, SEEK_SET);
  ioctl(f, -1, 0);
  ioctl(900, -1, 0);
  sleep(1);
  return 0;
}
`,
  );
  try {
    execFileSync('cc', ['-o', bin, src]);
  } catch {
    return;
  }
  const r = runDtrace([
    '-q',
    '-n',
    `syscall::ioctl:entry /pid == $target && arg1 == -1/ {
       printf("%s|%s|%s|%d|%d|%d|%d|%s\\n", fds[arg0].fi_name, fds[arg0].fi_dirname, fds[arg0].fi_pathname, fds[arg0].fi_offset,
         (fds[arg0].fi_oflags & O_ACCMODE) == O_RDWR, (fds[arg0].fi_oflags & (O_APPEND | O_CLOEXEC)) == O_APPEND, arg0 == -1u, fds[arg0].fi_fs); }`,
    '-c',
    bin,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const fs = execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'latin1' }).trim();
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 2, r.stdout);
  // stat -f names some file systems differently from /proc/PID/mountinfo (ext2/ext3 for ext4)
  assert.match(lines[0], new RegExp(`^data\\|${dir}\\|${dir}/data\\|77\\|1\\|1\\|0\\|\\S+$`));
  assert.ok(fs !== '', fs);
  assert.equal(lines[1], '<none>|<none>|<none>|0|0|0|0|<none>');
});

/** Builds a C program in the test's folder; null if there is no compiler. */
function cc(name: string, code: string): string | null {
  const src = join(dir, `${name}.c`);
  const bin = join(dir, name);
  writeFileSync(src, code);
  try {
    execFileSync('cc', ['-o', bin, src]);
  } catch {
    return null;
  }
  return bin;
}

const FDS_AT_FIRING = `syscall::ioctl:entry /pid == $target && arg1 == -1/ {
  printf("%d|%s|%s|%s|%d|%d|%d|%d\\n", arg0, fds[arg0].fi_name, fds[arg0].fi_dirname, fds[arg0].fi_pathname, fds[arg0].fi_offset, fds[arg0].fi_oflags & O_ACCMODE, (fds[arg0].fi_oflags & O_APPEND) != 0, fds[arg0].fi_fs != "<unknown>" && fds[arg0].fi_fs != "<none>"); }`;

test('fds[]: at firing time (BPF), the file and its path then on a descriptor that is closed and reused at once, the process gone when the clauses run', { skip }, (t) => {
  const bin = cc(
    'fds-reuse',
    `#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
int main(void) {
  int f = open("${dir}/first", O_WRONLY | O_CREAT | O_APPEND, 0600);
  lseek(f, 4321, SEEK_SET);
  ioctl(f, -1, 0);
  close(f);
  int g = open("${dir}/second", O_RDONLY | O_CREAT, 0600);
  lseek(g, 99, SEEK_SET);
  ioctl(g, -1, 0);
  close(g);
  ioctl(g, -1, 0);
  return g == f ? 0 : 1;
}
`,
  );
  if (bin === null) return t.skip('no C compiler');
  const r = runDtrace(['-q', '-n', FDS_AT_FIRING, '-c', bin]);
  assert.equal(r.code, 0, r.stderr);
  const fd = /^(\d+)\|/.exec(r.stdout)?.[1];
  assert.ok(fd, r.stdout);
  // O_WRONLY is 1, O_RDONLY 0; the descriptor is the same number each time
  // the paths walked in the kernel as it fired (the process is gone when the clauses run)
  const d = realpathSync(dir);
  assert.deepEqual(r.stdout.split('\n').filter((l) => l !== ''), [
    `${fd}|first|${d}|${d}/first|4321|1|1|1`,
    `${fd}|second|${d}|${d}/second|99|0|0|1`,
    `${fd}|<none>|<none>|<none>|0|0|0|0`,
  ]);
});
