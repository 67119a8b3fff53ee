// tests/core/device_test.cpp — the device query answers cleanly with or without a GPU.
#include "core/device.h"

#include <gtest/gtest.h>

namespace sinkbench {
namespace {

TEST(Device, QueryAnswersWithoutThrowing) {
  const DeviceInfo d = query_device(0);
  if (!d.present) {
    EXPECT_FALSE(d.reason.empty());
    EXPECT_NE(describe_device(d).find("none"), std::string::npos);
    return;
  }
  EXPECT_FALSE(d.name.empty());
  EXPECT_GT(d.sm_count, 0);
  EXPECT_GT(d.mem_bandwidth_gbs, 0);
  EXPECT_GT(d.l2_bytes, 0);
}

TEST(Device, OutOfRangeOrdinalIsNotPresent) {
  const DeviceInfo d = query_device(1 << 20);
  EXPECT_FALSE(d.present);
  EXPECT_FALSE(d.reason.empty());
}

}  // namespace
}  // namespace sinkbench
