// tests/support/test_seed.h — every randomised test draws a fresh seed (or the one in
// SINKBENCH_TEST_SEED), prints it, and records it in the test's XML, so a failure can be replayed.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

namespace sinkbench::testing {

inline uint64_t test_seed() {
  static const uint64_t seed = [] {
    uint64_t s;
    if (const char* env = std::getenv("SINKBENCH_TEST_SEED")) {
      s = std::strtoull(env, nullptr, 0);
    } else {
      std::random_device rd;
      s = (uint64_t(rd()) << 32) | rd();
    }
    std::printf("[   SEED   ] SINKBENCH_TEST_SEED=%llu (set it to replay)\n",
                static_cast<unsigned long long>(s));
    return s;
  }();
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

}  // namespace sinkbench::testing
