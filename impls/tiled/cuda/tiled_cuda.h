// impls/tiled/cuda/tiled_cuda.h — host side of tiled/cuda: the support check, one case resident
// on the device (inputs generated there, guarded outputs, event-timed launches) and the Impl.
// Host-only: the kernels are reached through tiled_fwd_params.h launchers.
#pragma once

#include <cuda_runtime_api.h>

#include <memory>

#include "cases/case_spec.h"
#include "cases/generate.h"
#include "impls/cuda/cuda_util.h"
#include "impls/impl.h"
#include "impls/tiled/cuda/tiled_fwd_params.h"

namespace sinkbench::tiled_cuda {

// ok, or why not: no GPU (query_device's reason), not sm_90, dtype, head dim.
Support supports_case(const CaseSpec& c);

// The kernel shape run for a case when none is asked for (the fastest measured on an H100).
int default_variant(const CaseSpec& c);

// One case on the device. Inputs are generated on the device from the case spec (bitwise equal
// to cases::generate); when `in` is given, its bits are compared with the device's (all of a
// small tensor, 4096 spread samples of a large one) and uploaded instead where they differ, so
// a caller passing modified inputs still gets its own inputs computed. use_sink = false runs the
// kernel without the case's sink (maybe_sinks = nullptr): lse_renorm/cuda's sink-less pass.
class DeviceCase {
 public:
  explicit DeviceCase(const CaseSpec& c, const Inputs* in = nullptr, bool use_sink = true);
  // Poisons o and lse, then launches once; returns the kernel's own time in seconds (CUDA events
  // around the launch alone). variant: a TileVariant (tiled_fwd_params.h), -1: default_variant;
  // heads_first: the CTAs' work order (FwdParams::heads_first). Every choice gives the same
  // bits.
  double run(cudaStream_t stream = nullptr, int variant = -1, bool heads_first = true);
  // Copies o and lse back; throws InternalError if a guard margin was written or an output
  // element was left unwritten.
  ForwardResult fetch() const;
  bool inputs_uploaded() const { return uploaded_; }  // false: generated on the device
  const FwdParams& params() const { return params_; }

 private:
  CaseSpec case_;
  Layout layout_;
  cuda::DeviceBuffer q_, k_, v_, sinks_, cu_q_, cu_k_;
  cuda::GuardedBuffer o_, lse_;
  FwdParams params_;
  bool uploaded_ = false;
};

std::unique_ptr<Impl> make_tiled_cuda();

}  // namespace sinkbench::tiled_cuda
