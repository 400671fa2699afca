#include "bridge/session/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace bridge::session {

RateLimiter::Verdict RateLimiter::Take(absl::Duration now) {
  if (tokens_ < 0) {
    tokens_ = burst_;
  } else {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - tokens_at_) * per_second_);
  }
  tokens_at_ = now;
  Verdict verdict;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    strikes_ = 0;
    verdict.admitted = true;
    return verdict;
  }
  verdict.close = ++strikes_ >= strikes_allowed_;
  const double wait_s = (1 - tokens_) / std::max(per_second_, 1e-9);
  verdict.retry_after_ms = static_cast<uint32_t>(std::ceil(wait_s * 1000));
  return verdict;
}

}  // namespace bridge::session
