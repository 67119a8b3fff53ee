// reports/report.cpp — report.md and index.html from results files. Both are built from one
// flat list of result rows joined with their case rows; the HTML embeds that list as JSON and
// builds its charts (Vega-Lite) and sortable tables in the browser, so nothing is fetched.
#include "reports/report.h"
#include "reports/report_gradients.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "bench/flop_model.h"
#include "core/error.h"
#include "reports/store.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One result row with what the report needs from its case.
struct Entry {
  std::string file, case_id, label, impl, device, dtype, mask, status, bound, detail;
  int64_t sq = 0, sk = 0, gqa = 0, head_dim = 0, worst_row = 0;
  double rel_l2 = 0, cw = 0, floor_l2 = 0, floor_cw = 0, floor_ratio = 0, o_budget = 0,
         lse_budget = 0, seconds = 0, tflops = 0, gbs = 0, ratio = 0;
};

// Bytes of the case by the one model (bench/flop_model.h), from its stored cases row.
double bytes_moved(const Table& cases, size_t c) {
  TrafficShape t;
  DType dt = DType::bf16;
  parse_dtype(cases.text(c, "dtype"), &dt);
  t.dtype = dt;
  t.heads_q = cases.integer(c, "heads_q");
  t.heads_kv = cases.integer(c, "heads_kv");
  t.head_dim = cases.integer(c, "head_dim");
  t.total_q = cases.integer(c, "total_q");
  t.total_k = cases.integer(c, "total_k");
  t.has_sink = cases.text(c, "sink") != "none";
  return forward_bytes(t);
}

std::string tag_of(const std::string& path, const std::vector<std::string>& all) {
  const std::string base = fs::path(path).filename().string();
  int same = 0;
  for (const auto& p : all)
    same += fs::path(p).filename().string() == base;
  return same > 1 ? path : base;
}

std::vector<Entry> entries_of(const StoredRun& run, const std::string& tag) {
  std::map<std::string, size_t> case_at;
  for (size_t i = 0; i < run.cases.rows.size(); ++i)
    case_at[run.cases.text(i, "case_id")] = i;
  std::vector<Entry> out;
  const Table& R = run.results;
  for (size_t i = 0; i < R.rows.size(); ++i) {
    const auto it = case_at.find(R.text(i, "case_id"));
    if (it == case_at.end()) continue;  // a row of a case cut short
    const size_t c = it->second;
    Entry e;
    e.file = tag;
    e.case_id = R.text(i, "case_id");
    e.label = run.cases.text(c, "label");
    for (auto [field, col] : {std::pair{&e.impl, "impl"},
                              {&e.device, "device"},
                              {&e.dtype, "dtype"},
                              {&e.mask, "mask"},
                              {&e.status, "status"},
                              {&e.bound, "bound"},
                              {&e.detail, "detail"}})
      *field = R.text(i, col);
    e.sq = run.cases.integer(c, "sq");
    e.sk = run.cases.integer(c, "sk");
    e.gqa = run.cases.integer(c, "gqa");
    e.head_dim = run.cases.integer(c, "head_dim");
    e.worst_row = R.integer(i, "worst_row");
    for (auto [field, col] : {std::pair{&e.rel_l2, "rel_l2"},
                              {&e.cw, "cw"},
                              {&e.floor_l2, "floor_l2"},
                              {&e.floor_cw, "floor_cw"},
                              {&e.floor_ratio, "floor_ratio"},
                              {&e.o_budget, "o_budget"},
                              {&e.lse_budget, "lse_budget"},
                              {&e.seconds, "seconds"}})
      *field = R.number(i, col);
    const bool timed = e.seconds > 0 && (e.status == "pass" || e.status == "fail");
    if (timed) {
      e.tflops = R.number(i, "flops") / e.seconds / 1e12;
      e.gbs = bytes_moved(run.cases, c) / e.seconds / 1e9;
    }
    out.push_back(std::move(e));
  }
  return out;
}

// Ratio of each timed row's time to the fastest implementation on the same case (any file).
void add_ratios(std::vector<Entry>& all) {
  std::map<std::string, double> best;
  for (const Entry& e : all)
    if (e.tflops > 0)
      best[e.case_id] = best.count(e.case_id) ? std::min(best[e.case_id], e.seconds) : e.seconds;
  for (Entry& e : all)
    if (e.tflops > 0) e.ratio = e.seconds / best[e.case_id];
}

std::string attr(const StoredRun& r, const char* name) {
  const auto v = r.attribute(name);
  return v ? to_text(*v) : "";
}

// Markdown table cell: pipes escaped, newlines folded.
std::string cell(std::string s) {
  std::string out;
  for (char ch : s)
    out += ch == '|' ? std::string("\\|") : ch == '\n' ? std::string(" ") : std::string(1, ch);
  return out;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string provenance_md(const std::vector<StoredRun>& runs,
                          const std::vector<std::string>& tags) {
  std::string s =
      "## Provenance\n\n| file | suite | cases | git | compiler | GPU | CPU | policy | "
      "started | complete |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const StoredRun& r = runs[i];
    s += fmt::format("| {} | {} | {} | {} ({}) | {} | {} | {} | v{} | {} | {} |\n", cell(tags[i]),
                     cell(attr(r, "suite")), r.cases.rows.size(),
                     cell(attr(r, "git_sha").substr(0, 12)), cell(attr(r, "git_state")),
                     cell(attr(r, "compiler")), cell(attr(r, "gpu")), cell(attr(r, "cpu")),
                     r.policy_version, cell(attr(r, "start_time")), r.complete ? "yes" : "no");
    if (const auto why = r.attribute("golden_reason"))
      s += fmt::format("\n> {} is a golden fixture, updated {}: {}\n", tags[i],
                       attr(r, "golden_updated"), to_text(*why));
  }
  return s + "\n";
}

struct Tally {
  int pass = 0, fail = 0, skip = 0, error = 0;
  void add(const std::string& s) {
    (s == "pass" ? pass : s == "fail" ? fail : s == "skip" ? skip : error) += 1;
  }
};

std::string verdicts_md(const std::vector<Entry>& all) {
  std::map<std::pair<std::string, std::string>, Tally> by;
  Tally total;
  for (const Entry& e : all) {
    by[{e.file, e.impl}].add(e.status);
    total.add(e.status);
  }
  std::string s = fmt::format(
      "## Verdicts\n\n**{} results: {} pass, {} fail, {} skip, {} error.**\n\n"
      "| file | implementation | pass | fail | skip | error |\n|---|---|--:|--:|--:|--:|\n",
      all.size(), total.pass, total.fail, total.skip, total.error);
  for (const auto& [key, t] : by)
    s += fmt::format("| {} | `{}` | {} | {} | {} | {} |\n", cell(key.first), key.second, t.pass,
                     t.fail ? fmt::format("**{}**", t.fail) : "0", t.skip,
                     t.error ? fmt::format("**{}**", t.error) : "0");
  return s + "\n";
}

// Implementation x (dtype, mask): "pass/judged", marked when anything failed.
std::string matrix_md(const std::vector<Entry>& all) {
  std::set<std::pair<std::string, std::string>> cols;
  std::map<std::string, std::map<std::pair<std::string, std::string>, Tally>> m;
  for (const Entry& e : all) {
    cols.insert({e.dtype, e.mask});
    m[e.impl][{e.dtype, e.mask}].add(e.status);
  }
  std::string s =
      "## Pass/fail matrix (implementation x dtype x mask)\n\nEach cell: passed / "
      "judged (skips not judged); ✅ all passed, ❌ some failed or errored, — all "
      "skipped.\n\n| implementation |";
  std::string rule = "|---|";
  for (const auto& [dt, mask] : cols) {
    s += fmt::format(" {} {} |", dt, mask);
    rule += ":-:|";
  }
  s += "\n" + rule + "\n";
  for (const auto& [impl, row] : m) {
    s += fmt::format("| `{}` |", impl);
    for (const auto& col : cols) {
      const auto it = row.find(col);
      if (it == row.end()) {
        s += "  |";
        continue;
      }
      const Tally& t = it->second;
      const int judged = t.pass + t.fail + t.error;
      if (judged == 0)
        s += " — |";
      else
        s += fmt::format(" {} {}/{} |", t.pass == judged ? "✅" : "❌", t.pass, judged);
    }
    s += "\n";
  }
  return s + "\n";
}

std::string worst_md(const std::vector<Entry>& all, int limit) {
  std::vector<const Entry*> v;
  for (const Entry& e : all)
    if (e.status == "pass" || e.status == "fail" || e.status == "error") v.push_back(&e);
  std::stable_sort(v.begin(), v.end(), [](const Entry* a, const Entry* b) {
    const int fa = a->status != "pass", fb = b->status != "pass";
    if (fa != fb) return fa > fb;
    return std::max(a->o_budget, a->lse_budget) > std::max(b->o_budget, b->lse_budget);
  });
  if (v.size() > size_t(limit)) v.resize(size_t(limit));
  std::string s = fmt::format(
      "## Worst cases\n\nFailures first, then by the larger of o_budget and lse_budget (the "
      "policy passes at <= 1).\n\n| implementation | case | status | failed bound | o_budget | "
      "lse_budget | floor ratio | detail |\n|---|---|---|---|--:|--:|--:|---|\n");
  for (const Entry* e : v)
    s += fmt::format("| `{}` | {} `{}` | {} | {} | {:.3g} | {:.3g} | {:.3g} | {} |\n", e->impl,
                     cell(e->label), e->case_id, e->status, e->bound.empty() ? "—" : e->bound,
                     e->o_budget, e->lse_budget, e->floor_ratio, cell(e->detail));
  return s + "\n";
}

std::string speed_md(const std::vector<Entry>& all) {
  std::map<std::tuple<std::string, std::string, std::string, std::string>,
           std::vector<const Entry*>>
      groups;
  for (const Entry& e : all)
    if (e.tflops > 0) groups[{e.impl, e.device, e.dtype, e.mask}].push_back(&e);
  if (groups.empty()) return "## Speed\n\nNo timings in these files.\n\n";
  std::string s =
      "## Speed\n\nMedians over the cases of each group. TFLOP/s counts 4·D flops per visible "
      "(query, key) pair per head; GB/s counts q, k, v, sinks read once and o, lse written once "
      "(bench/flop_model.h); the "
      "ratio is time over the fastest implementation on the same case (1 = fastest). CPU "
      "timings are host wall time of the reference code, not a kernel benchmark.\n\n"
      "| implementation | device | dtype | mask | cases | TFLOP/s | GB/s | time ratio |\n"
      "|---|---|---|---|--:|--:|--:|--:|\n";
  for (const auto& [key, v] : groups) {
    std::vector<double> tf, gb, ra;
    for (const Entry* e : v) {
      tf.push_back(e->tflops);
      gb.push_back(e->gbs);
      ra.push_back(e->ratio);
    }
    s += fmt::format("| `{}` | {} | {} | {} | {} | {:.4g} | {:.4g} | {:.2f} |\n", std::get<0>(key),
                     std::get<1>(key), std::get<2>(key), std::get<3>(key), v.size(), median(tf),
                     median(gb), median(ra));
  }
  return s + "\n";
}

std::string read_text(const fs::path& p, const std::string& hint) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw InputError(p.string(), "cannot be read", "the bundle installed by " + hint);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A script body safe inside <script>: no "</script" (any case) can end the element early. Only
// that sequence is touched: "</" elsewhere can be a regex literal in minified code.
std::string script_safe(std::string js) {
  for (size_t at = 0; (at = js.find("</", at)) != std::string::npos; at += 3) {
    std::string next = js.substr(at + 2, 6);
    std::transform(next.begin(), next.end(), next.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (next == "script") js.replace(at, 2, "<\\/");
  }
  return js;
}

json entries_json(const std::vector<Entry>& all) {
  json rows = json::array();
  auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  for (const Entry& e : all)
    rows.push_back({{"file", e.file},
                    {"case_id", e.case_id},
                    {"label", e.label},
                    {"impl", e.impl},
                    {"device", e.device},
                    {"dtype", e.dtype},
                    {"mask", e.mask},
                    {"status", e.status},
                    {"bound", e.bound},
                    {"sq", e.sq},
                    {"sk", e.sk},
                    {"gqa", e.gqa},
                    {"head_dim", e.head_dim},
                    {"worst_row", e.worst_row},
                    {"rel_l2", num(e.rel_l2)},
                    {"cw", num(e.cw)},
                    {"floor_l2", num(e.floor_l2)},
                    {"floor_cw", num(e.floor_cw)},
                    {"floor_ratio", num(e.floor_ratio)},
                    {"o_budget", num(e.o_budget)},
                    {"lse_budget", num(e.lse_budget)},
                    {"seconds", num(e.seconds)},
                    {"tflops", num(e.tflops)},
                    {"gbs", num(e.gbs)},
                    {"ratio", num(e.ratio)},
                    {"detail", e.detail}});
  return rows;
}

std::string html_page(const std::string& markdown_title, const json& data, const json& meta,
                      const std::string& bundles);

}  // namespace

std::string default_web_dir() {
  if (const char* env = std::getenv("SINKBENCH_WEB_DIR"); env && *env) return env;
  return SINKBENCH_WEB_DIR;
}

ReportFiles write_report(const ReportOptions& opt) {
  if (opt.inputs.empty()) throw InputError("report", "no results file given", "one or more .h5");
  std::vector<StoredRun> runs;
  std::vector<std::string> tags;
  std::vector<Entry> all;
  for (const std::string& path : opt.inputs) {
    runs.push_back(read_store(path));
    tags.push_back(tag_of(path, opt.inputs));
    std::vector<Entry> e = entries_of(runs.back(), tags.back());
    all.insert(all.end(), e.begin(), e.end());
  }
  add_ratios(all);

  // Bundles first: a missing one fails before anything is written.
  const fs::path web = opt.web_dir.empty() ? default_web_dir() : opt.web_dir;
  const std::string hint = "`npm ci` in reports/web (tools/setup.sh runs it)";
  std::string bundles;
  for (const char* rel : {"vega/build/vega.min.js", "vega-lite/build/vega-lite.min.js",
                          "vega-embed/build/vega-embed.min.js"})
    bundles += "<script>" + script_safe(read_text(web / rel, hint)) + "</script>\n";

  std::error_code ec;
  fs::create_directories(opt.out_dir, ec);
  if (ec || !fs::is_directory(opt.out_dir))
    throw InputError(opt.out_dir, "cannot create the report folder", "a writable directory");

  std::string files;
  for (const auto& t : tags)
    files += (files.empty() ? "" : ", ") + t;
  const std::string md = "# sinkbench report: " + files + "\n\n" + provenance_md(runs, tags) +
                         verdicts_md(all) + matrix_md(all) + worst_md(all, opt.worst) +
                         speed_md(all) + gradients_md(runs, tags, opt.worst);
  ReportFiles out{(fs::path(opt.out_dir) / "report.md").string(),
                  (fs::path(opt.out_dir) / "index.html").string()};
  json meta = json::array();
  for (size_t i = 0; i < runs.size(); ++i)
    meta.push_back(
        {{"file", tags[i]},
         {"suite", attr(runs[i], "suite")},
         {"git", attr(runs[i], "git_sha").substr(0, 12) + " " + attr(runs[i], "git_state")},
         {"gpu", attr(runs[i], "gpu")},
         {"cpu", attr(runs[i], "cpu")},
         {"policy", runs[i].policy_version},
         {"start", attr(runs[i], "start_time")},
         {"golden", attr(runs[i], "golden_reason")}});
  const std::string html =
      html_page("sinkbench report: " + files, entries_json(all), meta, bundles);
  for (const auto& [path, text] : {std::pair{out.markdown, md}, {out.html, html}}) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f.good()) throw InputError(path, "cannot be written", "a writable report folder");
  }
  return out;
}

namespace {

// The page: data as JSON, then a script that builds the Vega-Lite specs and the tables. It
// records how many charts rendered in <body data-rendered> and any error in #errors, which the
// headless-Chromium test reads.
std::string html_page(const std::string& title, const json& data, const json& meta,
                      const std::string& bundles) {
  std::string page = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>@TITLE@</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:12px} th,td{border:1px solid #ccc;padding:2px 6px}
th{background:#f3f3f3;cursor:pointer;position:sticky;top:0} td.num{text-align:right}
tr.fail td,tr.error td{background:#fde8e8} .chart{margin:0.5em 0 1.5em}
#errors{color:#b00;white-space:pre-wrap} #errors:empty{display:none}
.scroll{max-height:480px;overflow:auto}
</style>
@BUNDLES@</head>
<body data-charts="0" data-rendered="0">
<h1>@TITLE@</h1>
<pre id="errors"></pre>
<div id="meta"></div>
<h2>Error vs sequence length</h2>
<p>Relative L2 error (points: each case; line: mean per key length) per implementation, faceted by
dtype; the dashed black line is the rounding floor (the exactly rounded output judged the same
way).</p>
<div id="chart-rel" class="chart"></div>
<p>Componentwise error in units of u·P|V| against its floor.</p>
<div id="chart-cw" class="chart"></div>
<h2>Error by query position</h2>
<p>Policy budget used (o_budget; the policy passes at ≤ 1) against the query row of the worst
element, relative to Sq.</p>
<div id="chart-pos" class="chart"></div>
<h2>Speed vs sequence length</h2>
<div id="chart-speed" class="chart"></div>
<h2>Summary</h2>
<div id="summary" class="scroll"></div>
<h2>All results</h2>
<p>Click a column header to sort.</p>
<div id="results" class="scroll"></div>
<script id="data" type="application/json">@DATA@</script>
<script id="meta-data" type="application/json">@META@</script>
<script>
(function () {
  const errors = document.getElementById('errors');
  const fail = (m) => { errors.textContent += m + '\n'; };
  window.addEventListener('error', (e) => fail('script error: ' + e.message));
  const rows = JSON.parse(document.getElementById('data').textContent);
  const meta = JSON.parse(document.getElementById('meta-data').textContent);
  const judged = rows.filter((r) => r.status === 'pass' || r.status === 'fail');

  function table(el, cols, data, rowClass) {
    const t = document.createElement('table');
    const head = t.createTHead().insertRow();
    let sortCol = -1, asc = true;
    const body = t.createTBody();
    function fill() {
      body.innerHTML = '';
      for (const r of data) {
        const tr = body.insertRow();
        if (rowClass) tr.className = rowClass(r);
        for (const c of cols) {
          const td = tr.insertCell();
          const v = r[c.key];
          if (typeof v === 'number') { td.className = 'num'; td.textContent = c.fmt ? c.fmt(v) : String(v); }
          else td.textContent = v == null ? '' : String(v);
        }
      }
    }
    cols.forEach((c, i) => {
      const th = document.createElement('th');
      th.textContent = c.title || c.key;
      th.addEventListener('click', () => {
        asc = sortCol === i ? !asc : true; sortCol = i;
        data.sort((a, b) => {
          const x = a[c.key], y = b[c.key];
          const r = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
          return asc ? r : -r;
        });
        fill();
      });
      head.appendChild(th);
    });
    fill();
    el.appendChild(t);
  }
  const g = (v) => v.toPrecision(3);

  table(document.getElementById('meta'),
        [{key: 'file'}, {key: 'suite'}, {key: 'git'}, {key: 'gpu', title: 'GPU'}, {key: 'cpu', title: 'CPU'},
         {key: 'policy'}, {key: 'start', title: 'started'}, {key: 'golden', title: 'golden reason'}], meta);

  const tally = {};
  for (const r of rows) {
    const k = r.file + '\u0000' + r.impl + '\u0000' + r.dtype + '\u0000' + r.mask;
    tally[k] = tally[k] || {file: r.file, impl: r.impl, dtype: r.dtype, mask: r.mask, pass: 0, fail: 0, skip: 0, error: 0, worst_budget: 0};
    tally[k][r.status] += 1;
    tally[k].worst_budget = Math.max(tally[k].worst_budget, r.o_budget || 0, r.lse_budget || 0);
  }
  table(document.getElementById('summary'),
        [{key: 'file'}, {key: 'impl', title: 'implementation'}, {key: 'dtype'}, {key: 'mask'}, {key: 'pass'},
         {key: 'fail'}, {key: 'skip'}, {key: 'error'}, {key: 'worst_budget', title: 'worst budget', fmt: g}],
        Object.values(tally), (r) => (r.fail || r.error) ? 'fail' : '');
  table(document.getElementById('results'),
        [{key: 'file'}, {key: 'impl', title: 'implementation'}, {key: 'label', title: 'case'}, {key: 'status'},
         {key: 'bound'}, {key: 'rel_l2', fmt: g}, {key: 'cw', fmt: g}, {key: 'floor_ratio', title: 'floor ratio', fmt: g},
         {key: 'o_budget', fmt: g}, {key: 'lse_budget', fmt: g}, {key: 'tflops', title: 'TFLOP/s', fmt: g},
         {key: 'gbs', title: 'GB/s', fmt: g}, {key: 'ratio', title: 'time ratio', fmt: g}, {key: 'detail'}],
        rows.slice(), (r) => r.status);

  const series = meta.length > 1 ? 'datum.impl + " @ " + datum.file' : 'datum.impl';
  const errorChart = (metric, floor, title) => ({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: {values: judged},
    transform: [{calculate: series, as: 'series'}, {filter: 'datum.' + metric + ' > 0'}],
    facet: {column: {field: 'dtype', type: 'nominal', title: 'dtype'}},
    resolve: {scale: {y: 'independent'}},
    spec: {
      width: 260, height: 200,
      layer: [
        {mark: {type: 'point', opacity: 0.35},
         encoding: {x: {field: 'sk', type: 'quantitative', scale: {type: 'log', base: 2}, title: 'Sk'},
                    y: {field: metric, type: 'quantitative', scale: {type: 'log'}, title: title},
                    color: {field: 'series', type: 'nominal', title: 'implementation'},
                    tooltip: [{field: 'impl'}, {field: 'label'}, {field: metric, format: '.3g'}, {field: 'status'}]}},
        {mark: {type: 'line', point: true},
         encoding: {x: {field: 'sk', type: 'quantitative'}, y: {aggregate: 'mean', field: metric},
                    color: {field: 'series', type: 'nominal'}}},
        {transform: [{filter: 'datum.' + floor + ' > 0'}],
         mark: {type: 'line', color: 'black', strokeDash: [5, 3]},
         encoding: {x: {field: 'sk', type: 'quantitative'}, y: {aggregate: 'mean', field: floor}}}
      ]
    }
  });
  const posChart = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: {values: judged},
    transform: [{calculate: series, as: 'series'},
                {calculate: 'datum.sq > 1 ? datum.worst_row / (datum.sq - 1) : 0', as: 'position'}],
    width: 520, height: 220,
    mark: {type: 'point', opacity: 0.6},
    encoding: {x: {field: 'position', type: 'quantitative', title: 'worst query row / (Sq - 1)'},
               y: {field: 'o_budget', type: 'quantitative', title: 'o_budget'},
               color: {field: 'series', type: 'nominal', title: 'implementation'},
               shape: {field: 'dtype', type: 'nominal'},
               tooltip: [{field: 'impl'}, {field: 'label'}, {field: 'worst_row'}, {field: 'o_budget', format: '.3g'}]}
  };
  const timed = rows.filter((r) => r.tflops > 0);
  const speedChart = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: {values: timed},
    transform: [{calculate: series, as: 'series'}],
    facet: {column: {field: 'dtype', type: 'nominal'}},
    spec: {
      width: 260, height: 200,
      mark: {type: 'line', point: true},
      encoding: {x: {field: 'sk', type: 'quantitative', scale: {type: 'log', base: 2}, title: 'Sk'},
                 y: {aggregate: 'median', field: 'tflops', type: 'quantitative', scale: {type: 'log'}, title: 'TFLOP/s (median)'},
                 color: {field: 'series', type: 'nominal', title: 'implementation'},
                 tooltip: [{field: 'series'}, {field: 'sk'}, {aggregate: 'median', field: 'tflops', format: '.3g'}]}
    }
  };
  const charts = [['#chart-rel', errorChart('rel_l2', 'floor_l2', 'relative L2 error')],
                  ['#chart-cw', errorChart('cw', 'floor_cw', 'cw (units of u·P|V|)')],
                  ['#chart-pos', posChart]];
  if (timed.length) charts.push(['#chart-speed', speedChart]);
  else document.querySelector('#chart-speed').textContent = 'No timings in these files.';
  document.body.setAttribute('data-charts', String(charts.length));
  let rendered = 0;
  Promise.all(charts.map(([el, spec]) =>
    vegaEmbed(el, spec, {renderer: 'svg', actions: false})
      .then(() => { rendered += 1; })
      .catch((e) => fail('chart ' + el + ': ' + e))))
    .then(() => { document.body.setAttribute('data-rendered', String(rendered)); });
})();
</script>
</body></html>
)HTML";
  auto put = [&](const std::string& key, const std::string& value) {
    for (size_t at = 0; (at = page.find(key, at)) != std::string::npos; at += value.size())
      page.replace(at, key.size(), value);
  };
  std::string escaped_title;
  for (char ch : title)
    escaped_title += ch == '<' ? "&lt;" : ch == '&' ? "&amp;" : std::string(1, ch);
  put("@TITLE@", escaped_title);
  put("@DATA@", script_safe(data.dump()));
  put("@META@", script_safe(meta.dump()));
  put("@BUNDLES@", bundles);
  return page;
}

}  // namespace
}  // namespace sinkbench
