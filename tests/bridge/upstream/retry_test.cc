// gRFC A6 retry logic: backoff bounds, policy parsing and lookup, the retry budget.
#include "bridge/upstream/retry.h"

#include "bridge/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bridge::upstream {
namespace {

using ::testing::HasSubstr;

RetryRule Rule(int initial_ms, int max_ms, double multiplier) {
  RetryRule r;
  r.initial_backoff = absl::Milliseconds(initial_ms);
  r.max_backoff = absl::Milliseconds(max_ms);
  r.multiplier = multiplier;
  return r;
}

TEST(BackoffDelayTest, FullJitterUnderAnExponentialCeiling) {
  const RetryRule r = Rule(100, 1000, 2.0);
  // The ceiling before attempt n is min(max, initial * multiplier^(n-2)).
  EXPECT_EQ(BackoffDelay(r, 2, 0.999999), absl::Milliseconds(100) * 0.999999);
  EXPECT_EQ(BackoffDelay(r, 3, 0.5), absl::Milliseconds(100));
  EXPECT_EQ(BackoffDelay(r, 4, 0.5), absl::Milliseconds(200));
  EXPECT_EQ(BackoffDelay(r, 5, 0.5), absl::Milliseconds(400));
  EXPECT_EQ(BackoffDelay(r, 6, 0.5), absl::Milliseconds(500));  // capped at 1000
  EXPECT_EQ(BackoffDelay(r, 9, 1.0), absl::Milliseconds(1000));
  EXPECT_EQ(BackoffDelay(r, 3, 0.0), absl::ZeroDuration());
}

absl::StatusOr<RetryPolicies> Policies(const std::string& text) {
  auto config = config::ParseConfigText(text, "test");
  if (!config.ok()) return config.status();
  config::ApplyDefaults(&*config);
  return RetryPolicies::FromConfig(*config);
}

TEST(RetryPoliciesTest, MethodRulesWinOverServiceRules) {
  auto p = Policies(
      "retry_policies { service: \"a.B\" max_attempts: 2 } "
      "retry_policies { service: \"a.B\" method: \"M\" max_attempts: 4 "
      "retryable_status_codes: \"RESOURCE_EXHAUSTED\" }");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_NE(p->Find("a.B", "M"), nullptr);
  EXPECT_EQ(p->Find("a.B", "M")->max_attempts, 4);
  EXPECT_EQ(p->Find("a.B", "M")->retryable_codes, std::set<int>({8}));
  ASSERT_NE(p->Find("a.B", "Other"), nullptr);
  EXPECT_EQ(p->Find("a.B", "Other")->max_attempts, 2);
  EXPECT_EQ(p->Find("a.B", "Other")->retryable_codes, std::set<int>({14}));  // default
  EXPECT_EQ(p->Find("c.D", "M"), nullptr);
}

TEST(RetryPoliciesTest, BadPoliciesNameTheirField) {
  struct Case {
    const char* text;
    const char* field;
  };
  const Case cases[] = {
      {"retry_policies { service: \"a.B\" max_attempts: 6 }", "retry_policies[0].max_attempts"},
      {"retry_policies { service: \"a.B\" max_attempts: 1 }", "retry_policies[0].max_attempts"},
      {"retry_policies { max_attempts: 2 }", "retry_policies[0].service"},
      {"retry_policies { service: \"a.B\" max_attempts: 2 retryable_status_codes: \"NOPE\" }",
       "retryable_status_codes"},
      {"retry_policies { service: \"a.B\" max_attempts: 2 "
       "retryable_status_codes: \"DEADLINE_EXCEEDED\" }",
       "idempotent"},
      {"retry_policies { service: \"a.B\" max_attempts: 2 initial_backoff_ms: 50 "
       "max_backoff_ms: 10 }",
       "max_backoff_ms"},
      {"retry_policies { service: \"a.B\" max_attempts: 2 backoff_multiplier: 0.5 }",
       "backoff_multiplier"},
      {"retry_throttling { token_ratio: 2 }", "retry_throttling.token_ratio"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto p = Policies(c.text);
    ASSERT_FALSE(p.ok());
    EXPECT_THAT(std::string(p.status().message()), HasSubstr(c.field));
  }
  EXPECT_TRUE(Policies("retry_policies { service: \"a.B\" max_attempts: 2 idempotent: true "
                       "retryable_status_codes: \"DEADLINE_EXCEEDED\" }")
                  .ok());
}

TEST(RetryThrottleTest, RetriesStopBelowHalfTheTokensAndSuccessesRefill) {
  RetryThrottle t(10, 0.5);
  EXPECT_TRUE(t.OnFailureAllowsRetry());   // 9
  EXPECT_TRUE(t.OnFailureAllowsRetry());   // 8
  EXPECT_TRUE(t.OnFailureAllowsRetry());   // 7
  EXPECT_TRUE(t.OnFailureAllowsRetry());   // 6
  EXPECT_FALSE(t.OnFailureAllowsRetry());  // 5: not more than half
  EXPECT_DOUBLE_EQ(t.tokens(), 5);
  t.OnSuccess();
  t.OnSuccess();                           // 6
  EXPECT_FALSE(t.OnFailureAllowsRetry());  // 6 - 1 = 5: refused
  EXPECT_DOUBLE_EQ(t.tokens(), 5);
  for (int i = 0; i < 100; ++i) t.OnSuccess();
  EXPECT_DOUBLE_EQ(t.tokens(), 10);  // never above max
  for (int i = 0; i < 100; ++i) t.OnFailureAllowsRetry();
  EXPECT_DOUBLE_EQ(t.tokens(), 0);  // never below 0
}

}  // namespace
}  // namespace bridge::upstream
