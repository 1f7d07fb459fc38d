// The stack, read from the imports: cli -> api -> session -> compile -> providers -> runtime -> kernel,
// with lang beneath them all, and no import (types included) running upwards. Files directly
// in src/ (errors.ts) are neutral: any layer may use them, and they use none.

import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const src = join(root, 'src');
const RANK: Record<string, number> = { cli: 7, api: 6, session: 5, compile: 4, providers: 3, runtime: 2, kernel: 1, lang: 0 };
/** import/export ... from '<relative path>', and dynamic import('<relative path>') */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.[^'"]+)['"]/g;

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (name.endsWith('.ts')) yield p;
  }
}

/** The layer of a file under src/ (null: a neutral file directly in src/). */
function layerOf(file: string): string | null {
  const parts = relative(src, file).split(sep);
  return parts.length > 1 ? parts[0] : null;
}

test('every layer imports only itself, the layers below it and the neutral files', () => {
  const upwards: string[] = [];
  for (const file of sources(src)) {
    const from = layerOf(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = normalize(join(dirname(file), m[1]));
      const to = layerOf(target);
      const bad = from === null ? to !== null : to !== null && RANK[to] > RANK[from];
      if (bad) upwards.push(`${relative(root, file)} imports ${m[1]}`);
    }
  }
  assert.deepEqual(upwards, []);
});

test('every folder of src/ is a layer of the stack', () => {
  const folders = readdirSync(src).filter((n) => statSync(join(src, n)).isDirectory());
  assert.deepEqual(folders.filter((f) => !(f in RANK)), []);
});

test("the checker's helpers see the checker only through CheckContext (no import cycle with check.ts)", () => {
  for (const helper of ['check-actions.ts', 'check-aggs.ts']) {
    const imports = [...readFileSync(join(src, 'lang', helper), 'utf8').matchAll(IMPORT)].map((m) => m[1]);
    assert.ok(!imports.includes('./check.js'), `${helper} imports ./check.js`);
  }
});
