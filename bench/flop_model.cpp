// bench/flop_model.cpp — FLOP and byte counts of a case (bench/flop_model.h).
#include "bench/flop_model.h"

namespace sinkbench {

TrafficShape traffic_shape(const CaseSpec& c) {
  const Layout L = make_layout(c);
  return {c.dtype, c.heads_q, c.heads_kv, c.head_dim, L.total_q(), L.total_k(), c.has_sink()};
}

double pair_count(const CaseSpec& c) {
  return visible_pairs(c);
}

double forward_flops_of_pairs(double pairs, int64_t head_dim) {
  return 4.0 * double(head_dim) * pairs;
}

double forward_flops(const CaseSpec& c) {
  return forward_flops_of_pairs(pair_count(c), c.head_dim);
}

double backward_flops(const CaseSpec& c) {
  return 2.5 * forward_flops(c);
}

double forward_bytes(const TrafficShape& t) {
  const double e = double(dtype_size(t.dtype));
  const double q = double(t.total_q) * double(t.heads_q) * double(t.head_dim);
  const double kv = double(t.total_k) * double(t.heads_kv) * double(t.head_dim);
  const double sinks = t.has_sink ? double(t.heads_q) : 0.0;
  const double lse = double(t.total_q) * double(t.heads_q);
  return e * (q + 2 * kv + sinks + q) + 4.0 * lse;
}

double forward_bytes(const CaseSpec& c) {
  return forward_bytes(traffic_shape(c));
}

}  // namespace sinkbench
