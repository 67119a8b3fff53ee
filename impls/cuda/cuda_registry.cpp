// impls/cuda/cuda_registry.cpp — CUDA implementations built into this binary, in report order.
// Each reports "skipped" with query_device()'s reason where no GPU is present.
#include "impls/families.h"
#include "impls/tiled/cuda/tiled_cuda.h"

namespace sinkbench {

void add_cuda_impls(ImplList& out) {
  out.push_back(tiled_cuda::make_tiled_cuda());
}

}  // namespace sinkbench
