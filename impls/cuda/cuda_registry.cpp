// impls/cuda/cuda_registry.cpp — CUDA implementations built into this binary, in report order.
// Each reports "skipped" with query_device()'s reason where no GPU is present.
#include "impls/eager_concat/cuda/eager_cuda.h"
#include "impls/families.h"
#include "impls/lse_renorm/cuda/lse_renorm_cuda.h"
#include "impls/paged/cuda/eager_paged_cuda.h"
#include "impls/paged/cuda/flash_paged_cuda.h"
#include "impls/tiled/cuda/tiled_cuda.h"

namespace sinkbench {

void add_cuda_impls(ImplList& out) {
  out.push_back(eager_cuda::make_eager_concat_cuda(/*softmax_fp32=*/false));
  out.push_back(eager_cuda::make_eager_concat_cuda(/*softmax_fp32=*/true));
  out.push_back(lse_renorm_cuda::make_lse_renorm_cuda(/*lse_cast=*/false));
  out.push_back(lse_renorm_cuda::make_lse_renorm_cuda(/*lse_cast=*/true));
  out.push_back(tiled_cuda::make_tiled_cuda());
  out.push_back(eager_paged_cuda::make_eager_paged_cuda());
  out.push_back(flash_paged_cuda::make_flash_paged_cuda());
}

}  // namespace sinkbench
