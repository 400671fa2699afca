// JWT verification with real keys made for the test: HS256, RS256, ES256, and every refusal.
#include "bridge/auth/jwt_verifier.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "bridge/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jwt.h"
#include "openssl/evp.h"
#include "openssl/pem.h"

namespace bridge::auth {
namespace {

using ::testing::HasSubstr;

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef-test-secret";
const absl::Time kNow = absl::FromUnixSeconds(1800000000);

struct KeyPair {
  std::string private_pem;
  std::string public_pem;
};

KeyPair MakeKeys(bool rsa) {
  EVP_PKEY* key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_PUBKEY(pub, key);
  KeyPair pair;
  char* data;
  long n = BIO_get_mem_data(priv, &data);
  pair.private_pem.assign(data, n);
  n = BIO_get_mem_data(pub, &data);
  pair.public_pem.assign(data, n);
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(key);
  return pair;
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::ofstream(path) << text;
  return path;
}

// Signs a token with `alg` and `key`; `claims` as (name, value) with integers for exp/nbf.
std::string Sign(jwt_alg_t alg, const std::string& key,
                 const std::vector<std::pair<std::string, std::string>>& strings,
                 const std::vector<std::pair<std::string, long>>& ints = {},
                 const std::string& json_claims = "") {
  jwt_t* jwt = nullptr;
  jwt_new(&jwt);
  for (const auto& [k, v] : strings) jwt_add_grant(jwt, k.c_str(), v.c_str());
  for (const auto& [k, v] : ints) jwt_add_grant_int(jwt, k.c_str(), v);
  if (!json_claims.empty()) jwt_add_grants_json(jwt, json_claims.c_str());
  jwt_set_alg(jwt, alg, reinterpret_cast<const unsigned char*>(key.data()),
              static_cast<int>(key.size()));
  char* out = jwt_encode_str(jwt);
  std::string token = out != nullptr ? out : "";
  free(out);
  jwt_free(jwt);
  return token;
}

const long kExp = absl::ToUnixSeconds(kNow) + 3600;

std::unique_ptr<JwtVerifier> Hs256Verifier(const std::string& extra = "") {
  v1::JwtConfig config;
  config.set_hs256_secret(kSecret);
  config.set_issuer("https://id.example.com");
  config.add_audiences("bridge");
  config::ApplyDefaults(&config);
  auto v = JwtVerifier::Create(config);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *std::move(v) : nullptr;
}

std::string GoodHs256(const std::string& json_claims = "") {
  return Sign(JWT_ALG_HS256, kSecret,
              {{"sub", "user-7"}, {"iss", "https://id.example.com"}, {"aud", "bridge"}},
              {{"exp", kExp}}, json_claims);
}

TEST(JwtVerifierTest, Hs256TokenGivesTheUserAndExpiry) {
  auto v = Hs256Verifier();
  auto identity = v->Verify(GoodHs256(), kNow);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->user_id, "user-7");
  EXPECT_EQ(identity->expires_at, absl::FromUnixSeconds(kExp));
  EXPECT_TRUE(identity->all_methods);
}

TEST(JwtVerifierTest, RefusalsSayWhy) {
  auto v = Hs256Verifier();
  struct Case {
    std::string token;
    const char* reason;
  };
  const Case cases[] = {
      {"", "no token"},
      {"not.a.token", "invalid token"},
      {Sign(JWT_ALG_HS256, "another-secret-another-secret-another",
            {{"sub", "u"}, {"iss", "https://id.example.com"}, {"aud", "bridge"}}, {{"exp", kExp}}),
       "invalid token"},
      {Sign(JWT_ALG_HS256, kSecret,
            {{"sub", "u"}, {"iss", "https://id.example.com"}, {"aud", "bridge"}},
            {{"exp", absl::ToUnixSeconds(kNow) - 31}}),
       "expired"},
      {Sign(JWT_ALG_HS256, kSecret,
            {{"sub", "u"}, {"iss", "https://id.example.com"}, {"aud", "bridge"}},
            {{"exp", kExp}, {"nbf", absl::ToUnixSeconds(kNow) + 60}}),
       "not valid yet"},
      {Sign(JWT_ALG_HS256, kSecret, {{"sub", "u"}, {"iss", "https://evil"}, {"aud", "bridge"}},
            {{"exp", kExp}}),
       "issuer"},
      {Sign(JWT_ALG_HS256, kSecret,
            {{"sub", "u"}, {"iss", "https://id.example.com"}, {"aud", "other"}}, {{"exp", kExp}}),
       "audience"},
      {Sign(JWT_ALG_HS256, kSecret,
            {{"sub", "u"}, {"iss", "https://id.example.com"}, {"aud", "bridge"}}),
       "no exp"},
      {Sign(JWT_ALG_HS256, kSecret, {{"iss", "https://id.example.com"}, {"aud", "bridge"}},
            {{"exp", kExp}}),
       "no sub"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reason);
    auto identity = v->Verify(c.token, kNow);
    ASSERT_FALSE(identity.ok());
    EXPECT_EQ(identity.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(std::string(identity.status().message()), HasSubstr(c.reason));
  }
  // Within the clock skew (30 s) an expired token still passes.
  EXPECT_TRUE(v->Verify(Sign(JWT_ALG_HS256, kSecret,
                             {{"sub", "u"}, {"iss", "https://id.example.com"}, {"aud", "bridge"}},
                             {{"exp", absl::ToUnixSeconds(kNow) - 29}}),
                        kNow)
                  .ok());
}

TEST(JwtVerifierTest, AudienceMayBeAnArray) {
  auto v = Hs256Verifier();
  const std::string token =
      Sign(JWT_ALG_HS256, kSecret, {{"sub", "u"}, {"iss", "https://id.example.com"}},
           {{"exp", kExp}}, R"({"aud":["web","bridge"]})");
  EXPECT_TRUE(v->Verify(token, kNow).ok());
}

TEST(JwtVerifierTest, MethodsClaimRestrictsCalls) {
  auto v = Hs256Verifier();
  auto identity =
      v->Verify(GoodHs256(R"({"methods":["demo.v1.Echo/Say","shop.v1.Cart/*"]})"), kNow);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_FALSE(identity->all_methods);
  EXPECT_TRUE(MethodAllowed(*identity, "demo.v1.Echo/Say"));
  EXPECT_TRUE(MethodAllowed(*identity, "/demo.v1.Echo/Say"));
  EXPECT_FALSE(MethodAllowed(*identity, "demo.v1.Echo/Repeat"));
  EXPECT_TRUE(MethodAllowed(*identity, "shop.v1.Cart/Add"));
  EXPECT_FALSE(MethodAllowed(*identity, "shop.v1.Cartel/Add"));
  identity->methods = {"*"};
  EXPECT_TRUE(MethodAllowed(*identity, "any.Svc/M"));
}

TEST(JwtVerifierTest, Rs256AndEs256WithPublicKeys) {
  for (bool rsa : {true, false}) {
    SCOPED_TRACE(rsa ? "RS256" : "ES256");
    const KeyPair keys = MakeKeys(rsa);
    v1::JwtConfig config;
    config.set_public_key_file(WriteTemp(rsa ? "rsa.pem" : "ec.pem", keys.public_pem));
    config::ApplyDefaults(&config);
    auto v = JwtVerifier::Create(config);
    ASSERT_TRUE(v.ok()) << v.status();
    const jwt_alg_t alg = rsa ? JWT_ALG_RS256 : JWT_ALG_ES256;
    auto identity =
        (*v)->Verify(Sign(alg, keys.private_pem, {{"sub", "k"}}, {{"exp", kExp}}), kNow);
    ASSERT_TRUE(identity.ok()) << identity.status();
    EXPECT_EQ(identity->user_id, "k");
    // The classic forgery: HS256 "signed" with the public key as the secret.
    auto forged = (*v)->Verify(
        Sign(JWT_ALG_HS256, keys.public_pem, {{"sub", "admin"}}, {{"exp", kExp}}), kNow);
    EXPECT_FALSE(forged.ok());
    // Signed by someone else's key.
    const KeyPair other = MakeKeys(rsa);
    EXPECT_FALSE(
        (*v)->Verify(Sign(alg, other.private_pem, {{"sub", "k"}}, {{"exp", kExp}}), kNow).ok());
  }
}

TEST(JwtVerifierTest, BadConfigNamesTheField) {
  v1::JwtConfig none;
  EXPECT_THAT(std::string(JwtVerifier::Create(none).status().message()), HasSubstr("auth.jwt"));
  v1::JwtConfig short_secret;
  short_secret.set_hs256_secret("short");
  EXPECT_THAT(std::string(JwtVerifier::Create(short_secret).status().message()),
              HasSubstr("32 bytes"));
  v1::JwtConfig missing;
  missing.set_public_key_file("/nonexistent.pem");
  EXPECT_THAT(std::string(JwtVerifier::Create(missing).status().message()),
              HasSubstr("public_key_file"));
  v1::JwtConfig garbage;
  garbage.set_public_key_file(WriteTemp("garbage.pem", "not a key"));
  EXPECT_THAT(std::string(JwtVerifier::Create(garbage).status().message()),
              HasSubstr("not a PEM public key"));
}

}  // namespace
}  // namespace bridge::auth
