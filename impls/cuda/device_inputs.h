// impls/cuda/device_inputs.h — a case's input tensors generated in device memory by the GPU twin
// of the generator (bitwise the CPU's), so that large cases never cross PCIe as inputs
// (implementation layer, host code).
#pragma once

#include <cstdint>

#include "cases/case_spec.h"
#include "core/tensor.h"
#include "impls/cuda/cuda_util.h"

namespace sinkbench::cuda {

// Generates tensor `tag` (rng::kQ, kK, kV) of the case, `count` elements, into `buf`. If `host`
// is given, compares bits (all of a small tensor, 4096 spread samples of a large one) and uploads
// `host` where they differ, so a caller passing modified inputs still gets its own. Returns true
// when it uploaded.
bool generate_input(const CaseSpec& c, uint32_t tag, int64_t count, DeviceBuffer& buf,
                    const Tensor* host);

}  // namespace sinkbench::cuda
