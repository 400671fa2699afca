// The rate limiter alone: the bucket, its refill, the strikes and retryAfter.
#include "bridge/session/rate_limiter.h"

#include "gtest/gtest.h"

namespace bridge::session {
namespace {

TEST(RateLimiterTest, TheBucketStartsFullAndEmptiesOneTokenPerFrame) {
  RateLimiter limiter(/*per_second=*/10, /*burst=*/3, /*strikes=*/5);
  const absl::Duration t = absl::Seconds(100);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take(t).admitted) << i;
  const RateLimiter::Verdict refused = limiter.Take(t);
  EXPECT_FALSE(refused.admitted);
  EXPECT_FALSE(refused.close);
  EXPECT_EQ(refused.retry_after_ms, 100u);  // one token at 10 per second
}

TEST(RateLimiterTest, TokensComeBackAtTheRateUpToTheBurst) {
  RateLimiter limiter(10, 3, 5);
  absl::Duration t = absl::Seconds(1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter.Take(t).admitted);
  t += absl::Milliseconds(250);  // 2.5 tokens
  EXPECT_TRUE(limiter.Take(t).admitted);
  EXPECT_TRUE(limiter.Take(t).admitted);
  const RateLimiter::Verdict refused = limiter.Take(t);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.retry_after_ms, 50u);  // half a token short
  t += absl::Hours(1);                     // never more than the burst
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take(t).admitted) << i;
  EXPECT_FALSE(limiter.Take(t).admitted);
}

TEST(RateLimiterTest, StrikesInARowClose_AnAdmittedFrameForgivesThem) {
  RateLimiter limiter(1, 1, 3);
  absl::Duration t = absl::Seconds(5);
  ASSERT_TRUE(limiter.Take(t).admitted);
  EXPECT_FALSE(limiter.Take(t).close);  // strike 1
  EXPECT_FALSE(limiter.Take(t).close);  // strike 2
  t += absl::Seconds(1);
  ASSERT_TRUE(limiter.Take(t).admitted);  // strikes forgiven
  EXPECT_FALSE(limiter.Take(t).close);
  EXPECT_FALSE(limiter.Take(t).close);
  const RateLimiter::Verdict last = limiter.Take(t);
  EXPECT_FALSE(last.admitted);
  EXPECT_TRUE(last.close);
}

}  // namespace
}  // namespace bridge::session
