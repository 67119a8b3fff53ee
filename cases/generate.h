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

// What the backward pass is given besides the forward's inputs and outputs (DESIGN §1).
struct GradInputs {
  Tensor d_o;  // [total_q, Hq, D] in the case dtype: dL/do
  std::vector<float>
      dlse;  // Layout::lse_size() fp32 entries: dL/dlse; empty when the case has none
};

// dL/do element `index` before rounding: N(0, 1) from (seed, rng::kDo, index), the same draw as
// input_value of a `normal` case with tag kDo (so the GPU generator makes it with input 0).
float grad_value(const CaseSpec& c, int64_t index);
// dL/dlse at lse element `index` (Layout::lse_offset): N(0, 1) from (seed, rng::kDlse, index).
float dlse_value(const CaseSpec& c, int64_t index);
// The incoming gradients of a `grad: do` case (d_o empty for forward-only cases).
GradInputs generate_grads(const CaseSpec& c, const Layout& layout);

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
// Key rows whose dk and dv are judged: every key of complete cases; with sample_rows, the same
// kind of sample over the keys of each sequence (first, last, tile seams, random). Heads as in
// evaluated_rows (the KV heads judged are those of the evaluated query heads).
RowSet evaluated_keys(const CaseSpec& c);

}  // namespace sinkbench
