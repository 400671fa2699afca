#include "bridge/server/upgrade.h"

#include "bridge/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bridge::server {
namespace {

v1::BridgeConfig Config(const std::string& text = "") {
  auto config = config::ParseConfigText(text, "test");
  EXPECT_TRUE(config.ok()) << config.status();
  config::ApplyDefaults(&*config);
  return *config;
}

UpgradeRequest Request(std::vector<std::string> subprotocols = {}) {
  UpgradeRequest r;
  r.resource = "/ws";
  r.subprotocols = std::move(subprotocols);
  return r;
}

TEST(UpgradeTest, OtherPathsAre404AndDrainingIs503) {
  UpgradeRequest r = Request();
  r.resource = "/other";
  EXPECT_EQ(DecideUpgrade(r, Config()).http_status, 404);
  r.resource = "/ws?token=x";
  EXPECT_EQ(DecideUpgrade(r, Config()).http_status, 0);
  r.draining = true;
  EXPECT_EQ(DecideUpgrade(r, Config()).refusal, UpgradeRefusal::kDraining);
  EXPECT_EQ(DecideUpgrade(r, Config()).http_status, 503);
}

TEST(UpgradeTest, OriginsOutsideTheListAre403AndNonBrowsersPass) {
  const v1::BridgeConfig config = Config(
      R"(allowed_origins: "https://app.example.com" allowed_origins: "https://*.example.org")");
  UpgradeRequest r = Request();
  r.origin = "https://evil.example.net";
  EXPECT_EQ(DecideUpgrade(r, config).http_status, 403);
  r.origin = "https://app.example.com";
  EXPECT_EQ(DecideUpgrade(r, config).http_status, 0);
  r.origin = "https://a.b.example.org";
  EXPECT_EQ(DecideUpgrade(r, config).http_status, 0);
  // The bare domain is not a subdomain; a look-alike suffix is not either.
  r.origin = "https://example.org";
  EXPECT_EQ(DecideUpgrade(r, config).http_status, 403);
  r.origin = "https://evilexample.org";
  EXPECT_EQ(DecideUpgrade(r, config).http_status, 403);
  r.origin = "";
  EXPECT_EQ(DecideUpgrade(r, config).http_status, 0);
}

TEST(UpgradeTest, TheTokenComesFromTheHeaderOrTheBearerPair) {
  UpgradeRequest r = Request();
  r.authorization = "Bearer  abc.def ";
  EXPECT_EQ(DecideUpgrade(r, Config()).token, "abc.def");
  r.authorization = "Basic dXNlcg==";
  EXPECT_EQ(DecideUpgrade(r, Config()).token, "");
  UpgradeRequest pair = Request({"bridge.v1.json", "bearer", "tok"});
  const UpgradeDecision d = DecideUpgrade(pair, Config());
  EXPECT_EQ(d.token, "tok");
  EXPECT_EQ(d.subprotocol, "bridge.v1.json");
}

TEST(UpgradeTest, TheFirstSubprotocolTheBridgeSpeaksIsChosen) {
  UpgradeDecision d = DecideUpgrade(Request({"x", "bridge.v1.proto", "bridge.v1.json"}), Config());
  EXPECT_EQ(d.subprotocol, "bridge.v1.proto");
  EXPECT_EQ(d.encoding, protocol::Encoding::kBinary);
  d = DecideUpgrade(Request({"chat"}), Config());
  EXPECT_EQ(d.subprotocol, "");
  EXPECT_EQ(d.encoding, protocol::Encoding::kJson);
}

}  // namespace
}  // namespace bridge::server
