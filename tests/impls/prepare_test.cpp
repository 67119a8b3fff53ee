// tests/impls/prepare_test.cpp — Impl::prepare across the registry, without a GPU: the CPU
// implementations offer no prepared pass (nullptr: `sinkbench bench` calls their forward()), and
// where the binary has CUDA implementations but no device, they decline the case with the
// device's reason and their forward() and prepare() fail with an error rather than a crash.
#include <gtest/gtest.h>

#include <stdexcept>

#include "cases/generate.h"
#include "core/device.h"
#include "impls/impl.h"

namespace sinkbench {
namespace {

// Small, with a sink, GQA 2 and a page size every paged implementation takes.
CaseSpec small_case() {
  CaseSpec c;
  c.seqlen_q = 5;
  c.seqlen_k = 19;
  c.heads_q = 2;
  c.heads_kv = 1;
  c.head_dim = 64;
  c.mask.kind = MaskKind::causal;
  c.sink.kind = SinkKind::band;
  c.page_size = 16;
  return c;
}

TEST(Prepare, CpuImplementationsOfferNone) {
  const CaseSpec c = small_case();
  const Inputs in = generate(c);
  int cpu = 0;
  for (const auto& impl : all_impls()) {
    if (impl->device() != Device::cpu) continue;
    ++cpu;
    EXPECT_EQ(impl->prepare(c, in), nullptr) << impl->name();
  }
  EXPECT_GT(cpu, 0);
}

TEST(Prepare, CudaImplementationsDeclineWithoutAGpu) {
  const CaseSpec c = small_case();
  const Inputs in = generate(c);
  const DeviceInfo gpu = query_device();
  int cuda = 0;
  for (const auto& impl : all_impls()) {
    if (impl->device() != Device::cuda) continue;
    ++cuda;
    if (gpu.present) continue;
    const Support s = impl->supports(c);
    EXPECT_FALSE(s.ok) << impl->name();
    EXPECT_NE(s.reason.find("no GPU"), std::string::npos) << impl->name() << ": " << s.reason;
    EXPECT_THROW(impl->forward(c, in), std::runtime_error) << impl->name();
    EXPECT_THROW(impl->prepare(c, in), std::runtime_error) << impl->name();
  }
  if (cuda == 0) GTEST_SKIP() << "built without CUDA implementations";
  if (gpu.present) GTEST_SKIP() << "a GPU is present: tests/impls/cuda run these on it";
}

}  // namespace
}  // namespace sinkbench
