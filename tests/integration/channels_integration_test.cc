// Channels, users and push through the real bridge: WebSocket clients subscribe, a backend
// publishes and pushes through bridge.v1.BridgeControl on its real gRPC port; history recovery,
// presence, per-user limits (4503), disconnects, channel permissions, channels fed by a
// server-streaming upstream method, outbound batching, and publications kept across a resume.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/app/bridge_app.h"
#include "bridge/protocol/error_table.h"
#include "bridge/protocol/frame_codec.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/bridge/v1/control.grpc.pb.h"
#include "tests/support/json_frames.h"
#include "tests/support/test_bridge.h"
#include "tests/support/test_tokens.h"
#include "tests/support/ws_test_client.h"

namespace bridge {
namespace {

namespace cc = protocol::close_code;
using ::bridge::testing::kTestTimeout;
using ::bridge::testing::WsTestClient;
using ::testing::HasSubstr;
using v1::Frame;

constexpr const char* kSecret = bridge::testing::kTestHs256Secret;

std::string Token(const std::string& user, const std::string& grants_json = "") {
  return bridge::testing::Hs256Token(user, absl::Hours(1), grants_json);
}

class ChannelsTest : public ::testing::Test {
 protected:
  void StartBridge(const std::string& extra = "") {
    auto bridge = bridge::testing::TestBridge::Start(
        absl::StrCat("control_listen: \"127.0.0.1:0\" auth { jwt { hs256_secret: \"", kSecret,
                     "\" } } ", extra));
    ASSERT_TRUE(bridge.ok()) << bridge.status();
    bridge_ = *std::move(bridge);
    app_ = &bridge_->app();
    ASSERT_NE(app_->control_port(), 0);
    control_ = v1::BridgeControl::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", app_->control_port()), grpc::InsecureChannelCredentials()));
  }

  // A confirmed client; `user` non-empty: authenticated as that user.
  std::unique_ptr<WsTestClient> Client(const std::string& user = "",
                                       const std::string& grants = "") {
    WsTestClient::Headers headers;
    if (!user.empty()) headers.emplace_back("Authorization", "Bearer " + Token(user, grants));
    auto client = WsTestClient::Connect(app_->server().port(), "/ws", {}, kTestTimeout, headers);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    EXPECT_TRUE((*client)->SendText(R"({"type":"connect","clientId":"c"})").ok());
    Frame confirm = Next(**client);
    EXPECT_EQ(confirm.kind_case(), Frame::kConnectConfirm) << last_;
    conversation_ = confirm.connect_confirm().conversation_id();
    return std::move(*client);
  }

  Frame Next(WsTestClient& client) { return bridge::testing::NextJsonFrame(client, &last_); }

  Frame Subscribe(WsTestClient& client, const std::string& channel, const std::string& extra = "") {
    return bridge::testing::SubscribeJson(client, channel, extra, &last_);
  }

  grpc::Status Publish(const std::string& channel, const std::string& data,
                       v1::PublishResponse* response = nullptr, const std::string& exclude = "") {
    v1::PublishRequest request;
    request.set_channel(channel);
    request.set_data(data);
    request.set_exclude_session(exclude);
    v1::PublishResponse ignored;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return control_->Publish(&context, request, response != nullptr ? response : &ignored);
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  std::unique_ptr<bridge::testing::TestBridge> bridge_;
  app::BridgeApp* app_ = nullptr;
  std::unique_ptr<v1::BridgeControl::Stub> control_;
  std::string last_;
  std::string conversation_;
};

TEST_F(ChannelsTest, EverySubscriberGetsEveryPublicationInOffsetOrder) {
  StartBridge();
  auto a = Client();
  auto b = Client();
  Frame sa = Subscribe(*a, "news");
  ASSERT_EQ(sa.kind_case(), Frame::kSubscribed) << last_;
  EXPECT_EQ(sa.subscribed().channel(), "news");
  EXPECT_EQ(sa.subscribed().offset(), 0u);
  EXPECT_FALSE(sa.subscribed().epoch().empty());
  EXPECT_FALSE(sa.subscribed().has_recovered());  // no `since` was asked
  ASSERT_EQ(Subscribe(*b, "news").kind_case(), Frame::kSubscribed);

  for (int i = 1; i <= 3; ++i) {
    v1::PublishResponse response;
    ASSERT_TRUE(Publish("news", absl::StrCat(R"({"n":)", i, "}"), &response).ok());
    EXPECT_EQ(response.offset(), static_cast<uint64_t>(i));
    EXPECT_EQ(response.epoch(), sa.subscribed().epoch());
  }
  for (WsTestClient* c : {a.get(), b.get()}) {
    for (int i = 1; i <= 3; ++i) {
      Frame p = Next(*c);
      ASSERT_EQ(p.kind_case(), Frame::kPublication) << last_;
      EXPECT_EQ(p.publication().channel(), "news");
      EXPECT_EQ(p.publication().offset(), static_cast<uint64_t>(i));
      EXPECT_EQ(p.publication().epoch(), sa.subscribed().epoch());
      EXPECT_EQ(p.publication().data(), absl::StrCat(R"({"n":)", i, "}"));
      EXPECT_THAT(last_, HasSubstr(absl::StrCat(R"("data":{"n":)", i, "}")));  // raw JSON
    }
  }
}

TEST_F(ChannelsTest, SubscribeSinceRecoversWhatWasMissedOrSaysItCannot) {
  StartBridge("channels { history_size: 3 }");
  auto client = Client();
  Frame first = Subscribe(*client, "feed");
  const std::string epoch = first.subscribed().epoch();
  ASSERT_TRUE(Publish("feed", R"("one")").ok());
  ASSERT_EQ(Next(*client).publication().offset(), 1u);
  ASSERT_TRUE(client->SendText(R"({"type":"unsubscribe","channel":"feed"})").ok());
  Frame left = Next(*client);
  ASSERT_EQ(left.kind_case(), Frame::kUnsubscribed) << last_;
  EXPECT_EQ(left.unsubscribed().offset(), 1u);
  ASSERT_TRUE(Publish("feed", R"("two")").ok());
  ASSERT_TRUE(Publish("feed", R"("three")").ok());

  Frame back =
      Subscribe(*client, "feed", absl::StrCat(R"(,"since":{"offset":1,"epoch":")", epoch, "\"}"));
  ASSERT_EQ(back.kind_case(), Frame::kSubscribed) << last_;
  EXPECT_TRUE(back.subscribed().recovered());
  EXPECT_EQ(back.subscribed().offset(), 3u);
  Frame two = Next(*client);
  Frame three = Next(*client);
  EXPECT_EQ(two.publication().offset(), 2u);
  EXPECT_EQ(two.publication().data(), R"("two")");
  EXPECT_EQ(three.publication().offset(), 3u);

  // Another client whose position is older than the history (3 kept: offsets 2..4 after one
  // more) or of another epoch is told so, and gets nothing replayed.
  ASSERT_TRUE(Publish("feed", R"("four")").ok());
  ASSERT_EQ(Next(*client).publication().offset(), 4u);
  auto late = Client();
  Frame too_old =
      Subscribe(*late, "feed", absl::StrCat(R"(,"since":{"offset":0,"epoch":")", epoch, "\"}"));
  ASSERT_EQ(too_old.kind_case(), Frame::kSubscribed) << last_;
  EXPECT_FALSE(too_old.subscribed().recovered());
  EXPECT_EQ(too_old.subscribed().offset(), 4u);
  auto other = Client();
  Frame wrong_epoch = Subscribe(*other, "feed", R"(,"since":{"offset":3,"epoch":"gone"})");
  EXPECT_FALSE(wrong_epoch.subscribed().recovered());
  // Nothing else is queued for them: the next frame is the answer to a ping.
  ASSERT_TRUE(late->SendText(R"({"type":"ping"})").ok());
  EXPECT_EQ(Next(*late).kind_case(), Frame::kPong) << last_;
}

TEST_F(ChannelsTest, ThePublishersOwnSessionCanBeLeftOut) {
  StartBridge();
  auto a = Client();
  const std::string a_session = conversation_;
  auto b = Client();
  Subscribe(*a, "room");
  Subscribe(*b, "room");
  ASSERT_TRUE(Publish("room", R"({"from":"a"})", nullptr, a_session).ok());
  ASSERT_TRUE(Publish("room", R"({"from":"server"})").ok());
  EXPECT_EQ(Next(*b).publication().offset(), 1u);
  EXPECT_EQ(Next(*b).publication().offset(), 2u);
  Frame only = Next(*a);
  EXPECT_EQ(only.publication().offset(), 2u) << last_;
}

TEST_F(ChannelsTest, PushesReachAUsersConnectionsOneSessionOrEveryone) {
  StartBridge();
  auto ann1 = Client("ann");
  auto ann2 = Client("ann");
  auto bob = Client("bob");
  const std::string bob_session = conversation_;

  v1::SendToUserRequest to_user;
  to_user.set_user_id("ann");
  to_user.set_data(R"({"note":"for ann"})");
  v1::SendResponse sent;
  ASSERT_TRUE(control_->SendToUser(Context().get(), to_user, &sent).ok());
  for (WsTestClient* c : {ann1.get(), ann2.get()}) {
    Frame push = Next(*c);
    ASSERT_EQ(push.kind_case(), Frame::kPublication) << last_;
    EXPECT_EQ(push.publication().channel(), "");
    EXPECT_EQ(push.publication().data(), R"({"note":"for ann"})");
  }
  v1::UserPresenceRequest who;
  who.add_user_ids("ann");
  who.add_user_ids("zed");
  v1::UserPresenceResponse users;
  ASSERT_TRUE(control_->UserPresence(Context().get(), who, &users).ok());
  ASSERT_EQ(users.users_size(), 2);
  EXPECT_EQ(users.users(0).user_id(), "ann");
  EXPECT_TRUE(users.users(0).online());
  EXPECT_EQ(users.users(0).connections_size(), 2);
  EXPECT_EQ(users.users(1).user_id(), "zed");
  EXPECT_FALSE(users.users(1).online());
  EXPECT_EQ(control_->UserPresence(Context().get(), v1::UserPresenceRequest(), &users).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::SendToSessionRequest to_session;
  to_session.set_session_id(bob_session);
  to_session.set_data(R"("just bob")");
  ASSERT_TRUE(control_->SendToSession(Context().get(), to_session, &sent).ok());
  EXPECT_EQ(Next(*bob).publication().data(), R"("just bob")");  // bob got nothing before it

  v1::BroadcastRequest everyone;
  everyone.set_data("42");
  ASSERT_TRUE(control_->Broadcast(Context().get(), everyone, &sent).ok());
  for (WsTestClient* c : {ann1.get(), ann2.get(), bob.get()}) {
    EXPECT_EQ(Next(*c).publication().data(), "42") << last_;
  }
}

TEST_F(ChannelsTest, OneConnectionTooManyForAUserIsClosed4503) {
  StartBridge("max_connections_per_user: 2");
  auto one = Client("cat");
  auto two = Client("cat");
  auto other = Client("dan");  // another user is not counted with cat
  auto client = WsTestClient::Connect(app_->server().port(), "/ws", {}, kTestTimeout,
                                      {{"Authorization", "Bearer " + Token("cat")}});
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->SendText(R"({"type":"connect","clientId":"c"})").ok());
  Frame error = Next(**client);
  ASSERT_EQ(error.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(error.error().category(), v1::ERROR_CATEGORY_LIMIT_EXCEEDED);
  auto code = (*client)->WaitForClose();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, cc::kConnectionLimit);
  EXPECT_EQ((*client)->close_reason(), "connection_limit");
  EXPECT_FALSE(protocol::ClassifyClose(*code).reconnect);
  EXPECT_EQ(app_->server().metrics().user_limit_closes.load(), 1u);

  // One of cat's connections ends for good: there is room again.
  ASSERT_TRUE(one->SendClose(1000, "bye").ok());
  ASSERT_TRUE(one->WaitForClose().ok());
  ASSERT_TRUE(app_->server().AwaitSessionCount(2, kTestTimeout));  // two and other
  auto three = Client("cat");
  ASSERT_NE(three, nullptr);
}

TEST_F(ChannelsTest, DisconnectClosesEveryConnectionOfTheUserForGood) {
  StartBridge();
  auto eve1 = Client("eve");
  auto eve2 = Client("eve");
  auto fred = Client("fred");
  v1::DisconnectRequest request;
  request.set_user_id("eve");
  request.set_code(4501);
  request.set_reason("banned");
  v1::DisconnectResponse response;
  ASSERT_TRUE(control_->Disconnect(Context().get(), request, &response).ok());
  for (WsTestClient* c : {eve1.get(), eve2.get()}) {
    auto code = c->WaitForClose();
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 4501);
    EXPECT_EQ(c->close_reason(), "banned");
  }
  // fred is still there, and eve's sessions are gone (not kept for a resume).
  ASSERT_TRUE(fred->SendText(R"({"type":"ping"})").ok());
  EXPECT_EQ(Next(*fred).kind_case(), Frame::kPong);
  EXPECT_TRUE(app_->server().AwaitSessionCount(1, kTestTimeout));

  request.set_code(3000);
  grpc::Status bad = control_->Disconnect(Context().get(), request, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("code"));
}

TEST_F(ChannelsTest, PresenceListsWhoIsInAChannel) {
  StartBridge();
  auto gus = Client("gus");
  const std::string gus_session = conversation_;
  auto hana = Client("hana");
  Subscribe(*gus, "lobby");
  Subscribe(*hana, "lobby");
  v1::PresenceRequest request;
  request.set_channel("lobby");
  v1::PresenceResponse response;
  ASSERT_TRUE(control_->Presence(Context().get(), request, &response).ok());
  std::set<std::string> users;
  for (const auto& c : response.clients()) users.insert(c.user_id());
  EXPECT_EQ(users, (std::set<std::string>{"gus", "hana"}));

  ASSERT_TRUE(hana->SendText(R"({"type":"unsubscribe","channel":"lobby"})").ok());
  ASSERT_EQ(Next(*hana).kind_case(), Frame::kUnsubscribed);
  response.Clear();
  ASSERT_TRUE(control_->Presence(Context().get(), request, &response).ok());
  ASSERT_EQ(response.clients_size(), 1);
  EXPECT_EQ(response.clients(0).session_id(), gus_session);
  EXPECT_EQ(response.clients(0).client_id(), "c");

  v1::ListConnectionsRequest list;
  list.set_user_id("gus");
  v1::ListConnectionsResponse connections;
  ASSERT_TRUE(control_->ListConnections(Context().get(), list, &connections).ok());
  ASSERT_EQ(connections.connections_size(), 1);
  EXPECT_THAT(connections.connections(0).channels(), ::testing::ElementsAre("lobby"));
  v1::StatsResponse stats;
  ASSERT_TRUE(control_->Stats(Context().get(), v1::StatsRequest(), &stats).ok());
  EXPECT_EQ(stats.broker(), "memory");
  EXPECT_EQ(stats.sessions(), 2u);
  EXPECT_EQ(stats.subscriptions(), 1u);
}

TEST_F(ChannelsTest, ATokenLimitsTheChannelsAUserMaySubscribeTo) {
  StartBridge();
  auto ivan = Client("ivan", R"({"channels":["chat:*"]})");
  EXPECT_EQ(Subscribe(*ivan, "chat:general").kind_case(), Frame::kSubscribed) << last_;
  Frame refused = Subscribe(*ivan, "admin");
  ASSERT_EQ(refused.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(refused.error().category(), v1::ERROR_CATEGORY_PERMISSION_DENIED);
  EXPECT_EQ(refused.error().field(), "channel");
  EXPECT_THAT(refused.error().message(), HasSubstr("admin"));
  Frame answer = Next(*ivan);
  ASSERT_EQ(answer.kind_case(), Frame::kUnsubscribed) << last_;
  EXPECT_EQ(answer.unsubscribed().channel(), "admin");
  EXPECT_GE(app_->server().metrics().subscriptions_refused.load(), 1u);
}

TEST_F(ChannelsTest, BadRequestsAreRefusedNamingTheField) {
  StartBridge("channels { max_channels_per_session: 1 }");
  grpc::Status not_json = Publish("news", "{not json");
  EXPECT_EQ(not_json.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(not_json.error_message(), HasSubstr("data"));
  grpc::Status no_name = Publish("", "1");
  EXPECT_EQ(no_name.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_name.error_message(), HasSubstr("channel"));

  auto client = Client();
  ASSERT_EQ(Subscribe(*client, "one").kind_case(), Frame::kSubscribed);
  Frame again = Subscribe(*client, "one");
  EXPECT_EQ(again.error().category(), v1::ERROR_CATEGORY_INVALID_ARGUMENT) << last_;
  // The first subscription stands: no unsubscribed, and publications still come.
  ASSERT_TRUE(Publish("one", "1").ok());
  EXPECT_EQ(Next(*client).kind_case(), Frame::kPublication) << last_;
  Frame over = Subscribe(*client, "two");
  EXPECT_EQ(over.error().category(), v1::ERROR_CATEGORY_LIMIT_EXCEEDED) << last_;
  EXPECT_EQ(Next(*client).kind_case(), Frame::kUnsubscribed);
  ASSERT_TRUE(client->SendText(R"({"type":"unsubscribe","channel":"never"})").ok());
  EXPECT_EQ(Next(*client).error().category(), v1::ERROR_CATEGORY_NOT_FOUND) << last_;
}

TEST_F(ChannelsTest, AChannelFedByAServerStreamingMethodFansOutItsReplies) {
  StartBridge(
      "channels { namespaces { pattern: \"repeat:*\" method: \"demo.v1.Echo/Repeat\" "
      "history_size: 10 } }");
  auto client = Client();
  Frame subscribed = Subscribe(*client, "repeat:hi", R"(,"params":{"text":"hi","count":3})");
  ASSERT_EQ(subscribed.kind_case(), Frame::kSubscribed) << last_;
  std::vector<Frame> publications;
  Frame f;
  while (publications.size() < 3) {
    f = Next(*client);
    if (f.kind_case() == Frame::kUnsubscribed) break;  // the stream ended
    ASSERT_EQ(f.kind_case(), Frame::kPublication) << last_;
    publications.push_back(f);
  }
  ASSERT_EQ(publications.size(), 3u);
  for (size_t i = 0; i < publications.size(); ++i) {
    EXPECT_EQ(publications[i].publication().offset(), i + 1);
    EXPECT_THAT(publications[i].publication().data(), HasSubstr(R"("text":"hi")"));
  }
  // The stream ended after three replies: the channel is closed and the subscriber told so.
  if (f.kind_case() != Frame::kUnsubscribed) f = Next(*client);
  EXPECT_EQ(f.kind_case(), Frame::kUnsubscribed) << last_;
  EXPECT_EQ(f.unsubscribed().channel(), "repeat:hi");
  // Publishing into a fed channel is refused.
  EXPECT_EQ(Publish("repeat:hi", "1").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // Params the request type does not have are refused at subscribe.
  Frame bad = Subscribe(*client, "repeat:x", R"(,"params":{"nope":1})");
  EXPECT_EQ(bad.error().category(), v1::ERROR_CATEGORY_INVALID_ARGUMENT) << last_;
}

// A fed channel's publications follow the JSON mapping of its method's route; a session's own
// choice does not apply to them, as every subscriber shares one publication.
TEST_F(ChannelsTest, AFedChannelWritesItsPublicationsInTheRoutesJsonMapping) {
  StartBridge(
      "routes { service: \"*\" target: \"127.0.0.1:1\" json { proto_names: true "
      "emit_defaults: true session_may_choose: true } } "
      "channels { namespaces { pattern: \"repeat:*\" method: \"demo.v1.Echo/Repeat\" } }");
  auto client = WsTestClient::Connect(app_->server().port());
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(
      (*client)
          ->SendText(R"({"type":"connect","clientId":"c","jsonMapping":{"protoNames":false}})")
          .ok());
  ASSERT_EQ(Next(**client).kind_case(), Frame::kConnectConfirm) << last_;
  Frame subscribed = Subscribe(**client, "repeat:m", R"(,"params":{"text":"m","count":1})");
  ASSERT_EQ(subscribed.kind_case(), Frame::kSubscribed) << last_;
  Frame p = Next(**client);
  ASSERT_EQ(p.kind_case(), Frame::kPublication) << last_;
  EXPECT_THAT(p.publication().data(), HasSubstr(R"("received_at":")"));  // the route's names
  EXPECT_THAT(p.publication().data(), HasSubstr(R"("list_i64":[])"));    // and its defaults
}

TEST_F(ChannelsTest, AFedChannelIsOpenedOnceAndCancelledWhenTheLastSubscriberLeaves) {
  StartBridge("channels { namespaces { pattern: \"ticks:*\" method: \"demo.v1.Echo/Repeat\" } }");
  auto first = Client();
  auto second = Client();
  // count 0: until cancelled; a reply every 20 ms.
  const std::string params = R"(,"params":{"text":"t","count":0,"interval":"0.020s"})";
  ASSERT_EQ(Subscribe(*first, "ticks:a", params).kind_case(), Frame::kSubscribed) << last_;
  ASSERT_EQ(Subscribe(*second, "ticks:a", params).kind_case(), Frame::kSubscribed) << last_;
  // Both get the same stream (the same offsets), from one upstream call.
  Frame from_second = Next(*second);
  ASSERT_EQ(from_second.kind_case(), Frame::kPublication) << last_;
  Frame from_first;
  do {
    from_first = Next(*first);
  } while (from_first.kind_case() == Frame::kPublication &&
           from_first.publication().offset() < from_second.publication().offset());
  EXPECT_EQ(from_first.publication().offset(), from_second.publication().offset());
  EXPECT_EQ(from_first.publication().data(), from_second.publication().data());
  EXPECT_EQ(bridge_->backend().service->calls("Repeat"), 1);

  ASSERT_TRUE(first->SendText(R"({"type":"unsubscribe","channel":"ticks:a"})").ok());
  Frame f;
  do {
    f = Next(*first);
  } while (f.kind_case() == Frame::kPublication);
  ASSERT_EQ(f.kind_case(), Frame::kUnsubscribed) << last_;
  // One subscriber is left: the stream goes on.
  const uint64_t seen = from_second.publication().offset();
  do {
    f = Next(*second);
  } while (f.kind_case() == Frame::kPublication && f.publication().offset() <= seen + 2);
  EXPECT_EQ(f.kind_case(), Frame::kPublication) << last_;
  EXPECT_EQ(bridge_->backend().service->cancellations(), 0);
  ASSERT_TRUE(second->SendText(R"({"type":"unsubscribe","channel":"ticks:a"})").ok());
  EXPECT_TRUE(bridge_->backend().service->AwaitCancellations(1, kTestTimeout));
  EXPECT_EQ(bridge_->backend().service->calls("Repeat"), 1);
}

TEST_F(ChannelsTest, BatchingCoalescesFramesEachKeepingItsSeq) {
  StartBridge("batch { max_frames: 3 max_delay_ms: 1000 }");
  auto client = Client();
  Frame subscribed = Subscribe(*client, "b");  // alone in its batch until the delay: a while
  ASSERT_EQ(subscribed.kind_case(), Frame::kSubscribed) << last_;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Publish("b", absl::StrCat(i)).ok());
  Frame batch = Next(*client);
  ASSERT_EQ(batch.kind_case(), Frame::kBatch) << last_;
  ASSERT_EQ(batch.batch().frames_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(batch.batch().frames(i).publication().data(), absl::StrCat(i));
    EXPECT_EQ(batch.batch().frames(i).seq(), subscribed.seq() + 1 + i);
  }
  EXPECT_EQ(batch.seq(), 0u);
  EXPECT_EQ(app_->server().metrics().batches_sent.load(), 1u);
}

TEST_F(ChannelsTest, PublicationsSentWhileTheConnectionWasDownComeBackWithTheResume) {
  StartBridge();
  auto client = Client();
  const std::string session = conversation_;
  Frame subscribed = Subscribe(*client, "keep");
  ASSERT_TRUE(Publish("keep", R"("before")").ok());
  Frame before = Next(*client);
  ASSERT_EQ(before.kind_case(), Frame::kPublication);
  client.reset();  // dropped without a close frame: the session waits for a resume
  ASSERT_TRUE(app_->server().AwaitOpenConnections(0, kTestTimeout));
  ASSERT_TRUE(Publish("keep", R"("while away")").ok());

  auto back = WsTestClient::Connect(app_->server().port());
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE((*back)
                  ->SendText(absl::StrCat(R"({"type":"connect","clientId":"c","resume":{)",
                                          R"("conversationId":")", session, R"(","lastSeq":)",
                                          before.seq(), "}}"))
                  .ok());
  Frame replayed = Next(**back);
  ASSERT_EQ(replayed.kind_case(), Frame::kPublication) << last_;
  EXPECT_EQ(replayed.publication().data(), R"("while away")");
  EXPECT_EQ(replayed.seq(), before.seq() + 1);
  Frame confirm = Next(**back);
  EXPECT_TRUE(confirm.connect_confirm().resumed()) << last_;
  // Still subscribed.
  ASSERT_TRUE(Publish("keep", R"("after")").ok());
  EXPECT_EQ(Next(**back).publication().offset(), 3u);
}

}  // namespace
}  // namespace bridge
