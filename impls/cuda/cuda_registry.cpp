// impls/cuda/cuda_registry.cpp — CUDA implementations built into this binary (being written;
// registers nothing yet).
#include "impls/families.h"

namespace sinkbench {

void add_cuda_impls(ImplList& out) {}

}  // namespace sinkbench
