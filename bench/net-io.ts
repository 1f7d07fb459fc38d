// io:::start, tcp:::send and tcp:::receive benchmarks (not tests), medians, on the live kernel, next to the
// tracepoints they sit on and beside bpftrace:
//   1. start-up of the probe with `@ = count()`, exiting at once: io:::start, tcp:::send,
//      tcp:::receive, the raw tracepoints under them (rawtp:block::block_bio_queue,
//      rawtp:net::net_dev_queue, rawtp:net::netif_receive_skb), and bpftrace's on the same;
//   2. probe effect: ns each 4 KiB O_DIRECT pread() (io) and each 64-byte send() on a loopback
//      TCP connection (tcp, tcp-receive) gains while traced by: the stable probe counting in dtrace; the
//      stable probe reading its translated args (io-file: the file, read in the kernel; tcp: the
//      segment's headers, copied in the kernel where BPF can be used); the tracepoint on tracefs (sdt:) counting in dtrace; the raw
//      tracepoint counting in the kernel (rawtp, BPF); bpftrace counting on the tracepoint.
// Needs root and cc; BENCH_RUNS, BENCH_BPFTRACE=0.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const withBpftrace = process.env.BENCH_BPFTRACE !== '0' && spawnSync('bpftrace', ['--version']).status === 0;
// O_DIRECT needs a disk's file system (not tmpfs)
const work = mkdtempSync(join('/var/tmp', 'dtrace-ts-bench-netio-'));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function cc(name: string, code: string): string {
  const src = join(work, `${name}.c`);
  writeFileSync(src, code);
  const bin = join(work, name);
  const r = spawnSync('cc', ['-O2', '-o', bin, src], { encoding: 'latin1' });
  if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
  return bin;
}

const TIMING = `#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static struct timespec t0;
static void start(void) { clock_gettime(CLOCK_MONOTONIC, &t0); }
static void stop(long n) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("%.1f\\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
}
`;

/** `pread FILE N`: N 4 KiB O_DIRECT preads of FILE (1 MiB, cycled), ns each. */
function buildReads(): string {
  return cc(
    'pread',
    `#define _GNU_SOURCE
#include <fcntl.h>
${TIMING}
int main(int argc, char **argv) {
  long n = atol(argv[2]);
  int fd = open(argv[1], O_RDONLY | O_DIRECT);
  void *buf;
  if (fd < 0 || posix_memalign(&buf, 4096, 4096)) return 1;
  start();
  for (long i = 0; i < n; i++) if (pread(fd, buf, 4096, (i % 256) * 4096) != 4096) return 2;
  stop(n);
  return 0;
}
`,
  );
}

/** `send N`: N 64-byte send()s on a loopback TCP connection a forked child drains, ns each. */
function buildSends(): string {
  return cc(
    'send',
    `#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
${TIMING}
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &len)) return 1;
  if (fork() == 0) {
    int c = accept(l, 0, 0);
    char b[65536];
    while (read(c, b, sizeof b) > 0) {}
    return 0;
  }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(s, (struct sockaddr *)&a, sizeof a)) return 1;
  char b[64] = { 0 };
  start();
  for (long i = 0; i < n; i++) if (send(s, b, sizeof b, 0) != sizeof b) return 2;
  stop(n);
  close(s);
  wait(0);
  return 0;
}
`,
  );
}

function nsPerCall(bin: string, args: string[]): number {
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(bin, args, { encoding: 'latin1' });
    if (r.status !== 0) throw new Error(`${bin} failed (${r.status})`);
    xs.push(Number(r.stdout.trim()));
  }
  return median(xs);
}

function timeRun(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'latin1' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

class Tracer {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  constructor(cmd: string, args: string[]) {
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (b: Buffer) => (this.stdout += b.toString('latin1')));
    this.child.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString('latin1')));
  }
  async ready(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!/ready/.test(this.stdout)) {
      if (Date.now() > end || this.child.exitCode !== null) throw new Error(`tracer did not start: ${this.stderr}`);
      await sleep(20);
    }
    await sleep(200);
  }
  async stop(): Promise<void> {
    this.child.kill('SIGINT');
    await new Promise((r) => this.child.on('close', r));
  }
}

const READY = 'BEGIN { printf("ready\\n"); }';

interface Case {
  name: string;
  stable: string;
  /** the stable probe reading its translated arguments */
  args: string;
  group: string;
  event: string;
  bin: string;
  binArgs: string[];
  /** only the stable probe reading its arguments (the rest is another case's) */
  argsOnly?: boolean;
}

async function main(): Promise<void> {
  const line = (s: string) => process.stdout.write(s + '\n');
  line(`load average: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${cpus().length} CPUs)`);
  const file = join(work, 'data');
  writeFileSync(file, Buffer.alloc(1 << 20, 1));
  spawnSync('sync');
  const cases: Case[] = [
    { name: 'io', stable: 'io:::start', args: 'io:::start { @[args[1]->dev_statname, args[0]->b_flags & B_READ] = sum(args[0]->b_bcount); }', group: 'block', event: 'block_bio_queue', bin: buildReads(), binArgs: [file, '20000'] },
    // the file each I/O is for: from block_bio_queue's raw tracepoint, read in the kernel as it fires
    { name: 'io-file', stable: 'io:::start', args: 'io:::start { @[args[2]->fi_pathname, args[0]->b_flags & B_READ] = sum(args[0]->b_bcount); }', group: 'block', event: 'block_bio_queue', bin: buildReads(), binArgs: [file, '20000'], argsOnly: true },
    // with BPF, tcp:::send fires per segment queued on a device (net_dev_queue), its headers copied
    { name: 'tcp', stable: 'tcp:::send', args: 'tcp:::send { @[args[2]->ip_daddr, args[4]->tcp_dport, args[4]->tcp_flags] = sum(args[2]->ip_plength); }', group: 'net', event: 'net_dev_queue', bin: buildSends(), binArgs: ['200000'] },
    // the sending socket's sequence numbers and windows too: its struct tcp_sock's span copied per segment
    { name: 'tcp-seqs', stable: 'tcp:::send', args: 'tcp:::send { @[args[4]->tcp_flags] = max(args[3]->tcps_snxt - args[3]->tcps_suna); }', group: 'net', event: 'net_dev_queue', bin: buildSends(), binArgs: ['200000'], argsOnly: true },
    // receive: tcp_probe for established connections, and every packet received (netif_receive_skb, its headers copied) for the segments tcp_probe does not see
    { name: 'tcp-receive', stable: 'tcp:::receive', args: 'tcp:::receive { @[args[4]->tcp_flags] = sum(args[2]->ip_plength); }', group: 'net', event: 'netif_receive_skb', bin: buildSends(), binArgs: ['200000'] },
  ];
  for (const c of cases) {
    const dt = (script: string) => {
      const xs: number[] = [];
      for (let i = 0; i < RUNS; i++) xs.push(timeRun(process.execPath, [cli, '-q', '-n', `${script} BEGIN { exit(0); }`]));
      return median(xs).toFixed(3);
    };
    if (c.argsOnly) {
      const base = nsPerCall(c.bin, c.binArgs);
      const t = new Tracer(process.execPath, [cli, '-q', '-n', `${c.args} ${READY}`]);
      await t.ready(120_000);
      const ns = nsPerCall(c.bin, c.binArgs);
      await t.stop();
      line(`${c.name}: untraced ${base.toFixed(1)} ns per call; +${(ns - base).toFixed(1)} ns per call while ${c.args}`);
      continue;
    }
    line(`startup, exit at once (median of ${RUNS}): ${c.stable} ${dt(`${c.stable} { @ = count(); }`)} s; rawtp:${c.group}::${c.event} ${dt(`rawtp:${c.group}::${c.event} { @ = count(); }`)} s`);
    if (withBpftrace) {
      const bt: number[] = [];
      for (let i = 0; i < RUNS; i++) bt.push(timeRun('bpftrace', ['-e', `tracepoint:${c.group}:${c.event} { @ = count(); } BEGIN { exit(); }`]));
      line(`startup, exit at once: bpftrace tracepoint:${c.group}:${c.event} ${median(bt).toFixed(3)} s`);
    }
    const base = nsPerCall(c.bin, c.binArgs);
    line(`${c.name}: ${c.bin.slice(work.length + 1)} untraced ${base.toFixed(1)} ns per call`);
    const added = async (what: string, cmd: string, args: string[]) => {
      const t = new Tracer(cmd, args);
      await t.ready(120_000);
      const ns = nsPerCall(c.bin, c.binArgs);
      await t.stop();
      line(`${c.name}: +${(ns - base).toFixed(1)} ns per call while ${what}`);
    };
    await added(`${c.stable} { @ = count(); }`, process.execPath, [cli, '-q', '-n', `${c.stable} { @ = count(); } ${READY}`]);
    await added(c.args, process.execPath, [cli, '-q', '-n', `${c.args} ${READY}`]);
    await added(`sdt:${c.group}::${c.event} { @ = count(); } (tracefs)`, process.execPath, [cli, '-q', '-n', `sdt:${c.group}::${c.event} { @ = count(); } ${READY}`]);
    await added(`rawtp:${c.group}::${c.event} { @ = count(); } (in the kernel)`, process.execPath, [cli, '-q', '-n', `rawtp:${c.group}::${c.event} { @ = count(); } ${READY}`]);
    if (withBpftrace) await added(`bpftrace tracepoint:${c.group}:${c.event} { @ = count(); }`, 'bpftrace', ['-e', `tracepoint:${c.group}:${c.event} { @ = count(); } BEGIN { printf("ready\\n"); }`]);
  }
}

main()
  .catch((e) => {
    process.stderr.write(`bench failed: ${(e as Error).message}\n`);
  })
  .finally(() => rmSync(work, { recursive: true, force: true }));
