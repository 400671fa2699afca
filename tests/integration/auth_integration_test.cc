// Client authentication through the real bridge and backend: tokens in the Authorization
// header, in the `bearer, <token>` subprotocol pair and in `connect`; refusals (4500); method
// permissions; expiry mid-session; refresh; and resume only by the same user.
#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/app/bridge_app.h"
#include "bridge/config/config.h"
#include "bridge/protocol/error_table.h"
#include "bridge/protocol/frame_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/backend/backend_server.h"
#include "proto/demo/v1/echo.pb.h"
#include "tests/support/json_frames.h"
#include "tests/support/test_bridge.h"
#include "tests/support/test_tokens.h"
#include "tests/support/ws_test_client.h"

namespace bridge {
namespace {

namespace cc = protocol::close_code;
using ::bridge::testing::kTestTimeout;
using ::bridge::testing::WsTestClient;
using ::testing::Contains;
using ::testing::Pair;
using v1::Frame;

constexpr const char* kSecret = bridge::testing::kTestHs256Secret;

std::string Token(const std::string& user, absl::Duration valid_for,
                  const std::string& methods_json = "") {
  return bridge::testing::Hs256Token(user, valid_for, methods_json);
}

class AuthTest : public ::testing::Test {
 protected:
  void StartBridge(bool required) {
    auto bridge = bridge::testing::TestBridge::Start(
        absl::StrCat("auth { required: ", required ? "true" : "false", " jwt { hs256_secret: \"",
                     kSecret, "\" clock_skew_ms: 1 } }"));
    ASSERT_TRUE(bridge.ok()) << bridge.status();
    bridge_ = *std::move(bridge);
    app_ = &bridge_->app();
    backend_ = &bridge_->backend();
  }

  std::unique_ptr<WsTestClient> Open(const WsTestClient::Headers& headers = {},
                                     const std::vector<std::string>& protocols = {}) {
    auto client =
        WsTestClient::Connect(app_->server().port(), "/ws", protocols, kTestTimeout, headers);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  Frame Next(WsTestClient& client) { return bridge::testing::NextJsonFrame(client, &last_); }

  Frame Connect(WsTestClient& client, const std::string& extra = "") {
    EXPECT_TRUE(
        client.SendText(absl::StrCat(R"({"type":"connect","clientId":"c")", extra, "}")).ok());
    return Next(client);
  }

  Frame Say(WsTestClient& client, const std::string& method = "demo.v1.Echo/Say") {
    EXPECT_TRUE(
        client
            .SendText(absl::StrCat(R"({"type":"message","messageId":"m-)", ++calls_,
                                   R"(","method":")", method, R"(","payload":{"text":"t"}})"))
            .ok());
    return Next(client);
  }

  void ExpectRefused(WsTestClient& client, const std::string& reason) {
    Frame f = Next(client);
    ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
    EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_AUTHENTICATION_FAILED);
    EXPECT_FALSE(f.error().retryable());
    auto code = client.WaitForClose();
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, cc::kUnauthenticated);
    EXPECT_EQ(client.close_reason(), reason);
    EXPECT_FALSE(protocol::ClassifyClose(*code).reconnect);
  }

  std::unique_ptr<bridge::testing::TestBridge> bridge_;
  app::BridgeApp* app_ = nullptr;
  harness::backend::RunningBackend* backend_ = nullptr;
  std::string last_;
  int calls_ = 0;
};

TEST_F(AuthTest, ATokenInTheAuthorizationHeaderIdentifiesTheUserUpstream) {
  StartBridge(/*required=*/true);
  auto client = Open({{"Authorization", "Bearer " + Token("alice", absl::Hours(1))}});
  ASSERT_EQ(Connect(*client).kind_case(), Frame::kConnectConfirm) << last_;
  ASSERT_EQ(Say(*client).kind_case(), Frame::kResponse) << last_;
  EXPECT_THAT(backend_->service->last_metadata(), Contains(Pair("x-bridge-user-id", "alice")));
}

TEST_F(AuthTest, ASubjectOfAnyTextReachesTheUpstreamPercentEncoded) {
  StartBridge(/*required=*/true);
  auto client = Open({{"Authorization", "Bearer " + Token("j\xc3\xbcrgen\n%", absl::Hours(1))}});
  ASSERT_EQ(Connect(*client).kind_case(), Frame::kConnectConfirm) << last_;
  ASSERT_EQ(Say(*client).kind_case(), Frame::kResponse) << last_;
  EXPECT_THAT(backend_->service->last_metadata(),
              Contains(Pair("x-bridge-user-id", "j%C3%BCrgen%0A%25")));
}

TEST_F(AuthTest, BrowsersPassTheTokenAsTheBearerSubprotocolPair) {
  StartBridge(/*required=*/true);
  auto client = Open({}, {"bridge.v1.json", "bearer", Token("bob", absl::Hours(1))});
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->subprotocol(), "bridge.v1.json");  // the token is never echoed
  ASSERT_EQ(Connect(*client).kind_case(), Frame::kConnectConfirm) << last_;
  ASSERT_EQ(Say(*client).kind_case(), Frame::kResponse) << last_;
  EXPECT_THAT(backend_->service->last_metadata(), Contains(Pair("x-bridge-user-id", "bob")));
}

TEST_F(AuthTest, ATokenInConnectWorksToo) {
  StartBridge(/*required=*/true);
  auto client = Open();
  Frame f = Connect(*client, absl::StrCat(R"(,"token":")", Token("carol", absl::Hours(1)), "\""));
  EXPECT_EQ(f.kind_case(), Frame::kConnectConfirm) << last_;
}

TEST_F(AuthTest, NoTokenWhenRequiredOrABadTokenCloses4500) {
  StartBridge(/*required=*/true);
  auto none = Open();
  Connect(*none);
  // Connect returned the error frame; the close follows.
  auto code = none->WaitForClose();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, cc::kUnauthenticated);

  auto bad = Open({{"Authorization", "Bearer " + Token("eve", absl::Hours(1)) + "x"}});
  ASSERT_TRUE(bad->SendText(R"({"type":"connect","clientId":"c"})").ok());
  ExpectRefused(*bad, "authentication_failed");
  EXPECT_EQ(app_->server().metrics().auth_failures.load(), 2u);
  EXPECT_EQ(backend_->service->calls("Say"), 0);
}

TEST_F(AuthTest, WhenNotRequiredAnonymousClientsPassButBadTokensDoNot) {
  StartBridge(/*required=*/false);
  auto anonymous = Open();
  ASSERT_EQ(Connect(*anonymous).kind_case(), Frame::kConnectConfirm);
  ASSERT_EQ(Say(*anonymous).kind_case(), Frame::kResponse);
  EXPECT_EQ(backend_->service->last_metadata().count("x-bridge-user-id"), 0u);
  auto expired = Open({{"Authorization", "Bearer " + Token("old", -absl::Hours(1))}});
  ASSERT_TRUE(expired->SendText(R"({"type":"connect","clientId":"c"})").ok());
  ExpectRefused(*expired, "authentication_failed");
}

TEST_F(AuthTest, TheMethodsClaimLimitsWhatAUserMayCall) {
  StartBridge(/*required=*/true);
  auto client = Open({{"Authorization", "Bearer " + Token("dave", absl::Hours(1),
                                                          R"({"methods":["demo.v1.Echo/Say"]})")}});
  ASSERT_EQ(Connect(*client).kind_case(), Frame::kConnectConfirm);
  EXPECT_EQ(Say(*client).kind_case(), Frame::kResponse) << last_;
  Frame denied = Say(*client, "demo.v1.Echo/Repeat");
  ASSERT_EQ(denied.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(denied.error().category(), v1::ERROR_CATEGORY_PERMISSION_DENIED);
  EXPECT_EQ(backend_->service->calls("Repeat"), 0);
  EXPECT_EQ(app_->server().metrics().permission_denials.load(), 1u);
}

TEST_F(AuthTest, ATokenThatExpiresMidSessionClosesIt4500) {
  StartBridge(/*required=*/true);
  auto client = Open({{"Authorization", "Bearer " + Token("frank", absl::Seconds(1))}});
  ASSERT_EQ(Connect(*client).kind_case(), Frame::kConnectConfirm);
  ExpectRefused(*client, "token_expired");
}

TEST_F(AuthTest, ARefreshForAnotherUserIsRefusedAndTheSessionGoesOn) {
  StartBridge(/*required=*/true);
  auto client = Open({{"Authorization", "Bearer " + Token("gina", absl::Hours(1))}});
  ASSERT_EQ(Connect(*client).kind_case(), Frame::kConnectConfirm);
  ASSERT_TRUE(client
                  ->SendText(absl::StrCat(R"({"type":"refresh","token":")",
                                          Token("mallory", absl::Hours(2)), "\"}"))
                  .ok());
  Frame f = Next(*client);
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_AUTHENTICATION_FAILED);
  EXPECT_EQ(Say(*client).kind_case(), Frame::kResponse);
}

TEST_F(AuthTest, OnlyTheSameUserCanResumeASession) {
  StartBridge(/*required=*/true);
  auto client = Open({{"Authorization", "Bearer " + Token("hal", absl::Hours(1))}});
  Frame confirm = Connect(*client);
  ASSERT_EQ(confirm.connect_confirm().conversation_id(), "s-1");
  client.reset();
  ASSERT_TRUE(app_->server().AwaitOpenConnections(0, kTestTimeout));
  auto thief = Open({{"Authorization", "Bearer " + Token("ivy", absl::Hours(1))}});
  Frame stolen = Connect(*thief, R"(,"resume":{"conversationId":"s-1","lastSeq":1})");
  EXPECT_FALSE(stolen.connect_confirm().resumed());
  auto owner = Open({{"Authorization", "Bearer " + Token("hal", absl::Hours(1))}});
  Frame resumed = Connect(*owner, R"(,"resume":{"conversationId":"s-1","lastSeq":1})");
  EXPECT_TRUE(resumed.connect_confirm().resumed()) << last_;
}

}  // namespace
}  // namespace bridge
