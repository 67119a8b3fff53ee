// impls/tiled/cuda/tiled_cuda.cpp — host side of tiled/cuda (g++): support check, device
// buffers, on-device input generation with a bitwise spot check against the given inputs,
// guarded outputs and the Impl registered by impls/cuda/cuda_registry.cpp.
#include "impls/tiled/cuda/tiled_cuda.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cases/rng.h"
#include "core/device.h"
#include "core/error.h"
#include "impls/cuda/device_inputs.h"
#include "impls/cuda/dispatch.h"
#include "impls/families.h"
#include "impls/tiled/cuda/tiled_bwd_case.h"
#include "impls/tiled/tiled.h"
#include "impls/tiled/tiled_traits.h"

namespace sinkbench::tiled_cuda {

Support supports_case(const CaseSpec& c) {
  const std::string why = cuda::unsupported_reason(c.dtype, c.head_dim);
  if (!why.empty()) return Support::no(why);
  if (c.heads_kv <= 0 || c.heads_q % c.heads_kv != 0)
    return Support::no("heads_q must be a multiple of heads_kv");
  return cuda::target_device_support();
}

DeviceCase::DeviceCase(const CaseSpec& c, const Inputs* in, bool use_sink)
    : case_(c), layout_(make_layout(c)) {
  const Layout& l = layout_;
  const int64_t nq = l.total_q() * c.heads_q * c.head_dim;
  const int64_t nk = l.total_k() * c.heads_kv * c.head_dim;
  const size_t es = size_t(dtype_size(c.dtype));
  q_ = cuda::DeviceBuffer(std::max<size_t>(1, size_t(nq) * es));
  k_ = cuda::DeviceBuffer(std::max<size_t>(1, size_t(nk) * es));
  v_ = cuda::DeviceBuffer(std::max<size_t>(1, size_t(nk) * es));
  uploaded_ |= cuda::generate_input(c, rng::kQ, nq, q_, in ? &in->q : nullptr);
  uploaded_ |= cuda::generate_input(c, rng::kK, nk, k_, in ? &in->k : nullptr);
  uploaded_ |= cuda::generate_input(c, rng::kV, nk, v_, in ? &in->v : nullptr);

  std::vector<float> sinks;
  if (!use_sink) {
    // no sink column: maybe_sinks stays nullptr
  } else if (in != nullptr) {
    sinks = in->sinks;
  } else if (c.has_sink()) {
    for (int h = 0; h < c.heads_q; ++h)
      sinks.push_back(sink_value(c, h));
  }
  if (!sinks.empty()) {
    sinks_ = cuda::DeviceBuffer(sinks.size() * sizeof(float));
    sinks_.upload(sinks.data(), sinks.size() * sizeof(float));
  }
  cu_q_ = cuda::DeviceBuffer(l.cu_q.size() * sizeof(int64_t));
  cu_q_.upload(l.cu_q.data(), l.cu_q.size() * sizeof(int64_t));
  cu_k_ = cuda::DeviceBuffer(l.cu_k.size() * sizeof(int64_t));
  cu_k_.upload(l.cu_k.data(), l.cu_k.size() * sizeof(int64_t));
  o_ = cuda::GuardedBuffer(nq, int(es));
  lse_ = cuda::GuardedBuffer(l.lse_size(), int(sizeof(float)));

  FwdParams& p = params_;
  cuda::fill_attn_params(p, c, l);
  p.q = q_.get();
  p.k = k_.get();
  p.v = v_.get();
  p.o = o_.data();
  p.lse = static_cast<float*>(lse_.data());
  p.maybe_sinks = sinks.empty() ? nullptr : static_cast<const float*>(sinks_.get());
  p.cu_seqlens_q = static_cast<const int64_t*>(cu_q_.get());
  p.cu_seqlens_k = static_cast<const int64_t*>(cu_k_.get());
  p.max_seqlen_q = 0;
  for (int s = 0; s < l.seqs; ++s)
    p.max_seqlen_q = std::max(p.max_seqlen_q, l.sq(s));
}

const char* variant_name(int variant) {
  switch (variant) {
    case kRows128Warps8:
      return "128 rows, 8 warps x 16";
    case kRows64Warps4:
      return "64 rows, 4 warps x 16";
    case kRows128Warps4:
      return "128 rows, 4 warps x 32";
    case kWgmmaRows64:
      return "64 rows, wgmma, 1 warpgroup + producer, two CTAs per SM";
    case kWgmmaRows128:
      return "128 rows, wgmma, 2 warpgroups x 64 + producer";
    case kWgmmaRows192:
      return "192 rows (128 at D 128), wgmma, warpgroups x 64 + producer";
    default:
      return "unknown variant";
  }
}

int default_variant(const CaseSpec& c) {
  // The fastest on an H100 (tests/impls/cuda DISABLED_VariantSpeed, bench/RESULTS.md): long rows
  // (causal, no mask) take the Hopper warpgroup kernel, 3 consumer warpgroups at D 64 and 2 at
  // D 128; windows (3 key tiles per 64-row CTA) 64-row mma.sync CTAs, two per SM.
  const MaskKind k = c.mask.kind;
  if (k == MaskKind::sliding_window || k == MaskKind::sink_tokens) return kRows64Warps4;
  return c.head_dim == 128 ? kWgmmaRows128 : kWgmmaRows192;
}

double DeviceCase::run(cudaStream_t stream, int variant, bool heads_first) {
  if (variant < 0) variant = default_variant(case_);
  params_.heads_first = heads_first;
  if (variant >= kNumTileVariants)
    throw InternalError(fmt::format("tiled/cuda: no tile variant {}", variant));
  return cuda::timed_run(o_, lse_, stream, [&] {
    SB_CUDA(cuda::dispatch_fwd(case_.dtype, case_.head_dim, [&]<DType T, int HD>() {
      switch (variant) {
        case kRows64Warps4:
          return launch_fwd<T, HD, kRows64Warps4>(params_, stream);
        case kRows128Warps4:
          return launch_fwd<T, HD, kRows128Warps4>(params_, stream);
        case kWgmmaRows64:
          return launch_fwd<T, HD, kWgmmaRows64>(params_, stream);
        case kWgmmaRows128:
          return launch_fwd<T, HD, kWgmmaRows128>(params_, stream);
        case kWgmmaRows192:
          return launch_fwd<T, HD, kWgmmaRows192>(params_, stream);
        default:
          return launch_fwd<T, HD, kRows128Warps8>(params_, stream);
      }
    }));
  });
}

ForwardResult DeviceCase::fetch() const {
  return cuda::fetch_outputs(case_, layout_, o_, lse_, "tiled/cuda");
}

namespace {

class TiledCuda final : public Impl {
 public:
  std::string name() const override { return "tiled/cuda"; }
  std::string family() const override { return "tiled"; }
  Device device() const override { return Device::cuda; }
  std::string description() const override {
    return "FlashAttention-style forward on tensor cores (Hopper wgmma warpgroups with a producer "
           "warpgroup for long rows, mma.sync m16n8k16 for windows; fp32 accumulate): online "
           "softmax over BLOCK_N key tiles, P rounded to the dtype before P.V, sink added once at "
           "finalize, one output rounding, fp32 sink-inclusive lse";
  }
  Support supports(const CaseSpec& c) const override { return supports_case(c); }
  // Same rounding points as tiled/cpu (P rounded to the dtype before P.V), so the same floor.
  std::optional<double> min_floor_ratio(const CaseSpec& c) const override {
    return rounded_p_min_floor_ratio(c);
  }
  ForwardResult forward(const CaseSpec& c, const Inputs& in) const override {
    return run_once(*prepare(c, in));
  }
  std::unique_ptr<PreparedForward> prepare(const CaseSpec& c, const Inputs& in) const override {
    return std::make_unique<PreparedCase<DeviceCase>>(c, &in);
  }

  // The backward (tiled_bwd_kernel.cuh): same dtypes, head dims and masks as the forward.
  Support supports_backward(const CaseSpec& c) const override { return supports_case(c); }
  BackwardResult backward(const CaseSpec& c, const Inputs& in, const ForwardResult& fwd,
                          const GradInputs& g) const override {
    const std::unique_ptr<PreparedBackward> p = prepare_backward(c, in, fwd, g);
    p->run();
    return p->fetch();
  }
  std::unique_ptr<PreparedBackward> prepare_backward(const CaseSpec& c, const Inputs& in,
                                                     const ForwardResult& fwd,
                                                     const GradInputs& g) const override {
    return prepare_bwd(c, in, fwd, g);
  }
};

}  // namespace

std::unique_ptr<Impl> make_tiled_cuda() {
  return std::make_unique<TiledCuda>();
}

}  // namespace sinkbench::tiled_cuda

namespace sinkbench {

void add_tiled_cuda(ImplList& out) {
  out.push_back(tiled_cuda::make_tiled_cuda());
}

}  // namespace sinkbench
