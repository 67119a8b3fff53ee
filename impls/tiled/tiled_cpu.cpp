// impls/tiled/tiled_cpu.cpp — CPU reference of the tiled family (impls layer): FlashAttention-2
// online softmax over the BLOCK_N key tiles of tile_shape(D), with the sink added once at
// finalize. Plain loops in a fixed order, built with -ffp-contract=off: identical bits everywhere.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cases/mask.h"
#include "impls/cpu_common.h"
#include "impls/families.h"
#include "impls/tiled/tiled.h"
#include "impls/tiled/tiled_traits.h"

namespace sinkbench {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The tensor core's k-step (mma m16n8k16 for bf16/fp16): both GEMMs add 16 products at a time to
// the fp32 accumulator. The 16 products (exact for 16-bit inputs) are summed exactly here, in
// double, and enter the fp32 accumulator with one rounding, as the fused k-step does; the
// hardware's internal alignment can differ in the last bit, like its exp.
constexpr int kMmaK = 16;

// K of one (sequence, KV head) as [D][sk]. A tile's logits are then accumulated key-parallel
// with d ascending: per logit the same order as a plain dot product, in a loop the compiler can
// vectorise without reassociating anything.
std::vector<float> transposed_keys(const Layout& L, const std::vector<float>& k, int s, int kvh) {
  const int64_t sk = L.sk(s);
  const int D = L.head_dim;
  std::vector<float> kt(size_t(sk) * size_t(D));
  for (int64_t j = 0; j < sk; ++j) {
    const float* row = &k[size_t(L.kv_offset(s, j, kvh))];
    for (int d = 0; d < D; ++d)
      kt[size_t(d) * size_t(sk) + size_t(j)] = row[d];
  }
  return kt;
}

bool in_ranges(int64_t j, const KeyRange* r, int n) {
  for (int t = 0; t < n; ++t)
    if (j >= r[t].lo && j < r[t].hi) return true;
  return false;
}

bool tile_touches(int64_t j0, int64_t j1, const KeyRange* r, int n) {
  for (int t = 0; t < n; ++t)
    if (r[t].lo < j1 && r[t].hi > j0) return true;
  return false;
}

// Everything one query row needs, plus scratch reused across the rows of a (sequence, head).
struct RowWork {
  DType dtype = DType::bf16;
  bool round_p = true;
  int head_dim = 0;
  int64_t block_n = 0;
  float scale = 0;
  std::vector<float> s, p, acc;  // tile logits, tile P~ (as multiplied into V), accumulator
  std::vector<double> chunk;     // one mma k-step's partial sums (exact for 16-bit inputs)
};

// The online-softmax state of one row after its last key tile.
struct RowState {
  float m = kNegInf;  // running max of the logits
  float l = 0;        // running sum of exp(s - m), fp32 P~ as FlashAttention-2 sums it
};

// One key tile [j0, j1): logits, new max, rescale of l and acc, P~ rounded, acc += P~ V.
void attend_tile(RowWork& w, RowState& st, const float* q, const float* kt, int64_t sk,
                 const float* v, int64_t v_stride, int64_t j0, int64_t j1, const KeyRange* r,
                 int nr) {
  const int D = w.head_dim;
  const int64_t n = j1 - j0;
  std::fill(w.s.begin(), w.s.begin() + n, 0.0f);
  for (int d0 = 0; d0 < D; d0 += kMmaK) {
    std::fill(w.chunk.begin(), w.chunk.begin() + n, 0.0);
    for (int d = d0; d < std::min(D, d0 + kMmaK); ++d) {
      const double qd = q[d];
      const float* kd = kt + size_t(d) * size_t(sk) + size_t(j0);
      for (int64_t t = 0; t < n; ++t)
        w.chunk[size_t(t)] += qd * double(kd[t]);
    }
    for (int64_t t = 0; t < n; ++t)
      w.s[size_t(t)] = float(double(w.s[size_t(t)]) + w.chunk[size_t(t)]);
  }
  float tile_max = kNegInf;
  for (int64_t t = 0; t < n; ++t) {
    w.s[size_t(t)] = in_ranges(j0 + t, r, nr) ? w.s[size_t(t)] * w.scale : kNegInf;
    tile_max = std::max(tile_max, w.s[size_t(t)]);
  }
  if (tile_max == kNegInf) return;  // nothing of this row in the tile: state unchanged
  const float m_new = std::max(st.m, tile_max);
  const float alpha = std::exp(st.m - m_new);  // 0 on the first visible tile (m = -inf)
  float tile_sum = 0;
  for (int64_t t = 0; t < n; ++t) {
    const float e = w.s[size_t(t)] == kNegInf ? 0.0f : std::exp(w.s[size_t(t)] - m_new);
    tile_sum += e;
    // The kernel's mma takes P~ in the storage dtype: this is the rounding the algorithm adds.
    w.p[size_t(t)] = w.round_p ? round_to(w.dtype, e) : e;
  }
  st.l = st.l * alpha + tile_sum;
  st.m = m_new;
  for (int d = 0; d < D; ++d)
    w.acc[size_t(d)] *= alpha;
  for (int64_t t0 = 0; t0 < n; t0 += kMmaK) {
    std::fill(w.chunk.begin(), w.chunk.begin() + D, 0.0);
    for (int64_t t = t0; t < std::min(n, t0 + kMmaK); ++t) {
      const double pt = w.p[size_t(t)];
      if (pt == 0.0) continue;  // a masked key adds exact zeros
      const float* vj = v + size_t(j0 + t) * size_t(v_stride);
      for (int d = 0; d < D; ++d)
        w.chunk[size_t(d)] += pt * double(vj[d]);
    }
    for (int d = 0; d < D; ++d)
      w.acc[size_t(d)] = float(double(w.acc[size_t(d)]) + w.chunk[size_t(d)]);
  }
}

struct Finalized {
  float factor = 0;  // o_d = round(acc_d * factor)
  float lse = 0;
};

// Sink joins once: m' = max(m, sigma), l' = l exp(m - m') + exp(sigma - m').
Finalized finalize(const RowState& st, float sigma, bool lse_without_sink) {
  Finalized f;
  if (st.l == 0.0f) {  // no visible key (l >= 1 otherwise: the max term is exp(0))
    f.factor = 0;
    f.lse = lse_without_sink ? kNegInf : sigma;
    return f;
  }
  const float sinkless_lse = st.m + std::log(st.l);
  if (sigma == kNegInf) {
    f.factor = 1.0f / st.l;
    f.lse = sinkless_lse;
    return f;
  }
  const float m2 = std::max(st.m, sigma);
  const float alpha = std::exp(st.m - m2);
  const float l2 = st.l * alpha + std::exp(sigma - m2);
  f.factor = alpha / l2;
  f.lse = lse_without_sink ? sinkless_lse : m2 + std::log(l2);
  return f;
}

// Keys of one (sequence, query head), every row.
void attend_head(const CaseSpec& c, const Inputs& in, const TiledOptions& opt,
                 const std::vector<float>& q, const std::vector<float>& v,
                 const std::vector<float>& kt, int s, int h, ForwardResult& out) {
  const Layout& L = in.layout;
  const Faults& f = opt.faults;
  const int D = L.head_dim;
  const int kvh = kv_head_of(h, L.heads_q, L.heads_kv, f);
  const int64_t sq = L.sq(s), sk = L.sk(s);
  const float sigma =
      opt.use_sink && !f.ignore_sink && !in.sinks.empty() ? in.sinks[size_t(h)] : kNegInf;
  RowWork w;
  w.dtype = c.dtype;
  w.round_p = !f.unrounded_p;
  w.head_dim = D;
  w.block_n = tile_shape(D).block_n;
  w.scale = in.scale;
  w.s.resize(size_t(w.block_n));
  w.p.resize(size_t(w.block_n));
  w.acc.resize(size_t(D));
  w.chunk.resize(size_t(std::max<int64_t>(w.block_n, D)));
  const float* v_base = &v[size_t(L.kv_offset(s, 0, kvh))];
  const int64_t v_stride = int64_t(L.heads_kv) * D;
  for (int64_t i = 0; i < sq; ++i) {
    KeyRange r[2];
    const int nr = faulty_visible_ranges(c.mask, i, sq, sk, f, r);
    const float* qi = &q[size_t(L.q_offset(s, i, h))];
    RowState st;
    std::fill(w.acc.begin(), w.acc.end(), 0.0f);
    for (int64_t j0 = 0; j0 < sk; j0 += w.block_n) {
      const int64_t j1 = std::min(sk, j0 + w.block_n);
      if (tile_touches(j0, j1, r, nr))
        attend_tile(w, st, qi, kt.data(), sk, v_base, v_stride, j0, j1, r, nr);
    }
    const Finalized fin = finalize(st, sigma, f.lse_without_sink);
    const int64_t o_base = L.q_offset(s, i, h);
    for (int d = 0; d < D; ++d)
      out.o.set(o_base + d, w.acc[size_t(d)] * fin.factor);
    out.lse[size_t(L.lse_offset(s, h, i))] = fin.lse;
  }
}

class TiledCpu final : public Impl {
 public:
  explicit TiledCpu(TiledOptions opt) : opt_(opt) {}
  std::string name() const override { return "tiled/cpu"; }
  std::string family() const override { return "tiled"; }
  Device device() const override { return Device::cpu; }
  std::string description() const override {
    return "FlashAttention-2 online softmax over BLOCK_N key tiles, fp32 logits/max/sum/acc, "
           "P~ rounded to the dtype before P.V, sink added once at finalize, one output rounding";
  }
  Support supports(const CaseSpec& c) const override {
    if (c.head_dim % 8 != 0 || c.head_dim < 8 || c.head_dim > 256)
      return Support::no("head_dim must be a multiple of 8 in [8, 256] (the kernel's tiles)");
    return Support::yes();
  }
  ForwardResult forward(const CaseSpec& c, const Inputs& in) const override {
    return tiled_forward(c, in, opt_);
  }
  std::optional<double> min_floor_ratio(const CaseSpec& c) const override {
    return rounded_p_min_floor_ratio(c);
  }
  Support supports_backward(const CaseSpec& c) const override { return tiled_supports_backward(c); }
  BackwardResult backward(const CaseSpec& c, const Inputs& in, const ForwardResult& fwd,
                          const GradInputs& g) const override {
    return tiled_backward(c, in, fwd.o, fwd.lse, g, {true, opt_.grad_faults});
  }

 private:
  TiledOptions opt_;
};

}  // namespace

ForwardResult tiled_forward(const CaseSpec& c, const Inputs& in, const TiledOptions& opt) {
  const Layout& L = in.layout;
  ForwardResult out = poisoned_outputs(c, L);
  const std::vector<float> q = in.q.to_float();
  const std::vector<float> k = in.k.to_float();
  const std::vector<float> v = in.v.to_float();

  const int n_kv = L.seqs * L.heads_kv;
  std::vector<std::vector<float>> kt(static_cast<size_t>(n_kv));
#pragma omp parallel for schedule(dynamic)
  for (int t = 0; t < n_kv; ++t)
    kt[size_t(t)] = transposed_keys(L, k, t / L.heads_kv, t % L.heads_kv);

  struct NoScratch {};
  for_each_seq_head<NoScratch>(L, [&](int s, int h, NoScratch&) {
    const int kvh = kv_head_of(h, L.heads_q, L.heads_kv, opt.faults);
    attend_head(c, in, opt, q, v, kt[size_t(s * L.heads_kv + kvh)], s, h, out);
  });
  return out;
}

std::optional<double> rounded_p_min_floor_ratio(const CaseSpec& c) {
  // Reasoning and the empirical check behind each constant: docs/policy.md ("floor_ratio_min of
  // the tiled family").
  constexpr int64_t kMinKeys = 32;    // keys per row: P~ < 1 (so rounded) for most of them
  constexpr double kMinShare = 0.75;  // of the evaluated rows
  constexpr size_t kMinPairs = 32;    // evaluated (row, head) pairs: rel_l2's sampling noise
  constexpr double kMaxFp16Sink = 8;  // larger sinks push fp16 outputs towards underflow
  constexpr double kRatio = 1.02;
  if (c.dtype == DType::f32) return std::nullopt;
  // Outlier channels and large logits make one key dominate every row (P~ = 1 exactly, the rest
  // negligible), and so does a scale above 1/sqrt(D).
  if (c.input != InputDist::normal && c.input != InputDist::uniform) return std::nullopt;
  if (c.scale != 0 && c.scale > 1.0 / std::sqrt(double(c.head_dim))) return std::nullopt;
  const RowSet rows = evaluated_rows(c);
  if (rows.size() * rows.heads.size() < kMinPairs) return std::nullopt;
  if (c.dtype == DType::f16 && c.has_sink())
    for (int h : rows.heads)
      if (sink_value(c, h) > kMaxFp16Sink) return std::nullopt;
  int64_t enough = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    const int s = rows.seq[r];
    if (visible_count(c.mask, rows.row[r], c.sq(s), c.sk(s)) >= kMinKeys) ++enough;
  }
  if (double(enough) < kMinShare * double(rows.size())) return std::nullopt;
  return kRatio;
}

std::unique_ptr<Impl> make_tiled_cpu(const TiledOptions& opt) {
  return std::make_unique<TiledCpu>(opt);
}

void add_tiled_cpu(ImplList& out) {
  out.push_back(make_tiled_cpu());
}

}  // namespace sinkbench
