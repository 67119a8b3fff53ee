// tests/tools/timed_forward_test.cpp — the loop `sinkbench bench` times (TimedForward,
// tools/sinkbench/bench.h), driven by implementations of this test that count their calls: one
// that offers prepare() (set up once, run() per iteration, fetch() at the check) and one that
// does not (a whole forward() per iteration). No GPU needed.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

#include "core/error.h"
#include "tools/sinkbench/bench.h"

namespace sinkbench {
namespace {

struct Calls {
  int prepare = 0, run = 0, fetch = 0, forward = 0, flush = 0;
  bool fail_fetch = false;  // fetch() reports a broken guard
};

class CountingPrepared final : public PreparedForward {
 public:
  explicit CountingPrepared(Calls& calls) : calls_(calls) {}
  double run() override { return 0.25 * ++calls_.run; }  // distinct times, in call order
  ForwardResult fetch() override {
    ++calls_.fetch;
    if (calls_.fail_fetch) throw InternalError("counting/cuda: guard margin written");
    return {};
  }

 private:
  Calls& calls_;
};

// A stand-in for a device implementation (offers prepare) or a CPU one (does not).
class CountingImpl final : public Impl {
 public:
  CountingImpl(Calls& calls, bool offers_prepare) : calls_(calls), offers_(offers_prepare) {}
  std::string name() const override { return offers_ ? "counting/cuda" : "counting/cpu"; }
  std::string family() const override { return "tiled"; }
  Device device() const override { return offers_ ? Device::cuda : Device::cpu; }
  std::string description() const override { return "counts its calls"; }
  Support supports(const CaseSpec&) const override { return Support::yes(); }
  ForwardResult forward(const CaseSpec&, const Inputs&) const override {
    ++calls_.forward;
    ForwardResult r;
    r.seconds = 0.5;
    return r;
  }
  std::unique_ptr<PreparedForward> prepare(const CaseSpec&, const Inputs&) const override {
    if (!offers_) return nullptr;
    ++calls_.prepare;
    return std::make_unique<CountingPrepared>(calls_);
  }

 private:
  Calls& calls_;
  bool offers_;
};

TEST(TimedForward, PreparesOnceThenRunsEachIterationAndFetchesAtTheCheck) {
  Calls calls;
  const CountingImpl impl(calls, /*offers_prepare=*/true);
  const CaseSpec c;
  const Inputs in;
  TimedForward f(impl, c, in, [&] { ++calls.flush; });
  EXPECT_TRUE(f.prepared());
  EXPECT_EQ(calls.prepare, 1);
  EXPECT_EQ(calls.run, 1);  // the untimed warm-up
  EXPECT_EQ(calls.flush, 0);
  for (int i = 2; i <= 4; ++i) {
    EXPECT_DOUBLE_EQ(f.iterate(), 0.25 * i);  // the time is run()'s own
    EXPECT_EQ(calls.flush, i - 1);            // flushed before each timed run
  }
  EXPECT_EQ(calls.fetch, 0);  // nothing read back inside the timed iterations
  f.check();
  EXPECT_EQ(calls.prepare, 1);
  EXPECT_EQ(calls.run, 4);
  EXPECT_EQ(calls.fetch, 1);
  EXPECT_EQ(calls.forward, 0);
}

TEST(TimedForward, ABrokenGuardFailsTheCheck) {
  Calls calls;
  calls.fail_fetch = true;
  const CountingImpl impl(calls, /*offers_prepare=*/true);
  const CaseSpec c;
  const Inputs in;
  TimedForward f(impl, c, in);
  f.iterate();
  EXPECT_THROW(f.check(), InternalError);
}

TEST(TimedForward, WithoutPrepareEachIterationIsAWholeForward) {
  Calls calls;
  const CountingImpl impl(calls, /*offers_prepare=*/false);
  const CaseSpec c;
  const Inputs in;
  TimedForward f(impl, c, in, [&] { ++calls.flush; });
  EXPECT_FALSE(f.prepared());
  EXPECT_EQ(calls.forward, 1);  // the untimed warm-up
  EXPECT_DOUBLE_EQ(f.iterate(), 0.5);
  EXPECT_DOUBLE_EQ(f.iterate(), 0.5);
  f.check();
  EXPECT_EQ(calls.forward, 3);
  EXPECT_EQ(calls.flush, 2);
  EXPECT_EQ(calls.prepare + calls.run + calls.fetch, 0);
}

}  // namespace
}  // namespace sinkbench
