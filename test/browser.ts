// A real browser for the tests of what dtrace draws (-x flamegraph): Debian's chromium, headless.
// A page is an SVG document with a test script appended; the script's result (JSON) is read back
// from the DOM chromium dumps, and a screenshot is kept in build/test-output/<folder>.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome'];

/** The browser's command, or null if none is installed. */
export function chromium(): string | null {
  for (const c of CANDIDATES) {
    const r = spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'latin1' });
    if (r.status === 0 && r.stdout.trim() !== '') return r.stdout.trim();
  }
  return null;
}

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--hide-scrollbars', '--mute-audio'];

/** Where a test's screenshots go. */
export function outputFolder(name: string): string {
  const dir = resolve('build', 'test-output', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Loads `svg` with `script` run after the document's own scripts; `script` is the body of a
 * function returning a JSON-able result. Saves a screenshot of the page as it is then to
 * `screenshot` (a path), and returns the result.
 */
export function runInBrowser(svg: string, script: string, screenshot: string): unknown {
  const browser = chromium();
  if (browser === null) throw new Error('no chromium');
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-ts-browser-'));
  try {
    const page = join(dir, 'page.svg');
    const probe =
      `<script type="text/ecmascript"><![CDATA[\n(function () {\n  var out;\n` +
      `  try { out = (function () {\n${script}\n})(); } catch (e) { out = { error: String(e && e.stack || e) }; }\n` +
      `  var t = document.createElementNS('http://www.w3.org/2000/svg', 'text');\n` +
      `  t.setAttribute('id', 'test-result'); t.setAttribute('x', '-1000'); t.setAttribute('y', '-1000');\n` +
      `  t.textContent = JSON.stringify(out);\n  document.documentElement.appendChild(t);\n})();\n]]></script>\n</svg>\n`;
    if (!svg.endsWith('</svg>\n')) throw new Error('not an SVG document');
    const doc = svg.slice(0, -'</svg>\n'.length) + probe;
    writeFileSync(page, doc);
    const url = 'file://' + page;
    const size = /<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg);
    const win = size ? `--window-size=${size[1]},${size[2]}` : '--window-size=1200,800';
    const home = join(dir, 'home');
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: home, XDG_CACHE_HOME: home };
    const dump = spawnSync(browser, [...FLAGS, `--user-data-dir=${join(dir, 'profile')}`, '--dump-dom', url], { encoding: 'utf8', timeout: 120_000, env });
    const m = /<text id="test-result"[^>]*>([^<]*)<\/text>/.exec(dump.stdout ?? '');
    if (!m) throw new Error(`chromium gave no result (status ${dump.status}):\n${(dump.stderr ?? '').slice(-2000)}`);
    spawnSync(browser, [...FLAGS, `--user-data-dir=${join(dir, 'profile')}`, win, `--screenshot=${screenshot}`, url], { encoding: 'utf8', timeout: 120_000, env });
    return JSON.parse(m[1].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The checks every flame graph must pass in a browser, as a script for runInBrowser: it
 * loaded (frames drawn, the root spans the width), the frame with the most self value
 * (`hot`, a regular expression) is the widest of the frames that are not its ancestors, hovering
 * shows a frame's name and value, clicking a frame zooms to it (full width, callers dimmed,
 * the rest hidden) and "Reset Zoom" undoes it, and a search highlights what matches.
 */
export function flameChecks(hot: string, zoomTo: string): string {
  return `
  var HOT = new RegExp(${JSON.stringify(hot)}), ZOOM = new RegExp(${JSON.stringify(zoomTo)});
  var r = {};
  var gs = Array.prototype.slice.call(document.querySelectorAll('#frames > g'));
  function name(g) { var t = g.querySelector('title').textContent; return t.slice(0, t.lastIndexOf(' (')); }
  function width(g) { return g.querySelector('rect').getBoundingClientRect().width; }
  function shown(g) { return getComputedStyle(g).display !== 'none'; }
  function of(re) { return gs.filter(function (g) { return re.test(name(g)); })[0]; }
  function click(g) { g.dispatchEvent(new MouseEvent('click', { bubbles: true })); }
  var root = gs.filter(function (g) { return g.getAttribute('data-d') === '0'; })[0];
  r.frames = gs.length;
  r.rootWidth = Math.round(width(root));
  var hot = of(HOT);
  r.hot = hot ? name(hot) : null;
  // the widest frame that is not an ancestor of the hot one
  var hs = Number(hot.getAttribute('data-s')), hn = Number(hot.getAttribute('data-n')), hd = Number(hot.getAttribute('data-d'));
  var widest = null;
  gs.forEach(function (g) {
    var s = Number(g.getAttribute('data-s')), n = Number(g.getAttribute('data-n')), d = Number(g.getAttribute('data-d'));
    if (d < hd && s <= hs && s + n >= hs + hn) return;
    if (widest === null || width(g) > width(widest)) widest = g;
  });
  r.widest = name(widest);
  hot.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
  r.details = document.querySelector('#details').textContent;
  var z = of(ZOOM);
  r.zoomed = name(z);
  r.zoomWidthBefore = Math.round(width(z));
  click(z);
  r.zoomWidthAfter = Math.round(width(z));
  r.zoomX = Math.round(z.querySelector('rect').getBoundingClientRect().left);
  r.hotShownWhenZoomed = shown(hot);
  r.rootDimmed = root.classList.contains('parent');
  r.unzoomShown = shown(document.querySelector('#unzoom'));
  document.querySelector('#unzoom').dispatchEvent(new MouseEvent('click', { bubbles: true }));
  r.zoomWidthReset = Math.round(width(z));
  r.hotShownAfterReset = shown(hot);
  r.unzoomShownAfterReset = shown(document.querySelector('#unzoom'));
  r.badSearch = window.flameSearch('(');
  r.badSearchText = document.querySelector('#matched').textContent;
  r.searchPercent = window.flameSearch(HOT.source);
  r.hotFill = hot.querySelector('rect').getAttribute('fill');
  r.matched = document.querySelector('#matched').textContent;
  // left as the screenshot shows it: zoomed to the frame, the search on
  click(z);
  return r;
`;
}
