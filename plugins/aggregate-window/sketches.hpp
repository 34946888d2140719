// Bounded-memory summaries used by aggregate-window:
//
//  - Quantiles: exact values up to `exact_limit`, then a DDSketch-style log-bucket histogram
//    whose answers are within `relative_error` of the exact nearest-rank percentile.
//  - Distinct: an exact set of 64-bit value hashes up to `exact_limit` values, then a
//    HyperLogLog with 2^precision registers (Ertl's improved raw estimator, no bias tables).
//
// Neither class knows about events; both are plain values so they can be tested on their own.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace cxflow::aggwin {

// ---- Hashing ----------------------------------------------------------------------------------

// 64-bit hash of a byte string with well-mixed bits (HyperLogLog uses the top bits).
std::uint64_t hash_bytes(std::string_view bytes) noexcept;

// ---- Quantiles ----------------------------------------------------------------------------------

struct QuantileParams {
  std::size_t exact_limit = 1000;  // values kept exactly before switching to the sketch
  double relative_error = 0.01;    // alpha of the log buckets
  std::size_t max_buckets = 2048;  // per sign; beyond it the smallest-magnitude buckets collapse

  // Derived (call init() after changing the fields above).
  double gamma = 0;
  double log_gamma = 0;
  double min_indexable = 1e-9;  // |v| below this counts as zero
  void init();
};

// A percentile given as an exact fraction: 90 -> 900000, 99.9 -> 999000 (units of 1e-4 %).
using PercentileE4 = std::int64_t;

// 1-based nearest rank of percentile `q` among `n` values: ceil(q/100 * n), at least 1.
std::uint64_t nearest_rank(PercentileE4 q, std::uint64_t n) noexcept;

class Quantiles {
 public:
  void add(double v, const QuantileParams& p);
  std::uint64_t count() const noexcept { return count_; }
  bool exact() const noexcept { return !sketch_; }
  // Nearest-rank percentile (count() must be > 0). Sorts the exact values on first use, so call
  // it only once the summary is complete.
  double percentile(PercentileE4 q, const QuantileParams& p);

 private:
  struct Store {
    std::vector<std::uint64_t> counts;  // counts[i] is bucket index (offset + i)
    std::int32_t offset = 0;
    void add(std::int32_t index, std::uint64_t n, std::size_t max_buckets);
  };
  struct Sketch {
    Store positive;
    Store negative;  // indexed by |v|
    std::uint64_t zeros = 0;
  };
  void to_sketch(const QuantileParams& p);
  void sketch_add(double v, const QuantileParams& p);

  std::vector<double> values_;
  bool sorted_ = false;
  std::unique_ptr<Sketch> sketch_;
  std::uint64_t count_ = 0;
};

// ---- Distinct counting ------------------------------------------------------------------------

struct DistinctParams {
  std::size_t exact_limit = 10000;
  int precision = 14;  // HyperLogLog registers = 2^precision; std error ~ 1.04 / sqrt(2^precision)
};

class Distinct {
 public:
  void add(std::uint64_t hash, const DistinctParams& p);
  std::uint64_t estimate(const DistinctParams& p) const;
  bool exact() const noexcept { return registers_.empty(); }

 private:
  void insert_exact(std::uint64_t h);
  void grow();
  void to_hll(const DistinctParams& p);
  void hll_add(std::uint64_t h, const DistinctParams& p) noexcept;

  // Open-addressing set of hashes; 0 marks an empty slot (a real hash of 0 is stored as 1).
  std::vector<std::uint64_t> table_;
  std::size_t size_ = 0;
  std::vector<std::uint8_t> registers_;
};

// Ertl's improved raw estimator over register values (exposed for tests).
double hll_estimate(const std::vector<std::uint8_t>& registers, int precision);

}  // namespace cxflow::aggwin
