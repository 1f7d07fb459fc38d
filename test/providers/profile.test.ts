// The profile provider's tick-N bookkeeping, without the kernel: which ticks sample a CPU, and
// the slots that make a sampled tick fire once per period, from its sample or from the timer.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { TickSlots, periodOf, readsSampleContext, tickGraceNs } from '../../src/providers/profile.js';
import type { ClausePlan } from '../../src/providers/clause-plan.js';

function plan(reads: string[], kernelStack = false, userStack = false): ClausePlan {
  return { reads: new Set(reads), bigArgs: null, kernelStack, userStack, userMemory: false, stringArgs: new Set(), speculates: false, kernel: [], inKernel: null };
}

test('a tick samples a CPU only when a clause reads what a sample gives', () => {
  const cases: Array<[ClausePlan[], boolean]> = [
    [[plan([])], false], // tick-1s { exit(0); }
    [[plan(['timestamp', 'walltimestamp', 'probename'])], false],
    [[plan(['pid'])], true],
    [[plan(['execname'])], true],
    [[plan(['cpu'])], true],
    [[plan(['arg0'])], true],
    [[plan(['args'])], true],
    [[plan([], true)], true], // stack()
    [[plan([], false, true)], true], // ustack()
    [[plan([]), plan(['tid'])], true],
  ];
  for (const [plans, want] of cases) assert.equal(readsSampleContext(plans), want, JSON.stringify(plans.map((p) => [...p.reads])));
});

test('tick periods and the grace the timer gives a sample', () => {
  assert.equal(periodOf('tick-1s'), 1_000_000_000n);
  assert.equal(periodOf('tick-500ms'), 500_000_000n);
  assert.equal(periodOf('tick-1000'), 1_000_000n);
  assert.equal(tickGraceNs(1e9), 5e8);
  assert.equal(tickGraceNs(1e7), 1e8);
});

const MS = 1_000_000;

test('slots: samples fire their periods; the timer fires those without a sample, once each, in order', () => {
  const ev = { enabledAt: 0n, held: false, pending() { return this.held; } };
  const s = new TickSlots(ev, 10 * MS, 100 * MS, 1_000n * BigInt(MS));
  // the event starts 30 ms after the probe was enabled: slot 1 is due 10 ms after that
  ev.enabledAt = 1_030n * BigInt(MS);
  assert.equal(s.due(), BigInt((1_030 + 10 + 100) * MS));
  assert.equal(s.origin, 1_030n * BigInt(MS));
  // samples a little off the grid fire their slot
  assert.equal(s.sample(10 * MS + 3000), 0);
  assert.equal(s.sample(20 * MS - 2000), 0);
  assert.equal(s.next, 3);
  // the event lets slots 3 and 4 pass: the sample of slot 5 fires them first
  assert.equal(s.sample(50 * MS), 2);
  assert.equal(s.next, 6);
  // nothing is overdue before slot 6's grace is over
  assert.equal(s.overdue(s.origin + BigInt(60 * MS + 99 * MS)), 0);
  // then the timer fires 6 and 7, whose samples never came
  assert.equal(s.overdue(s.origin + BigInt(70 * MS + 100 * MS)), 2);
  assert.equal(s.next, 8);
  // while the ring holds samples not read yet, the timer waits for them
  ev.held = true;
  assert.equal(s.overdue(s.origin + BigInt(90 * MS + 100 * MS)), 0);
  assert.equal(s.wake(), s.origin + BigInt(190 * MS) + 10n * BigInt(MS));
  ev.held = false;
  // a late sample of a slot the timer fired is dropped
  assert.equal(s.sample(70 * MS), -1);
  assert.equal(s.sample(80 * MS), 0);
  assert.equal(s.next, 9);
});

test('slots: a stalled consumer fires at most 100 at once and skips the rest', () => {
  const s = new TickSlots({ enabledAt: 5n, pending: () => false }, MS, 100 * MS, 5n);
  assert.equal(s.overdue(5n + BigInt(10_000 * MS)), 100);
  // the next due is after now again
  assert.ok(s.due() > 5n + BigInt(10_000 * MS));
  assert.equal(s.sample(1_000_000 * MS) <= 100, true);
});

test('slots: periods the timer fired before the event started are not fired again', () => {
  const ev = { enabledAt: 0n, held: false, pending() { return this.held; } };
  const s = new TickSlots(ev, MS, 100 * MS, 0n);
  assert.equal(s.overdue(BigInt(103 * MS)), 3);
  ev.enabledAt = BigInt(200 * MS);
  // the event's first sample (a period after it started) is slot 4's
  assert.equal(s.due(), BigInt(200 * MS + 1 * MS + 100 * MS));
  assert.equal(s.sample(4 * MS), 0);
  assert.equal(s.next, 5);
});
