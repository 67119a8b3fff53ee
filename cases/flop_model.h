// cases/flop_model.h — the one FLOP/byte model of a case (DESIGN §7), shared by the benchmark
// drivers, the results tables and the report. FLOPs count only visible (query, key) pairs;
// bytes count each input read once and each output written once.
#pragma once

#include <cstdint>

#include "cases/case_spec.h"

namespace sinkbench {

// What the byte count needs from a case; the report rebuilds it from a stored cases row.
struct TrafficShape {
  DType dtype = DType::bf16;
  int64_t heads_q = 0, heads_kv = 0, head_dim = 0;
  int64_t total_q = 0, total_k = 0;  // packed rows over all sequences
  bool has_sink = false;
};
TrafficShape traffic_shape(const CaseSpec& c);

// Exact count of visible (i, j) pairs over sequences and query heads, by the mask rule of
// cases/mask.h (causal with Sq != Sk, windows, sink tokens, varlen). The same count as
// cases' visible_pairs (which this calls): one count in the project.
double pair_count(const CaseSpec& c);
// 4 * D * pairs: QK^T and P.V, two FLOPs per multiply-add each.
double forward_flops(const CaseSpec& c);
// 2.5 x forward (the FlashAttention convention: five GEMMs against two).
double backward_flops(const CaseSpec& c);
double forward_flops_of_pairs(double pairs, int64_t head_dim);

// Bytes a forward pass must move at the least: q, k, v and the sinks read once and o written
// once in the case dtype, lse written once in fp32. K and V count once per KV head, not per
// query head: a GQA or paged-decode kernel reads each page once for the whole query group, so
// GB/s of decode is judged against that minimum.
double forward_bytes(const TrafficShape& t);
double forward_bytes(const CaseSpec& c);

// Keys that at least one query row of their sequence can see (mask rule of cases/mask.h), summed
// over sequences. Every key of causal and window prefill and of causal decode; under a window,
// decode (Sq 1) sees only the last W keys of its sequence.
int64_t visible_key_count(const CaseSpec& c);
// forward_bytes with K and V counted only for visible_key_count keys: the least a kernel that
// skips keys no row sees (a window decode reading its last W keys) must read. Equal to
// forward_bytes whenever every key is visible to some row; the figure to judge window decode by,
// where forward_bytes would count the whole cache and report an impossible bandwidth.
double forward_bytes_visible_keys(const CaseSpec& c);

}  // namespace sinkbench
