// impls/lse_renorm/lse_renorm_cpu.cpp — CPU reference of the lse_renorm family (impls layer): the
// sink-less tiled pass (o rounded to the dtype, fp32 lse), then the renormalisation by
// sigmoid(lse - sigma), either in fp32 or as transformers' flex integration does it in the dtype.
#include <algorithm>
#include <cmath>
#include <limits>

#include "impls/families.h"
#include "impls/lse_renorm/lse_renorm.h"
#include "impls/tiled/tiled.h"

namespace sinkbench {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// log(exp(a) + exp(b)) in fp32; -inf only when both are.
float logaddexp(float a, float b) {
  const float mx = std::max(a, b);
  if (mx == kNegInf) return kNegInf;
  return mx + std::log1p(std::exp(std::min(a, b) - mx));
}

// fp32 variant: r = sigmoid(lse_ns - sigma) = 1 / (1 + exp(sigma - lse_ns)), evaluated once per
// row in fp32 (exp overflowing to inf gives r = 0, the right limit; lse_ns = -inf gives 0 too).
float renorm_fp32(float lse_ns, float sigma) {
  return 1.0f / (1.0f + std::exp(sigma - lse_ns));
}

// lse_cast variant: PyTorch eager ops on dtype tensors, each computed in fp32 (opmath) and rounded
// to the dtype, exactly as transformers writes it:
//   lse = lse.to(value.dtype)
//   combined = torch.logsumexp(torch.cat([lse, sinks]), -1)   # amax, sub, exp, sum, log, add
//   renorm = torch.exp(lse - combined)
// (logsumexp's max is replaced by 0 when infinite, as PyTorch does).
float renorm_cast(DType t, float lse_ns, float sigma) {
  auto rd = [t](float x) { return round_to(t, x); };
  const float lse_b = rd(lse_ns);
  float mx = std::max(lse_b, sigma);
  if (std::isinf(mx)) mx = 0;
  const float e_lse = rd(std::exp(rd(lse_b - mx)));
  const float e_sink = rd(std::exp(rd(sigma - mx)));
  const float sum = rd(e_lse + e_sink);
  const float combined = rd(rd(std::log(sum)) + mx);
  return rd(std::exp(rd(lse_b - combined)));
}

class LseRenormCpu final : public Impl {
 public:
  explicit LseRenormCpu(LseRenormOptions opt) : opt_(opt) {}
  std::string name() const override {
    return opt_.lse_cast ? "lse_renorm-lse_cast/cpu" : "lse_renorm/cpu";
  }
  std::string family() const override { return "lse_renorm"; }
  Device device() const override { return Device::cpu; }
  std::string description() const override {
    return opt_.lse_cast
               ? "sink-less tiled attention (o rounded, fp32 lse), lse cast to the dtype, renorm "
                 "factor exp(lse - logsumexp(lse, sigma)) as dtype eager ops, o * factor rounded"
               : "sink-less tiled attention (o rounded, fp32 lse), o * sigmoid(lse - sigma) in "
                 "fp32, rounded once";
  }
  Support supports(const CaseSpec& c) const override {
    if (c.head_dim % 8 != 0 || c.head_dim < 8 || c.head_dim > 256)
      return Support::no("head_dim must be a multiple of 8 in [8, 256] (the kernel's tiles)");
    return Support::yes();
  }
  ForwardResult forward(const CaseSpec& c, const Inputs& in) const override {
    return lse_renorm_forward(c, in, opt_);
  }
  std::optional<double> min_floor_ratio(const CaseSpec& c) const override {
    // The sink-less pass rounds P~ like tiled; the extra output roundings only raise the ratio.
    return rounded_p_min_floor_ratio(c);
  }
  Support supports_backward(const CaseSpec& c) const override {
    return lse_renorm_supports_backward(c, opt_);
  }
  BackwardResult backward(const CaseSpec& c, const Inputs& in, const ForwardResult&,
                          const GradInputs& g) const override {
    return lse_renorm_backward(c, in, g, opt_);
  }

 private:
  LseRenormOptions opt_;
};

}  // namespace

ForwardResult lse_renorm_forward(const CaseSpec& c, const Inputs& in, const LseRenormOptions& opt) {
  TiledOptions sinkless;
  sinkless.use_sink = false;
  sinkless.faults = opt.faults;
  ForwardResult out = tiled_forward(c, in, sinkless);  // o_ns (rounded), lse_ns (fp32)
  if (in.sinks.empty() || opt.faults.ignore_sink) return out;

  const Layout& L = in.layout;
  const int D = L.head_dim;
  for (int s = 0; s < L.seqs; ++s) {
    for (int64_t i = 0; i < L.sq(s); ++i) {
      for (int h = 0; h < L.heads_q; ++h) {
        const float sigma = in.sinks[size_t(h)];
        float& lse = out.lse[size_t(L.lse_offset(s, h, i))];
        const float lse_ns = lse;
        const float r =
            opt.lse_cast ? renorm_cast(c.dtype, lse_ns, sigma) : renorm_fp32(lse_ns, sigma);
        const int64_t base = L.q_offset(s, i, h);
        // One fp32 product of the stored o_ns and r, rounded once (PyTorch's dtype mul does the
        // same: opmath fp32, one rounding).
        for (int d = 0; d < D; ++d)
          out.o.set(base + d, out.o.get(base + d) * r);
        if (!opt.faults.lse_without_sink) lse = logaddexp(lse_ns, sigma);
      }
    }
  }
  return out;
}

std::unique_ptr<Impl> make_lse_renorm_cpu(const LseRenormOptions& opt) {
  return std::make_unique<LseRenormCpu>(opt);
}

void add_lse_renorm_cpu(ImplList& out) {
  out.push_back(make_lse_renorm_cpu({}));
  LseRenormOptions cast;
  cast.lse_cast = true;
  out.push_back(make_lse_renorm_cpu(cast));
}

}  // namespace sinkbench
