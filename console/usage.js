// The usage panel shared by the admin and member views: granularity and metric controls, the
// stacked chart and the same numbers as a table. Data from GET /v1/usage (group_by=key) or
// GET /v1/me/usage.

import { get } from './api.js';
import { bucketStarts, stackedBars, swatch } from './chart.js';
import { h, number, showError, field, select, table } from './ui.js';

// Series from a usage answer: one per key (group_by=key) or one for the scope.
function seriesOf(usage, metric, nameOf) {
  const rows = usage.keys || [{ key_id: usage.key_id, label: '', totals: usage.totals, buckets: usage.buckets }];
  return rows.map((k) => ({
    name: nameOf(k),
    key: k,
    values: new Map(k.buckets.map((b) => [new Date(b.start).getTime(), b[metric]])),
  }));
}

// A panel. `scopes`: [[value, text]] for a scope selector (omitted when one); `path(scope,
// granularity)` the usage URL; `nameOf(keyRow)` a series' name.
export function usagePanel({ scopes, path, nameOf, state }) {
  const slot = h('div', { class: 'usage-body' });
  const errors = h('div', { class: 'errors' });
  const controls = h('form', { class: 'controls', novalidate: true });
  if (scopes && scopes.length > 1) controls.append(field('Scope', select('scope', scopes, state.scope)));
  controls.append(
    field('Per', select('granularity', [['hour', 'hour (24 h)'], ['day', 'day (30 days)'], ['month', 'month (12 months)']], state.granularity)),
    field('Show', select('metric', [['requests', 'requests'], ['units', 'units']], state.metric)));
  const load = async () => {
    const data = new FormData(controls);
    state.scope = data.get('scope') ?? state.scope;
    state.granularity = data.get('granularity');
    state.metric = data.get('metric');
    try {
      const usage = await get(path(state.scope, state.granularity));
      showError(errors, null);
      const series = seriesOf(usage, state.metric, nameOf);
      const chart = stackedBars({ series, starts: bucketStarts(usage.granularity, usage.from, usage.to),
        granularity: usage.granularity, metric: state.metric });
      const rows = series.map((s, i) => ({ ...s, i }));
      slot.replaceChildren(
        h('p', { class: 'caption' }, `${number(usage.totals[state.metric])} ${state.metric} in all`,
          usage.scope === 'root' ? ' in this pool: each bar is the pool\'s total, stacked by member (the root key\'s own requests too).' : '.'),
        chart,
        table([
          { label: 'Member', cell: (s) => h('span', {}, swatch(s.i), ` ${s.name}`) },
          { label: 'Requests', class: 'num', cell: (s) => number(s.key.totals.requests) },
          { label: 'Units', class: 'num', cell: (s) => number(s.key.totals.units) },
          { label: '4xx', class: 'num', cell: (s) => number(s.key.totals.errors_4xx) },
          { label: '5xx', class: 'num', cell: (s) => number(s.key.totals.errors_5xx) },
        ], rows, { empty: 'No usage in this period.', rowProps: (s) => ({ dataset: { key: s.key.key_id || '' } }) }));
    } catch (e) {
      showError(errors, e, 'Usage');
    }
  };
  controls.addEventListener('change', load);
  load();
  return h('div', { class: 'usage' }, controls, errors, slot);
}

