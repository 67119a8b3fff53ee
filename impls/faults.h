// impls/faults.h — deliberate defects for the planted-bug tests, every one off by default. Each
// CPU algorithm's options carry a Faults and honour the ones that apply to it, through the helpers
// below, so a test can prove the verdict catches each defect by name. The FP64 oracle honours the
// forward switches too: that is how the diagnosis evaluates its defect models (oracle/defects.h).
// Never set in production.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

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

  // Forward defects of the diagnosis catalogue (oracle/defects.cpp) beyond the ones above;
  // tiled/cpu honours them, so each can be planted.
  int sink_repeats = 0;              // exp(sigma) added 1 + sink_repeats times
  bool sink_scaled = false;          // sigma multiplied by the softmax scale like a logit
  bool window_short_by_one = false;  // sliding window admits W - 1 keys
  bool prefix_dropped = false;       // keys before the query block (j < Sk - Sq) never visited
  bool sink_tokens_ignored = false;  // StreamingLLM sink tokens left out: the window alone
  bool lse_rounded = false;          // returned lse rounded to the value dtype
};

inline int kv_head_of(int h, int heads_q, int heads_kv, const Faults& f) {
  return f.gqa_modulo ? h % heads_kv : h / (heads_q / heads_kv);
}

// The sink a faulty implementation adds to the softmax (-inf: none). Counting exp(sigma) n times
// is adding exp(sigma + log n) once.
template <typename T>
T faulty_sink(T sigma, T scale, const Faults& f) {
  if (f.ignore_sink) return -std::numeric_limits<T>::infinity();
  if (f.sink_scaled) sigma *= scale;
  if (f.sink_repeats > 0) sigma += std::log(T(1 + f.sink_repeats));
  return sigma;
}

// Visible key ranges of query row i under the (possibly faulty) alignment, window and start.
inline int faulty_visible_ranges(MaskRule m, int64_t i, int64_t sq, int64_t sk, const Faults& f,
                                 KeyRange out[2]) {
  if (f.window_off_by_one && m.window > 0) m.window += 1;
  if (f.window_short_by_one && m.window > 0) m.window -= 1;
  if (f.sink_tokens_ignored && m.kind == MaskKind::sink_tokens) m.kind = MaskKind::sliding_window;
  const int64_t p = f.causal_top_left ? i : query_position(i, sq, sk);
  const int n = visible_ranges_at(m, p, sk, out);
  if (!f.prefix_dropped) return n;
  int kept = 0;
  for (int t = 0; t < n; ++t) {
    const KeyRange r{out[t].lo > sk - sq ? out[t].lo : sk - sq, out[t].hi};
    if (r.size() > 0) out[kept++] = r;
  }
  return kept;
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
