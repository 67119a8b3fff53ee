// impls/eager_concat/eager_concat.h — the eager (transformers GPT-OSS) algorithm on the CPU
// (implementation layer), also called by paged's eager_paged after it gathers pages into
// contiguous K/V. Rounding points and the lse it returns: docs/impls/eager_concat.md.
#pragma once

#include <memory>

#include "impls/faults.h"
#include "impls/impl.h"

namespace sinkbench {

struct EagerOptions {
  // transformers' eager_paged path: softmax(x, dtype=float32).to(query.dtype) instead of
  // softmax(x, dtype=query.dtype). Both compute in fp32 and round P to the dtype once before
  // P @ V, so the rounding points (and this CPU reference's bits) are the same; the flag names the
  // code path so reports can tell the two apart.
  bool softmax_fp32 = false;
  Faults faults;  // planted defects for tests; all off by default
};

// o in the case dtype; lse is the sink-inclusive max + log(sum) of the fp32 softmax stage.
ForwardResult eager_concat_forward(const CaseSpec& c, const Inputs& in, const EagerOptions& opt);

// dq, dk, dv (dtype) and dσ (rounded to the dtype, as the sink parameter's gradient) as autograd
// computes them on the eager graph (eager_concat_bwd.cpp); no dL/dlse (eager returns no lse).
BackwardResult eager_concat_backward(const CaseSpec& c, const Inputs& in, const GradInputs& g,
                                     const EagerOptions& opt);
Support eager_supports_backward(const CaseSpec& c);

// "eager_concat/cpu" or "eager_concat-softmax_fp32/cpu" with the given options (tests use it to
// switch faults on).
std::unique_ptr<Impl> make_eager_concat_cpu(EagerOptions opt);

}  // namespace sinkbench
