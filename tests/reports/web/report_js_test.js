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
