// impls/eager_concat/cuda/eager_cuda.cpp — host side of eager_concat/cuda (g++): cuBLAS
// strided-batched GEMMs (bf16/fp16 in, fp32 compute, output rounded to the dtype) for QK^T and
// P @ V around the row kernel of eager_softmax_kernel.cuh; the backward's GEMMs (QK^T and dO V^T,
// dS K, per-head dS^T Q and P^T dO) around the row kernels of eager_bwd_kernel.cuh; guarded
// outputs; event timing.
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
#include "impls/cuda/dispatch.h"
#include "impls/eager_concat/cuda/eager_bwd_params.h"
#include "impls/eager_concat/cuda/eager_softmax_params.h"
#include "impls/eager_concat/eager_concat.h"
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

// The GEMMs of both passes, per sequence s of layout L, row-major as eager writes them. "q-like"
// operands are packed [total_q, Hq, D] (q, dO, o, dq), "k-like" ones [total_k, Hkv, D] (k, v),
// the score buffers [Hq, Sq, Sk] of the sequence (logits, P, dP, dS). cuBLAS is column-major, so
// each row-major product is computed transposed. Within a KV head g's group the query heads are
// one strided batch with the k-like operand shared (batch stride 0): GQA without copies.
struct SeqGemm {
  const Layout& L;
  cudaDataType_t dt;
  size_t es;  // bytes per element
  int s;
  int group() const { return L.heads_q / L.heads_kv; }
  int64_t q_row() const { return int64_t(L.heads_q) * L.head_dim; }
  int64_t kv_row() const { return int64_t(L.heads_kv) * L.head_dim; }
  int64_t head_elems() const { return L.sq(s) * L.sk(s); }
  // base + elems elements; one pointer type for cuBLAS's const inputs and its output.
  char* at(const void* base, int64_t elems) const {
    return const_cast<char*>(static_cast<const char*>(base)) + size_t(elems) * es;
  }
  char* q_like(const void* base, int64_t head) const {
    return at(base, (L.cu_q[size_t(s)] * L.heads_q + head) * L.head_dim);
  }
  char* k_like(const void* base, int g) const {
    return at(base, (L.cu_k[size_t(s)] * L.heads_kv + g) * L.head_dim);
  }
  char* scores(const void* base, int64_t head) const { return at(base, head * head_elems()); }

  // scores_h [Sq, Sk] = A_h B_g^T (A q-like, B k-like): QK^T and dO V^T. Column-major
  // scores_h^T = B_g A_h^T.
  void rows_by_keys(const void* a, const void* b, void* out) const {
    const float one = 1.f, zero = 0.f;
    const int D = L.head_dim, G = group();
    for (int g = 0; g < L.heads_kv; ++g)
      SB_CUBLAS(cublasGemmStridedBatchedEx(
          handle(), CUBLAS_OP_T, CUBLAS_OP_N, int(L.sk(s)), int(L.sq(s)), D, &one, k_like(b, g), dt,
          int(kv_row()), 0, q_like(a, int64_t(g) * G), dt, int(q_row()), D, &zero,
          scores(out, int64_t(g) * G), dt, int(L.sk(s)), head_elems(), G, CUBLAS_COMPUTE_32F,
          CUBLAS_GEMM_DEFAULT));
  }
  // out_h [Sq, D] (q-like) = X_h B_g (X scores, B k-like): P V and dS K. Column-major
  // out_h^T = B_g^T X_h^T.
  void rows_by_dim(const void* x, const void* b, void* out) const {
    const float one = 1.f, zero = 0.f;
    const int D = L.head_dim, G = group();
    for (int g = 0; g < L.heads_kv; ++g)
      SB_CUBLAS(cublasGemmStridedBatchedEx(
          handle(), CUBLAS_OP_N, CUBLAS_OP_N, D, int(L.sq(s)), int(L.sk(s)), &one, k_like(b, g), dt,
          int(kv_row()), 0, scores(x, int64_t(g) * G), dt, int(L.sk(s)), head_elems(), &zero,
          q_like(out, int64_t(g) * G), dt, int(q_row()), D, G, CUBLAS_COMPUTE_32F,
          CUBLAS_GEMM_DEFAULT));
  }
  // out_h [Sk, D] per query head h, into an [Sk, Hq, D] buffer, = X_h^T A_h (X scores, A q-like):
  // dS^T Q and P^T dO, every query head one strided batch (nothing shared). Column-major
  // out_h^T = A_h^T X_h.
  void keys_by_dim(const void* x, const void* a, void* out) const {
    const float one = 1.f, zero = 0.f;
    const int D = L.head_dim;
    SB_CUBLAS(cublasGemmStridedBatchedEx(
        handle(), CUBLAS_OP_N, CUBLAS_OP_T, D, int(L.sk(s)), int(L.sq(s)), &one, q_like(a, 0), dt,
        int(q_row()), D, scores(x, 0), dt, int(L.sk(s)), head_elems(), &zero, out, dt, int(q_row()),
        D, L.heads_q, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
};

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

// QK^T: the group's query heads one strided batch over the shared K_g (SeqGemm).
void EagerDeviceCase::launch_qk(int s) {
  SeqGemm{layout_, cuda_type(case_.dtype), es_, s}.rows_by_keys(q_.get(), kv_.k, logits_.get());
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

// P @ V, written straight into the guarded o (beta = 0: the poison is never read).
void EagerDeviceCase::launch_pv(int s) {
  SeqGemm{layout_, cuda_type(case_.dtype), es_, s}.rows_by_dim(logits_.get(), kv_.v, o_.data());
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

// The backward as autograd runs it through the eager graph (eager_concat/cpu's backward,
// docs/impls/eager_concat_cuda.md). The constructor uploads the inputs, dO and the sinks and
// allocates the score buffers and guarded gradients; run() poisons the gradients and launches, per
// sequence: QK^T (the saved logits recomputed) and dO V^T, the row kernel (P and dS in place),
// dS K into dq, the per-head dS^T Q and P^T dO and their group sum into dk and dv; then the
// dsinks sum. The forward's outputs are not read: P is recomputed bit for bit from the products.
class EagerBwdCase final : public PreparedBackward {
 public:
  EagerBwdCase(const CaseSpec& c, const Inputs& in, const GradInputs& g, bool softmax_fp32,
               std::string name);
  double run() override;
  BackwardResult fetch() override;

 private:
  void launch_sequence(int s);
  void launch_row_kernel(int s);
  void launch_dkdv_sum(int s);
  void zero_q_rows(const cuda::GuardedBuffer& t, int s);
  void zero_k_rows(const cuda::GuardedBuffer& t, int s);

  CaseSpec case_;
  Layout layout_;
  float scale_;
  bool softmax_fp32_;
  std::string name_;
  size_t es_;
  bool has_sinks_;
  cuda::DeviceBuffer q_, k_, v_, d_o_, sinks_;
  cuda::DeviceBuffer p_, ds_;               // [Hq, Sq, Sk] of the sequence in flight
  cuda::DeviceBuffer dk_heads_, dv_heads_;  // [Sk, Hq, D] of the sequence in flight
  cuda::DeviceBuffer dsink_rows_;           // [Hq, total_q] fp32
  cuda::GuardedBuffer dq_, dk_, dv_, dsinks_;
  double seconds_ = 0;
};

EagerBwdCase::EagerBwdCase(const CaseSpec& c, const Inputs& in, const GradInputs& g,
                           bool softmax_fp32, std::string name)
    : case_(c),
      layout_(in.layout),
      scale_(in.scale),
      softmax_fp32_(softmax_fp32),
      name_(std::move(name)),
      es_(size_t(dtype_size(c.dtype))),
      has_sinks_(!in.sinks.empty()),
      q_(upload(in.q)),
      k_(upload(in.k)),
      v_(upload(in.v)),
      d_o_(upload(g.d_o)),
      p_(std::max<size_t>(1, size_t(logits_bytes(c)))),
      ds_(std::max<size_t>(1, size_t(logits_bytes(c)))),
      dq_(layout_.total_q() * layout_.heads_q * layout_.head_dim, int(es_)),
      dk_(layout_.total_k() * layout_.heads_kv * layout_.head_dim, int(es_)),
      dv_(layout_.total_k() * layout_.heads_kv * layout_.head_dim, int(es_)) {
  int64_t max_sk = 0;
  for (int s = 0; s < layout_.seqs; ++s)
    max_sk = std::max(max_sk, layout_.sk(s));
  const size_t per_head_bytes =
      std::max<size_t>(1, size_t(max_sk * layout_.heads_q * layout_.head_dim) * es_);
  dk_heads_ = cuda::DeviceBuffer(per_head_bytes);
  dv_heads_ = cuda::DeviceBuffer(per_head_bytes);
  if (has_sinks_) {
    sinks_ = cuda::DeviceBuffer(in.sinks.size() * sizeof(float));
    sinks_.upload(in.sinks.data(), in.sinks.size() * sizeof(float));
    dsink_rows_ = cuda::DeviceBuffer(
        std::max<size_t>(1, size_t(layout_.heads_q * layout_.total_q()) * sizeof(float)));
    dsinks_ = cuda::GuardedBuffer(layout_.heads_q, int(sizeof(float)));
  }
}

double EagerBwdCase::run() {
  SB_CUBLAS(cublasSetStream(handle(), nullptr));
  dq_.poison();
  dk_.poison();
  dv_.poison();
  if (has_sinks_) dsinks_.poison();
  cuda::EventTimer timer;
  timer.start();
  for (int s = 0; s < layout_.seqs; ++s)
    launch_sequence(s);
  if (has_sinks_) {
    DsinksParams p;
    p.dsink_rows = static_cast<const float*>(dsink_rows_.get());
    p.dsinks = static_cast<float*>(dsinks_.data());
    p.total_q = layout_.total_q();
    p.heads_q = layout_.heads_q;
    SB_CUDA(cuda::dispatch_dtype(case_.dtype,
                                 [&]<DType T>() { return launch_dsinks_sum<T>(p, nullptr); }));
  }
  timer.stop();
  seconds_ = timer.seconds();
  SB_CUDA(cudaGetLastError());
  return seconds_;
}

BackwardResult EagerBwdCase::fetch() {
  const CaseSpec& c = case_;
  BackwardResult r;
  r.dq = Tensor(c.dtype, {layout_.total_q(), c.heads_q, c.head_dim});
  r.dk = Tensor(c.dtype, {layout_.total_k(), c.heads_kv, c.head_dim});
  r.dv = Tensor(c.dtype, {layout_.total_k(), c.heads_kv, c.head_dim});
  const std::string of = " of " + case_label(c);
  dq_.fetch_checked(r.dq.data(), name_ + " dq" + of);
  dk_.fetch_checked(r.dk.data(), name_ + " dk" + of);
  dv_.fetch_checked(r.dv.data(), name_ + " dv" + of);
  if (has_sinks_) {
    r.dsinks.resize(size_t(c.heads_q));
    dsinks_.fetch_checked(r.dsinks.data(), name_ + " dsinks" + of);
  }
  r.seconds = seconds_;
  return r;
}

void EagerBwdCase::zero_q_rows(const cuda::GuardedBuffer& t, int s) {
  const int64_t row = int64_t(layout_.heads_q) * layout_.head_dim;
  SB_CUDA(
      cudaMemsetAsync(static_cast<char*>(t.data()) + size_t(layout_.cu_q[size_t(s)] * row) * es_, 0,
                      size_t(layout_.sq(s) * row) * es_, nullptr));
}

void EagerBwdCase::zero_k_rows(const cuda::GuardedBuffer& t, int s) {
  const int64_t row = int64_t(layout_.heads_kv) * layout_.head_dim;
  SB_CUDA(
      cudaMemsetAsync(static_cast<char*>(t.data()) + size_t(layout_.cu_k[size_t(s)] * row) * es_, 0,
                      size_t(layout_.sk(s) * row) * es_, nullptr));
}

void EagerBwdCase::launch_sequence(int s) {
  if (layout_.sq(s) == 0) {  // no query sees these keys
    zero_k_rows(dk_, s);
    zero_k_rows(dv_, s);
    return;
  }
  const SeqGemm gemm{layout_, cuda_type(case_.dtype), es_, s};
  if (layout_.sk(s) == 0) {  // no key: dq = 0; the row kernel still gives the sink rows
    zero_q_rows(dq_, s);
    launch_row_kernel(s);
    return;
  }
  gemm.rows_by_keys(q_.get(), k_.get(), p_.get());          // the products, as the forward
  gemm.rows_by_keys(d_o_.get(), v_.get(), ds_.get());       // dP = dO V^T
  launch_row_kernel(s);                                     // P and dS in place
  gemm.rows_by_dim(ds_.get(), k_.get(), dq_.data());        // dq = dS K
  gemm.keys_by_dim(ds_.get(), q_.get(), dk_heads_.get());   // per head dS^T Q
  gemm.keys_by_dim(p_.get(), d_o_.get(), dv_heads_.get());  // per head P^T dO
  launch_dkdv_sum(s);
}

void EagerBwdCase::launch_row_kernel(int s) {
  const Layout& L = layout_;
  SoftmaxBwdParams p;
  p.p = p_.get();
  p.ds = ds_.get();
  p.maybe_sinks = has_sinks_ ? static_cast<const float*>(sinks_.get()) : nullptr;
  p.dsink_rows = has_sinks_ ? static_cast<float*>(dsink_rows_.get()) : nullptr;
  p.dsink_row0 = L.cu_q[size_t(s)];
  p.total_q = L.total_q();
  p.sq = L.sq(s);
  p.sk = L.sk(s);
  p.heads_q = L.heads_q;
  p.mask = case_.mask;
  p.scale = scale_;
  p.mask_value = float(-dtype_max(case_.dtype));
  p.p_fp32 = softmax_fp32_;
  SB_CUDA(cuda::dispatch_dtype(case_.dtype,
                               [&]<DType T>() { return launch_softmax_bwd<T>(p, nullptr); }));
}

void EagerBwdCase::launch_dkdv_sum(int s) {
  const Layout& L = layout_;
  const int64_t k_off = L.cu_k[size_t(s)] * L.heads_kv * L.head_dim;
  GroupSumParams p;
  p.dk_heads = dk_heads_.get();
  p.dv_heads = dv_heads_.get();
  p.dk = static_cast<char*>(dk_.data()) + size_t(k_off) * es_;
  p.dv = static_cast<char*>(dv_.data()) + size_t(k_off) * es_;
  p.sk = L.sk(s);
  p.heads_q = L.heads_q;
  p.heads_kv = L.heads_kv;
  p.head_dim = L.head_dim;
  SB_CUDA(cuda::dispatch_dtype(case_.dtype,
                               [&]<DType T>() { return launch_group_sum<T>(p, nullptr); }));
}

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

  // No dL/dlse (eager returns no lse: eager_concat/cpu's reason), and the forward's limits: the
  // backward holds two score buffers of the forward's size (P and dS).
  Support supports_backward(const CaseSpec& c) const override {
    const Support s = eager_supports_backward(c);
    return s.ok ? supports_case(c) : s;
  }
  BackwardResult backward(const CaseSpec& c, const Inputs& in, const ForwardResult& fwd,
                          const GradInputs& g) const override {
    const std::unique_ptr<PreparedBackward> p = prepare_backward(c, in, fwd, g);
    p->run();
    return p->fetch();
  }
  // The forward's outputs are not read: the backward recomputes P from QK^T, as autograd reads
  // the saved softmax output of the same rounding points.
  std::unique_ptr<PreparedBackward> prepare_backward(const CaseSpec& c, const Inputs& in,
                                                     const ForwardResult&,
                                                     const GradInputs& g) const override {
    return std::make_unique<EagerBwdCase>(c, in, g, softmax_fp32_, name());
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
