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

// ok, or why not: dtype, head dim, page size, grid limits, no GPU, not sm_90. Decode, speculative
// decode and chunked prefill (any Sq, bottom-right aligned) alike.
Support supports_case(const CaseSpec& c);

// Throws InputError, naming the sequence, the logical page and the id, if a block table holds a
// page id that is negative or past the pool (or does not fit the kernel's int32), has fewer
// pages than its sequence's keys need, or if there is not one table per sequence of `layout`.
// Touches no device: DevicePagedCase calls it before allocating or launching anything.
void check_block_table(const PagedKV& kv, const Layout& layout);

// Split-KV plan: per sequence, the number of splits and the keys they cover — split k of
// sequence s takes keys [begin[s] + k keys[s], min(sk, begin[s] + (k + 1) keys[s])). begin is the
// first key tile some row can see (windows start late), keys a whole number of kernel tiles.
// forced > 0: that many splits (fewer when the keys run out first: no split is left empty).
// 0: the heuristic — CTAs run in waves of resident_ctas (SMs x split CTAs per SM) that finish
// together, so the count is the smallest whose waves are filled within kWaveSlack of the best
// count's, at most one split per kMinKeysPerSplit keys, at most kMaxSplits.
inline constexpr int64_t kMinKeysPerSplit = 256;
inline constexpr double kWaveSlack = 0.05;
struct SplitPlan {
  std::vector<int> splits;
  std::vector<int64_t> begin, keys;
};
SplitPlan plan_splits(const CaseSpec& c, const Layout& layout, int resident_ctas, int forced);
// The first key of the first tile some query of a sequence can see: 0 except under a sliding
// window, where it is the window start of the first query row, rounded down to a tile.
int64_t first_visible_tile_key(const MaskRule& m, int64_t sq, int64_t sk);

// One case on the device, its pages laid out exactly as build_paged_kv (the CPU reference's).
class DevicePagedCase {
 public:
  // From host inputs and their pages (uploaded).
  DevicePagedCase(const CaseSpec& c, const Inputs& in, const PagedKV& kv, int num_splits = 0);
  // Generated on the device (bitwise the host generator's, scattered into paged_layout's pages):
  // large cases never cross PCIe.
  DevicePagedCase(const CaseSpec& c, int num_splits);
  // Poisons o and lse, then launches the split and combine kernels; returns their time in
  // seconds (CUDA events around the launches alone).
  double run(cudaStream_t stream = nullptr);
  // Copies o and lse back; throws InternalError if a guard margin was written or an output
  // element was left unwritten.
  ForwardResult fetch() const;
  const PagedParams& params() const { return params_; }
  const std::vector<int>& splits() const { return splits_; }

 private:
  static cuda::DeviceBuffer upload_block_table(const PagedKV& kv, const Layout& l,
                                               int64_t* width_out);
  // Everything but q and the pools: tables, lengths, the split plan, partials, outputs, params.
  void finish_setup(const PagedKV& kv, const std::vector<float>& sinks, int num_splits);

  CaseSpec case_;
  Layout layout_;
  cuda::DeviceBuffer q_, k_, v_, table_, sinks_, cu_q_, cu_k_, nsplit_, split_begin_, split_keys_,
      part_o_, part_lse_;
  int64_t table_width_ = 1;
  cuda::GuardedBuffer o_, lse_;
  PagedParams params_;
  std::vector<int> splits_;
};

// num_splits > 0 forces the split count (tests compare with flash_paged/cpu at the same count).
std::unique_ptr<Impl> make_flash_paged_cuda(int num_splits = 0);

}  // namespace sinkbench::flash_paged_cuda
