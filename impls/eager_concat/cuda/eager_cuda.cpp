// impls/eager_concat/cuda/eager_cuda.cpp — host side of eager_concat/cuda (g++): cuBLAS
// strided-batched GEMMs (bf16/fp16 in, fp32 compute, output rounded to the dtype) for QK^T and
// P @ V around the row kernel of eager_softmax_kernel.cuh; guarded outputs; event timing.
#include "impls/eager_concat/cuda/eager_cuda.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <string>
#include <utility>
#include <vector>

#include "core/device.h"
#include "core/error.h"
#include "impls/cuda/cuda_util.h"
#include "impls/eager_concat/cuda/eager_softmax_params.h"
#include "impls/families.h"

namespace sinkbench::eager_cuda {

namespace {

void check_cublas(cublasStatus_t st, const char* what, const char* file, int line) {
  if (st == CUBLAS_STATUS_SUCCESS) return;
  throw InternalError(fmt::format("{}:{}: {} failed: {} ({})", file, line, what,
                                  cublasGetStatusName(st), cublasGetStatusString(st)));
}
#define SB_CUBLAS(expr) check_cublas((expr), #expr, __FILE__, __LINE__)

// One handle per process, created on first use. Reduced-precision split-K reductions are
// disallowed: every partial sum stays fp32, the accumulation eager_concat/cpu models (PyTorch's
// default allows them for bf16/fp16; docs/impls/eager_concat_cuda.md). Never destroyed: a
// static destructor may run after the CUDA context is gone.
cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t made = nullptr;
    SB_CUBLAS(cublasCreate(&made));
    SB_CUBLAS(cublasSetMathMode(
        made,
        cublasMath_t(CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
    return made;
  }();
  return h;
}

cudaDataType_t cuda_type(DType t) {
  return t == DType::bf16 ? CUDA_R_16BF : CUDA_R_16F;
}

}  // namespace

int64_t logits_bytes(const CaseSpec& c) {
  int64_t most = 0;
  for (int s = 0; s < c.num_seqs(); ++s)
    most = std::max(most, c.sq(s) * c.sk(s));
  return most * c.heads_q * dtype_size(c.dtype);
}

Support supports_case(const CaseSpec& c) {
  if (c.dtype != DType::bf16 && c.dtype != DType::f16)
    return Support::no(
        "fp32 inputs: eager_concat/cuda is built for bf16/fp16 storage (GEMM outputs and P "
        "rounded to the dtype); eager_concat/cpu covers fp32");
  if (c.heads_kv <= 0 || c.heads_q % c.heads_kv != 0)
    return Support::no("heads_q must be a multiple of heads_kv");
  for (int s = 0; s < c.num_seqs(); ++s)
    if (c.sq(s) > INT_MAX || c.sk(s) > INT_MAX)
      return Support::no("a sequence longer than 2^31 - 1 (cuBLAS takes int dimensions)");
  const int64_t bytes = logits_bytes(c);
  if (bytes > kLogitsBudgetBytes)
    return Support::no(
        fmt::format("eager materialises [Hq, Sq, Sk] logits: {:.1f} GiB exceeds the {} GiB budget",
                    double(bytes) / double(int64_t(1) << 30), kLogitsBudgetBytes >> 30));
  return cuda::target_device_support();
}

namespace {

cuda::DeviceBuffer upload(const Tensor& t) {
  cuda::DeviceBuffer b(std::max<size_t>(1, size_t(t.nbytes())));
  b.upload(t.data(), size_t(t.nbytes()));
  return b;
}

// One case's eager pass over device K/V. The constructor uploads q and the sinks and allocates
// the logits and the guarded outputs; run() poisons the outputs and launches, per sequence, the
// QK^T GEMMs, the row kernel and the P@V GEMMs.
class EagerDeviceCase final : public PreparedForward {
 public:
  EagerDeviceCase(const CaseSpec& c, const Inputs& in, DeviceKV kv, std::string name);
  double run() override;
  ForwardResult fetch() override;

 private:
  void launch_sequence(int s);
  void launch_qk(int s);
  void launch_row_kernel(int s);
  void launch_pv(int s);

  CaseSpec case_;
  Layout layout_;
  float scale_;
  DeviceKV kv_;
  std::string name_;
  size_t es_;  // bytes per element of the dtype
  int group_;  // query heads per KV head
  bool has_sinks_;
  cuda::DeviceBuffer q_, sinks_, logits_;
  cuda::GuardedBuffer o_, lse_;
  double seconds_ = 0;
};

EagerDeviceCase::EagerDeviceCase(const CaseSpec& c, const Inputs& in, DeviceKV kv, std::string name)
    : case_(c),
      layout_(in.layout),
      scale_(in.scale),
      kv_(kv),
      name_(std::move(name)),
      es_(size_t(dtype_size(c.dtype))),
      group_(in.layout.heads_q / in.layout.heads_kv),
      has_sinks_(!in.sinks.empty()),
      q_(upload(in.q)),
      logits_(std::max<size_t>(1, size_t(logits_bytes(c)))),
      o_(layout_.total_q() * layout_.heads_q * layout_.head_dim, int(es_)),
      lse_(layout_.lse_size(), int(sizeof(float))) {
  if (has_sinks_) {
    sinks_ = cuda::DeviceBuffer(in.sinks.size() * sizeof(float));
    sinks_.upload(in.sinks.data(), in.sinks.size() * sizeof(float));
  }
}

double EagerDeviceCase::run() {
  SB_CUBLAS(cublasSetStream(handle(), nullptr));
  seconds_ = cuda::timed_run(o_, lse_, nullptr, [&] {
    for (int s = 0; s < layout_.seqs; ++s)
      if (layout_.sq(s) > 0) launch_sequence(s);
  });
  return seconds_;
}

ForwardResult EagerDeviceCase::fetch() {
  ForwardResult r = cuda::fetch_outputs(case_, layout_, o_, lse_, name_);
  r.seconds = seconds_;
  return r;
}

void EagerDeviceCase::launch_sequence(int s) {
  if (layout_.sk(s) > 0) launch_qk(s);
  launch_row_kernel(s);
  if (layout_.sk(s) > 0) {
    launch_pv(s);
    return;
  }
  // No key: o = 0 (no GEMM over an empty k dimension).
  const int64_t q_row = int64_t(layout_.heads_q) * layout_.head_dim;
  char* o_seq = static_cast<char*>(o_.data()) + size_t(layout_.cu_q[size_t(s)] * q_row) * es_;
  SB_CUDA(cudaMemsetAsync(o_seq, 0, size_t(layout_.sq(s) * q_row) * es_, nullptr));
}

// QK^T per KV head g: row-major S_h [Sq, Sk] is column-major S_h^T = K_g Q_h^T. The group's query
// heads are one strided batch: Q_h steps by D, K_g is shared (stride 0, no copy).
void EagerDeviceCase::launch_qk(int s) {
  const Layout& L = layout_;
  const int hq = L.heads_q, hkv = L.heads_kv, D = L.head_dim;
  const int64_t sq = L.sq(s), sk = L.sk(s), head_elems = sq * sk;
  const int64_t q0 = L.cu_q[size_t(s)], k0 = L.cu_k[size_t(s)];
  const int64_t q_row = int64_t(hq) * D, kv_row = int64_t(hkv) * D;
  const cudaDataType_t dt = cuda_type(case_.dtype);
  const float one = 1.f, zero = 0.f;
  auto* qp = static_cast<const char*>(q_.get());
  auto* kp = static_cast<const char*>(kv_.k);
  auto* lp = static_cast<char*>(logits_.get());
  for (int g = 0; g < hkv; ++g) {
    SB_CUBLAS(
        cublasGemmStridedBatchedEx(handle(), CUBLAS_OP_T, CUBLAS_OP_N, int(sk), int(sq), D, &one,
                                   kp + size_t((k0 * hkv + g) * D) * es_, dt, int(kv_row), 0,
                                   qp + size_t((q0 * hq + g * group_) * D) * es_, dt, int(q_row), D,
                                   &zero, lp + size_t(g * group_ * head_elems) * es_, dt, int(sk),
                                   head_elems, group_, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
}

void EagerDeviceCase::launch_row_kernel(int s) {
  const Layout& L = layout_;
  SoftmaxParams p;
  p.logits = logits_.get();
  p.lse = static_cast<float*>(lse_.data());
  p.maybe_sinks = has_sinks_ ? static_cast<const float*>(sinks_.get()) : nullptr;
  p.sq = L.sq(s);
  p.sk = L.sk(s);
  p.heads_q = L.heads_q;
  p.lse_base = L.lse_offset(s, 0, 0);
  p.lse_head_stride = L.lse_strides().head_stride;
  p.mask = case_.mask;
  p.scale = scale_;
  p.mask_value = float(-dtype_max(case_.dtype));
  SB_CUDA(case_.dtype == DType::bf16 ? launch_softmax<DType::bf16>(p, nullptr)
                                     : launch_softmax<DType::f16>(p, nullptr));
}

// P @ V per KV head g: row-major O_h [Sq, D] (row stride Hq D) is column-major O_h^T = V_g^T P_h^T;
// the group's P_h step by Sq Sk, V_g is shared (stride 0).
void EagerDeviceCase::launch_pv(int s) {
  const Layout& L = layout_;
  const int hq = L.heads_q, hkv = L.heads_kv, D = L.head_dim;
  const int64_t sq = L.sq(s), sk = L.sk(s), head_elems = sq * sk;
  const int64_t q0 = L.cu_q[size_t(s)], k0 = L.cu_k[size_t(s)];
  const int64_t q_row = int64_t(hq) * D, kv_row = int64_t(hkv) * D;
  const cudaDataType_t dt = cuda_type(case_.dtype);
  const float one = 1.f, zero = 0.f;
  auto* vp = static_cast<const char*>(kv_.v);
  auto* lp = static_cast<char*>(logits_.get());
  char* o_seq = static_cast<char*>(o_.data()) + size_t(q0 * q_row) * es_;
  for (int g = 0; g < hkv; ++g) {
    SB_CUBLAS(cublasGemmStridedBatchedEx(handle(), CUBLAS_OP_N, CUBLAS_OP_N, D, int(sq), int(sk),
                                         &one, vp + size_t((k0 * hkv + g) * D) * es_, dt,
                                         int(kv_row), 0, lp + size_t(g * group_ * head_elems) * es_,
                                         dt, int(sk), head_elems, &zero,
                                         o_seq + size_t(g * group_ * D) * es_, dt, int(q_row), D,
                                         group_, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
}

// eager_concat/cuda proper: K and V uploaded from the host inputs and kept with the pass over them.
class EagerConcatCase final : public PreparedForward {
 public:
  EagerConcatCase(const CaseSpec& c, const Inputs& in, const std::string& name)
      : k_(upload(in.k)), v_(upload(in.v)), pass_(c, in, DeviceKV{k_.get(), v_.get()}, name) {}
  double run() override { return pass_.run(); }
  ForwardResult fetch() override { return pass_.fetch(); }

 private:
  cuda::DeviceBuffer k_, v_;  // declared before pass_, which reads them
  EagerDeviceCase pass_;
};

}  // namespace

std::unique_ptr<PreparedForward> prepare_device_kv(const CaseSpec& c, const Inputs& in, DeviceKV kv,
                                                   const std::string& name) {
  return std::make_unique<EagerDeviceCase>(c, in, kv, name);
}

namespace {

class EagerConcatCuda final : public Impl {
 public:
  explicit EagerConcatCuda(bool softmax_fp32) : softmax_fp32_(softmax_fp32) {}
  std::string name() const override {
    return softmax_fp32_ ? "eager_concat-softmax_fp32/cuda" : "eager_concat/cuda";
  }
  std::string family() const override { return "eager_concat"; }
  Device device() const override { return Device::cuda; }
  std::string description() const override {
    return std::string(softmax_fp32_ ? "transformers eager_paged" : "transformers GPT-OSS eager") +
           " on the GPU: cuBLAS QK^T (fp32 compute, output rounded to the dtype), a row kernel "
           "rounding scale, mask and max subtraction to the dtype, fp32 softmax with the sink "
           "column, P rounded to the dtype, cuBLAS P@V (fp32 compute, output rounded)";
  }
  Support supports(const CaseSpec& c) const override { return supports_case(c); }
  bool rounds_logits(const CaseSpec&) const override { return true; }  // eager: policy v2
  ForwardResult forward(const CaseSpec& c, const Inputs& in) const override {
    return run_once(*prepare(c, in));
  }
  std::unique_ptr<PreparedForward> prepare(const CaseSpec& c, const Inputs& in) const override {
    return std::make_unique<EagerConcatCase>(c, in, name());
  }

 private:
  bool softmax_fp32_;
};

}  // namespace

std::unique_ptr<Impl> make_eager_concat_cuda(bool softmax_fp32) {
  return std::make_unique<EagerConcatCuda>(softmax_fp32);
}

}  // namespace sinkbench::eager_cuda

namespace sinkbench {

void add_eager_concat_cuda(ImplList& out) {
  out.push_back(eager_cuda::make_eager_concat_cuda(/*softmax_fp32=*/false));
  out.push_back(eager_cuda::make_eager_concat_cuda(/*softmax_fp32=*/true));
}

}  // namespace sinkbench
