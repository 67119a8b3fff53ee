// impls/lse_renorm/lse_renorm_bwd.cpp — autograd through the flex recipe (impls layer): the
// renormalisation o = o_ns · r, r = sigmoid(lse_ns − σ) (fp32 variant) or exp(lse_b − logsumexp(
// [lse_b, σ])) as dtype eager ops (lse_cast variant), differentiated op by op with their rounding
// points, then the sink-less tiled backward (tiled_bwd_cpu.cpp) fed dO_ns = dO · r and the
// gradient of lse_ns. docs/impls/lse_renorm.md ("Backward").
#include <algorithm>
#include <cmath>
#include <limits>

#include "impls/lse_renorm/lse_renorm.h"
#include "impls/tiled/tiled.h"

namespace sinkbench {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// What the renormalisation's backward sends on, per row.
struct RowGrad {
  float r = 0;        // the factor o_ns was multiplied by (as the forward computed it)
  float dlse_ns = 0;  // dL/dlse_ns
  float dsink = 0;    // this row's share of dL/dσ
};

// fp32 variant, as a careful kernel writes it: r = 1 / (1 + exp(σ − lse_ns)) and the sink's
// share p = 1 − r evaluated directly as 1 / (1 + exp(lse_ns − σ)) (PyTorch's sigmoid backward
// forms 1 − r, which cancels when p is small: docs/impls/lse_renorm.md). The returned
// lse = logaddexp(lse_ns, σ) has ∂/∂lse_ns = r and ∂/∂σ = p; sigmoid's backward is dr · r · p.
RowGrad renorm_fp32_backward(float lse_ns, float sigma, float dr, float dlse) {
  RowGrad g;
  g.r = 1.0f / (1.0f + std::exp(sigma - lse_ns));
  const float p = 1.0f / (1.0f + std::exp(lse_ns - sigma));
  const float dx = dr * g.r * p;
  g.dlse_ns = dx + dlse * g.r;
  g.dsink = -dx + dlse * p;
  return g;
}

// lse_cast variant: the forward's dtype ops (lse_renorm_cpu.cpp renorm_cast) and each one's
// backward rounded to the dtype, as autograd runs them on dtype tensors. `dr_sum` is
// Σ_d round(dO_d · o_ns_d), the mul's gradient for the broadcast factor before its sum.
RowGrad renorm_cast_backward(DType t, float lse_ns, float sigma, float dr_sum) {
  auto rd = [t](float x) { return round_to(t, x); };
  const float lse_b = rd(lse_ns);
  float mx = std::max(lse_b, sigma);
  if (std::isinf(mx)) mx = 0;
  const float e_lse = rd(std::exp(rd(lse_b - mx)));
  const float e_sink = rd(std::exp(rd(sigma - mx)));
  const float combined = rd(rd(std::log(rd(e_lse + e_sink))) + mx);
  RowGrad g;
  g.r = rd(std::exp(rd(lse_b - combined)));
  const float d_renorm = rd(dr_sum);
  const float dy = rd(d_renorm * g.r);                      // exp's backward
  const float d_combined = -dy;                             // sub's backward
  const float w_lse = rd(std::exp(rd(lse_b - combined)));   // logsumexp's
  const float w_sink = rd(std::exp(rd(sigma - combined)));  // backward
  g.dlse_ns = rd(dy + rd(d_combined * w_lse));  // both uses of lse_b, then the cast's backward
  g.dsink = rd(d_combined * w_sink);
  return g;
}

}  // namespace

Support lse_renorm_supports_backward(const CaseSpec& c, const LseRenormOptions& opt) {
  if (c.head_dim % 8 != 0 || c.head_dim < 8 || c.head_dim > 256)
    return Support::no("head_dim must be a multiple of 8 in [8, 256] (the kernel's tiles)");
  if (opt.lse_cast && c.has_dlse())
    return Support::no("transformers' flex integration returns no lse: no dL/dlse reaches it");
  return Support::yes();
}

BackwardResult lse_renorm_backward(const CaseSpec& c, const Inputs& in, const GradInputs& g,
                                   const LseRenormOptions& opt) {
  TiledOptions sinkless;
  sinkless.use_sink = false;
  sinkless.faults = opt.faults;
  // What autograd saved: the sink-less pass's o_ns (dtype) and lse_ns (fp32).
  const ForwardResult ns = tiled_forward(c, in, sinkless);
  TiledBwdOptions bopt;
  bopt.use_sink = false;
  bopt.faults = opt.grad_faults;
  if (in.sinks.empty()) return tiled_backward(c, in, ns.o, ns.lse, g, bopt);

  const Layout& L = in.layout;
  const int D = L.head_dim;
  GradInputs g_ns;
  g_ns.d_o = Tensor(c.dtype, {L.total_q(), L.heads_q, D});
  g_ns.dlse.assign(size_t(L.lse_size()), 0.0f);
  std::vector<float> dsinks(size_t(L.heads_q), 0.0f);
  for (int h = 0; h < L.heads_q; ++h) {
    const float sigma = in.sinks[size_t(h)];
    for (int s = 0; s < L.seqs; ++s) {
      for (int64_t i = 0; i < L.sq(s); ++i) {
        const size_t lo = size_t(L.lse_offset(s, h, i));
        const int64_t base = L.q_offset(s, i, h);
        float dr = 0;  // Σ_d dO_d o_ns_d in fp32, d ascending (each term rounded for lse_cast)
        for (int d = 0; d < D; ++d) {
          const float term = g.d_o.get(base + d) * ns.o.get(base + d);
          dr += opt.lse_cast ? round_to(c.dtype, term) : term;
        }
        const float dlse = g.dlse.empty() ? 0.0f : g.dlse[lo];
        const RowGrad rg = opt.lse_cast ? renorm_cast_backward(c.dtype, ns.lse[lo], sigma, dr)
                                        : renorm_fp32_backward(ns.lse[lo], sigma, dr, dlse);
        for (int d = 0; d < D; ++d)
          g_ns.d_o.set(base + d, g.d_o.get(base + d) * rg.r);
        g_ns.dlse[lo] = rg.dlse_ns;
        dsinks[size_t(h)] += rg.dsink;  // (sequence, row) order
      }
    }
  }
  BackwardResult res = tiled_backward(c, in, ns.o, ns.lse, g_ns, bopt);
  res.dsinks = dsinks;
  if (opt.lse_cast)  // the expanded sinks' gradient, reduced to the parameter's dtype
    for (float& x : res.dsinks)
      x = round_to(c.dtype, x);
  return res;
}

}  // namespace sinkbench
