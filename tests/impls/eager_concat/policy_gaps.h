// tests/impls/eager_concat/policy_gaps.h — judging with policy v1 and attributing failures to the
// policy gaps docs/impls/eager_concat.md lists (test layer), shared by the eager_concat and paged
// tests. A failure counts as a gap only when it is computed to be one: the exactly rounded oracle
// output fails too, or the same algorithm with one rounding the policy does not model removed
// (the exact_shift / exact_logits diagnostics) passes. Anything else is a failure. Gaps end the
// test as skipped with the reason, never as passed.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/judge.h"

namespace sinkbench::testing {

// round(o) and the oracle lse, judged as if an implementation had returned them.
inline Judged judge_rounded_oracle(const CaseSpec& c, const Inputs& in, const OracleResult& ref) {
  const Layout& L = in.layout;
  ForwardResult r;
  r.o = Tensor(c.dtype, {L.total_q(), L.heads_q, L.head_dim});
  r.lse.assign(size_t(L.lse_size()), 0.0f);
  for (size_t row = 0; row < ref.rows.size(); ++row)
    for (size_t hi = 0; hi < ref.rows.heads.size(); ++hi) {
      const int s = ref.rows.seq[row], h = ref.rows.heads[hi];
      const int64_t i = ref.rows.row[row];
      r.lse[size_t(L.lse_offset(s, h, i))] = float(ref.lse[ref.at(row, hi)]);
      for (int d = 0; d < L.head_dim; ++d)
        r.o.set(L.q_offset(s, i, h) + d, round_to(c.dtype, ref.o[ref.at(row, hi, d)]));
    }
  return judge_outputs(c, in, ref, r, std::nullopt);
}

struct Outcome {
  bool failed = false;  // fails policy v1 and no gap explains it
  std::string gap;      // non-empty: fails only through the named policy v1 gap
  std::string line;     // one-line summary for messages
};

// The same algorithm with one rounding that policy v1 does not model removed (no faults).
struct Diagnostic {
  std::string rounding;  // which rounding it removes, for the skip message
  std::unique_ptr<Impl> impl;
};

// Judges impl; a failure on o_bound or lse_bound is a gap when the exactly rounded output fails
// as well, or when one diagnostic (tried in order) passes.
inline Outcome judge_attributed(const Impl& impl, const std::vector<Diagnostic>& diagnostics,
                                const CaseSpec& c, const Inputs& in, const OracleResult& ref) {
  Outcome out;
  const Judged j = judge_outputs(c, in, ref, impl.forward(c, in), impl.min_floor_ratio(c));
  out.line = impl.name() + " on " + case_label(c) + ": " + summary(j);
  if (j.verdict.status == Status::pass) return out;
  const bool bound_failure = j.verdict.bound == "o_bound" || j.verdict.bound == "lse_bound";
  const double budget = j.verdict.bound == "o_bound" ? j.metrics.o_budget : j.metrics.lse_budget;
  const Judged floor = judge_rounded_oracle(c, in, ref);
  if (bound_failure && floor.verdict.status != Status::pass) {
    out.gap = impl.name() + ": the exactly rounded output fails " + floor.verdict.bound + " too";
    return out;
  }
  for (const Diagnostic& d : diagnostics) {
    if (!bound_failure) break;
    const Judged diag = judge_outputs(c, in, ref, d.impl->forward(c, in), std::nullopt);
    if (diag.verdict.status == Status::pass) {
      out.gap = impl.name() + " " + j.verdict.bound + " at " + std::to_string(budget) +
                "x, passes without " + d.rounding;
      return out;
    }
    out.line += " | without " + d.rounding + ": " + summary(diag);
  }
  out.failed = true;
  return out;
}

// Collects outcomes of one case: failures are test failures, gaps end the test as skipped.
class CaseChecker {
 public:
  void add(const Outcome& o) {
    EXPECT_FALSE(o.failed) << o.line;
    if (!o.gap.empty()) gaps_ += (gaps_.empty() ? "" : "; ") + o.gap;
  }
  const std::string& gaps() const { return gaps_; }

 private:
  std::string gaps_;
};

}  // namespace sinkbench::testing

// Ends the current test as skipped when the checker saw a policy v1 gap.
#define SINKBENCH_SKIP_ON_POLICY_GAP(checker)                                             \
  do {                                                                                    \
    if (!(checker).gaps().empty())                                                        \
      GTEST_SKIP() << "policy v1 gap (docs/impls/eager_concat.md): " << (checker).gaps(); \
  } while (0)
