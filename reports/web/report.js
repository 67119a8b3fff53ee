// reports/web/report.js — builds the report page (index.html) in the browser from the results
// rows `sinkbench report` embeds as JSON: verdict banner, pass/fail matrix, failures, skips,
// Vega-Lite charts and sortable tables. Embedded into the binary at build time.
//
// A row carries every column its results file has, by name, plus its case's fields and the
// derived speed figures. A metric is null where nothing was measured (skips, errors) and absent
// where the file has no such column: both are shown as "—", never as 0. Under Node the pure
// helpers are exported for tests/reports/web/report_js_test.js and nothing is drawn.
'use strict';

const ABSENT = '—';
const JUDGED = new Set(['pass', 'fail']);
const BAD = new Set(['fail', 'error']);

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
const fmtNum = (v) => (isNum(v) ? (Number.isInteger(v) ? String(v) : v.toPrecision(3)) : ABSENT);
const cellText = (v) => (v === null || v === undefined || v === '' ? ABSENT : isNum(v) ? fmtNum(v) : String(v));

// Totals and the banner's sentence.
function verdict(rows) {
  const n = {pass: 0, fail: 0, skip: 0, error: 0};
  for (const r of rows) n[r.status in n ? r.status : 'error'] += 1;
  const judged = n.pass + n.fail + n.error;
  const ok = n.fail + n.error === 0;
  const plural = (k, word) => `${k} ${word}${k === 1 ? '' : 's'}`;
  let text;
  if (judged === 0) text = `Nothing judged: all ${plural(rows.length, 'result')} skipped`;
  else if (ok) text = `All ${judged} judged results pass`;
  else {
    const parts = [];
    if (n.fail) parts.push(plural(n.fail, 'failure'));
    if (n.error) parts.push(plural(n.error, 'error'));
    text = `${parts.join(' and ')} in ${judged} judged results`;
  }
  return {...n, judged, ok: ok && judged > 0, text};
}

// How bad a failing row is, to order failures (errors and NaNs first, then by budget used).
function severity(r) {
  if (r.status === 'error') return Infinity;
  const nan = (r.nan_count || 0) + (r.inf_count || 0) + (r.lse_nan_count || 0);
  if (nan > 0) return 1e300;
  return Math.max(isNum(r.o_budget) ? r.o_budget : 0, isNum(r.lse_budget) ? r.lse_budget : 0);
}
const failing = (rows) => rows.filter((r) => BAD.has(r.status)).sort((a, b) => severity(b) - severity(a));

// "seq 0 row 17 head 3 dim 5: got 0.125, want 0.1249", or absent.
function worstElement(r) {
  if (!isNum(r.worst_row) || !JUDGED.has(r.status)) return null;
  const where = `seq ${r.worst_seq ?? 0} row ${r.worst_row} head ${r.worst_head ?? 0} dim ${r.worst_dim ?? 0}`;
  return isNum(r.worst_got) ? `${where}: got ${r.worst_got.toPrecision(6)}, want ${r.worst_want.toPrecision(6)}` : where;
}

// Implementation x (dtype, mask) tallies; a cell is bad, pass, skip (all skipped) or absent.
function matrix(rows) {
  const colKey = (r) => `${r.dtype} ${r.mask}`;
  const cols = [...new Set(rows.map(colKey))].sort();
  const impls = [...new Set(rows.map((r) => r.impl))].sort();
  const cells = {};
  for (const r of rows) {
    const k = r.impl + '\u0000' + colKey(r);
    const c = (cells[k] = cells[k] || {pass: 0, fail: 0, skip: 0, error: 0, reasons: new Set()});
    c[r.status in c ? r.status : 'error'] += 1;
    if (r.status === 'skip' && r.detail) c.reasons.add(r.detail);
  }
  const cell = (impl, col) => {
    const c = cells[impl + '\u0000' + col];
    if (!c) return {cls: 'none', text: ''};
    const judged = c.pass + c.fail + c.error;
    if (judged === 0) return {cls: 'skip', text: 'skip', title: [...c.reasons].join('; ')};
    const text = `${c.pass}/${judged}` + (c.skip ? ` +${c.skip} skip` : '');
    return c.fail + c.error ? {cls: 'fail', text: text + ' ✗'} : {cls: 'pass', text};
  };
  return {impls, cols, cell};
}

// Skipped rows grouped by implementation and reason.
function skipGroups(rows) {
  const g = new Map();
  for (const r of rows.filter((x) => x.status === 'skip')) {
    const k = r.impl + '\u0000' + (r.detail || '');
    if (!g.has(k)) g.set(k, {impl: r.impl, reason: r.detail || ABSENT, results: 0});
    g.get(k).results += 1;
  }
  return [...g.values()].sort((a, b) => a.impl.localeCompare(b.impl));
}

// An x axis for positive values: a log scale only over at least three distinct values spanning
// 8x or more; ticks at the data's own values when there are few, so labels never crowd.
function axisFor(values) {
  const v = [...new Set(values.filter((x) => isNum(x) && x > 0))].sort((a, b) => a - b);
  if (v.length < 3) return {type: 'ordinal', values: v};
  const log = v[v.length - 1] / v[0] >= 8;
  const scale = log ? {type: 'log', base: 2, nice: false, domain: [v[0], v[v.length - 1]]} : {zero: false};
  const axis = v.length <= 8 ? {values: v, format: 'd', labelOverlap: true} : {labelOverlap: true, format: '~s'};
  return {type: 'quantitative', scale, axis, values: v};
}

// Axis of a continuous scale: few ticks, labels that never overlap, no trailing zeros.
const READABLE = {tickCount: 6, labelOverlap: 'greedy', format: '~g'};

// A y scale for positive values: log where they span 100x or more.
function yScaleFor(values) {
  const v = values.filter((x) => isNum(x) && x > 0);
  if (!v.length) return {};
  return Math.max(...v) / Math.min(...v) >= 100 ? {type: 'log'} : {zero: false};
}

// Columns a results table shows: the fixed ones, then any of the optional ones the rows carry.
const BASE_COLUMNS = [
  {key: 'file'}, {key: 'impl', title: 'implementation'}, {key: 'label', title: 'case'}, {key: 'status'},
  {key: 'bound'}, {key: 'rel_l2'}, {key: 'cw'}, {key: 'floor_ratio', title: 'floor ratio'},
  {key: 'o_budget'}, {key: 'lse_budget'}, {key: 'tflops', title: 'TFLOP/s'}, {key: 'gbs', title: 'GB/s'},
  {key: 'ratio', title: 'time ratio'}];
const OPTIONAL_PREFIXES = ['diagnosis', 'dq_', 'dk_', 'dv_', 'dsinks_'];
function resultColumns(rows, multiFile) {
  const present = new Set();
  for (const r of rows) for (const k of Object.keys(r)) present.add(k);
  const cols = BASE_COLUMNS.filter((c) => c.key !== 'file' || multiFile);
  const extra = [...present].filter((k) => OPTIONAL_PREFIXES.some((p) => k.startsWith(p))).sort();
  return cols.concat(extra.map((key) => ({key})), [{key: 'detail'}]);
}
const hasColumn = (rows, key) => rows.some((r) => key in r);
// An encoding without the channels left undefined (Vega-Lite rejects unknown values).
const enc = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const SB = {ABSENT, cellText, verdict, failing, worstElement, matrix, skipGroups, axisFor, yScaleFor, resultColumns};
if (typeof module !== 'undefined' && module.exports) module.exports = SB;

// ---- drawing (browser only) ----------------------------------------------------------------
if (typeof document !== 'undefined') {
  (function draw() {
    const errors = document.getElementById('errors');
    const report = (m) => { errors.textContent += m + '\n'; };
    window.addEventListener('error', (e) => report('script error: ' + e.message));
    const rows = JSON.parse(document.getElementById('data').textContent);
    const meta = JSON.parse(document.getElementById('meta-data').textContent);
    const multiFile = meta.length > 1;
    const $ = (id) => document.getElementById(id);

    function table(el, cols, data, rowClass, sortable = true) {
      const t = document.createElement('table');
      const head = t.createTHead().insertRow();
      const body = t.createTBody();
      let sortCol = -1, asc = true;
      function fill() {
        body.innerHTML = '';
        for (const r of data) {
          const tr = body.insertRow();
          if (rowClass) tr.className = rowClass(r);
          for (const c of cols) {
            const td = tr.insertCell();
            const v = c.value ? c.value(r) : r[c.key];
            td.textContent = cellText(v);
            if (td.textContent === ABSENT) td.className = 'absent';
            else if (isNum(v)) td.className = 'num';
          }
        }
      }
      cols.forEach((c, i) => {
        const th = document.createElement('th');
        th.textContent = c.title || c.key;
        if (sortable) {
          th.className = 'sortable';
          th.addEventListener('click', () => {
            asc = sortCol === i ? !asc : true;
            sortCol = i;
            const val = (r) => (c.value ? c.value(r) : r[c.key]);
            data.sort((a, b) => {
              const x = val(a), y = val(b);
              const d = isNum(x) && isNum(y) ? x - y : cellText(x).localeCompare(cellText(y));
              return asc ? d : -d;
            });
            fill();
          });
        }
        head.appendChild(th);
      });
      fill();
      el.appendChild(t);
      return t;
    }

    // The answer: banner, matrix, failures, skips.
    const v = verdict(rows);
    const banner = $('verdict');
    banner.className = v.ok ? 'ok' : 'bad';
    banner.textContent = (v.ok ? '✓ ' : '✗ ') + v.text;
    const sub = document.createElement('span');
    sub.className = 'sub';
    sub.textContent = `${rows.length} results: ${v.pass} pass, ${v.fail} fail, ${v.error} error, ${v.skip} skipped` +
        (multiFile ? ` over ${meta.length} files` : '');
    banner.appendChild(sub);

    const m = matrix(rows);
    const mt = document.createElement('table');
    const mh = mt.createTHead().insertRow();
    for (const title of ['implementation'].concat(m.cols)) mh.appendChild(Object.assign(document.createElement('th'), {textContent: title}));
    const mb = mt.createTBody();
    for (const impl of m.impls) {
      const tr = mb.insertRow();
      tr.insertCell().textContent = impl;
      for (const col of m.cols) {
        const c = m.cell(impl, col);
        const td = tr.insertCell();
        td.className = 'cell-' + c.cls;
        td.textContent = c.text;
        if (c.title) td.title = c.title;
      }
    }
    $('matrix').appendChild(mt);

    const bad = failing(rows);
    $('failures-title').textContent = bad.length ? `Failures (${bad.length}), worst first` : 'Failures';
    if (!bad.length) $('failures').textContent = 'None.';
    else {
      const cols = [{key: 'impl', title: 'implementation'}, {key: 'label', title: 'case'}, {key: 'status'},
                    {key: 'bound', title: 'failed bound'}, {key: 'o_budget'}, {key: 'lse_budget'},
                    {key: 'worst', title: 'worst element', value: worstElement}];
      if (hasColumn(bad, 'diagnosis')) cols.push({key: 'diagnosis'});
      cols.push({key: 'detail'});
      if (multiFile) cols.unshift({key: 'file'});
      const wrap = document.createElement('div');
      wrap.className = 'scroll';
      $('failures').appendChild(wrap);
      table(wrap, cols, bad, (r) => r.status);
    }

    const skips = skipGroups(rows);
    if (!skips.length) $('skips').textContent = 'Nothing was skipped.';
    else table($('skips'), [{key: 'impl', title: 'implementation'}, {key: 'results'}, {key: 'reason'}], skips);

    // Charts.
    const judged = rows.filter((r) => JUDGED.has(r.status));
    const series = multiFile ? 'datum.impl + " @ " + datum.file' : 'datum.impl';
    const legend = {labelLimit: 0, title: 'implementation'};
    const schema = 'https://vega.github.io/schema/vega-lite/v6.json';

    const floorRows = judged.filter((r) => isNum(r.floor_ratio) && r.floor_ratio > 0);
    const floorChart = {
      $schema: schema,
      data: {values: floorRows},
      transform: [{calculate: series, as: 'series'}],
      facet: {row: {field: 'dtype', type: 'nominal', title: null, header: {labelAngle: 0, labelAlign: 'left', labelFontWeight: 'bold'}}},
      resolve: {scale: {x: 'independent', y: 'independent'}},
      spec: {
        width: 520,
        layer: [
          {mark: {type: 'tick', opacity: 0.35, thickness: 1},
           encoding: {x: {field: 'floor_ratio', type: 'quantitative', scale: yScaleFor(floorRows.map((r) => r.floor_ratio)), axis: READABLE, title: 'relative L2 error / rounding floor'},
                      y: {field: 'series', type: 'nominal', title: null, sort: {field: 'floor_ratio', op: 'median'}, axis: {labelLimit: 0}},
                      tooltip: [{field: 'impl'}, {field: 'label'}, {field: 'floor_ratio', format: '.3g'}]}},
          {mark: {type: 'tick', color: 'black', thickness: 3},
           encoding: {x: {aggregate: 'median', field: 'floor_ratio', type: 'quantitative'},
                      y: {field: 'series', type: 'nominal', sort: {field: 'floor_ratio', op: 'median'}}}}
        ]
      }
    };

    const skAxis = axisFor(judged.map((r) => r.sk));
    const xSk = (extra) => (skAxis.type === 'ordinal'
      ? {field: 'sk', type: 'ordinal', title: 'Sk', axis: {labelAngle: 0}, ...extra}
      : {field: 'sk', type: 'quantitative', title: 'Sk', scale: skAxis.scale, axis: skAxis.axis, ...extra});
    const errorChart = (metric, floor, title) => {
      const data = judged.filter((r) => isNum(r[metric]) && r[metric] > 0);
      return {
        $schema: schema,
        data: {values: data},
        transform: [{calculate: series, as: 'series'}],
        facet: {column: {field: 'dtype', type: 'nominal', title: 'dtype'}},
        resolve: {scale: {y: 'independent'}},
        spec: {
          width: 300, height: 200,
          layer: [
            {mark: {type: 'point', opacity: 0.35},
             encoding: enc({x: xSk({}),
                        xOffset: skAxis.type === 'ordinal' ? {field: 'series'} : undefined,
                        y: {field: metric, type: 'quantitative', scale: yScaleFor(data.map((r) => r[metric])), axis: READABLE, title},
                        color: {field: 'series', type: 'nominal', legend},
                        tooltip: [{field: 'impl'}, {field: 'label'}, {field: metric, format: '.3g'}, {field: 'status'}]})},
            {mark: {type: skAxis.type === 'ordinal' ? 'tick' : 'line', point: skAxis.type !== 'ordinal'},
             encoding: enc({x: xSk({}), xOffset: skAxis.type === 'ordinal' ? {field: 'series'} : undefined,
                        y: {aggregate: 'mean', field: metric}, color: {field: 'series', type: 'nominal'}})},
            {transform: [{filter: `isValid(datum.${floor}) && datum.${floor} > 0`}],
             mark: {type: skAxis.type === 'ordinal' ? 'tick' : 'line', color: 'black', strokeDash: [5, 3]},
             encoding: {x: xSk({}), y: {aggregate: 'mean', field: floor}}}
          ]
        }
      };
    };
    const posChart = {
      $schema: schema,
      data: {values: judged.filter((r) => isNum(r.o_budget))},
      transform: [{calculate: series, as: 'series'},
                  {calculate: 'datum.sq > 1 ? datum.worst_row / (datum.sq - 1) : 0', as: 'position'}],
      width: 560, height: 220,
      mark: {type: 'point', opacity: 0.6},
      encoding: {x: {field: 'position', type: 'quantitative', title: 'worst query row / (Sq - 1)', scale: {domain: [0, 1]}},
                 y: {field: 'o_budget', type: 'quantitative', axis: READABLE, title: 'o_budget'},
                 color: {field: 'series', type: 'nominal', legend},
                 shape: {field: 'dtype', type: 'nominal'},
                 tooltip: [{field: 'impl'}, {field: 'label'}, {field: 'worst_row'}, {field: 'o_budget', format: '.3g'}]}
    };
    const timed = rows.filter((r) => isNum(r.tflops) && r.tflops > 0);
    const speedChart = {
      $schema: schema,
      data: {values: timed},
      transform: [{calculate: series, as: 'series'}],
      facet: {column: {field: 'dtype', type: 'nominal'}},
      spec: {
        width: 300, height: 200,
        mark: {type: skAxis.type === 'ordinal' ? 'point' : 'line', point: skAxis.type !== 'ordinal'},
        encoding: enc({x: xSk({}), xOffset: skAxis.type === 'ordinal' ? {field: 'series'} : undefined,
                   y: {aggregate: 'median', field: 'tflops', type: 'quantitative', scale: yScaleFor(timed.map((r) => r.tflops)), axis: READABLE, title: 'TFLOP/s (median)'},
                   color: {field: 'series', type: 'nominal', legend},
                   tooltip: [{field: 'series'}, {field: 'sk'}, {aggregate: 'median', field: 'tflops', format: '.3g'}]})
      }
    };
    const charts = [];
    const chartOr = (id, spec, data, none) => {
      if (data.length) charts.push(['#' + id, spec]);
      else $(id).textContent = none;
    };
    chartOr('chart-floor', floorChart, floorRows, 'No judged result with a rounding floor.');
    chartOr('chart-rel', errorChart('rel_l2', 'floor_l2', 'relative L2 error'), judged, 'No judged results.');
    chartOr('chart-cw', errorChart('cw', 'floor_cw', 'cw (units of u·P|V|)'), judged, 'No judged results.');
    chartOr('chart-pos', posChart, judged, 'No judged results.');
    chartOr('chart-speed', speedChart, timed, 'No timings in these files.');

    // The rest: runs, summary, every result.
    table($('meta'), [{key: 'file'}, {key: 'suite'}, {key: 'git'}, {key: 'gpu', title: 'GPU'}, {key: 'cpu', title: 'CPU'},
                      {key: 'policy'}, {key: 'start', title: 'started'}, {key: 'golden', title: 'golden reason'}], meta);
    const tally = {};
    for (const r of rows) {
      const k = [r.file, r.impl, r.dtype, r.mask].join('\u0000');
      const t = (tally[k] = tally[k] || {file: r.file, impl: r.impl, dtype: r.dtype, mask: r.mask, pass: 0, fail: 0, skip: 0, error: 0, worst: null});
      t[r.status in t ? r.status : 'error'] += 1;
      for (const b of [r.o_budget, r.lse_budget]) if (isNum(b)) t.worst = Math.max(t.worst ?? b, b);
    }
    const sumCols = [{key: 'impl', title: 'implementation'}, {key: 'dtype'}, {key: 'mask'}, {key: 'pass'}, {key: 'fail'},
                     {key: 'skip'}, {key: 'error'}, {key: 'worst', title: 'worst budget'}];
    if (multiFile) sumCols.unshift({key: 'file'});
    table($('summary'), sumCols, Object.values(tally), (r) => (r.fail || r.error ? 'fail' : r.pass ? '' : 'skip'));
    table($('results'), resultColumns(rows, multiFile), rows.slice(), (r) => r.status);

    document.body.setAttribute('data-charts', String(charts.length));
    let rendered = 0;
    Promise.all(charts.map(([el, spec]) =>
      vegaEmbed(el, spec, {renderer: 'svg', actions: false})
        .then(() => { rendered += 1; })
        .catch((e) => report('chart ' + el + ': ' + e))))
      .then(() => {
        document.body.setAttribute('data-rendered', String(rendered));
        markFirstScreen();
      });

    // Which parts of the answer a reader sees without scrolling (read by the page's test).
    function markFirstScreen() {
      const parts = {verdict: $('verdict'), matrix: $('matrix'), 'failure-1': document.querySelector('#failures tbody tr')};
      const seen = Object.entries(parts).filter(([, el]) => {
        if (!el) return false;
        const box = el.getBoundingClientRect();
        return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
      }).map(([name]) => name);
      document.body.setAttribute('data-first-screen', seen.join(' '));
    }
  })();
}
