// The per-CPU perf ring reader, on rings of our own making laid out as perf's mmap is (the
// control page with data_head at 1024, data_tail at 1032, data_offset at 1040, data_size at
// 1048, then the data): records in order, lost records counted, records that wrap the end, u64
// head and tail past 2^32, queue pages filled across reads, and no read after close().

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { PERF_RECORD_SAMPLE, type PerfRecordSink, type PerfRing, PerfRings, copyBytes } from '../../src/kernel/perf-ring.js';
import type { EventQueue } from '../../src/kernel/ringbuf.js';

const PAGE = 4096;

/** A mapped ring: the control page and `pages` of data, records written from byte `start` on. */
class FakeRing {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  head: number;
  constructor(
    readonly pages: number,
    start = 0,
    /** write data_offset and data_size (kernels before 4.1 leave them 0) */
    sizes = true,
  ) {
    this.bytes = new Uint8Array(PAGE * (pages + 1));
    this.view = new DataView(this.bytes.buffer);
    if (sizes) {
      this.view.setBigUint64(1040, BigInt(PAGE), true);
      this.view.setBigUint64(1048, BigInt(pages * PAGE), true);
    }
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

/** A record of `type` and `size` bytes (8-aligned): a u64 time after the header, then bytes seq, seq+1, ... */
function record(type: number, size: number, time: bigint, seq: number): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32LE(type, 0);
  b.writeUInt16LE(size, 6);
  b.writeBigUInt64LE(time, 8);
  for (let i = 16; i < size; i++) b[i] = (seq + i) & 0xff;
  return b;
}

function lost(n: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(2, 0);
  b.writeUInt16LE(24, 6);
  b.writeBigUInt64LE(7n, 8); // id
  b.writeBigUInt64LE(BigInt(n), 16);
  return b;
}

/** Queues every record whole, its time from the u64 after the header. */
class CopySink implements PerfRecordSink {
  perf: PerfRings | null = null;
  calls = 0;
  perfRecord(r: PerfRing, _type: number, v: DataView, at: number, size: number): void {
    this.calls++;
    const d = r.room(size);
    copyBytes(v, at, d, r.used, size);
    r.push(0, size, this.perf!.time(v, at + 8), size);
  }
}

function rings(queuePage = 64 * 1024): { perf: PerfRings; sink: CopySink } {
  const sink = new CopySink();
  const perf = new PerfRings(sink, queuePage, null);
  sink.perf = perf;
  return { perf, sink };
}

/** What a queue holds after a fill: each record's bytes and time; pending ones are handed over. */
function drain(perf: PerfRings, q: EventQueue): Array<{ bytes: Buffer; ts: number }> {
  q.keepPending();
  perf.fill(q);
  const out: Array<{ bytes: Buffer; ts: number }> = [];
  while (q.next < q.nev) {
    const i = q.next++;
    const p = q.pages[q.evPage[i]];
    out.push({ bytes: Buffer.from(p.subarray(q.evOff[i], q.evOff[i] + q.evLen[i])), ts: q.evTs[i] });
  }
  return out;
}

test('records in ring order, times after the base, lost records counted, the tail given back', () => {
  const ring = new FakeRing(1);
  const { perf, sink } = rings();
  const r = perf.attach(3, ring.view, ring.bytes);
  assert.equal(r.cpu, 3);
  perf.setBase(5_000_000_000_000n);
  const a = record(PERF_RECORD_SAMPLE, 40, 5_000_000_000_100n, 1);
  const b = record(10, 64, 5_000_000_000_200n, 2);
  ring.write(a);
  ring.write(lost(3));
  ring.write(b);
  ring.write(lost(4));
  const got = drain(perf, perf.queues[0]);
  assert.deepEqual(
    got.map((x) => x.ts),
    [100, 200],
  );
  assert.deepEqual(got[0].bytes, a);
  assert.deepEqual(got[1].bytes, b);
  assert.equal(sink.calls, 2); // lost records are the ring's, not the sink's
  assert.equal(perf.lost()[3], 7);
  assert.equal(ring.tail, ring.head);
  // nothing more until the kernel writes more
  assert.deepEqual(drain(perf, perf.queues[0]), []);
  assert.equal(sink.calls, 2);
});

test('records that wrap the end of the ring are read whole, wherever they wrap', () => {
  for (const before of [8, 16, 24, 56]) {
    // the second record starts `before` bytes before the end: its body wraps
    const ring = new FakeRing(1, PAGE - before - 48);
    const { perf } = rings();
    perf.attach(0, ring.view, ring.bytes);
    const recs = [record(9, 48, 1n, 10), record(9, 200, 2n, 20), record(9, 32, 3n, 30)];
    for (const x of recs) ring.write(x);
    const got = drain(perf, perf.queues[0]);
    assert.deepEqual(
      got.map((x) => x.bytes),
      recs,
      `wrapping ${before} bytes before the end`,
    );
    assert.equal(ring.tail, ring.head);
  }
});

test('a record that fills the ring to its last byte, then one at its start', () => {
  const ring = new FakeRing(1, PAGE - 64);
  const { perf } = rings();
  perf.attach(0, ring.view, ring.bytes);
  const recs = [record(9, 64, 1n, 1), record(9, 64, 2n, 2)];
  for (const x of recs) ring.write(x);
  assert.deepEqual(
    drain(perf, perf.queues[0]).map((x) => x.bytes),
    recs,
  );
});

test('head and tail past 2^32 (u64s, both halves)', () => {
  const start = 2 ** 32 - 24; // the tail's low half wraps while reading
  const ring = new FakeRing(2, start);
  const { perf } = rings();
  perf.attach(0, ring.view, ring.bytes);
  const recs = Array.from({ length: 10 }, (_, i) => record(9, 40, BigInt(i), i));
  for (const x of recs) ring.write(x);
  assert.deepEqual(
    drain(perf, perf.queues[0]).map((x) => x.bytes),
    recs,
  );
  assert.equal(ring.tail, start + 400);
  assert.equal(ring.view.getUint32(1036, true), 1);
});

test('kernels before 4.1 (no data_offset, data_size): the data follows the control page', () => {
  const ring = new FakeRing(1, PAGE - 16, false);
  const { perf } = rings();
  perf.attach(0, ring.view, ring.bytes);
  const recs = [record(9, 40, 1n, 1), record(9, 40, 2n, 2)];
  for (const x of recs) ring.write(x);
  assert.deepEqual(
    drain(perf, perf.queues[0]).map((x) => x.bytes),
    recs,
  );
});

test('many records take several queue pages; events not handed over stay for the next read', () => {
  const ring = new FakeRing(16);
  const { perf } = rings(1024);
  perf.attach(0, ring.view, ring.bytes);
  const q = perf.queues[0];
  for (let i = 0; i < 100; i++) ring.write(record(9, 200, BigInt(i), i));
  q.keepPending();
  perf.fill(q);
  assert.equal(q.nev, 100);
  assert.ok(q.npages >= 20, `${q.npages} pages`); // 5 records of 200 bytes a page of 1024
  // hand over 37, then read more: the rest come first, then the new ones, in order
  q.next = 37;
  for (let i = 100; i < 150; i++) ring.write(record(9, 200, BigInt(i), i));
  const got = drain(perf, q);
  assert.deepEqual(
    got.map((x) => x.ts),
    Array.from({ length: 113 }, (_, i) => 37 + i),
  );
  for (const x of got) assert.deepEqual(x.bytes, record(9, 200, BigInt(x.ts), x.ts));
});

test('a record the sink does not queue still frees its space', () => {
  const ring = new FakeRing(1);
  const perf = new PerfRings({ perfRecord: () => {} }, 4096, null);
  perf.attach(0, ring.view, ring.bytes);
  ring.write(record(9, 40, 1n, 1));
  assert.deepEqual(drain(perf, perf.queues[0]), []);
  assert.equal(ring.tail, ring.head);
});

test('after close() a ring is never read again', () => {
  const ring = new FakeRing(1);
  const { perf, sink } = rings();
  perf.attach(0, ring.view, ring.bytes);
  const q = perf.queues[0];
  perf.close();
  ring.write(record(9, 40, 1n, 1));
  assert.deepEqual(drain(perf, q), []);
  assert.equal(sink.calls, 0);
  assert.equal(ring.tail, 0);
  perf.close(); // twice is fine
});
