// impls/impl.h — the one face every implementation shows: a name, a device, whether it supports
// a case (and if not, why), and a forward pass, which GPU implementations also offer set up once
// and run many times (prepare()), and optionally a backward pass (supports_backward(),
// backward(), prepare_backward()). Unsupported cases are reported as skipped with the reason,
// never dropped.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
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

// GradInputs (dL/do, dL/dlse): cases/generate.h, drawn by generate_grads.

struct BackwardResult {
  Tensor dq;                  // [total_q, Hq, D] in the case dtype
  Tensor dk;                  // [total_k, Hkv, D] in the case dtype, summed over each GQA group
  Tensor dv;                  // [total_k, Hkv, D] in the case dtype, summed over each GQA group
  std::vector<float> dsinks;  // [Hq] fp32, per query head; empty when the case has no sinks
  double seconds = 0;  // time of the backward pass proper (device time on GPUs); 0 if untimed
};

// A backward pass whose inputs (forward inputs, forward outputs, gradients) are already in place:
// the backward twin of PreparedForward, for timing.
class PreparedBackward {
 public:
  virtual ~PreparedBackward() = default;
  // Poisons the gradients, then computes them; returns the seconds of the backward proper.
  virtual double run() = 0;
  // The gradients of the last run() read back; throws InternalError on a written guard margin or
  // an unwritten gradient element.
  virtual BackwardResult fetch() = 0;
};

// A forward pass whose inputs are already in place (Impl::prepare): run() may be repeated, each
// time recomputing the same outputs. Holds no reference to the case or inputs it was made from.
class PreparedForward {
 public:
  virtual ~PreparedForward() = default;
  // Poisons the outputs, then computes them; returns the seconds of the forward proper (device
  // time by CUDA events around the kernels alone on GPUs).
  virtual double run() = 0;
  // The outputs of the last run() read back, seconds = that run's. Throws InternalError where a
  // guard margin was written or an output element left unwritten.
  virtual ForwardResult fetch() = 0;
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
  // forward() split in two: the set-up (inputs uploaded or generated on the device, outputs
  // allocated) here, once, and the pass itself in run(). Why: forward() does that set-up right
  // before its timed launch, so a timer that flushes L2 and then calls forward() measures kernels
  // reading small inputs the set-up has just left in L2, and repeats the upload every iteration.
  // nullptr where there is no such split (the CPU implementations): use forward().
  virtual std::unique_ptr<PreparedForward> prepare(const CaseSpec& c, const Inputs& in) const {
    return nullptr;
  }
  // The algorithm's rounding points make its error at least this multiple of the
  // output-rounding floor on this case (used to catch a reference that skips a rounding point it
  // claims); nullopt where no such floor is predicted.
  virtual std::optional<double> min_floor_ratio(const CaseSpec& c) const { return std::nullopt; }
  // Whether the algorithm rounds its logit-domain values (QK^T, scaled logits, s - max) to the
  // case dtype, as eager does: the lse bound then allows dtype roundings of them (policy v2);
  // otherwise it allows fp32 ones.
  virtual bool rounds_logits(const CaseSpec& c) const { return false; }

  // Whether backward() can run this case, and if not, why. The default: no backward pass.
  virtual Support supports_backward(const CaseSpec& c) const {
    return Support::no(name() + " has no backward pass");
  }
  // Gradients of the case's loss with respect to q, k, v and the sinks, given the forward's own
  // outputs `fwd` (what a training framework would have saved) and the incoming gradients.
  // Called only where supports_backward(c).ok.
  virtual BackwardResult backward(const CaseSpec& c, const Inputs& in, const ForwardResult& fwd,
                                  const GradInputs& g) const;
  // backward() split in two like prepare(); nullptr where there is no such split.
  virtual std::unique_ptr<PreparedBackward> prepare_backward(const CaseSpec& c, const Inputs& in,
                                                             const ForwardResult& fwd,
                                                             const GradInputs& g) const {
    return nullptr;
  }
};

// A PreparedForward over a case object that already has run() (seconds) and fetch() (outputs):
// the device cases of the CUDA implementations, constructed in place from `args`.
template <class Case>
class PreparedCase final : public PreparedForward {
 public:
  template <class... Args>
  explicit PreparedCase(Args&&... args) : case_(std::forward<Args>(args)...) {}
  double run() override { return seconds_ = case_.run(); }
  ForwardResult fetch() override {
    ForwardResult r = case_.fetch();
    r.seconds = seconds_;
    return r;
  }

 private:
  Case case_;
  double seconds_ = 0;
};

// One run and its outputs: forward() of an implementation that has prepare().
inline ForwardResult run_once(PreparedForward& p) {
  p.run();
  return p.fetch();
}

// Every implementation built into this binary, CPU first, in a stable order.
const std::vector<std::unique_ptr<Impl>>& all_impls();
// nullptr if no implementation has that name.
const Impl* find_impl(const std::string& name);
std::vector<std::string> impl_names();

}  // namespace sinkbench
