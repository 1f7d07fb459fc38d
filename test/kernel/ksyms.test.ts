// Kernel symbols from /proc/kallsyms: frames as DTrace prints them, from the very first lookup.

import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { KernelSymbols, kernelOffset } from '../../src/kernel/ksyms.js';

/** A function's address from kallsyms, as kernelOffset() gives it (null: addresses hidden). */
function offsetOf(name: string): number | null {
  let text = '';
  try {
    text = readFileSync('/proc/kallsyms', 'latin1');
  } catch {
    return null;
  }
  const m = new RegExp(`^([0-9a-f]{16}) [tT] ${name}$`, 'm').exec(text);
  if (m === null || /^0+$/.test(m[1])) return null;
  const v = new DataView(new ArrayBuffer(8));
  v.setBigUint64(0, BigInt(`0x${m[1]}`), true);
  return kernelOffset(v, 0);
}

const at = offsetOf('schedule');
test('the first frame looked up is named with its offset (the table loads on that lookup)', { skip: at === null && 'kernel addresses are hidden here' }, () => {
  const k = new KernelSymbols();
  assert.equal(k.frame(at! + 5), 'vmlinux`schedule+0x5');
  assert.equal(k.frame(at!), 'vmlinux`schedule');
  assert.equal(k.symbol(at! + 1), 'vmlinux`schedule');
});
