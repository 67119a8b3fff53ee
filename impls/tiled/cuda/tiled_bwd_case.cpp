// impls/tiled/cuda/tiled_bwd_case.cpp — host side of the tiled/cuda backward pass (g++): device
// buffers for the saved forward outputs and incoming gradients, guarded gradients, the launch
// through the (dtype, head dim) dispatch, and the PreparedBackward tiled/cuda returns.
#include "impls/tiled/cuda/tiled_bwd_case.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "cases/rng.h"
#include "core/error.h"
#include "impls/cuda/device_inputs.h"
#include "impls/cuda/dispatch.h"

namespace sinkbench::tiled_cuda {

namespace {

void expect_tensor(const Tensor& t, DType dtype, int64_t numel, const std::string& what) {
  if (t.dtype() != dtype || t.numel() != numel)
    throw InternalError(fmt::format("tiled/cuda backward: {} is {}, expected {} elements of {}",
                                    what, t.describe(), numel, dtype_name(dtype)));
}

void expect_size(const std::vector<float>& v, int64_t n, const std::string& what) {
  if (int64_t(v.size()) != n)
    throw InternalError(
        fmt::format("tiled/cuda backward: {} has {} entries, expected {}", what, v.size(), n));
}

}  // namespace

BwdDeviceCase::BwdDeviceCase(const CaseSpec& c, const Inputs& in, const ForwardResult& fwd,
                             const GradInputs& g)
    : case_(c), layout_(make_layout(c)), fwd_(c, &in) {
  const int64_t nq = layout_.total_q() * c.heads_q * c.head_dim;
  const size_t es = size_t(dtype_size(c.dtype));
  expect_tensor(fwd.o, c.dtype, nq, "the forward's o");
  expect_tensor(g.d_o, c.dtype, nq, "do");
  expect_size(fwd.lse, layout_.lse_size(), "the forward's lse");
  has_sink_ = !in.sinks.empty();
  o_ = cuda::DeviceBuffer(std::max<size_t>(1, size_t(nq) * es));
  o_.upload(fwd.o.data(), size_t(nq) * es);
  d_o_ = cuda::DeviceBuffer(std::max<size_t>(1, size_t(nq) * es));
  d_o_.upload(g.d_o.data(), size_t(nq) * es);
  const size_t lse_bytes = size_t(layout_.lse_size()) * sizeof(float);
  lse_ = cuda::DeviceBuffer(std::max<size_t>(1, lse_bytes));
  lse_.upload(fwd.lse.data(), lse_bytes);
  if (!g.dlse.empty()) {
    expect_size(g.dlse, layout_.lse_size(), "dlse");
    dlse_ = cuda::DeviceBuffer(std::max<size_t>(1, lse_bytes));
    dlse_.upload(g.dlse.data(), lse_bytes);
  }
  allocate_outputs();
  fill_params();
  params_.o = o_.get();
  params_.lse = static_cast<float*>(lse_.get());
}

BwdDeviceCase::BwdDeviceCase(const CaseSpec& c, const Inputs& in, const GradInputs& g,
                             bool use_sink)
    : case_(c), layout_(make_layout(c)), fwd_(c, &in, use_sink) {
  const int64_t nq = layout_.total_q() * c.heads_q * c.head_dim;
  const size_t es = size_t(dtype_size(c.dtype));
  expect_tensor(g.d_o, c.dtype, nq, "do");
  has_sink_ = use_sink && !in.sinks.empty();
  fwd_.run();
  d_o_ = cuda::DeviceBuffer(std::max<size_t>(1, size_t(nq) * es));
  d_o_.upload(g.d_o.data(), size_t(nq) * es);
  if (!g.dlse.empty()) {
    expect_size(g.dlse, layout_.lse_size(), "dlse");
    const size_t lse_bytes = size_t(layout_.lse_size()) * sizeof(float);
    dlse_ = cuda::DeviceBuffer(std::max<size_t>(1, lse_bytes));
    dlse_.upload(g.dlse.data(), lse_bytes);
  }
  allocate_outputs();
  fill_params();
  params_.o = fwd_.params().o;
  params_.lse = fwd_.params().lse;
}

BwdDeviceCase::BwdDeviceCase(const CaseSpec& c, bool use_sink)
    : case_(c), layout_(make_layout(c)), fwd_(c, nullptr, use_sink) {
  const int64_t nq = layout_.total_q() * c.heads_q * c.head_dim;
  has_sink_ = use_sink && c.has_sink();
  fwd_.run();
  d_o_ = cuda::DeviceBuffer(std::max<size_t>(1, size_t(nq) * size_t(dtype_size(c.dtype))));
  cuda::generate_input(c, rng::kDo, nq, d_o_, nullptr);
  allocate_outputs();
  fill_params();
  params_.o = fwd_.params().o;
  params_.lse = fwd_.params().lse;
}

void BwdDeviceCase::allocate_outputs() {
  const CaseSpec& c = case_;
  const int es = int(dtype_size(c.dtype));
  dq_ = cuda::GuardedBuffer(layout_.total_q() * c.heads_q * c.head_dim, es);
  dk_ = cuda::GuardedBuffer(layout_.total_k() * c.heads_kv * c.head_dim, es);
  dv_ = cuda::GuardedBuffer(layout_.total_k() * c.heads_kv * c.head_dim, es);
  if (has_sink_) dsinks_ = cuda::GuardedBuffer(c.heads_q, int(sizeof(float)));
  delta_ = cuda::DeviceBuffer(std::max<size_t>(1, size_t(layout_.lse_size()) * sizeof(float)));
}

void BwdDeviceCase::fill_params() {
  const FwdParams& f = fwd_.params();
  BwdParams& p = params_;
  // The base as the forward's (inputs, sinks, batch, strides, lse layout, mask, scale); o and
  // lse are pointed at the saved outputs by the constructors.
  static_cast<cuda::AttnParams&>(p) = f;
  if (!has_sink_) p.maybe_sinks = nullptr;
  p.d_o = d_o_.get();
  p.maybe_dlse = dlse_.get() != nullptr ? static_cast<const float*>(dlse_.get()) : nullptr;
  p.dq = dq_.data();
  p.dk = dk_.data();
  p.dv = dv_.data();
  p.dsinks = has_sink_ ? static_cast<float*>(dsinks_.data()) : nullptr;
  p.row_delta = static_cast<float*>(delta_.get());
  // do and dq are laid out like q, dk and dv like k (packed).
  p.do_row_stride = p.dq_row_stride = f.q_row_stride;
  p.do_head_stride = p.dq_head_stride = f.q_head_stride;
  p.dk_row_stride = p.dv_row_stride = f.k_row_stride;
  p.dk_head_stride = p.dv_head_stride = f.k_head_stride;
  p.max_seqlen_q = f.max_seqlen_q;
  p.max_seqlen_k = 0;
  for (int s = 0; s < layout_.seqs; ++s)
    p.max_seqlen_k = std::max(p.max_seqlen_k, layout_.sk(s));
}

double BwdDeviceCase::run(cudaStream_t stream) {
  dq_.poison(stream);
  dk_.poison(stream);
  dv_.poison(stream);
  if (has_sink_) dsinks_.poison(stream);
  cuda::EventTimer timer;
  timer.start(stream);
  SB_CUDA(cuda::dispatch_fwd(case_.dtype, case_.head_dim, [&]<DType T, int HD>() {
    return launch_bwd<T, HD>(params_, stream);
  }));
  timer.stop(stream);
  const double seconds = timer.seconds();
  SB_CUDA(cudaGetLastError());
  return seconds;
}

BackwardResult BwdDeviceCase::fetch() const {
  const CaseSpec& c = case_;
  BackwardResult r;
  r.dq = Tensor(c.dtype, {layout_.total_q(), c.heads_q, c.head_dim});
  r.dk = Tensor(c.dtype, {layout_.total_k(), c.heads_kv, c.head_dim});
  r.dv = Tensor(c.dtype, {layout_.total_k(), c.heads_kv, c.head_dim});
  const std::string of = " of " + case_label(c);
  dq_.fetch_checked(r.dq.data(), "tiled/cuda dq" + of);
  dk_.fetch_checked(r.dk.data(), "tiled/cuda dk" + of);
  dv_.fetch_checked(r.dv.data(), "tiled/cuda dv" + of);
  if (has_sink_) {
    r.dsinks.resize(size_t(c.heads_q));
    dsinks_.fetch_checked(r.dsinks.data(), "tiled/cuda dsinks" + of);
  }
  return r;
}

namespace {

class PreparedBwd final : public PreparedBackward {
 public:
  PreparedBwd(const CaseSpec& c, const Inputs& in, const ForwardResult& fwd, const GradInputs& g)
      : case_(c, in, fwd, g) {}
  double run() override { return seconds_ = case_.run(); }
  BackwardResult fetch() override {
    BackwardResult r = case_.fetch();
    r.seconds = seconds_;
    return r;
  }

 private:
  BwdDeviceCase case_;
  double seconds_ = 0;
};

}  // namespace

std::unique_ptr<PreparedBackward> prepare_bwd(const CaseSpec& c, const Inputs& in,
                                              const ForwardResult& fwd, const GradInputs& g) {
  return std::make_unique<PreparedBwd>(c, in, fwd, g);
}

}  // namespace sinkbench::tiled_cuda
