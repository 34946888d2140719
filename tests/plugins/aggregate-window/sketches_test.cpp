// The bounded summaries behind pNN and count_distinct, tested on their own against exact answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "sketches.hpp"

using namespace cxflow::aggwin;

namespace {

QuantileParams params(std::size_t exact_limit, double alpha = 0.01, std::size_t max_buckets = 2048) {
  QuantileParams p;
  p.exact_limit = exact_limit;
  p.relative_error = alpha;
  p.max_buckets = max_buckets;
  p.init();
  return p;
}

// Nearest rank, the definition the plugin documents: the smallest value such that at least
// q% of the values are <= it.
double exact_percentile(std::vector<double> v, PercentileE4 q) {
  std::sort(v.begin(), v.end());
  return v[nearest_rank(q, v.size()) - 1];
}

constexpr PercentileE4 kP50 = 500000, kP90 = 900000, kP99 = 990000, kP999 = 999000, kP100 = 1000000;

}  // namespace

TEST(NearestRank, IsExactForDecimalPercentiles) {
  EXPECT_EQ(nearest_rank(kP90, 10), 9u);  // 0.9 * 10 is exactly 9, not 9.000001 -> 10
  EXPECT_EQ(nearest_rank(kP50, 10), 5u);
  EXPECT_EQ(nearest_rank(kP50, 11), 6u);
  EXPECT_EQ(nearest_rank(kP999, 1000), 999u);  // 99.9 is not representable as a double
  EXPECT_EQ(nearest_rank(kP999, 1001), 1000u);
  EXPECT_EQ(nearest_rank(kP100, 7), 7u);
  EXPECT_EQ(nearest_rank(1, 7), 1u);  // p0.0001 still picks the first value
}

TEST(Quantiles, ExactBelowTheLimit) {
  auto p = params(100);
  Quantiles q;
  for (int i = 10; i >= 1; --i) q.add(i, p);
  EXPECT_TRUE(q.exact());
  EXPECT_EQ(q.percentile(kP50, p), 5.0);
  EXPECT_EQ(q.percentile(kP90, p), 9.0);
  EXPECT_EQ(q.percentile(kP999, p), 10.0);
  EXPECT_EQ(q.percentile(100000, p), 1.0);  // p10
}

TEST(Quantiles, SketchStaysWithinRelativeErrorOfExactNearestRank) {
  auto p = params(1000);
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(3.0, 1.5);
  std::vector<double> values;
  Quantiles q;
  for (int i = 0; i < 200000; ++i) {
    const double v = dist(rng);
    values.push_back(v);
    q.add(v, p);
  }
  ASSERT_FALSE(q.exact());
  for (PercentileE4 pct : {10000L, 250000L, kP50, kP90, kP99, kP999, kP100}) {
    const double exact = exact_percentile(values, pct);
    const double got = q.percentile(pct, p);
    EXPECT_LE(std::fabs(got - exact) / exact, 0.01 * (1 + 1e-9))
        << "p" << pct / 10000.0 << " exact " << exact << " got " << got;
  }
}

TEST(Quantiles, ZerosAndNegativeValuesKeepTheirOrder) {
  auto p = params(0);  // sketch from the first value
  std::vector<double> values;
  Quantiles q;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(-500, 500);
  for (int i = 0; i < 50000; ++i) {
    double v = i % 5 == 0 ? 0.0 : u(rng);
    values.push_back(v);
    q.add(v, p);
  }
  for (PercentileE4 pct : {10000L, 200000L, 400000L, kP50, kP90, kP99}) {
    const double exact = exact_percentile(values, pct);
    const double got = q.percentile(pct, p);
    if (exact == 0)
      EXPECT_EQ(got, 0.0);
    else
      EXPECT_LE(std::fabs(got - exact) / std::fabs(exact), 0.01 * (1 + 1e-9)) << pct;
  }
}

TEST(Quantiles, BucketLimitCollapsesOnlyTheSmallestValues) {
  // 64 buckets at 1% cover a ratio of ~3.6 between the smallest and largest value kept apart.
  auto p = params(0, 0.01, 64);
  std::vector<double> values;
  Quantiles q;
  for (int i = 1; i <= 10000; ++i) {
    const double v = std::pow(1.001, i);  // 1.001 .. ~21900
    values.push_back(v);
    q.add(v, p);
  }
  for (PercentileE4 pct : {kP99, kP999, kP100}) {
    const double exact = exact_percentile(values, pct);
    EXPECT_LE(std::fabs(q.percentile(pct, p) - exact) / exact, 0.01 * (1 + 1e-9));
  }
  // The collapsed low end over-reports (everything small sits in the lowest kept bucket).
  EXPECT_GT(q.percentile(10000, p), exact_percentile(values, 10000));
}

TEST(Distinct, ExactUpToTheLimit) {
  DistinctParams p;
  p.exact_limit = 1000;
  Distinct d;
  for (int round = 0; round < 3; ++round)
    for (int i = 0; i < 1000; ++i) d.add(hash_bytes("v" + std::to_string(i)), p);
  EXPECT_TRUE(d.exact());
  EXPECT_EQ(d.estimate(p), 1000u);
  d.add(hash_bytes("one more"), p);
  EXPECT_FALSE(d.exact());
}

TEST(Distinct, HyperLogLogErrorAcrossTheRange) {
  // p = 14: standard error 0.81%; 3% is more than 3.5 sigma at every size.
  for (std::uint64_t n : {1ULL, 10ULL, 100ULL, 1000ULL, 20000ULL, 50000ULL, 100000ULL, 1000000ULL}) {
    DistinctParams p;
    p.exact_limit = 0;
    Distinct d;
    for (std::uint64_t i = 0; i < n; ++i) {
      d.add(hash_bytes("agent-" + std::to_string(i)), p);
      if (i % 3 == 0) d.add(hash_bytes("agent-" + std::to_string(i)), p);  // repeats change nothing
    }
    const double est = static_cast<double>(d.estimate(p));
    EXPECT_LT(std::fabs(est - static_cast<double>(n)) / static_cast<double>(n), 0.03)
        << "n=" << n << " estimate=" << est;
  }
}

TEST(Distinct, EmptyHyperLogLogIsZero) {
  std::vector<std::uint8_t> regs(1 << 14, 0);
  EXPECT_EQ(hll_estimate(regs, 14), 0.0);
}
