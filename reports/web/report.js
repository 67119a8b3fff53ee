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

// ---- gradients ------------------------------------------------------------------------------
// A row's backward is read from the columns grad_status, grad_bound, grad_detail and
// "<gradient>_<metric>" for the gradients the page's section names (data-grads, from the
// oracle's list), by the names the results table declares; nothing here declares a column.
const gradJudged = (r) => JUDGED.has(r.grad_status);

// One gradient of a judged backward, by the policy's rule (docs/policy.md, version 2): its bound
// "<g>_nan", "<g>_inf" or "<g>_bound" when it failed, null when it passed, undefined when that
// gradient was not judged there (no elements: dsinks without a sink, or a file without it).
function gradFailure(r, g) {
  if (!gradJudged(r) || !(r[`${g}_elements`] > 0)) return undefined;
  if (r[`${g}_nan_count`] > 0) return `${g}_nan`;
  if (r[`${g}_inf_count`] > 0) return `${g}_inf`;
  return isNum(r[`${g}_budget`]) && r[`${g}_budget`] <= 1 ? null : `${g}_bound`;
}

// The rows with a backward (grad_status set), and the banner's sentence over them.
const withBackward = (rows) => rows.filter((r) => typeof r.grad_status === 'string' && r.grad_status !== '');
function gradVerdict(rows) {
  const b = withBackward(rows);
  const n = {pass: 0, fail: 0, skip: 0, error: 0};
  for (const r of b) n[r.grad_status in n ? r.grad_status : 'error'] += 1;
  const judged = n.pass + n.fail;
  const skipped = n.skip ? ` (${n.skip} without a backward)` : '';
  const text = `${judged} backward result${judged === 1 ? '' : 's'} judged: ${n.pass} pass, ${n.fail} fail` +
      (n.error ? `, ${n.error} error` : '') + skipped;
  return {...n, judged, ok: n.fail + n.error === 0 && judged > 0, text};
}

// Implementation x gradient: per cell the judged backward results within that gradient's bound,
// those over it with their bounds counted, the skipped ones with their reasons.
function gradMatrix(rows, grads) {
  const b = withBackward(rows);
  const impls = [...new Set(b.map((r) => r.impl))].sort();
  const cells = {};
  for (const r of b)
    for (const g of grads) {
      const k = r.impl + '\u0000' + g;
      const c = (cells[k] = cells[k] || {pass: 0, fail: 0, skip: 0, error: 0, bounds: new Map(), reasons: new Set(), failed: []});
      if (r.grad_status === 'skip') {
        c.skip += 1;
        if (r.grad_detail) c.reasons.add(r.grad_detail);
        continue;
      }
      if (!gradJudged(r)) { c.error += 1; continue; }
      const bound = gradFailure(r, g);
      if (bound === undefined) continue;
      if (bound === null) c.pass += 1;
      else {
        c.fail += 1;
        c.bounds.set(bound, (c.bounds.get(bound) || 0) + 1);
        c.failed.push(`${r.label || r.case_id}: ${bound}, budget ${fmtNum(r[`${g}_budget`])}`);
      }
    }
  const cell = (impl, g) => {
    const c = cells[impl + '\u0000' + g];
    if (!c) return {cls: 'none', text: ''};
    const judged = c.pass + c.fail;
    const skip = c.skip ? ` +${c.skip} skip` : '';
    if (judged === 0 && c.error === 0) {
      if (c.skip) return {cls: 'skip', text: 'skip', title: [...c.reasons].join('; ')};
      return {cls: 'none', text: ABSENT};
    }
    const text = `${c.pass}/${judged}` + skip;
    if (!c.fail && !c.error) return {cls: 'pass', text, title: [...c.reasons].join('; ') || undefined};
    const named = [...c.bounds].map(([bound, k]) => (k > 1 ? `${bound} ×${k}` : bound));
    if (c.error) named.push(`${c.error} error`);
    return {cls: 'fail', text: `${text} ✗ ${named.join(', ')}`, title: c.failed.join('\n')};
  };
  return {impls, cols: grads, cell};
}

// Points of the error-by-length chart: one per judged backward result and gradient, with the
// rounding floor in rel_l2's units (rel_l2 / floor_ratio; null where the floor is 0 or unknown).
function gradPoints(rows, grads) {
  const out = [];
  for (const r of rows.filter(gradJudged))
    for (const g of grads) {
      const rel = r[`${g}_rel_l2`], ratio = r[`${g}_floor_ratio`];
      if (!isNum(rel) || gradFailure(r, g) === undefined) continue;
      out.push({impl: r.impl, file: r.file, label: r.label, dtype: r.dtype, sk: r.sk, status: r.grad_status,
                gradient: g, rel_l2: rel, floor_ratio: isNum(ratio) ? ratio : null,
                floor: isNum(ratio) && ratio > 0 ? rel / ratio : null, budget: r[`${g}_budget`]});
    }
  return out;
}

// The gradient of a judged backward with the largest budget, or the first non-finite one.
function worstGradient(r, grads) {
  let best = null, key = -1;
  for (const g of grads) {
    const bound = gradFailure(r, g);
    if (bound === undefined) continue;
    const k = bound && !bound.endsWith('_bound') ? Infinity : isNum(r[`${g}_budget`]) ? r[`${g}_budget`] : -1;
    if (k > key) { key = k; best = g; }
  }
  return best;
}

// "dv: seq 0 row 17 head 3 dim 5: got 0.125, want 0.1249" for that gradient, or absent.
function gradWorstElement(r, grads) {
  const g = worstGradient(r, grads);
  if (!g || !isNum(r[`${g}_worst_row`])) return null;
  const at = r[`${g}_worst_row`] < 0 ? `head ${r[`${g}_worst_head`] ?? 0}`
    : `seq ${r[`${g}_worst_seq`] ?? 0} row ${r[`${g}_worst_row`]} head ${r[`${g}_worst_head`] ?? 0} dim ${r[`${g}_worst_dim`] ?? 0}`;
  const got = r[`${g}_worst_got`], want = r[`${g}_worst_want`];
  return `${g}: ${at}` + (isNum(got) && isNum(want) ? `: got ${got.toPrecision(6)}, want ${want.toPrecision(6)}` : '');
}

// Judged backward results worst first: failures (non-finite gradients first, then by budget),
// then passes by their largest budget; at least `limit`, and every failure.
function gradWorst(rows, grads, limit) {
  const severity = (r) => {
    let s = 0;
    for (const g of grads) {
      const bound = gradFailure(r, g);
      if (bound === undefined) continue;
      if (bound && !bound.endsWith('_bound')) return Infinity;
      if (isNum(r[`${g}_budget`])) s = Math.max(s, r[`${g}_budget`]);
    }
    return s;
  };
  const sorted = rows.filter(gradJudged).map((r) => ({r, fail: r.grad_status === 'fail', s: severity(r)}))
    .sort((a, b) => (a.fail !== b.fail ? (a.fail ? -1 : 1) : b.s - a.s));
  const fails = sorted.filter((x) => x.fail).length;
  return sorted.slice(0, Math.max(limit, fails)).map((x) => x.r);
}

const SB = {ABSENT, cellText, verdict, failing, worstElement, matrix, skipGroups, axisFor, yScaleFor, resultColumns,
            gradFailure, gradVerdict, gradMatrix, gradPoints, gradWorst, gradWorstElement};
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

    // A matrix (matrix() or gradMatrix()) as a table of coloured cells.
    function drawMatrix(el, m) {
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
      el.appendChild(mt);
    }
    drawMatrix($('matrix'), matrix(rows));

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

    // Gradients: only where the page has the section (some result's backward was judged).
    const gradSection = $('gradients');
    if (gradSection) {
      const grads = gradSection.dataset.grads.split(' ');
      const gv = gradVerdict(rows);
      const gb = $('grad-verdict');
      gb.className = 'grad-verdict ' + (gv.ok ? 'ok' : 'bad');
      gb.textContent = (gv.ok ? '✓ ' : '✗ ') + gv.text;
      drawMatrix($('grad-matrix'), gradMatrix(rows, grads));
      const points = gradPoints(rows, grads);
      const gSk = axisFor(points.map((p) => p.sk));
      const gx = gSk.type === 'ordinal'
        ? {field: 'sk', type: 'ordinal', title: 'Sk', axis: {labelAngle: 0}}
        : {field: 'sk', type: 'quantitative', title: 'Sk', scale: gSk.scale, axis: gSk.axis};
      const gOffset = gSk.type === 'ordinal' ? {field: 'series'} : undefined;
      const gMark = gSk.type === 'ordinal' ? 'tick' : 'line';
      const gradChart = {
        $schema: schema,
        data: {values: points},
        transform: [{calculate: series, as: 'series'}],
        facet: {row: {field: 'dtype', type: 'nominal', title: 'dtype'},
                column: {field: 'gradient', type: 'nominal', title: 'gradient', sort: grads}},
        resolve: {scale: {y: 'independent'}},
        spec: {
          width: 170, height: 140,
          layer: [
            {mark: {type: 'point', opacity: 0.35},
             encoding: enc({x: gx, xOffset: gOffset,
                        y: {field: 'rel_l2', type: 'quantitative', scale: yScaleFor(points.map((p) => p.rel_l2)), axis: READABLE, title: 'relative L2 error'},
                        color: {field: 'series', type: 'nominal', legend},
                        tooltip: [{field: 'impl'}, {field: 'label'}, {field: 'gradient'}, {field: 'rel_l2', format: '.3g'},
                                  {field: 'floor_ratio', format: '.3g'}, {field: 'budget', format: '.3g'}, {field: 'status'}]})},
            {mark: {type: gMark, point: gMark === 'line'},
             encoding: enc({x: gx, xOffset: gOffset, y: {aggregate: 'mean', field: 'rel_l2'}, color: {field: 'series', type: 'nominal'}})},
            {transform: [{filter: 'isValid(datum.floor) && datum.floor > 0'}],
             // Points on the floor too: over one key length a line alone draws nothing.
             mark: gMark === 'line' ? {type: 'line', color: 'black', strokeDash: [5, 3], point: {color: 'black', shape: 'diamond', filled: false}}
                                    : {type: 'tick', color: 'black', strokeDash: [5, 3]},
             encoding: {x: gx, y: {aggregate: 'mean', field: 'floor'}}}
          ]
        }
      };
      chartOr('chart-grad', gradChart, points, 'No judged gradient with an error to draw.');
      const worst = gradWorst(rows, grads, Number(gradSection.dataset.worst) || 15);
      $('grad-worst-title').textContent = `Worst gradient results (${worst.length} of ${rows.filter((r) => JUDGED.has(r.grad_status)).length})`;
      const wcols = [{key: 'impl', title: 'implementation'}, {key: 'label', title: 'case'},
                     {key: 'grad_status', title: 'status'}, {key: 'grad_bound', title: 'failed bound'}]
        .concat(grads.map((g) => ({key: `${g}_budget`})), grads.map((g) => ({key: `${g}_floor_ratio`})),
                [{key: 'worst', title: 'worst element', value: (r) => gradWorstElement(r, grads)}, {key: 'grad_detail', title: 'detail'}]);
      if (multiFile) wcols.unshift({key: 'file'});
      table($('grad-worst'), wcols, worst, (r) => r.grad_status);
    }

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
