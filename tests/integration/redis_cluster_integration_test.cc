// Two bridge instances acting as one through a real redis-server (broker type "redis"):
// publications, pushes and disconnects sent to either reach connections on both; history
// recovered on the other instance; presence and the per-user connection limit span both; and
// Redis going away is reported to clients (1013, service_unavailable) until it is back.
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "bridge/app/bridge_app.h"
#include "bridge/protocol/error_table.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/pubsub/redis_broker.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/bridge/v1/control.grpc.pb.h"
#include "tests/support/json_frames.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_bridge.h"
#include "tests/support/test_tokens.h"
#include "tests/support/ws_test_client.h"

namespace bridge {
namespace {

namespace cc = protocol::close_code;
using ::bridge::testing::kTestTimeout;
using ::bridge::testing::WsTestClient;
using v1::Frame;

constexpr const char* kSecret = bridge::testing::kTestHs256Secret;

std::string Token(const std::string& user) { return bridge::testing::Hs256Token(user); }

struct Instance {
  std::unique_ptr<bridge::testing::TestBridge> bridge;
  std::unique_ptr<v1::BridgeControl::Stub> control;
};

class RedisClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = bridge::testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    a_ = StartInstance("a-");
    b_ = StartInstance("b-");
  }

  Instance StartInstance(const std::string& prefix) {
    Instance instance;
    auto bridge = bridge::testing::TestBridge::Start(
        absl::StrCat("control_listen: \"127.0.0.1:0\" max_connections_per_user: 2 ",
                     "auth { jwt { hs256_secret: \"", kSecret, "\" } } ",
                     "broker { type: \"redis\" redis_address: \"", redis_->address(),
                     "\" redis_prefix: \"t\" }"),
        prefix);
    EXPECT_TRUE(bridge.ok()) << bridge.status();
    if (!bridge.ok()) return instance;
    instance.bridge = *std::move(bridge);
    instance.control = v1::BridgeControl::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", instance.bridge->app().control_port()),
                            grpc::InsecureChannelCredentials()));
    return instance;
  }

  std::unique_ptr<WsTestClient> Open(Instance& at, const std::string& user) {
    WsTestClient::Headers headers;
    if (!user.empty()) headers.emplace_back("Authorization", "Bearer " + Token(user));
    auto client = WsTestClient::Connect(at.bridge->port(), "/ws", {}, kTestTimeout, headers);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    EXPECT_TRUE((*client)->SendText(R"({"type":"connect","clientId":"c"})").ok());
    return std::move(*client);
  }

  // A confirmed client on `at`.
  std::unique_ptr<WsTestClient> Client(Instance& at, const std::string& user = "") {
    auto client = Open(at, user);
    if (client == nullptr) return nullptr;
    Frame confirm = Next(*client);
    EXPECT_EQ(confirm.kind_case(), Frame::kConnectConfirm) << last_;
    return client;
  }

  Frame Next(WsTestClient& client) { return bridge::testing::NextJsonFrame(client, &last_); }

  Frame Subscribe(WsTestClient& client, const std::string& channel, const std::string& extra = "") {
    return bridge::testing::SubscribeJson(client, channel, extra, &last_);
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  grpc::Status Publish(Instance& at, const std::string& channel, const std::string& data,
                       v1::PublishResponse* response = nullptr) {
    v1::PublishRequest request;
    request.set_channel(channel);
    request.set_data(data);
    v1::PublishResponse ignored;
    return at.control->Publish(Context().get(), request, response ? response : &ignored);
  }

  std::unique_ptr<bridge::testing::RedisServer> redis_;
  Instance a_;
  Instance b_;
  std::string last_;
};

TEST_F(RedisClusterTest, APublishToEitherInstanceReachesSubscribersOnBoth) {
  auto on_a = Client(a_);
  auto on_b = Client(b_);
  Frame sa = Subscribe(*on_a, "news");
  Frame sb = Subscribe(*on_b, "news");
  ASSERT_EQ(sa.kind_case(), Frame::kSubscribed) << last_;
  ASSERT_EQ(sb.kind_case(), Frame::kSubscribed) << last_;
  EXPECT_EQ(sa.subscribed().epoch(), sb.subscribed().epoch());  // one stream, in Redis

  v1::PublishResponse first;
  ASSERT_TRUE(Publish(a_, "news", R"({"from":"a"})", &first).ok());
  EXPECT_EQ(first.offset(), 1u);
  v1::PublishResponse second;
  ASSERT_TRUE(Publish(b_, "news", R"({"from":"b"})", &second).ok());
  EXPECT_EQ(second.offset(), 2u);
  for (WsTestClient* c : {on_a.get(), on_b.get()}) {
    Frame p1 = Next(*c);
    Frame p2 = Next(*c);
    ASSERT_EQ(p1.kind_case(), Frame::kPublication) << last_;
    EXPECT_EQ(p1.publication().offset(), 1u);
    EXPECT_EQ(p1.publication().data(), R"({"from":"a"})");
    EXPECT_EQ(p2.publication().offset(), 2u);
    EXPECT_EQ(p2.publication().data(), R"({"from":"b"})");
  }
}

TEST_F(RedisClusterTest, WhatWasMissedOnOneInstanceIsRecoveredOnTheOther) {
  auto client = Client(a_);
  Frame subscribed = Subscribe(*client, "feed");
  const std::string epoch = subscribed.subscribed().epoch();
  ASSERT_TRUE(Publish(a_, "feed", "1").ok());
  ASSERT_EQ(Next(*client).publication().offset(), 1u);
  client.reset();  // gone; it comes back on the other instance
  ASSERT_TRUE(Publish(b_, "feed", "2").ok());
  ASSERT_TRUE(Publish(a_, "feed", "3").ok());

  auto back = Client(b_);
  Frame again =
      Subscribe(*back, "feed", absl::StrCat(R"(,"since":{"offset":1,"epoch":")", epoch, "\"}"));
  ASSERT_EQ(again.kind_case(), Frame::kSubscribed) << last_;
  EXPECT_TRUE(again.subscribed().recovered());
  EXPECT_EQ(Next(*back).publication().data(), "2");
  EXPECT_EQ(Next(*back).publication().data(), "3");
}

TEST_F(RedisClusterTest, PushesAndDisconnectsReachAUserOnEveryInstance) {
  auto ann_a = Client(a_, "ann");
  auto ann_b = Client(b_, "ann");
  auto bob_b = Client(b_, "bob");
  v1::SendToUserRequest push;
  push.set_user_id("ann");
  push.set_data(R"("hello ann")");
  v1::SendResponse sent;
  ASSERT_TRUE(a_.control->SendToUser(Context().get(), push, &sent).ok());
  EXPECT_EQ(Next(*ann_a).publication().data(), R"("hello ann")") << last_;
  EXPECT_EQ(Next(*ann_b).publication().data(), R"("hello ann")") << last_;

  v1::DisconnectRequest disconnect;
  disconnect.set_user_id("ann");
  disconnect.set_code(4501);
  disconnect.set_reason("banned");
  v1::DisconnectResponse done;
  ASSERT_TRUE(b_.control->Disconnect(Context().get(), disconnect, &done).ok());
  for (WsTestClient* c : {ann_a.get(), ann_b.get()}) {
    auto code = c->WaitForClose();
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 4501);
    EXPECT_EQ(c->close_reason(), "banned");
  }
  ASSERT_TRUE(bob_b->SendText(R"({"type":"ping"})").ok());
  EXPECT_EQ(Next(*bob_b).kind_case(), Frame::kPong) << last_;  // bob was not disconnected
}

TEST_F(RedisClusterTest, PresenceAndTheUserLimitSpanBothInstances) {
  auto cat_a = Client(a_, "cat");
  auto cat_b = Client(b_, "cat");
  Subscribe(*cat_a, "lobby");
  Subscribe(*cat_b, "lobby");
  v1::PresenceRequest request;
  request.set_channel("lobby");
  v1::PresenceResponse presence;
  ASSERT_TRUE(a_.control->Presence(Context().get(), request, &presence).ok());
  std::set<std::string> sessions;
  for (const auto& c : presence.clients()) sessions.insert(c.session_id());
  EXPECT_EQ(sessions, (std::set<std::string>{"a-1", "b-1"}));

  v1::UserPresenceRequest who;
  who.add_user_ids("cat");
  who.add_user_ids("nobody");
  v1::UserPresenceResponse users;
  ASSERT_TRUE(b_.control->UserPresence(Context().get(), who, &users).ok());
  ASSERT_EQ(users.users_size(), 2);
  EXPECT_TRUE(users.users(0).online());
  EXPECT_EQ(users.users(0).connections_size(), 2);  // one on each instance
  EXPECT_FALSE(users.users(1).online());

  // cat has two connections (the limit), one on each instance: a third on either is refused.
  auto third = Open(a_, "cat");
  Frame error = Next(*third);
  ASSERT_EQ(error.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(error.error().category(), v1::ERROR_CATEGORY_LIMIT_EXCEEDED);
  auto code = third->WaitForClose();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, cc::kConnectionLimit);
}

TEST_F(RedisClusterTest, WithRedisGoneClientsAreToldToComeBackLater) {
  auto client = Client(a_);
  ASSERT_EQ(Subscribe(*client, "before").kind_case(), Frame::kSubscribed);
  redis_->Kill();
  Frame refused = Subscribe(*client, "during");
  ASSERT_EQ(refused.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(refused.error().category(), v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE);
  EXPECT_TRUE(refused.error().retryable());
  EXPECT_EQ(Next(*client).kind_case(), Frame::kUnsubscribed) << last_;
  // An authenticated connection cannot be counted: 1013, try again later.
  auto user = Open(b_, "dan");
  Frame unavailable = Next(*user);
  EXPECT_EQ(unavailable.error().category(), v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE) << last_;
  auto code = user->WaitForClose();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, cc::kTryAgainLater);

  ASSERT_TRUE(redis_->Restart().ok());
  // The broker reconnects by itself, each of its two connections with its own backoff: until
  // the subscriber connection is back a subscribe is refused as above, however soon publishing
  // works again. Once both are up and confirmed, a subscribe succeeds.
  auto* broker = dynamic_cast<pubsub::RedisBroker*>(&a_.bridge->app().node().broker());
  ASSERT_NE(broker, nullptr);
  ASSERT_TRUE(broker->WaitConnected(kTestTimeout));
  Frame answer = Subscribe(*client, "after");
  EXPECT_EQ(answer.kind_case(), Frame::kSubscribed) << last_;
}

}  // namespace
}  // namespace bridge
