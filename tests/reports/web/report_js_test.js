// tests/reports/web/report_js_test.js — the report page's own logic (reports/web/report.js),
// run under Node on rows built here: the banner's verdict, failures ordered worst first, skips
// grouped with their reason, absent and unmeasured values shown as "—", matrix cells, and axes
// chosen from the data (no log axis over two lengths). Rows are drawn from a seeded generator
// (SINKBENCH_TEST_SEED replays a run).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const SB = require(path.join(__dirname, '../../../reports/web/report.js'));

const seed = Number(process.env.SINKBENCH_TEST_SEED || Math.floor(Math.random() * 2 ** 31));
console.log(`[   SEED   ] SINKBENCH_TEST_SEED=${seed} (set it to replay)`);
let state = seed >>> 0 || 1;
const rand = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];

function passingRows(n) {
  const rows = [];
  for (let i = 0; i < n; i++)
    rows.push({impl: pick(['tiled/cpu', 'eager_concat/cpu', 'flash_paged/cpu']), dtype: pick(['bf16', 'fp16']),
               mask: pick(['causal', 'none']), status: 'pass', o_budget: rand() * 0.9, lse_budget: rand() * 0.9,
               sk: pick([203, 256]), detail: '', worst_row: 3, worst_seq: 0, worst_head: 1, worst_dim: 2,
               worst_got: 1 + rand(), worst_want: 1});
  return rows;
}

test('banner: all pass, and a planted failure and error are counted and named', () => {
  const rows = passingRows(50);
  assert.equal(SB.verdict(rows).ok, true);
  assert.equal(SB.verdict(rows).text, 'All 50 judged results pass');
  const k = Math.floor(rand() * 50);
  rows[k] = {...rows[k], status: 'fail', bound: 'o_bound', o_budget: 3};
  rows.push({impl: 'x/cpu', dtype: 'bf16', mask: 'none', status: 'error', detail: 'threw'});
  rows.push({impl: 'y/cuda', dtype: 'bf16', mask: 'none', status: 'skip', detail: 'no CUDA device'});
  const v = SB.verdict(rows);
  assert.equal(v.ok, false);
  assert.equal(v.text, '1 failure and 1 error in 51 judged results');
  assert.equal(v.skip, 1);
});

test('failures: errors, then non-finite outputs, then by budget used', () => {
  const rows = passingRows(30);
  const budgets = [1.5, 40, 2.25];
  budgets.forEach((b, i) => { rows[i] = {...rows[i], status: 'fail', o_budget: b, lse_budget: 0}; });
  rows[5] = {...rows[5], status: 'fail', o_budget: 0.1, nan_count: 7};
  rows.push({impl: 'e/cpu', status: 'error', detail: 'threw'});
  const order = SB.failing(rows).map((r) => (r.status === 'error' ? 'error' : r.nan_count ? 'nan' : r.o_budget));
  assert.deepEqual(order, ['error', 'nan', 40, 2.25, 1.5]);
});

test('skips are grouped with their reason, and nothing measured reads as "—", never 0', () => {
  const rows = passingRows(10);
  for (let i = 0; i < 4; i++) rows.push({impl: 'k/cuda', status: 'skip', detail: 'no CUDA device: none', o_budget: null});
  assert.deepEqual(SB.skipGroups(rows), [{impl: 'k/cuda', reason: 'no CUDA device: none', results: 4}]);
  assert.equal(SB.cellText(null), '—');
  assert.equal(SB.cellText(undefined), '—');  // a column the file lacks
  assert.equal(SB.cellText(0), '0');           // a measured zero stays a zero
  assert.equal(SB.worstElement(rows[10]), null);
  assert.match(SB.worstElement(rows[0]), /^seq 0 row 3 head 1 dim 2: got /);
});

test('matrix cells: red when anything failed, grey with the reason when all skipped', () => {
  const rows = [{impl: 'a', dtype: 'bf16', mask: 'none', status: 'pass'},
                {impl: 'a', dtype: 'bf16', mask: 'none', status: 'fail'},
                {impl: 'a', dtype: 'fp16', mask: 'none', status: 'pass'},
                {impl: 'a', dtype: 'fp16', mask: 'none', status: 'skip', detail: 'why'},
                {impl: 'b', dtype: 'bf16', mask: 'none', status: 'skip', detail: 'no GPU'}];
  const m = SB.matrix(rows);
  assert.deepEqual(m.cols, ['bf16 none', 'fp16 none']);
  assert.deepEqual(m.cell('a', 'bf16 none'), {cls: 'fail', text: '1/2 ✗'});
  assert.deepEqual(m.cell('a', 'fp16 none'), {cls: 'pass', text: '1/1 +1 skip'});
  assert.deepEqual(m.cell('b', 'bf16 none'), {cls: 'skip', text: 'skip', title: 'no GPU'});
  assert.equal(m.cell('b', 'fp16 none').cls, 'none');
});

test('axes from the data: two lengths are categories, a wide range is log with its own ticks', () => {
  assert.equal(SB.axisFor([203, 256, 203]).type, 'ordinal');
  const lengths = [];
  for (let k = 6 + Math.floor(rand() * 3), i = 0; i < 5; i++) lengths.push(2 ** (k + i));
  const wide = SB.axisFor(lengths);
  assert.equal(wide.scale.type, 'log');
  assert.deepEqual(wide.axis.values, lengths);  // ticks at the data's own lengths, no crowding
  const narrow = SB.axisFor([200, 210, 220, 230]);
  assert.notEqual(narrow.scale.type, 'log');
  assert.deepEqual(SB.yScaleFor([1e-8, 1e-3]), {type: 'log'});
  assert.deepEqual(SB.yScaleFor([0.5, 0.9]), {zero: false});
});

test('result columns: a diagnosis or gradient column is shown when the file has it', () => {
  const rows = passingRows(3);
  const base = SB.resultColumns(rows, false).map((c) => c.key);
  assert.ok(!base.includes('diagnosis') && !base.includes('file'));
  rows[1].diagnosis = 'sink added twice';
  rows[2].dq_budget = 0.3;
  const more = SB.resultColumns(rows, true).map((c) => c.key);
  assert.ok(more.includes('diagnosis') && more.includes('dq_budget') && more.includes('file'));
  assert.equal(more[more.length - 1], 'detail');
});

// ---- gradients ---------------------------------------------------------------------------
const GRADS = ['dq', 'dk', 'dv', 'dsinks'];

// Rows with a judged, passing backward: every gradient within its bound.
function backwardRows(n) {
  return passingRows(n).map((r) => {
    const out = {...r, grad_status: 'pass', grad_bound: '', grad_detail: ''};
    for (const g of GRADS) {
      out[`${g}_elements`] = g === 'dsinks' ? 8 : 1000;
      out[`${g}_budget`] = rand() * 0.9;
      out[`${g}_rel_l2`] = 1e-3 * (1 + rand());
      out[`${g}_floor_ratio`] = 1 + rand();
      out[`${g}_nan_count`] = 0;
      out[`${g}_inf_count`] = 0;
      out[`${g}_worst_seq`] = 0;
      out[`${g}_worst_row`] = 5;
      out[`${g}_worst_head`] = 2;
      out[`${g}_worst_dim`] = 7;
      out[`${g}_worst_got`] = 0.5;
      out[`${g}_worst_want`] = 0.25;
    }
    return out;
  });
}

test('gradient verdict of one gradient: the policy rule, and undefined where it was not judged', () => {
  const [r] = backwardRows(1);
  for (const g of GRADS) assert.equal(SB.gradFailure(r, g), null);
  const g = pick(GRADS);
  assert.equal(SB.gradFailure({...r, [`${g}_budget`]: 1 + rand()}, g), `${g}_bound`);
  assert.equal(SB.gradFailure({...r, [`${g}_nan_count`]: 3, [`${g}_budget`]: null}, g), `${g}_nan`);
  assert.equal(SB.gradFailure({...r, [`${g}_inf_count`]: 1}, g), `${g}_inf`);
  assert.equal(SB.gradFailure({...r, dsinks_elements: 0}, 'dsinks'), undefined);  // no sink
  assert.equal(SB.gradFailure({...r, grad_status: 'skip'}, g), undefined);
  assert.equal(SB.gradFailure(passingRows(1)[0], g), undefined);  // a forward-only case
});

test('gradient matrix: a planted failure is red and named by its bound; skips and unjudged cells', () => {
  const rows = backwardRows(40);
  const k = Math.floor(rand() * rows.length);
  const g = pick(GRADS);
  rows[k] = {...rows[k], grad_status: 'fail', grad_bound: `${g}_bound`, [`${g}_budget`]: 12.5};
  rows.push({impl: 'paged/cpu', status: 'pass', grad_status: 'skip', grad_detail: 'inference storage: no backward'});
  rows.push({impl: 'fwd/cpu', status: 'pass', grad_status: ''});  // forward-only case: not in the matrix
  const m = SB.gradMatrix(rows, GRADS);
  assert.deepEqual(m.cols, GRADS);
  assert.ok(!m.impls.includes('fwd/cpu'));
  const impl = rows[k].impl;
  const judged = rows.filter((r) => r.impl === impl && r.grad_status !== '').length;
  const bad = m.cell(impl, g);
  assert.equal(bad.cls, 'fail');
  assert.equal(bad.text, `${judged - 1}/${judged} ✗ ${g}_bound`);
  assert.match(bad.title, /budget 12\.5/);
  for (const other of GRADS.filter((x) => x !== g)) assert.deepEqual(m.cell(impl, other).cls, 'pass');
  assert.deepEqual(m.cell('paged/cpu', 'dq'), {cls: 'skip', text: 'skip', title: 'inference storage: no backward'});
  // Without a sink dsinks is not judged: "—", not a pass.
  const nosink = backwardRows(2).map((r) => ({...r, impl: 'x/cpu', dsinks_elements: 0}));
  assert.deepEqual(SB.gradMatrix(nosink, GRADS).cell('x/cpu', 'dsinks'), {cls: 'none', text: SB.ABSENT});
  assert.equal(SB.gradMatrix(nosink, GRADS).cell('x/cpu', 'dq').text, '2/2');
});

test('gradient verdict line counts judged, failed and skipped backwards', () => {
  const rows = backwardRows(7);
  rows[2] = {...rows[2], grad_status: 'fail'};
  rows.push({impl: 'p', grad_status: 'skip'}, {impl: 'f', status: 'pass', grad_status: ''});
  const v = SB.gradVerdict(rows);
  assert.equal(v.text, '7 backward results judged: 6 pass, 1 fail (1 without a backward)');
  assert.equal(v.ok, false);
  assert.equal(SB.gradVerdict(passingRows(3)).judged, 0);
});

test('gradient points: one per judged gradient, the floor in rel_l2 units, none for unjudged rows', () => {
  const rows = backwardRows(5);
  rows.push({...passingRows(1)[0], grad_status: ''});
  rows.push({...backwardRows(1)[0], grad_status: 'skip'});
  rows[0] = {...rows[0], dsinks_elements: 0, dq_floor_ratio: null};
  const p = SB.gradPoints(rows, GRADS);
  assert.equal(p.length, 5 * 4 - 1);
  const dq0 = p.find((x) => x.gradient === 'dq' && x.rel_l2 === rows[0].dq_rel_l2);
  assert.equal(dq0.floor, null);  // unknown floor: not drawn, not 0
  const dk1 = p.find((x) => x.gradient === 'dk' && x.rel_l2 === rows[1].dk_rel_l2);
  assert.ok(Math.abs(dk1.floor * rows[1].dk_floor_ratio - rows[1].dk_rel_l2) < 1e-15);
  assert.equal(dk1.sk, rows[1].sk);
});

test('worst gradient results: failures first (non-finite, then budget), then the largest budget', () => {
  const rows = backwardRows(30);
  rows[3] = {...rows[3], grad_status: 'fail', dv_budget: 4};
  rows[9] = {...rows[9], grad_status: 'fail', dsinks_nan_count: 2, dsinks_budget: 0.1};
  rows[11] = {...rows[11], grad_status: 'fail', dq_budget: 40};
  const worst = SB.gradWorst(rows, GRADS, 5);
  assert.equal(worst.length, 5);
  assert.deepEqual(worst.slice(0, 3).map((r) => rows.indexOf(r)), [9, 11, 3]);
  const max = (r) => Math.max(...GRADS.map((g) => r[`${g}_budget`]));
  for (let i = 4; i < worst.length; i++) assert.ok(max(worst[i - 1]) >= max(worst[i]));
  assert.equal(SB.gradWorst(rows, GRADS, 1).length, 3);  // every failure, whatever the limit
  assert.match(SB.gradWorstElement(rows[11], GRADS), /^dq: seq 0 row 5 head 2 dim 7: got 0\.500000/);
  assert.match(SB.gradWorstElement(rows[9], GRADS), /^dsinks: /);
  assert.equal(SB.gradWorstElement(passingRows(1)[0], GRADS), null);
});
