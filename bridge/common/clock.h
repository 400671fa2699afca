// Time as the bridge sees it, injectable so tests control it. Any thread.
#ifndef BRIDGE_COMMON_CLOCK_H_
#define BRIDGE_COMMON_CLOCK_H_

#include <algorithm>
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

// What an asio steady_timer waits for `after` (at least `floor`): saturated at the clock's
// range. A duration counted in milliseconds overflows the timer's nanoseconds past about 292
// years (an expiry from a token's `exp` in the year 9999) and would land in the past, firing
// at once, again and again.
inline std::chrono::nanoseconds TimerDelay(absl::Duration after,
                                           absl::Duration floor = absl::ZeroDuration()) {
  return absl::ToChronoNanoseconds(std::max(after, floor));
}

}  // namespace bridge

#endif  // BRIDGE_COMMON_CLOCK_H_
