// impls/tiled/tiled.h — the tiled (FlashAttention-2 online softmax) algorithm on the CPU, with the
// rounding points of the tensor-core kernel. lse_renorm calls it with the sink off; tests build
// it with planted faults through make_tiled_cpu. Rounding points: docs/impls/tiled.md.
#pragma once

#include <memory>
#include <optional>

#include "impls/faults.h"
#include "impls/impl.h"

namespace sinkbench {

struct TiledOptions {
  bool use_sink = true;  // false: sink-less attention (lse_renorm's first pass); lse excludes sigma
  Faults faults;         // honoured: every forward switch but sink_per_split
  GradFaults grad_faults;  // planted gradient defects of the backward pass
};

struct TiledBwdOptions {
  bool use_sink = true;  // false: lse_renorm's sink-less pass (lse without σ, no dσ)
  GradFaults faults;
};

// o in the case dtype (one rounding of the fp32 accumulator), fp32 lse (sink-inclusive when the
// sink is used), every row and head of the case.
ForwardResult tiled_forward(const CaseSpec& c, const Inputs& in, const TiledOptions& opt);

// The FlashAttention-2 backward from the forward's rounded o and fp32 lse (sink-inclusive when
// the sink is used): dq, dk, dv in the case dtype, dσ in fp32 (empty without a sink or with
// use_sink off). Rounding points and summation orders: docs/impls/tiled.md ("Backward").
BackwardResult tiled_backward(const CaseSpec& c, const Inputs& in, const Tensor& o,
                              const std::vector<float>& lse, const GradInputs& g,
                              const TiledBwdOptions& opt);
Support tiled_supports_backward(const CaseSpec& c);

// The floor ratio below which an algorithm that rounds P~ to a 16-bit dtype before P.V cannot
// land on case c (docs/policy.md, "floor_ratio_min of the tiled family"); nullopt for fp32 or
// when too few evaluated rows see enough keys for the prediction to hold.
std::optional<double> rounded_p_min_floor_ratio(const CaseSpec& c);

// "tiled/cpu" with the given options (tests plant faults through it).
std::unique_ptr<Impl> make_tiled_cpu(const TiledOptions& opt = {});

}  // namespace sinkbench
