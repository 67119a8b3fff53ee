// core/device.h — what GPU (if any) this process can use. Answers "none" with a reason when
// sinkbench was built without CUDA, no driver is loaded, or no device is visible.
#pragma once

#include <cstdint>
#include <string>

namespace sinkbench {

struct DeviceInfo {
  bool present = false;  // a usable CUDA device was found
  std::string reason;    // why not, when !present
  int index = 0;         // CUDA ordinal
  std::string name;      // e.g. "NVIDIA H100 80GB HBM3"
  int sm_major = 0;      // compute capability
  int sm_minor = 0;
  int sm_count = 0;              // streaming multiprocessors
  double sm_clock_mhz = 0;       // maximum SM clock
  double mem_clock_mhz = 0;      // maximum memory clock
  int mem_bus_bits = 0;          // memory bus width
  double mem_bandwidth_gbs = 0;  // theoretical peak: 2 * mem clock * bus width / 8
  int64_t l2_bytes = 0;
  int64_t mem_bytes = 0;
  int driver_version = 0;   // as cudaDriverGetVersion (e.g. 13000)
  int runtime_version = 0;  // as cudaRuntimeGetVersion
};

// Queries device `index`; never throws.
DeviceInfo query_device(int index = 0);
// One line for logs and provenance: "NVIDIA H100 ... (sm_90, 132 SMs, ...)" or "none (reason)".
std::string describe_device(const DeviceInfo& d);
bool built_with_cuda();

}  // namespace sinkbench
