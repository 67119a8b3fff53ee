// impls/lse_renorm/cuda/lse_renorm_cuda.h — lse_renorm/cuda and lse_renorm-lse_cast/cuda: the
// tiled/cuda kernel with the sink off (o_ns rounded, fp32 lse_ns), then a renorm kernel with the
// CPU variants' arithmetic (docs/impls/lse_renorm.md). Host-only.
#pragma once

#include <memory>

#include "impls/impl.h"

namespace sinkbench::lse_renorm_cuda {

std::unique_ptr<Impl> make_lse_renorm_cuda(bool lse_cast);

}  // namespace sinkbench::lse_renorm_cuda
