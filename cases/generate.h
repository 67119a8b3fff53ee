// cases/generate.h — deterministic inputs of a case: q, k, v, sinks, all drawn from the
// counter-based RNG (cases/rng.h) and rounded to the case dtype, so every implementation and the
// oracle see the same bits; and the declared subset of (row, head) pairs to evaluate.
#pragma once

#include <cstdint>
#include <vector>

#include "cases/case_spec.h"
#include "core/tensor.h"

namespace sinkbench {

struct Inputs {
  Layout layout;             // packed offsets and lengths
  Tensor q;                  // [total_q, Hq, D]
  Tensor k;                  // [total_k, Hkv, D]
  Tensor v;                  // [total_k, Hkv, D]
  std::vector<float> sinks;  // [Hq], values exact in the dtype; empty when the case has none
  float scale = 0;           // logit scale (fp32)
};

// Value of element `index` of tensor `tag` (rng::kQ/kK/kV) before rounding to the dtype.
float input_value(const CaseSpec& c, uint32_t tag, int64_t index);
// Sink of query head h, already rounded to the dtype; -inf when the case has none.
float sink_value(const CaseSpec& c, int h);

Inputs generate(const CaseSpec& c);

// Query rows and heads whose outputs are judged. Full cases list every row and head; sampled
// cases (sample_rows / sample_heads) list first rows, last rows, tile seams and random rows.
struct RowSet {
  std::vector<int> seq;      // sequence of each evaluated row
  std::vector<int64_t> row;  // row within its sequence
  std::vector<int> heads;    // evaluated query heads, ascending
  bool complete = false;     // every row and every head
  size_t size() const { return row.size(); }
};
RowSet evaluated_rows(const CaseSpec& c);

}  // namespace sinkbench
