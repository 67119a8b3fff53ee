// reports/render/report_gradients.cpp — the gradients section of report.md and the skeleton of
// the page's, from the gradient columns of the results table (reports/store/table.cpp,
// "<gradient>_<metric>"; the page's part is drawn by reports/web/report.js).
#include "reports/render/report_gradients.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "oracle/oracle_bwd.h"

namespace sinkbench {
namespace {

// One judged backward result.
struct GradEntry {
  std::string file, impl, case_id, label, status, bound, detail;
  int64_t sk = 0;
  double budget[4] = {}, floor_ratio[4] = {};
  bool judged[4] = {};  // the gradient has elements (dsinks has none without a sink)
  bool ok[4] = {};
  double worst() const { return *std::max_element(budget, budget + 4); }
};

std::vector<GradEntry> entries(const std::vector<StoredRun>& runs,
                               const std::vector<std::string>& tags) {
  std::vector<GradEntry> out;
  for (size_t f = 0; f < runs.size(); ++f) {
    const Table& R = runs[f].results;
    const Table& C = runs[f].cases;
    if (R.absent("grad_status")) continue;  // a file from before gradients (schema v1)
    std::map<std::string, size_t> case_row;
    for (size_t i = 0; i < C.rows.size(); ++i)
      case_row[C.text(i, "case_id")] = i;
    for (size_t i = 0; i < R.rows.size(); ++i) {
      const std::string st = R.text(i, "grad_status");
      if (st != "pass" && st != "fail") continue;
      GradEntry e{tags[f], R.text(i, "impl"),       R.text(i, "case_id"),    "",
                  st,      R.text(i, "grad_bound"), R.text(i, "grad_detail")};
      if (const auto it = case_row.find(e.case_id); it != case_row.end()) {
        e.label = C.text(it->second, "label");
        e.sk = C.integer(it->second, "sk");
      }
      for (Grad g : kGrads) {
        const std::string n(grad_name(g));
        const size_t k = size_t(g);
        e.budget[k] = R.number(i, n + "_budget");
        e.floor_ratio[k] = R.number(i, n + "_floor_ratio");
        e.ok[k] = e.budget[k] <= 1 && R.integer(i, n + "_nan_count") == 0 &&
                  R.integer(i, n + "_inf_count") == 0;
        e.judged[k] = R.integer(i, n + "_elements") > 0;
      }
      out.push_back(std::move(e));
    }
  }
  return out;
}

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string matrix(const std::vector<GradEntry>& all) {
  struct Counts {
    int ok[4] = {}, judged[4] = {};
  };
  std::map<std::string, Counts> by_impl;
  for (const GradEntry& e : all) {
    Counts& c = by_impl[e.impl];
    for (int k = 0; k < 4; ++k) {
      c.ok[k] += e.judged[k] && e.ok[k];
      c.judged[k] += e.judged[k];
    }
  }
  std::string s =
      "Each cell: results within that gradient's bound / backward results judged (— : none "
      "judged, e.g. dsinks without a sink).\n\n"
      "| implementation | dq | dk | dv | dsinks |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& [impl, c] : by_impl) {
    s += "| " + impl + " |";
    for (int k = 0; k < 4; ++k)
      s += c.judged[k] ? fmt::format(" {}/{} |", c.ok[k], c.judged[k]) : std::string(" — |");
    s += "\n";
  }
  return s + "\n";
}

std::string floor_by_length(const std::vector<GradEntry>& all) {
  std::map<std::pair<std::string, int64_t>, std::vector<const GradEntry*>> groups;
  for (const GradEntry& e : all)
    groups[{e.impl, e.sk}].push_back(&e);
  std::string s =
      "### Error against the rounding floor, by key length\n\nMedian floor ratio (rel_l2 over "
      "that of the exact gradient rounded once) and the largest budget per gradient.\n\n"
      "| implementation | Sk | results | dq | dk | dv | dsinks |\n"
      "| --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& [key, es] : groups) {
    s += fmt::format("| {} | {} | {} |", key.first, key.second, es.size());
    for (int k = 0; k < 4; ++k) {
      std::vector<double> ratios;
      double budget = 0;
      for (const GradEntry* e : es) {
        ratios.push_back(e->floor_ratio[k]);
        budget = std::max(budget, e->budget[k]);
      }
      s += fmt::format(" {:.3g} (budget {:.2g}) |", median(ratios), budget);
    }
    s += "\n";
  }
  return s + "\n";
}

std::string worst_table(std::vector<GradEntry> all, int limit) {
  std::stable_sort(all.begin(), all.end(), [](const GradEntry& a, const GradEntry& b) {
    if ((a.status == "fail") != (b.status == "fail")) return a.status == "fail";
    return a.worst() > b.worst();
  });
  std::string s =
      "### Worst gradient results\n\nFailures first, then by the largest gradient budget.\n\n"
      "| file | implementation | case | status | dq | dk | dv | dsinks | detail |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (size_t i = 0; i < all.size() && int(i) < limit; ++i) {
    const GradEntry& e = all[i];
    std::string detail = e.status == "fail" ? e.bound + ": " + e.detail : "";
    std::replace(detail.begin(), detail.end(), '|', '/');
    s += fmt::format("| {} | {} | {} | {} |", e.file, e.impl, e.label, e.status);
    for (int k = 0; k < 4; ++k)
      s += e.judged[k] ? fmt::format(" {:.3g} |", e.budget[k]) : std::string(" — |");
    s += " " + detail + " |\n";
  }
  return s + "\n";
}

}  // namespace

std::string gradients_md(const std::vector<StoredRun>& runs, const std::vector<std::string>& tags,
                         int worst) {
  const std::vector<GradEntry> all = entries(runs, tags);
  if (all.empty()) return "";
  const auto failed =
      std::count_if(all.begin(), all.end(), [](const GradEntry& e) { return e.status == "fail"; });
  return fmt::format(
             "## Gradients\n\n**{} backward results judged: {} pass, {} fail** (gradient bounds "
             "of policy v2, docs/policy.md).\n\n",
             all.size(), all.size() - size_t(failed), failed) +
         matrix(all) + floor_by_length(all) + worst_table(all, worst);
}

std::string gradients_html(const std::vector<StoredRun>& runs, const std::vector<std::string>& tags,
                           int worst) {
  if (entries(runs, tags).empty()) return "";
  std::string grads;
  for (Grad g : kGrads) {
    if (!grads.empty()) grads += ' ';
    grads += grad_name(g);
  }
  return fmt::format(R"(<section id="gradients" data-grads="{}" data-worst="{}">
<h2>Gradients</h2>
<div id="grad-verdict" class="grad-verdict"></div>
<h3>Backward verdicts per gradient</h3>
<p class="note">Implementation × gradient over the results whose backward was judged: within that
gradient's bound / judged (policy v2: budget ≤ 1, no NaN, no Inf). Red: some result exceeded it,
the failed bounds named with their count (hover for the cases); <code>+N skip</code>: results
with no backward (hover for the reason); — : the gradient was not judged there (no sink: no
dsinks).</p>
<div id="grad-matrix"></div>
<h3>Gradient error by key length</h3>
<p class="note">Relative L2 error of each gradient per implementation (points: results; line or
bar: mean per key length), by dtype; the dashed black line is the rounding floor (the exactly
rounded gradient's relative L2 error: rel_l2 / floor_ratio).</p>
<div id="chart-grad" class="chart"></div>
<h3 id="grad-worst-title">Worst gradient results</h3>
<p class="note">Failures first (NaN or Inf, then by budget), then by the largest budget of the
four gradients; a budget of 1 is the bound. The worst element is that of the gradient with the
largest budget. Click a column header to sort.</p>
<div id="grad-worst" class="scroll"></div>
</section>
)",
                     grads, worst);
}

}  // namespace sinkbench
