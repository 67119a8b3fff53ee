// oracle/grad_verdict.cpp — gradient metrics over the evaluated rows, keys and heads, and the
// gradient bounds of policy v2 (oracle layer).
#include "oracle/grad_verdict.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "oracle/error_meter.h"

namespace sinkbench {
namespace {

// Where element (item, head slot, d) of the oracle's gradient g lives in the implementation's.
struct Place {
  int seq = 0;
  int64_t row = -1;
  int head = 0;
};

Place place_of(const OracleBackward& ref, Grad g, size_t item, size_t head_slot) {
  if (g == Grad::dsinks) return {0, -1, ref.rows.heads[head_slot]};
  const RowSet& set = g == Grad::dq ? ref.rows : ref.keys;
  return {set.seq[item], set.row[item], set.heads[head_slot]};
}

// One gradient's metrics, element by element: the shared accounting (oracle/error_meter.h) with
// the gradient bound of policy v2.
class GradMeter {
 public:
  GradMeter(const CaseSpec& c, DType storage, bool rss, const GradPolicy& p)
      : rss_(rss),
        u_(unit_roundoff(c.dtype)),
        eta_(dtype_min_subnormal(c.dtype)),
        sqrt_d_(std::sqrt(double(c.head_dim))),
        p_(p),
        meter_(g_, storage, u_) {}

  void add(double got, double want, double m, double l, double terms, const Place& at, int d) {
    // Near zero rounding is absolute (half the smallest subnormal per rounding), as for o; an
    // element without terms (m = 0) is exactly 0 in every algorithm.
    const double underflow = m > 0 ? p_.k_round * eta_ / 2 : 0.0;
    // dσ's m is a root-sum-square: its own final rounding (eager rounds it to the dtype) adds
    // the |want| term.
    const double own = rss_ ? std::fabs(want) : 0.0;
    const double bound = p_.k_round * u_ * (m + own) + l +
                         p_.k_acc * kU32 * (std::sqrt(terms + 1) + sqrt_d_) * m + underflow;
    meter_.add(got, want, m, bound, at.seq, at.row, at.head, d);
  }

  GradMetrics finish() {
    meter_.finish();
    return g_;
  }

 private:
  bool rss_;
  double u_, eta_, sqrt_d_;
  GradPolicy p_;
  GradMetrics g_;
  ErrorMeter<GradMetrics, &GradMetrics::budget> meter_;
};

void check_shape(const Tensor& t, DType dt, int64_t rows, int heads, int d, Grad g) {
  if (t.numel() != rows * heads * d || t.dtype() != dt)
    throw InternalError(fmt::format("{} is {}, expected {} elements of {}", grad_name(g),
                                    t.describe(), rows * heads * d, dtype_name(dt)));
}

}  // namespace

LogitErrorModel grad_logit_error(const CaseSpec& c, const GradPolicy& p) {
  return {p.k_logit * unit_roundoff(c.dtype), p.k_acc * kU32 * std::sqrt(double(c.head_dim))};
}

BackwardMetrics measure_backward(const CaseSpec& c, const Layout& L, const OracleBackward& ref,
                                 const Tensor& dq, const Tensor& dk, const Tensor& dv,
                                 const std::vector<float>& dsinks, const GradPolicy& p) {
  check_shape(dq, c.dtype, L.total_q(), c.heads_q, c.head_dim, Grad::dq);
  check_shape(dk, c.dtype, L.total_k(), c.heads_kv, c.head_dim, Grad::dk);
  check_shape(dv, c.dtype, L.total_k(), c.heads_kv, c.head_dim, Grad::dv);
  if (dsinks.size() != (c.has_sink() ? size_t(c.heads_q) : 0))
    throw InternalError(fmt::format("dsinks has {} values, expected {}", dsinks.size(),
                                    c.has_sink() ? c.heads_q : 0));
  BackwardMetrics out;
  for (Grad g : kGrads) {
    const GradRef& r = ref.of(g);
    GradMeter meter(c, g == Grad::dsinks ? DType::f32 : c.dtype, g == Grad::dsinks, p);
    const int width = ref.width(g);
    const bool per_key = g == Grad::dk || g == Grad::dv;
    const size_t heads = per_key ? ref.keys.heads.size() : ref.rows.heads.size();
    // dσ has one item (all rows) per head; the others one per row or key and head.
    const size_t items = g == Grad::dsinks ? (r.terms.empty() ? 0 : 1) : r.terms.size() / heads;
    for (size_t item = 0; item < items; ++item) {
      for (size_t hs = 0; hs < heads; ++hs) {
        const Place at = place_of(ref, g, item, hs);
        const size_t slot = g == Grad::dsinks ? hs : item * heads + hs;
        for (int d = 0; d < width; ++d) {
          const size_t k = slot * size_t(width) + size_t(d);
          double got = 0;
          switch (g) {
            case Grad::dq:
              got = dq.get(L.q_offset(at.seq, at.row, at.head) + d);
              break;
            case Grad::dk:
              got = dk.get(L.kv_offset(at.seq, at.row, at.head) + d);
              break;
            case Grad::dv:
              got = dv.get(L.kv_offset(at.seq, at.row, at.head) + d);
              break;
            case Grad::dsinks:
              got = dsinks[size_t(at.head)];
              break;
          }
          meter.add(got, r.value[k], r.m[k], r.l[k], r.terms[slot], at, d);
        }
      }
    }
    out.of(g) = meter.finish();
  }
  return out;
}

Verdict judge_backward(const CaseSpec& c, const BackwardMetrics& m, const GradPolicy& p) {
  (void)c;
  for (Grad g : kGrads) {
    const GradMetrics& x = m.of(g);
    const std::string name(grad_name(g));
    auto fail = [&](const char* bound, std::string detail) {
      return Verdict{Status::fail, name + "_" + bound, name + ": " + detail};
    };
    if (x.nan_count > 0)
      return fail("nan", fmt::format("{} of {} elements are NaN where the oracle is finite",
                                     x.nan_count, x.elements));
    if (x.inf_count > 0)
      return fail("inf", fmt::format("{} of {} elements are infinite", x.inf_count, x.elements));
    if (x.budget > 1)
      return fail("bound",
                  fmt::format("|g^-g| = {:.3g} at seq {} row {} head {} dim {} (got {:.6g}, want "
                              "{:.6g}) is {:.3g}x the bound {}u m + l + {}u32 (sqrt(n+1) + "
                              "sqrt(D)) m + {}eta/2",
                              std::fabs(x.worst_got - x.worst_want), x.worst_seq, x.worst_row,
                              x.worst_head, x.worst_dim, x.worst_got, x.worst_want, x.budget,
                              p.k_round, p.k_acc, p.k_round));
  }
  return {};
}

}  // namespace sinkbench
