// An authentication check the session waits for (BridgeConfig.auth.service): who the client is
// and what it may call, decided elsewhere. The session hands it what the client presented and
// goes on when `done` runs; implementations call `done` exactly once, from any thread.
#ifndef BRIDGE_AUTH_CHECKER_H_
#define BRIDGE_AUTH_CHECKER_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "bridge/auth/jwt_verifier.h"

namespace bridge::auth {

struct CheckInput {
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string token;
  std::string client_id;
  std::string remote_ip;
  std::string resource;
};

struct CheckOutcome {
  // OK: allowed, as `identity`. UNAUTHENTICATED: close 4500. PERMISSION_DENIED: close 4501.
  // Anything else (the service unreachable, its deadline passed): close 1013.
  absl::Status status;
  Identity identity;  // its expires_at unset: the session sets it from `valid_for`
  absl::Duration valid_for = absl::InfiniteDuration();
};

class Checker {
 public:
  virtual ~Checker() = default;
  virtual void Check(CheckInput input, std::function<void(CheckOutcome)> done) = 0;
};

}  // namespace bridge::auth

#endif  // BRIDGE_AUTH_CHECKER_H_
