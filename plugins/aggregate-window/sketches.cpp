#include "sketches.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>

namespace cxflow::aggwin {

std::uint64_t hash_bytes(std::string_view bytes) noexcept {
  // libstdc++'s string hash (MurmurHash64A) followed by the MurmurHash3 finalizer, so every
  // output bit depends on every input bit: HyperLogLog reads the top bits.
  std::uint64_t h = std::hash<std::string_view>{}(bytes);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// ---- Quantiles ----------------------------------------------------------------------------------

void QuantileParams::init() {
  gamma = (1.0 + relative_error) / (1.0 - relative_error);
  log_gamma = std::log(gamma);
}

std::uint64_t nearest_rank(PercentileE4 q, std::uint64_t n) noexcept {
  // ceil(q_e4 * n / 1e6) in integers: exact for every percentile written with up to 4 decimals.
  const unsigned __int128 num = static_cast<unsigned __int128>(q) * n;
  std::uint64_t r = static_cast<std::uint64_t>((num + 999'999) / 1'000'000);
  return std::clamp<std::uint64_t>(r, 1, n == 0 ? 1 : n);
}

void Quantiles::Store::add(std::int32_t index, std::uint64_t n, std::size_t max_buckets) {
  const auto maxb = static_cast<std::int64_t>(max_buckets);
  if (counts.empty()) {
    counts.assign(1, n);
    offset = index;
    return;
  }
  const std::int64_t lo = offset;
  const std::int64_t hi = offset + static_cast<std::int64_t>(counts.size()) - 1;
  if (index >= lo && index <= hi) {
    counts[static_cast<std::size_t>(index - lo)] += n;
    return;
  }
  if (index < lo) {
    // Grow downwards, but never beyond max_buckets: smaller magnitudes collapse into the lowest.
    const std::int64_t new_lo = std::max<std::int64_t>(index, hi - maxb + 1);
    if (new_lo < lo) {
      counts.insert(counts.begin(), static_cast<std::size_t>(lo - new_lo), 0);
      offset = static_cast<std::int32_t>(new_lo);
    }
    counts[0] += n;
    return;
  }
  // index > hi: grow upwards; if the span gets too wide, collapse the lowest buckets.
  if (index - lo + 1 > maxb) {
    const std::int64_t new_lo = index - maxb + 1;
    const std::size_t drop = static_cast<std::size_t>(std::min<std::int64_t>(new_lo - lo, hi - lo + 1));
    std::uint64_t collapsed = 0;
    for (std::size_t i = 0; i < drop; ++i) collapsed += counts[i];
    counts.erase(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(drop));
    offset = static_cast<std::int32_t>(new_lo);
    if (counts.empty()) counts.assign(1, 0);
    counts[0] += collapsed;
  }
  counts.resize(static_cast<std::size_t>(index - offset + 1), 0);
  counts.back() += n;
}

void Quantiles::sketch_add(double v, const QuantileParams& p) {
  const double mag = std::fabs(v);
  if (mag < p.min_indexable) {
    ++sketch_->zeros;
    return;
  }
  const double idx = std::ceil(std::log(mag) / p.log_gamma);
  const auto index = static_cast<std::int32_t>(std::clamp(idx, -1e9, 1e9));
  (v > 0 ? sketch_->positive : sketch_->negative).add(index, 1, p.max_buckets);
}

void Quantiles::to_sketch(const QuantileParams& p) {
  sketch_ = std::make_unique<Sketch>();
  for (double v : values_) sketch_add(v, p);
  std::vector<double>().swap(values_);
}

void Quantiles::add(double v, const QuantileParams& p) {
  ++count_;
  if (!sketch_) {
    if (values_.size() < p.exact_limit) {
      values_.push_back(v);
      sorted_ = false;
      return;
    }
    to_sketch(p);
  }
  sketch_add(v, p);
}

double Quantiles::percentile(PercentileE4 q, const QuantileParams& p) {
  const std::uint64_t rank = nearest_rank(q, count_);
  if (!sketch_) {
    if (!sorted_) {
      std::sort(values_.begin(), values_.end());
      sorted_ = true;
    }
    return values_[rank - 1];
  }
  auto value_of = [&](std::int64_t index) {
    return 2.0 * std::exp(static_cast<double>(index) * p.log_gamma) / (p.gamma + 1.0);
  };
  std::uint64_t seen = 0;
  const auto& neg = sketch_->negative.counts;
  for (std::size_t i = neg.size(); i-- > 0;) {
    seen += neg[i];
    if (seen >= rank) return -value_of(sketch_->negative.offset + static_cast<std::int64_t>(i));
  }
  seen += sketch_->zeros;
  if (seen >= rank) return 0.0;
  const auto& pos = sketch_->positive.counts;
  for (std::size_t i = 0; i < pos.size(); ++i) {
    seen += pos[i];
    if (seen >= rank) return value_of(sketch_->positive.offset + static_cast<std::int64_t>(i));
  }
  // Unreachable while counts add up; return the largest bucket to be safe.
  return pos.empty() ? 0.0 : value_of(sketch_->positive.offset + static_cast<std::int64_t>(pos.size()) - 1);
}

// ---- Distinct -------------------------------------------------------------------------------------

void Distinct::grow() {
  std::vector<std::uint64_t> old;
  old.swap(table_);
  table_.assign(old.empty() ? 16 : old.size() * 2, 0);
  size_ = 0;
  for (std::uint64_t h : old)
    if (h != 0) insert_exact(h);
}

void Distinct::insert_exact(std::uint64_t h) {
  const std::size_t mask = table_.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
    if (table_[i] == h) return;
    if (table_[i] == 0) {
      table_[i] = h;
      ++size_;
      return;
    }
  }
}

void Distinct::hll_add(std::uint64_t h, const DistinctParams& p) noexcept {
  const int q = 64 - p.precision;
  const std::size_t index = static_cast<std::size_t>(h >> q);
  const std::uint64_t w = h << p.precision;
  const auto rank = static_cast<std::uint8_t>(w == 0 ? q + 1 : std::countl_zero(w) + 1);
  if (rank > registers_[index]) registers_[index] = rank;
}

void Distinct::to_hll(const DistinctParams& p) {
  registers_.assign(std::size_t{1} << p.precision, 0);
  for (std::uint64_t h : table_)
    if (h != 0) hll_add(h, p);
  std::vector<std::uint64_t>().swap(table_);
  size_ = 0;
}

void Distinct::add(std::uint64_t hash, const DistinctParams& p) {
  if (!registers_.empty()) {
    hll_add(hash, p);
    return;
  }
  if (hash == 0) hash = 1;
  if ((size_ + 1) * 4 > table_.size() * 3) grow();
  insert_exact(hash);
  if (size_ > p.exact_limit) to_hll(p);
}

std::uint64_t Distinct::estimate(const DistinctParams& p) const {
  if (registers_.empty()) return size_;
  return static_cast<std::uint64_t>(std::llround(hll_estimate(registers_, p.precision)));
}

namespace {
double sigma(double x) {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1.0, z = x;
  for (;;) {
    x *= x;
    const double z_old = z;
    z += x * y;
    y += y;
    if (z == z_old) return z;
  }
}
double tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0, z = 1.0 - x;
  for (;;) {
    x = std::sqrt(x);
    const double z_old = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
    if (z == z_old) return z / 3.0;
  }
}
}  // namespace

double hll_estimate(const std::vector<std::uint8_t>& registers, int precision) {
  // Otmar Ertl, "New cardinality estimation algorithms for HyperLogLog sketches" (2017),
  // improved raw estimator: unbiased over the whole range without empirical correction tables.
  const int q = 64 - precision;
  const double m = static_cast<double>(registers.size());
  std::vector<double> c(static_cast<std::size_t>(q) + 2, 0.0);
  for (std::uint8_t r : registers) c[std::min<std::size_t>(r, static_cast<std::size_t>(q) + 1)] += 1.0;
  if (c[0] == m) return 0.0;
  double z = m * tau(1.0 - c[static_cast<std::size_t>(q) + 1] / m);
  for (int k = q; k >= 1; --k) z = 0.5 * (z + c[static_cast<std::size_t>(k)]);
  z += m * sigma(c[0] / m);
  const double alpha_inf = 1.0 / (2.0 * std::log(2.0));
  return alpha_inf * m * m / z;
}

}  // namespace cxflow::aggwin
