// impls/lse_renorm/lse_renorm.h — the flex recipe on the CPU (impls layer): sink-less tiled
// attention returning o and lse, then o * sigmoid(lse - sigma). Rounding points of each variant:
// docs/impls/lse_renorm.md.
#pragma once

#include <memory>

#include "impls/faults.h"
#include "impls/impl.h"

namespace sinkbench {

struct LseRenormOptions {
  // false: the renorm factor is computed in fp32 from the fp32 lse (a careful kernel).
  // true: the sink-less lse is cast to the value dtype first and the renorm runs as PyTorch eager
  // ops on dtype tensors, as transformers' flex integration does.
  bool lse_cast = false;
  Faults faults;  // honoured: ignore_sink, lse_without_sink, and through the sink-less pass
                  // window_off_by_one, gqa_modulo, causal_top_left, unrounded_p
  GradFaults grad_faults;  // planted gradient defects, passed to the sink-less tiled backward
};

ForwardResult lse_renorm_forward(const CaseSpec& c, const Inputs& in, const LseRenormOptions& opt);

// Autograd through the recipe (lse_renorm_bwd.cpp): dq, dk, dv in the dtype, dσ fp32 (rounded
// to the dtype for lse_cast, the sink parameter's dtype there).
BackwardResult lse_renorm_backward(const CaseSpec& c, const Inputs& in, const GradInputs& g,
                                   const LseRenormOptions& opt);
Support lse_renorm_supports_backward(const CaseSpec& c, const LseRenormOptions& opt);

// "lse_renorm/cpu" or "lse_renorm-lse_cast/cpu" with the given options.
std::unique_ptr<Impl> make_lse_renorm_cpu(const LseRenormOptions& opt = {});

}  // namespace sinkbench
