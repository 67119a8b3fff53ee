// reports/store/diff.cpp — the golden diff. Rows are matched by case id and (case id,
// implementation); arrays by their path below /arrays/<case_id>/. Exact bits are compared only
// where the design promises them (inputs, CPU reference outputs); the FP64 oracle may move by
// rounding between machines, so it is compared with a relative tolerance.
#include "reports/store/diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "reports/store/arrays.h"
#include "reports/store/store.h"

namespace sinkbench {
namespace {

using Key = std::pair<std::string, std::string>;  // (case id, impl)

StoredRun read_named(const std::string& role, const std::string& path) {
  try {
    return read_store(path);
  } catch (const InputError& e) {
    throw InputError(role + " file " + std::string(e.what()));
  }
}

// Worse verdicts rank higher; a rise in rank is a regression (pass -> skip loses coverage).
int status_rank(const std::string& s) {
  if (s == "pass") return 0;
  if (s == "skip") return 1;
  if (s == "fail") return 2;
  return 3;
}

struct Runs {
  const StoredRun& golden;
  const StoredRun& run;
  std::map<std::string, size_t> golden_cases, run_cases;
  std::map<Key, size_t> golden_results, run_results;
};

std::map<std::string, size_t> index_cases(const Table& t) {
  std::map<std::string, size_t> m;
  for (size_t i = 0; i < t.rows.size(); ++i)
    m[t.text(i, "case_id")] = i;
  return m;
}

std::map<Key, size_t> index_results(const Table& t) {
  std::map<Key, size_t> m;
  for (size_t i = 0; i < t.rows.size(); ++i)
    m[{t.text(i, "case_id"), t.text(i, "impl")}] = i;
  return m;
}

class Differ {
 public:
  Differ(const Runs& r, const DiffRules& rules, DiffResult& out)
      : r_(r), rules_(rules), out_(out) {}

  void cases() {
    for (const auto& [id, i] : r_.golden_cases)
      if (!r_.run_cases.count(id))
        add("missing_case", id, "", "in the golden, not in the run", true);
    for (const auto& [id, i] : r_.run_cases)
      if (!r_.golden_cases.count(id))
        add("new_case", id, "", "in the run, not in the golden (update the golden to keep it)",
            false);
  }

  void results() {
    for (const auto& [key, gi] : r_.golden_results) {
      if (!r_.run_cases.count(key.first)) continue;  // reported as a missing case
      const auto it = r_.run_results.find(key);
      if (it == r_.run_results.end()) {
        add("missing_result", key.first, key.second,
            "the golden has a result of this implementation, the run has none", true);
        continue;
      }
      ++out_.results;
      verdict(key, gi, it->second);
      metrics(key, gi, it->second);
    }
    for (const auto& [key, ri] : r_.run_results)
      if (r_.golden_cases.count(key.first) && !r_.golden_results.count(key))
        add("new_result", key.first, key.second, "an implementation the golden does not have",
            false);
  }

  void arrays(const ArrayFile& g, const ArrayFile& r) {
    if (!g.any()) {
      out_.notes.push_back("the golden " + r_.golden.path +
                           " has no arrays: oracle drift and bit-identity were NOT checked");
      return;
    }
    if (!r.any()) {
      out_.notes.push_back("the run " + r_.run.path +
                           " has no arrays (run it with --keep-arrays): oracle drift and "
                           "bit-identity of CPU outputs were NOT checked");
      return;
    }
    for (const auto& [id, gi] : r_.golden_cases) {
      if (!r_.run_cases.count(id)) continue;
      const std::vector<std::string> names = g.list(id);
      const std::vector<std::string> have = r.list(id);
      if (!names.empty() && have.empty()) {
        add("missing_array", id, "", "the run stored no arrays for this case", true);
        continue;
      }
      const std::set<std::string> run_names(have.begin(), have.end());
      for (const std::string& name : names)
        one_array(g, r, id, name, run_names.count(name) > 0);
    }
  }

 private:
  void add(const std::string& kind, const std::string& id, const std::string& impl,
           const std::string& detail, bool regression) {
    std::string label;
    const auto g = r_.golden_cases.find(id);
    if (g != r_.golden_cases.end())
      label = r_.golden.cases.text(g->second, "label");
    else if (const auto it = r_.run_cases.find(id); it != r_.run_cases.end())
      label = r_.run.cases.text(it->second, "label");
    out_.findings.push_back({kind, id, label, impl, detail, regression});
  }

  void verdict(const Key& key, size_t gi, size_t ri) {
    const std::string gs = r_.golden.results.text(gi, "status");
    const std::string rs = r_.run.results.text(ri, "status");
    const std::string gb = r_.golden.results.text(gi, "bound");
    const std::string rb = r_.run.results.text(ri, "bound");
    if (gs == rs && gb == rb) return;
    auto show = [](const std::string& s, const std::string& b) {
      return b.empty() ? s : s + " (" + b + ")";
    };
    const bool worse = status_rank(rs) > status_rank(gs);
    const bool better = status_rank(rs) < status_rank(gs);
    std::string detail = show(gs, gb) + " -> " + show(rs, rb);
    if (worse && rs != "skip") detail += ": " + r_.run.results.text(ri, "detail");
    if (better) detail += " (update the golden to lock the improvement in)";
    add(better ? "improved" : "verdict", key.first, key.second, detail, worse);
  }

  void metrics(const Key& key, size_t gi, size_t ri) {
    const Table& G = r_.golden.results;
    const Table& R = r_.run.results;
    const std::string rs = R.text(ri, "status");
    if ((rs != "pass" && rs != "fail") || G.text(gi, "status") == "skip" ||
        G.text(gi, "status") == "error")
      return;
    std::vector<std::string> bad;
    for (const char* budget : {"o_budget", "lse_budget"}) {
      const double g = G.number(gi, budget), r = R.number(ri, budget);
      if (g <= 1 && r > 1)
        bad.push_back(fmt::format("{} crossed 1 ({:.3g} -> {:.3g})", budget, g, r));
    }
    for (const char* count : {"nan_count", "inf_count", "lse_nan_count"}) {
      const int64_t g = G.integer(gi, count), r = R.integer(ri, count);
      if (r > g) bad.push_back(fmt::format("{} {} -> {}", count, g, r));
    }
    static const std::pair<const char*, const char*> grown[] = {
        {"o_budget", "o_budget"}, {"cw", "o_budget"},          {"rel_l2", "o_budget"},
        {"max_abs", "o_budget"},  {"floor_ratio", "o_budget"}, {"lse_budget", "lse_budget"},
        {"lse_abs", "lse_budget"}};
    for (const auto& [metric, budget] : grown) {
      const double g = G.number(gi, metric), r = R.number(ri, metric);
      if (r > rules_.growth * g && r > 0 && R.number(ri, budget) >= rules_.noise_budget)
        bad.push_back(
            fmt::format("{} x{:.3g} ({:.3g} -> {:.3g})", metric, g > 0 ? r / g : INFINITY, g, r));
    }
    gradient_metrics(G, gi, R, ri, bad);
    if (!bad.empty()) add("metric", key.first, key.second, fmt::format("{}", join(bad)), true);
  }

  // Whether row i judged gradients (a file older than the gradient columns has none).
  static bool gradients_judged(const Table& t, size_t i) {
    const auto* s = std::get_if<std::string>(&t.value(i, "grad_status"));
    return s != nullptr && (*s == "pass" || *s == "fail");
  }

  // The same checks per gradient (columns "<grad>_budget", ...), where both runs judged it.
  void gradient_metrics(const Table& G, size_t gi, const Table& R, size_t ri,
                        std::vector<std::string>& bad) const {
    if (!gradients_judged(G, gi) || !gradients_judged(R, ri)) return;
    for (Grad gr : kGrads) {
      const std::string n(grad_name(gr));
      const double g = G.number(gi, n + "_budget"), r = R.number(ri, n + "_budget");
      if (g <= 1 && r > 1)
        bad.push_back(fmt::format("{}_budget crossed 1 ({:.3g} -> {:.3g})", n, g, r));
      for (const std::string& count : {n + "_nan_count", n + "_inf_count"}) {
        const int64_t gc = G.integer(gi, count), rc = R.integer(ri, count);
        if (rc > gc) bad.push_back(fmt::format("{} {} -> {}", count, gc, rc));
      }
      for (const std::string& metric : {n + "_budget", n + "_cw", n + "_rel_l2", n + "_max_abs"}) {
        const double gm = G.number(gi, metric), rm = R.number(ri, metric);
        if (rm > rules_.growth * gm && rm > 0 && r >= rules_.noise_budget)
          bad.push_back(fmt::format("{} x{:.3g} ({:.3g} -> {:.3g})", metric,
                                    gm > 0 ? rm / gm : INFINITY, gm, rm));
      }
    }
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v)
      s += (s.empty() ? "" : "; ") + x;
    return s;
  }

  // Device of an implementation, from the golden's results row of this case.
  std::string device_of(const std::string& id, const std::string& impl) const {
    const auto it = r_.golden_results.find({id, impl});
    return it == r_.golden_results.end() ? "" : r_.golden.results.text(it->second, "device");
  }

  void one_array(const ArrayFile& g, const ArrayFile& r, const std::string& id,
                 const std::string& name, bool in_run) {
    const bool is_impl = name.rfind("impls/", 0) == 0;
    const std::string impl = is_impl ? name.substr(6, name.rfind('/') - 6) : "";
    if (is_impl && device_of(id, impl) != "cpu") return;  // only CPU outputs are bit-exact
    if (!in_run) {
      if (is_impl && r_.run_results.count({id, impl}) &&
          r_.run.results.text(r_.run_results.at({id, impl}), "status") == "skip")
        return;  // reported as a verdict change
      add("missing_array", id, impl, name + " is in the golden, not in the run", true);
      return;
    }
    const StoredArray a = g.read(id, name), b = r.read(id, name);
    ++out_.arrays;
    if (name.rfind("oracle/", 0) == 0 && a.dtype == "f64") return oracle(id, name, a, b);
    if (a.shape == b.shape && a.bytes == b.bytes) return;
    const std::string kind = is_impl ? "not_bit_identical" : "input_drift";
    add(kind, id, impl, name + ": " + describe_difference(a, b), true);
  }

  void oracle(const std::string& id, const std::string& name, const StoredArray& a,
              const StoredArray& b) {
    if (a.shape != b.shape)
      return add("oracle_drift", id, "", name + ": shape changed (other evaluated rows?)", true);
    double scale = 0, diff = 0;
    for (size_t i = 0; i < a.values.size(); ++i) {
      scale = std::max(scale, std::fabs(a.values[i]));
      const double d = std::fabs(a.values[i] - b.values[i]);
      diff = std::isnan(d) ? INFINITY : std::max(diff, d);
    }
    const double rel = scale > 0 ? diff / scale : diff;
    // The oracle's answers (o, lse, gradients) are FP64; its error scales (m) come from float
    // GEMMs, whose last bits depend on the machine's SIMD width.
    const bool answer = name == "oracle/o" || name == "oracle/lse" || name == "oracle/dq" ||
                        name == "oracle/dk" || name == "oracle/dv" || name == "oracle/dsinks";
    const double allowed = answer ? rules_.oracle_rel : rules_.scale_rel;
    if (rel > allowed)
      add("oracle_drift", id, "",
          fmt::format("{}: max |run - golden| / max |golden| = {:.3g} (allowed {:.0e})", name, rel,
                      allowed),
          true);
  }

  static std::string describe_difference(const StoredArray& a, const StoredArray& b) {
    if (a.shape != b.shape) return "shape changed";
    size_t differ = 0, elem = 0;
    const size_t n = a.values.size(), size = n ? a.bytes.size() / n : 1;
    double worst = 0;
    for (size_t i = 0; i < n; ++i) {
      if (std::equal(a.bytes.begin() + i * size, a.bytes.begin() + (i + 1) * size,
                     b.bytes.begin() + i * size))
        continue;
      ++differ;
      const double d = std::fabs(a.values[i] - b.values[i]);
      if (differ == 1 || d > worst) worst = d, elem = i;
    }
    return fmt::format("{} of {} elements differ; largest |diff| {:.3g} at flat index {}", differ,
                       n, worst, elem);
  }

  const Runs& r_;
  const DiffRules& rules_;
  DiffResult& out_;
};

std::string describe(const StoredRun& run, bool arrays) {
  auto attr = [&](const char* name) {
    const auto v = run.attribute(name);
    return v ? to_text(*v) : std::string("?");
  };
  std::string s =
      fmt::format("{} cases, {} results, {}; policy v{}, git {} {}", run.cases.rows.size(),
                  run.results.rows.size(), arrays ? "arrays" : "no arrays", run.policy_version,
                  attr("git_sha").substr(0, 12), attr("git_state"));
  if (const auto why = run.attribute("golden_reason"))
    s += fmt::format("; golden of {}: {}", attr("golden_updated"), to_text(*why));
  return s;
}

}  // namespace

int64_t DiffResult::regressions() const {
  return std::count_if(findings.begin(), findings.end(),
                       [](const Finding& f) { return f.regression; });
}

DiffResult diff_runs(const std::string& golden, const std::string& run, const DiffRules& rules) {
  const StoredRun g = read_named("golden", golden);
  const StoredRun r = read_named("run", run);
  const ArrayFile ga(golden), ra(run);
  DiffResult out;
  out.golden = "golden " + golden + " (" + describe(g, ga.any()) + ")";
  out.run = "run    " + run + " (" + describe(r, ra.any()) + ")";
  if (g.policy_version != r.policy_version)
    out.notes.push_back(
        fmt::format("policy versions differ (golden v{}, run v{}): verdict changes "
                    "may come from the policy; update the golden",
                    g.policy_version, r.policy_version));
  if (!r.complete) out.notes.push_back("the run " + run + " is not complete");
  Runs runs{g,
            r,
            index_cases(g.cases),
            index_cases(r.cases),
            index_results(g.results),
            index_results(r.results)};
  for (const auto& [id, i] : runs.golden_cases)
    out.cases += runs.run_cases.count(id) ? 1 : 0;
  Differ d(runs, rules, out);
  d.cases();
  d.results();
  d.arrays(ga, ra);
  std::stable_sort(out.findings.begin(), out.findings.end(),
                   [](const Finding& a, const Finding& b) {
                     return std::tie(b.regression, a.case_id, a.impl) <
                            std::tie(a.regression, b.case_id, b.impl);
                   });
  return out;
}

std::string render_diff(const DiffResult& d) {
  std::string s = d.golden + "\n" + d.run + "\n";
  for (const std::string& n : d.notes)
    s += "note: " + n + "\n";
  if (!d.findings.empty()) {
    size_t wk = 4, wl = 5, wi = 4;
    for (const Finding& f : d.findings) {
      wk = std::max(wk, f.kind.size());
      wl = std::max(wl, f.label.size());
      wi = std::max(wi, f.impl.size());
    }
    s += fmt::format("\n{:<10}  {:<{}}  {:<16}  {:<{}}  {:<{}}  {}\n", "", "kind", wk, "case",
                     "label", wl, "impl", wi, "detail");
    for (const Finding& f : d.findings)
      s += fmt::format("{:<10}  {:<{}}  {:<16}  {:<{}}  {:<{}}  {}\n",
                       f.regression ? "REGRESSION" : "change", f.kind, wk, f.case_id, f.label, wl,
                       f.impl.empty() ? "-" : f.impl, wi, f.detail);
    s += "\n";
  }
  const int64_t bad = d.regressions();
  std::map<std::string, int> kinds;
  for (const Finding& f : d.findings)
    if (f.regression) ++kinds[f.kind];
  std::string by_kind;
  for (const auto& [k, n] : kinds)
    by_kind += (by_kind.empty() ? "" : ", ") + fmt::format("{} {}", n, k);
  const std::string compared =
      fmt::format("{} cases, {} results and {} arrays compared", d.cases, d.results, d.arrays);
  if (bad == 0)
    s += fmt::format("clean: {}; no regression ({} other change{})\n", compared, d.findings.size(),
                     d.findings.size() == 1 ? "" : "s");
  else
    s += fmt::format("REGRESSED: {} regression{} ({}); {}\n", bad, bad == 1 ? "" : "s", by_kind,
                     compared);
  return s;
}

}  // namespace sinkbench
