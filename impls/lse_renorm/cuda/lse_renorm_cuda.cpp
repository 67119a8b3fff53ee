// impls/lse_renorm/cuda/lse_renorm_cuda.cpp — host side of lse_renorm/cuda (g++): a tiled/cuda
// DeviceCase without the sink, then the renorm kernel in place on its guarded o and lse; both
// kernels are timed with CUDA events (the poisoning between them is not). The backward: the
// renorm's row kernels (renorm_bwd_kernel.cuh), then tiled/cuda's backward without the sink.
#include "impls/lse_renorm/cuda/lse_renorm_cuda.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "impls/cuda/cuda_util.h"
#include "impls/families.h"
#include "impls/lse_renorm/cuda/renorm_bwd_params.h"
#include "impls/lse_renorm/cuda/renorm_params.h"
#include "impls/tiled/cuda/tiled_bwd_case.h"
#include "impls/tiled/cuda/tiled_cuda.h"
#include "impls/tiled/tiled.h"

namespace sinkbench::lse_renorm_cuda {

namespace {

// The renorm kernel's view of the sink-less pass's o and lse (in place), with the sinks.
RenormParams renorm_params(const tiled_cuda::FwdParams& f, const float* sinks, bool lse_cast) {
  RenormParams p;
  p.o = f.o;
  p.lse = f.lse;
  p.sinks = sinks;
  p.cu_seqlens_q = f.cu_seqlens_q;
  p.o_row_stride = f.o_row_stride;
  p.o_head_stride = f.o_head_stride;
  p.lse_seq_stride = f.lse_seq_stride;
  p.lse_head_stride = f.lse_head_stride;
  p.lse_packed_rows = f.lse_packed_rows;
  p.num_seqs = f.num_seqs;
  p.heads_q = f.heads_q;
  p.head_dim = f.head_dim;
  p.max_seqlen_q = f.max_seqlen_q;
  p.lse_cast = lse_cast;
  return p;
}

// A tiled/cuda DeviceCase without the sink and, where the case has sinks, the renorm over its
// outputs; both set up once, run() times both kernels.
class RenormCase final : public PreparedForward {
 public:
  RenormCase(const CaseSpec& c, const Inputs& in, bool lse_cast)
      : dtype_(c.dtype), tiled_(c, &in, /*use_sink=*/false) {
    if (in.sinks.empty()) return;  // the sink-less pass is the whole answer (as lse_renorm/cpu)
    sinks_ = cuda::DeviceBuffer(in.sinks.size() * sizeof(float));
    sinks_.upload(in.sinks.data(), in.sinks.size() * sizeof(float));
    renorm_ = renorm_params(tiled_.params(), static_cast<const float*>(sinks_.get()), lse_cast);
  }
  double run() override {
    const double tiled_s = tiled_.run();  // launched first: the renorm works on its outputs
    return seconds_ = tiled_s + run_renorm();
  }
  ForwardResult fetch() override {
    ForwardResult r = tiled_.fetch();
    r.seconds = seconds_;
    return r;
  }

 private:
  double run_renorm() {
    if (!renorm_) return 0;
    cuda::EventTimer timer;
    timer.start();
    SB_CUDA(dtype_ == DType::bf16 ? launch_renorm<DType::bf16>(*renorm_, nullptr)
                                  : launch_renorm<DType::f16>(*renorm_, nullptr));
    timer.stop();
    const double s = timer.seconds();
    SB_CUDA(cudaGetLastError());
    return s;
  }

  DType dtype_;
  tiled_cuda::DeviceCase tiled_;
  cuda::DeviceBuffer sinks_;
  std::optional<RenormParams> renorm_;  // nullopt: no sinks, no renorm
  double seconds_ = 0;
};

// The backward as autograd runs it through the forward's graph: the renorm's row kernels give
// the sink-less pass its incoming gradients (do_ns = rd(do * w), dlse_ns) and the sink its
// gradient; then tiled/cuda's backward without the sink, on the sink-less pass's saved o and lse
// (recomputed here, in the set-up, as a framework would have saved them). Both timed.
class RenormBwdCase final : public PreparedBackward {
 public:
  RenormBwdCase(const CaseSpec& c, const Inputs& in, const GradInputs& g)
      : case_(c), bwd_(c, in, g, /*use_sink=*/false) {
    if (in.sinks.empty()) return;  // the sink-less backward is the whole answer
    const Layout l = make_layout(c);
    const size_t nq = size_t(l.total_q() * c.heads_q * c.head_dim);
    const size_t lse_bytes = std::max<size_t>(1, size_t(l.lse_size()) * sizeof(float));
    sinks_ = cuda::DeviceBuffer(in.sinks.size() * sizeof(float));
    sinks_.upload(in.sinks.data(), in.sinks.size() * sizeof(float));
    d_o_ns_ = cuda::DeviceBuffer(std::max<size_t>(1, nq * size_t(dtype_size(c.dtype))));
    dlse_ns_ = cuda::DeviceBuffer(lse_bytes);
    dsigma_rows_ = cuda::DeviceBuffer(lse_bytes);
    dsinks_ = cuda::GuardedBuffer(c.heads_q, int(sizeof(float)));
    const tiled_cuda::BwdParams& b = bwd_.params();
    RenormBwdParams p;
    p.o_ns = b.o;
    p.lse_ns = b.lse;
    p.sinks = static_cast<const float*>(sinks_.get());
    p.d_o = b.d_o;
    p.maybe_dlse = b.maybe_dlse;
    p.d_o_ns = d_o_ns_.get();
    p.dlse_ns = static_cast<float*>(dlse_ns_.get());
    p.dsigma_rows = static_cast<float*>(dsigma_rows_.get());
    p.dsinks = static_cast<float*>(dsinks_.data());
    p.cu_seqlens_q = b.cu_seqlens_q;
    p.row_stride = b.o_row_stride;
    p.head_stride = b.o_head_stride;
    p.lse_seq_stride = b.lse_seq_stride;
    p.lse_head_stride = b.lse_head_stride;
    p.lse_packed_rows = b.lse_packed_rows;
    p.num_seqs = b.num_seqs;
    p.heads_q = b.heads_q;
    p.head_dim = b.head_dim;
    p.max_seqlen_q = b.max_seqlen_q;
    renorm_ = p;
    bwd_.use_gradients(p.d_o_ns, p.dlse_ns);
  }
  double run() override {
    double t = 0;
    if (renorm_) {
      dsinks_.poison();
      cuda::EventTimer timer;
      timer.start();
      SB_CUDA(case_.dtype == DType::bf16 ? launch_renorm_bwd<DType::bf16>(*renorm_, nullptr)
                                         : launch_renorm_bwd<DType::f16>(*renorm_, nullptr));
      timer.stop();
      t = timer.seconds();
      SB_CUDA(cudaGetLastError());
    }
    return seconds_ = t + bwd_.run();
  }
  BackwardResult fetch() override {
    BackwardResult r = bwd_.fetch();
    if (renorm_) {
      r.dsinks.resize(size_t(case_.heads_q));
      dsinks_.fetch_checked(r.dsinks.data(), "lse_renorm/cuda dsinks of " + case_label(case_));
    }
    r.seconds = seconds_;
    return r;
  }

 private:
  CaseSpec case_;
  tiled_cuda::BwdDeviceCase bwd_;
  cuda::DeviceBuffer sinks_, d_o_ns_, dlse_ns_, dsigma_rows_;
  cuda::GuardedBuffer dsinks_;
  std::optional<RenormBwdParams> renorm_;  // nullopt: no sinks
  double seconds_ = 0;
};

class LseRenormCuda final : public Impl {
 public:
  explicit LseRenormCuda(bool lse_cast) : lse_cast_(lse_cast) {}
  std::string name() const override {
    return lse_cast_ ? "lse_renorm-lse_cast/cuda" : "lse_renorm/cuda";
  }
  std::string family() const override { return "lse_renorm"; }
  Device device() const override { return Device::cuda; }
  std::string description() const override {
    return lse_cast_ ? "tiled/cuda without the sink (o rounded, fp32 lse), then a renorm kernel: "
                       "lse cast to the dtype, exp(lse - logsumexp(lse, sigma)) as dtype-rounded "
                       "ops, o * factor rounded"
                     : "tiled/cuda without the sink (o rounded, fp32 lse), then a renorm kernel: "
                       "o * sigmoid(lse - sigma) in fp32, rounded once";
  }
  // The sink-less pass is tiled/cuda: its dtype, head dim and device limits.
  Support supports(const CaseSpec& c) const override { return tiled_cuda::supports_case(c); }
  // As lse_renorm/cpu: the sink-less pass rounds P like tiled.
  std::optional<double> min_floor_ratio(const CaseSpec& c) const override {
    return rounded_p_min_floor_ratio(c);
  }
  ForwardResult forward(const CaseSpec& c, const Inputs& in) const override {
    return run_once(*prepare(c, in));
  }
  std::unique_ptr<PreparedForward> prepare(const CaseSpec& c, const Inputs& in) const override {
    return std::make_unique<RenormCase>(c, in, lse_cast_);
  }

  Support supports_backward(const CaseSpec& c) const override {
    if (lse_cast_) return Support::no(name() + ": no backward for the dtype-rounded lse chain yet");
    return tiled_cuda::supports_case(c);
  }
  BackwardResult backward(const CaseSpec& c, const Inputs& in, const ForwardResult& fwd,
                          const GradInputs& g) const override {
    const std::unique_ptr<PreparedBackward> p = prepare_backward(c, in, fwd, g);
    p->run();
    return p->fetch();
  }
  // The forward's own outputs are not needed: the sink-less pass's saved o and lse are what the
  // backward reads (recomputed in the set-up).
  std::unique_ptr<PreparedBackward> prepare_backward(const CaseSpec& c, const Inputs& in,
                                                     const ForwardResult&,
                                                     const GradInputs& g) const override {
    if (lse_cast_) return nullptr;
    return std::make_unique<RenormBwdCase>(c, in, g);
  }

 private:
  bool lse_cast_;
};

}  // namespace

std::unique_ptr<Impl> make_lse_renorm_cuda(bool lse_cast) {
  return std::make_unique<LseRenormCuda>(lse_cast);
}

}  // namespace sinkbench::lse_renorm_cuda

namespace sinkbench {

void add_lse_renorm_cuda(ImplList& out) {
  out.push_back(lse_renorm_cuda::make_lse_renorm_cuda(/*lse_cast=*/false));
  out.push_back(lse_renorm_cuda::make_lse_renorm_cuda(/*lse_cast=*/true));
}

}  // namespace sinkbench
