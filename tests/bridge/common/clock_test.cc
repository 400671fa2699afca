// TimerDelay: what the bridge's and the client's asio timers wait.
#include "bridge/common/clock.h"

#include <asio.hpp>
#include <chrono>

#include "gtest/gtest.h"

namespace bridge {
namespace {

using std::chrono::hours;
using std::chrono::steady_clock;

// Seconds from 2026-11-22 to 9999-12-31, a token `exp` some issuers use for "never".
constexpr int64_t kToYear9999 = 253402300799 - 1795341600;

TEST(TimerDelayTest, AnExpiryCenturiesAwayStaysInTheFuture) {
  asio::io_context io;
  asio::steady_timer timer(io);
  timer.expires_after(TimerDelay(absl::Seconds(kToYear9999), absl::Milliseconds(1)));
  // Milliseconds converted to the timer's nanoseconds wrapped into the past here.
  EXPECT_GT(timer.expiry(), steady_clock::now() + hours(24 * 365 * 200));
}

TEST(TimerDelayTest, ForeverIsTheLongestWait) {
  EXPECT_EQ(TimerDelay(absl::InfiniteDuration()), std::chrono::nanoseconds::max());
  EXPECT_EQ(TimerDelay(absl::Hours(24 * 365 * 1000)), std::chrono::nanoseconds::max());
}

TEST(TimerDelayTest, ThePastAndTooShortWaitTheFloor) {
  EXPECT_EQ(TimerDelay(absl::Seconds(-5)), std::chrono::nanoseconds(0));
  EXPECT_EQ(TimerDelay(absl::Seconds(-5), absl::Milliseconds(1)), std::chrono::milliseconds(1));
  EXPECT_EQ(TimerDelay(absl::Microseconds(10), absl::Milliseconds(1)),
            std::chrono::milliseconds(1));
  EXPECT_EQ(TimerDelay(absl::Milliseconds(1500)), std::chrono::milliseconds(1500));
}

}  // namespace
}  // namespace bridge
