// impls/paged/cuda/flash_paged_cuda.h — host side of flash_paged/cuda: the support check, the
// block-table validation done before any launch, the split heuristic, one case resident on the
// device (page pools and block tables uploaded, guarded outputs, event-timed launches) and the
// Impl. Host-only: the kernels are reached through paged_fwd_params.h launchers.
#pragma once

#include <cuda_runtime_api.h>

#include <memory>
#include <vector>

#include "cases/case_spec.h"
#include "cases/generate.h"
#include "impls/cuda/cuda_util.h"
#include "impls/impl.h"
#include "impls/paged/cuda/paged_fwd_params.h"
#include "impls/paged/paged.h"

namespace sinkbench::flash_paged_cuda {

// ok, or why not: dtype, head dim, page size, Sq per sequence (decode only), rows per CTA, no
// GPU, not sm_90.
Support supports_case(const CaseSpec& c);

// Throws InputError, naming the sequence, the logical page and the id, if a block table holds a
// page id that is negative or past the pool (or does not fit the kernel's int32), has fewer
// pages than its sequence's keys need, or if there is not one table per sequence of `layout`.
// Touches no device: DevicePagedCase calls it before allocating or launching anything.
void check_block_table(const PagedKV& kv, const Layout& layout);

// Split-KV partials per sequence. forced > 0: that count for every sequence (as
// FlashPagedOptions::num_splits on the CPU). 0: the heuristic — enough CTAs to give every SM two
// (sm_count x 2 over num_seqs x Hkv), each split at least kMinKeysPerSplit of the keys a
// sequence's rows can see, at most kMaxSplits.
inline constexpr int64_t kMinKeysPerSplit = 256;
std::vector<int> choose_num_splits(const CaseSpec& c, const Layout& layout, int sm_count,
                                   int forced);

// One case on the device, its pages laid out exactly as build_paged_kv (the CPU reference's).
class DevicePagedCase {
 public:
  DevicePagedCase(const CaseSpec& c, const Inputs& in, const PagedKV& kv, int num_splits = 0);
  // Poisons o and lse, then launches the split and combine kernels; returns their time in
  // seconds (CUDA events around the launches alone).
  double run(cudaStream_t stream = nullptr);
  // Copies o and lse back; throws InternalError if a guard margin was written or an output
  // element was left unwritten.
  ForwardResult fetch() const;
  const PagedParams& params() const { return params_; }
  const std::vector<int>& splits() const { return splits_; }

 private:
  CaseSpec case_;
  Layout layout_;
  cuda::DeviceBuffer q_, k_, v_, table_, sinks_, cu_q_, cu_k_, nsplit_, part_o_, part_lse_;
  cuda::GuardedBuffer o_, lse_;
  PagedParams params_;
  std::vector<int> splits_;
};

// num_splits > 0 forces the split count (tests compare with flash_paged/cpu at the same count).
std::unique_ptr<Impl> make_flash_paged_cuda(int num_splits = 0);

}  // namespace sinkbench::flash_paged_cuda
