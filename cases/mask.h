// cases/mask.h — the visibility rule of DESIGN §1, shared by the oracle, the CPU implementations
// and the CUDA kernels. Query row i of a sequence with lengths (sq, sk) sits at absolute
// position p = i + sk - sq (bottom-right alignment).
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace sinkbench {

enum class MaskKind : uint8_t {
  none,            // every key
  causal,          // j <= p
  sliding_window,  // p - W < j <= p
  sink_tokens,     // sliding window, plus keys j < k (StreamingLLM), still causal
};

struct MaskRule {
  MaskKind kind = MaskKind::none;
  int64_t window = 0;       // W, for sliding_window and sink_tokens
  int64_t sink_tokens = 0;  // k, for sink_tokens
};

// Half-open key interval [lo, hi).
struct KeyRange {
  int64_t lo = 0;
  int64_t hi = 0;
  SB_HD int64_t size() const { return hi > lo ? hi - lo : 0; }
};

SB_HD int64_t query_position(int64_t i, int64_t sq, int64_t sk) {
  return i + sk - sq;
}

SB_HD bool is_visible(const MaskRule& m, int64_t j, int64_t p) {
  switch (m.kind) {
    case MaskKind::none:
      return true;
    case MaskKind::causal:
      return j <= p;
    case MaskKind::sliding_window:
      return j <= p && j > p - m.window;
    case MaskKind::sink_tokens:
      return j <= p && (j > p - m.window || j < m.sink_tokens);
  }
  return false;
}

// The visible keys of the query at absolute position p, as at most two disjoint ascending ranges;
// returns how many are non-empty and writes them to out[0..n).
SB_HD int visible_ranges_at(const MaskRule& m, int64_t p, int64_t sk, KeyRange out[2]) {
  auto clamp = [sk](int64_t x) { return x < 0 ? int64_t(0) : (x > sk ? sk : x); };
  KeyRange a{0, sk}, b{0, 0};
  switch (m.kind) {
    case MaskKind::none:
      break;
    case MaskKind::causal:
      a = {0, clamp(p + 1)};
      break;
    case MaskKind::sliding_window:
      a = {clamp(p - m.window + 1), clamp(p + 1)};
      break;
    case MaskKind::sink_tokens: {
      const int64_t hi = clamp(p + 1);
      const int64_t win_lo = clamp(p - m.window + 1);
      const int64_t sink_hi = m.sink_tokens < hi ? clamp(m.sink_tokens) : hi;
      if (sink_hi >= win_lo) {
        a = {0, hi};  // the sink tokens touch the window: one range
      } else {
        a = {0, sink_hi};
        b = {win_lo, hi};
      }
      break;
    }
  }
  int n = 0;
  if (a.size() > 0) out[n++] = a;
  if (b.size() > 0) out[n++] = b;
  return n;
}

// The same for query row i of a sequence with lengths (sq, sk).
SB_HD int visible_ranges(const MaskRule& m, int64_t i, int64_t sq, int64_t sk, KeyRange out[2]) {
  return visible_ranges_at(m, query_position(i, sq, sk), sk, out);
}

SB_HD int64_t visible_count(const MaskRule& m, int64_t i, int64_t sq, int64_t sk) {
  KeyRange r[2];
  const int n = visible_ranges(m, i, sq, sk, r);
  int64_t c = 0;
  for (int t = 0; t < n; ++t)
    c += r[t].size();
  return c;
}

// True only when every query at a position in [p_first, p_last] sees every key of [j0, j1), so a
// key tile needs no per-score masking; exact except for sink_tokens tiles that the sink tokens
// and the window cover only together (false there: masked per score, the same result). Keys
// past the sequence's (or split's) end are the caller's to exclude: this is the mask rule only.
SB_HD bool tile_fully_visible(const MaskRule& m, int64_t j0, int64_t j1, int64_t p_first,
                              int64_t p_last) {
  switch (m.kind) {
    case MaskKind::none:
      return true;
    case MaskKind::causal:
      return j1 - 1 <= p_first;
    case MaskKind::sliding_window:
      return j1 - 1 <= p_first && j0 > p_last - m.window;
    case MaskKind::sink_tokens:
      return j1 - 1 <= p_first && (j0 > p_last - m.window || j1 <= m.sink_tokens);
  }
  return false;
}

// The keys within [lo, hi) that some query at an absolute position in [p_first, p_last] can see,
// as two ascending runs: `head` (every mask; for sink_tokens the sink tokens) and `tail` (the
// window of sink_tokens; empty for the other masks). Either may be empty; they may touch. The
// kernels walk their key tiles from it (tiled/cuda per row block, flash_paged/cuda per split) and
// the split planner starts its splits at head.lo.
struct KeySpan {
  KeyRange head;
  KeyRange tail;
};
SB_HD KeySpan visible_span(const MaskRule& m, int64_t p_first, int64_t p_last, int64_t lo,
                           int64_t hi) {
  auto clamp = [lo, hi](int64_t x) { return x < lo ? lo : (x > hi ? hi : x); };
  KeySpan span{{lo, hi}, {lo, lo}};
  switch (m.kind) {
    case MaskKind::none:
      break;
    case MaskKind::causal:
      span.head.hi = clamp(p_last + 1);
      break;
    case MaskKind::sliding_window:
      span.head = {clamp(p_first - m.window + 1), clamp(p_last + 1)};
      break;
    case MaskKind::sink_tokens:
      span.head.hi = clamp(p_last + 1 < m.sink_tokens ? p_last + 1 : m.sink_tokens);
      span.tail = {clamp(p_first - m.window + 1), clamp(p_last + 1)};
      break;
  }
  return span;
}

// The key tiles of width bn that cover a KeySpan, as at most two runs of tile indices walked in
// ascending order (a tile both runs touch is visited once): tiles a_lo .. a_lo + n_a - 1, then
// b_lo onwards, n_tiles in all.
struct TileRuns {
  int64_t a_lo = 0, n_a = 0, b_lo = 0, n_tiles = 0;
  // Index of the t-th visited tile.
  SB_HD int64_t tile(int64_t t) const { return t < n_a ? a_lo + t : b_lo + (t - n_a); }
};
SB_HD TileRuns tile_runs(const KeySpan& span, int64_t bn) {
  TileRuns r;
  r.a_lo = span.head.lo / bn;
  const int64_t a_hi = span.head.hi > span.head.lo ? (span.head.hi + bn - 1) / bn : r.a_lo;
  r.b_lo = span.tail.lo / bn;
  int64_t b_hi = span.tail.hi > span.tail.lo ? (span.tail.hi + bn - 1) / bn : r.b_lo;
  if (r.b_lo < a_hi) r.b_lo = a_hi;
  if (b_hi < r.b_lo) b_hi = r.b_lo;
  r.n_a = a_hi - r.a_lo;
  r.n_tiles = r.n_a + (b_hi - r.b_lo);
  return r;
}

}  // namespace sinkbench
