// reports/store/bench_table.cpp — columns, rows, peak attributes and the comparison rule of the
// `bench` table.
#include "reports/store/bench_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

#include "core/error.h"

namespace sinkbench {

const std::vector<Column>& bench_columns() {
  static const std::vector<Column> cols = {
      {"case_id", Kind::str},
      {"label", Kind::str},
      {"impl", Kind::str},
      {"device", Kind::str},
      {"status", Kind::str},
      {"reason", Kind::str},
      {"iterations", Kind::i64, true},
      {"repetitions", Kind::i64},
      {"median_s", Kind::f64, true},
      {"min_s", Kind::f64, true},
      {"max_s", Kind::f64, true},
      {"tflops", Kind::f64, true},
      {"gbs", Kind::f64, true},
      {"flops", Kind::f64},
      {"bytes", Kind::f64},
      {"peak_tflops", Kind::f64, true},
      {"peak_gbs", Kind::f64, true},
      {"pct_gemm_peak", Kind::f64, true},
      {"pct_copy_bw", Kind::f64, true},
      {"pct_peak", Kind::f64, true},
  };
  return cols;
}

Row bench_row(const BenchOutcome& b) {
  const bool timed = b.status == "ok" && b.median_s > 0;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double tflops = timed ? b.flops / b.median_s * 1e-12 : 0.0;
  const double gbs = timed ? b.bytes / b.median_s * 1e-9 : 0.0;
  const double pct_gemm = timed ? percent_of(tflops, b.peak_tflops) : nan;
  const double pct_copy = timed ? percent_of(gbs, b.peak_gbs) : nan;
  return {b.case_id,    b.label,
          b.impl,       b.device,
          b.status,     b.reason,
          b.iterations, b.repetitions,
          b.median_s,   b.min_s,
          b.max_s,      tflops,
          gbs,          b.flops,
          b.bytes,      b.peak_tflops,
          b.peak_gbs,   pct_gemm,
          pct_copy,     std::fmax(pct_gemm, pct_copy)};  // fmax: NaN only when both are
}

Attributes peak_attributes(const DevicePeaks& p) {
  Attributes a = {{"peaks_measured", int64_t(p.measured ? 1 : 0)},
                  {"peaks_reason", p.measured ? std::string() : p.reason},
                  {"peaks", describe_peaks(p)}};
  if (!p.measured) return a;  // no peak_* values: absent, not zero
  const Attributes values = {{"peak_device", p.device.name},
                             {"peak_sm_count", int64_t(p.device.sm_count)},
                             {"peak_sm_clock_mhz", p.device.sm_clock_mhz},
                             {"peak_mem_clock_mhz", p.device.mem_clock_mhz},
                             {"peak_theoretical_gbs", p.device.mem_bandwidth_gbs},
                             {"peak_copy_gbs", p.copy_gbs},
                             {"peak_copy_buffer_bytes", p.copy_bytes},
                             {"peak_copy_iterations", int64_t(p.copy_iterations)},
                             {"peak_copy_median_s", p.copy_median_s},
                             {"peak_gemm_tflops", p.gemm_tflops},
                             {"peak_gemm_m", p.gemm_m},
                             {"peak_gemm_n", p.gemm_n},
                             {"peak_gemm_k", p.gemm_k},
                             {"peak_gemm_iterations", int64_t(p.gemm_iterations)},
                             {"peak_gemm_median_s", p.gemm_median_s},
                             {"peak_gemm_kind", p.gemm_kind}};
  a.insert(a.end(), values.begin(), values.end());
  return a;
}

BenchOutcome bench_outcome(const Table& t, size_t r) {
  BenchOutcome b;
  b.case_id = t.text(r, "case_id");
  b.label = t.text(r, "label");
  b.impl = t.text(r, "impl");
  b.device = t.text(r, "device");
  b.status = t.text(r, "status");
  b.reason = t.text(r, "reason");
  b.iterations = t.integer(r, "iterations");
  b.repetitions = t.integer(r, "repetitions");
  b.median_s = t.number(r, "median_s");
  b.min_s = t.number(r, "min_s");
  b.max_s = t.number(r, "max_s");
  b.flops = t.number(r, "flops");
  b.bytes = t.number(r, "bytes");
  b.peak_tflops = t.number(r, "peak_tflops");
  b.peak_gbs = t.number(r, "peak_gbs");
  return b;
}

StoredTable read_bench_file(const std::string& path) {
  StoredTable t = read_table_file(path, "bench", bench_columns());
  const auto kind = t.attribute("file_kind");
  if (!kind || to_text(*kind) != kBenchFileKind)
    throw InputError(path, "is not a bench file (no file_kind=\"bench\" attribute)",
                     "a file written by `sinkbench bench -o`");
  const auto version = t.attribute("bench_schema_version");
  if (!version || !std::holds_alternative<int64_t>(*version) ||
      std::get<int64_t>(*version) != kBenchSchemaVersion)
    throw InputError(path,
                     fmt::format("has bench schema version {}; this sinkbench reads version {}",
                                 version ? to_text(*version) : "none", kBenchSchemaVersion),
                     "a bench file written by a sinkbench of the same bench schema");
  return t;
}

std::string_view change_name(Change c) {
  switch (c) {
    case Change::same:
      return "same";
    case Change::faster:
      return "faster";
    case Change::slower:
      return "slower";
    case Change::ambiguous:
      return "ambiguous";
  }
  return "?";
}

// Iterations each side needs before a range test may decide (about 2^-5 = 3% by chance).
constexpr int64_t kDecisiveIterations = 5;

Change judge_change(const BenchOutcome& base, const BenchOutcome& now, double tolerance,
                    std::string* why) {
  auto say = [&](Change c, std::string text) {
    if (why) *why = std::move(text);
    return c;
  };
  const double ratio = now.median_s / base.median_s;
  const bool enough = std::min(now.iterations, base.iterations) >= kDecisiveIterations;
  if (enough && now.min_s > base.median_s * (1 + tolerance))
    return say(Change::slower, "the fastest new iteration is slower than the base median");
  if (enough && now.median_s * (1 + tolerance) < base.min_s)
    return say(Change::faster, "the new median is faster than the fastest base iteration");
  if (std::fabs(ratio - 1) <= tolerance) return say(Change::same, "medians within tolerance");
  return say(Change::ambiguous, enough ? "medians differ but the ranges overlap"
                                       : "medians differ but too few iterations to tell");
}

int64_t BenchComparison::count(Change c) const {
  return std::count_if(rows.begin(), rows.end(),
                       [&](const BenchDelta& d) { return d.change == c; });
}

BenchComparison compare_bench(const Table& base, const Table& now, double tolerance) {
  using Key = std::pair<std::string, std::string>;
  auto timed = [](const Table& t) {
    std::map<Key, BenchOutcome> out;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      BenchOutcome b = bench_outcome(t, r);
      if (b.status == "ok" && b.median_s > 0) out[{b.case_id, b.impl}] = std::move(b);
    }
    return out;
  };
  const auto b = timed(base), n = timed(now);
  BenchComparison cmp;
  for (const auto& [key, old] : b) {
    const auto it = n.find(key);
    if (it == n.end()) {
      cmp.only_base.push_back(key.first + " " + key.second);
      continue;
    }
    BenchDelta d;
    d.case_id = key.first;
    d.label = it->second.label;
    d.impl = key.second;
    d.base_median = old.median_s;
    d.new_median = it->second.median_s;
    d.ratio = d.new_median / d.base_median;
    d.change = judge_change(old, it->second, tolerance, &d.why);
    cmp.rows.push_back(std::move(d));
  }
  for (const auto& [key, _] : n)
    if (!b.count(key)) cmp.only_new.push_back(key.first + " " + key.second);
  return cmp;
}

std::string render_comparison(const BenchComparison& cmp, const std::string& base_path,
                              const std::string& new_path, double tolerance) {
  std::string out = fmt::format("# bench: {} (new) against {} (base), tolerance {:.0f}%\n",
                                new_path, base_path, tolerance * 100);
  out += fmt::format("{:<18} {:<34} {:<40} {:>12} {:>12} {:>7}  {}\n", "case", "impl", "label",
                     "base ms", "new ms", "ratio", "verdict");
  for (const BenchDelta& d : cmp.rows)
    out += fmt::format("{:<18} {:<34} {:<40} {:>12.4f} {:>12.4f} {:>7.3f}  {} ({})\n", d.case_id,
                       d.impl, d.label, d.base_median * 1e3, d.new_median * 1e3, d.ratio,
                       change_name(d.change), d.why);
  for (const std::string& k : cmp.only_base)
    out += fmt::format("only in base (not compared): {}\n", k);
  for (const std::string& k : cmp.only_new)
    out += fmt::format("only in new (not compared): {}\n", k);
  out += fmt::format("{} compared: {} same, {} faster, {} slower, {} ambiguous\n", cmp.rows.size(),
                     cmp.count(Change::same), cmp.count(Change::faster), cmp.count(Change::slower),
                     cmp.count(Change::ambiguous));
  return out;
}

}  // namespace sinkbench
