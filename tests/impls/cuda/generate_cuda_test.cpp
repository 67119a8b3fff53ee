// tests/impls/cuda/generate_cuda_test.cpp — the GPU input generator against cases::generate, bit
// for bit, for every input distribution and dtype; and the guarded output buffers catching an
// out-of-bounds write and an unwritten element.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "cases/cuda/generate_cuda.h"
#include "cases/generate.h"
#include "cases/rng.h"
#include "core/error.h"
#include "impls/cuda/cuda_util.h"
#include "tests/impls/cuda/gpu_test_util.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

std::vector<unsigned char> device_bits(const CaseSpec& c, uint32_t tag, int64_t count) {
  const size_t bytes = size_t(count) * size_t(dtype_size(c.dtype));
  cuda::DeviceBuffer buf(bytes);
  cuda_gen::GenParams g;
  g.out = buf.get();
  g.count = count;
  g.seed = c.seed;
  g.tag = tag;
  g.input = int(c.input);
  g.head_dim = c.head_dim;
  g.dtype = c.dtype;
  SB_CUDA(cuda_gen::launch_generate(g, nullptr));
  std::vector<unsigned char> out(bytes);
  SB_CUDA(cudaMemcpy(out.data(), buf.get(), bytes, cudaMemcpyDeviceToHost));
  return out;
}

TEST(GenerateCuda, BitwiseEqualToCpu) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  for (const DType t : {DType::bf16, DType::f16, DType::f32}) {
    for (const InputDist d :
         {InputDist::normal, InputDist::uniform, InputDist::outliers, InputDist::large_logits}) {
      CaseSpec c;
      c.dtype = t;
      c.input = d;
      c.seqlen_q = 1000;
      c.seqlen_k = 777;
      c.heads_q = 8;
      c.heads_kv = 2;
      c.head_dim = 64;
      c.seed = seed + n++;
      const Inputs in = generate(c);
      SCOPED_TRACE(case_label(c) + " input " + std::string(input_name(d)));
      const std::pair<uint32_t, const Tensor*> tensors[] = {
          {rng::kQ, &in.q}, {rng::kK, &in.k}, {rng::kV, &in.v}};
      for (const auto& [tag, host] : tensors) {
        const auto got = device_bits(c, tag, host->numel());
        ASSERT_EQ(got.size(), size_t(host->nbytes()));
        const auto* want = static_cast<const unsigned char*>(host->data());
        if (std::memcmp(got.data(), want, got.size()) != 0) {
          const size_t es = size_t(dtype_size(t));
          for (int64_t i = 0; i < host->numel(); ++i) {
            uint32_t g = 0;
            std::memcpy(&g, got.data() + size_t(i) * es, es);
            ASSERT_EQ(g, host->bits(i)) << "tag " << tag << " element " << i;
          }
        }
      }
    }
  }
}

TEST(GuardedBuffer, CatchesOutOfBoundsAndUnwritten) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  constexpr int64_t kCount = 1000;
  std::vector<uint16_t> host(kCount);
  {
    cuda::GuardedBuffer b(kCount, 2);
    SB_CUDA(cudaMemset(b.data(), 0, b.payload_bytes()));
    EXPECT_NO_THROW(b.fetch_checked(host.data(), "all written"));
  }
  {
    cuda::GuardedBuffer b(kCount, 2);
    SB_CUDA(cudaMemset(b.data(), 0, b.payload_bytes() - 2));  // last element left poisoned
    EXPECT_THROW(b.fetch_checked(host.data(), "one unwritten"), InternalError);
  }
  {
    cuda::GuardedBuffer b(kCount, 2);
    SB_CUDA(cudaMemset(b.data(), 0, b.payload_bytes() + 1));  // one byte past the end
    EXPECT_THROW(b.fetch_checked(host.data(), "overrun"), InternalError);
  }
  {
    cuda::GuardedBuffer b(kCount, 2);
    SB_CUDA(cudaMemset(static_cast<char*>(b.data()) - 1, 0, b.payload_bytes() + 1));
    EXPECT_THROW(b.fetch_checked(host.data(), "underrun"), InternalError);
  }
}

}  // namespace
}  // namespace sinkbench
