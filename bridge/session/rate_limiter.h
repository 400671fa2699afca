// The per-connection message rate limit: a token bucket of `burst` tokens refilled at
// `per_second`, one token per frame (each inner frame of a batch too), and the strikes: frames
// refused in a row, after which the connection is closed (4029). No clock of its own: the
// caller gives the monotonic time of each frame.
#ifndef BRIDGE_SESSION_RATE_LIMITER_H_
#define BRIDGE_SESSION_RATE_LIMITER_H_

#include <cstdint>

#include "absl/time/time.h"

namespace bridge::session {

class RateLimiter {
 public:
  RateLimiter(double per_second, double burst, int strikes)
      : per_second_(per_second), burst_(burst), strikes_allowed_(strikes) {}

  struct Verdict {
    bool admitted = false;
    // Refused, and this refusal was the last strike: close the connection.
    bool close = false;
    // Refused: how long until a token is back (for the error's retryAfterMs).
    uint32_t retry_after_ms = 0;
  };

  // One frame arriving at `now`. The bucket is full at the first frame.
  Verdict Take(absl::Duration now);

  double tokens() const { return tokens_; }

 private:
  const double per_second_;
  const double burst_;
  const int strikes_allowed_;
  double tokens_ = -1;  // -1: full, set at the first frame
  absl::Duration tokens_at_;
  int strikes_ = 0;
};

}  // namespace bridge::session

#endif  // BRIDGE_SESSION_RATE_LIMITER_H_
