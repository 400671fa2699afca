// JWT verification for client authentication: HS256 with a shared secret, or RS256/ES256 with
// the issuer's public key; issuer, audience, expiry and not-before with a clock skew; the user
// id and the methods the user may call from the claims. Built once from the config, then
// thread-safe and read-only.
#ifndef BRIDGE_AUTH_JWT_VERIFIER_H_
#define BRIDGE_AUTH_JWT_VERIFIER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/bridge/v1/config.pb.h"

namespace bridge::auth {

// Who a verified token says the client is.
struct Identity {
  std::string user_id;
  absl::Time expires_at = absl::InfiniteFuture();
  // Method patterns the user may call; `all_methods` when the token does not restrict them.
  bool all_methods = true;
  std::vector<std::string> methods;
  // Channel patterns the user may subscribe to ("chat:*", "news", "*"); `all_channels` when
  // the token does not restrict them.
  bool all_channels = true;
  std::vector<std::string> channels;
};

// Whether `identity` may call `method` ("demo.v1.Echo/Say"): a pattern matches exactly, as
// "service/*", or as "*".
bool MethodAllowed(const Identity& identity, std::string_view method);

// Whether `identity` may subscribe to `channel`: a pattern matches exactly, as a prefix ending
// in '*' ("chat:*"), or as "*".
bool ChannelAllowed(const Identity& identity, std::string_view channel);

class JwtVerifier {
 public:
  // Loads the key. `config` has its defaults applied (config::ApplyDefaults). Errors name the
  // config field at fault.
  static absl::StatusOr<std::unique_ptr<JwtVerifier>> Create(const v1::JwtConfig& config);

  // absl::UnauthenticatedError with a short reason when the token is not good at `now`.
  absl::StatusOr<Identity> Verify(std::string_view token, absl::Time now) const;

 private:
  enum class Algorithm { kHs256, kRs256, kEs256 };
  JwtVerifier(const v1::JwtConfig& config, std::string key, Algorithm algorithm);

  const v1::JwtConfig config_;
  const std::string key_;
  const Algorithm algorithm_;
  const absl::Duration skew_;
};

}  // namespace bridge::auth

#endif  // BRIDGE_AUTH_JWT_VERIFIER_H_
