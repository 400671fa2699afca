// Calls through the real bridge to the real demo backend on port 0, from an independent
// WebSocket client: every call kind, cancellation both ways, deadlines, every status code,
// retries, metadata both ways, bad requests, and flow control against a slow reader.
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "bridge/app/bridge_app.h"
#include "bridge/common/log.h"
#include "bridge/config/config.h"
#include "bridge/protocol/error_table.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/upstream/trace_context.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "harness/backend/backend_server.h"
#include "proto/demo/v1/echo.pb.h"
#include "tests/support/json_frames.h"
#include "tests/support/test_bridge.h"
#include "tests/support/ws_test_client.h"

namespace bridge {
namespace {

using ::bridge::testing::kTestTimeout;
using ::bridge::testing::WsTestClient;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;
using v1::Frame;

constexpr char kConnect[] = R"({"type":"connect","clientId":"c-1","version":"1"})";

class CallsTest : public ::testing::Test {
 protected:
  void StartBridge(const std::string& extra_config = "") {
    auto bridge = bridge::testing::TestBridge::Start(
        absl::StrCat("forward_response_metadata: \"x-echo-*\" ", extra_config));
    ASSERT_TRUE(bridge.ok()) << bridge.status();
    bridge_ = *std::move(bridge);
    app_ = &bridge_->app();
    backend_ = &bridge_->backend();
  }

  // A bridge of the test's own making (no TestBridge), with the demo descriptors and a backend.
  void StartOwnBridge(const std::string& config_text, bool with_descriptors) {
    auto backend = harness::backend::StartBackend("127.0.0.1:0");
    ASSERT_TRUE(backend.ok()) << backend.status();
    own_backend_ = std::make_unique<harness::backend::RunningBackend>(*std::move(backend));
    backend_ = own_backend_.get();
    auto config = config::ParseConfigText(
        absl::StrReplaceAll(config_text, {{"$BACKEND", backend_->target()}}), "test");
    ASSERT_TRUE(config.ok()) << config.status();
    config::ApplyDefaults(&*config);
    std::unique_ptr<transcode::DescriptorRegistry> registry;
    if (with_descriptors) {
      registry = std::make_unique<transcode::DescriptorRegistry>();
      ASSERT_TRUE(registry->AddGeneratedFile(demo::v1::SayRequest::descriptor()->file()).ok());
    }
    auto app = app::BridgeApp::Create(*config, std::move(registry));
    ASSERT_TRUE(app.ok()) << app.status();
    own_app_ = *std::move(app);
    app_ = own_app_.get();
    ASSERT_TRUE(app_->Start().ok());
  }

  void TearDown() override {
    bridge_.reset();
    if (own_app_ != nullptr) {
      own_app_->Shutdown();
      own_app_->Wait();
      own_app_.reset();
    }
    if (own_backend_ != nullptr) own_backend_->server->Shutdown();
  }

  std::unique_ptr<WsTestClient> OpenConfirmed(const WsTestClient::Headers& headers = {},
                                              const std::vector<std::string>& protocols = {}) {
    auto client =
        WsTestClient::Connect(app_->server().port(), "/ws", protocols, kTestTimeout, headers);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    if (protocols.empty()) {
      EXPECT_TRUE((*client)->SendText(kConnect).ok());
      EXPECT_EQ(Next(**client).kind_case(), Frame::kConnectConfirm);
    }
    return std::move(*client);
  }

  Frame Next(WsTestClient& client) { return bridge::testing::NextJsonFrame(client, &last_); }

  void Send(WsTestClient& client, const std::string& json) {
    ASSERT_TRUE(client.SendText(json).ok());
  }

  // Starts Say with `metadata` (a JSON object) and returns the answer.
  Frame Say(WsTestClient& client, const std::string& id, const std::string& metadata,
            const std::string& extra = "") {
    Send(client, absl::StrCat(R"({"type":"message","messageId":")", id,
                              R"(","method":"demo.v1.Echo/Say","payload":{"text":"hi"},)",
                              R"("metadata":)", metadata, extra, "}"));
    return Next(client);
  }

  template <typename T>
  T Parse(const std::string& json) {
    T message;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &message).ok()) << json;
    return message;
  }

  std::unique_ptr<bridge::testing::TestBridge> bridge_;
  std::unique_ptr<harness::backend::RunningBackend> own_backend_;
  std::unique_ptr<app::BridgeApp> own_app_;
  app::BridgeApp* app_ = nullptr;
  harness::backend::RunningBackend* backend_ = nullptr;
  std::string last_;
};

TEST_F(CallsTest, UnaryCallAnswersWithOneResponseInProtobufJson) {
  StartBridge();
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"m-1","method":"demo.v1.Echo/Say",)"
                R"("payload":{"text":"hello","sample":{"i64":"-9007199254740993",)"
                R"("u64":18446744073709551615,"color":"COLOR_BLUE","raw":"AAEC/w==",)"
                R"("listStr":["a","b"],"mapStrI64":{"k":"7"},"choiceStr":"pick",)"
                R"("at":"2026-11-22T10:00:00.500Z","took":"1.5s","attrs":{"x":[1,true,null]},)"
                R"("wI64":"5","wStr":"w"}}})");
  Frame reply = Next(*client);
  ASSERT_EQ(reply.kind_case(), Frame::kResponse) << last_;
  EXPECT_EQ(reply.response().message_id(), "m-1");
  EXPECT_EQ(reply.seq(), 2u);
  demo::v1::SayResponse response = Parse<demo::v1::SayResponse>(reply.response().payload());
  EXPECT_EQ(response.text(), "hello");
  EXPECT_EQ(response.sequence(), 1);
  EXPECT_EQ(response.sample().i64(), -9007199254740993);
  EXPECT_EQ(response.sample().u64(), 18446744073709551615u);
  EXPECT_EQ(response.sample().color(), demo::v1::Sample::COLOR_BLUE);
  EXPECT_EQ(response.sample().raw(), std::string("\x00\x01\x02\xff", 4));
  EXPECT_EQ(response.sample().map_str_i64().at("k"), 7);
  EXPECT_EQ(response.sample().choice_str(), "pick");
  EXPECT_EQ(response.sample().took().seconds(), 1);
  EXPECT_EQ(response.sample().w_i64().value(), 5);
  // The canonical mapping on the way back: 64-bit integers as strings, enums by name.
  EXPECT_THAT(last_, HasSubstr(R"("i64":"-9007199254740993")"));
  EXPECT_THAT(last_, HasSubstr(R"("color":"COLOR_BLUE")"));
  EXPECT_THAT(last_, HasSubstr(R"("raw":"AAEC/w==")"));
  EXPECT_EQ(backend_->service->calls("Say"), 1);
  EXPECT_EQ(app_->server().metrics().calls_succeeded.load(), 1u);
}

// The data path's hops (docs/performance.md): a connection's frames are handled where
// websocketpp delivers them, and a unary call's result crosses from gRPC's threads to the
// session once: headers, reply and status in one task. A stream crosses once per message and
// once at its end.
TEST_F(CallsTest, AUnaryCallsResultCrossesToTheSessionOnce) {
  StartBridge();
  Metrics& metrics = app_->server().metrics();
  auto client = OpenConfirmed();
  constexpr int kCalls = 20;
  for (int i = 0; i < kCalls; ++i) {
    Frame reply = Say(*client, absl::StrCat("u-", i), R"({"x-echo-k":"v"})");
    ASSERT_EQ(reply.kind_case(), Frame::kResponse) << last_;
    EXPECT_EQ(reply.response().metadata().at("x-echo-k"), "v");  // the headers came along
  }
  EXPECT_EQ(metrics.upstream_events_posted.load(), static_cast<uint64_t>(kCalls));
  EXPECT_EQ(metrics.connection_events_posted.load(), 0u);
  EXPECT_GE(metrics.connection_events_inline.load(), static_cast<uint64_t>(kCalls + 2));

  Send(*client, R"({"type":"message","messageId":"r","method":"/demo.v1.Echo/Repeat",)"
                R"("payload":{"text":"x","count":3}})");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Next(*client).kind_case(), Frame::kStreamMessage) << last_;
  ASSERT_EQ(Next(*client).kind_case(), Frame::kStreamEnd) << last_;
  EXPECT_EQ(metrics.upstream_events_posted.load(), static_cast<uint64_t>(kCalls + 4));
}

TEST_F(CallsTest, ServerStreamingSendsAStreamMessagePerReplyThenStreamEnd) {
  StartBridge();
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"r","method":"/demo.v1.Echo/Repeat",)"
                R"("payload":{"text":"x","count":3}})");
  for (int i = 1; i <= 3; ++i) {
    Frame f = Next(*client);
    ASSERT_EQ(f.kind_case(), Frame::kStreamMessage) << last_;
    EXPECT_EQ(f.stream_message().message_id(), "r");
    EXPECT_EQ(Parse<demo::v1::SayResponse>(f.stream_message().payload()).sequence(), i);
  }
  Frame end = Next(*client);
  ASSERT_EQ(end.kind_case(), Frame::kStreamEnd) << last_;
  EXPECT_EQ(end.stream_end().message_id(), "r");
  EXPECT_TRUE(end.stream_end().status().has_code());
  EXPECT_EQ(end.stream_end().status().code(), 0);
  EXPECT_THAT(last_, HasSubstr(R"("status":{"code":0})"));
}

TEST_F(CallsTest, ClientStreamingTakesStreamSendsAndAnswersAfterTheHalfClose) {
  StartBridge();
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"c","method":"demo.v1.Echo/Collect",)"
                R"("payload":{"text":"a"}})");
  Send(*client, R"({"type":"stream_send","messageId":"c","payload":{"text":"b"}})");
  Send(*client, R"({"type":"stream_send","messageId":"c","payload":{"text":"c"}})");
  Send(*client, R"({"type":"stream_end","messageId":"c"})");
  Frame reply = Next(*client);
  ASSERT_EQ(reply.kind_case(), Frame::kResponse) << last_;
  auto collected = Parse<demo::v1::CollectResponse>(reply.response().payload());
  EXPECT_THAT(collected.texts(), ::testing::ElementsAre("a", "b", "c"));
  EXPECT_EQ(collected.count(), 3);
}

TEST_F(CallsTest, BidiRepliesToEachMessageAndEndsAfterTheHalfClose) {
  StartBridge();
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"b","method":"demo.v1.Echo/Chat"})");
  for (const char* text : {"one", "two", "three"}) {
    Send(*client, absl::StrCat(R"({"type":"stream_send","messageId":"b","payload":{"text":")", text,
                               R"("}})"));
    Frame f = Next(*client);
    ASSERT_EQ(f.kind_case(), Frame::kStreamMessage) << last_;
    EXPECT_EQ(Parse<demo::v1::ChatMessage>(f.stream_message().payload()).text(), text);
  }
  Send(*client, R"({"type":"stream_end","messageId":"b"})");
  Frame end = Next(*client);
  ASSERT_EQ(end.kind_case(), Frame::kStreamEnd) << last_;
  EXPECT_EQ(end.stream_end().status().code(), 0);
}

TEST_F(CallsTest, BinarySessionsCarryWireBytes) {
  StartBridge();
  auto client = OpenConfirmed({}, {"bridge.v1.proto"});
  Frame connect;
  connect.mutable_connect()->set_client_id("bin");
  ASSERT_TRUE(client->SendBinary(connect.SerializeAsString()).ok());
  ASSERT_TRUE(client->Receive().ok());
  demo::v1::SayRequest request;
  request.set_text("wire");
  request.mutable_sample()->set_i64(-5);
  Frame call;
  call.mutable_message()->set_message_id("m");
  call.mutable_message()->set_method("demo.v1.Echo/Say");
  call.mutable_message()->set_payload(request.SerializeAsString());
  ASSERT_TRUE(client->SendBinary(call.SerializeAsString()).ok());
  auto reply = client->Receive();
  ASSERT_TRUE(reply.ok());
  Frame frame;
  ASSERT_TRUE(frame.ParseFromString(reply->payload));
  ASSERT_EQ(frame.kind_case(), Frame::kResponse);
  demo::v1::SayResponse response;
  ASSERT_TRUE(response.ParseFromString(frame.response().payload()));
  EXPECT_EQ(response.text(), "wire");
  EXPECT_EQ(response.sample().i64(), -5);

  call.mutable_message()->set_message_id("bad");
  call.mutable_message()->set_payload("\xff\xff\xff");
  ASSERT_TRUE(client->SendBinary(call.SerializeAsString()).ok());
  reply = client->Receive();
  ASSERT_TRUE(reply.ok());
  ASSERT_TRUE(frame.ParseFromString(reply->payload));
  EXPECT_EQ(frame.error().category(), v1::ERROR_CATEGORY_INVALID_ARGUMENT);
  EXPECT_EQ(frame.error().message_id(), "bad");
}

TEST_F(CallsTest, ContentGoesToTheDefaultMethod) {
  StartBridge("default_method: \"demo.v1.Echo/Say\"");
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"m","content":"plain \"text\""})");
  Frame reply = Next(*client);
  ASSERT_EQ(reply.kind_case(), Frame::kResponse) << last_;
  EXPECT_EQ(reply.response().content(), "plain \"text\"");
}

TEST_F(CallsTest, UnknownMethodsAndServicesAreNotFound) {
  StartBridge();
  auto client = OpenConfirmed();
  for (const char* method : {"demo.v1.Echo/Shout", "other.v1.Svc/Call", "Say"}) {
    SCOPED_TRACE(method);
    Send(*client, absl::StrCat(R"({"type":"message","messageId":"m","method":")", method,
                               R"(","payload":{}})"));
    Frame f = Next(*client);
    ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
    EXPECT_EQ(f.error().message_id(), "m");
    EXPECT_EQ(f.error().field(), "method");
    EXPECT_EQ(f.error().category(), std::string(method) == "Say" ? v1::ERROR_CATEGORY_NOT_FOUND
                                                                 : v1::ERROR_CATEGORY_NOT_FOUND);
  }
  EXPECT_EQ(backend_->service->calls("Say"), 0);
}

TEST_F(CallsTest, AServiceWithoutARouteIsNotFound) {
  StartOwnBridge("listen: \"127.0.0.1:0\"", /*with_descriptors=*/true);
  auto client = OpenConfirmed();
  Frame f = Say(*client, "m", "{}");
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_NOT_FOUND);
  EXPECT_THAT(f.error().message(), HasSubstr("not routed"));
}

TEST_F(CallsTest, DescriptorsCanComeFromTheBackendByServerReflection) {
  // No descriptor set at all: the route's target tells the bridge.
  StartOwnBridge(
      "listen: \"127.0.0.1:0\" routes { service: \"*\" target: \"$BACKEND\" reflect: true }",
      /*with_descriptors=*/false);
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"m","method":"demo.v1.Echo/Say",)"
                R"("payload":{"text":"reflected","sample":{"at":"2026-11-22T10:00:00Z"}}})");
  Frame f = Next(*client);
  ASSERT_EQ(f.kind_case(), Frame::kResponse) << last_;
  EXPECT_EQ(Parse<demo::v1::SayResponse>(f.response().payload()).text(), "reflected");
}

TEST_F(CallsTest, ReflectionFromATargetThatIsDownStopsTheStartNamingTheRoute) {
  auto config = config::ParseConfigText(
      "listen: \"127.0.0.1:0\" routes { service: \"demo.v1.Echo\" target: \"127.0.0.1:1\" "
      "reflect: true }",
      "test");
  ASSERT_TRUE(config.ok());
  config::ApplyDefaults(&*config);
  auto app = app::BridgeApp::Create(*config, nullptr);
  ASSERT_FALSE(app.ok());
  EXPECT_THAT(std::string(app.status().message()), HasSubstr("routes[0]"));
  EXPECT_THAT(std::string(app.status().message()), HasSubstr("127.0.0.1:1"));
}

TEST_F(CallsTest, ARoutedServiceMissingFromTheDescriptorsStopsTheStart) {
  auto config = config::ParseConfigText(
      "listen: \"127.0.0.1:0\" routes { service: \"shop.v1.Cart\" target: \"127.0.0.1:1\" }",
      "test");
  ASSERT_TRUE(config.ok());
  config::ApplyDefaults(&*config);
  auto app = app::BridgeApp::Create(*config, nullptr);
  ASSERT_FALSE(app.ok());
  EXPECT_THAT(std::string(app.status().message()), HasSubstr("shop.v1.Cart"));
  EXPECT_THAT(std::string(app.status().message()), HasSubstr("routes[0].service"));
}

TEST_F(CallsTest, BadPayloadIsInvalidArgumentNamingTheField) {
  StartBridge();
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"m","method":"demo.v1.Echo/Say",)"
                R"("payload":{"text":"x","colour":"red"}})");
  Frame f = Next(*client);
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_INVALID_ARGUMENT);
  EXPECT_EQ(f.error().field(), "payload");
  EXPECT_THAT(f.error().message(), HasSubstr("colour"));
  Send(*client, R"({"type":"message","messageId":"n","method":"demo.v1.Echo/Say",)"
                R"("payload":{"sample":{"i32":"not a number"}}})");
  f = Next(*client);
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_INVALID_ARGUMENT) << last_;
  EXPECT_EQ(backend_->service->calls("Say"), 0);
  EXPECT_EQ(app_->server().metrics().bad_payloads.load(), 2u);
}

TEST_F(CallsTest, UnknownPayloadFieldsCanBeIgnored) {
  StartBridge("ignore_unknown_payload_fields: true");
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"m","method":"demo.v1.Echo/Say",)"
                R"("payload":{"text":"x","colour":"red"}})");
  EXPECT_EQ(Next(*client).kind_case(), Frame::kResponse) << last_;
}

TEST_F(CallsTest, CancelEndsTheCallUpstreamWithOneCancelledError) {
  StartBridge();
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"r","method":"demo.v1.Echo/Repeat",)"
                R"("payload":{"text":"x","count":0,"interval":"0.005s"}})");
  ASSERT_EQ(Next(*client).kind_case(), Frame::kStreamMessage) << last_;
  Send(*client, R"({"type":"cancel","messageId":"r"})");
  Frame f;
  do {
    f = Next(*client);
  } while (f.kind_case() == Frame::kStreamMessage);
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(f.error().message_id(), "r");
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_CANCELLED);
  EXPECT_EQ(f.error().grpc_code(), 1);
  EXPECT_TRUE(backend_->service->AwaitCancellations(1, kTestTimeout));
  // The call is gone: a second cancel finds nothing.
  Send(*client, R"({"type":"cancel","messageId":"r"})");
  EXPECT_EQ(Next(*client).error().category(), v1::ERROR_CATEGORY_NOT_FOUND);
}

TEST_F(CallsTest, ClosingTheWebSocketCancelsEveryCallOfTheSession) {
  StartBridge();
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"r1","method":"demo.v1.Echo/Repeat",)"
                R"("payload":{"count":0,"interval":"0.005s"}})");
  Send(*client, R"({"type":"message","messageId":"r2","method":"demo.v1.Echo/Chat"})");
  Send(*client, R"({"type":"message","messageId":"r3","method":"demo.v1.Echo/Say",)"
                R"("metadata":{"demo-delay-ms":"60000"}})");
  ASSERT_EQ(Next(*client).kind_case(), Frame::kStreamMessage) << last_;
  // All three have reached the backend (a call cancelled before it does is never seen there).
  ASSERT_TRUE(backend_->service->AwaitCalls("Chat", 1, kTestTimeout));
  ASSERT_TRUE(backend_->service->AwaitCalls("Say", 1, kTestTimeout));
  ASSERT_TRUE(client->SendClose(1000, "bye").ok());
  client.reset();
  EXPECT_TRUE(backend_->service->AwaitCancellations(3, kTestTimeout))
      << backend_->service->cancellations();
  EXPECT_EQ(app_->server().metrics().calls_cancelled_by_close.load(), 3u);
}

TEST_F(CallsTest, ADroppedConnectionCancelsItsCallsWhenTheGracePeriodEnds) {
  StartBridge("session_grace_ms: 50");
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"r","method":"demo.v1.Echo/Say",)"
                R"("metadata":{"demo-delay-ms":"60000"}})");
  ASSERT_TRUE(backend_->service->AwaitCalls("Say", 1, kTestTimeout));
  client.reset();  // no close frame: the bridge sees the TCP connection end
  EXPECT_TRUE(backend_->service->AwaitCancellations(1, kTestTimeout));
  EXPECT_TRUE(app_->AwaitUpstreamIdle(kTestTimeout));
  EXPECT_EQ(app_->server().metrics().sessions_detached.load(), 1u);
  EXPECT_EQ(app_->server().metrics().sessions_expired.load(), 1u);
}

TEST_F(CallsTest, WithoutResumeADroppedConnectionCancelsItsCallsAtOnce) {
  StartBridge("disable_resume: true");
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"r","method":"demo.v1.Echo/Repeat",)"
                R"("payload":{"count":0,"interval":"0.005s"}})");
  ASSERT_EQ(Next(*client).kind_case(), Frame::kStreamMessage) << last_;
  client.reset();
  EXPECT_TRUE(backend_->service->AwaitCancellations(1, kTestTimeout));
  EXPECT_EQ(app_->server().metrics().sessions_detached.load(), 0u);
}

TEST_F(CallsTest, AnErrorMidStreamEndsItWithAnErrorFrameNotAStreamEnd) {
  StartBridge();
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"r","method":"demo.v1.Echo/Repeat",)"
                R"("payload":{"count":10},"metadata":{"demo-fail-after":"2",)"
                R"("demo-fail-code":"13","demo-fail-message":"disk on fire"}})");
  EXPECT_EQ(Next(*client).kind_case(), Frame::kStreamMessage);
  EXPECT_EQ(Next(*client).kind_case(), Frame::kStreamMessage);
  Frame f = Next(*client);
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_INTERNAL);
  EXPECT_EQ(f.error().grpc_code(), 13);
  EXPECT_EQ(f.error().message(), "disk on fire");
  // Nothing follows for that call.
  Send(*client, R"({"type":"ping"})");
  EXPECT_EQ(Next(*client).kind_case(), Frame::kPong) << last_;
}

TEST_F(CallsTest, TimeoutMsBecomesTheDeadline) {
  StartBridge();
  auto client = OpenConfirmed();
  Frame f = Say(*client, "m", R"({"demo-delay-ms":"60000"})", R"(,"timeoutMs":100)");
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_TIMEOUT);
  EXPECT_EQ(f.error().grpc_code(), 4);
  EXPECT_FALSE(f.error().retryable());
}

TEST_F(CallsTest, DefaultAndMaximumTimeoutsComeFromTheConfig) {
  StartBridge("default_call_timeout_ms: 100 max_call_timeout_ms: 200");
  auto client = OpenConfirmed();
  Frame f = Say(*client, "m", R"({"demo-delay-ms":"60000"})");
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_TIMEOUT) << last_;
  f = Say(*client, "n", R"({"demo-delay-ms":"60000"})", R"(,"timeoutMs":600000)");
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_TIMEOUT) << last_;
}

TEST_F(CallsTest, EveryGrpcStatusMapsToItsCategory) {
  StartBridge();
  auto client = OpenConfirmed();
  for (int code = 1; code <= 16; ++code) {
    SCOPED_TRACE(code);
    Frame f = Say(*client, absl::StrCat("m", code),
                  absl::StrCat(R"({"demo-fail-code":")", code, R"("})"));
    ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
    const v1::ErrorCategory category = protocol::CategoryForGrpcCode(code);
    EXPECT_EQ(f.error().category(), category);
    EXPECT_EQ(f.error().grpc_code(), code);
    EXPECT_TRUE(f.error().has_retryable());
    EXPECT_EQ(f.error().retryable(), protocol::IsRetryable(category));
    EXPECT_EQ(f.error().message(), absl::StrCat("demo failure ", code));
    EXPECT_EQ(f.error().message_id(), absl::StrCat("m", code));
  }
  EXPECT_EQ(app_->server().metrics().calls_failed.load(), 16u);
}

TEST_F(CallsTest, RetryPushbackBecomesRetryAfterMs) {
  StartBridge();
  auto client = OpenConfirmed();
  Frame f = Say(*client, "m", R"({"demo-fail-code":"8","demo-pushback-ms":"250"})");
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_RATE_LIMITED);
  EXPECT_TRUE(f.error().retryable());
  EXPECT_EQ(f.error().retry_after_ms(), 250u);
}

constexpr char kSayRetries[] =
    "retry_policies { service: \"demo.v1.Echo\" method: \"Say\" max_attempts: 3 "
    "initial_backoff_ms: 1 max_backoff_ms: 5 backoff_multiplier: 2 "
    "retryable_status_codes: \"UNAVAILABLE\" }";

TEST_F(CallsTest, RetryableFailuresAreRetriedUntilTheySucceed) {
  StartBridge(kSayRetries);
  auto client = OpenConfirmed();
  Frame f = Say(*client, "m", R"({"demo-fail-first":"2","demo-attempt-key":"k1"})");
  ASSERT_EQ(f.kind_case(), Frame::kResponse) << last_;
  EXPECT_EQ(backend_->service->calls("Say"), 3);
  EXPECT_EQ(app_->retry_counts()["/demo.v1.Echo/Say"].first, 2u);
  auto metrics = WsTestClient::HttpGet(app_->server().port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->second,
              HasSubstr("bridge_upstream_retries_total{method=\"/demo.v1.Echo/Say\"} 2\n"));
}

TEST_F(CallsTest, ServerPushbackSetsTheRetryDelay) {
  StartBridge(kSayRetries);
  auto client = OpenConfirmed();
  const absl::Time start = absl::Now();
  Frame f = Say(*client, "m",
                R"({"demo-fail-first":"1","demo-attempt-key":"k5","demo-pushback-ms":"150"})");
  ASSERT_EQ(f.kind_case(), Frame::kResponse) << last_;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  EXPECT_EQ(backend_->service->calls("Say"), 2);
}

TEST_F(CallsTest, TheRetryBudgetStopsRetriesDuringAnOutage) {
  // Four tokens: the first failure leaves 3 (> 2, retry), the second 2 (not > 2, no retry).
  StartBridge(
      absl::StrCat("retry_policies { service: \"demo.v1.Echo\" method: \"Say\" max_attempts: 5 "
                   "initial_backoff_ms: 1 max_backoff_ms: 2 } retry_throttling { max_tokens: 4 "
                   "token_ratio: 0.1 }"));
  auto client = OpenConfirmed();
  Frame f = Say(*client, "m", R"({"demo-fail-first":"10","demo-attempt-key":"k6"})");
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(backend_->service->calls("Say"), 2);
  EXPECT_EQ(app_->retry_counts()["/demo.v1.Echo/Say"].first, 1u);
  EXPECT_EQ(app_->retry_counts()["/demo.v1.Echo/Say"].second, 1u);
}

TEST_F(CallsTest, NoRetryAfterTheFirstReplyHasBeenForwarded) {
  StartBridge(
      "retry_policies { service: \"demo.v1.Echo\" max_attempts: 3 "
      "initial_backoff_ms: 1 max_backoff_ms: 2 }");
  auto client = OpenConfirmed();
  Send(*client,
       R"({"type":"message","messageId":"r","method":"demo.v1.Echo/Repeat",)"
       R"("payload":{"count":5},"metadata":{"demo-fail-after":"1","demo-fail-code":"14"}})");
  EXPECT_EQ(Next(*client).kind_case(), Frame::kStreamMessage) << last_;
  Frame f = Next(*client);
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE);
  EXPECT_EQ(backend_->service->calls("Repeat"), 1);
}

TEST_F(CallsTest, StreamingRequestsAreReplayedToEachAttempt) {
  StartBridge(
      "retry_policies { service: \"demo.v1.Echo\" method: \"Collect\" "
      "max_attempts: 3 initial_backoff_ms: 1 max_backoff_ms: 2 }");
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"c","method":"demo.v1.Echo/Collect",)"
                R"("payload":{"text":"a"},"metadata":{"demo-fail-first":"1",)"
                R"("demo-attempt-key":"k7"}})");
  Send(*client, R"({"type":"stream_send","messageId":"c","payload":{"text":"b"}})");
  Send(*client, R"({"type":"stream_end","messageId":"c"})");
  Frame f = Next(*client);
  ASSERT_EQ(f.kind_case(), Frame::kResponse) << last_;
  EXPECT_THAT(Parse<demo::v1::CollectResponse>(f.response().payload()).texts(),
              ::testing::ElementsAre("a", "b"));
  EXPECT_EQ(backend_->service->calls("Collect"), 2);
}

TEST_F(CallsTest, RetriesStopAtMaxAttempts) {
  StartBridge(kSayRetries);
  auto client = OpenConfirmed();
  Frame f = Say(*client, "m", R"({"demo-fail-first":"10","demo-attempt-key":"k2"})");
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE);
  EXPECT_EQ(backend_->service->calls("Say"), 3);
}

TEST_F(CallsTest, NonRetryableCodesAreNotRetried) {
  StartBridge(kSayRetries);
  auto client = OpenConfirmed();
  Frame f =
      Say(*client, "m", R"({"demo-fail-first":"2","demo-attempt-key":"k3","demo-fail-code":"13"})");
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_INTERNAL);
  EXPECT_EQ(backend_->service->calls("Say"), 1);
}

TEST_F(CallsTest, MethodsWithoutAPolicyAreNotRetried) {
  StartBridge(kSayRetries);
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"r","method":"demo.v1.Echo/Repeat",)"
                R"("payload":{"count":1},"metadata":{"demo-fail-first":"1",)"
                R"("demo-attempt-key":"k4"}})");
  Frame f = Next(*client);
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(backend_->service->calls("Repeat"), 1);
}

TEST_F(CallsTest, MetadataFlowsBothWaysThroughTheAllowLists) {
  StartBridge("forward_request_headers: \"x-tenant\" forward_request_headers: \"x-trace-*\"");
  auto client = OpenConfirmed({{"X-Tenant", "acme"}, {"X-Trace-Id", "t-1"}, {"X-Secret", "no"}});
  Frame f = Say(*client, "m", R"({"x-echo-color":"green","x-custom":"1","x-other":"2"})");
  ASSERT_EQ(f.kind_case(), Frame::kResponse) << last_;
  // Response headers and trailers, allow-listed ("x-echo-*").
  EXPECT_THAT(f.response().metadata(), Contains(Pair("x-echo-color", "green")));
  EXPECT_THAT(f.response().trailers(), Contains(Pair("x-echo-trailer-color", "green")));
  EXPECT_EQ(f.response().metadata().count("content-type"), 0u);
  const auto md = backend_->service->last_metadata();
  EXPECT_THAT(md, Contains(Pair("x-tenant", "acme")));
  EXPECT_THAT(md, Contains(Pair("x-trace-id", "t-1")));
  EXPECT_EQ(md.count("x-secret"), 0u);
  EXPECT_THAT(md, Contains(Pair("x-custom", "1")));
  EXPECT_THAT(md, Contains(Pair("x-bridge-client-id", "c-1")));
  EXPECT_THAT(md, Contains(Pair("x-bridge-session-id", "s-1")));
}

TEST_F(CallsTest, ABrowsersTraceReachesTheBackendAsAChildSpanAndTheBridgesLog) {
  // The bridge's log lines go to a file the test reads (call_finished is a debug line).
  std::FILE* log_file = std::tmpfile();
  ASSERT_NE(log_file, nullptr);
  log::Configure(log::Level::kDebug, log::Format::kJson, log_file);
  auto restore = absl::MakeCleanup([&] {
    log::Configure(log::Level::kInfo, log::Format::kJson, stderr);
    std::fclose(log_file);
  });
  StartBridge("tracing { return_traceparent: true }");
  const std::string trace = "0af7651916cd43dd8448eb211c80319c";
  auto client = OpenConfirmed({{"Traceparent", absl::StrCat("00-", trace, "-b7ad6b7169203331-01")},
                               {"Tracestate", "rojo=00f067aa0ba902b7"}});
  Frame f = Say(*client, "m", "{}");
  ASSERT_EQ(f.kind_case(), Frame::kResponse) << last_;

  const auto md = backend_->service->last_metadata();
  ASSERT_EQ(md.count("traceparent"), 1u);
  const std::string sent = md.find("traceparent")->second;
  absl::StatusOr<upstream::TraceParent> child = upstream::ParseTraceParent(sent);
  ASSERT_TRUE(child.ok()) << sent;
  EXPECT_EQ(child->trace_id, trace);                // the browser's trace
  EXPECT_NE(child->parent_id, "b7ad6b7169203331");  // a span of the bridge's own
  EXPECT_EQ(child->flags, "01");
  EXPECT_THAT(md, Contains(Pair("tracestate", "rojo=00f067aa0ba902b7")));
  // Returned to the client, as configured.
  EXPECT_EQ(f.response().metadata().at("traceparent"), sent);

  // The call's log line names the trace and the span.
  client.reset();
  bridge_.reset();  // every line is written once the bridge has stopped
  std::fflush(log_file);
  std::rewind(log_file);
  std::string logged;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof(buffer), log_file)) logged.append(buffer, n);
  EXPECT_THAT(logged, HasSubstr(absl::StrCat(R"("event":"call_finished")")));
  EXPECT_THAT(logged, HasSubstr(absl::StrCat(R"("trace_id":")", trace, R"(","span_id":")",
                                             child->parent_id, R"(")")));
}

TEST_F(CallsTest, RepliesFollowTheRoutesJsonMappingAndTheSessionsWhereTheRouteLetsIt) {
  StartOwnBridge(R"(listen: "127.0.0.1:0" routes { service: "demo.v1.Echo" target: "$BACKEND"
                    json { proto_names: true session_may_choose: true } })",
                 /*with_descriptors=*/true);
  const std::string call =
      R"({"type":"message","messageId":"m","method":"demo.v1.Echo/Say",)"
      R"("payload":{"text":"hi","sample":{"color":"COLOR_RED","list_i64":["7"]}}})";
  auto plain = OpenConfirmed();
  Send(*plain, call);  // the request in proto names: read whatever the mapping
  Frame f = Next(*plain);
  ASSERT_EQ(f.kind_case(), Frame::kResponse) << last_;
  EXPECT_THAT(f.response().payload(), HasSubstr(R"("received_at":")"));
  EXPECT_THAT(f.response().payload(), HasSubstr(R"("color":"COLOR_RED")"));
  EXPECT_THAT(f.response().payload(), HasSubstr(R"("list_i64":["7"])"));

  auto client = WsTestClient::Connect(app_->server().port());
  ASSERT_TRUE(client.ok()) << client.status();
  Send(**client, R"({"type":"connect","clientId":"c","jsonMapping":{"enumsAsNumbers":true}})");
  ASSERT_EQ(Next(**client).kind_case(), Frame::kConnectConfirm) << last_;
  Send(**client, call);
  f = Next(**client);
  ASSERT_EQ(f.kind_case(), Frame::kResponse) << last_;
  EXPECT_THAT(f.response().payload(), HasSubstr(R"("received_at":")"));  // the route's
  EXPECT_THAT(f.response().payload(), HasSubstr(R"("color":1)"));        // the session's
}

TEST_F(CallsTest, ReservedOrMalformedMetadataKeysAreRefused) {
  StartBridge();
  auto client = OpenConfirmed();
  for (const char* key : {"grpc-timeout", "x-bridge-client-id", "Upper", "sp ace"}) {
    SCOPED_TRACE(key);
    Frame f = Say(*client, "m", absl::StrCat(R"({")", key, R"(":"v"})"));
    ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
    EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_INVALID_ARGUMENT);
    EXPECT_THAT(f.error().field(), HasSubstr("metadata"));
  }
  EXPECT_EQ(backend_->service->calls("Say"), 0);
}

// Strings a client controls that gRPC refuses as metadata values (grpc++ aborts the process
// on that refusal): each is encoded by the protocol's rule or refused with invalid_argument,
// and the bridge carries on.
TEST_F(CallsTest, ClientStringsGrpcWouldRefuseNeverReachIt) {
  StartBridge(R"(forward_request_headers: "x-tenant")");
  auto client = WsTestClient::Connect(app_->server().port(), "/ws", {}, kTestTimeout,
                                      {{"X-Tenant", "m\xc3\xbcnchen\t1"}});
  ASSERT_TRUE(client.ok()) << client.status();
  Send(**client, R"({"type":"connect","clientId":"J\u00fcrgen","version":"1"})");
  ASSERT_EQ(Next(**client).kind_case(), Frame::kConnectConfirm) << last_;

  for (const char* value : {R"(gr\u00fc\u00dfe)", R"(a\nb)", R"(tab\there)", R"(nul\u0000)"}) {
    SCOPED_TRACE(value);
    Frame f = Say(**client, "bad", absl::StrCat(R"({"x-note":")", value, R"("})"));
    ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
    EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_INVALID_ARGUMENT);
    EXPECT_EQ(f.error().message_id(), "bad");
    EXPECT_EQ(f.error().field(), R"(metadata["x-note"])");
    EXPECT_FALSE(f.error().retryable());
  }
  Frame not_base64 = Say(**client, "b64", R"({"x-blob-bin":"not base64!"})");
  ASSERT_EQ(not_base64.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(not_base64.error().field(), R"(metadata["x-blob-bin"])");
  EXPECT_EQ(backend_->service->calls("Say"), 0);

  // Bytes under a -bin key travel as base64 both ways; identifiers and forwarded headers
  // arrive percent-encoded.
  const std::string bytes("\x00\xff\xc3\xbc", 4);
  Frame ok = Say(**client, "ok",
                 absl::StrCat(R"({"x-blob-bin":")", absl::Base64Escape(bytes),
                              R"(","x-echo-blob-bin":")", absl::Base64Escape(bytes), R"("})"));
  ASSERT_EQ(ok.kind_case(), Frame::kResponse) << last_;
  EXPECT_THAT(ok.response().metadata(),
              Contains(Pair("x-echo-blob-bin", absl::Base64Escape(bytes))));
  const auto md = backend_->service->last_metadata();
  EXPECT_THAT(md, Contains(Pair("x-blob-bin", bytes)));
  EXPECT_THAT(md, Contains(Pair("x-bridge-client-id", "J%C3%BCrgen")));
  EXPECT_THAT(md, Contains(Pair("x-tenant", "m%C3%BCnchen%091")));
  EXPECT_EQ(app_->server().metrics().bad_metadata.load(), 5u);
}

TEST_F(CallsTest, AClientCannotForwardAHeaderThatPassesForTheBridgesOwn) {
  StartBridge(R"(forward_request_headers: "x-*")");
  auto client = OpenConfirmed({{"X-Bridge-User-Id", "admin"}, {"X-Tenant!", "t"}, {"X-Ok", "1"}});
  ASSERT_NE(client, nullptr);
  ASSERT_EQ(Say(*client, "m", "{}").kind_case(), Frame::kResponse) << last_;
  const auto md = backend_->service->last_metadata();
  EXPECT_EQ(md.count("x-bridge-user-id"), 0u);  // an anonymous session has none
  EXPECT_EQ(md.count("x-tenant!"), 0u);
  EXPECT_THAT(md, Contains(Pair("x-ok", "1")));
  EXPECT_EQ(app_->server().metrics().headers_not_forwarded.load(), 2u);
}

TEST_F(CallsTest, AClientIdWithAControlCharacterIsRefusedAtConnect) {
  StartBridge();
  for (const std::string& id :
       {std::string(R"(a\u0001b)"), std::string(R"(line\nbreak)"), std::string(257, 'x')}) {
    auto client = WsTestClient::Connect(app_->server().port());
    ASSERT_TRUE(client.ok()) << client.status();
    Send(**client, absl::StrCat(R"({"type":"connect","clientId":")", id, R"(","version":"1"})"));
    Frame f = Next(**client);
    ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
    EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_INVALID_ARGUMENT);
    EXPECT_EQ(f.error().field(), "clientId");
    auto code = (*client)->WaitForClose();
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, protocol::close_code::kProtocolError);
    EXPECT_EQ((*client)->close_reason(), "invalid_client_id");
  }
  EXPECT_EQ(app_->server().metrics().bad_client_ids.load(), 3u);
  // The bridge is still there for everyone else.
  auto other = OpenConfirmed();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(Say(*other, "m", "{}").kind_case(), Frame::kResponse) << last_;
}

TEST_F(CallsTest, MetadataOverTheSizeLimitIsInvalidArgumentNotARateLimit) {
  StartBridge();
  auto client = OpenConfirmed();
  Frame f = Say(*client, "big", absl::StrCat(R"({"x-big":")", std::string(9000, 'a'), R"("})"));
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_INVALID_ARGUMENT);
  EXPECT_FALSE(f.error().retryable());
  EXPECT_EQ(f.error().field(), "metadata");
  EXPECT_EQ(f.error().message_id(), "big");
  EXPECT_EQ(backend_->service->calls("Say"), 0);
  // Just under the limit goes through.
  EXPECT_EQ(Say(*client, "fits", absl::StrCat(R"({"x-big":")", std::string(7000, 'a'), R"("})"))
                .kind_case(),
            Frame::kResponse)
      << last_;
}

TEST_F(CallsTest, TheRateLimitCountsEveryFrameOfABatchAndRefusalsCarryTheirIds) {
  // Three frames of burst, one more per second: connect takes one.
  StartBridge("max_messages_per_second: 1 message_burst: 3 rate_limit_strikes: 100");
  auto client = OpenConfirmed();
  constexpr int kCalls = 10;
  std::string batch = R"({"type":"batch","frames":[)";
  for (int i = 0; i < kCalls; ++i) {
    absl::StrAppend(&batch, i == 0 ? "" : ",", R"({"type":"message","messageId":"m)", i,
                    R"(","method":"demo.v1.Echo/Say","payload":{"text":"hi"}})");
  }
  batch += "]}";
  Send(*client, batch);
  std::map<std::string, Frame> answers;
  int refused = 0;
  while (answers.size() < kCalls) {
    Frame f = Next(*client);
    std::string id = f.has_response() ? f.response().message_id() : f.error().message_id();
    ASSERT_FALSE(id.empty()) << "an answer without its messageId: " << last_;
    ASSERT_TRUE(answers.emplace(id, f).second) << "two answers for " << id;
    if (f.has_error()) {
      ++refused;
      EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_RATE_LIMITED) << last_;
      EXPECT_TRUE(f.error().retryable());
      EXPECT_GT(f.error().retry_after_ms(), 0u);
    }
  }
  // At most the burst's two tokens left and one per second since: most were refused.
  const int admitted = kCalls - refused;
  EXPECT_GE(refused, kCalls - 2 - 2);
  EXPECT_EQ(backend_->service->calls("Say"), admitted);
  EXPECT_EQ(app_->server().metrics().rate_limited_messages.load(), static_cast<uint64_t>(refused));
}

TEST_F(CallsTest, StreamSendToAUnaryCallOrAnUnknownCallIsRefused) {
  StartBridge();
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"stream_send","messageId":"ghost","payload":{}})");
  EXPECT_EQ(Next(*client).error().category(), v1::ERROR_CATEGORY_NOT_FOUND) << last_;
  Send(*client, R"({"type":"message","messageId":"s","method":"demo.v1.Echo/Say",)"
                R"("metadata":{"demo-delay-ms":"60000"}})");
  Send(*client, R"({"type":"stream_send","messageId":"s","payload":{}})");
  Frame f = Next(*client);
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_INVALID_ARGUMENT) << last_;
  EXPECT_EQ(f.error().message_id(), "s");
}

TEST_F(CallsTest, CallsPerSessionAreBounded) {
  StartBridge("max_calls_per_session: 2");
  auto client = OpenConfirmed();
  for (const char* id : {"a", "b", "c"}) {
    Send(*client,
         absl::StrCat(R"({"type":"message","messageId":")", id,
                      R"(","method":"demo.v1.Echo/Say","metadata":{"demo-delay-ms":"60000"}})"));
  }
  Frame f = Next(*client);
  ASSERT_EQ(f.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(f.error().message_id(), "c");
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_RATE_LIMITED);
}

TEST_F(CallsTest, AClientThatCannotKeepUpIsClosedAsASlowConsumer) {
  // The queue bound equals the pause point: the first reply beyond it closes with 4002.
  StartBridge(
      "max_outbound_buffer_bytes: 65536 max_outbound_queue_bytes: 65536 "
      "disable_resume: true");
  auto slow = OpenConfirmed();
  ASSERT_TRUE(slow->SetReceiveBuffer(64 << 10).ok());
  Send(*slow,
       absl::StrCat(R"({"type":"message","messageId":"flood","method":"demo.v1.Echo/Repeat",)",
                    R"("payload":{"count":0,"text":")", std::string(16384, 'z'), R"("}})"));
  // The client reads nothing until the bridge has decided: whatever the machine's speed, the
  // socket fills and the bytes waiting pass the bound.
  const absl::Time deadline = absl::Now() + kTestTimeout;
  while (app_->server().metrics().slow_consumer_closes.load() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));  // polling a condition, bounded by the deadline
  }
  ASSERT_EQ(app_->server().metrics().slow_consumer_closes.load(), 1u);
  // Then it reads: what was already on its way, the error saying why, and the close, which
  // did not wait behind the frames that were still queued.
  std::optional<Frame> last;
  int replies = 0;
  while (true) {
    absl::StatusOr<WsTestClient::Message> m = slow->Receive();
    if (!m.ok()) break;
    Frame frame;
    ASSERT_TRUE(protocol::DecodeJsonFrame(m->payload, &frame).ok());
    if (frame.has_stream_message()) ++replies;
    last = std::move(frame);
  }
  ASSERT_TRUE(slow->close_code().has_value()) << "the connection ended without a close frame";
  EXPECT_EQ(*slow->close_code(), protocol::close_code::kSlowConsumer);
  EXPECT_EQ(slow->close_reason(), "slow_consumer");
  ASSERT_TRUE(last.has_value() && last->has_error()) << "no error frame before the close";
  EXPECT_EQ(last->error().category(), v1::ERROR_CATEGORY_SLOW_CONSUMER);
  EXPECT_EQ(last->error().message_id(), "");
  EXPECT_EQ(protocol::ClassifyClose(*slow->close_code()).category,
            v1::ERROR_CATEGORY_SLOW_CONSUMER);
  EXPECT_GT(replies, 0);  // what was on its way went first
  EXPECT_TRUE(backend_->service->AwaitCancellations(1, kTestTimeout));
}

TEST_F(CallsTest, DrainLetsRunningCallsFinishThenClosesWith1001AndARetryHint) {
  StartBridge("drain_retry_after_ms: 2500");
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"m","method":"demo.v1.Echo/Say",)"
                R"("payload":{"text":"last"},"metadata":{"demo-delay-ms":"200"}})");
  ASSERT_TRUE(backend_->service->AwaitCalls("Say", 1, kTestTimeout));
  app_->Shutdown();
  Frame response = Next(*client);
  ASSERT_EQ(response.kind_case(), Frame::kResponse) << last_;
  Frame bye = Next(*client);
  ASSERT_EQ(bye.kind_case(), Frame::kError) << last_;
  EXPECT_EQ(bye.error().category(), v1::ERROR_CATEGORY_SERVER_SHUTDOWN);
  EXPECT_EQ(bye.error().message_id(), "");
  EXPECT_TRUE(bye.error().retryable());
  EXPECT_EQ(bye.error().retry_after_ms(), 2500u);
  auto code = client->WaitForClose();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, protocol::close_code::kGoingAway);
  EXPECT_EQ(backend_->service->cancellations(), 0);
}

TEST_F(CallsTest, CallsStillRunningAtTheDrainTimeoutAreCancelled) {
  StartBridge("drain_timeout_ms: 100");
  auto client = OpenConfirmed();
  Send(*client, R"({"type":"message","messageId":"m","method":"demo.v1.Echo/Say",)"
                R"("metadata":{"demo-delay-ms":"60000"}})");
  ASSERT_TRUE(backend_->service->AwaitCalls("Say", 1, kTestTimeout));
  app_->Shutdown();
  auto code = client->WaitForClose();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, protocol::close_code::kGoingAway);
  EXPECT_TRUE(backend_->service->AwaitCancellations(1, kTestTimeout));
}

TEST_F(CallsTest, ASlowReaderStopsUpstreamReadsInsteadOfBuffering) {
  // The slow reader never finishes a close handshake: a short grace keeps teardown quick.
  // The probe's round trips are not to be rate limited.
  StartBridge(
      "max_outbound_buffer_bytes: 65536 shutdown_grace_ms: 100 disable_resume: true "
      "max_messages_per_second: 1000000 message_burst: 1000000");
  auto slow = OpenConfirmed();
  // A small, fixed receive buffer: what the reader's kernel holds stays small.
  ASSERT_TRUE(slow->SetReceiveBuffer(64 << 10).ok());
  // An endless stream of 16 KiB replies; `slow` reads none of them.
  Send(*slow,
       absl::StrCat(R"({"type":"message","messageId":"flood","method":"demo.v1.Echo/Repeat",)",
                    R"("payload":{"count":0,"text":")", std::string(16384, 'z'), R"("}})"));
  auto probe = OpenConfirmed();
  // Each round trip on another connection gives the flood time to run; wait for the pause.
  int rounds = 0;
  for (; app_->server().metrics().flow_control_pauses.load() == 0 && rounds < 20000; ++rounds) {
    ASSERT_EQ(Say(*probe, "p", "{}").kind_case(), Frame::kResponse);
  }
  ASSERT_GT(app_->server().metrics().flow_control_pauses.load(), 0u);
  const int64_t sent_at_pause = backend_->service->stream_messages_sent();
  // Once the bridge stops reading, gRPC's HTTP/2 flow control holds the backend: the count of
  // replies it has written stops growing (an unbounded bridge would keep reading forever).
  int64_t before = -1;
  int64_t after = backend_->service->stream_messages_sent();
  for (int batch = 0; batch < 100 && after != before; ++batch) {
    before = after;
    for (int i = 0; i < 50; ++i) ASSERT_EQ(Say(*probe, "p", "{}").kind_case(), Frame::kResponse);
    after = backend_->service->stream_messages_sent();
  }
  EXPECT_EQ(after, before) << "the backend never stopped writing";
  // Everything the backend wrote is held between it and the reader, bounded by the windows on
  // the way, not by how long the reader sleeps: the bridge's 64 KiB, its socket's send buffer
  // (at most 4 MiB here), the reader's fixed receive buffer, and gRPC's HTTP/2 windows, which
  // gRPC sizes by the bandwidth-delay product it measures (8 to 28 MB held in all were seen,
  // the most under ThreadSanitizer's slowdown).
  EXPECT_LE(after * 16384, 64 << 20) << "sent at pause " << sent_at_pause << ", in all " << after;
  const int64_t total = after;
  // The reader catches up and everything arrives in order.
  for (int64_t i = 1; i <= total; ++i) {
    Frame f = Next(*slow);
    ASSERT_EQ(f.kind_case(), Frame::kStreamMessage) << last_.substr(0, 200);
    ASSERT_EQ(Parse<demo::v1::SayResponse>(f.stream_message().payload()).sequence(), i);
  }
  // A reply in flight when the session ends must not keep the call alive.
  slow.reset();
  EXPECT_TRUE(app_->AwaitUpstreamIdle(kTestTimeout));
}

}  // namespace
}  // namespace bridge
