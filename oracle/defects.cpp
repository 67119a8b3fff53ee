// oracle/defects.cpp — the forward defect catalogue and the diagnosis that evaluates it.
#include "oracle/defects.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

namespace sinkbench {
namespace {

bool has_sink(const CaseSpec& c) {
  return c.has_sink();
}
bool sink_and_scale(const CaseSpec& c) {
  return c.has_sink() && c.scale_f32() != 1.0f;
}
bool has_window(const CaseSpec& c) {
  return (c.mask.kind == MaskKind::sliding_window || c.mask.kind == MaskKind::sink_tokens) &&
         c.mask.window > 0;
}
bool has_sink_tokens(const CaseSpec& c) {
  return c.mask.kind == MaskKind::sink_tokens && c.mask.sink_tokens > 0;
}
bool some_seq(const CaseSpec& c, bool (*pred)(int64_t sq, int64_t sk)) {
  for (int s = 0; s < c.num_seqs(); ++s)
    if (pred(c.sq(s), c.sk(s))) return true;
  return false;
}
bool misaligned(const CaseSpec& c) {
  return c.mask.kind != MaskKind::none &&
         some_seq(c, [](int64_t sq, int64_t sk) { return sq != sk; });
}
bool has_prefix(const CaseSpec& c) {
  return some_seq(c, [](int64_t sq, int64_t sk) { return sq < sk; });
}
bool grouped(const CaseSpec& c) {
  return c.heads_kv > 1 && c.gqa() > 1;  // then head 1 reads KV head 1 instead of 0
}
bool half_dtype(const CaseSpec& c) {
  return c.dtype != DType::f32;
}

template <typename T>
Faults with(T Faults::*field, T value) {
  Faults f;
  f.*field = value;
  return f;
}

// A split-KV combine that adds exp(sigma) again counts it (splits + 1) times; flash kernels use up
// to 16 splits.
constexpr int kMaxSinkCount = 17;

std::vector<DefectModel> build_forward_catalogue() {
  std::vector<DefectModel> t = {
      {"sink_ignored", "the sink is left out of the softmax (a kernel without sink support)",
       with(&Faults::ignore_sink, true), has_sink},
      {"sink_scaled", "the sink is multiplied by the softmax scale like a logit",
       with(&Faults::sink_scaled, true), sink_and_scale},
      {"window_wide", "the sliding window admits W + 1 keys (off by one)",
       with(&Faults::window_off_by_one, true), has_window},
      {"window_narrow", "the sliding window admits W - 1 keys (off by one)",
       with(&Faults::window_short_by_one, true), has_window},
      {"causal_top_left",
       "the causal mask is aligned top-left (row i at position i), not bottom-right",
       with(&Faults::causal_top_left, true), misaligned},
      {"prefix_dropped",
       "keys before the query block (j < Sk - Sq) are never visited: a chunked-prefill or decode "
       "start offset lost",
       with(&Faults::prefix_dropped, true), has_prefix},
      {"gqa_modulo", "query head h reads KV head h % Hkv instead of h / (Hq / Hkv)",
       with(&Faults::gqa_modulo, true), grouped},
      {"sink_tokens_ignored", "the StreamingLLM sink tokens are not attended (the window alone)",
       with(&Faults::sink_tokens_ignored, true), has_sink_tokens},
      {"lse_without_sink", "the returned lse leaves the sink out",
       with(&Faults::lse_without_sink, true), has_sink},
      {"lse_rounded", "the returned lse is rounded to the value dtype (the contract's lse is fp32)",
       with(&Faults::lse_rounded, true), half_dtype},
  };
  for (int n = 2; n <= kMaxSinkCount; ++n)
    t.push_back({fmt::format("sink_counted_x{}", n),
                 fmt::format("exp(sigma) is added {} times (split-KV: once per split, and again "
                             "in the combine)",
                             n),
                 with(&Faults::sink_repeats, n - 1), has_sink});
  return t;
}

// A model's outputs as an implementation stores them: o rounded once to the dtype, lse in fp32
// (in the dtype under lse_rounded). Elements outside the judged rows are never read.
struct Stored {
  Tensor o;
  std::vector<float> lse;
};

Stored stored_outputs(const CaseSpec& c, const Layout& L, const OracleResult& r, bool lse_rounded) {
  Stored s{Tensor(c.dtype, {L.total_q(), c.heads_q, c.head_dim}), oracle_lse(L, r)};
  for (size_t row = 0; row < r.rows.size(); ++row)
    for (size_t hi = 0; hi < r.rows.heads.size(); ++hi) {
      const int64_t base = L.q_offset(r.rows.seq[row], r.rows.row[row], r.rows.heads[hi]);
      for (int d = 0; d < c.head_dim; ++d)
        s.o.set(base + d, round_to(c.dtype, r.o[r.at(row, hi, d)]));
    }
  if (lse_rounded)
    for (float& x : s.lse)
      x = round_to(c.dtype, x);
  return s;
}

// Every judged lse is a value of the case dtype: the mark of an lse rounded to it (an fp32 lse
// lands on a bf16 value with probability 2^-16 per row).
bool lse_in_dtype(const CaseSpec& c, const Layout& L, const RowSet& rows,
                  const std::vector<float>& lse) {
  for (size_t r = 0; r < rows.size(); ++r)
    for (int h : rows.heads) {
      const float x = lse[size_t(L.lse_offset(rows.seq[r], h, rows.row[r]))];
      if (std::isfinite(x) && round_to(c.dtype, x) != x) return false;
    }
  return true;
}

bool passes(const CaseSpec& c, const Layout& L, const OracleResult& ref, const Tensor& o,
            const std::vector<float>& lse, const Policy& policy) {
  return judge(c, measure(c, L, ref, o, lse, policy), std::nullopt, policy).status == Status::pass;
}

// The judged rows a model is screened on before its full evaluation: the first, middle and last
// judged rows and the row where o strays furthest from the contract. A model that cannot explain
// these cannot explain all, and most models are rejected here at a few rows' cost.
RowSet screening_rows(const CaseSpec& c, const Layout& L, const OracleResult& ref,
                      const Tensor& o) {
  size_t worst = 0;
  double worst_err = -1;
  for (size_t r = 0; r < ref.rows.size(); ++r)
    for (size_t hi = 0; hi < ref.rows.heads.size(); ++hi) {
      const int64_t base = L.q_offset(ref.rows.seq[r], ref.rows.row[r], ref.rows.heads[hi]);
      for (int d = 0; d < c.head_dim; ++d) {
        const double e = std::fabs(double(o.get(base + d)) - ref.o[ref.at(r, hi, d)]);
        if (!(e <= worst_err)) {  // NaN counts as the worst
          worst_err = std::isnan(e) ? INFINITY : e;
          worst = r;
        }
      }
    }
  const std::set<size_t> picked = {0, ref.rows.size() / 2, ref.rows.size() - 1, worst};
  RowSet sub;
  sub.heads = ref.rows.heads;
  for (size_t r : picked) {  // ascending, so still ordered by sequence
    sub.seq.push_back(ref.rows.seq[r]);
    sub.row.push_back(ref.rows.row[r]);
  }
  return sub;
}

}  // namespace

const std::vector<DefectModel>& forward_defects() {
  static const std::vector<DefectModel> catalogue = build_forward_catalogue();
  return catalogue;
}

std::string Diagnosis::column() const {
  if (explained_by.empty()) return kNoKnownDefect;
  std::string out;
  for (const std::string& n : explained_by)
    out += (out.empty() ? "" : ", ") + n;
  return out;
}

Diagnosis diagnose(const CaseSpec& c, const Inputs& in, const OracleResult& ref, const Tensor& o,
                   const std::vector<float>* lse, const Policy& policy) {
  const Layout& L = in.layout;
  Diagnosis d;
  if (ref.rows.size() == 0) return d;
  const RowSet screen = screening_rows(c, L, ref, o);
  for (const DefectModel& m : forward_defects()) {
    if (!m.applies(c)) continue;
    if (m.faults.lse_rounded && (!lse || !lse_in_dtype(c, L, ref.rows, *lse))) continue;
    // The model's lse is exact; an lse rounded to the dtype is within one rounding of it.
    Policy within = policy;
    if (m.faults.lse_rounded) within.k_lse_dtype = 1;
    const auto explains = [&](const OracleResult& model) {
      const Stored as_stored = stored_outputs(c, L, model, m.faults.lse_rounded);
      return passes(c, L, model, o, lse ? *lse : as_stored.lse, within);
    };
    if (!explains(oracle_forward(c, in, screen, m.faults))) continue;
    const OracleResult model = oracle_forward(c, in, ref.rows, m.faults);
    const Stored as_stored = stored_outputs(c, L, model, m.faults.lse_rounded);
    if (passes(c, L, ref, as_stored.o, as_stored.lse, policy)) continue;  // cannot show here
    if (explains(model)) d.explained_by.push_back(m.name);
  }
  return d;
}

std::string diagnosis_line(const std::string& column) {
  if (column.empty()) return "";
  if (column == kNoKnownDefect) return "no known defect explains it";
  return "explained by: " + column;
}

}  // namespace sinkbench
