// impls/tiled/cuda/tiled_bwd_case.h — host side of the tiled/cuda backward pass: one case's
// backward resident on the device (forward inputs through tiled/cuda's DeviceCase, forward
// outputs and incoming gradients uploaded or computed there, guarded gradients, event-timed
// launches) and its PreparedBackward. Host-only: the kernels are reached through
// tiled_bwd_params.h.
#pragma once

#include <cuda_runtime_api.h>

#include <memory>

#include "cases/case_spec.h"
#include "cases/generate.h"
#include "impls/cuda/cuda_util.h"
#include "impls/impl.h"
#include "impls/tiled/cuda/tiled_bwd_params.h"
#include "impls/tiled/cuda/tiled_cuda.h"

namespace sinkbench::tiled_cuda {

class BwdDeviceCase {
 public:
  // The backward of the given forward outputs and gradients (Impl::backward): inputs generated on
  // the device and spot-checked against `in` (DeviceCase), o, lse, do and dlse uploaded.
  BwdDeviceCase(const CaseSpec& c, const Inputs& in, const ForwardResult& fwd, const GradInputs& g);
  // Everything on the device, for timing long cases: tiled/cuda's own forward, do drawn by the
  // device generator (tag rng::kDo, the case's input distribution), no dlse. use_sink = false
  // runs forward and backward without the sink (no dsinks): the cost of the sink.
  explicit BwdDeviceCase(const CaseSpec& c, bool use_sink = true);
  // The sink-less pass's backward (lse_renorm/cuda): tiled/cuda's forward without the sink run
  // here on the given inputs (its o and lse are the saved activations), do and dlse uploaded;
  // no dsinks. The caller may point the pass at other incoming gradients (use_gradients).
  BwdDeviceCase(const CaseSpec& c, const Inputs& in, const GradInputs& g, bool use_sink);
  // Incoming gradients for the next run() (device memory; maybe_dlse may be nullptr).
  void use_gradients(const void* d_o, const float* maybe_dlse) {
    params_.d_o = d_o;
    params_.maybe_dlse = maybe_dlse;
  }
  // Poisons the gradients, then queues the backward kernels on `stream`; returns their device
  // time in seconds (CUDA events around the launches alone).
  double run(cudaStream_t stream = nullptr);
  // The gradients read back; throws InternalError where a guard margin was written or a gradient
  // element left unwritten.
  BackwardResult fetch() const;
  const BwdParams& params() const { return params_; }
  // Runs the mma.sync kernels even where warpgroup-MMA ones exist (to compare their bits).
  void use_mma_sync(bool on) { params_.force_mma_sync = on; }

 private:
  void allocate_outputs();
  void fill_params();

  CaseSpec case_;
  Layout layout_;
  DeviceCase fwd_;  // q, k, v, sinks, cu_seqlens (and o, lse when the forward runs here)
  cuda::DeviceBuffer o_, lse_, d_o_, dlse_, delta_;
  cuda::GuardedBuffer dq_, dk_, dv_, dsinks_;
  bool has_sink_ = false;
  BwdParams params_;
};

std::unique_ptr<PreparedBackward> prepare_bwd(const CaseSpec& c, const Inputs& in,
                                              const ForwardResult& fwd, const GradInputs& g);

}  // namespace sinkbench::tiled_cuda
