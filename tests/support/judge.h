// tests/support/judge.h — one implementation on one case, judged by the oracle and the policy,
// with a one-line summary for assertion messages.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "cases/generate.h"
#include "impls/impl.h"
#include "oracle/oracle.h"
#include "oracle/verdict.h"

namespace sinkbench::testing {

struct Judged {
  Metrics metrics;
  Verdict verdict;
};

// The policy impl is judged by on c (its declared logit rounding).
inline Policy policy_of(const Impl& impl, const CaseSpec& c) {
  Policy p;
  p.logits_in_dtype = impl.rounds_logits(c);
  return p;
}

inline Judged judge_outputs(const CaseSpec& c, const Inputs& in, const OracleResult& ref,
                            const ForwardResult& got, std::optional<double> min_floor_ratio,
                            const Policy& policy = {}) {
  Judged j;
  j.metrics = measure(c, in.layout, ref, got.o, got.lse, policy);
  j.verdict = judge(c, j.metrics, min_floor_ratio, policy);
  return j;
}

inline Judged run_and_judge(const Impl& impl, const CaseSpec& c) {
  const Inputs in = generate(c);
  const OracleResult ref = oracle_forward(c, in);
  return judge_outputs(c, in, ref, impl.forward(c, in), impl.min_floor_ratio(c),
                       policy_of(impl, c));
}

inline std::string summary(const Judged& j);

// impl supports c and its outputs pass the policy against ref; `what` adds to the message.
inline void expect_passes(const Impl& impl, const CaseSpec& c, const Inputs& in,
                          const OracleResult& ref, const std::string& what = "") {
  ASSERT_TRUE(impl.supports(c).ok) << impl.name() << ": " << impl.supports(c).reason;
  const Judged j =
      judge_outputs(c, in, ref, impl.forward(c, in), impl.min_floor_ratio(c), policy_of(impl, c));
  EXPECT_EQ(j.verdict.status, Status::pass)
      << impl.name() << what << " on " << case_label(c) << " seed " << c.seed << ": " << summary(j);
}

inline std::string summary(const Judged& j) {
  const Metrics& m = j.metrics;
  return fmt::format(
      "{} {} | cw {:.3g} floor_cw {:.3g} ratio {:.3f} o_budget {:.3g} lse_abs {:.3g} "
      "lse_budget {:.3g} nan {} | {}",
      status_name(j.verdict.status), j.verdict.bound, m.cw, m.floor_cw, m.floor_ratio, m.o_budget,
      m.lse_abs, m.lse_budget, m.nan_count, j.verdict.detail);
}

}  // namespace sinkbench::testing
