// oracle/oracle_bwd.h — the FP64 reference backward pass (DESIGN §1, backward; §4). From the
// dtype-rounded inputs and dL/do (and dL/dlse) it returns the exact dq, dk, dv and dσ of the
// declared rows, keys and heads, each with the two error scales its bound needs (docs/policy.md,
// "Version 2: gradients"): m, the magnitude of the terms a rounding can move, and l, how far
// errors in the logit domain (a rounded logit, its distance to the row maximum, the saved lse,
// fp32 dot products) can move the gradient.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "cases/case_spec.h"
#include "cases/generate.h"

namespace sinkbench {

// How far each logit-domain value of pair (i, j) may be off, in absolute terms:
// logit * (g_ij + Λ_i) + dot * (ŝ_ij + Λ̂_i), with g, Λ, ŝ, Λ̂ the forward's scales
// (oracle/oracle.h). The policy supplies the two weights (grad_logit_error in grad_verdict.h).
struct LogitErrorModel {
  double logit = 0;  // relative error of a rounded logit-domain value (k · u of the dtype)
  double dot = 0;    // error of an fp32 dot product per unit of ŝ (k · u32 · sqrt(D))
};

// One gradient over its evaluated elements, laid out [item, head, D] (dσ: [head]).
struct GradRef {
  std::vector<double> value;  // the exact gradient
  // Σ over the gradient's terms of their magnitudes, with dS_ij bounded by
  // P_ij (a_ij + Dsc_i), a_ij = |dO_i| |v_j|, Dsc_i = Σ_j P_ij a_ij + |dlse_i| (≥ |D_i|): a
  // relative rounding of any factor of any term moves the gradient by at most u · m.
  std::vector<double> m;
  // The absolute change logit-domain errors (LogitErrorModel) can cause.
  std::vector<double> l;
  // Terms summed into the elements of each item (keys of a query row for dq, (row, head) pairs
  // of a key for dk and dv, rows of a head for dσ): the length of the fp32 accumulation.
  std::vector<double> terms;
};

enum class Grad { dq, dk, dv, dsinks };
inline constexpr Grad kGrads[] = {Grad::dq, Grad::dk, Grad::dv, Grad::dsinks};
std::string_view grad_name(Grad g);

struct OracleBackward {
  RowSet rows;                // dq's rows and query heads (evaluated_rows)
  RowSet keys;                // dk's and dv's keys (evaluated_keys); keys.heads are KV heads
  std::vector<int> dq_heads;  // = rows.heads; dσ is over the same heads
  int head_dim = 0;
  GradRef dq;  // [rows, rows.heads, D]
  GradRef dk;  // [keys, keys.heads, D], summed over each KV head's query heads
  GradRef dv;  // [keys, keys.heads, D]
  // [rows.heads], over every row of every sequence; empty without a sink. Its m and l are
  // root-sum-squares over rows (docs/policy.md: a sum of thousands of independently rounded
  // rows, where the worst case m of the other gradients would hide a sign error):
  // m² = Σ_i p_i² (D_i² + dlse_i² + E_i² + Σ_j (P_ij dP_ij)²), E_i² = |dO_i|_4² Σ_j P_ij |v_j|_4²
  // (≥ Σ_d dO_id² M_id²); l² = Σ_i p_i² (δσ_i² (D_i² + dlse_i² + E_i²) + Σ_j (P_ij δ_ij dP_ij)²).
  GradRef dsinks;
  const GradRef& of(Grad g) const;
  // Elements per item of gradient g (D, or 1 for dσ).
  int width(Grad g) const { return g == Grad::dsinks ? 1 : head_dim; }
};

// Every row and key of the evaluated heads' KV groups is visited (lse and D need whole rows; dk
// and dv sum over every row); the GEMMs for dq, dk and dv run only for the evaluated rows and
// keys. Costs 10·D flops per visible (i, j) pair of those heads (the FlashAttention-2 backward's
// count) plus the error scales in float.
OracleBackward oracle_backward(const CaseSpec& c, const Inputs& in, const GradInputs& g,
                               const LogitErrorModel& e);

}  // namespace sinkbench
