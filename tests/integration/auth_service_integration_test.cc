// The external authentication check (auth.service) through the real bridge, a real
// bridge.v1.Auth server on a port, and the demo backend: allowed users get a session and their
// id upstream; refusals close 4500 or 4501; a check that does not come back in time closes 1013
// (service_unavailable, try again); the service sees the upgrade's headers and the token.
#include <limits>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "bridge/config/config.h"
#include "bridge/upstream/auth_client.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "proto/bridge/v1/auth.grpc.pb.h"
#include "tests/support/test_bridge.h"
#include "tests/support/ws_test_client.h"

namespace bridge {
namespace {

using ::bridge::testing::WsTestClient;
using ::testing::HasSubstr;

// Decides by token: "alice" may call Say only; "forever" may call anything, with the longest
// validity a uint64 says; "mallory" is unknown; "eve" is known but
// forbidden; "slow" is never answered: its call ends when the bridge cancels it (its deadline,
// or the session closing), whenever that reaches this server.
class FakeAuth final : public v1::Auth::CallbackService {
 public:
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const v1::CheckRequest* request,
                                  v1::CheckResponse* response) override {
    {
      absl::MutexLock lock(&mu_);
      last_ = *request;
      ++checks_;
    }
    if (request->token() == "slow") return new UnansweredCheck();
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (request->token() == "alice") {
      response->set_allowed(true);
      response->set_user_id("alice");
      response->add_methods("demo.v1.Echo/Say");
    } else if (request->token() == "forever") {
      response->set_allowed(true);
      response->set_user_id("forever");
      response->set_expires_in_ms(std::numeric_limits<uint64_t>::max());
    } else if (request->token() == "eve") {
      response->set_forbidden(true);
      response->set_message("eve may not use this bridge");
    } else {
      response->set_message("unknown credential");
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  v1::CheckRequest last() {
    absl::MutexLock lock(&mu_);
    return last_;
  }
  int checks() {
    absl::MutexLock lock(&mu_);
    return checks_;
  }
  // True once `n` checks have reached the service.
  bool AwaitChecks(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return checks_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

 private:
  // Finishes only when gRPC reports the call cancelled, which it does even when the cancel came
  // before this reactor was bound; a reactor held for teardown instead would be lost when the
  // bridge cancels before the check reaches this server, and Shutdown would wait for it.
  class UnansweredCheck final : public grpc::ServerUnaryReactor {
   public:
    void OnCancel() override { Finish(grpc::Status::CANCELLED); }
    void OnDone() override { delete this; }
  };

  absl::Mutex mu_;
  v1::CheckRequest last_ ABSL_GUARDED_BY(mu_);
  int checks_ ABSL_GUARDED_BY(mu_) = 0;
};

class AuthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &auth_port_);
    builder.RegisterService(&auth_);
    auth_server_ = builder.BuildAndStart();
    ASSERT_NE(auth_port_, 0);
    auto bridge = testing::TestBridge::Start(
        absl::StrCat("auth { service { target: \"127.0.0.1:", auth_port_,
                     "\" timeout_ms: 300 } } forward_request_headers: \"x-*\""));
    ASSERT_TRUE(bridge.ok()) << bridge.status();
    bridge_ = *std::move(bridge);
  }
  void TearDown() override {
    bridge_.reset();
    auth_server_->Shutdown();
  }

  std::unique_ptr<WsTestClient> Connect(const std::string& token,
                                        const WsTestClient::Headers& headers = {}) {
    auto ws = WsTestClient::Connect(bridge_->port(), "/ws", {}, testing::kTestTimeout, headers);
    EXPECT_TRUE(ws.ok()) << ws.status();
    if (!ws.ok()) return nullptr;
    EXPECT_TRUE((*ws)
                    ->SendText(absl::StrCat(R"({"type":"connect","clientId":"c-1","token":")",
                                            token, R"("})"))
                    .ok());
    return *std::move(ws);
  }

  FakeAuth auth_;
  std::unique_ptr<grpc::Server> auth_server_;
  int auth_port_ = 0;
  std::unique_ptr<testing::TestBridge> bridge_;
};

TEST_F(AuthServiceTest, AnAllowedUserIsConfirmedAndKnownUpstream) {
  auto ws = Connect("alice", {{"X-Tenant", "acme"}});
  ASSERT_NE(ws, nullptr);
  EXPECT_THAT(ws->ReceiveText().value_or(""), HasSubstr("connect_confirm"));
  // The service saw the token, the client and the upgrade's headers.
  const v1::CheckRequest seen = auth_.last();
  EXPECT_EQ(seen.token(), "alice");
  EXPECT_EQ(seen.client_id(), "c-1");
  EXPECT_EQ(seen.resource(), "/ws");
  EXPECT_EQ(seen.remote_ip(), "127.0.0.1");
  ASSERT_EQ(seen.headers().count("x-tenant"), 1u);
  EXPECT_EQ(seen.headers().at("x-tenant"), "acme");

  ASSERT_TRUE(ws->SendText(R"({"type":"message","messageId":"1","method":"demo.v1.Echo/Say",)"
                           R"("payload":{"text":"hi"}})")
                  .ok());
  EXPECT_THAT(ws->ReceiveText().value_or(""), HasSubstr(R"("type":"response")"));
  auto md = bridge_->backend().service->last_metadata();
  auto user = md.find("x-bridge-user-id");
  ASSERT_NE(user, md.end());
  EXPECT_EQ(user->second, "alice");

  // What the service allows is what the user may call.
  ASSERT_TRUE(ws->SendText(R"({"type":"message","messageId":"2","method":"demo.v1.Echo/Repeat",)"
                           R"("payload":{"text":"x","count":1}})")
                  .ok());
  EXPECT_THAT(ws->ReceiveText().value_or(""), HasSubstr(R"("category":"permission_denied")"));
}

TEST_F(AuthServiceTest, TheLongestValidityTheServiceCanSayIsNotAnExpiry) {
  auto ws = Connect("forever");
  ASSERT_NE(ws, nullptr);
  EXPECT_THAT(ws->ReceiveText().value_or(""), HasSubstr("connect_confirm"));
  // Read as a signed count it would be -1 ms: the session would close with 4500 at once.
  ASSERT_TRUE(ws->SendText(R"({"type":"message","messageId":"1","method":"demo.v1.Echo/Say",)"
                           R"("payload":{"text":"still here"}})")
                  .ok());
  EXPECT_THAT(ws->ReceiveText().value_or(""), HasSubstr(R"("type":"response")"));
}

TEST_F(AuthServiceTest, AnUnknownCredentialCloses4500) {
  auto ws = Connect("mallory");
  ASSERT_NE(ws, nullptr);
  const std::string error = ws->ReceiveText().value_or("");
  EXPECT_THAT(error, HasSubstr(R"("category":"authentication_failed")"));
  EXPECT_THAT(error, HasSubstr("unknown credential"));
  EXPECT_EQ(ws->WaitForClose().value_or(0), 4500);
}

TEST_F(AuthServiceTest, AForbiddenUserCloses4501) {
  auto ws = Connect("eve");
  ASSERT_NE(ws, nullptr);
  EXPECT_THAT(ws->ReceiveText().value_or(""), HasSubstr(R"("category":"permission_denied")"));
  EXPECT_EQ(ws->WaitForClose().value_or(0), 4501);
}

TEST_F(AuthServiceTest, ACheckThatDoesNotComeBackClosesTryAgainLater) {
  auto ws = Connect("slow");
  ASSERT_NE(ws, nullptr);
  const std::string error = ws->ReceiveText().value_or("");
  EXPECT_THAT(error, HasSubstr(R"("category":"service_unavailable")"));
  EXPECT_THAT(error, HasSubstr(R"("retryable":true)"));
  EXPECT_EQ(ws->WaitForClose().value_or(0), 1013);
  EXPECT_EQ(bridge_->app().server().metrics().auth_unavailable.load(), 1u);
}

TEST_F(AuthServiceTest, FramesBeforeTheCheckEndsAreAProtocolError) {
  auto ws = Connect("slow");
  ASSERT_NE(ws, nullptr);
  ASSERT_TRUE(ws->SendText(R"({"type":"ping"})").ok());
  EXPECT_THAT(ws->ReceiveText().value_or(""), HasSubstr(R"("category":"protocol_error")"));
  EXPECT_EQ(ws->WaitForClose().value_or(0), 1002);
}

// The checker let go while a check is in flight (a bridge shutting down with a session waiting
// for its check): the check is cancelled, ends as "did not answer", and the checker's channel
// goes on the thread that let it go. Were it to go on the gRPC thread that completes the check,
// that thread would free the completion queue it polls (bridge/upstream/in_flight.h).
TEST(AuthServiceCheckerTest, ACheckerLetGoCancelsItsChecksInFlight) {
  FakeAuth auth;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&auth);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);

  v1::AuthServiceConfig config;
  config.set_target(absl::StrCat("127.0.0.1:", port));
  config.set_timeout_ms(3'600'000);  // only the cancel can end the check within the test
  config::ApplyDefaults(&config);
  std::unique_ptr<auth::Checker> checker = upstream::MakeAuthServiceChecker(config);
  absl::Notification done;
  absl::Status outcome;
  auth::CheckInput input;
  input.token = "slow";
  checker->Check(std::move(input), [&](auth::CheckOutcome out) {
    outcome = out.status;
    done.Notify();
  });
  ASSERT_TRUE(auth.AwaitChecks(1, testing::kTestTimeout));
  checker.reset();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(testing::kTestTimeout));
  EXPECT_EQ(outcome.code(), absl::StatusCode::kUnavailable) << outcome;
  server->Shutdown();
}

}  // namespace
}  // namespace bridge
