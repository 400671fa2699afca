// The C++ client against the real bridge and the real demo backend, both in-process on port
// 0: the session, every call kind, error frames, the bridge's shutdown and heartbeat timeout,
// and network faults (a cut or a frozen TCP connection) from a proxy between the two.
//
// Today the bridge never resumes a session (connect_confirm says resumed: false), so the tests
// that reconnect accept either answer and check what the client must do in each case.
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/client/websocket_client.h"
#include "bridge/protocol/error_table.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/demo/v1/echo.pb.h"
#include "tests/support/socket_options.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/test_bridge.h"
#include "tests/support/ws_test_client.h"

namespace bridge {
namespace {

using ::bridge::testing::kTestTimeout;
using ::bridge::testing::TcpProxy;
using ::bridge::testing::TestBridge;
using client::CallOutcome;
using client::ClientOptions;
using client::State;
using client::WebSocketClient;
using ::testing::ElementsAre;

// Waits, with a deadline, until `done` holds; `done` runs under `mu`.
template <typename Done>
bool AwaitUnder(absl::Mutex& mu, Done done, absl::Duration timeout = kTestTimeout) {
  absl::MutexLock lock(&mu);
  return mu.AwaitWithTimeout(absl::Condition(&done), timeout);
}

// What a client reported through its handlers; read from the test thread.
class Events {
 public:
  client::ClientHandlers Handlers() {
    client::ClientHandlers h;
    h.on_state_change = [this](const client::StateChange& c) { Add(&states_, c.to); };
    h.on_open = [this](const client::SessionInfo& info) { Add(&opens_, info); };
    h.on_close = [this](const client::CloseInfo& info) { Add(&closes_, info); };
    h.on_reconnecting = [this](int attempt, absl::Duration delay) {
      Add(&reconnects_, std::make_pair(attempt, delay));
    };
    h.on_reconnect_failed = [this](v1::ErrorCategory c) { Add(&gave_up_, c); };
    return h;
  }

  bool AwaitOpens(size_t n) {
    return AwaitUnder(mu_, [&] { return opens_.size() >= n; });
  }
  bool AwaitCloses(size_t n) {
    return AwaitUnder(mu_, [&] { return closes_.size() >= n; });
  }
  bool AwaitState(State state) {
    return AwaitUnder(mu_, [&] { return !states_.empty() && states_.back() == state; });
  }
  bool AwaitGaveUp() {
    return AwaitUnder(mu_, [&] { return !gave_up_.empty(); });
  }

  std::vector<client::SessionInfo> opens() { return Copy(opens_); }
  std::vector<client::CloseInfo> closes() { return Copy(closes_); }
  std::vector<std::pair<int, absl::Duration>> reconnects() { return Copy(reconnects_); }
  std::vector<v1::ErrorCategory> gave_up() { return Copy(gave_up_); }

 private:
  template <typename T>
  void Add(std::vector<T>* to, T value) {
    absl::MutexLock lock(&mu_);
    to->push_back(std::move(value));
  }
  template <typename T>
  std::vector<T> Copy(const std::vector<T>& from) {
    absl::MutexLock lock(&mu_);
    return from;
  }

  absl::Mutex mu_;
  std::vector<State> states_;
  std::vector<client::SessionInfo> opens_;
  std::vector<client::CloseInfo> closes_;
  std::vector<std::pair<int, absl::Duration>> reconnects_;
  std::vector<v1::ErrorCategory> gave_up_;
};

// A call whose stream messages and outcome the test waits for.
struct RecordedCall {
  absl::Mutex mu;
  std::vector<std::string> messages;
  std::vector<CallOutcome> outcomes;
  std::shared_ptr<client::CallHandle> handle;

  bool AwaitMessages(size_t n) {
    return AwaitUnder(mu, [&] { return messages.size() >= n; });
  }
  bool AwaitOutcome() {
    return AwaitUnder(mu, [&] { return !outcomes.empty(); });
  }
  std::vector<CallOutcome> Outcomes() {
    absl::MutexLock lock(&mu);
    return outcomes;
  }
};

template <typename T>
T Parse(const std::string& json) {
  T message;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &message).ok()) << json;
  return message;
}

class ClientIntegrationTest : public ::testing::Test {
 protected:
  void StartBridge(const std::string& extra_config = "") {
    auto bridge = TestBridge::Start(absl::StrCat("shutdown_grace_ms: 500 ", extra_config));
    ASSERT_TRUE(bridge.ok()) << bridge.status();
    bridge_ = *std::move(bridge);
  }

  // Puts a proxy between clients and the bridge; MakeClient then goes through it.
  void StartProxy() {
    auto proxy = TcpProxy::Start(bridge_->port());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
  }

  void TearDown() override {
    ws_.reset();
    proxy_.reset();
    bridge_.reset();
  }

  // Quick reconnects, and no randomness the test does not choose.
  static ClientOptions FastOptions() {
    ClientOptions options;
    options.client_id = "it";
    options.reconnect.base = absl::Milliseconds(20);
    options.reconnect.max = absl::Milliseconds(200);
    options.reconnect.jitter = client::Jitter::kNone;
    return options;
  }

  client::Client& MakeClient(ClientOptions options = FastOptions()) {
    const uint16_t port = proxy_ != nullptr ? proxy_->port() : bridge_->port();
    options.url = absl::StrCat("ws://127.0.0.1:", port, "/ws");
    ws_ = std::make_unique<WebSocketClient>(options, client::WebSocketTransportOptions{},
                                            [] { return 0.5; });
    ws_->client().set_handlers(events_.Handlers());
    return ws_->client();
  }

  client::Client& Connected(ClientOptions options = FastOptions()) {
    client::Client& c = MakeClient(std::move(options));
    c.Connect();
    EXPECT_TRUE(events_.AwaitOpens(1));
    return c;
  }

  static CallOutcome Get(std::future<CallOutcome> future) {
    if (future.wait_for(absl::ToChronoSeconds(kTestTimeout)) != std::future_status::ready) {
      ADD_FAILURE() << "no outcome in time";
      return CallOutcome{};
    }
    return future.get();
  }

  std::shared_ptr<RecordedCall> StartCall(client::Client& c, const std::string& method,
                                          const std::string& payload,
                                          client::CallOptions options = {}) {
    auto call = std::make_shared<RecordedCall>();
    client::CallHandlers handlers;
    handlers.on_message = [call](std::string payload) {
      absl::MutexLock lock(&call->mu);
      call->messages.push_back(std::move(payload));
    };
    handlers.on_done = [call](CallOutcome outcome) {
      absl::MutexLock lock(&call->mu);
      call->outcomes.push_back(std::move(outcome));
    };
    auto handle = c.Call(method, payload, std::move(options), std::move(handlers));
    EXPECT_TRUE(handle.ok()) << handle.status();
    if (handle.ok()) call->handle = *handle;
    return call;
  }

  std::unique_ptr<TestBridge> bridge_;
  std::unique_ptr<TcpProxy> proxy_;
  Events events_;
  std::unique_ptr<WebSocketClient> ws_;
};

TEST_F(ClientIntegrationTest, ConnectsAndConfirmsASession) {
  StartBridge("heartbeat_interval_ms: 15000");
  client::Client& c = Connected();
  EXPECT_EQ(c.state(), State::kConfirmed);
  EXPECT_EQ(c.conversation_id(), "s-1");
  EXPECT_EQ(c.last_seq(), 1u);
  const auto opens = events_.opens();
  ASSERT_EQ(opens.size(), 1u);
  EXPECT_FALSE(opens[0].resumed);
  EXPECT_EQ(opens[0].heartbeat_interval, absl::Seconds(15));
  EXPECT_EQ(opens[0].heartbeat_timeout, absl::Seconds(30));
  EXPECT_TRUE(bridge_->app().server().AwaitOpenConnections(1, kTestTimeout));
}

// Small frames go out at once: the client's end of its connection has Nagle's algorithm off,
// or a stream_send right after another would wait for the bridge's delayed ACK.
TEST_F(ClientIntegrationTest, TheClientsEndOfItsConnectionSendsSmallFramesAtOnce) {
  StartBridge();
  Connected();
  EXPECT_THAT(testing::NoDelayOfConnectedSockets(0, bridge_->port()), ElementsAre(true));
}

TEST_F(ClientIntegrationTest, AUnaryCallMadeBeforeConnectGoesOutOnceConfirmed) {
  StartBridge();
  client::Client& c = MakeClient();
  std::future<CallOutcome> reply = c.CallFuture("demo.v1.Echo/Say", R"({"text":"hello"})");
  c.Connect();
  const CallOutcome outcome = Get(std::move(reply));
  ASSERT_TRUE(outcome.ok()) << outcome.status;
  const auto response = Parse<demo::v1::SayResponse>(outcome.payload);
  EXPECT_EQ(response.text(), "hello");
  EXPECT_EQ(response.sequence(), 1);
  EXPECT_EQ(bridge_->backend().service->calls("Say"), 1);
}

TEST_F(ClientIntegrationTest, AServerStreamDeliversEachMessageThenTheEnd) {
  StartBridge();
  client::Client& c = Connected();
  const CallOutcome outcome =
      Get(c.CallFuture("/demo.v1.Echo/Repeat", R"({"text":"x","count":3})"));
  ASSERT_TRUE(outcome.ok()) << outcome.status;
  ASSERT_EQ(outcome.messages.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Parse<demo::v1::SayResponse>(outcome.messages[i]).sequence(), i + 1);
  }
}

TEST_F(ClientIntegrationTest, AClientStreamSendsThenHalfClosesForOneResponse) {
  StartBridge();
  client::Client& c = Connected();
  auto call = StartCall(c, "demo.v1.Echo/Collect", R"({"text":"a"})");
  ASSERT_TRUE(call->handle->Send(R"({"text":"b"})").ok());
  ASSERT_TRUE(call->handle->Send(R"({"text":"c"})").ok());
  ASSERT_TRUE(call->handle->End().ok());
  ASSERT_TRUE(call->AwaitOutcome());
  const auto outcomes = call->Outcomes();
  ASSERT_TRUE(outcomes[0].ok()) << outcomes[0].status;
  const auto collected = Parse<demo::v1::CollectResponse>(outcomes[0].payload);
  EXPECT_THAT(collected.texts(), ElementsAre("a", "b", "c"));
}

TEST_F(ClientIntegrationTest, ABidiCallAnswersEachMessageInTurn) {
  StartBridge();
  client::Client& c = Connected();
  auto call = StartCall(c, "demo.v1.Echo/Chat", "");
  const std::vector<std::string> texts = {"one", "two", "three"};
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_TRUE(call->handle->Send(absl::StrCat(R"({"text":")", texts[i], R"("})")).ok());
    ASSERT_TRUE(call->AwaitMessages(i + 1));
  }
  ASSERT_TRUE(call->handle->End().ok());
  ASSERT_TRUE(call->AwaitOutcome());
  EXPECT_TRUE(call->Outcomes()[0].ok());
  absl::MutexLock lock(&call->mu);
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(Parse<demo::v1::ChatMessage>(call->messages[i]).text(), texts[i]);
  }
}

// The pull form, read as the JavaScript client's call objects are: every call kind through the
// bridge; a traceparent given to a call reaches the backend as the parent of the bridge's span.
TEST_F(ClientIntegrationTest, StreamCallsOfEveryKindReadTheirRepliesInOrder) {
  StartBridge();
  client::Client& c = Connected();

  auto repeat = c.ServerStream("demo.v1.Echo/Repeat", R"({"text":"x","count":3})");
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  for (int i = 1; i <= 3; ++i) {
    auto reply = (*repeat)->Next(kTestTimeout);
    ASSERT_TRUE(reply.ok() && reply->has_value()) << reply.status();
    EXPECT_EQ(Parse<demo::v1::SayResponse>(**reply).sequence(), i);
  }
  auto over = (*repeat)->Next(kTestTimeout);
  ASSERT_TRUE(over.ok()) << over.status();
  EXPECT_FALSE(over->has_value());
  EXPECT_TRUE((*repeat)->done().get().ok());

  auto collect = c.ClientStream("demo.v1.Echo/Collect", {}, R"({"text":"a"})");
  ASSERT_TRUE(collect.ok()) << collect.status();
  ASSERT_TRUE((*collect)->Send(R"({"text":"b"})").ok());
  ASSERT_TRUE((*collect)->End().ok());
  ASSERT_EQ((*collect)->done().wait_for(absl::ToChronoSeconds(kTestTimeout)),
            std::future_status::ready);
  const CallOutcome collected = (*collect)->done().get();
  ASSERT_TRUE(collected.ok()) << collected.status;
  EXPECT_THAT(Parse<demo::v1::CollectResponse>(collected.payload).texts(), ElementsAre("a", "b"));

  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  client::CallOptions traced;
  traced.traceparent = absl::StrCat("00-", trace, "-00f067aa0ba902b7-01");
  auto chat = c.BidiStream("demo.v1.Echo/Chat", traced);
  ASSERT_TRUE(chat.ok()) << chat.status();
  for (const char* text : {"one", "two"}) {
    ASSERT_TRUE((*chat)->Send(absl::StrCat(R"({"text":")", text, R"("})")).ok());
    auto reply = (*chat)->Next(kTestTimeout);
    ASSERT_TRUE(reply.ok() && reply->has_value()) << reply.status();
    EXPECT_EQ(Parse<demo::v1::ChatMessage>(**reply).text(), text);
  }
  ASSERT_TRUE((*chat)->End().ok());
  auto chat_over = (*chat)->Next(kTestTimeout);
  ASSERT_TRUE(chat_over.ok()) << chat_over.status();
  EXPECT_FALSE(chat_over->has_value());
  EXPECT_TRUE((*chat)->done().get().ok());
  const auto md = bridge_->backend().service->last_metadata();
  ASSERT_EQ(md.count("traceparent"), 1u);
  const std::string child = md.find("traceparent")->second;
  EXPECT_TRUE(absl::StartsWith(child, absl::StrCat("00-", trace, "-"))) << child;
  EXPECT_NE(child, traced.traceparent);  // a span of the bridge's own
}

// A subscriber's record of one channel, read from the test thread. Deliveries run on the client's
// thread and may still arrive while a test ends (the fixture's client outlives the test body), so
// the handlers share ownership.
struct ChannelRecord : std::enable_shared_from_this<ChannelRecord> {
  absl::Mutex mu;
  std::vector<client::ChannelEvent> subscribed;
  std::vector<client::Publication> publications;

  client::SubscriptionHandlers Handlers() {
    client::SubscriptionHandlers handlers;
    std::shared_ptr<ChannelRecord> self = shared_from_this();
    handlers.on_subscribed = [self](const client::ChannelEvent& e) {
      absl::MutexLock lock(&self->mu);
      self->subscribed.push_back(e);
    };
    handlers.on_publication = [self](const client::Publication& p) {
      absl::MutexLock lock(&self->mu);
      self->publications.push_back(p);
    };
    return handlers;
  }
  bool AwaitSubscribed() {
    return AwaitUnder(mu, [&] { return !subscribed.empty(); });
  }
  bool AwaitPublications(size_t n) {
    return AwaitUnder(mu, [&] { return publications.size() >= n; });
  }
};

// Subscribe from a known position, against the bridge's own channel history: what came after
// the position is replayed, then new publications follow.
TEST_F(ClientIntegrationTest, ASubscriptionFromAPositionGetsWhatCameAfterItThenWhatIsNew) {
  StartBridge("channels { history_size: 8 }");
  auto publish = [&](const std::string& data) {
    std::promise<absl::StatusOr<pubsub::Position>> done;
    bridge_->app().node().Publish("feed", data, "", [&](absl::StatusOr<pubsub::Position> p) {
      done.set_value(std::move(p));
    });
    absl::StatusOr<pubsub::Position> position = done.get_future().get();
    EXPECT_TRUE(position.ok()) << position.status();
  };
  client::Client& first = Connected();
  auto live = std::make_shared<ChannelRecord>();
  ASSERT_TRUE(first.Subscribe("feed", "", live->Handlers()).ok());
  ASSERT_TRUE(live->AwaitSubscribed());
  for (const char* data : {R"("one")", R"("two")", R"("three")"}) publish(data);
  ASSERT_TRUE(live->AwaitPublications(3));
  client::StreamPosition after_one;
  {
    absl::MutexLock lock(&live->mu);
    after_one = {live->publications[0].offset, live->publications[0].epoch};
  }

  ClientOptions options = FastOptions();
  options.url = absl::StrCat("ws://127.0.0.1:", bridge_->port(), "/ws");
  WebSocketClient second(options, client::WebSocketTransportOptions{}, [] { return 0.5; });
  auto late = std::make_shared<ChannelRecord>();
  ASSERT_TRUE(second.client().Subscribe("feed", "", late->Handlers(), after_one).ok());
  second.client().Connect();  // the subscription waits in the queue until confirmed
  ASSERT_TRUE(late->AwaitSubscribed());
  ASSERT_TRUE(late->AwaitPublications(2));
  publish(R"("four")");
  ASSERT_TRUE(late->AwaitPublications(3));
  absl::MutexLock lock(&late->mu);
  EXPECT_TRUE(late->subscribed[0].recovered);
  std::vector<std::string> data;
  std::vector<uint64_t> offsets;
  for (const client::Publication& p : late->publications) {
    data.push_back(p.data);
    offsets.push_back(p.offset);
  }
  EXPECT_THAT(data, ElementsAre(R"("two")", R"("three")", R"("four")"));
  EXPECT_THAT(offsets,
              ElementsAre(after_one.offset + 1, after_one.offset + 2, after_one.offset + 3));
}

TEST_F(ClientIntegrationTest, AnErrorFrameIsDeliveredOnceWithItsCategory) {
  StartBridge();
  client::Client& c = Connected();
  client::CallOptions not_found;
  not_found.metadata["demo-fail-code"] = "5";
  auto call = StartCall(c, "demo.v1.Echo/Say", R"({"text":"x"})", not_found);
  ASSERT_TRUE(call->AwaitOutcome());

  client::CallOptions unavailable;
  unavailable.metadata["demo-fail-code"] = "14";
  unavailable.metadata["demo-pushback-ms"] = "250";
  const CallOutcome busy = Get(c.CallFuture("demo.v1.Echo/Say", "{}", unavailable));
  EXPECT_EQ(busy.category, v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE);
  EXPECT_TRUE(busy.retryable);
  EXPECT_EQ(busy.retry_after, absl::Milliseconds(250));
  EXPECT_EQ(busy.status.code(), absl::StatusCode::kUnavailable);

  // Everything the bridge sent about the first call has arrived by now.
  const auto outcomes = call->Outcomes();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].category, v1::ERROR_CATEGORY_NOT_FOUND);
  EXPECT_EQ(outcomes[0].grpc_code, 5);
  EXPECT_FALSE(outcomes[0].retryable);
  EXPECT_EQ(outcomes[0].status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c.state(), State::kConfirmed);
}

TEST_F(ClientIntegrationTest, ABinaryClientCallsWithWireBytes) {
  StartBridge();
  ClientOptions options = FastOptions();
  options.encoding = protocol::Encoding::kBinary;
  client::Client& c = Connected(options);
  demo::v1::SayRequest request;
  request.set_text("wire");
  const CallOutcome outcome = Get(c.CallFuture("demo.v1.Echo/Say", request.SerializeAsString()));
  ASSERT_TRUE(outcome.ok()) << outcome.status;
  demo::v1::SayResponse response;
  ASSERT_TRUE(response.ParseFromString(outcome.payload));
  EXPECT_EQ(response.text(), "wire");
}

TEST_F(ClientIntegrationTest, CloseIsANormalClosure) {
  StartBridge();
  client::Client& c = Connected();
  c.Close();
  ASSERT_TRUE(events_.AwaitState(State::kClosed));
  const auto closes = events_.closes();
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].code, 1000);
  EXPECT_EQ(closes[0].category, v1::ERROR_CATEGORY_NORMAL_CLOSURE);
  EXPECT_FALSE(closes[0].will_reconnect);
  EXPECT_TRUE(bridge_->app().server().AwaitOpenConnections(0, kTestTimeout));
  EXPECT_TRUE(events_.reconnects().empty());
}

TEST_F(ClientIntegrationTest, ServerShutdownIsReportedAndRetriedUntilTheAttemptsRunOut) {
  StartBridge();
  ClientOptions options = FastOptions();
  options.reconnect.max_attempts = 2;
  Connected(options);
  bridge_->app().Shutdown();
  ASSERT_TRUE(events_.AwaitCloses(1));
  const auto closes = events_.closes();
  EXPECT_EQ(closes[0].code, 1001);
  EXPECT_EQ(closes[0].category, v1::ERROR_CATEGORY_SERVER_SHUTDOWN);
  EXPECT_TRUE(closes[0].will_reconnect);
  // The bridge is gone for good (a new one would not get the same port 0): both attempts
  // fail, then the client gives up.
  ASSERT_TRUE(events_.AwaitGaveUp());
  EXPECT_THAT(events_.gave_up(), ElementsAre(v1::ERROR_CATEGORY_NETWORK_ERROR));
  EXPECT_EQ(events_.reconnects().size(), 2u);
  EXPECT_EQ(ws_->client().state(), State::kError);
}

TEST_F(ClientIntegrationTest, TheBridgesHeartbeatTimeoutIsATimeoutAndTheClientReconnects) {
  StartBridge("heartbeat_interval_ms: 200 heartbeat_timeout_ms: 400");
  ClientOptions options = FastOptions();
  options.heartbeat_interval = absl::InfiniteDuration();  // a client that never pings
  options.heartbeat_timeout = absl::InfiniteDuration();
  client::Client& c = Connected(options);
  ASSERT_TRUE(events_.AwaitCloses(1));
  const auto closes = events_.closes();
  EXPECT_EQ(closes[0].code, 4000);
  EXPECT_EQ(closes[0].reason, "heartbeat_timeout");
  EXPECT_EQ(closes[0].category, v1::ERROR_CATEGORY_TIMEOUT);
  EXPECT_TRUE(closes[0].will_reconnect);

  ASSERT_TRUE(events_.AwaitOpens(2));
  const auto second = events_.opens()[1];
  if (second.resumed) {
    EXPECT_EQ(second.conversation_id, "s-1");
  } else {
    EXPECT_EQ(second.conversation_id, "s-2");
  }
  // The new session works.
  const CallOutcome outcome = Get(c.CallFuture("demo.v1.Echo/Say", R"({"text":"back"})"));
  EXPECT_TRUE(outcome.ok()) << outcome.status;
}

TEST_F(ClientIntegrationTest, ASilentConnectionIsDeadAfterTheClientsHeartbeatTimeout) {
  StartBridge();
  StartProxy();
  ClientOptions options = FastOptions();
  options.heartbeat_interval = absl::Milliseconds(100);
  options.heartbeat_timeout = absl::Milliseconds(600);
  client::Client& c = Connected(options);
  proxy_->FreezeAll();  // no pong, no frame at all, and no close either
  ASSERT_TRUE(events_.AwaitCloses(1));
  const auto closes = events_.closes();
  EXPECT_EQ(closes[0].category, v1::ERROR_CATEGORY_NETWORK_ERROR);
  EXPECT_EQ(closes[0].reason, "heartbeat_timeout");
  EXPECT_TRUE(closes[0].will_reconnect);
  ASSERT_TRUE(events_.AwaitOpens(2));
  EXPECT_EQ(c.stats().heartbeat_timeouts, 1u);
  EXPECT_EQ(proxy_->accepted(), 2);
  EXPECT_TRUE(Get(c.CallFuture("demo.v1.Echo/Say", "{}")).ok());
}

TEST_F(ClientIntegrationTest, ADroppedConnectionIsReplacedAndEveryCallEndsOnce) {
  StartBridge();
  StartProxy();
  client::Client& c = Connected();
  client::CallOptions slow;
  slow.metadata["demo-delay-ms"] = "1000";
  auto plain = StartCall(c, "demo.v1.Echo/Say", R"({"text":"plain"})", slow);
  client::CallOptions slow_idempotent = slow;
  slow_idempotent.idempotent = true;
  auto retried = StartCall(c, "demo.v1.Echo/Say", R"({"text":"again"})", slow_idempotent);

  proxy_->DropAll();  // RST: no close frame
  ASSERT_TRUE(events_.AwaitCloses(1));
  const auto closes = events_.closes();
  EXPECT_EQ(closes[0].code, 1006);
  EXPECT_EQ(closes[0].category, v1::ERROR_CATEGORY_NETWORK_ERROR);
  EXPECT_TRUE(closes[0].will_reconnect);
  ASSERT_TRUE(events_.AwaitOpens(2));
  const bool resumed = events_.opens()[1].resumed;
  RecordProperty("resumed", resumed ? "true" : "false");  // which branch below ran

  ASSERT_TRUE(plain->AwaitOutcome());
  ASSERT_TRUE(retried->AwaitOutcome());
  // A last round trip: anything late about the two calls has arrived by its end.
  EXPECT_TRUE(Get(c.CallFuture("demo.v1.Echo/Say", "{}")).ok());
  const auto plain_outcomes = plain->Outcomes();
  const auto retried_outcomes = retried->Outcomes();
  ASSERT_EQ(plain_outcomes.size(), 1u);
  ASSERT_EQ(retried_outcomes.size(), 1u);
  if (resumed) {
    EXPECT_TRUE(plain_outcomes[0].ok()) << plain_outcomes[0].status;
  } else {
    EXPECT_EQ(plain_outcomes[0].category, v1::ERROR_CATEGORY_NETWORK_ERROR);
    EXPECT_TRUE(plain_outcomes[0].retryable);
    EXPECT_EQ(c.stats().calls_lost, 1u);
  }
  ASSERT_TRUE(retried_outcomes[0].ok()) << retried_outcomes[0].status;
  EXPECT_EQ(Parse<demo::v1::SayResponse>(retried_outcomes[0].payload).text(), "again");
}

}  // namespace
}  // namespace bridge
