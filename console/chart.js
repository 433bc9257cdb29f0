// Charts drawn as SVG by hand: a stacked bar chart of usage per member and a quota gauge.
// Series differ by colour AND fill pattern (and every bar has a text title), so they read
// without colour; the views put the same numbers in a table beside each chart.

import { h, svg, number, time } from './ui.js';

const COLOURS = ['#1f5fa8', '#c8581e', '#2c8a4b', '#8a3fa0', '#a8872b', '#2a8a8a', '#b23b5c', '#555'];
const MARKS = ['solid', 'stripes', 'dots', 'cross', 'rows', 'columns'];
let nextId = 0;

// The <pattern> of series `i` (its id in `id`).
function pattern(i, id) {
  const colour = COLOURS[i % COLOURS.length];
  const mark = MARKS[i % MARKS.length];
  const lines = { stroke: '#fff', 'stroke-width': 1.5 };
  const marks = {
    solid: [],
    stripes: [svg('path', { d: 'M-1,1 l2,-2 M0,8 l8,-8 M7,9 l2,-2', ...lines })],
    dots: [svg('circle', { cx: 4, cy: 4, r: 1.6, fill: '#fff' })],
    cross: [svg('path', { d: 'M0,0 L8,8 M8,0 L0,8', ...lines })],
    rows: [svg('path', { d: 'M0,4 H8', ...lines })],
    columns: [svg('path', { d: 'M4,0 V8', ...lines })],
  }[mark];
  return svg('pattern', { id, width: 8, height: 8, patternUnits: 'userSpaceOnUse' },
    svg('rect', { width: 8, height: 8, fill: colour }), ...marks);
}

// A small legend swatch for series `i`.
export function swatch(i) {
  const id = `sw${nextId++}`;
  return svg('svg', { class: 'swatch', width: 16, height: 16, viewBox: '0 0 16 16', 'aria-hidden': 'true' },
    svg('defs', {}, pattern(i, id)),
    svg('rect', { width: 16, height: 16, fill: `url(#${id})`, stroke: '#222', 'stroke-width': 1 }));
}

// Every bucket start (ms since the epoch, UTC) of `granularity` that overlaps [from, to).
export function bucketStarts(granularity, from, to) {
  const start = new Date(from);
  let t;
  if (granularity === 'hour') t = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate(), start.getUTCHours());
  else if (granularity === 'day') t = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
  else t = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), 1);
  const end = new Date(to).getTime();
  const out = [];
  while (t < end && out.length < 1000) {
    out.push(t);
    const d = new Date(t);
    if (granularity === 'hour') t += 3600e3;
    else if (granularity === 'day') t += 86400e3;
    else t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  }
  return out;
}

function bucketLabel(granularity, t) {
  const iso = new Date(t).toISOString();
  if (granularity === 'hour') return iso.slice(11, 13) + 'h';
  if (granularity === 'day') return iso.slice(5, 10);
  return iso.slice(0, 7);
}

// The smallest of 1, 2, 2.5, 5 or 10 times a power of ten that is >= n (the y axis's top).
function niceCeiling(n) {
  const power = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((v) => v >= n);
}

// A stacked bar chart. `series`: [{name, values: Map(bucket start ms → number)}] in stacking
// order (bottom first); `starts` the x axis; `metric` names the numbers ("requests").
export function stackedBars({ series, starts, granularity, metric }) {
  const W = 640, H = 240, left = 48, right = 8, top = 12, bottom = 28;
  const totals = starts.map((t) => series.reduce((sum, s) => sum + (s.values.get(t) || 0), 0));
  const max = niceCeiling(Math.max(1, ...totals));
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const slot = (W - left - right) / Math.max(1, starts.length);
  const barWidth = Math.max(1, slot * 0.8);
  const ids = series.map(() => `pat${nextId++}`);
  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `${metric} per ${granularity}, stacked by member; total ${number(totals.reduce((a, b) => a + b, 0))}` },
  svg('defs', {}, series.map((_, i) => pattern(i, ids[i]))));
  for (const v of max % 2 === 0 ? [0, max / 2, max] : [0, max]) {
    chart.append(svg('line', { x1: left, x2: W - right, y1: y(v), y2: y(v), class: 'grid' }),
      svg('text', { x: left - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'axis', text: number(v) }));
  }
  const every = Math.ceil(starts.length / 8);
  starts.forEach((t, b) => {
    const x = left + b * slot + (slot - barWidth) / 2;
    const parts = series.map((s) => [s.name, s.values.get(t) || 0]).filter(([, v]) => v > 0);
    const bar = svg('g', { class: 'bar', dataset: { start: new Date(t).toISOString(), total: totals[b] } },
      svg('title', { text: `${bucketLabel(granularity, t)}: ${number(totals[b])} ${metric}` +
        parts.map(([name, v]) => `\n${name}: ${number(v)}`).join('') }));
    let base = 0;
    series.forEach((s, i) => {
      const v = s.values.get(t) || 0;
      if (v <= 0) return;
      bar.append(svg('rect', { x, width: barWidth, y: y(base + v), height: Math.max(0.5, y(base) - y(base + v)),
        fill: `url(#${ids[i]})`, stroke: '#222', 'stroke-width': 0.5, class: 'segment', dataset: { series: s.name, value: v } }));
      base += v;
    });
    chart.append(bar);
    if (b % every === 0) {
      chart.append(svg('text', { x: x + barWidth / 2, y: H - 10, 'text-anchor': 'middle', class: 'axis',
        text: bucketLabel(granularity, t) }));
    }
  });
  const legend = h('ul', { class: 'legend' }, series.map((s, i) => h('li', {}, swatch(i), ` ${s.name}`)));
  return h('figure', { class: 'chart-figure' }, chart, legend);
}

// A horizontal gauge: `used` of `limit` (null or 0 = unlimited), resetting at `reset`.
export function gauge({ label, used, limit, unit, reset }) {
  const unlimited = !limit;
  const ratio = unlimited ? 0 : Math.min(1, used / limit);
  const pct = unlimited ? '' : ` (${(100 * used / limit).toFixed(1)}%)`;
  const text = unlimited ? `${number(used)} ${unit}, unlimited` : `${number(used)} of ${number(limit)} ${unit}${pct}`;
  const level = ratio >= 1 ? 'full' : ratio >= 0.8 ? 'high' : 'ok';
  const bar = svg('svg', { class: `gauge-bar ${level}`, viewBox: '0 0 200 14', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
    svg('rect', { width: 200, height: 14, class: 'track' }),
    svg('rect', { width: 200 * ratio, height: 14, class: 'fill' }),
    svg('line', { x1: 160, x2: 160, y1: 0, y2: 14, class: 'mark' }));
  return h('div', { class: 'gauge', role: 'meter', 'aria-label': label, 'aria-valuemin': 0,
    'aria-valuemax': unlimited ? used : limit, 'aria-valuenow': used, 'aria-valuetext': text },
  h('div', { class: 'gauge-label' }, h('strong', { text: label }), ` ${text}`,
    level === 'full' ? h('span', { class: 'flag', text: ' — exhausted' }) : level === 'high' ? h('span', { class: 'flag', text: ' — over 80%' }) : ''),
  bar, h('div', { class: 'gauge-reset', text: `resets ${time(reset)}` }));
}
