// reports/render/report.cpp — report.md and index.html from results files. Both are built from one
// list of result rows joined with their case rows, read by column name, so a column a file lacks
// is absent ("—") and a column a file adds (a diagnosis, gradient metrics) is carried to the page.
// The HTML is reports/web/index.html with the rows embedded as JSON; report.js draws it.
#include "reports/render/report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "cases/flop_model.h"
#include "core/error.h"
#include "oracle/defects.h"
#include "reports/render/report_gradients.h"
#include "reports/render/web_assets.h"
#include "reports/store/store.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kAbsent = "—";

bool has_column(const Table& t, const std::string& name) {
  return std::any_of(t.columns.begin(), t.columns.end(),
                     [&](const Column& c) { return c.name == name; });
}

// One result row with its case row. Values are read by column name; a metric is nullopt where
// the file has no such column or the row was not judged (skip, error: nothing was measured).
struct Entry {
  std::string file;
  const Table* results = nullptr;
  size_t row = 0;
  const Table* cases = nullptr;
  size_t case_row = 0;
  std::optional<double> tflops, gbs, ratio, seconds;

  // Empty where the file lacks the column (one written before it was added).
  std::string text(const std::string& col) const {
    for (const auto& [t, r] : {std::pair{results, row}, {cases, case_row}})
      if (has_column(*t, col)) {
        const auto* s = std::get_if<std::string>(&t->value(r, col));
        return s ? *s : "";
      }
    return "";
  }
  std::string status() const { return text("status"); }
  bool judged() const { return status() == "pass" || status() == "fail"; }
  bool bad() const { return status() == "fail" || status() == "error"; }
  std::optional<double> metric(const std::string& col) const {
    if (!judged() || !has_column(*results, col)) return std::nullopt;
    const Column& c = results->columns[results->index(col)];
    const double v =
        c.kind == Kind::i64 ? double(results->integer(row, col)) : results->number(row, col);
    return std::isfinite(v) ? std::optional(v) : std::nullopt;
  }
};

// Bytes of the case by the one model (cases/flop_model.h), from its stored cases row.
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
    Entry e;
    e.file = tag;
    e.results = &R;
    e.row = i;
    e.cases = &run.cases;
    e.case_row = it->second;
    e.seconds = e.metric("seconds");
    if (e.seconds && *e.seconds > 0 && has_column(R, "flops")) {
      e.tflops = R.number(i, "flops") / *e.seconds / 1e12;
      e.gbs = bytes_moved(run.cases, it->second) / *e.seconds / 1e9;
    }
    out.push_back(std::move(e));
  }
  return out;
}

// Ratio of each timed row's time to the fastest implementation on the same case (any file).
void add_ratios(std::vector<Entry>& all) {
  std::map<std::string, double> best;
  for (const Entry& e : all)
    if (e.tflops) {
      const std::string id = e.text("case_id");
      best[id] = best.count(id) ? std::min(best[id], *e.seconds) : *e.seconds;
    }
  for (Entry& e : all)
    if (e.tflops) e.ratio = *e.seconds / best[e.text("case_id")];
}

std::string num_text(std::optional<double> v) {
  return v ? fmt::format("{:.3g}", *v) : kAbsent;
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
  int judged() const { return pass + fail + error; }
};

std::string plural(int n, const char* word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

// The one sentence that answers "did it pass?", first in both renderings.
std::string verdict_line(const std::vector<Entry>& all) {
  Tally t;
  for (const Entry& e : all)
    t.add(e.status());
  const std::string skipped = t.skip ? fmt::format(" ({} skipped)", t.skip) : "";
  if (t.judged() == 0)
    return fmt::format("**Nothing judged: all {} skipped.**", plural(t.skip, "result"));
  if (t.fail + t.error == 0)
    return fmt::format("**✅ All {} judged results pass**{}.", t.judged(), skipped);
  std::string what = t.fail ? plural(t.fail, "failure") : "";
  if (t.error) what += (what.empty() ? "" : " and ") + plural(t.error, "error");
  return fmt::format("**❌ {} in {} judged results**{}.", what, t.judged(), skipped);
}

std::string verdicts_md(const std::vector<Entry>& all) {
  std::map<std::pair<std::string, std::string>, Tally> by;
  for (const Entry& e : all)
    by[{e.file, e.text("impl")}].add(e.status());
  std::string s =
      "## Verdicts\n\n| file | implementation | pass | fail | skip | error |\n"
      "|---|---|--:|--:|--:|--:|\n";
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
    cols.insert({e.text("dtype"), e.text("mask")});
    m[e.text("impl")][{e.text("dtype"), e.text("mask")}].add(e.status());
  }
  std::string s =
      "## Pass/fail matrix (implementation x dtype x mask)\n\nEach cell: passed / "
      "judged; ✅ all passed, ❌ some failed or errored, skip: every case skipped (reasons under "
      "Skipped).\n\n| implementation |";
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
      if (t.judged() == 0)
        s += " skip |";
      else
        s += fmt::format(" {} {}/{} |", t.pass == t.judged() ? "✅" : "❌", t.pass, t.judged());
    }
    s += "\n";
  }
  return s + "\n";
}

// Errors and non-finite outputs first, then by the larger policy budget used.
double severity(const Entry& e) {
  if (e.status() == "error") return INFINITY;
  double nonfinite = 0;
  for (const char* col : {"nan_count", "inf_count", "lse_nan_count"})
    nonfinite += e.metric(col).value_or(0);
  if (nonfinite > 0) return 1e300;
  return std::max(e.metric("o_budget").value_or(0), e.metric("lse_budget").value_or(0));
}

// "seq 0 row 17 head 3 dim 5: got 0.125, want 0.1249" for a judged row.
std::string worst_element(const Entry& e) {
  const auto row = e.metric("worst_row");
  if (!row) return kAbsent;
  std::string s =
      fmt::format("seq {} row {} head {} dim {}", e.metric("worst_seq").value_or(0), *row,
                  e.metric("worst_head").value_or(0), e.metric("worst_dim").value_or(0));
  if (const auto got = e.metric("worst_got"))
    s += fmt::format(": got {:.6g}, want {:.6g}", *got, e.metric("worst_want").value_or(NAN));
  return s;
}

std::string worst_md(const std::vector<Entry>& all, int limit) {
  std::vector<const Entry*> v;
  for (const Entry& e : all)
    if (e.judged() || e.bad()) v.push_back(&e);
  std::stable_sort(v.begin(), v.end(), [](const Entry* a, const Entry* b) {
    if (a->bad() != b->bad()) return a->bad();
    return severity(*a) > severity(*b);
  });
  if (v.size() > size_t(limit)) v.resize(size_t(limit));
  const bool diagnosis = std::any_of(
      all.begin(), all.end(), [](const Entry& e) { return has_column(*e.results, "diagnosis"); });
  std::string s = fmt::format(
      "## Worst cases\n\nFailures first, then by the larger of o_budget and lse_budget (the "
      "policy passes at <= 1); — where nothing was measured.\n\n| implementation | case | status "
      "| failed bound | o_budget | lse_budget | floor ratio | worst element |{} detail |\n"
      "|---|---|---|---|--:|--:|--:|---|{}---|\n",
      diagnosis ? " diagnosis |" : "", diagnosis ? "---|" : "");
  for (const Entry* e : v) {
    s += fmt::format("| `{}` | {} `{}` | {} | {} | {} | {} | {} | {} |", e->text("impl"),
                     cell(e->text("label")), e->text("case_id"), e->status(),
                     e->text("bound").empty() ? kAbsent : e->text("bound"),
                     num_text(e->metric("o_budget")), num_text(e->metric("lse_budget")),
                     num_text(e->metric("floor_ratio")), worst_element(*e));
    if (diagnosis)
      s += fmt::format(" {} |", e->text("diagnosis").empty()
                                    ? kAbsent
                                    : cell(diagnosis_line(e->text("diagnosis"))));
    s += fmt::format(" {} |\n", cell(e->text("detail")));
  }
  return s + "\n";
}

// Skipped results by implementation and reason: a skip is never a zero.
std::string skipped_md(const std::vector<Entry>& all) {
  std::map<std::pair<std::string, std::string>, int> by;
  for (const Entry& e : all)
    if (e.status() == "skip") by[{e.text("impl"), e.text("detail")}] += 1;
  if (by.empty()) return "## Skipped\n\nNothing was skipped.\n\n";
  std::string s = "## Skipped\n\n| implementation | results | reason |\n|---|--:|---|\n";
  for (const auto& [key, n] : by)
    s += fmt::format("| `{}` | {} | {} |\n", key.first, n,
                     key.second.empty() ? kAbsent : cell(key.second));
  return s + "\n";
}

// Each implementation's error as a multiple of the rounding floor, per dtype, best first.
std::string floor_md(const std::vector<Entry>& all) {
  std::map<std::string, std::map<std::string, std::vector<double>>> by;  // dtype -> impl
  for (const Entry& e : all)
    if (const auto r = e.metric("floor_ratio"); r && *r > 0)
      by[e.text("dtype")][e.text("impl")].push_back(*r);
  if (by.empty()) return "";
  std::string s =
      "## Error against the rounding floor\n\nRelative L2 error / the rounding floor's (1 = as "
      "good as rounding the exact output), over the judged cases, best first per dtype.\n\n"
      "| dtype | implementation | cases | median | max |\n|---|---|--:|--:|--:|\n";
  for (const auto& [dtype, impls] : by) {
    std::vector<std::tuple<double, double, size_t, std::string>> ranked;
    for (const auto& [impl, v] : impls)
      ranked.emplace_back(median(v), *std::max_element(v.begin(), v.end()), v.size(), impl);
    std::sort(ranked.begin(), ranked.end());
    for (const auto& [med, mx, n, impl] : ranked)
      s += fmt::format("| {} | `{}` | {} | {:.3g} | {:.3g} |\n", dtype, impl, n, med, mx);
  }
  return s + "\n";
}

std::string speed_md(const std::vector<Entry>& all) {
  std::map<std::tuple<std::string, std::string, std::string, std::string>,
           std::vector<const Entry*>>
      groups;
  for (const Entry& e : all)
    if (e.tflops)
      groups[{e.text("impl"), e.text("device"), e.text("dtype"), e.text("mask")}].push_back(&e);
  if (groups.empty()) return "## Speed\n\nNo timings in these files.\n\n";
  std::string s =
      "## Speed\n\nMedians over the cases of each group. TFLOP/s counts 4·D flops per visible "
      "(query, key) pair per head; GB/s counts q, k, v, sinks read once and o, lse written once "
      "(cases/flop_model.h); the "
      "ratio is time over the fastest implementation on the same case (1 = fastest). CPU "
      "timings are host wall time of the reference code, not a kernel benchmark.\n\n"
      "| implementation | device | dtype | mask | cases | TFLOP/s | GB/s | time ratio |\n"
      "|---|---|---|---|--:|--:|--:|--:|\n";
  for (const auto& [key, v] : groups) {
    std::vector<double> tf, gb, ra;
    for (const Entry* e : v) {
      tf.push_back(*e->tflops);
      gb.push_back(*e->gbs);
      ra.push_back(*e->ratio);
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

// A table cell as JSON: text, integer or number; null for a non-finite number or a column the
// file lacks.
json value_json(const Table& t, size_t row, const Column& c) {
  if (std::holds_alternative<Absent>(t.value(row, c.name))) return nullptr;
  if (c.kind == Kind::str) return t.text(row, c.name);
  if (c.kind == Kind::i64) return t.integer(row, c.name);
  const double v = t.number(row, c.name);
  return std::isfinite(v) ? json(v) : json(nullptr);
}

// Every column of each row by name, then its case's columns the results lack. Numbers of rows
// that were not judged are null: nothing was measured, and the page shows "—", not 0.
json entries_json(const std::vector<Entry>& all) {
  json rows = json::array();
  auto opt = [](std::optional<double> v) { return v ? json(*v) : json(nullptr); };
  for (const Entry& e : all) {
    json r = {{"file", e.file}};
    for (const Column& c : e.results->columns)
      r[c.name] = c.kind != Kind::str && !e.judged() && c.name != "flops"
                      ? json(nullptr)
                      : value_json(*e.results, e.row, c);
    for (const Column& c : e.cases->columns)  // the canonical spec: long, and the label says it
      if (!r.contains(c.name) && c.name != "canonical")
        r[c.name] = value_json(*e.cases, e.case_row, c);
    r["tflops"] = opt(e.tflops);
    r["gbs"] = opt(e.gbs);
    r["ratio"] = opt(e.ratio);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string escape_html(const std::string& text) {
  std::string out;
  for (char ch : text)
    out += ch == '<' ? "&lt;" : ch == '&' ? "&amp;" : ch == '>' ? "&gt;" : std::string(1, ch);
  return out;
}

// reports/web/index.html with its markers filled. Each marker is replaced once, in order, so a
// marker-like string inside the data cannot be expanded again.
std::string html_page(const std::string& title, const json& data, const json& meta,
                      const std::string& bundles, const std::string& sections) {
  const std::vector<std::pair<std::string, std::string>> fill = {
      {"@TITLE@", escape_html(title)},
      {"@STYLE@", std::string(web::report_css)},
      {"@BUNDLES@", bundles},
      {"@SECTIONS@", sections},
      {"@DATA@", script_safe(data.dump())},
      {"@META@", script_safe(meta.dump())},
      {"@SCRIPT@", script_safe(std::string(web::report_js))}};
  const std::string_view page = web::index_html;
  std::string out;
  size_t at = 0;
  while (at < page.size()) {
    size_t next = std::string_view::npos;
    const std::pair<std::string, std::string>* which = nullptr;
    for (const auto& f : fill) {
      const size_t p = page.find(f.first, at);
      if (p < next) next = p, which = &f;
    }
    if (!which) {
      out += page.substr(at);
      break;
    }
    out += page.substr(at, next - at);
    out += which->second;
    at = next + which->first.size();
  }
  return out;
}

}  // namespace

std::string default_web_dir() {
  if (const char* env = std::getenv("SINKBENCH_WEB_DIR"); env && *env) return env;
  return SINKBENCH_WEB_DIR;
}

ReportFiles write_report(const ReportOptions& opt) {
  if (opt.inputs.empty()) throw InputError("report", "no results file given", "one or more .h5");
  std::vector<StoredRun> runs;
  runs.reserve(opt.inputs.size());  // entries point into the runs' tables
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

  // Sections other areas add (one line each), after the built-in answer and before the rest.
  std::vector<ReportSection> sections;
  sections.push_back({gradients_md(runs, tags, opt.worst), gradients_html(runs, tags, opt.worst)});

  std::string files;
  for (const auto& t : tags)
    files += (files.empty() ? "" : ", ") + t;
  std::string md = "# sinkbench report: " + files + "\n\n" + verdict_line(all) + "\n\n" +
                   matrix_md(all) + worst_md(all, opt.worst) + skipped_md(all) + floor_md(all);
  std::string sections_html;
  for (const ReportSection& sec : sections) {
    md += sec.markdown;
    sections_html += sec.html;
  }
  md += verdicts_md(all) + speed_md(all) + provenance_md(runs, tags);

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
      html_page("sinkbench report: " + files, entries_json(all), meta, bundles, sections_html);
  for (const auto& [path, text] : {std::pair{out.markdown, md}, {out.html, html}}) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f.good()) throw InputError(path, "cannot be written", "a writable report folder");
  }
  return out;
}

}  // namespace sinkbench
