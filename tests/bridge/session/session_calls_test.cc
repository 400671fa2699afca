// A session's calls without sockets: the session against a scripted upstream
// (tests/mocks/fake_upstream.h) and a fake transport. Unary, the three streaming kinds, cancel,
// deadlines, flow control, and how many tasks each result takes to reach the session.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/session/session.h"
#include "bridge/transcode/descriptor_registry.h"
#include "bridge/transcode/json_transcoder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/demo/v1/echo.pb.h"
#include "tests/mocks/fake_upstream.h"
#include "tests/mocks/session_mocks.h"

namespace bridge::session {
namespace {

using ::bridge::testing::FakeCall;
using ::bridge::testing::FakeClock;
using ::bridge::testing::FakeTransport;
using ::bridge::testing::FakeUpstream;
using v1::Frame;

std::string SayReply(const std::string& text, int64_t sequence = 0) {
  demo::v1::SayResponse r;
  r.set_text(text);
  r.set_sequence(sequence);
  return r.SerializeAsString();
}

class SessionCallsTest : public ::testing::Test {
 protected:
  SessionCallsTest() : transcoder_(&registry_, {}) {
    EXPECT_TRUE(registry_.AddGeneratedFile(demo::v1::SayRequest::descriptor()->file()).ok());
    options_.forward_response_metadata = {"x-*"};
    options_.max_outbound_buffer = 1000;
  }

  void Start() {
    CallServices services;
    services.registry = &registry_;
    services.transcoder = &transcoder_;
    services.upstream = &upstream_;
    session_ = std::make_unique<Session>(
        options_, protocol::Encoding::kJson, &transport_, &clock_, &metrics_,
        [] { return std::string("s-1"); }, services, upgrade_);
    session_->Start();
    session_->OnMessage(R"({"type":"connect","clientId":"c","version":"1"})", false);
    ASSERT_EQ(session_->state(), Session::State::kConfirmed);
    transport_.sent.clear();
  }

  void Say(const std::string& json) { session_->OnMessage(json, false); }

  FakeCall& Call(size_t i) { return *upstream_.calls.at(i); }

  // Runs the tasks posted to the session's strand; returns how many there were.
  int Deliver() { return transport_.fake_executor->RunAll(); }

  Frame Sent(size_t i) { return transport_.SentFrame(i); }

  transcode::DescriptorRegistry registry_;
  transcode::JsonTranscoder transcoder_;
  FakeUpstream upstream_;
  SessionOptions options_;
  upstream::Metadata upgrade_;  // what the upgrade request carried
  FakeTransport transport_;
  FakeClock clock_;
  Metrics metrics_;
  std::unique_ptr<Session> session_;
};

TEST_F(SessionCallsTest, AUnaryResultArrivesAsOneTaskWithHeadersReplyAndTrailers) {
  Start();
  Say(R"({"type":"message","messageId":"m","method":"demo.v1.Echo/Say","payload":{"text":"hi"}})");
  ASSERT_EQ(upstream_.calls.size(), 1u);
  FakeCall& call = Call(0);
  EXPECT_TRUE(call.spec.one_event);
  EXPECT_EQ(call.spec.method.path, "/demo.v1.Echo/Say");
  ASSERT_EQ(call.writes.size(), 1u);
  demo::v1::SayRequest request;
  ASSERT_TRUE(request.ParseFromString(call.writes[0]));
  EXPECT_EQ(request.text(), "hi");
  EXPECT_TRUE(call.writes_done);
  EXPECT_EQ(call.reads, 1);

  call.Headers({{"x-h", "1"}});
  call.Reply(SayReply("hi"));
  call.Finish(0, "", {{"x-t", "2"}});
  EXPECT_EQ(Deliver(), 1);  // headers, reply and status: one task
  ASSERT_EQ(transport_.sent.size(), 1u);
  const Frame f = Sent(0);
  ASSERT_EQ(f.kind_case(), Frame::kResponse);
  EXPECT_EQ(f.response().message_id(), "m");
  EXPECT_EQ(f.response().payload(), R"({"text":"hi"})");
  EXPECT_EQ(f.response().metadata().at("x-h"), "1");
  EXPECT_EQ(f.response().trailers().at("x-t"), "2");
  EXPECT_EQ(metrics_.upstream_events_posted.load(), 1u);
}

TEST_F(SessionCallsTest, AUnaryCallEndingOkWithoutAReplyIsInternal) {
  Start();
  Say(R"({"type":"message","messageId":"m","method":"demo.v1.Echo/Say","payload":{}})");
  Call(0).Finish(0);
  Deliver();
  const Frame f = Sent(0);
  ASSERT_EQ(f.kind_case(), Frame::kError);
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_INTERNAL);
  EXPECT_EQ(f.error().message_id(), "m");
}

TEST_F(SessionCallsTest, ServerStreamingReadsOneReplyAtATimeThenEnds) {
  Start();
  Say(R"({"type":"message","messageId":"r","method":"demo.v1.Echo/Repeat",)"
      R"("payload":{"text":"x","count":2}})");
  FakeCall& call = Call(0);
  EXPECT_FALSE(call.spec.one_event);
  EXPECT_EQ(call.spec.timeout, absl::ZeroDuration());  // streams have no default deadline
  for (int i = 1; i <= 2; ++i) {
    call.Reply(SayReply("x", i));
    EXPECT_EQ(Deliver(), 1);  // one task per reply, transcoded before it
    EXPECT_EQ(call.reads, i + 1);
  }
  call.Finish(0, "", {{"x-t", "end"}});
  EXPECT_EQ(Deliver(), 1);
  ASSERT_EQ(transport_.sent.size(), 3u);
  EXPECT_EQ(Sent(0).stream_message().payload(), R"({"text":"x","sequence":"1"})");
  EXPECT_EQ(Sent(1).stream_message().payload(), R"({"text":"x","sequence":"2"})");
  const Frame end = Sent(2);
  ASSERT_EQ(end.kind_case(), Frame::kStreamEnd);
  EXPECT_EQ(end.stream_end().trailers().at("x-t"), "end");
  EXPECT_EQ(metrics_.upstream_events_posted.load(), 3u);
}

TEST_F(SessionCallsTest, ClientStreamingWritesEachSendAndHalfClosesAtStreamEnd) {
  Start();
  Say(R"({"type":"message","messageId":"c","method":"demo.v1.Echo/Collect",)"
      R"("payload":{"text":"a"}})");
  FakeCall& call = Call(0);
  EXPECT_TRUE(call.spec.one_event);
  Say(R"({"type":"stream_send","messageId":"c","payload":{"text":"b"}})");
  EXPECT_FALSE(call.writes_done);
  Say(R"({"type":"stream_end","messageId":"c"})");
  EXPECT_TRUE(call.writes_done);
  ASSERT_EQ(call.writes.size(), 2u);
  demo::v1::CollectResponse reply;
  reply.add_texts("a");
  reply.add_texts("b");
  reply.set_count(2);
  call.Reply(reply.SerializeAsString());
  call.Finish(0);
  EXPECT_EQ(Deliver(), 1);
  EXPECT_EQ(Sent(0).response().payload(), R"({"texts":["a","b"],"count":"2"})");
}

TEST_F(SessionCallsTest, BidiInterleavesSendsAndReplies) {
  Start();
  Say(R"({"type":"message","messageId":"b","method":"demo.v1.Echo/Chat",)"
      R"("payload":{"user":"u","text":"1"}})");
  FakeCall& call = Call(0);
  EXPECT_FALSE(call.spec.one_event);
  demo::v1::ChatMessage m;
  m.set_user("bot");
  m.set_text("one");
  call.Reply(m.SerializeAsString());
  Deliver();
  Say(R"({"type":"stream_send","messageId":"b","payload":{"user":"u","text":"2"}})");
  EXPECT_EQ(call.writes.size(), 2u);
  Say(R"({"type":"stream_end","messageId":"b"})");
  call.Finish(0);
  Deliver();
  ASSERT_EQ(transport_.sent.size(), 2u);
  EXPECT_EQ(Sent(0).stream_message().payload(), R"({"user":"bot","text":"one"})");
  EXPECT_EQ(Sent(1).kind_case(), Frame::kStreamEnd);
}

TEST_F(SessionCallsTest, CancelCancelsUpstreamAndAnswersOnce) {
  Start();
  Say(R"({"type":"message","messageId":"m","method":"demo.v1.Echo/Repeat","payload":{}})");
  Say(R"({"type":"cancel","messageId":"m"})");
  EXPECT_TRUE(Call(0).cancelled);
  Call(0).Finish(1, "cancelled");
  Deliver();
  int errors = 0;
  for (size_t i = 0; i < transport_.sent.size(); ++i) {
    const Frame f = Sent(i);
    if (f.kind_case() != Frame::kError) continue;
    ++errors;
    EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_CANCELLED);
    EXPECT_EQ(f.error().message_id(), "m");
  }
  EXPECT_EQ(errors, 1);
}

TEST_F(SessionCallsTest, DeadlinesComeFromTimeoutMsCappedByTheMaximum) {
  options_.default_call_timeout = absl::Seconds(30);
  options_.max_call_timeout = absl::Seconds(60);
  Start();
  Say(R"({"type":"message","messageId":"a","method":"demo.v1.Echo/Say","payload":{}})");
  Say(R"({"type":"message","messageId":"b","method":"demo.v1.Echo/Say","payload":{},)"
      R"("timeoutMs":1500})");
  Say(R"({"type":"message","messageId":"c","method":"demo.v1.Echo/Say","payload":{},)"
      R"("timeoutMs":600000})");
  ASSERT_EQ(upstream_.calls.size(), 3u);
  EXPECT_EQ(Call(0).spec.timeout, absl::Seconds(30));
  EXPECT_EQ(Call(1).spec.timeout, absl::Milliseconds(1500));
  EXPECT_EQ(Call(2).spec.timeout, absl::Seconds(60));
  // DEADLINE_EXCEEDED from upstream reaches the client as its category, with the call's id.
  Call(1).Finish(4, "deadline");
  Deliver();
  const Frame f = Sent(0);
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_TIMEOUT);
  EXPECT_EQ(f.error().message_id(), "b");
  EXPECT_EQ(f.error().grpc_code(), 4);
}

TEST_F(SessionCallsTest, AFullOutboundBufferPausesReadsUntilAWriteCompletes) {
  Start();
  Say(R"({"type":"message","messageId":"r","method":"demo.v1.Echo/Repeat","payload":{}})");
  FakeCall& call = Call(0);
  transport_.buffered = 5000;  // over max_outbound_buffer (1000)
  call.Reply(SayReply("x", 1));
  Deliver();
  EXPECT_EQ(call.reads, 1);  // paused
  EXPECT_FALSE(call.read_pending());
  EXPECT_EQ(metrics_.flow_control_pauses.load(), 1u);
  ASSERT_NE(transport_.room_request, nullptr);
  EXPECT_EQ(transport_.room_below, 1000u);
  transport_.Drained(2000);  // still over: nothing yet
  EXPECT_EQ(Deliver(), 0);
  transport_.Drained(100);  // a completed write brought it under the bound
  EXPECT_EQ(Deliver(), 1);
  EXPECT_EQ(call.reads, 2);
  EXPECT_TRUE(call.read_pending());
}

TEST_F(SessionCallsTest, AReplyThatDoesNotTranscodeFailsTheCallAsInternal) {
  Start();
  Say(R"({"type":"message","messageId":"r","method":"demo.v1.Echo/Repeat","payload":{}})");
  Call(0).Reply("\xff\xff\xff");  // not a SayResponse
  Deliver();
  EXPECT_TRUE(Call(0).cancelled);
  const Frame f = Sent(0);
  ASSERT_EQ(f.kind_case(), Frame::kError);
  EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_INTERNAL);
  EXPECT_EQ(f.error().message_id(), "r");
}

// ---------------------------------------------------------------------------------------------
// W3C trace context

constexpr char kClientParent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr char kClientTrace[] = "4bf92f3577b34da6a3ce929d0e0e4736";

// The values of `key` in `metadata`.
std::vector<std::string> ValuesOf(const upstream::Metadata& metadata, std::string_view key) {
  std::vector<std::string> values;
  for (const auto& [k, v] : metadata) {
    if (k == key) values.push_back(v);
  }
  return values;
}

class SessionTraceTest : public SessionCallsTest {
 protected:
  SessionTraceTest() {
    // Ids from an injected source: 1111..., 2222..., ...
    options_.random_hex = [n = 0](size_t bytes) mutable {
      return std::string(2 * bytes, static_cast<char>('1' + n++ % 9));
    };
  }
  int calls_ = 0;
  // A call with a new messageId.
  void CallSay(const std::string& metadata_json = "") {
    Say(absl::StrCat(R"({"type":"message","messageId":"m)", ++calls_, R"(",)",
                     R"("method":"demo.v1.Echo/Say",)", R"("payload":{"text":"hi"})",
                     metadata_json.empty() ? "" : absl::StrCat(R"(,"metadata":)", metadata_json),
                     "}"));
  }
};

TEST_F(SessionTraceTest, ACallIsAChildSpanOfTheMessagesTraceparent) {
  Start();
  CallSay(absl::StrCat(R"({"traceparent":")", kClientParent, R"(","tracestate":"congo=t61r"})"));
  ASSERT_EQ(upstream_.calls.size(), 1u);
  const upstream::Metadata& sent = Call(0).spec.metadata;
  EXPECT_THAT(ValuesOf(sent, "traceparent"),
              ::testing::ElementsAre(absl::StrCat("00-", kClientTrace, "-1111111111111111-01")));
  EXPECT_THAT(ValuesOf(sent, "tracestate"), ::testing::ElementsAre("congo=t61r"));
}

TEST_F(SessionTraceTest, TheUpgradesTraceparentServesMessagesWithoutTheirOwn) {
  upgrade_ = {{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"},
              {"tracestate", "rojo=00f067aa0ba902b7"}};
  Start();
  CallSay();
  CallSay(absl::StrCat(R"({"traceparent":")", kClientParent, R"("})"));
  ASSERT_EQ(upstream_.calls.size(), 2u);
  EXPECT_THAT(ValuesOf(Call(0).spec.metadata, "traceparent"),
              ::testing::ElementsAre("00-0af7651916cd43dd8448eb211c80319c-1111111111111111-00"));
  EXPECT_THAT(ValuesOf(Call(0).spec.metadata, "tracestate"),
              ::testing::ElementsAre("rojo=00f067aa0ba902b7"));
  // A message's own traceparent wins, and the upgrade's tracestate does not go with it.
  EXPECT_THAT(ValuesOf(Call(1).spec.metadata, "traceparent"),
              ::testing::ElementsAre(absl::StrCat("00-", kClientTrace, "-2222222222222222-01")));
  EXPECT_THAT(ValuesOf(Call(1).spec.metadata, "tracestate"), ::testing::IsEmpty());
}

TEST_F(SessionTraceTest, ABadTraceparentInAMessageIsRefusedNamingTheField) {
  Start();
  for (const char* bad :
       {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "junk"}) {
    SCOPED_TRACE(bad);
    transport_.sent.clear();
    CallSay(absl::StrCat(R"({"traceparent":")", bad, R"("})"));
    const Frame f = Sent(0);
    ASSERT_EQ(f.kind_case(), Frame::kError);
    EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_INVALID_ARGUMENT);
    EXPECT_EQ(f.error().field(), R"(metadata["traceparent"])");
    EXPECT_EQ(f.error().message_id(), absl::StrCat("m", calls_));
  }
  transport_.sent.clear();
  CallSay(absl::StrCat(R"({"traceparent":")", kClientParent, R"(","tracestate":")",
                       std::string(600, 'x'), R"("})"));
  EXPECT_EQ(Sent(0).error().field(), R"(metadata["tracestate"])");
  EXPECT_TRUE(upstream_.calls.empty());
  EXPECT_EQ(metrics_.bad_trace_contexts.load(), 6u);
}

TEST_F(SessionTraceTest, ABadTraceparentInTheUpgradeIsIgnoredAndCounted) {
  upgrade_ = {{"traceparent", "00-xyz"}};
  Start();
  CallSay();
  ASSERT_EQ(upstream_.calls.size(), 1u);
  EXPECT_THAT(ValuesOf(Call(0).spec.metadata, "traceparent"), ::testing::IsEmpty());
  EXPECT_EQ(metrics_.bad_trace_contexts.load(), 1u);
}

TEST_F(SessionTraceTest, WithoutATraceparentACallStartsATraceOnlyWhenConfigured) {
  Start();
  CallSay();
  EXPECT_THAT(ValuesOf(Call(0).spec.metadata, "traceparent"), ::testing::IsEmpty());
  Call(0).Finish(0);
  Deliver();

  options_.start_traces = true;
  session_.reset();
  upstream_.calls.clear();
  Start();
  CallSay();
  EXPECT_THAT(ValuesOf(Call(0).spec.metadata, "traceparent"),
              ::testing::ElementsAre(
                  absl::StrCat("00-", std::string(32, '1'), "-", std::string(16, '2'), "-01")));
}

TEST_F(SessionTraceTest, TheCallsTraceparentIsReturnedInItsFinalFrameWhenConfigured) {
  options_.return_traceparent = true;
  Start();
  const std::string mine = absl::StrCat("00-", kClientTrace, "-1111111111111111-01");
  CallSay(absl::StrCat(R"({"traceparent":")", kClientParent, R"("})"));
  Call(0).Reply(SayReply("hi"));
  Call(0).Finish(0);
  Deliver();
  ASSERT_EQ(Sent(0).kind_case(), Frame::kResponse);
  EXPECT_EQ(Sent(0).response().metadata().at("traceparent"), mine);

  transport_.sent.clear();
  CallSay(absl::StrCat(R"({"traceparent":")", kClientParent, R"("})"));
  Call(1).Finish(14, "down");
  Deliver();
  ASSERT_EQ(Sent(0).kind_case(), Frame::kError);
  EXPECT_EQ(Sent(0).error().traceparent(),
            absl::StrCat("00-", kClientTrace, "-2222222222222222-01"));

  // Not configured: nothing returned.
  options_.return_traceparent = false;
  transport_.sent.clear();
  CallSay(absl::StrCat(R"({"traceparent":")", kClientParent, R"("})"));
  Call(2).Finish(14, "down");
  Deliver();
  EXPECT_EQ(Sent(0).error().traceparent(), "");
}

// ---------------------------------------------------------------------------------------------
// JSON mapping of replies

// A reply with a multi-word field set, an enum, and fields at their defaults.
std::string MappedReply() {
  demo::v1::SayResponse r;
  r.set_text("hi");
  r.mutable_received_at()->set_seconds(1);
  r.mutable_sample()->set_color(demo::v1::Sample::COLOR_RED);
  return r.SerializeAsString();
}

class SessionJsonMappingTest : public SessionCallsTest {
 protected:
  // The payload of the reply to one Say, with `connect_json` members in the connect frame.
  std::string ReplyJson(const std::string& connect_json = "") {
    CallServices services;
    services.registry = &registry_;
    services.transcoder = &transcoder_;
    services.upstream = &upstream_;
    upstream_.calls.clear();
    session_ = std::make_unique<Session>(
        options_, protocol::Encoding::kJson, &transport_, &clock_, &metrics_,
        [] { return std::string("s-1"); }, services);
    session_->Start();
    session_->OnMessage(absl::StrCat(R"({"type":"connect","clientId":"c")", connect_json, "}"),
                        false);
    transport_.sent.clear();
    Say(R"({"type":"message","messageId":"m","method":"demo.v1.Echo/Say","payload":{}})");
    if (upstream_.calls.size() != 1) return "no call";
    Call(0).Reply(MappedReply());
    Call(0).Finish(0);
    Deliver();
    const Frame f = Sent(0);
    EXPECT_EQ(f.kind_case(), Frame::kResponse);
    return f.response().payload();
  }
};

TEST_F(SessionJsonMappingTest, WithoutRouteRulesRepliesUseTheCanonicalMapping) {
  EXPECT_EQ(ReplyJson(), R"({"text":"hi","sample":{"color":"COLOR_RED"},)"
                         R"("receivedAt":"1970-01-01T00:00:01Z"})");
}

TEST_F(SessionJsonMappingTest, ARoutesMappingAppliesToItsServiceOrToEveryOtherForStar) {
  options_.json_rules["demo.v1.Echo"].mapping.proto_names = true;
  options_.json_rules["demo.v1.Echo"].mapping.enums_as_numbers = true;
  EXPECT_EQ(ReplyJson(), R"({"text":"hi","sample":{"color":1},)"
                         R"("received_at":"1970-01-01T00:00:01Z"})");
  options_.json_rules.clear();
  options_.json_rules["*"].mapping.emit_defaults = true;
  const std::string all = ReplyJson();
  EXPECT_THAT(all, ::testing::HasSubstr(R"("sequence":"0")"));
  EXPECT_THAT(all, ::testing::HasSubstr(R"("i32":0)"));
  options_.json_rules["demo.v1.Other"].mapping.proto_names = true;  // not this call's service
  EXPECT_EQ(ReplyJson(), all);
}

TEST_F(SessionJsonMappingTest, ASessionChoosesOnlyWhereItsRouteLetsIt) {
  const std::string asks = R"(,"jsonMapping":{"protoNames":true,"enumsAsNumbers":true})";
  options_.json_rules["demo.v1.Echo"].mapping.enums_as_numbers = false;
  EXPECT_EQ(ReplyJson(asks), R"({"text":"hi","sample":{"color":"COLOR_RED"},)"
                             R"("receivedAt":"1970-01-01T00:00:01Z"})");
  options_.json_rules["demo.v1.Echo"].session_may_choose = true;
  EXPECT_EQ(ReplyJson(asks), R"({"text":"hi","sample":{"color":1},)"
                             R"("received_at":"1970-01-01T00:00:01Z"})");
  // A field the session leaves out keeps the route's choice.
  options_.json_rules["demo.v1.Echo"].mapping.proto_names = true;
  EXPECT_EQ(ReplyJson(R"(,"jsonMapping":{"enumsAsNumbers":true})"),
            R"({"text":"hi","sample":{"color":1},"received_at":"1970-01-01T00:00:01Z"})");
}

}  // namespace
}  // namespace bridge::session