// impls/registry.cpp — the list of implementations built into this binary. Each family adds its
// members through one add_*_impls function declared in impls/families.h.
#include "core/error.h"
#include "impls/families.h"
#include "impls/impl.h"

namespace sinkbench {

std::string_view device_name(Device d) {
  return d == Device::cpu ? "cpu" : "cuda";
}

BackwardResult Impl::backward(const CaseSpec&, const Inputs&, const ForwardResult&,
                              const GradInputs&) const {
  throw InternalError(name() + ": backward() called on an implementation without one");
}

const std::vector<std::unique_ptr<Impl>>& all_impls() {
  static const std::vector<std::unique_ptr<Impl>> impls = [] {
    std::vector<std::unique_ptr<Impl>> v;
    add_cpu_impls(v);
#ifdef SINKBENCH_HAVE_CUDA
    add_cuda_impls(v);
#endif
    return v;
  }();
  return impls;
}

const Impl* find_impl(const std::string& name) {
  for (const auto& i : all_impls())
    if (i->name() == name) return i.get();
  return nullptr;
}

std::vector<std::string> impl_names() {
  std::vector<std::string> names;
  for (const auto& i : all_impls())
    names.push_back(i->name());
  return names;
}

}  // namespace sinkbench
