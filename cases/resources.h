// cases/resources.h — memory a case needs, estimated from its spec alone before anything is
// allocated (cases layer; docs/hardening.md). Two gates use it: suite expansion refuses a case
// whose sizes no machine could hold (or whose element counts overflow 64-bit indexing), naming
// the field that makes it big; `run` skips, with the estimate as the reason, a case that does
// not fit in the memory this machine has free, so a huge case never ends in an allocation
// failure halfway through a sweep.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cases/case_spec.h"

namespace sinkbench {

// Host bytes of one case in `sinkbench run`, by what holds them (doubles: a spec's sizes may
// overflow 64-bit integers, and the estimate must still be computed to say so).
struct MemoryEstimate {
  double inputs = 0;   // q, k, v in the case dtype, the sinks and the layout
  double oracle = 0;   // the FP64 reference's outputs, sensitivities and its per-thread workspace
  double outputs = 0;  // one implementation's o (case dtype) and lse (fp32)
  double working = 0;  // an implementation's fp32 copies of q, k, v (the CPU kernels read fp32)
  double arrays = 0;   // --keep-arrays: the inputs, the oracle and every output held for the store
  double total() const { return inputs + oracle + outputs + working + arrays; }
  // "inputs 1.0 TiB, oracle 200.0 GiB, ..."
  std::string parts() const;
};

// Estimate for a run of `impls` implementations on this case (impls only matters with arrays).
MemoryEstimate estimate_memory(const CaseSpec& c, bool keep_arrays = false, int impls = 1);

// Device bytes of a GPU implementation of `family` on this case: inputs, outputs and, for the
// eager family, the materialised [Hq, Sq, Sk] logits.
double estimate_device_memory(const CaseSpec& c, const std::string& family);

// The size field that makes the case large (the one furthest above its default), e.g. "sq".
std::string dominant_size_field(const CaseSpec& c);

// No machine holds this much for one case: expansion refuses anything above it.
inline constexpr double kMaxCaseBytes = double(int64_t(1) << 50);  // 1 PiB

// Throws InputError naming `where` and the dominant field when the case's element counts
// overflow 64-bit integers or its estimate exceeds kMaxCaseBytes.
void check_case_size(const CaseSpec& c, const std::string& where);

// Bytes this process may still allocate: $SINKBENCH_MEMORY_LIMIT when set (bytes, or with a
// K/M/G/T suffix), else the smaller of MemAvailable and the cgroup's remaining limit; nullopt
// when none of these can be read (no limit is then applied).
std::optional<double> available_host_memory();

// Empty when the case fits in `available` bytes; else the skip reason, e.g.
// "needs 1.1 TiB of host memory (inputs ..., ...) but 120.0 GiB are available; field 'sq'
// (1000000000) makes it that large".
std::string host_memory_shortfall(const CaseSpec& c, bool keep_arrays, int impls,
                                  std::optional<double> available);
// The same for a GPU implementation against the device's memory (0: unknown, always fits).
std::string device_memory_shortfall(const CaseSpec& c, const std::string& family,
                                    double device_bytes);

// Human-readable byte count: "512 B", "3.4 MiB", "1.1 TiB".
std::string format_bytes(double bytes);

// Query rows and heads the oracle evaluates (evaluated_rows(c).size() and .heads.size()),
// without listing every row of a full case.
int64_t evaluated_row_count(const CaseSpec& c);
int evaluated_head_count(const CaseSpec& c);

}  // namespace sinkbench
