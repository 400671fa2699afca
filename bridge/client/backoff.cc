#include "bridge/client/backoff.h"

#include <algorithm>
#include <cmath>

namespace bridge::client {

absl::Duration BackoffCeiling(const BackoffOptions& options, int attempt) {
  const double growth = std::pow(options.multiplier, std::max(0, attempt - 1));
  const double ceiling_ms = std::min(absl::ToDoubleMilliseconds(options.max),
                                     absl::ToDoubleMilliseconds(options.base) * growth);
  return absl::Milliseconds(std::max(0.0, ceiling_ms));
}

absl::Duration BackoffDelay(const BackoffOptions& options, int attempt, double uniform01,
                            absl::Duration floor) {
  const absl::Duration ceiling = BackoffCeiling(options, attempt);
  const double u = std::clamp(uniform01, 0.0, 1.0);
  absl::Duration delay = ceiling;
  switch (options.jitter) {
    case Jitter::kNone:
      break;
    case Jitter::kFull:
      delay = ceiling * u;
      break;
    case Jitter::kEqual:
      delay = ceiling / 2 + (ceiling / 2) * u;
      break;
  }
  return std::max(delay, floor);
}

}  // namespace bridge::client
