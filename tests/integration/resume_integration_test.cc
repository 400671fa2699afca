// Resume and exactly-once calls through the real bridge and backend: TCP connections cut
// mid-call and mid-stream, then resumed; every call gets exactly one outcome, no stream message
// is lost or duplicated, and the backend sees each call once.
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/app/bridge_app.h"
#include "bridge/config/config.h"
#include "bridge/protocol/frame_codec.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
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
using v1::Frame;

class ResumeTest : public ::testing::Test {
 protected:
  void StartBridge(const std::string& extra_config = "") {
    auto bridge = bridge::testing::TestBridge::Start(extra_config);
    ASSERT_TRUE(bridge.ok()) << bridge.status();
    bridge_ = *std::move(bridge);
    app_ = &bridge_->app();
    backend_ = &bridge_->backend();
  }

  std::unique_ptr<WsTestClient> Open() {
    auto client = WsTestClient::Connect(app_->server().port());
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // Connects; with `conversation_id`, asks to resume it after `last_seq`. Returns the frames
  // up to and including connect_confirm.
  std::vector<Frame> Connect(WsTestClient& client, const std::string& conversation_id = "",
                             uint64_t last_seq = 0) {
    std::string connect = R"({"type":"connect","clientId":"c-1","version":"1")";
    if (!conversation_id.empty()) {
      absl::StrAppend(&connect, R"(,"resume":{"conversationId":")", conversation_id,
                      R"(","lastSeq":)", last_seq, "}");
    }
    connect += "}";
    EXPECT_TRUE(client.SendText(connect).ok());
    std::vector<Frame> frames;
    do {
      frames.push_back(Next(client));
    } while (frames.back().kind_case() != Frame::kConnectConfirm &&
             frames.back().kind_case() != Frame::KIND_NOT_SET);
    return frames;
  }

  Frame Next(WsTestClient& client) { return bridge::testing::NextJsonFrame(client, &last_); }

  int64_t Sequence(const Frame& f) {
    demo::v1::SayResponse r;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(f.stream_message().payload(), &r).ok());
    return r.sequence();
  }

  std::unique_ptr<bridge::testing::TestBridge> bridge_;
  app::BridgeApp* app_ = nullptr;
  harness::backend::RunningBackend* backend_ = nullptr;
  std::string last_;
};

TEST_F(ResumeTest, AResumeReplaysWhatWasMissedThenConfirms) {
  StartBridge();
  auto client = Open();
  auto frames = Connect(*client);
  ASSERT_EQ(frames.back().connect_confirm().conversation_id(), "s-1");
  ASSERT_TRUE(client
                  ->SendText(R"({"type":"message","messageId":"say","method":)"
                             R"("demo.v1.Echo/Say","payload":{"text":"a"}})")
                  .ok());
  Frame response = Next(*client);
  ASSERT_EQ(response.kind_case(), Frame::kResponse);
  ASSERT_EQ(response.seq(), 2u);
  // The client read seq 1 only (say) and the connection drops.
  client.reset();
  ASSERT_TRUE(app_->server().AwaitOpenConnections(0, kTestTimeout));

  auto again = Open();
  frames = Connect(*again, "s-1", 1);
  ASSERT_EQ(frames.size(), 2u) << last_;
  EXPECT_EQ(frames[0].kind_case(), Frame::kResponse);
  EXPECT_EQ(frames[0].seq(), 2u);
  EXPECT_EQ(frames[0].response().message_id(), "say");
  ASSERT_EQ(frames[1].kind_case(), Frame::kConnectConfirm);
  EXPECT_TRUE(frames[1].connect_confirm().resumed());
  EXPECT_EQ(frames[1].connect_confirm().conversation_id(), "s-1");
  EXPECT_EQ(frames[1].seq(), 3u);
  // The session goes on where it was.
  ASSERT_TRUE(again->SendText(R"({"type":"ping"})").ok());
  EXPECT_EQ(Next(*again).seq(), 4u);
  EXPECT_EQ(app_->server().metrics().sessions_resumed.load(), 1u);
  EXPECT_EQ(app_->server().metrics().frames_replayed.load(), 1u);
}

TEST_F(ResumeTest, AnUnknownOrImpossibleResumeStartsAFreshSession) {
  StartBridge();
  auto client = Open();
  auto frames = Connect(*client, "s-404", 3);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_FALSE(frames[0].connect_confirm().resumed());
  EXPECT_EQ(frames[0].connect_confirm().conversation_id(), "s-1");
  EXPECT_EQ(frames[0].seq(), 1u);

  // Asking for frames the session never sent.
  client.reset();
  ASSERT_TRUE(app_->server().AwaitOpenConnections(0, kTestTimeout));
  auto again = Open();
  frames = Connect(*again, "s-1", 99);
  EXPECT_FALSE(frames.back().connect_confirm().resumed());
  EXPECT_EQ(frames.back().connect_confirm().conversation_id(), "s-2");
  EXPECT_EQ(app_->server().metrics().resumes_refused.load(), 2u);
}

TEST_F(ResumeTest, AcknowledgedFramesAreGoneSoAResumeBeforeThemIsRefused) {
  StartBridge();
  auto client = Open();
  Connect(*client);
  ASSERT_TRUE(client->SendText(R"({"type":"ping"})").ok());
  ASSERT_EQ(Next(*client).seq(), 2u);
  ASSERT_TRUE(client->SendText(R"({"type":"ack","seq":2})").ok());
  ASSERT_TRUE(client->SendText(R"({"type":"ping"})").ok());  // the ack is processed first
  ASSERT_EQ(Next(*client).seq(), 3u);
  client.reset();
  ASSERT_TRUE(app_->server().AwaitOpenConnections(0, kTestTimeout));
  auto again = Open();
  auto frames = Connect(*again, "s-1", 0);
  EXPECT_FALSE(frames.back().connect_confirm().resumed());
}

TEST_F(ResumeTest, AnExpiredSessionCannotBeResumedAndItsCallsAreCancelled) {
  StartBridge("session_grace_ms: 50");
  auto client = Open();
  Connect(*client);
  ASSERT_TRUE(client
                  ->SendText(R"({"type":"message","messageId":"slow","method":)"
                             R"("demo.v1.Echo/Say","metadata":{"demo-delay-ms":"60000"}})")
                  .ok());
  ASSERT_TRUE(backend_->service->AwaitCalls("Say", 1, kTestTimeout));
  client.reset();
  ASSERT_TRUE(app_->server().AwaitSessionCount(0, kTestTimeout));
  EXPECT_TRUE(backend_->service->AwaitCancellations(1, kTestTimeout));
  EXPECT_EQ(app_->server().metrics().sessions_expired.load(), 1u);
  auto again = Open();
  EXPECT_FALSE(Connect(*again, "s-1", 1).back().connect_confirm().resumed());
}

TEST_F(ResumeTest, AMessageResentAfterAResumeIsNotCalledAgain) {
  StartBridge();
  auto client = Open();
  Connect(*client);
  const std::string call = R"({"type":"message","messageId":"once","method":"demo.v1.Echo/Say",)"
                           R"("payload":{"text":"x"},"metadata":{"demo-delay-ms":"100"}})";
  ASSERT_TRUE(client->SendText(call).ok());
  ASSERT_TRUE(client->SendText(R"({"type":"ping"})").ok());
  ASSERT_EQ(Next(*client).kind_case(), Frame::kPong);  // seq 2: the call is running
  client.reset();
  ASSERT_TRUE(app_->server().AwaitOpenConnections(0, kTestTimeout));

  auto again = Open();
  auto frames = Connect(*again, "s-1", 2);
  ASSERT_EQ(frames.back().kind_case(), Frame::kConnectConfirm);
  ASSERT_TRUE(frames.back().connect_confirm().resumed());
  // The client does not know whether the call got through: it sends it again, same id.
  ASSERT_TRUE(again->SendText(call).ok());
  int responses = 0;
  for (const Frame& f : frames) responses += f.kind_case() == Frame::kResponse;
  while (responses == 0) {
    Frame f = Next(*again);
    ASSERT_NE(f.kind_case(), Frame::KIND_NOT_SET);
    responses += f.kind_case() == Frame::kResponse;
  }
  // And once more, after the answer: the outcome again, and still one backend call.
  ASSERT_TRUE(again->SendText(call).ok());
  Frame repeat = Next(*again);
  EXPECT_EQ(repeat.kind_case(), Frame::kResponse) << last_;
  EXPECT_EQ(repeat.response().message_id(), "once");
  EXPECT_EQ(backend_->service->calls("Say"), 1);
  EXPECT_EQ(app_->server().metrics().duplicate_messages.load(), 2u);
}

TEST_F(ResumeTest, ADifferentEncodingCannotResume) {
  StartBridge();
  auto client = Open();
  Connect(*client);
  client.reset();
  ASSERT_TRUE(app_->server().AwaitOpenConnections(0, kTestTimeout));
  auto binary = WsTestClient::Connect(app_->server().port(), "/ws", {"bridge.v1.proto"});
  ASSERT_TRUE(binary.ok());
  Frame connect;
  connect.mutable_connect()->set_client_id("c-1");
  connect.mutable_connect()->mutable_resume()->set_conversation_id("s-1");
  connect.mutable_connect()->mutable_resume()->set_last_seq(1);
  ASSERT_TRUE((*binary)->SendBinary(connect.SerializeAsString()).ok());
  auto reply = (*binary)->Receive();
  ASSERT_TRUE(reply.ok());
  Frame confirm;
  ASSERT_TRUE(confirm.ParseFromString(reply->payload));
  EXPECT_FALSE(confirm.connect_confirm().resumed());
}

// A server stream cut again and again: every reply arrives exactly once, in order, then one
// stream_end; the backend is called once.
TEST_F(ResumeTest, AStreamCutManyTimesLosesAndDuplicatesNothing) {
  StartBridge();
  constexpr int kReplies = 100;
  constexpr int kCuts = 20;
  auto client = Open();
  std::string conversation = Connect(*client).back().connect_confirm().conversation_id();
  ASSERT_TRUE(client
                  ->SendText(absl::StrCat(R"({"type":"message","messageId":"s","method":)",
                                          R"("demo.v1.Echo/Repeat","payload":{"text":"t",)",
                                          R"("count":)", kReplies, R"(,"interval":"0.01s"}})"))
                  .ok());
  uint64_t last_seq = 1;
  std::vector<int64_t> seen;
  int ends = 0;
  int cuts = 0;
  auto take = [&](const Frame& f) {
    if (f.seq() != 0 && f.seq() <= last_seq) return;  // already had it
    if (f.seq() != 0) last_seq = f.seq();
    if (f.kind_case() == Frame::kStreamMessage) seen.push_back(Sequence(f));
    if (f.kind_case() == Frame::kStreamEnd) ++ends;
    ASSERT_NE(f.kind_case(), Frame::kError) << last_;
  };
  while (ends == 0) {
    // Read a few frames (1..4, a fixed pattern), then cut the connection and resume; after
    // kCuts cuts, read to the end.
    for (int i = 0; (i <= cuts % 4 || cuts >= kCuts) && ends == 0; ++i) take(Next(*client));
    if (ends > 0) break;
    client.reset();
    ++cuts;
    ASSERT_TRUE(app_->server().AwaitOpenConnections(0, kTestTimeout));
    client = Open();
    auto frames = Connect(*client, conversation, last_seq);
    ASSERT_TRUE(frames.back().connect_confirm().resumed()) << "cut " << cuts;
    for (const Frame& f : frames) take(f);
  }
  ASSERT_EQ(seen.size(), static_cast<size_t>(kReplies)) << "after " << cuts << " cuts";
  for (int i = 0; i < kReplies; ++i) EXPECT_EQ(seen[i], i + 1);
  EXPECT_EQ(ends, 1);
  EXPECT_EQ(cuts, kCuts);
  EXPECT_EQ(backend_->service->calls("Repeat"), 1);
}

}  // namespace
}  // namespace bridge
