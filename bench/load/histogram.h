// A log-linear latency histogram (HdrHistogram's layout, 32 sub-buckets per power of two: each
// value is kept within 3 % of itself) with exact count, min, max and mean. Not thread-safe:
// one per thread, merged at the end.
#ifndef BENCH_LOAD_HISTOGRAM_H_
#define BENCH_LOAD_HISTOGRAM_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

namespace bench::load {

class Histogram {
 public:
  void Record(int64_t value_ns) {
    const uint64_t v = value_ns < 0 ? 0 : static_cast<uint64_t>(value_ns);
    ++counts_[Index(v)];
    ++count_;
    sum_ += v;
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
  }

  void Merge(const Histogram& other) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }

  void Reset() { *this = Histogram(); }

  uint64_t count() const { return count_; }
  uint64_t max() const { return count_ == 0 ? 0 : max_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }

  // The value at quantile q (0..1): the middle of its bucket, never above max.
  uint64_t Percentile(double q) const {
    if (count_ == 0) return 0;
    const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(q * count_ + 0.5));
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(max_, std::max(min_, Middle(i)));
    }
    return max_;
  }

 private:
  static constexpr int kLinear = 64;  // values below are exact
  static constexpr int kSub = 32;
  static constexpr int kOctaves = 58;

  static size_t Index(uint64_t v) {
    if (v < kLinear) return v;
    const int msb = 63 - __builtin_clzll(v);  // >= 6
    const int shift = msb - 5;
    const uint64_t sub = (v >> shift) - kSub;  // 0..31
    return kLinear + static_cast<size_t>(msb - 6) * kSub + sub;
  }
  static uint64_t Middle(size_t i) {
    if (i < kLinear) return i;
    const size_t j = i - kLinear;
    const int msb = static_cast<int>(j / kSub) + 6;
    const int shift = msb - 5;
    const uint64_t low = (static_cast<uint64_t>(kSub + j % kSub)) << shift;
    return low + ((uint64_t{1} << shift) >> 1);
  }

  std::array<uint64_t, kLinear + kOctaves * kSub> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
};

}  // namespace bench::load

#endif  // BENCH_LOAD_HISTOGRAM_H_
