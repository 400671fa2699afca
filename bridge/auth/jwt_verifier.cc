#include "bridge/auth/jwt_verifier.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "jwt.h"
#include "openssl/bio.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "simdjson.h"

namespace bridge::auth {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("config field auth.jwt.", field, ": cannot read ", path));
  }
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

// A claim that is a JSON array of strings (or one string), as a list.
std::vector<std::string> StringList(jwt_t* jwt, const char* claim, bool* present) {
  std::vector<std::string> out;
  *present = false;
  if (const char* one = jwt_get_grant(jwt, claim)) {
    *present = true;
    out.emplace_back(one);
    return out;
  }
  char* json = jwt_get_grants_json(jwt, claim);
  if (json == nullptr) return out;
  *present = true;
  simdjson::dom::parser parser;
  simdjson::dom::array array;
  if (parser.parse(json, std::strlen(json)).get_array().get(array) == simdjson::SUCCESS) {
    for (simdjson::dom::element e : array) {
      std::string_view s;
      if (e.get_string().get(s) == simdjson::SUCCESS) out.emplace_back(s);
    }
  }
  std::free(json);
  return out;
}

}  // namespace

bool MethodAllowed(const Identity& identity, std::string_view method) {
  if (identity.all_methods) return true;
  if (!method.empty() && method.front() == '/') method.remove_prefix(1);
  for (const std::string& pattern : identity.methods) {
    if (pattern == "*" || pattern == method) return true;
    if (absl::EndsWith(pattern, "/*") &&
        absl::StartsWith(absl::string_view(method.data(), method.size()),
                         absl::string_view(pattern).substr(0, pattern.size() - 1))) {
      return true;
    }
  }
  return false;
}

bool ChannelAllowed(const Identity& identity, std::string_view channel) {
  if (identity.all_channels) return true;
  for (const std::string& pattern : identity.channels) {
    if (pattern == "*" || pattern == channel) return true;
    if (absl::EndsWith(pattern, "*") &&
        absl::StartsWith(absl::string_view(channel.data(), channel.size()),
                         absl::string_view(pattern).substr(0, pattern.size() - 1))) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(const v1::JwtConfig& config) {
  const int given = !config.hs256_secret_file().empty() + !config.hs256_secret().empty() +
                    !config.public_key_file().empty();
  if (given != 1) {
    return absl::InvalidArgumentError(
        "config field auth.jwt: give exactly one of hs256_secret_file, hs256_secret, "
        "public_key_file");
  }
  if (!config.public_key_file().empty()) {
    auto pem = ReadFile(config.public_key_file(), "public_key_file");
    if (!pem.ok()) return pem.status();
    BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
    EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (key == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("config field auth.jwt.public_key_file: ", config.public_key_file(),
                       " is not a PEM public key"));
    }
    const int type = EVP_PKEY_get_base_id(key);
    const int bits = EVP_PKEY_get_bits(key);
    EVP_PKEY_free(key);
    if (type == EVP_PKEY_RSA) {
      return std::unique_ptr<JwtVerifier>(
          new JwtVerifier(config, *std::move(pem), Algorithm::kRs256));
    }
    if (type == EVP_PKEY_EC && bits == 256) {
      return std::unique_ptr<JwtVerifier>(
          new JwtVerifier(config, *std::move(pem), Algorithm::kEs256));
    }
    return absl::InvalidArgumentError(
        "config field auth.jwt.public_key_file: the key must be RSA (RS256) or EC P-256 (ES256)");
  }
  std::string secret = config.hs256_secret();
  if (!config.hs256_secret_file().empty()) {
    auto read = ReadFile(config.hs256_secret_file(), "hs256_secret_file");
    if (!read.ok()) return read.status();
    secret = *std::move(read);
  }
  if (secret.size() < 32) {
    return absl::InvalidArgumentError(
        "config field auth.jwt: the HS256 secret must have at least 32 bytes");
  }
  return std::unique_ptr<JwtVerifier>(
      new JwtVerifier(config, std::move(secret), Algorithm::kHs256));
}

JwtVerifier::JwtVerifier(const v1::JwtConfig& config, std::string key, Algorithm algorithm)
    : config_(config),
      key_(std::move(key)),
      algorithm_(algorithm),
      skew_(absl::Milliseconds(config.clock_skew_ms())) {}

absl::StatusOr<Identity> JwtVerifier::Verify(std::string_view token, absl::Time now) const {
  if (token.empty()) return absl::UnauthenticatedError("no token");
  const std::string text(token);
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key_.data()),
                 static_cast<int>(key_.size())) != 0 ||
      raw == nullptr) {
    return absl::UnauthenticatedError("invalid token (bad format or signature)");
  }
  JwtPtr jwt(raw);
  // The algorithm is the key's, never the token's choice (no HS256 signed with a public key).
  const jwt_alg_t want = algorithm_ == Algorithm::kHs256   ? JWT_ALG_HS256
                         : algorithm_ == Algorithm::kRs256 ? JWT_ALG_RS256
                                                           : JWT_ALG_ES256;
  if (jwt_get_alg(jwt.get()) != want) {
    return absl::UnauthenticatedError("token signed with an algorithm this bridge does not take");
  }
  Identity identity;
  errno = 0;
  const long exp = jwt_get_grant_int(jwt.get(), "exp");
  if (errno == 0) {
    identity.expires_at = absl::FromUnixSeconds(exp);
    if (now > identity.expires_at + skew_) return absl::UnauthenticatedError("token expired");
  } else if (!config_.allow_no_expiry()) {
    return absl::UnauthenticatedError("token has no exp");
  }
  errno = 0;
  const long nbf = jwt_get_grant_int(jwt.get(), "nbf");
  if (errno == 0 && now + skew_ < absl::FromUnixSeconds(nbf)) {
    return absl::UnauthenticatedError("token not valid yet");
  }
  if (!config_.issuer().empty()) {
    const char* iss = jwt_get_grant(jwt.get(), "iss");
    if (iss == nullptr || config_.issuer() != iss) {
      return absl::UnauthenticatedError("token from another issuer");
    }
  }
  if (config_.audiences_size() > 0) {
    bool present = false;
    const std::vector<std::string> aud = StringList(jwt.get(), "aud", &present);
    bool match = false;
    for (const std::string& a : aud) {
      for (const std::string& want_aud : config_.audiences()) match = match || a == want_aud;
    }
    if (!match) return absl::UnauthenticatedError("token for another audience");
  }
  const std::string& user_claim = config_.user_claim();
  const char* user = jwt_get_grant(jwt.get(), user_claim.c_str());
  if (user == nullptr || *user == '\0') {
    return absl::UnauthenticatedError(absl::StrCat("token has no ", user_claim));
  }
  identity.user_id = user;
  const std::string& methods_claim = config_.methods_claim();
  bool present = false;
  identity.methods = StringList(jwt.get(), methods_claim.c_str(), &present);
  identity.all_methods = !present;
  const std::string& channels_claim = config_.channels_claim();
  identity.channels = StringList(jwt.get(), channels_claim.c_str(), &present);
  identity.all_channels = !present;
  return identity;
}

}  // namespace bridge::auth
