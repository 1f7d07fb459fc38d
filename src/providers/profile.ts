// The profile provider: profile-N (every CPU) and tick-N (one CPU) at a rate or interval.
// For now both fire from consumer-side timers; a kernel perf-event sampler can replace this
// without the language or runtime noticing.                                   [dt_prov_profile.c]

import type { DType } from '../lang/types.js';
import type { FiringEnv, ProbeDef, ProbeDesc, Provider } from './provider.js';

const UNITS: Record<string, bigint> = {
  ns: 1n, nsec: 1n, us: 1000n, usec: 1000n, ms: 1_000_000n, msec: 1_000_000n,
  s: 1_000_000_000n, sec: 1_000_000_000n, m: 60_000_000_000n, min: 60_000_000_000n,
  h: 3_600_000_000_000n, hour: 3_600_000_000_000n, d: 86_400_000_000_000n, day: 86_400_000_000_000n,
};

/** The period in ns of "profile-97", "tick-5s", ...; 0 if the name is not valid. */
export function periodOf(name: string): bigint {
  const m = /^(?:profile|tick)-([0-9]+)([a-zA-Z]{0,4})$/.exec(name);
  if (!m) return 0n;
  let val = BigInt(m[1]);
  if (val === 0n) return 0n;
  const suffix = m[2] === '' ? 'hz' : m[2].toLowerCase();
  if (suffix === 'hz') val = 1_000_000_000n / val;
  else {
    const mul = UNITS[suffix];
    if (mul === undefined) return 0n;
    val *= mul;
  }
  // DTrace refuses intervals under 200 microseconds
  return val < 200_000n ? 0n : val;
}

interface Timer {
  def: ProbeDef;
  periodNs: bigint;
  next: bigint;
}

export class ProfileProvider implements Provider {
  readonly name = 'profile';
  readonly local = true;
  private timers: Timer[] = [];
  private handle: NodeJS.Timeout | null = null;
  private env: FiringEnv | null = null;
  private argTypes: DType[] = [];

  constructor(private readonly uint64: DType) {}

  populate(newProbe: (module: string, func: string, name: string, argTypes: DType[]) => ProbeDef): void {
    this.argTypes = [this.uint64, this.uint64];
    for (const n of [97, 199, 499, 997, 1999, 4001, 4999]) newProbe('', '', `profile-${n}`, this.argTypes);
    for (const n of [1, 10, 100, 500, 1000, 5000]) newProbe('', '', `tick-${n}`, this.argTypes);
  }

  provide(desc: ProbeDesc, newProbe: (module: string, func: string, name: string, argTypes: DType[]) => ProbeDef): ProbeDef | null {
    if (desc.module !== '' || desc.func !== '') return null;
    if (periodOf(desc.name) === 0n) return null;
    return newProbe('', '', desc.name, this.argTypes);
  }

  enable(probes: ProbeDef[], env: FiringEnv): void {
    this.env = env;
    const now = process.hrtime.bigint();
    for (const def of probes) {
      const p = periodOf(def.probe.name);
      if (p > 0n) this.timers.push({ def, periodNs: p, next: now + p });
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timers.length === 0 || this.env === null) return;
    let next = this.timers[0].next;
    for (const t of this.timers) if (t.next < next) next = t.next;
    const delayMs = Number(next - process.hrtime.bigint()) / 1e6;
    this.handle = setTimeout(() => this.tick(), Math.max(0, delayMs));
  }

  private tick(): void {
    this.handle = null;
    const env = this.env;
    if (env === null) return;
    const now = process.hrtime.bigint();
    for (const t of this.timers) {
      // fire once per elapsed period, but do not let a stalled consumer cause a burst
      let n = 0;
      while (t.next <= now && n < 100) {
        env.fireLocal(t.def);
        if (this.env === null) return;
        t.next += t.periodNs;
        n++;
      }
      if (t.next <= now) t.next = now + t.periodNs;
    }
    this.schedule();
  }

  disable(): void {
    this.env = null;
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
    this.timers = [];
  }
}
