import type { GraphView } from '../graph/view.js';
import { renderGraphSvg } from './graph-svg.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Pan (drag), zoom (wheel, +/-), fit (0 or the button), search by name (Enter: next match; `#search=NAME` in the URL). */
const SCRIPT = `
const svg = document.getElementById('svg'), q = document.getElementById('q'), count = document.getElementById('count');
const full = { w: +svg.dataset.w, h: +svg.dataset.h };
let vb = { x: 0, y: 0, w: full.w, h: full.h };
const apply = () => svg.setAttribute('viewBox', vb.x + ' ' + vb.y + ' ' + vb.w + ' ' + vb.h);
const aspect = () => svg.clientHeight / svg.clientWidth;
function show(x, y, w) { vb = { x, y, w, h: w * aspect() }; apply(); }
function fit() {
  const w = Math.max(full.w, full.h / aspect(), svg.clientWidth / 1.25);
  show((full.w - w) / 2, 0, w);
}
function start() {
  // Small graphs fit the window; big ones open readable at the top left (the legend), 0 fits all.
  if (svg.clientWidth / full.w >= 0.55 || svg.clientHeight / full.h >= 0.55) fit(); else show(0, 0, svg.clientWidth / 0.8);
}
function zoom(f, mx, my) {
  const s = svg.clientWidth / vb.w, px = vb.x + mx / s, py = vb.y + my / s;
  const w = Math.min(Math.max(vb.w / f, 80), Math.max(full.w, full.h / aspect()) * 4);
  const s2 = svg.clientWidth / w;
  show(px - mx / s2, py - my / s2, w);
}
svg.addEventListener('wheel', (e) => { e.preventDefault(); zoom(Math.exp(-e.deltaY * 0.0015), e.offsetX, e.offsetY); }, { passive: false });
let drag;
svg.addEventListener('pointerdown', (e) => { drag = { x: e.clientX, y: e.clientY }; svg.setPointerCapture(e.pointerId); svg.style.cursor = 'grabbing'; });
svg.addEventListener('pointermove', (e) => {
  if (!drag) return;
  const s = svg.clientWidth / vb.w;
  vb.x -= (e.clientX - drag.x) / s; vb.y -= (e.clientY - drag.y) / s; drag = { x: e.clientX, y: e.clientY }; apply();
});
svg.addEventListener('pointerup', () => { drag = undefined; svg.style.cursor = ''; });
const nodes = [...document.querySelectorAll('g.node')];
let matches = [], at = -1;
function center(el) {
  const b = el.getBBox(), m = el.getCTM(), r = svg.getScreenCTM();
  const cx = vb.x + (m.e - r.e + (b.x + b.width / 2) * m.a) / (svg.clientWidth / vb.w);
  const cy = vb.y + (m.f - r.f + (b.y + b.height / 2) * m.d) / (svg.clientWidth / vb.w);
  const w = Math.min(vb.w, svg.clientWidth / 0.9);
  show(cx - w / 2, cy - (w * aspect()) / 2, w);
}
q.addEventListener('input', () => {
  const t = q.value.trim().toLowerCase();
  matches = t === '' ? [] : nodes.filter((n) => n.dataset.name.toLowerCase().includes(t));
  at = -1;
  for (const n of nodes) { n.classList.toggle('match', matches.includes(n)); n.classList.toggle('dim', t !== '' && !matches.includes(n)); }
  document.body.classList.toggle('searching', t !== '');
  count.textContent = t === '' ? '' : matches.length + ' match' + (matches.length === 1 ? '' : 'es');
  if (matches.length > 0) { at = 0; center(matches[0]); }
});
q.addEventListener('keydown', (e) => { if (e.key === 'Enter' && matches.length > 0) { at = (at + 1) % matches.length; center(matches[at]); } });
document.getElementById('fit').addEventListener('click', fit);
document.addEventListener('keydown', (e) => {
  if (e.target === q) return;
  if (e.key === '0') fit();
  if (e.key === '+' || e.key === '=') zoom(1.25, svg.clientWidth / 2, svg.clientHeight / 2);
  if (e.key === '-') zoom(0.8, svg.clientWidth / 2, svg.clientHeight / 2);
  if (e.key === '/') { e.preventDefault(); q.focus(); }
});
window.addEventListener('resize', () => show(vb.x, vb.y, vb.w));
start();
const wanted = new URLSearchParams(location.hash.slice(1)).get('search');
if (wanted) { q.value = wanted; q.dispatchEvent(new Event('input')); }
`;

/** A self-contained page: the SVG with pan/zoom and a search box; no external assets. */
export function renderGraphHtml(view: GraphView): string {
  const { svg, width, height } = renderGraphSvg(view);
  const inline = svg.replace(/^<svg ([^>]*?)width="\d+" height="\d+"/, `<svg id="svg" data-w="${width}" data-h="${height}" $1width="100%" height="100%"`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>stacker graph: ${esc(view.root)}</title>
<style>
html, body { margin: 0; height: 100%; overflow: hidden; background: #fbfbfd; }
#svg { display: block; width: 100vw; height: 100vh; cursor: grab; touch-action: none; }
#bar { position: fixed; top: 12px; right: 14px; display: flex; gap: 8px; align-items: center; padding: 7px 9px; background: #fff;
  border: 1px solid #cfd8dc; border-radius: 10px; box-shadow: 0 2px 8px rgba(38, 50, 56, .15); font: 13px 'DejaVu Sans Mono', Menlo, monospace; color: #455a64; }
#bar input { font: inherit; width: 230px; padding: 5px 8px; border: 1px solid #b0bec5; border-radius: 6px; outline: none; }
#bar input:focus { border-color: #1a56c4; box-shadow: 0 0 0 2px rgba(26, 86, 196, .2); }
#bar button { font: inherit; padding: 4px 10px; border: 1px solid #b0bec5; border-radius: 6px; background: #f5f7f8; cursor: pointer; }
body.searching g.node.dim, body.searching g.edge { opacity: .22; }
g.node.match > rect:first-of-type { stroke: #d500f9; stroke-width: 4; }
</style></head>
<body>
<div id="bar"><input id="q" type="search" placeholder="search layers  (/)" aria-label="search layers"><span id="count"></span><button id="fit" title="fit the whole graph (0)">fit</button></div>
${inline}<script>${SCRIPT}</script>
</body></html>
`;
}
