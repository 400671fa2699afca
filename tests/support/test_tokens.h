// HS256 tokens for integration tests, made with libjwt: `sub` is the user, `exp` is now plus
// `valid_for`, and `grants_json` (a JSON object, e.g. {"channels":["chat:*"]}) adds claims.
#ifndef TESTS_SUPPORT_TEST_TOKENS_H_
#define TESTS_SUPPORT_TEST_TOKENS_H_

#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "jwt.h"

namespace bridge::testing {

// A secret long enough for the bridge's HS256 check (at least 32 bytes).
inline constexpr char kTestHs256Secret[] = "an-hs256-secret-of-at-least-32-bytes!!";

inline std::string Hs256Token(const std::string& user, absl::Duration valid_for = absl::Hours(1),
                              const std::string& grants_json = "",
                              const std::string& secret = kTestHs256Secret) {
  jwt_t* jwt = nullptr;
  jwt_new(&jwt);
  jwt_add_grant(jwt, "sub", user.c_str());
  jwt_add_grant_int(jwt, "exp", absl::ToUnixSeconds(absl::Now() + valid_for));
  if (!grants_json.empty()) jwt_add_grants_json(jwt, grants_json.c_str());
  jwt_set_alg(jwt, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()),
              static_cast<int>(secret.size()));
  char* out = jwt_encode_str(jwt);
  std::string token = out;
  free(out);
  jwt_free(jwt);
  return token;
}

}  // namespace bridge::testing

#endif  // TESTS_SUPPORT_TEST_TOKENS_H_
