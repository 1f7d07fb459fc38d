// -x flamegraph=FILE.svg: an interactive SVG flame graph of stacks with weights (folded.ts), in
// the manner of Brendan Gregg's flamegraph.pl (this is our own drawing of it): the root ("all")
// at the bottom, each frame as wide as its share of the total, callees above callers, siblings in
// alphabetical order. In a browser: hovering a frame shows its name, value and share; clicking
// one zooms to it (it becomes the full width, its callers stay below, dimmed); "Reset Zoom"
// undoes it; "Search" (or Ctrl-F) highlights the frames whose names match a regular expression
// and says what share of the total they hold. Colours say what a frame is: user code in reds
// and yellows, kernel code in oranges, keys that are not stacks (execname...) in blues; a
// frame's colour depends only on its name, so two graphs of one program compare at a glance.

import { FoldedStack, FrameKind } from './folded.js';

export interface FlameGraphOptions {
  title: string;
  /** what a value counts, for the hover text ("samples"); "" to print the bare number */
  unit: string;
}

const WIDTH = 1200;
const XPAD = 10;
const FRAME_HEIGHT = 16;
const FONT_SIZE = 12;
/** average width of a character, as a fraction of the font size (Verdana) */
const FONT_WIDTH = 0.59;
const PAD_TOP = FONT_SIZE * 3;
const PAD_BOTTOM = FONT_SIZE * 2 + 10;
/** frames narrower than this (pixels) are not drawn */
const MIN_WIDTH = 0.1;

/**
 * A frame of the graph. Values are Numbers: exact up to 2^53 (a count always is; a sum() of
 * more than that is drawn to within a part in 2^53, its hover text rounded alike).
 */
class Node {
  /** callees, in order of first appearance; looked up through `index` once there are many */
  children: Node[] = [];
  index: Map<string, Node> | null = null;
  value = 0;
  /** where the frame starts, in values from the left edge */
  start = 0;

  constructor(
    readonly name: string,
    readonly kind: FrameKind | -1,
    readonly depth: number,
  ) {}

  child(name: string, kind: FrameKind): Node {
    const kids = this.children;
    if (this.index === null) {
      for (let i = 0; i < kids.length; i++) {
        const c = kids[i]!;
        if (c.name === name && c.kind === kind) return c;
      }
    } else {
      const c = this.index.get(kind + name);
      if (c !== undefined) return c;
    }
    const c = new Node(name, kind, this.depth + 1);
    kids.push(c);
    if (this.index !== null) this.index.set(kind + name, c);
    else if (kids.length > 8) {
      this.index = new Map();
      for (const k of kids) this.index.set(k.kind + k.name, k);
    }
    return c;
  }
}

function buildTree(stacks: readonly FoldedStack[]): Node {
  const root = new Node('all', -1, 0);
  for (const s of stacks) {
    if (s.value <= 0n) continue;
    const v = Number(s.value);
    root.value += v;
    let n = root;
    for (let i = 0; i < s.frames.length; i++) {
      n = n.child(s.frames[i]!, s.kinds[i]!);
      n.value += v;
    }
  }
  return root;
}

/** The nodes at least `min` wide, parents before children, siblings sorted by name; starts set. */
function layout(root: Node, min: number): Node[] {
  const out: Node[] = [];
  const walk = (n: Node): void => {
    out.push(n);
    let x = n.start;
    const kids = n.children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind - b.kind));
    for (const c of kids) {
      c.start = x;
      x += c.value;
      if (c.value >= min) walk(c);
    }
  };
  walk(root);
  return out;
}

/** FNV-1a of a string, as a number in [0, 1) from `salt`'s slice of it. */
function hash(name: string, salt: number): number {
  let h = 0x811c9dc5 ^ salt;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % 1000) / 1000;
}

/** A frame's fill: a function of its name and kind only. */
export function frameColor(name: string, kind: FrameKind | -1): string {
  // the function's name without its module: "libc.so.6`memcpy" and "memcpy" look alike
  const base = name.slice(name.indexOf('`') + 1);
  const a = hash(base, 1);
  const b = hash(base, 2);
  let r: number;
  let g: number;
  let bl: number;
  switch (kind) {
    case -1:
      return 'rgb(200,200,200)';
    case FrameKind.Kernel:
      r = 215 + Math.round(40 * a);
      g = 110 + Math.round(70 * b);
      bl = Math.round(40 * a);
      break;
    case FrameKind.Key:
      r = 60 + Math.round(70 * a);
      g = 150 + Math.round(60 * b);
      bl = 210 + Math.round(45 * a);
      break;
    default:
      r = 205 + Math.round(50 * a);
      g = Math.round(230 * b);
      bl = Math.round(55 * hash(base, 3));
  }
  return `rgb(${r},${g},${bl})`;
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;'));
}

/** What of a name fits in `width` pixels: all of it, its start and "..", or nothing. */
export function fitLabel(name: string, width: number): string {
  const chars = Math.floor(width / (FONT_SIZE * FONT_WIDTH));
  if (chars < 3) return '';
  return name.length <= chars ? name : name.slice(0, chars - 2) + '..';
}

/** "12.34" */
function percent(part: number, whole: number): string {
  return whole === 0 ? '0.00' : ((part * 100) / whole).toFixed(2);
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** The SVG document of a flame graph of `stacks`. */
export function flameGraphSvg(stacks: readonly FoldedStack[], opts: FlameGraphOptions): string {
  const root = buildTree(stacks);
  const total = root.value;
  const inner = WIDTH - 2 * XPAD;
  const scale = total > 0 ? inner / total : 0;
  // frames narrower than MIN_WIDTH are left out, and so are their callees
  const drawn = total > 0 ? layout(root, MIN_WIDTH / scale) : [];
  let depth = 0;
  for (const n of drawn) depth = Math.max(depth, n.depth);
  const height = PAD_TOP + PAD_BOTTOM + (depth + 1) * FRAME_HEIGHT;
  const unit = opts.unit === '' ? '' : ` ${opts.unit}`;
  const singular = unit.endsWith('s') ? unit.slice(0, -1) : unit;

  let frames = '';
  for (const n of drawn) {
    const x = XPAD + n.start * scale;
    const w = n.value * scale;
    const y = height - PAD_BOTTOM - (n.depth + 1) * FRAME_HEIGHT;
    const name = escapeXml(n.name);
    frames +=
      `<g class="f" data-s="${n.start}" data-n="${n.value}" data-d="${n.depth}">` +
      `<title>${name} (${n.value}${n.value === 1 ? singular : unit}, ${percent(n.value, total)}%)</title>` +
      `<rect x="${fmt(x)}" y="${y}" width="${fmt(w)}" height="${FRAME_HEIGHT - 1}" fill="${frameColor(n.name, n.kind)}" rx="2" ry="2"/>` +
      `<text x="${fmt(x + 3)}" y="${y + FRAME_HEIGHT - 5}">${escapeXml(fitLabel(n.name, w))}</text></g>\n`;
  }
  const empty = total > 0 ? '' : `<text id="empty" x="${WIDTH / 2}" y="${PAD_TOP + FRAME_HEIGHT}" text-anchor="middle">No stacks were recorded</text>\n`;

  return (
    `<?xml version="1.0" standalone="no"?>\n` +
    `<svg version="1.1" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" xmlns="http://www.w3.org/2000/svg" ` +
    `data-total="${total}">\n` +
    `<style type="text/css">\n${STYLE}</style>\n` +
    `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="rgb(248,248,248)"/>\n` +
    `<text id="title" x="${WIDTH / 2}" y="${FONT_SIZE * 2}" text-anchor="middle">${escapeXml(opts.title)}</text>\n` +
    `<text id="unzoom" class="button hide" x="${XPAD}" y="${FONT_SIZE * 2}">Reset Zoom</text>\n` +
    `<text id="search" class="button" x="${WIDTH - XPAD}" y="${FONT_SIZE * 2}" text-anchor="end">Search</text>\n` +
    `<text id="details" x="${XPAD}" y="${height - FONT_SIZE}"> </text>\n` +
    `<text id="matched" x="${WIDTH - XPAD}" y="${height - FONT_SIZE}" text-anchor="end"> </text>\n` +
    empty +
    `<g id="frames">\n${frames}</g>\n` +
    `<script type="text/ecmascript"><![CDATA[\n${script()}]]></script>\n` +
    `</svg>\n`
  );
}

const STYLE = `text { font-family: Verdana, sans-serif; font-size: ${FONT_SIZE}px; fill: rgb(0,0,0); }
#title { font-size: ${FONT_SIZE + 5}px; }
#frames text { pointer-events: none; }
#frames g { cursor: pointer; }
#frames g:hover rect { stroke: rgb(0,0,0); stroke-width: 0.5; }
.button { cursor: pointer; fill: rgb(0,0,160); }
.button:hover { text-decoration: underline; }
.hide { display: none; }
.parent { opacity: 0.5; }
`;

/** The graph's behaviour in a browser; flameZoom, flameSearch and flameReset are its API. */
function script(): string {
  return `(function () {
  'use strict';
  var XPAD = ${XPAD}, INNER = ${WIDTH - 2 * XPAD}, MIN = ${MIN_WIDTH}, CW = ${FONT_SIZE * FONT_WIDTH};
  var svg = document.documentElement.tagName === 'svg' ? document.documentElement : document.querySelector('svg');
  var total = Number(svg.getAttribute('data-total'));
  var frames = [];
  var gs = svg.querySelectorAll('#frames > g');
  for (var i = 0; i < gs.length; i++) {
    var g = gs[i], t = g.querySelector('title').textContent;
    frames.push({ g: g, rect: g.querySelector('rect'), text: g.querySelector('text'),
      name: t.slice(0, t.lastIndexOf(' (')), title: t,
      s: Number(g.getAttribute('data-s')), n: Number(g.getAttribute('data-n')), d: Number(g.getAttribute('data-d')),
      fill: g.querySelector('rect').getAttribute('fill') });
  }
  var details = svg.querySelector('#details'), matched = svg.querySelector('#matched');
  var unzoomBtn = svg.querySelector('#unzoom'), searchBtn = svg.querySelector('#search');
  var term = null;

  function label(name, w) {
    var chars = Math.floor(w / CW);
    if (chars < 3) return '';
    return name.length <= chars ? name : name.slice(0, chars - 2) + '..';
  }

  function place(f, x, w) {
    f.rect.setAttribute('x', x.toFixed(1));
    f.rect.setAttribute('width', w.toFixed(1));
    f.text.setAttribute('x', (x + 3).toFixed(1));
    f.text.textContent = label(f.name, w);
  }

  /** Zooms to frame element g: it spans the width, its callers stay (dimmed), the rest hides. */
  function zoom(g) {
    var z = null;
    for (var i = 0; i < frames.length; i++) if (frames[i].g === g) z = frames[i];
    if (z === null) return;
    var scale = INNER / z.n;
    for (var j = 0; j < frames.length; j++) {
      var f = frames[j];
      f.g.classList.remove('parent');
      f.g.classList.remove('hide');
      if (f.d < z.d) {
        if (f.s <= z.s && f.s + f.n >= z.s + z.n) {
          if (z.d > 0) f.g.classList.add('parent');
          place(f, XPAD, INNER);
        } else f.g.classList.add('hide');
      } else if (f.s >= z.s && f.s + f.n <= z.s + z.n && f.n * scale >= MIN) {
        place(f, XPAD + (f.s - z.s) * scale, f.n * scale);
      } else f.g.classList.add('hide');
    }
    if (z.d > 0) unzoomBtn.classList.remove('hide');
    else unzoomBtn.classList.add('hide');
    if (term !== null) search(term);
  }

  function reset() {
    for (var i = 0; i < frames.length; i++) if (frames[i].d === 0) return zoom(frames[i].g);
  }

  /** Highlights the frames whose names match the regular expression re; null clears it. */
  function search(re) {
    term = re;
    var spans = [];
    var rx = null;
    try {
      rx = re === null ? null : new RegExp(re);
    } catch (e) {
      matched.textContent = 'Invalid regular expression: ' + re;
      term = null;
      return -1;
    }
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      if (rx !== null && rx.test(f.name)) {
        f.rect.setAttribute('fill', 'rgb(230,0,230)');
        spans.push([f.s, f.s + f.n]);
      } else f.rect.setAttribute('fill', f.fill);
    }
    if (rx === null) {
      matched.textContent = ' ';
      searchBtn.textContent = 'Search';
      return 0;
    }
    // nested matches count once
    spans.sort(function (a, b) { return a[0] - b[0]; });
    var sum = 0, end = -1;
    for (var k = 0; k < spans.length; k++) {
      var a = spans[k][0], b = spans[k][1];
      if (a >= end) { sum += b - a; end = b; } else if (b > end) { sum += b - end; end = b; }
    }
    var pct = total > 0 ? (100 * sum / total) : 0;
    matched.textContent = 'Matched: ' + pct.toFixed(1) + '%';
    searchBtn.textContent = 'Reset Search';
    return pct;
  }

  function ask() {
    if (term !== null) { search(null); return; }
    var re = window.prompt('Search frames (a regular expression):', '');
    if (re) search(re);
  }

  for (var n = 0; n < frames.length; n++) {
    (function (f) {
      f.g.addEventListener('click', function () { zoom(f.g); });
      f.g.addEventListener('mouseover', function () { details.textContent = f.title; });
      f.g.addEventListener('mouseout', function () { details.textContent = ' '; });
    })(frames[n]);
  }
  unzoomBtn.addEventListener('click', reset);
  searchBtn.addEventListener('click', ask);
  window.addEventListener('keydown', function (e) {
    if ((e.ctrlKey || e.metaKey) && (e.key === 'f' || e.key === 'F')) { e.preventDefault(); ask(); }
    else if (e.key === 'Escape') { search(null); reset(); }
  });
  window.flameZoom = zoom;
  window.flameReset = reset;
  window.flameSearch = search;
})();
`;
}
