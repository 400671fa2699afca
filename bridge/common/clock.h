// Time as the bridge sees it, injectable so tests control it. Any thread.
#ifndef BRIDGE_COMMON_CLOCK_H_
#define BRIDGE_COMMON_CLOCK_H_

#include <chrono>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace bridge {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for timestamps in frames.
  virtual absl::Time Now() = 0;
  // Monotonic time, for timeouts. Only differences between two readings mean anything.
  virtual absl::Duration Monotonic() = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  absl::Duration Monotonic() override {
    return absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
  }
  static RealClock* Get() {
    static RealClock clock;
    return &clock;
  }
};

}  // namespace bridge

#endif  // BRIDGE_COMMON_CLOCK_H_
