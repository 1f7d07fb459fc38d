import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { Runtime } from '../../src/runtime/runtime.js';

const rt = Runtime.prototype;

test('loads and stores in byte images read and write little-endian integers as DataView does', () => {
  const img = new Uint8Array(24);
  const view = new DataView(img.buffer);
  const nums = [0, 1, -1, 127, -128, 255, 0x1234, -0x1234, 0xffff, 0x7fffffff, -0x80000000, 0xffffffff, 0xdeadbeef];
  const bigs = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 0x0123456789abcdefn, 2n ** 53n + 1n];
  for (const o of [0, 3, 8]) {
    for (const v of nums) {
      rt.bst_i16(img, o, v);
      assert.equal(rt.bld_i16(img, o), view.getInt16(o, true), `i16 ${v}`);
      assert.equal(rt.bld_u16(img, o), (v & 0xffff), `u16 ${v}`);
      rt.bst_u32(img, o, v);
      assert.equal(rt.bld_u32(img, o), v >>> 0, `u32 ${v}`);
      assert.equal(rt.bld_i32(img, o), v | 0, `i32 ${v}`);
      assert.equal(view.getUint32(o, true), v >>> 0);
    }
    for (const v of bigs) {
      rt.bst_i64(img, o, v);
      assert.equal(rt.bld_i64(img, o), BigInt.asIntN(64, v), `i64 ${v}`);
      assert.equal(rt.bld_u64(img, o), BigInt.asUintN(64, v), `u64 ${v}`);
      assert.equal(view.getBigInt64(o, true), BigInt.asIntN(64, v));
      rt.bst_u64(img, o, BigInt.asUintN(64, v));
      assert.equal(view.getBigUint64(o, true), BigInt.asUintN(64, v));
    }
  }
});
