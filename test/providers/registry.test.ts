import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import type { NewProbe, ProbeDef, ProbeDesc, Provider } from '../../src/providers/provider.js';
import { ProbeRegistry, globMatch, parseProbeDesc } from '../../src/providers/registry.js';

/** A provider of many functions (as fbt's), each with an entry and a return probe. */
class ManyFunctions implements Provider {
  readonly name = 'many';
  announced = 0;
  fullPopulates = 0;
  private readonly done = new Set<string>();

  constructor(private readonly functions: string[]) {}

  private announce(func: string, newProbe: NewProbe): void {
    if (this.done.has(func)) return;
    this.done.add(func);
    for (const name of ['entry', 'return']) {
      newProbe('vmlinux', func, name, []);
      this.announced++;
    }
  }

  populate(newProbe: NewProbe): void {
    this.fullPopulates++;
    for (const f of this.functions) this.announce(f, newProbe);
  }

  populateFor(desc: ProbeDesc, newProbe: NewProbe): boolean {
    if (desc.func === '' || desc.func === '*') return false;
    for (const f of this.functions) if (globMatch(desc.func, f)) this.announce(f, newProbe);
    return true;
  }

  provide(desc: ProbeDesc, newProbe: NewProbe): ProbeDef | null {
    return desc.func === 'alias_of_f1' ? newProbe('vmlinux', 'alias_of_f1', 'entry', []) : null;
  }

  enable(): void {}
  disable(): void {}
}

const FUNCS = Array.from({ length: 1000 }, (_, i) => `f${i}`);

function setup(): { reg: ProbeRegistry; prov: ManyFunctions } {
  const reg = new ProbeRegistry();
  const prov = new ManyFunctions(FUNCS);
  reg.add(prov, true);
  return { reg, prov };
}

const names = (defs: ProbeDef[]) => defs.map((d) => d.probe.desc).sort();

test('a description naming a provider and a function announces only what it can match', () => {
  const { reg, prov } = setup();
  assert.deepEqual(names(reg.match(parseProbeDesc('many::f7:entry', 1, 3))), ['many:vmlinux:f7:entry']);
  assert.equal(prov.announced, 2);
  assert.equal(reg.match(parseProbeDesc('many::f1*:return', 1, 3)).length, 111);
  assert.equal(prov.announced, 2 + 222);
  assert.equal(prov.fullPopulates, 0);
});

test('a probe the provider makes on demand is still found when only some probes are announced', () => {
  const { reg } = setup();
  assert.deepEqual(names(reg.match(parseProbeDesc('many::alias_of_f1:entry', 1, 3))), ['many:vmlinux:alias_of_f1:entry']);
});

test('a description without a function pattern announces everything, once: no probe twice', () => {
  const { reg, prov } = setup();
  reg.match(parseProbeDesc('many::f3:entry', 1, 3));
  const all = reg.match(parseProbeDesc('many:::entry', 1, 3));
  assert.equal(all.length, FUNCS.length);
  assert.equal(prov.fullPopulates, 1);
  assert.equal(prov.announced, 2 * FUNCS.length);
  assert.equal(new Set(reg.all().map((d) => d.probe.desc)).size, reg.all().length);
  // a provider pattern (not the provider named outright) announces everything too
  const { reg: reg2, prov: prov2 } = setup();
  reg2.match(parseProbeDesc('m*::f3:entry', 1, 3));
  assert.equal(prov2.fullPopulates, 1);
});
