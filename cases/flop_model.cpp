// cases/flop_model.cpp — FLOP and byte counts of a case (cases/flop_model.h).
#include "cases/flop_model.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "cases/mask.h"

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

namespace {

// Size of the union of every row's visible key ranges of one (sq, sk) sequence: each row gives at
// most two ranges (visible_ranges_at); sorted and merged, they are counted once.
int64_t visible_keys_of_sequence(const MaskRule& m, int64_t sq, int64_t sk) {
  std::vector<KeyRange> ranges;
  ranges.reserve(size_t(2 * sq));
  for (int64_t i = 0; i < sq; ++i) {
    KeyRange r[2];
    const int n = visible_ranges_at(m, query_position(i, sq, sk), sk, r);
    ranges.insert(ranges.end(), r, r + n);
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const KeyRange& a, const KeyRange& b) { return a.lo < b.lo; });
  int64_t count = 0, end = 0;  // keys below `end` are counted
  for (const KeyRange& r : ranges) {
    const int64_t lo = std::max(r.lo, end);
    if (r.hi > lo) count += r.hi - lo;
    end = std::max(end, r.hi);
  }
  return count;
}

}  // namespace

int64_t visible_key_count(const CaseSpec& c) {
  std::map<std::pair<int64_t, int64_t>, int64_t> per_shape;  // batches repeat one (sq, sk)
  int64_t total = 0;
  for (int s = 0; s < c.num_seqs(); ++s) {
    const auto key = std::pair(c.sq(s), c.sk(s));
    auto it = per_shape.find(key);
    if (it == per_shape.end())
      it = per_shape.emplace(key, visible_keys_of_sequence(c.mask, key.first, key.second)).first;
    total += it->second;
  }
  return total;
}

double forward_bytes_visible_keys(const CaseSpec& c) {
  TrafficShape t = traffic_shape(c);
  t.total_k = visible_key_count(c);
  return forward_bytes(t);
}

}  // namespace sinkbench
