// Reconnect backoff of docs/protocol.md, "Reconnection": the delay before attempt n (1, 2, ...) is
// min(max, base * multiplier^(n-1)), jittered, and never below a floor (the server's
// retryAfterMs, or the error table's least delay for the close code). Pure functions; any
// thread.
#ifndef BRIDGE_CLIENT_BACKOFF_H_
#define BRIDGE_CLIENT_BACKOFF_H_

#include "absl/time/time.h"

namespace bridge::client {

enum class Jitter {
  kNone,   // exactly the ceiling
  kFull,   // a uniform draw in [0, ceiling)
  kEqual,  // ceiling / 2 plus a uniform draw in [0, ceiling / 2)
};

struct BackoffOptions {
  absl::Duration base = absl::Seconds(1);
  double multiplier = 2.0;
  absl::Duration max = absl::Seconds(30);
  // Attempts after one connection is lost (0: never reconnect). The count starts again once a
  // connection is confirmed.
  int max_attempts = 5;
  Jitter jitter = Jitter::kFull;
};

// min(max, base * multiplier^(attempt-1)): the delay before attempt `attempt` without jitter.
absl::Duration BackoffCeiling(const BackoffOptions& options, int attempt);

// The delay before attempt `attempt` (1-based): the ceiling jittered with `uniform01`, a draw
// in [0, 1), then raised to `floor`.
absl::Duration BackoffDelay(const BackoffOptions& options, int attempt, double uniform01,
                            absl::Duration floor = absl::ZeroDuration());

}  // namespace bridge::client

#endif  // BRIDGE_CLIENT_BACKOFF_H_
