// oracle/verdict.cpp — error metrics over the evaluated rows and heads, and policy v2.
#include "oracle/verdict.h"

#include <fmt/format.h>

#include <cmath>

#include "oracle/error_meter.h"

namespace sinkbench {

std::string_view status_name(Status s) {
  switch (s) {
    case Status::pass:
      return "pass";
    case Status::fail:
      return "fail";
    case Status::skip:
      return "skip";
    case Status::error:
      return "error";
  }
  return "?";
}

Metrics measure(const CaseSpec& c, const Layout& L, const OracleResult& ref, const Tensor& o,
                const std::vector<float>& lse, const Policy& policy) {
  const double u = unit_roundoff(c.dtype);
  const double u_logit = policy.logits_in_dtype ? u : kU32;
  const double eta = dtype_min_subnormal(c.dtype);
  const double sqrt_d = std::sqrt(double(c.head_dim));
  const int D = c.head_dim;
  Metrics m;
  ErrorMeter<Metrics, &Metrics::o_budget> o_meter(m, c.dtype, u);
  for (size_t r = 0; r < ref.rows.size(); ++r) {
    const int s = ref.rows.seq[r];
    const int64_t i = ref.rows.row[r];
    const double n_keys = double(visible_count(c.mask, i, L.sq(s), L.sk(s)));
    const double acc = kU32 * policy.k_acc * std::sqrt(n_keys + 1);
    for (size_t hi = 0; hi < ref.rows.heads.size(); ++hi) {
      const int h = ref.rows.heads[hi];
      // lse
      const double want_lse = ref.lse[ref.at(r, hi)];
      const double got_lse = lse[size_t(L.lse_offset(s, h, i))];
      if (std::isnan(got_lse)) {
        ++m.lse_nan_count;
      } else if (got_lse != want_lse) {
        const double e = std::fabs(got_lse - want_lse);  // inf when exactly one is infinite
        const double bound = u_logit * policy.k_logit * ref.lse_sens[ref.at(r, hi)] +
                             u * policy.k_lse_dtype * std::fabs(want_lse) +
                             kU32 * policy.k_acc *
                                 (std::sqrt(n_keys + 1) + sqrt_d * ref.lse_sens_acc[ref.at(r, hi)] +
                                  std::fabs(want_lse));
        m.lse_abs = std::max(m.lse_abs, e);
        m.lse_budget = std::max(m.lse_budget, error_ratio(e, bound));
      }
      // o
      const int64_t base = L.q_offset(s, i, h);
      for (int d = 0; d < D; ++d) {
        const size_t k = ref.at(r, hi, d);
        const double M = ref.m[k];
        // Rounding near zero is absolute (half the smallest subnormal per rounding); a row that
        // sees nothing (M = 0) has the exact answer 0, which every algorithm produces exactly.
        const double underflow = M > 0 ? policy.k_round * eta / 2 : 0.0;
        const double bound = u * (policy.k_round * M + policy.k_logit * ref.l[k]) + acc * M +
                             kU32 * policy.k_acc * sqrt_d * ref.l_acc[k] + underflow;
        o_meter.add(o.get(base + d), ref.o[k], M, bound, s, i, h, d);
      }
    }
  }
  o_meter.finish();
  return m;
}

Verdict judge(const CaseSpec& c, const Metrics& m, std::optional<double> min_floor_ratio,
              const Policy& policy) {
  auto fail = [](std::string bound, std::string detail) {
    return Verdict{Status::fail, std::move(bound), std::move(detail)};
  };
  if (m.nan_count > 0)
    return fail("nan", fmt::format("{} of {} outputs are NaN where the oracle is finite",
                                   m.nan_count, m.elements));
  if (m.inf_count > 0)
    return fail("inf", fmt::format("{} of {} outputs are infinite", m.inf_count, m.elements));
  if (m.lse_nan_count > 0)
    return fail("lse_nan", fmt::format("{} lse values are NaN", m.lse_nan_count));
  if (m.o_budget > 1)
    return fail("o_bound",
                fmt::format("|o^-o| = {:.3g} at seq {} row {} head {} dim {} (got {:.6g}, want "
                            "{:.6g}) is {:.3g}x the bound u({}M + {}L) + {}u32 (sqrt(n+1) M + "
                            "sqrt(D) Lhat) + {}eta/2",
                            std::fabs(m.worst_got - m.worst_want), m.worst_seq, m.worst_row,
                            m.worst_head, m.worst_dim, m.worst_got, m.worst_want, m.o_budget,
                            policy.k_round, policy.k_logit, policy.k_acc, policy.k_round));
  if (m.lse_budget > 1)
    return fail("lse_bound", fmt::format("max |lse^-lse| = {:.3g} is {:.3g}x the bound", m.lse_abs,
                                         m.lse_budget));
  if (min_floor_ratio && m.floor_ratio < *min_floor_ratio)
    return fail("floor_ratio_min",
                fmt::format("error is {:.3f}x the rounding floor, below the {:.2f}x its rounding "
                            "points predict: a claimed rounding step is missing",
                            m.floor_ratio, *min_floor_ratio));
  return {};
}

}  // namespace sinkbench
