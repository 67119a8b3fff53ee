// oracle/oracle.h — the FP64 reference forward pass (DESIGN §4). It reads the dtype-rounded
// inputs (the exact bits every implementation sees) and returns, for the declared rows and heads,
// o, the sink-inclusive lse, M = P|V| (the natural scale of each output element's rounding
// error) and the logit-sensitivity scales l and lse_sens used by the verdict policy. Given forward
// Faults, it evaluates that defective attention instead, exactly (the diagnosis' defect models).
#pragma once

#include <cstdint>
#include <vector>

#include "cases/case_spec.h"
#include "cases/generate.h"
#include "impls/faults.h"

namespace sinkbench {

struct OracleResult {
  RowSet rows;  // which (sequence, row) pairs and heads were evaluated
  int head_dim = 0;
  std::vector<double> o;  // [rows, heads, D]
  std::vector<double> m;  // [rows, heads, D]: sum_j P_ij |v_jd|
  // [rows, heads, D]: sum_j P_ij g_ij |v_jd| + lse_sens_i |o_id| with g_ij = |s_ij| + |s_ij - m_i|
  // (m_i the row maximum, sink included): a bound on how far o moves when every logit-domain
  // value (a logit, or its distance to the maximum) moves by a relative u: do <= u * l.
  std::vector<double> l;
  // [rows, heads, D]: shat_max_i M_id + lse_sens_acc_i |o_id| with shat_ij = scale |q_i| |k_j|
  // >= scale sum_d |q_id k_jd| (the scale of a logit's fp32 dot-product error, which is relative
  // to the terms' magnitudes, not to the possibly cancelling s_ij) and shat_max_i its maximum over
  // the visible keys.
  std::vector<double> l_acc;
  std::vector<double> lse;  // [rows, heads]: log(exp(sigma) + sum_j exp(s_ij)); -inf if empty
  // [rows, heads]: sum_j P_ij g_ij + p_sink g_sink, the same bound for lse: dlse <= u * lse_sens.
  std::vector<double> lse_sens;
  // [rows, heads]: sum_j P_ij shat_ij + p_sink |sigma|.
  std::vector<double> lse_sens_acc;
  size_t at(size_t row, size_t head) const { return row * rows.heads.size() + head; }
  size_t at(size_t row, size_t head, int d) const { return at(row, head) * size_t(head_dim) + d; }
};

// Evaluates evaluated_rows(c).
OracleResult oracle_forward(const CaseSpec& c, const Inputs& in);
// Evaluates the given rows (ordered by sequence, as evaluated_rows returns them), under the
// forward faults `f` (mask, KV head, sink and lse switches; unrounded_p has no FP64 meaning).
OracleResult oracle_forward(const CaseSpec& c, const Inputs& in, const RowSet& rows,
                            const Faults& f = {});

// The lse an implementation returns (Layout::lse_size() fp32 values) holding the oracle's on the
// evaluated rows and heads, 0 elsewhere.
std::vector<float> oracle_lse(const Layout& L, const OracleResult& ref);

}  // namespace sinkbench
