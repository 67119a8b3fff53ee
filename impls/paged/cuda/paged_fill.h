// impls/paged/cuda/paged_fill.h — fills flash_paged/cuda's page pools from K and V generated in
// the packed layout on the device (DevicePagedCase's device-input path): the parameter block and
// its launcher. Plain C++: the host fills it, paged_fill.cu launches.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace sinkbench::flash_paged_cuda {

struct FillParams {
  // Packed K and V [total_k, Hkv, D] (16-bit bits; the copy never interprets them).
  const void* k_packed = nullptr;
  const void* v_packed = nullptr;
  // Page pools [num_pages, page_size, Hkv, D], same element type.
  void* k_pages = nullptr;
  void* v_pages = nullptr;
  // Element offset in the pools of packed key r's slot (total_k entries, device memory; the host
  // resolves the block tables once, so the kernel is a plain indexed copy).
  const int64_t* slot_offset = nullptr;
  int64_t rows = 0;       // total_k
  int64_t row_elems = 0;  // Hkv * D, a multiple of 8 (16-byte copies)
};

// Queues the copy on `stream`; returns the launch error (cudaErrorInvalidValue when row_elems is
// not a multiple of 8). Does not sync.
cudaError_t launch_fill_pages(const FillParams& p, cudaStream_t stream);

}  // namespace sinkbench::flash_paged_cuda
