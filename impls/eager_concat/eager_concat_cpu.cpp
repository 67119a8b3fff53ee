// impls/eager_concat/eager_concat_cpu.cpp — the eager_concat family's CPU members (implementation
// layer): "eager_concat/cpu" (transformers' GPT-OSS eager path) and
// "eager_concat-softmax_fp32/cpu" (transformers' eager_paged softmax), both over
// eager_concat_forward.
#include <chrono>

#include "impls/eager_concat/eager_concat.h"
#include "impls/families.h"

namespace sinkbench {
namespace {

class EagerConcatCpu final : public Impl {
 public:
  explicit EagerConcatCpu(EagerOptions opt) : opt_(opt) {}

  std::string name() const override {
    return opt_.softmax_fp32 ? "eager_concat-softmax_fp32/cpu" : "eager_concat/cpu";
  }
  std::string family() const override { return "eager_concat"; }
  Device device() const override { return Device::cpu; }
  std::string description() const override {
    return opt_.softmax_fp32
               ? "transformers eager_paged: logits rounded to the dtype after QK^T, scale, mask "
                 "and max subtraction; softmax(dtype=fp32) cast to the dtype before P@V; fp32 "
                 "accumulation, output rounded"
               : "transformers GPT-OSS eager: logits rounded to the dtype after QK^T, scale, mask "
                 "and max subtraction; fp32 softmax rounded to the dtype; P@V with fp32 "
                 "accumulation, output rounded";
  }
  // Every valid case: the algorithm has no shape limits (fully masked rows without a sink are run
  // as real eager runs them, and judged).
  Support supports(const CaseSpec&) const override { return Support::yes(); }
  bool rounds_logits(const CaseSpec&) const override { return true; }  // eager: policy v2

  ForwardResult forward(const CaseSpec& c, const Inputs& in) const override {
    const auto t0 = std::chrono::steady_clock::now();
    ForwardResult r = eager_concat_forward(c, in, opt_);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  }
  Support supports_backward(const CaseSpec& c) const override { return eager_supports_backward(c); }
  BackwardResult backward(const CaseSpec& c, const Inputs& in, const ForwardResult&,
                          const GradInputs& g) const override {
    const auto t0 = std::chrono::steady_clock::now();
    BackwardResult r = eager_concat_backward(c, in, g, opt_);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  }

 private:
  EagerOptions opt_;
};

EagerOptions softmax_fp32_options() {
  EagerOptions opt;
  opt.softmax_fp32 = true;
  return opt;
}

}  // namespace

std::unique_ptr<Impl> make_eager_concat_cpu(EagerOptions opt) {
  return std::make_unique<EagerConcatCpu>(opt);
}

void add_eager_concat_cpu(ImplList& out) {
  out.push_back(make_eager_concat_cpu(EagerOptions{}));
  out.push_back(make_eager_concat_cpu(softmax_fp32_options()));
}

}  // namespace sinkbench
