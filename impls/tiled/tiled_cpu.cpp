// impls/tiled/tiled_cpu.cpp — CPU reference of the tiled family (impls layer): the online softmax
// of impls/online_softmax.h over the BLOCK_N key tiles of tile_shape(D) of packed K/V, with the
// sink added once at finalize. Plain loops in a fixed order, built with -ffp-contract=off:
// identical bits everywhere.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cases/mask.h"
#include "impls/cpu_common.h"
#include "impls/families.h"
#include "impls/online_softmax.h"
#include "impls/tiled/tiled.h"
#include "impls/tiled/tiled_traits.h"

namespace sinkbench {
namespace {

namespace os = online_softmax;

// K of one (sequence, KV head) as [D][sk], V as packed rows: the K/V row accessor of the online
// softmax (impls/online_softmax.h). A tile's logits are accumulated key-parallel with d ascending:
// per logit the same k-steps as kstep_dot, in a loop the compiler can vectorise without
// reassociating anything.
struct TransposedKeys {
  std::vector<float> kt;  // [D][sk]
  int64_t sk = 0;
  int head_dim = 0;
  const float* v = nullptr;  // row j at v + j * v_stride
  int64_t v_stride = 0;

  void logits(const float* q, int64_t j0, int64_t n, float* s, double* chunk) const {
    std::fill(s, s + n, 0.0f);
    for (int d0 = 0; d0 < head_dim; d0 += kMmaK) {
      std::fill(chunk, chunk + n, 0.0);
      for (int d = d0; d < std::min(head_dim, d0 + kMmaK); ++d) {
        const double qd = q[d];
        const float* kd = kt.data() + size_t(d) * size_t(sk) + size_t(j0);
        for (int64_t t = 0; t < n; ++t)
          chunk[t] += qd * double(kd[t]);
      }
      for (int64_t t = 0; t < n; ++t)
        s[t] = float(double(s[t]) + chunk[t]);
    }
  }
  const float* value(int64_t j) const { return v + j * v_stride; }
};

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

// Keys of one (sequence, query head), every row.
void attend_head(const CaseSpec& c, const Inputs& in, const TiledOptions& opt,
                 const std::vector<float>& q, const TransposedKeys& kv, int s, int h,
                 ForwardResult& out) {
  const Layout& L = in.layout;
  const Faults& f = opt.faults;
  const int D = L.head_dim;
  const int64_t sq = L.sq(s), sk = L.sk(s);
  const float sigma =
      opt.use_sink && !f.ignore_sink && !in.sinks.empty() ? in.sinks[size_t(h)] : os::kNegInf;
  const os::TileRule rule{c.dtype, !f.unrounded_p, D, in.scale};
  const int64_t block_n = tile_shape(D).block_n;
  os::RowState st;
  os::TileScratch w;
  for (int64_t i = 0; i < sq; ++i) {
    KeyRange r[2];
    const int nr = faulty_visible_ranges(c.mask, i, sq, sk, f, r);
    os::attend_keys(rule, kv, &q[size_t(L.q_offset(s, i, h))], block_n, 0, sk, r, nr, st, w);
    const os::Finalized fin = os::finalize(st, sigma);
    const int64_t o_base = L.q_offset(s, i, h);
    for (int d = 0; d < D; ++d)
      out.o.set(o_base + d, st.acc[size_t(d)] * fin.factor);
    out.lse[size_t(L.lse_offset(s, h, i))] = f.lse_without_sink ? fin.lse_without_sink : fin.lse;
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
  std::vector<TransposedKeys> keys(static_cast<size_t>(n_kv));
#pragma omp parallel for schedule(dynamic)
  for (int t = 0; t < n_kv; ++t) {
    const int s = t / L.heads_kv, kvh = t % L.heads_kv;
    keys[size_t(t)] = {transposed_keys(L, k, s, kvh), L.sk(s), L.head_dim,
                       &v[size_t(L.kv_offset(s, 0, kvh))], int64_t(L.heads_kv) * L.head_dim};
  }

  struct NoScratch {};
  for_each_seq_head<NoScratch>(L, [&](int s, int h, NoScratch&) {
    const int kvh = kv_head_of(h, L.heads_q, L.heads_kv, opt.faults);
    attend_head(c, in, opt, q, keys[size_t(s * L.heads_kv + kvh)], s, h, out);
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
