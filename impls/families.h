// impls/families.h — one registration function per family and device. A family's folder
// defines its function; registry.cpp calls them in this order.
#pragma once

#include <memory>
#include <vector>

#include "impls/impl.h"

namespace sinkbench {

using ImplList = std::vector<std::unique_ptr<Impl>>;

void add_eager_concat_cpu(ImplList& out);  // impls/eager_concat/
void add_lse_renorm_cpu(ImplList& out);    // impls/lse_renorm/
void add_tiled_cpu(ImplList& out);         // impls/tiled/
void add_paged_cpu(ImplList& out);         // impls/paged/

// All CPU families, in report order.
inline void add_cpu_impls(ImplList& out) {
  add_eager_concat_cpu(out);
  add_lse_renorm_cpu(out);
  add_tiled_cpu(out);
  add_paged_cpu(out);
}

#ifdef SINKBENCH_HAVE_CUDA
// Each reports "skipped" with query_device()'s reason where no GPU is present.
void add_eager_concat_cuda(ImplList& out);  // impls/eager_concat/cuda/
void add_lse_renorm_cuda(ImplList& out);    // impls/lse_renorm/cuda/
void add_tiled_cuda(ImplList& out);         // impls/tiled/cuda/
void add_paged_cuda(ImplList& out);         // impls/paged/cuda/

// All CUDA families, in report order.
inline void add_cuda_impls(ImplList& out) {
  add_eager_concat_cuda(out);
  add_lse_renorm_cuda(out);
  add_tiled_cuda(out);
  add_paged_cuda(out);
}
#endif

}  // namespace sinkbench
