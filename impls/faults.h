// impls/faults.h — deliberate defects for the planted-bug tests, every one off by default. Each
// CPU algorithm's options carry a Faults and honour the ones that apply to it, through the helpers
// below, so a test can prove the verdict catches each defect by name. Never set in production.
#pragma once

#include <cstdint>

#include "cases/mask.h"

namespace sinkbench {

struct Faults {
  bool ignore_sink = false;        // sigma left out of the softmax (FlashAttention-2 without sinks)
  bool sink_per_split = false;     // split-KV: every partial adds sigma, the combine adds it again
  bool window_off_by_one = false;  // sliding window admits W + 1 keys
  bool lse_without_sink = false;   // returned lse excludes sigma
  bool gqa_modulo = false;         // query head h reads KV head h % Hkv, not h / (Hq / Hkv)
  bool causal_top_left = false;    // query row i sits at position i, not i + Sk - Sq
  bool unrounded_p = false;        // P kept in fp32 before P.V where the algorithm rounds it
};

inline int kv_head_of(int h, int heads_q, int heads_kv, const Faults& f) {
  return f.gqa_modulo ? h % heads_kv : h / (heads_q / heads_kv);
}

// Visible key ranges of query row i under the (possibly faulty) alignment and window.
inline int faulty_visible_ranges(MaskRule m, int64_t i, int64_t sq, int64_t sk, const Faults& f,
                                 KeyRange out[2]) {
  if (f.window_off_by_one && m.window > 0) m.window += 1;
  const int64_t p = f.causal_top_left ? i : query_position(i, sq, sk);
  return visible_ranges_at(m, p, sk, out);
}

// Gradient defects, honoured by the CPU backward passes (tiled_backward and what calls it).
struct GradFaults {
  bool dsink_sign = false;          // dσ with the wrong sign
  bool dsink_group_sum = false;     // every head of a GQA group gets the group's summed dσ
  bool dsink_without_dlse = false;  // dσ from D = do·o, the dlse term dropped
  bool sinkless_lse = false;        // P recomputed from the sink-exclusive lse
  bool dkv_one_head = false;        // dk and dv from the group's first query head only
  bool dq_unscaled = false;         // dq without the softmax scale
  bool window_off_by_one = false;   // the backward's sliding window admits W + 1 keys
  bool nan_empty_rows = false;      // rows that see no key get NaN dq (lse = -inf not guarded)
};

}  // namespace sinkbench
