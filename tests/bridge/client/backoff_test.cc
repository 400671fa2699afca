// The reconnect backoff of docs/protocol.md: ceilings, both jitters with exact draws, floors.
#include "bridge/client/backoff.h"

#include "gtest/gtest.h"

namespace bridge::client {
namespace {

TEST(BackoffTest, DefaultCeilingsDoubleFromOneSecondUpToThirty) {
  const BackoffOptions options;
  EXPECT_EQ(options.max_attempts, 5);
  EXPECT_EQ(BackoffCeiling(options, 1), absl::Seconds(1));
  EXPECT_EQ(BackoffCeiling(options, 2), absl::Seconds(2));
  EXPECT_EQ(BackoffCeiling(options, 3), absl::Seconds(4));
  EXPECT_EQ(BackoffCeiling(options, 4), absl::Seconds(8));
  EXPECT_EQ(BackoffCeiling(options, 5), absl::Seconds(16));
  EXPECT_EQ(BackoffCeiling(options, 6), absl::Seconds(30));
  EXPECT_EQ(BackoffCeiling(options, 60), absl::Seconds(30));
}

TEST(BackoffTest, CeilingFollowsBaseMultiplierAndMax) {
  BackoffOptions options;
  options.base = absl::Milliseconds(100);
  options.multiplier = 3;
  options.max = absl::Seconds(1);
  EXPECT_EQ(BackoffCeiling(options, 1), absl::Milliseconds(100));
  EXPECT_EQ(BackoffCeiling(options, 2), absl::Milliseconds(300));
  EXPECT_EQ(BackoffCeiling(options, 3), absl::Milliseconds(900));
  EXPECT_EQ(BackoffCeiling(options, 4), absl::Seconds(1));
}

TEST(BackoffTest, NoJitterIsTheCeiling) {
  BackoffOptions options;
  options.jitter = Jitter::kNone;
  EXPECT_EQ(BackoffDelay(options, 3, 0.0), absl::Seconds(4));
  EXPECT_EQ(BackoffDelay(options, 3, 0.99), absl::Seconds(4));
}

TEST(BackoffTest, FullJitterScalesTheCeilingByTheDraw) {
  BackoffOptions options;
  options.jitter = Jitter::kFull;
  EXPECT_EQ(BackoffDelay(options, 1, 0.0), absl::ZeroDuration());
  EXPECT_EQ(BackoffDelay(options, 1, 0.5), absl::Milliseconds(500));
  EXPECT_EQ(BackoffDelay(options, 4, 0.25), absl::Seconds(2));
  EXPECT_EQ(BackoffDelay(options, 6, 0.5), absl::Seconds(15));
}

TEST(BackoffTest, EqualJitterKeepsAtLeastHalfTheCeiling) {
  BackoffOptions options;
  options.jitter = Jitter::kEqual;
  EXPECT_EQ(BackoffDelay(options, 1, 0.0), absl::Milliseconds(500));
  EXPECT_EQ(BackoffDelay(options, 1, 0.5), absl::Milliseconds(750));
  EXPECT_EQ(BackoffDelay(options, 5, 0.5), absl::Seconds(12));
}

TEST(BackoffTest, JitterStaysWithinItsBoundsForEveryDraw) {
  for (Jitter jitter : {Jitter::kFull, Jitter::kEqual}) {
    BackoffOptions options;
    options.jitter = jitter;
    for (int attempt = 1; attempt <= 8; ++attempt) {
      const absl::Duration ceiling = BackoffCeiling(options, attempt);
      const absl::Duration low = jitter == Jitter::kFull ? absl::ZeroDuration() : ceiling / 2;
      for (int i = 0; i < 1000; ++i) {
        const absl::Duration d = BackoffDelay(options, attempt, i / 1000.0);
        EXPECT_GE(d, low) << attempt << " " << i;
        EXPECT_LT(d, ceiling) << attempt << " " << i;
      }
      // Draws outside [0, 1) are clamped, never beyond the ceiling.
      EXPECT_EQ(BackoffDelay(options, attempt, -1.0), low);
      EXPECT_LE(BackoffDelay(options, attempt, 7.0), ceiling);
    }
  }
}

TEST(BackoffTest, TheFloorWinsOverAShorterDelay) {
  BackoffOptions options;
  options.jitter = Jitter::kFull;
  EXPECT_EQ(BackoffDelay(options, 1, 0.1, absl::Seconds(5)), absl::Seconds(5));
  EXPECT_EQ(BackoffDelay(options, 5, 0.5, absl::Seconds(5)), absl::Seconds(8));
}

}  // namespace
}  // namespace bridge::client
