// oracle/error_meter.h — the element-by-element error accounting that the forward's o metrics
// (verdict.cpp) and each gradient's (grad_verdict.cpp) share (oracle layer): NaN and Inf counts,
// max |x^ - x|, the L2 sums against the exact value and against its one rounding to the storage
// type, the componentwise error in units of u times the element's scale, and the largest budget
// with the element that set it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/dtype.h"

namespace sinkbench {

inline constexpr double kU32 =
    5.9604644775390625e-08;  // 2^-24: every implementation accumulates in fp32

// num / den; 0 when num is 0, +inf when only den is 0 (an error where none is allowed).
inline double error_ratio(double num, double den) {
  if (num == 0) return 0;
  return den > 0 ? num / den : INFINITY;
}

// Fills the shared fields of a metrics struct M (Metrics, GradMetrics); Budget is its budget.
template <class M, double M::*Budget>
class ErrorMeter {
 public:
  ErrorMeter(M& metrics, DType storage, double u) : m_(metrics), storage_(storage), u_(u) {}

  // One element: the implementation's value against the exact one, the element's error scale
  // (M for o, m for a gradient) and its bound. NaN and Inf are counted, not measured.
  void add(double got, double want, double scale, double bound, int seq, int64_t row, int head,
           int dim) {
    ++m_.elements;
    if (std::isnan(got)) {
      ++m_.nan_count;
      return;
    }
    if (std::isinf(got)) {
      ++m_.inf_count;
      return;
    }
    const double e = std::fabs(got - want);
    const double fe = std::fabs(double(round_to(storage_, want)) - want);
    err2_ += e * e;
    ref2_ += want * want;
    floor2_ += fe * fe;
    m_.max_abs = std::max(m_.max_abs, e);
    m_.cw = std::max(m_.cw, error_ratio(e, u_ * scale));
    m_.floor_cw = std::max(m_.floor_cw, error_ratio(fe, u_ * scale));
    const double b = error_ratio(e, bound);
    if (b > m_.*Budget || m_.elements == 1) {
      m_.*Budget = std::max(m_.*Budget, b);
      m_.worst_seq = seq;
      m_.worst_row = row;
      m_.worst_head = head;
      m_.worst_dim = dim;
      m_.worst_got = got;
      m_.worst_want = want;
    }
  }

  // The L2 figures, once every element was added.
  void finish() {
    m_.rel_l2 = error_ratio(std::sqrt(err2_), std::sqrt(ref2_));
    m_.floor_l2 = error_ratio(std::sqrt(floor2_), std::sqrt(ref2_));
    m_.floor_ratio =
        m_.rel_l2 == 0 ? (m_.floor_l2 == 0 ? 1.0 : 0.0) : error_ratio(m_.rel_l2, m_.floor_l2);
  }

 private:
  M& m_;
  DType storage_;
  double u_;
  double err2_ = 0, ref2_ = 0, floor2_ = 0;
};

}  // namespace sinkbench
