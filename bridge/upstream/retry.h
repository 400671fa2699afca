// Upstream retry policy (gRFC A6), as pure logic: which failures are retried, the full-jitter
// backoff before each attempt, and the retry budget (token bucket) that keeps an outage from
// multiplying load. grpc_upstream.cc drives attempts with it. Thread-safe where noted.
#ifndef BRIDGE_UPSTREAM_RETRY_H_
#define BRIDGE_UPSTREAM_RETRY_H_

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/config/defaults.h"
#include "proto/bridge/v1/config.pb.h"

namespace bridge::upstream {

struct RetryRule {
  int max_attempts = 1;
  absl::Duration initial_backoff = absl::Milliseconds(config::kDefaultRetryInitialBackoffMs);
  absl::Duration max_backoff = absl::Milliseconds(config::kDefaultRetryMaxBackoffMs);
  double multiplier = config::kDefaultRetryBackoffMultiplier;
  std::set<int> retryable_codes;  // gRPC status codes
};

// The delay before attempt `attempt` (2, 3, ...): a draw `uniform01` in [0, 1) scaled to
// [0, min(max_backoff, initial_backoff * multiplier^(attempt - 2))).
absl::Duration BackoffDelay(const RetryRule& rule, int attempt, double uniform01);

// The per-method rules of a config with its defaults applied (config::ApplyDefaults). Errors
// name the offending field.
class RetryPolicies {
 public:
  static absl::StatusOr<RetryPolicies> FromConfig(const v1::BridgeConfig& config);
  // The rule for "pkg.Service/Method": a method rule wins over a service rule; null for none.
  const RetryRule* Find(std::string_view service, std::string_view method) const;
  bool empty() const { return rules_.empty(); }

 private:
  std::map<std::string, RetryRule, std::less<>> rules_;  // "svc/method" or "svc"
};

// gRFC A6 retry throttling: tokens start at max_tokens; a failed attempt with a retryable
// status takes 1, a success gives back token_ratio; retries are allowed only while more than
// half the tokens are left. Thread-safe.
class RetryThrottle {
 public:
  RetryThrottle(double max_tokens, double token_ratio)
      : max_tokens_(max_tokens), ratio_(token_ratio), tokens_(max_tokens) {}
  void OnSuccess();
  // Records a retryable failure; returns whether a retry may follow.
  bool OnFailureAllowsRetry();
  double tokens() const;

 private:
  const double max_tokens_;
  const double ratio_;
  mutable absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bridge::upstream

#endif  // BRIDGE_UPSTREAM_RETRY_H_
