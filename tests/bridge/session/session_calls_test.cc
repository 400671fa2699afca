// A session's calls without sockets: the session against a scripted upstream
// (tests/mocks/fake_upstream.h) and a fake transport. Unary, the three streaming kinds, cancel,
// deadlines, flow control, and how many tasks each result takes to reach the session.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/session/session.h"
#include "bridge/transcode/descriptor_registry.h"
#include "bridge/transcode/json_transcoder.h"
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
        [] { return std::string("s-1"); }, services);
    session_->Start();
    session_->OnMessage(R"({"type":"connect","clientId":"c","version":"1"})", false);
    ASSERT_EQ(session_->state(), Session::State::kConfirmed);
    transport_.sent.clear();
  }

  void Say(const std::string& json) { session_->OnMessage(json, false); }

  FakeCall& Call(size_t i) { return *upstream_.calls.at(i); }

  // Runs the tasks posted to the session's strand; returns how many there were.
  int Deliver() { return transport_.fake_executor->RunAll(); }

  Frame Sent(size_t i) {
    Frame f;
    EXPECT_LT(i, transport_.sent.size());
    if (i >= transport_.sent.size()) return f;
    const auto error = protocol::DecodeJsonFrame(transport_.sent[i], &f);
    EXPECT_TRUE(error.ok()) << error.message;
    return f;
  }

  transcode::DescriptorRegistry registry_;
  transcode::JsonTranscoder transcoder_;
  FakeUpstream upstream_;
  SessionOptions options_;
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

}  // namespace
}  // namespace bridge::session
