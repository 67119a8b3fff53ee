// impls/paged/paged_cpu.cpp — the paged family's CPU members (implementation layer):
// "eager_paged/cpu" and "flash_paged/cpu", both over a shuffled paged KV cache (page_table.cpp).
#include <chrono>

#include "impls/families.h"
#include "impls/paged/paged.h"

namespace sinkbench {
namespace {

// Why neither paged implementation has a backward pass.
Support no_paged_backward() {
  return Support::no("a paged KV cache is inference storage: training runs no backward through it");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class EagerPagedCpu final : public Impl {
 public:
  explicit EagerPagedCpu(EagerOptions opt) : opt_(opt) {}
  std::string name() const override { return "eager_paged/cpu"; }
  std::string family() const override { return "paged"; }
  Device device() const override { return Device::cpu; }
  std::string description() const override {
    return "K/V gathered from shuffled pages through the block table, then transformers "
           "eager_paged: logits rounded to the dtype after QK^T, scale, mask and max "
           "subtraction; fp32 softmax cast to the dtype before P@V; output rounded";
  }
  Support supports(const CaseSpec& c) const override { return paged_supports(c); }
  bool rounds_logits(const CaseSpec&) const override { return true; }  // eager: policy v2
  Support supports_backward(const CaseSpec&) const override { return no_paged_backward(); }
  ForwardResult forward(const CaseSpec& c, const Inputs& in) const override {
    const auto t0 = std::chrono::steady_clock::now();
    ForwardResult r = eager_paged_forward(c, in, opt_);
    r.seconds = seconds_since(t0);
    return r;
  }

 private:
  EagerOptions opt_;
};

class FlashPagedCpu final : public Impl {
 public:
  explicit FlashPagedCpu(FlashPagedOptions opt) : opt_(opt) {}
  std::string name() const override { return "flash_paged/cpu"; }
  std::string family() const override { return "paged"; }
  Device device() const override { return Device::cpu; }
  std::string description() const override {
    return "online softmax over K/V read through the block table in BLOCK_N-key steps: fp32 "
           "logits, running max and sum, P rounded to the dtype before P@V, fp32 accumulators; "
           "split-KV decode with a combine that adds the sink once; one output rounding";
  }
  Support supports(const CaseSpec& c) const override { return paged_supports(c); }
  Support supports_backward(const CaseSpec&) const override { return no_paged_backward(); }
  ForwardResult forward(const CaseSpec& c, const Inputs& in) const override {
    const auto t0 = std::chrono::steady_clock::now();
    ForwardResult r = flash_paged_forward(c, in, opt_);
    r.seconds = seconds_since(t0);
    return r;
  }

 private:
  FlashPagedOptions opt_;
};

}  // namespace

std::unique_ptr<Impl> make_eager_paged_cpu(EagerOptions opt) {
  return std::make_unique<EagerPagedCpu>(opt);
}

std::unique_ptr<Impl> make_flash_paged_cpu(FlashPagedOptions opt) {
  return std::make_unique<FlashPagedCpu>(opt);
}

void add_paged_cpu(ImplList& out) {
  out.push_back(make_eager_paged_cpu());
  out.push_back(make_flash_paged_cpu());
}

}  // namespace sinkbench
