// impls/impl.h — the one face every implementation shows: a name, a device, whether it supports
// a case (and if not, why), and a forward pass. Unsupported cases are reported as skipped with
// the reason, never dropped. A backward pass joins later through has_backward()/backward().
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cases/case_spec.h"
#include "cases/generate.h"
#include "core/tensor.h"

namespace sinkbench {

enum class Device { cpu, cuda };
std::string_view device_name(Device d);

// Answer of supports(): ok, or the reason it is not.
struct Support {
  bool ok = true;
  std::string reason;
  static Support yes() { return {}; }
  static Support no(std::string why) { return {false, std::move(why)}; }
};

struct ForwardResult {
  Tensor o;                // [total_q, Hq, D] in the case dtype
  std::vector<float> lse;  // Layout::lse_size() entries, fp32, sink-inclusive, Layout::lse_offset
  double seconds = 0;      // time of the forward pass proper (device time on GPUs); 0 if untimed
};

class Impl {
 public:
  virtual ~Impl() = default;
  // "<family>[-<variant>]/<device>", e.g. "tiled/cpu", "eager_concat-softmax_fp32/cpu".
  virtual std::string name() const = 0;
  // "eager_concat", "lse_renorm", "tiled" or "paged".
  virtual std::string family() const = 0;
  virtual Device device() const = 0;
  // One sentence: what the algorithm does and where it rounds.
  virtual std::string description() const = 0;
  virtual Support supports(const CaseSpec& c) const = 0;
  // Computes every row and head of the case (sampled rows are judged, all rows are computed).
  virtual ForwardResult forward(const CaseSpec& c, const Inputs& in) const = 0;
  // The algorithm's rounding points make its error at least this multiple of the
  // output-rounding floor on this case (used to catch a reference that skips a rounding point it
  // claims); nullopt where no such floor is predicted.
  virtual std::optional<double> min_floor_ratio(const CaseSpec& c) const { return std::nullopt; }
  virtual bool has_backward() const { return false; }
};

// Every implementation built into this binary, CPU first, in a stable order.
const std::vector<std::unique_ptr<Impl>>& all_impls();
// nullptr if no implementation has that name.
const Impl* find_impl(const std::string& name);
std::vector<std::string> impl_names();

}  // namespace sinkbench
