// tests/impls/cuda/gpu_test_util.h — GPU tests skip, with query_device()'s reason, where no GPU
// is present (CI and the development machine compile them and report them as skipped).
#pragma once

#include <gtest/gtest.h>

#include "core/device.h"

#define SINKBENCH_SKIP_WITHOUT_GPU()                                    \
  do {                                                                  \
    const ::sinkbench::DeviceInfo sb_dev = ::sinkbench::query_device(); \
    if (!sb_dev.present) GTEST_SKIP() << "no GPU: " << sb_dev.reason;   \
  } while (0)
