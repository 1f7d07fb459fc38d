// The perf sample ring reader, on rings of our own making: sample records with call chains,
// a lost record, a record that wraps the ring's end, and the tail given back to the kernel.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import {
  CPUMODE_KERNEL,
  CPUMODE_USER,
  CpuClockSampler,
  SAMPLE_FRAMES,
  SAMPLE_IP,
  SAMPLE_MODE,
  SAMPLE_NKERNEL,
  SAMPLE_NUSER,
  SAMPLE_PID,
  SAMPLE_TID,
  onlineCpus,
  samplerAttr,
} from '../../src/kernel/perf-sampler.js';

const PAGE = 4096;
const KERNEL = 0xffff_ffff_ffff_ff80n; // PERF_CONTEXT_KERNEL
const USER = 0xffff_ffff_ffff_fe00n; // PERF_CONTEXT_USER

interface Sample {
  misc: number;
  ip: bigint;
  pid: number;
  tid: number;
  time: bigint;
  cpu: number;
  chain?: bigint[];
}

/** A PERF_RECORD_SAMPLE with IP | TID | TIME | CPU [| CALLCHAIN], as the kernel writes it. */
function sampleRecord(s: Sample): Buffer {
  const n = s.chain ? 48 + 8 * s.chain.length : 40;
  const b = Buffer.alloc(n);
  b.writeUInt32LE(9, 0);
  b.writeUInt16LE(s.misc, 4);
  b.writeUInt16LE(n, 6);
  b.writeBigUInt64LE(s.ip, 8);
  b.writeUInt32LE(s.pid, 16);
  b.writeUInt32LE(s.tid, 20);
  b.writeBigUInt64LE(s.time, 24);
  b.writeUInt32LE(s.cpu, 32);
  if (s.chain) {
    b.writeBigUInt64LE(BigInt(s.chain.length), 40);
    s.chain.forEach((a, i) => b.writeBigUInt64LE(a, 48 + 8 * i));
  }
  return b;
}

function lostRecord(n: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(2, 0);
  b.writeUInt16LE(24, 6);
  b.writeBigUInt64LE(7n, 8);
  b.writeBigUInt64LE(BigInt(n), 16);
  return b;
}

/** A mapped ring: the control page and `pages` of data, records written from byte `start` on. */
class FakeRing {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  head: number;
  constructor(
    readonly pages: number,
    start = 0,
  ) {
    this.bytes = new Uint8Array(PAGE * (pages + 1));
    this.view = new DataView(this.bytes.buffer);
    this.view.setBigUint64(1040, BigInt(PAGE), true);
    this.view.setBigUint64(1048, BigInt(pages * PAGE), true);
    this.head = start;
    this.view.setBigUint64(1024, BigInt(start), true);
    this.view.setBigUint64(1032, BigInt(start), true);
  }
  write(rec: Buffer): void {
    const size = this.pages * PAGE;
    for (let i = 0; i < rec.length; i++) this.bytes[PAGE + ((this.head + i) % size)] = rec[i];
    this.head += rec.length;
    this.view.setBigUint64(1024, BigInt(this.head), true);
  }
  get tail(): number {
    return Number(this.view.getBigUint64(1032, true));
  }
}

interface Seen {
  cpu: number;
  pid: number;
  tid: number;
  mode: number;
  ip: bigint;
  kernel: bigint[];
  user: bigint[];
  ts: number;
}

function sampler(cpus: number[], kernelStack = true, userStack = true): { s: CpuClockSampler; seen: Seen[] } {
  const seen: Seen[] = [];
  const s = new CpuClockSampler(
    (cpu, _page, v, o, len, ts) => {
      const nk = v.getUint16(o + SAMPLE_NKERNEL, true);
      const nu = v.getUint16(o + SAMPLE_NUSER, true);
      assert.equal(len, SAMPLE_FRAMES + 8 * (nk + nu));
      const frames = (from: number, n: number) => Array.from({ length: n }, (_, i) => v.getBigUint64(o + SAMPLE_FRAMES + 8 * (from + i), true));
      seen.push({
        cpu,
        pid: v.getInt32(o + SAMPLE_PID, true),
        tid: v.getInt32(o + SAMPLE_TID, true),
        mode: v.getUint16(o + SAMPLE_MODE, true),
        ip: v.getBigUint64(o + SAMPLE_IP, true),
        kernel: frames(0, nk),
        user: frames(nk, nu),
        ts,
      });
    },
    { cpus, periodNs: 1_000_000, kernelStack, userStack, ringPages: 1 },
  );
  return { s, seen };
}

/** Hands over what every queue holds, as the ring reader's merge would (one CPU: in order). */
function deliver(s: CpuClockSampler): number {
  let n = 0;
  for (const q of s.queues) {
    q.keepPending();
    s.fill(q);
    while (q.next < q.nev) {
      const i = q.next++;
      q.sink!.event(q.cpu, q.pages[q.evPage[i]], q.views[q.evPage[i]], q.evOff[i], q.evLen[i], q.evTs[i]);
      n++;
    }
  }
  return n;
}

test('samples: thread, mode, PC, kernel and user frames apart, time after the base', () => {
  const ring = new FakeRing(1);
  const { s, seen } = sampler([1]);
  s.attach(1, ring.view, ring.bytes);
  s.setBase(1_000_000_000_000n);
  const kpc = 0xffff_ffff_8100_1234n;
  ring.write(sampleRecord({ misc: CPUMODE_KERNEL, ip: kpc, pid: 42, tid: 43, time: 1_000_000_000_500n, cpu: 1, chain: [KERNEL, kpc, 0xffff_ffff_8100_2000n, USER, 0x401000n, 0x402000n] }));
  ring.write(sampleRecord({ misc: CPUMODE_USER, ip: 0x7f00_0000_1000n, pid: 42, tid: 44, time: 1_000_000_001_500n, cpu: 1, chain: [USER, 0x7f00_0000_1000n] }));
  ring.write(lostRecord(3));
  assert.equal(deliver(s), 2);
  assert.deepEqual(seen[0], { cpu: 1, pid: 42, tid: 43, mode: CPUMODE_KERNEL, ip: kpc, kernel: [kpc, 0xffff_ffff_8100_2000n], user: [0x401000n, 0x402000n], ts: 500 });
  assert.deepEqual(seen[1], { cpu: 1, pid: 42, tid: 44, mode: CPUMODE_USER, ip: 0x7f00_0000_1000n, kernel: [], user: [0x7f00_0000_1000n], ts: 1500 });
  assert.equal(s.lost()[1], 3);
  // everything read is given back to the kernel
  assert.equal(ring.tail, ring.head);
  // nothing more until the kernel writes more
  assert.equal(deliver(s), 0);
});

/** A PERF_RECORD_THROTTLE (5) or UNTHROTTLE (6) at `time`. */
function throttleRecord(type: 5 | 6, time: bigint): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt32LE(type, 0);
  b.writeUInt16LE(32, 6);
  b.writeBigUInt64LE(time, 8);
  b.writeBigUInt64LE(7n, 16);
  b.writeBigUInt64LE(7n, 24);
  return b;
}

test('periods the kernel throttled the event for are lost samples (drops), as the ring\'s lost records are', () => {
  const ring = new FakeRing(1);
  const { s, seen } = sampler([0]);
  s.attach(0, ring.view, ring.bytes);
  s.setBase(0n);
  ring.write(sampleRecord({ misc: CPUMODE_USER, ip: 0x401000n, pid: 1, tid: 1, time: 1_000_000n, cpu: 0, chain: [USER, 0x401000n] }));
  // throttled after the sample of 2 ms, on again at 12 ms: the periods of 3 ms to 11 ms were not sampled
  ring.write(throttleRecord(5, 2_000_000n));
  ring.write(throttleRecord(6, 12_000_000n));
  ring.write(sampleRecord({ misc: CPUMODE_USER, ip: 0x401000n, pid: 1, tid: 1, time: 13_000_000n, cpu: 0, chain: [USER, 0x401000n] }));
  assert.equal(deliver(s), 2);
  assert.equal(seen.length, 2);
  assert.equal(s.lost()[0], 9);
  // an unthrottle without its throttle (read before this reader began) counts nothing
  ring.write(throttleRecord(6, 20_000_000n));
  assert.equal(deliver(s), 0);
  assert.equal(s.lost()[0], 9);
});

test('a record that wraps the end of the ring is read whole', () => {
  // start 16 bytes before the end: the second record's header and body wrap
  const ring = new FakeRing(1, PAGE - 16 - 40);
  const { s, seen } = sampler([0], false, false);
  s.attach(0, ring.view, ring.bytes);
  s.setBase(0n);
  ring.write(sampleRecord({ misc: CPUMODE_USER, ip: 0x1111n, pid: 1, tid: 1, time: 10n, cpu: 0 }));
  ring.write(sampleRecord({ misc: CPUMODE_KERNEL, ip: 0xffff_ffff_8100_0000n, pid: 0, tid: 0, time: 20n, cpu: 0 }));
  assert.equal(deliver(s), 2);
  assert.equal(seen[1].ip, 0xffff_ffff_8100_0000n);
  assert.equal(seen[1].mode, CPUMODE_KERNEL);
  assert.equal(seen[1].ts, 20);
  assert.equal(ring.tail, ring.head);
});

test('a call chain with a wrapped body, and more frames than a sample keeps', () => {
  const ring = new FakeRing(2, 2 * PAGE - 24);
  const { s, seen } = sampler([0]);
  s.attach(0, ring.view, ring.bytes);
  s.setBase(0n);
  const frames = Array.from({ length: 200 }, (_, i) => 0xffff_ffff_8100_0000n + BigInt(i));
  ring.write(sampleRecord({ misc: CPUMODE_KERNEL, ip: frames[0], pid: 5, tid: 6, time: 7n, cpu: 0, chain: [KERNEL, ...frames] }));
  assert.equal(deliver(s), 1);
  assert.equal(seen[0].kernel.length, 127);
  assert.deepEqual(seen[0].kernel, frames.slice(0, 127));
});

test('many samples fill several queue pages, in order', () => {
  const ring = new FakeRing(64);
  const { s, seen } = sampler([0]);
  s.attach(0, ring.view, ring.bytes);
  s.setBase(0n);
  for (let i = 0; i < 1000; i++) ring.write(sampleRecord({ misc: CPUMODE_KERNEL, ip: 0xffff_ffff_8100_0000n, pid: i, tid: i, time: BigInt(i), cpu: 0, chain: [KERNEL, 0xffff_ffff_8100_0000n] }));
  assert.equal(deliver(s), 1000);
  assert.deepEqual(
    seen.map((x) => x.tid),
    Array.from({ length: 1000 }, (_, i) => i),
  );
});

test('the event asks for cpu-clock samples every period, on CLOCK_MONOTONIC, without the user chain unless wanted', () => {
  const a = samplerAttr({ periodNs: 1_003_009, kernelStack: true, userStack: false });
  assert.equal(a.readUInt32LE(0), 1); // PERF_TYPE_SOFTWARE
  assert.equal(a.readBigUInt64LE(8), 0n); // PERF_COUNT_SW_CPU_CLOCK
  assert.equal(a.readBigUInt64LE(16), 1_003_009n);
  assert.equal(a.readBigUInt64LE(24), 0xa7n); // IP | TID | TIME | CALLCHAIN | CPU
  const flags = a.readBigUInt64LE(40);
  assert.equal(flags & 1n, 1n); // disabled until tracing starts
  assert.equal((flags >> 22n) & 1n, 1n); // exclude_callchain_user
  assert.equal((flags >> 25n) & 1n, 1n); // use_clockid
  assert.equal(a.readInt32LE(92), 1);
  const b = samplerAttr({ periodNs: 1_000_000, kernelStack: false, userStack: false });
  assert.equal(b.readBigUInt64LE(24), 0x87n);
  assert.equal(b.readBigUInt64LE(32), 0n);
  // dtrace's own samplers: read(2) tells the samples lost (PERF_FORMAT_LOST)
  const c = samplerAttr({ periodNs: 1_000_000, kernelStack: false, userStack: false, countLost: true });
  assert.equal(c.readBigUInt64LE(32), 16n);
});

test('online CPUs', () => {
  assert.deepEqual(onlineCpus('0-3,5\n'), [0, 1, 2, 3, 5]);
  assert.deepEqual(onlineCpus('0\n'), [0]);
  assert.ok(onlineCpus().length >= 1);
});
