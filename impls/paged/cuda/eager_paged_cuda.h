// impls/paged/cuda/eager_paged_cuda.h — host side of eager_paged/cuda: transformers'
// eager_paged path on the GPU. K and V are gathered from the shuffled page pools through the
// block table on the device (paged_gather_params.h), then run through eager_concat/cuda's GEMMs
// and row kernel with the fp32 softmax (docs/impls/eager_paged_cuda.md). Host-only.
#pragma once

#include <cuda_runtime_api.h>

#include <memory>

#include "cases/case_spec.h"
#include "cases/generate.h"
#include "core/tensor.h"
#include "impls/cuda/cuda_util.h"
#include "impls/impl.h"
#include "impls/paged/paged.h"

namespace sinkbench::eager_paged_cuda {

// ok, or why not: dtype, page size, a pool too large for int32 page ids, GQA shape, the logits
// budget of eager_concat/cuda, no GPU, not sm_90.
Support supports_case(const CaseSpec& c);

// The page pools and block tables of one case on the device and the packed K/V the gather fills.
class DeviceGather {
 public:
  // Validates the block tables first (flash_paged_cuda::check_block_table: InputError naming the
  // sequence, logical page and id, before any allocation or launch), then uploads.
  DeviceGather(const PagedKV& kv, const Layout& layout, DType dtype);
  // Launches the gather of K and V into the packed buffers; returns its time in seconds (CUDA
  // events around the launch alone).
  double run(cudaStream_t stream = nullptr);
  // Packed K/V [total_k, Hkv, D] on the device (valid after run()).
  const void* k() const { return k_.get(); }
  const void* v() const { return v_.get(); }
  // Copies the packed K or V back (tests compare them with gather_pages).
  Tensor fetch_k() const;
  Tensor fetch_v() const;

 private:
  Tensor fetch(const cuda::DeviceBuffer& b) const;
  DType dtype_;
  Layout layout_;
  cuda::DeviceBuffer k_pages_, v_pages_, table_, cu_k_, k_, v_;
  int64_t table_stride_ = 0;
  int page_size_ = 0;
};

// The forward pass over an explicit paged cache (prepare() builds it with build_paged_kv): the
// block table is checked before anything touches the device, the pools uploaded and the pass set
// up; run() is gather + eager with the fp32 softmax, its seconds the gather plus the GEMMs and
// row kernels. forward_paged: one run and its outputs.
std::unique_ptr<PreparedForward> prepare_paged(const CaseSpec& c, const Inputs& in,
                                               const PagedKV& kv);
ForwardResult forward_paged(const CaseSpec& c, const Inputs& in, const PagedKV& kv);

std::unique_ptr<Impl> make_eager_paged_cuda();

}  // namespace sinkbench::eager_paged_cuda
