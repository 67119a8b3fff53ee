// bench/bench_oracle.cpp — speed of the FP64 oracle in GFLOP/s over visible (i, j) pairs
// (forward: 4 * D flops per pair; backward: 2.5x that, the FlashAttention-2 backward's count), on
// one thread unless the arguments say otherwise.
#include <benchmark/benchmark.h>
#include <omp.h>

#include "cases/flop_model.h"
#include "oracle/grad_verdict.h"
#include "oracle/oracle.h"
#include "oracle/oracle_bwd.h"

namespace sinkbench {
namespace {

// The benchmarks' case from their Args: heads_q, S, window (0 = causal); bf16, Hkv 8, D 64.
CaseSpec bench_case(const benchmark::State& state) {
  CaseSpec c;
  c.dtype = DType::bf16;
  c.heads_q = int(state.range(0));
  c.heads_kv = 8;
  c.head_dim = 64;
  c.seqlen_q = c.seqlen_k = state.range(1);
  c.mask = state.range(2) == 0 ? MaskRule{MaskKind::causal}
                               : MaskRule{MaskKind::sliding_window, state.range(2)};
  return c;
}

void BM_OracleForward(benchmark::State& state) {
  CaseSpec c = bench_case(state);
  omp_set_num_threads(int(state.range(3)));
  const Inputs in = generate(c);
  for (auto _ : state)
    benchmark::DoNotOptimize(oracle_forward(c, in));
  state.counters["GFLOP/s"] =
      benchmark::Counter(forward_flops(c) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(case_label(c));
}

// Args: heads_q, S, window (0 = causal), threads.
BENCHMARK(BM_OracleForward)
    ->Args({64, 2048, 0, 1})
    ->Args({64, 2048, 128, 1})
    ->Args({64, 2048, 0, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

void BM_OracleBackward(benchmark::State& state) {
  CaseSpec c = bench_case(state);
  c.grad = GradKind::d_o;
  c.dlse = DlseKind::normal;
  omp_set_num_threads(int(state.range(3)));
  const Inputs in = generate(c);
  const GradInputs g = generate_grads(c, in.layout);
  const LogitErrorModel e = grad_logit_error(c);
  for (auto _ : state)
    benchmark::DoNotOptimize(oracle_backward(c, in, g, e));
  state.counters["GFLOP/s"] = benchmark::Counter(2.5 * forward_flops(c) / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(case_label(c));
}

// Args: heads_q, S, window (0 = causal), threads.
BENCHMARK(BM_OracleBackward)
    ->Args({64, 2048, 0, 1})
    ->Args({64, 2048, 0, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace
}  // namespace sinkbench

BENCHMARK_MAIN();
