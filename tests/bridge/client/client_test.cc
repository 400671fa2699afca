// The client's state machine on a fake event loop and transport: the test plays the server,
// moves time by hand and draws the jitter, so every frame and every delay is exact.
#include "bridge/client/client.h"

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/common/strings.h"
#include "bridge/protocol/error_table.h"
#include "bridge/protocol/frame_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/mocks/client_fakes.h"

namespace bridge::client {
namespace {

using ::bridge::testing::FakeClientTransport;
using ::bridge::testing::FakeEventLoop;
using ::testing::ElementsAre;
using v1::Frame;

// Debian's Abseil has its own string_view type.

std::string ConfirmJson(std::string_view conversation, bool resumed, uint64_t seq,
                        int interval_ms = 30000, int timeout_ms = 60000) {
  return absl::StrCat(R"({"type":"connect_confirm","clientId":"cpp-client","conversationId":")",
                      Sv(conversation), R"(","status":"confirmed","heartbeatIntervalMs":)",
                      interval_ms, R"(,"heartbeatTimeoutMs":)", timeout_ms, R"(,"resumed":)",
                      resumed ? "true" : "false", R"(,"seq":)", seq, "}");
}

std::string StreamMessageJson(std::string_view id, std::string_view payload, uint64_t seq) {
  return absl::StrCat(R"({"type":"stream_message","messageId":")", Sv(id), R"(","payload":)",
                      Sv(payload), R"(,"seq":)", seq, "}");
}

std::string ResponseJson(std::string_view id, std::string_view payload, uint64_t seq) {
  return absl::StrCat(R"({"type":"response","messageId":")", Sv(id), R"(","payload":)", Sv(payload),
                      R"(,"seq":)", seq, "}");
}

std::string PongJson(uint64_t seq) { return absl::StrCat(R"({"type":"pong","seq":)", seq, "}"); }

Frame Parse(const std::string& data, bool binary = false) {
  Frame frame;
  const protocol::DecodeError error =
      binary ? protocol::DecodeBinaryFrame(data, &frame) : protocol::DecodeJsonFrame(data, &frame);
  EXPECT_TRUE(error.ok()) << error.message << ": " << data;
  return frame;
}

// A call whose messages and outcomes the test reads.
struct CallRecord {
  std::shared_ptr<CallHandle> handle;
  std::vector<std::string> messages;
  std::vector<CallOutcome> outcomes;
  const std::string& id() const { return handle->message_id(); }
};

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() {
    // Acks are off unless a test turns them on, so they do not mix with the frames it checks.
    options_.ack_interval = absl::InfiniteDuration();
    options_.ack_every_frames = 0;
  }

  void Start() {
    ClientRuntime runtime;
    runtime.loop = &loop_;
    runtime.transport = &transport_;
    runtime.clock = &loop_;
    runtime.random = [this] {
      if (draws_.empty()) return 0.5;
      const double draw = draws_.front();
      draws_.pop_front();
      return draw;
    };
    client_ = std::make_unique<Client>(options_, runtime);
    ClientHandlers handlers;
    handlers.on_state_change = [this](const StateChange& change) { states_.push_back(change.to); };
    handlers.on_open = [this](const SessionInfo& info) { opens_.push_back(info); };
    handlers.on_close = [this](const CloseInfo& info) { closes_.push_back(info); };
    handlers.on_error = [this](const SessionError& error) { errors_.push_back(error); };
    handlers.on_reconnecting = [this](int attempt, absl::Duration delay) {
      reconnects_.push_back({attempt, delay});
    };
    handlers.on_reconnect_failed = [this](ErrorCategory last) { gave_up_.push_back(last); };
    client_->set_handlers(handlers);
    client_->Connect();
    loop_.RunReady();
  }

  // Opens the last connection and confirms the session.
  void Confirm(std::string_view conversation = "s-1", bool resumed = false, uint64_t seq = 1,
               int interval_ms = 30000, int timeout_ms = 60000) {
    transport_.Accept();
    Deliver(ConfirmJson(conversation, resumed, seq, interval_ms, timeout_ms));
  }

  void Deliver(const std::string& frame) {
    transport_.Deliver(frame);
    loop_.RunReady();
  }

  void Drop(int code, std::string reason = "", int http_status = 0) {
    transport_.Drop(code, std::move(reason), http_status);
    loop_.RunReady();
  }

  // Waits out the pending reconnect delay; a new connection is open.
  void Reconnect() {
    const size_t before = transport_.connections.size();
    ASSERT_FALSE(reconnects_.empty());
    loop_.Advance(reconnects_.back().second);
    ASSERT_EQ(transport_.connections.size(), before + 1);
  }

  // Fails each of the next `n` attempts as soon as it starts.
  void FailAttempts(int n) {
    for (int i = 0; i < n; ++i) {
      Reconnect();
      Drop(1006);
    }
  }

  // The delay of every reconnect scheduled so far.
  std::vector<absl::Duration> Delays() const {
    std::vector<absl::Duration> delays;
    for (const auto& [attempt, delay] : reconnects_) delays.push_back(delay);
    return delays;
  }

  std::unique_ptr<CallRecord> StartCall(const std::string& method = "demo.v1.Echo/Say",
                                        const std::string& payload = R"({"text":"hi"})",
                                        CallOptions options = {}) {
    auto record = std::make_unique<CallRecord>();
    CallHandlers handlers;
    handlers.on_message = [r = record.get()](std::string payload) {
      r->messages.push_back(std::move(payload));
    };
    handlers.on_done = [r = record.get()](CallOutcome outcome) {
      r->outcomes.push_back(std::move(outcome));
    };
    auto handle = client_->Call(method, payload, std::move(options), std::move(handlers));
    EXPECT_TRUE(handle.ok()) << handle.status();
    if (handle.ok()) record->handle = *handle;
    loop_.RunReady();
    return record;
  }

  // The frames the client sent on connection `index` (the last when negative).
  std::vector<Frame> Sent(int index = -1) {
    const auto& c = index < 0 ? transport_.last() : transport_.connections[index];
    std::vector<Frame> frames;
    for (size_t i = 0; i < c.sent.size(); ++i) frames.push_back(Parse(c.sent[i], c.sent_binary[i]));
    return frames;
  }

  std::vector<std::string> SentTypes(int index = -1) {
    std::vector<std::string> types;
    for (const Frame& f : Sent(index)) types.emplace_back(protocol::FrameTypeName(f));
    return types;
  }

  Frame LastSent() { return Sent().back(); }

  ClientOptions options_;
  FakeEventLoop loop_;
  FakeClientTransport transport_;
  std::deque<double> draws_;
  std::unique_ptr<Client> client_;

  std::vector<State> states_;
  std::vector<SessionInfo> opens_;
  std::vector<CloseInfo> closes_;
  std::vector<SessionError> errors_;
  std::vector<std::pair<int, absl::Duration>> reconnects_;
  std::vector<ErrorCategory> gave_up_;
};

// ---- Session life ----

TEST_F(ClientTest, ConnectSendsConnectFirstAndConfirms) {
  options_.client_id = "c-7";
  options_.token = "tok";
  Start();
  EXPECT_EQ(client_->state(), State::kConnecting);
  ASSERT_EQ(transport_.connections.size(), 1u);
  EXPECT_EQ(transport_.last().request.url, "ws://127.0.0.1:8080/ws");
  EXPECT_THAT(transport_.last().request.subprotocols, ElementsAre("bridge.v1.json"));
  EXPECT_TRUE(transport_.last().sent.empty());

  transport_.Accept();
  loop_.RunReady();
  EXPECT_EQ(client_->state(), State::kPending);
  ASSERT_EQ(Sent().size(), 1u);
  const Frame connect = Sent()[0];
  ASSERT_EQ(connect.kind_case(), Frame::kConnect);
  EXPECT_EQ(connect.connect().client_id(), "c-7");
  EXPECT_EQ(connect.connect().version(), "1");
  EXPECT_EQ(connect.connect().token(), "tok");
  EXPECT_FALSE(connect.connect().has_resume());
  EXPECT_FALSE(connect.connect().has_json_mapping());  // the route's, unless asked
  EXPECT_GT(connect.connect().timestamp().seconds(), 0);

  Deliver(ConfirmJson("s-1", false, 1, 15000, 45000));
  EXPECT_EQ(client_->state(), State::kConfirmed);
  EXPECT_EQ(client_->conversation_id(), "s-1");
  EXPECT_EQ(client_->last_seq(), 1u);
  EXPECT_THAT(states_, ElementsAre(State::kConnecting, State::kPending, State::kConfirmed));
  ASSERT_EQ(opens_.size(), 1u);
  EXPECT_EQ(opens_[0].conversation_id, "s-1");
  EXPECT_FALSE(opens_[0].resumed);
  EXPECT_EQ(opens_[0].heartbeat_interval, absl::Seconds(15));
  EXPECT_EQ(opens_[0].heartbeat_timeout, absl::Seconds(45));
}

TEST_F(ClientTest, AJsonMappingAskedForGoesInConnect) {
  options_.json_mapping.emplace();
  options_.json_mapping->set_proto_names(true);
  Start();
  transport_.Accept();
  loop_.RunReady();
  ASSERT_EQ(Sent().size(), 1u);
  const v1::JsonMapping sent = Sent()[0].connect().json_mapping();
  EXPECT_TRUE(sent.has_proto_names() && sent.proto_names());
  EXPECT_FALSE(sent.has_enums_as_numbers());
  EXPECT_FALSE(sent.has_emit_defaults());
}

TEST_F(ClientTest, SendsBeforeConfirmationAreQueuedAndFlushedInOrder) {
  Start();
  auto first = StartCall("demo.v1.Echo/Chat", "");
  ASSERT_TRUE(first->handle->Send(R"({"text":"a"})").ok());
  auto second = StartCall();
  ASSERT_TRUE(first->handle->End().ok());
  ASSERT_TRUE(client_->Subscribe("news", R"({"x":1})", {}).ok());
  EXPECT_TRUE(transport_.last().sent.empty());

  transport_.Accept();
  loop_.RunReady();
  EXPECT_THAT(SentTypes(), ElementsAre("connect"));  // nothing goes before the confirm
  Deliver(ConfirmJson("s-1", false, 1));
  EXPECT_THAT(SentTypes(), ElementsAre("connect", "message", "stream_send", "message", "stream_end",
                                       "subscribe"));
  const std::vector<Frame> sent = Sent();
  EXPECT_EQ(sent[1].message().message_id(), first->id());
  EXPECT_EQ(sent[1].message().method(), "demo.v1.Echo/Chat");
  EXPECT_EQ(sent[2].stream_send().payload(), R"({"text":"a"})");
  EXPECT_EQ(sent[3].message().message_id(), second->id());
  EXPECT_EQ(sent[3].message().payload(), R"({"text":"hi"})");
  EXPECT_EQ(sent[5].subscribe().channel(), "news");

  // Once confirmed, sends go straight out.
  auto third = StartCall();
  EXPECT_EQ(LastSent().message().message_id(), third->id());
}

TEST_F(ClientTest, QueueOverflowIsAnErrorToTheCallerNeverADrop) {
  options_.max_queued_frames = 2;
  Start();
  auto a = StartCall();
  auto b = StartCall();
  bool called = false;
  CallHandlers handlers;
  handlers.on_done = [&called](CallOutcome) { called = true; };
  auto refused = client_->Call("demo.v1.Echo/Say", "{}", {}, handlers);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(client_->Subscribe("c", "", {}).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(a->handle->Send("{}").code(), absl::StatusCode::kResourceExhausted);
  std::future<CallOutcome> future = client_->CallFuture("demo.v1.Echo/Say", "{}");
  ASSERT_EQ(future.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(future.get().status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(client_->stats().queue_overflows, 4u);

  Confirm();
  loop_.RunReady();
  EXPECT_FALSE(called);  // a refused call never calls back
  EXPECT_THAT(SentTypes(), ElementsAre("connect", "message", "message"));
}

TEST_F(ClientTest, TheQueueIsBoundedInBytesToo) {
  options_.max_queued_bytes = 400;  // a message with 200 bytes of text is about 275
  Start();
  const std::string big = absl::StrCat(R"({"text":")", std::string(200, 'x'), R"("})");
  auto a = StartCall("demo.v1.Echo/Say", big);
  auto refused = client_->Call("demo.v1.Echo/Say", big, {}, {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(client_->Call("demo.v1.Echo/Say", "{}", {}, {}).ok());
}

TEST_F(ClientTest, APayloadThatIsNotJsonIsRefused) {
  Start();
  EXPECT_EQ(client_->Call("demo.v1.Echo/Say", "{not json", {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Call("", "{}", {}, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(client_->Call("demo.v1.Echo/Say", "[1, \"two\", null]", {}, {}).ok());
}

// ---- Calls ----

TEST_F(ClientTest, UnaryOutcomeIsDeliveredOnce) {
  Start();
  Confirm();
  CallOptions options;
  options.metadata["demo-delay-ms"] = "5";
  options.timeout = absl::Milliseconds(1500);
  auto call = StartCall("demo.v1.Echo/Say", R"({"text":"hi"})", options);
  const Frame message = LastSent();
  EXPECT_EQ(message.message().metadata().at("demo-delay-ms"), "5");
  EXPECT_EQ(message.message().timeout_ms(), 1500u);

  Deliver(absl::StrCat(R"({"type":"response","messageId":")", call->id(),
                       R"(","payload":{"text":"hi"},"metadata":{"x-echo-a":"1"},)",
                       R"("trailers":{"x-echo-t":"2"},"seq":2})"));
  ASSERT_EQ(call->outcomes.size(), 1u);
  const CallOutcome& outcome = call->outcomes[0];
  EXPECT_TRUE(outcome.ok());
  EXPECT_EQ(outcome.category, v1::ERROR_CATEGORY_UNSPECIFIED);
  EXPECT_EQ(outcome.payload, R"({"text":"hi"})");
  EXPECT_EQ(outcome.metadata.at("x-echo-a"), "1");
  EXPECT_EQ(outcome.trailers.at("x-echo-t"), "2");

  // Anything later about the same call changes nothing.
  Deliver(ResponseJson(call->id(), "{}", 3));
  Deliver(absl::StrCat(R"({"type":"error","messageId":")", call->id(),
                       R"(","category":"internal","message":"late","seq":4})"));
  EXPECT_EQ(call->outcomes.size(), 1u);
  EXPECT_EQ(call->handle->Send("{}").code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClientTest, CallFutureCarriesTheOutcomeAndTheStreamMessages) {
  Start();
  Confirm();
  std::future<CallOutcome> future = client_->CallFuture("demo.v1.Echo/Repeat", "{}");
  const std::string id = LastSent().message().message_id();
  Deliver(StreamMessageJson(id, R"({"sequence":"1"})", 2));
  Deliver(StreamMessageJson(id, R"({"sequence":"2"})", 3));
  EXPECT_EQ(future.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  Deliver(absl::StrCat(R"({"type":"stream_end","messageId":")", id,
                       R"(","status":{"code":0},"seq":4})"));
  ASSERT_EQ(future.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  const CallOutcome outcome = future.get();
  EXPECT_TRUE(outcome.ok());
  EXPECT_THAT(outcome.messages, ElementsAre(R"({"sequence":"1"})", R"({"sequence":"2"})"));
}

TEST_F(ClientTest, StreamingCallsSendEndAndCancelOnTheirHandle) {
  Start();
  Confirm();
  auto bidi = StartCall("demo.v1.Echo/Chat", "");
  EXPECT_TRUE(LastSent().message().payload().empty());
  ASSERT_TRUE(bidi->handle->Send(R"({"text":"one"})").ok());
  EXPECT_EQ(LastSent().stream_send().message_id(), bidi->id());
  Deliver(StreamMessageJson(bidi->id(), R"({"text":"one"})", 2));
  ASSERT_TRUE(bidi->handle->End().ok());
  EXPECT_EQ(LastSent().stream_end().message_id(), bidi->id());
  EXPECT_EQ(bidi->handle->Send("{}").code(), absl::StatusCode::kFailedPrecondition);
  Deliver(absl::StrCat(R"({"type":"stream_end","messageId":")", bidi->id(),
                       R"(","status":{"code":0},"trailers":{"x-echo-t":"v"},"seq":3})"));
  EXPECT_THAT(bidi->messages, ElementsAre(R"({"text":"one"})"));
  ASSERT_EQ(bidi->outcomes.size(), 1u);
  EXPECT_TRUE(bidi->outcomes[0].ok());
  EXPECT_EQ(bidi->outcomes[0].trailers.at("x-echo-t"), "v");

  auto repeat = StartCall("demo.v1.Echo/Repeat", R"({"count":100})");
  ASSERT_TRUE(repeat->handle->Cancel().ok());
  EXPECT_EQ(LastSent().cancel().message_id(), repeat->id());
  EXPECT_TRUE(repeat->outcomes.empty());  // the server's answer ends it
  Deliver(absl::StrCat(R"({"type":"error","messageId":")", repeat->id(),
                       R"(","category":"cancelled","retryable":false,"grpcCode":1,)",
                       R"("message":"cancelled","seq":4})"));
  ASSERT_EQ(repeat->outcomes.size(), 1u);
  EXPECT_EQ(repeat->outcomes[0].category, v1::ERROR_CATEGORY_CANCELLED);
  EXPECT_EQ(repeat->outcomes[0].status.code(), absl::StatusCode::kCancelled);
}

// The pull form reads as the JavaScript client's call objects: send, end, then the replies in
// order from Next() and the one outcome from done().
TEST_F(ClientTest, AStreamCallGivesItsRepliesInOrderThenItsOutcome) {
  Start();
  Confirm();
  CallOptions options;
  options.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto bidi = client_->BidiStream("demo.v1.Echo/Chat", options, R"({"text":"one"})");
  ASSERT_TRUE(bidi.ok()) << bidi.status();
  const v1::Message sent = LastSent().message();
  EXPECT_EQ(sent.message_id(), (*bidi)->message_id());
  EXPECT_EQ(sent.payload(), R"({"text":"one"})");
  EXPECT_EQ(sent.metadata().at("traceparent"), options.traceparent);
  ASSERT_TRUE((*bidi)->Send(R"({"text":"two"})").ok());
  EXPECT_EQ(LastSent().stream_send().message_id(), (*bidi)->message_id());
  ASSERT_TRUE((*bidi)->End().ok());
  EXPECT_EQ(LastSent().stream_end().message_id(), (*bidi)->message_id());

  EXPECT_EQ((*bidi)->Next(absl::ZeroDuration()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  Deliver(StreamMessageJson((*bidi)->message_id(), R"({"text":"one"})", 2));
  Deliver(StreamMessageJson((*bidi)->message_id(), R"({"text":"two"})", 3));
  Deliver(absl::StrCat(R"({"type":"stream_end","messageId":")", (*bidi)->message_id(),
                       R"(","status":{"code":0},"seq":4})"));
  std::vector<std::string> replies;
  for (;;) {
    auto next = (*bidi)->Next(absl::ZeroDuration());
    ASSERT_TRUE(next.ok()) << next.status();
    if (!next->has_value()) break;
    replies.push_back(**next);
  }
  EXPECT_THAT(replies, ElementsAre(R"({"text":"one"})", R"({"text":"two"})"));
  ASSERT_EQ((*bidi)->done().wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_TRUE((*bidi)->done().get().ok());
  EXPECT_TRUE((*bidi)->done().get().messages.empty());
  EXPECT_EQ((*bidi)->Send("{}").code(), absl::StatusCode::kFailedPrecondition);

  // A client stream's reply is its outcome's payload; a refused call is an error at once.
  auto collect = client_->ClientStream("demo.v1.Echo/Collect");
  ASSERT_TRUE(collect.ok());
  EXPECT_TRUE(LastSent().message().payload().empty());
  ASSERT_TRUE((*collect)->Send(R"({"text":"a"})").ok());
  ASSERT_TRUE((*collect)->End().ok());
  Deliver(absl::StrCat(R"({"type":"response","messageId":")", (*collect)->message_id(),
                       R"(","payload":{"text":"a"},"seq":5})"));
  auto end = (*collect)->Next(absl::ZeroDuration());
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  EXPECT_EQ((*collect)->done().get().payload, R"({"text":"a"})");
  EXPECT_EQ(client_->ServerStream("demo.v1.Echo/Repeat", "not json").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, CancellingAQueuedCallEndsItAtOnceAndNothingIsSent) {
  Start();
  auto call = StartCall();
  ASSERT_TRUE(call->handle->Send("{}").ok());
  ASSERT_TRUE(call->handle->Cancel().ok());
  loop_.RunReady();
  ASSERT_EQ(call->outcomes.size(), 1u);
  EXPECT_EQ(call->outcomes[0].category, v1::ERROR_CATEGORY_CANCELLED);
  Confirm();
  EXPECT_THAT(SentTypes(), ElementsAre("connect"));
}

TEST_F(ClientTest, AFailedStreamEndIsAnErrorOfItsCategory) {
  Start();
  Confirm();
  auto call = StartCall("demo.v1.Echo/Repeat", "{}");
  Deliver(absl::StrCat(R"({"type":"stream_end","messageId":")", call->id(),
                       R"(","status":{"code":14,"message":"down"},"seq":2})"));
  ASSERT_EQ(call->outcomes.size(), 1u);
  EXPECT_EQ(call->outcomes[0].category, v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE);
  EXPECT_TRUE(call->outcomes[0].retryable);
  EXPECT_EQ(call->outcomes[0].grpc_code, 14);
  EXPECT_EQ(call->outcomes[0].status.code(), absl::StatusCode::kUnavailable);
}

// ---- Error frames ----

TEST_F(ClientTest, EveryCallErrorCategoryArrivesOnceWithItsFields) {
  Start();
  Confirm();
  uint64_t seq = 1;
  for (int c = v1::ERROR_CATEGORY_NETWORK_ERROR; c <= v1::ERROR_CATEGORY_NORMAL_CLOSURE; ++c) {
    const auto category = static_cast<ErrorCategory>(c);
    SCOPED_TRACE(protocol::CategoryName(category));
    auto call = StartCall();
    Deliver(absl::StrCat(R"({"type":"error","messageId":")", call->id(), R"(","category":")",
                         Sv(protocol::CategoryName(category)), R"(","retryable":)",
                         protocol::IsRetryable(category) ? "true" : "false",
                         R"(,"retryAfterMs":250,"grpcCode":8,"message":"m","seq":)", ++seq, "}"));
    ASSERT_EQ(call->outcomes.size(), 1u);
    const CallOutcome& outcome = call->outcomes[0];
    EXPECT_FALSE(outcome.ok());
    EXPECT_EQ(outcome.category, category);
    EXPECT_EQ(outcome.retryable, protocol::IsRetryable(category));
    EXPECT_EQ(outcome.retry_after, absl::Milliseconds(250));
    EXPECT_EQ(outcome.grpc_code, 8);
    EXPECT_THAT(std::string(outcome.status.message()),
                ::testing::HasSubstr(std::string(protocol::CategoryName(category))));
  }
  EXPECT_TRUE(errors_.empty());
}

TEST_F(ClientTest, AnErrorWithoutMessageIdConcernsTheSession) {
  Start();
  Confirm();
  Deliver(R"({"type":"error","category":"protocol_error","retryable":false,)"
          R"("message":"bad field","field":"payload","seq":2})");
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0].category, v1::ERROR_CATEGORY_PROTOCOL_ERROR);
  EXPECT_EQ(errors_[0].field, "payload");
  EXPECT_EQ(client_->state(), State::kConfirmed);  // the close, if any, decides
}

// ---- Close codes ----

struct CloseCase {
  int code;
  ErrorCategory category;
  bool reconnect;
};

class CloseCodeTest : public ClientTest, public ::testing::WithParamInterface<CloseCase> {};

TEST_P(CloseCodeTest, IsCategorizedByTheSharedTable) {
  const CloseCase c = GetParam();
  Start();
  Confirm();
  auto call = StartCall();
  Drop(c.code, "why");
  ASSERT_EQ(closes_.size(), 1u);
  EXPECT_EQ(closes_[0].code, c.code);
  EXPECT_EQ(closes_[0].reason, "why");
  EXPECT_EQ(closes_[0].category, c.category);
  EXPECT_EQ(closes_[0].will_reconnect, c.reconnect);
  EXPECT_EQ(client_->last_error(), c.category);
  if (c.reconnect) {
    EXPECT_EQ(client_->state(), State::kReconnecting);
    EXPECT_EQ(reconnects_.size(), 1u);
    EXPECT_TRUE(call->outcomes.empty());  // it waits for the resume
    return;
  }
  // Terminal: no attempt, and the call ends with the session's category.
  EXPECT_EQ(loop_.pending_timers(), 0u);
  EXPECT_TRUE(reconnects_.empty());
  EXPECT_EQ(client_->state(),
            c.category == v1::ERROR_CATEGORY_NORMAL_CLOSURE ? State::kClosed : State::kError);
  ASSERT_EQ(call->outcomes.size(), 1u);
  EXPECT_EQ(call->outcomes[0].category, c.category);
  EXPECT_EQ(client_->Call("demo.v1.Echo/Say", "{}", {}, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

INSTANTIATE_TEST_SUITE_P(
    AllCodes, CloseCodeTest,
    ::testing::Values(CloseCase{1000, v1::ERROR_CATEGORY_NORMAL_CLOSURE, false},
                      CloseCase{1001, v1::ERROR_CATEGORY_SERVER_SHUTDOWN, true},
                      CloseCase{1002, v1::ERROR_CATEGORY_PROTOCOL_ERROR, false},
                      CloseCase{1003, v1::ERROR_CATEGORY_PROTOCOL_ERROR, false},
                      CloseCase{1006, v1::ERROR_CATEGORY_NETWORK_ERROR, true},
                      CloseCase{1007, v1::ERROR_CATEGORY_PROTOCOL_ERROR, false},
                      CloseCase{1008, v1::ERROR_CATEGORY_PERMISSION_DENIED, false},
                      CloseCase{1009, v1::ERROR_CATEGORY_MESSAGE_TOO_BIG, false},
                      CloseCase{1011, v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, true},
                      CloseCase{1012, v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, true},
                      CloseCase{1013, v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, true},
                      CloseCase{1014, v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, true},
                      CloseCase{4000, v1::ERROR_CATEGORY_TIMEOUT, true},
                      CloseCase{4001, v1::ERROR_CATEGORY_TIMEOUT, true},
                      CloseCase{4002, v1::ERROR_CATEGORY_SLOW_CONSUMER, true},
                      CloseCase{4029, v1::ERROR_CATEGORY_RATE_LIMITED, true},
                      CloseCase{4500, v1::ERROR_CATEGORY_AUTHENTICATION_FAILED, false},
                      CloseCase{4501, v1::ERROR_CATEGORY_PERMISSION_DENIED, false},
                      CloseCase{4502, v1::ERROR_CATEGORY_PROTOCOL_ERROR, false},
                      CloseCase{4503, v1::ERROR_CATEGORY_LIMIT_EXCEEDED, false},
                      CloseCase{4100, v1::ERROR_CATEGORY_UNSPECIFIED, true},
                      CloseCase{4600, v1::ERROR_CATEGORY_UNSPECIFIED, false},
                      CloseCase{3000, v1::ERROR_CATEGORY_UNSPECIFIED, false}),
    [](const ::testing::TestParamInfo<CloseCase>& info) {
      return absl::StrCat("Code", info.param.code);
    });

TEST_F(ClientTest, AnUnknownCloseCodeTakesTheCategoryOfTheSessionErrorBeforeIt) {
  Start();
  Confirm();
  Deliver(R"({"type":"error","category":"rate_limited","retryable":true,"message":"x","seq":2})");
  Drop(4100);
  ASSERT_EQ(closes_.size(), 1u);
  EXPECT_EQ(closes_[0].category, v1::ERROR_CATEGORY_RATE_LIMITED);
  EXPECT_TRUE(closes_[0].will_reconnect);
}

TEST_F(ClientTest, ARefusedUpgradeIsCategorizedByItsHttpStatus) {
  Start();
  Drop(1006, "refused", 401);
  ASSERT_EQ(closes_.size(), 1u);
  EXPECT_EQ(closes_[0].category, v1::ERROR_CATEGORY_AUTHENTICATION_FAILED);
  EXPECT_EQ(client_->state(), State::kError);
  EXPECT_TRUE(reconnects_.empty());
}

TEST_F(ClientTest, AServerThatCannotBeReachedIsANetworkErrorAndRetried) {
  Start();
  Drop(1006, "connection refused");
  ASSERT_EQ(closes_.size(), 1u);
  EXPECT_EQ(closes_[0].category, v1::ERROR_CATEGORY_NETWORK_ERROR);
  EXPECT_EQ(client_->state(), State::kReconnecting);
}

// ---- Backoff ----

TEST_F(ClientTest, ReconnectDelaysAreTheDefaultBackoffWithoutJitter) {
  options_.reconnect.jitter = Jitter::kNone;
  Start();
  Confirm();
  Drop(1006);
  for (int attempt = 1; attempt <= 5; ++attempt) {
    ASSERT_EQ(reconnects_.size(), static_cast<size_t>(attempt));
    const absl::Duration delay = reconnects_.back().second;
    EXPECT_EQ(reconnects_.back().first, attempt);
    EXPECT_EQ(loop_.NextTimer(), delay);
    // Not a moment sooner.
    loop_.Advance(delay - absl::Milliseconds(1));
    EXPECT_EQ(transport_.connections.size(), static_cast<size_t>(attempt));
    loop_.Advance(absl::Milliseconds(1));
    ASSERT_EQ(transport_.connections.size(), static_cast<size_t>(attempt) + 1);
    Drop(1006);  // this attempt fails too
  }
  EXPECT_THAT(Delays(), ElementsAre(absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                    absl::Seconds(8), absl::Seconds(16)));
  EXPECT_EQ(client_->state(), State::kError);
  EXPECT_THAT(gave_up_, ElementsAre(v1::ERROR_CATEGORY_NETWORK_ERROR));
  EXPECT_FALSE(closes_.back().will_reconnect);
  EXPECT_EQ(loop_.pending_timers(), 0u);
  EXPECT_EQ(client_->stats().reconnect_attempts, 5u);
}

TEST_F(ClientTest, FullJitterUsesTheInjectedDraws) {
  options_.reconnect.jitter = Jitter::kFull;
  draws_ = {0.5, 0.25, 0.75, 0.5, 1.0 / 16};
  Start();
  Confirm();
  Drop(1006);
  FailAttempts(4);
  EXPECT_THAT(Delays(), ElementsAre(absl::Milliseconds(500), absl::Milliseconds(500),
                                    absl::Seconds(3), absl::Seconds(4), absl::Seconds(1)));
}

TEST_F(ClientTest, EqualJitterNeverGoesBelowHalfTheCeiling) {
  options_.reconnect.jitter = Jitter::kEqual;
  draws_ = {0.0, 0.0, 0.5};
  Start();
  Confirm();
  Drop(1006);
  FailAttempts(2);
  EXPECT_THAT(Delays(), ElementsAre(absl::Milliseconds(500), absl::Seconds(1), absl::Seconds(3)));
}

TEST_F(ClientTest, AConfirmedSessionStartsTheAttemptsAgain) {
  options_.reconnect.jitter = Jitter::kNone;
  Start();
  Confirm();
  Drop(1006);
  FailAttempts(1);
  Reconnect();
  Confirm("s-2");
  Drop(1006);
  ASSERT_EQ(reconnects_.size(), 3u);
  EXPECT_EQ(reconnects_[2], std::make_pair(1, absl::Seconds(1)));
}

TEST_F(ClientTest, RetryAfterMsIsAFloorOnTheDelay) {
  options_.reconnect.jitter = Jitter::kFull;
  draws_ = {0.1, 0.0};
  Start();
  Confirm();
  Deliver(R"({"type":"error","category":"service_unavailable","retryable":true,)"
          R"("retryAfterMs":5000,"message":"overloaded","seq":2})");
  Drop(1013);
  ASSERT_EQ(reconnects_.size(), 1u);
  EXPECT_EQ(reconnects_[0].second, absl::Seconds(5));  // the draw alone gives 100 ms
  EXPECT_EQ(loop_.NextTimer(), absl::Seconds(5));

  // The floor belongs to that connection only: 1011's own least delay applies next.
  Reconnect();
  Drop(1011);
  ASSERT_EQ(reconnects_.size(), 2u);
  EXPECT_EQ(reconnects_[1].second, absl::Seconds(1));  // the draw alone gives 0
}

TEST_F(ClientTest, NoReconnectWhenAttemptsAreZero) {
  options_.reconnect.max_attempts = 0;
  Start();
  Confirm();
  auto call = StartCall();
  Drop(1001);
  EXPECT_EQ(client_->state(), State::kError);
  EXPECT_THAT(gave_up_, ElementsAre(v1::ERROR_CATEGORY_SERVER_SHUTDOWN));
  ASSERT_EQ(call->outcomes.size(), 1u);
  EXPECT_EQ(call->outcomes[0].category, v1::ERROR_CATEGORY_SERVER_SHUTDOWN);
}

// ---- Close by the client ----

TEST_F(ClientTest, CloseIsANormalClosureThatNeverReconnects) {
  Start();
  Confirm();
  auto call = StartCall();
  client_->Close();
  loop_.RunReady();
  EXPECT_EQ(transport_.last().close_code, 1000);
  ASSERT_EQ(call->outcomes.size(), 1u);
  EXPECT_EQ(call->outcomes[0].category, v1::ERROR_CATEGORY_CANCELLED);
  EXPECT_EQ(client_->Call("demo.v1.Echo/Say", "{}", {}, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Drop(1000);
  EXPECT_EQ(client_->state(), State::kClosed);
  ASSERT_EQ(closes_.size(), 1u);
  EXPECT_EQ(closes_[0].category, v1::ERROR_CATEGORY_NORMAL_CLOSURE);
  EXPECT_FALSE(closes_[0].will_reconnect);
  EXPECT_TRUE(reconnects_.empty());
  EXPECT_EQ(loop_.pending_timers(), 0u);
}

TEST_F(ClientTest, CloseGivesUpOnASilentServerAfterTheCloseTimeout) {
  options_.close_timeout = absl::Seconds(2);
  Start();
  Confirm();
  client_->Close();
  loop_.Advance(absl::Seconds(2));
  EXPECT_TRUE(transport_.last().aborted);
  EXPECT_EQ(client_->state(), State::kClosed);
  EXPECT_TRUE(reconnects_.empty());
}

TEST_F(ClientTest, CloseWhileWaitingToReconnectStopsAtOnce) {
  Start();
  Confirm();
  Drop(1006);
  client_->Close();
  loop_.RunReady();
  EXPECT_EQ(client_->state(), State::kClosed);
  loop_.Advance(absl::Minutes(1));
  EXPECT_EQ(transport_.connections.size(), 1u);
}

// ---- Heartbeat ----

TEST_F(ClientTest, PingsEveryIntervalAndAPongKeepsTheConnection) {
  Start();
  Confirm("s-1", false, 1, /*interval_ms=*/1000, /*timeout_ms=*/3000);
  uint64_t seq = 1;
  for (int i = 0; i < 10; ++i) {
    loop_.Advance(absl::Seconds(1));
    EXPECT_EQ(LastSent().kind_case(), Frame::kPing) << i;
    Deliver(PongJson(++seq));
  }
  EXPECT_EQ(client_->stats().pings_sent, 10u);
  EXPECT_EQ(client_->stats().pongs_received, 10u);
  EXPECT_EQ(client_->state(), State::kConfirmed);
}

TEST_F(ClientTest, NoPongWithinTheTimeoutIsANetworkErrorAndTheConnectionIsReplaced) {
  options_.reconnect.jitter = Jitter::kNone;
  Start();
  Confirm("s-1", false, 1, /*interval_ms=*/1000, /*timeout_ms=*/3000);
  loop_.Advance(absl::Milliseconds(2999));
  EXPECT_EQ(client_->state(), State::kConfirmed);
  EXPECT_EQ(client_->stats().pings_sent, 2u);
  loop_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(transport_.last().aborted);
  EXPECT_EQ(client_->stats().heartbeat_timeouts, 1u);
  ASSERT_EQ(closes_.size(), 1u);
  EXPECT_EQ(closes_[0].category, v1::ERROR_CATEGORY_NETWORK_ERROR);
  EXPECT_EQ(closes_[0].reason, "heartbeat_timeout");
  EXPECT_TRUE(closes_[0].will_reconnect);
  EXPECT_EQ(client_->state(), State::kReconnecting);

  Reconnect();
  Confirm("s-2");
  EXPECT_EQ(client_->state(), State::kConfirmed);
}

TEST_F(ClientTest, AnyFrameCountsAsLifeAndOverridesReplaceTheAnnouncedHeartbeat) {
  options_.heartbeat_interval = absl::Milliseconds(500);
  options_.heartbeat_timeout = absl::Seconds(2);
  Start();
  Confirm("s-1", false, 1, 30000, 60000);
  auto call = StartCall("demo.v1.Echo/Repeat", "{}");
  uint64_t seq = 1;
  for (int i = 0; i < 8; ++i) {
    loop_.Advance(absl::Milliseconds(1500));
    Deliver(StreamMessageJson(call->id(), "{}", ++seq));  // no pongs, but data flows
  }
  EXPECT_EQ(client_->state(), State::kConfirmed);
  EXPECT_EQ(client_->stats().pings_sent, 24u);
  loop_.Advance(absl::Seconds(2));
  EXPECT_EQ(client_->stats().heartbeat_timeouts, 1u);
}

TEST_F(ClientTest, NoPingsWhenTheIntervalIsInfinite) {
  options_.heartbeat_interval = absl::InfiniteDuration();
  options_.heartbeat_timeout = absl::InfiniteDuration();
  Start();
  Confirm("s-1", false, 1, 100, 200);
  loop_.Advance(absl::Minutes(10));
  EXPECT_EQ(client_->stats().pings_sent, 0u);
  EXPECT_EQ(client_->state(), State::kConfirmed);
}

TEST_F(ClientTest, NoConfirmWithinTheConnectTimeoutIsATimeout) {
  options_.connect_timeout = absl::Seconds(3);
  Start();
  transport_.Accept();
  loop_.Advance(absl::Seconds(3));
  EXPECT_TRUE(transport_.last().aborted);
  ASSERT_EQ(closes_.size(), 1u);
  EXPECT_EQ(closes_[0].category, v1::ERROR_CATEGORY_TIMEOUT);
  EXPECT_EQ(client_->state(), State::kReconnecting);
}

// ---- Sequence numbers, acks, resume ----

TEST_F(ClientTest, FramesAreDeduplicatedBySeq) {
  Start();
  Confirm();
  auto call = StartCall("demo.v1.Echo/Repeat", "{}");
  Deliver(StreamMessageJson(call->id(), R"("a")", 2));
  Deliver(StreamMessageJson(call->id(), R"("b")", 3));
  Deliver(StreamMessageJson(call->id(), R"("b")", 3));
  Deliver(StreamMessageJson(call->id(), R"("a")", 2));
  Deliver(absl::StrCat(R"({"type":"batch","frames":[)", StreamMessageJson(call->id(), R"("b")", 3),
                       ",", StreamMessageJson(call->id(), R"("c")", 4), "]}"));
  EXPECT_THAT(call->messages, ElementsAre(R"("a")", R"("b")", R"("c")"));
  EXPECT_EQ(client_->stats().duplicates_dropped, 3u);
  EXPECT_EQ(client_->last_seq(), 4u);
}

TEST_F(ClientTest, AcksGoOutByCountAndByTime) {
  options_.ack_every_frames = 3;
  options_.ack_interval = absl::Seconds(1);
  Start();
  Confirm();
  Deliver(PongJson(2));
  EXPECT_EQ(client_->stats().acks_sent, 0u);
  Deliver(PongJson(3));
  ASSERT_EQ(LastSent().kind_case(), Frame::kAck);
  EXPECT_EQ(LastSent().ack().seq(), 3u);
  Deliver(PongJson(4));
  loop_.Advance(absl::Seconds(1));
  ASSERT_EQ(LastSent().kind_case(), Frame::kAck);
  EXPECT_EQ(LastSent().ack().seq(), 4u);
  loop_.Advance(absl::Seconds(5));  // nothing new, nothing to ack
  EXPECT_EQ(client_->stats().acks_sent, 2u);
}

TEST_F(ClientTest, AReconnectAsksToResumeAfterTheLastSeq) {
  Start();
  Confirm("s-9");
  Deliver(PongJson(2));
  Deliver(PongJson(3));
  Drop(1006);
  Reconnect();
  transport_.Accept();
  loop_.RunReady();
  const Frame connect = Sent()[0];
  ASSERT_TRUE(connect.connect().has_resume());
  EXPECT_EQ(connect.connect().resume().conversation_id(), "s-9");
  EXPECT_EQ(connect.connect().resume().last_seq(), 3u);
}

TEST_F(ClientTest, ResumedTrueResendsUnansweredMessagesWithTheSameId) {
  Start();
  Confirm("s-1");
  auto answered = StartCall("demo.v1.Echo/Repeat", "{}");
  auto unanswered = StartCall("demo.v1.Echo/Say", R"({"text":"again"})");
  const std::string original = transport_.last().sent.back();
  Deliver(StreamMessageJson(answered->id(), R"("1")", 2));
  Drop(1006);
  auto queued = StartCall();  // made while disconnected
  Reconnect();
  transport_.Accept();
  loop_.RunReady();
  // The server replays what was missed (with a frame already seen among it), then confirms.
  Deliver(StreamMessageJson(answered->id(), R"("1")", 2));
  Deliver(StreamMessageJson(answered->id(), R"("2")", 3));
  Deliver(ConfirmJson("s-1", true, 4));
  ASSERT_EQ(opens_.size(), 2u);
  EXPECT_TRUE(opens_[1].resumed);
  EXPECT_EQ(client_->last_seq(), 4u);
  EXPECT_THAT(answered->messages, ElementsAre(R"("1")", R"("2")"));
  EXPECT_THAT(SentTypes(), ElementsAre("connect", "message", "message"));
  EXPECT_EQ(transport_.last().sent[1], original);  // byte for byte, same messageId
  EXPECT_EQ(Sent()[2].message().message_id(), queued->id());
  EXPECT_EQ(client_->stats().calls_resent, 1u);
  EXPECT_EQ(client_->stats().sessions_resumed, 1u);
  EXPECT_TRUE(answered->outcomes.empty());
  EXPECT_TRUE(unanswered->outcomes.empty());
}

TEST_F(ClientTest, ResumedFalseEndsEachInFlightCallOnceUnlessIdempotent) {
  Start();
  Confirm("s-1");
  auto plain = StartCall();
  CallOptions idempotent;
  idempotent.idempotent = true;
  auto retried = StartCall("demo.v1.Echo/Chat", R"({"text":"x"})", idempotent);
  ASSERT_TRUE(retried->handle->Send(R"({"text":"y"})").ok());
  auto streaming = StartCall("demo.v1.Echo/Repeat", "{}", idempotent);
  Deliver(StreamMessageJson(streaming->id(), "{}", 2));  // answered: cannot start over
  Deliver(PongJson(3));
  Drop(1006);
  auto queued = StartCall();
  Reconnect();
  transport_.Accept();
  loop_.RunReady();
  EXPECT_TRUE(Sent()[0].connect().has_resume());
  Deliver(ConfirmJson("s-2", false, 1));

  for (const auto* lost : {plain.get(), streaming.get()}) {
    ASSERT_EQ(lost->outcomes.size(), 1u);
    EXPECT_EQ(lost->outcomes[0].category, v1::ERROR_CATEGORY_NETWORK_ERROR);
    EXPECT_TRUE(lost->outcomes[0].retryable);
    EXPECT_EQ(lost->outcomes[0].status.code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_TRUE(retried->outcomes.empty());
  EXPECT_THAT(SentTypes(), ElementsAre("connect", "message", "stream_send", "message"));
  const std::vector<Frame> sent = Sent();
  EXPECT_EQ(sent[1].message().message_id(), retried->id());
  EXPECT_EQ(sent[2].stream_send().payload(), R"({"text":"y"})");
  EXPECT_EQ(sent[3].message().message_id(), queued->id());
  EXPECT_EQ(client_->stats().calls_lost, 2u);
  EXPECT_EQ(client_->stats().calls_resent, 1u);

  // A new session counts from 1: seq 2 is new here, though the old one had passed it.
  EXPECT_EQ(client_->last_seq(), 1u);
  Deliver(ResponseJson(queued->id(), "{}", 2));
  ASSERT_EQ(queued->outcomes.size(), 1u);
  Deliver(absl::StrCat(R"({"type":"stream_end","messageId":")", retried->id(),
                       R"(","status":{"code":0},"seq":3})"));
  ASSERT_EQ(retried->outcomes.size(), 1u);
  EXPECT_TRUE(retried->outcomes[0].ok());

  // Nothing is delivered twice, even when the old session's frames show up late.
  loop_.RunReady();
  EXPECT_EQ(plain->outcomes.size(), 1u);
  EXPECT_EQ(streaming->outcomes.size(), 1u);
}

TEST_F(ClientTest, WithoutResumeTheClientNeverAsksForIt) {
  options_.resume = false;
  Start();
  Confirm("s-1");
  Drop(1006);
  Reconnect();
  transport_.Accept();
  loop_.RunReady();
  EXPECT_FALSE(Sent()[0].connect().has_resume());
}

// ---- Channels ----

TEST_F(ClientTest, ChannelsReportStateAndPublicationsAndRejoinFromTheirPosition) {
  Start();
  Confirm("s-1");
  std::vector<std::string> events;
  SubscriptionHandlers handlers;
  handlers.on_subscribed = [&](const ChannelEvent& e) {
    events.push_back(absl::StrCat("subscribed ", e.channel, " ", e.offset.value_or(0)));
  };
  handlers.on_publication = [&](const Publication& p) {
    events.push_back(absl::StrCat("publication ", p.offset, " ", p.epoch, " ", p.data));
  };
  handlers.on_unsubscribed = [&](const ChannelEvent& e) {
    events.push_back(absl::StrCat("unsubscribed ", e.channel));
  };
  ASSERT_TRUE(client_->Subscribe("news", R"({"lang":"en"})", handlers).ok());
  EXPECT_EQ(client_->Subscribe("news", "", {}).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(LastSent().subscribe().params(), R"({"lang":"en"})");
  EXPECT_FALSE(LastSent().subscribe().has_since());
  Deliver(R"({"type":"subscribed","channel":"news","offset":5,"epoch":"e1","seq":2})");
  Deliver(R"({"type":"publication","channel":"news","offset":6,"epoch":"e1",)"
          R"("data":{"headline":"x"},"seq":3})");

  Drop(1006);
  Reconnect();
  Confirm("s-2", false, 1);
  const Frame again = LastSent();
  ASSERT_EQ(again.kind_case(), Frame::kSubscribe);
  EXPECT_EQ(again.subscribe().channel(), "news");
  EXPECT_EQ(again.subscribe().since().offset(), 6u);
  EXPECT_EQ(again.subscribe().since().epoch(), "e1");

  ASSERT_TRUE(client_->Unsubscribe("news").ok());
  EXPECT_EQ(LastSent().unsubscribe().channel(), "news");
  Deliver(R"({"type":"unsubscribed","channel":"news","seq":2})");
  EXPECT_THAT(events, ElementsAre("subscribed news 5", R"(publication 6 e1 {"headline":"x"})",
                                  "unsubscribed news"));
  EXPECT_EQ(client_->Unsubscribe("news").code(), absl::StatusCode::kNotFound);
}

TEST_F(ClientTest, ASubscribeFromAPositionSendsItAndRejoinsFromTheLastOneSeen) {
  Start();
  Confirm("s-1");
  ASSERT_TRUE(client_->Subscribe("news", "", {}, StreamPosition{41, "e7"}).ok());
  ASSERT_EQ(LastSent().kind_case(), Frame::kSubscribe);
  EXPECT_EQ(LastSent().subscribe().since().offset(), 41u);
  EXPECT_EQ(LastSent().subscribe().since().epoch(), "e7");

  // Lost before any answer: the rejoin still asks from the given position.
  Drop(1006);
  Reconnect();
  Confirm("s-2", false, 1);
  EXPECT_EQ(LastSent().subscribe().since().offset(), 41u);
  Deliver(R"({"type":"subscribed","channel":"news","offset":43,"epoch":"e7","recovered":true,)"
          R"("seq":2})");
  Deliver(R"({"type":"publication","channel":"news","offset":44,"epoch":"e7","data":1,"seq":3})");
  Drop(1006);
  Reconnect();
  Confirm("s-3", false, 1);
  EXPECT_EQ(LastSent().subscribe().since().offset(), 44u);
  EXPECT_EQ(LastSent().subscribe().since().epoch(), "e7");
}

TEST_F(ClientTest, AChannelErrorGoesToTheOldestChannelRequest) {
  Start();
  Confirm();
  std::vector<std::string> failed;
  auto handlers_for = [&failed](std::string name) {
    SubscriptionHandlers h;
    h.on_error = [&failed, name](const SessionError& e) {
      failed.push_back(absl::StrCat(name, " ", Sv(protocol::CategoryName(e.category))));
    };
    return h;
  };
  ASSERT_TRUE(client_->Subscribe("a", "", handlers_for("a")).ok());
  ASSERT_TRUE(client_->Subscribe("b", "", handlers_for("b")).ok());
  // What today's bridge answers: not_found, without a channel name.
  auto not_found = [](int seq) {
    return absl::StrCat(R"({"type":"error","category":"not_found","retryable":false,)",
                        R"("message":"channels are not enabled","field":"channel","seq":)", seq,
                        "}");
  };
  Deliver(not_found(2));
  EXPECT_THAT(failed, ElementsAre("a not_found"));
  Deliver(not_found(3));
  EXPECT_THAT(failed, ElementsAre("a not_found", "b not_found"));
  EXPECT_TRUE(errors_.empty());
  EXPECT_TRUE(client_->Subscribe("a", "", {}).ok());  // over, so it may be joined again
}

// ---- Events by frame type ----

TEST_F(ClientTest, FrameHandlersSeeEveryFrameOfTheirKindOnce) {
  Start();
  std::vector<uint64_t> pongs;
  int confirms = 0;
  client_->OnFrame(Frame::kPong, [&](const Frame& f) { pongs.push_back(f.seq()); });
  client_->OnFrame(Frame::kConnectConfirm, [&](const Frame&) { ++confirms; });
  Confirm();
  Deliver(PongJson(2));
  Deliver(PongJson(2));
  Deliver(PongJson(3));
  EXPECT_THAT(pongs, ElementsAre(2u, 3u));
  EXPECT_EQ(confirms, 1);
}

TEST_F(ClientTest, UnknownFrameTypesAreSkippedAndGarbageIsAProtocolError) {
  Start();
  Confirm();
  Deliver(R"({"type":"from_the_future","seq":2})");
  EXPECT_EQ(client_->stats().unknown_frames, 1u);
  EXPECT_EQ(client_->state(), State::kConfirmed);
  Deliver("not json");
  EXPECT_EQ(transport_.last().close_code, 1002);
  ASSERT_EQ(closes_.size(), 1u);
  EXPECT_EQ(closes_[0].category, v1::ERROR_CATEGORY_PROTOCOL_ERROR);
  EXPECT_EQ(client_->state(), State::kError);
}

// ---- Binary encoding ----

TEST_F(ClientTest, ABinaryClientSpeaksSerializedFrames) {
  options_.encoding = protocol::Encoding::kBinary;
  Start();
  EXPECT_THAT(transport_.last().request.subprotocols, ElementsAre("bridge.v1.proto"));
  transport_.Accept("bridge.v1.proto");
  loop_.RunReady();
  ASSERT_EQ(transport_.last().sent_binary.size(), 1u);
  EXPECT_TRUE(transport_.last().sent_binary[0]);
  EXPECT_EQ(Sent()[0].kind_case(), Frame::kConnect);
  Frame confirm;
  confirm.set_seq(1);
  confirm.mutable_connect_confirm()->set_conversation_id("s-b");
  confirm.mutable_connect_confirm()->set_resumed(false);
  transport_.Deliver(confirm.SerializeAsString(), /*binary=*/true);
  loop_.RunReady();
  EXPECT_EQ(client_->state(), State::kConfirmed);

  auto call = StartCall("demo.v1.Echo/Say", std::string("\x0a\x02hi", 4));
  EXPECT_EQ(LastSent().message().payload(), std::string("\x0a\x02hi", 4));
  Frame response;
  response.set_seq(2);
  response.mutable_response()->set_message_id(call->id());
  response.mutable_response()->set_payload(std::string("\x0a\x02hi", 4));
  transport_.Deliver(response.SerializeAsString(), /*binary=*/true);
  loop_.RunReady();
  ASSERT_EQ(call->outcomes.size(), 1u);
  EXPECT_EQ(call->outcomes[0].payload, std::string("\x0a\x02hi", 4));
}

TEST_F(ClientTest, ABinaryClientRefusesAServerThatDidNotSelectTheBinaryProtocol) {
  options_.encoding = protocol::Encoding::kBinary;
  Start();
  transport_.Accept("");
  loop_.RunReady();
  EXPECT_TRUE(transport_.last().aborted);
  EXPECT_EQ(client_->state(), State::kError);
  EXPECT_EQ(client_->last_error(), v1::ERROR_CATEGORY_PROTOCOL_ERROR);
}

// ---- Lifetime ----

TEST_F(ClientTest, AHandleOutlivingItsClientFailsCleanly) {
  Start();
  auto call = StartCall();
  client_.reset();
  loop_.RunReady();
  ASSERT_EQ(call->outcomes.size(), 1u);
  EXPECT_EQ(call->outcomes[0].category, v1::ERROR_CATEGORY_CANCELLED);
  EXPECT_EQ(call->handle->Send("{}").code(), absl::StatusCode::kFailedPrecondition);
  loop_.Advance(absl::Minutes(5));  // timers of a destroyed client do nothing
}

}  // namespace
}  // namespace bridge::client
