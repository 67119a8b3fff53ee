// impls/eager_concat/eager_concat.h — the eager (transformers GPT-OSS) algorithm on the CPU, also
// called by paged's eager_paged after it gathers pages into contiguous K/V.
#pragma once

#include "impls/impl.h"

namespace sinkbench {

struct EagerOptions {
  bool softmax_fp32 = false;  // keep P in fp32 (transformers' eager_paged) instead of the dtype
};

// Rounding points as transformers' eager path (docs/impls.md); o in the case dtype, fp32 lse.
ForwardResult eager_concat_forward(const CaseSpec& c, const Inputs& in, const EagerOptions& opt);

}  // namespace sinkbench
