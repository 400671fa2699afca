// The real bridge server, in-process on port 0, driven by an independent WebSocket client:
// handshake in both encodings, heartbeat, timeouts, every kind of bad input, and drain.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "bridge/config/config.h"
#include "bridge/protocol/error_table.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/server/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/json_frames.h"
#include "tests/support/socket_options.h"
#include "tests/support/ws_test_client.h"

namespace bridge {
namespace {

namespace cc = protocol::close_code;
using ::bridge::testing::WsTestClient;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using v1::Frame;

constexpr char kConnect[] =
    R"({"type":"connect","clientId":"c-1","version":"1","timestamp":"2026-11-22T10:00:00.123Z"})";

class BridgeServerTest : public ::testing::Test {
 protected:
  void StartServer(const std::string& extra_config = "") {
    auto parsed = config::ParseConfigText(
        absl::StrCat("listen: \"127.0.0.1:0\" io_threads: 2 ", extra_config), "test");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    config_ = *parsed;
    config::ApplyDefaults(&config_);
    ASSERT_TRUE(config::Validate(config_).ok());
    auto next_id = std::make_shared<std::atomic<int>>(0);
    server::ServerOptions options;
    options.new_conversation_id = [next_id] { return absl::StrCat("s-", ++*next_id); };
    server_ = std::make_unique<server::Server>(config_, options);
    ASSERT_TRUE(server_->Start().ok());
  }

  void TearDown() override {
    if (server_ != nullptr) {
      server_->Shutdown();
      server_->Wait();
    }
  }

  std::unique_ptr<WsTestClient> Open(const std::vector<std::string>& subprotocols = {}) {
    auto client = WsTestClient::Connect(server_->port(), "/ws", subprotocols);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // Receives one JSON frame and decodes it.
  Frame NextFrame(WsTestClient& client) {
    return bridge::testing::NextJsonFrame(client, &last_text_);
  }

  // Opens a JSON session and completes the handshake.
  std::unique_ptr<WsTestClient> OpenConfirmed() {
    auto client = Open();
    if (client == nullptr) return nullptr;
    EXPECT_TRUE(client->SendText(kConnect).ok());
    Frame confirm = NextFrame(*client);
    EXPECT_EQ(confirm.kind_case(), Frame::kConnectConfirm) << last_text_;
    return client;
  }

  // Expects an error frame of category protocol_error naming `field`; returns it.
  v1::Error ExpectProtocolError(WsTestClient& client, const std::string& field) {
    Frame frame = NextFrame(client);
    EXPECT_EQ(frame.kind_case(), Frame::kError) << last_text_;
    EXPECT_EQ(frame.error().category(), v1::ERROR_CATEGORY_PROTOCOL_ERROR) << last_text_;
    EXPECT_FALSE(frame.error().retryable());
    EXPECT_EQ(frame.error().field(), field) << last_text_;
    return frame.error();
  }

  // The session is still up: a ping gets a pong.
  void ExpectAlive(WsTestClient& client) {
    ASSERT_TRUE(client.SendText(R"({"type":"ping"})").ok());
    EXPECT_EQ(NextFrame(client).kind_case(), Frame::kPong) << last_text_;
  }

  v1::BridgeConfig config_;
  std::unique_ptr<server::Server> server_;
  std::string last_text_;
};

TEST_F(BridgeServerTest, JsonHandshakeConfirmsWithHeartbeatSettingsAndSeq) {
  StartServer("heartbeat_interval_ms: 15000");
  auto client = Open({"bridge.v1.json"});
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->subprotocol(), "bridge.v1.json");
  ASSERT_TRUE(client->SendText(kConnect).ok());
  Frame confirm = NextFrame(*client);
  ASSERT_EQ(confirm.kind_case(), Frame::kConnectConfirm);
  EXPECT_EQ(confirm.connect_confirm().client_id(), "c-1");
  EXPECT_EQ(confirm.connect_confirm().conversation_id(), "s-1");
  EXPECT_EQ(confirm.connect_confirm().status(), "confirmed");
  EXPECT_EQ(confirm.connect_confirm().heartbeat_interval_ms(), 15000u);
  EXPECT_EQ(confirm.connect_confirm().heartbeat_timeout_ms(), 30000u);
  EXPECT_TRUE(confirm.connect_confirm().has_resumed());
  EXPECT_FALSE(confirm.connect_confirm().resumed());
  EXPECT_TRUE(confirm.connect_confirm().has_timestamp());
  EXPECT_EQ(confirm.seq(), 1u);
  // The wire shape of docs/protocol.md: flat, lowerCamelCase, numbers for the heartbeat settings.
  EXPECT_THAT(last_text_, StartsWith(R"({"type":"connect_confirm","clientId":"c-1",)"));
  EXPECT_THAT(last_text_, HasSubstr(R"("heartbeatIntervalMs":15000,"heartbeatTimeoutMs":30000)"));
  EXPECT_THAT(last_text_, HasSubstr(R"("resumed":false,"seq":1})"));

  ASSERT_TRUE(client->SendText(R"({"type":"ping","timestamp":"2026-11-22T10:00:01Z"})").ok());
  Frame pong = NextFrame(*client);
  EXPECT_EQ(pong.kind_case(), Frame::kPong);
  EXPECT_TRUE(pong.pong().has_timestamp());
  EXPECT_EQ(pong.seq(), 2u);
  EXPECT_EQ(server_->metrics().sessions_confirmed.load(), 1u);
  EXPECT_EQ(server_->metrics().pings_received.load(), 1u);
}

// The inbound fast path (server/ws_config.h): large text messages are unmasked eight bytes at a
// time and their UTF-8 checked from the first byte that is not ASCII, across reads (the read
// buffer holds 16 KiB) and across fragments. A ping with a padding field gets its pong; bad
// UTF-8 anywhere closes 1007.
std::string PingWithText(const std::string& text) {
  return absl::StrCat(R"({"type":"ping","pad":")", text, R"("})");
}

// Small frames go out at once: the bridge's end of a connection has Nagle's algorithm off, or a
// stream's second reply would wait for the client's delayed ACK of the first (about 40 ms).
// The bridge runs in this process: its end is among this process's sockets.
TEST_F(BridgeServerTest, TheBridgesEndOfAConnectionSendsSmallFramesAtOnce) {
  StartServer();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(testing::NoDelayOfConnectedSockets(server_->port(), 0), ElementsAre(true));
}

TEST_F(BridgeServerTest, LargeTextMessagesAreUnmaskedAndCheckedAcrossReads) {
  StartServer();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  // Two-, three- and four-byte characters at every offset around the 16 KiB read boundary,
  // of every alignment to the 8-byte unmasking.
  for (const std::string ch : {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"}) {
    for (size_t at = 16370; at < 16400; at += 3) {
      std::string pad(at, 'a');
      pad += ch;
      pad += std::string(100 + at % 7, 'b');
      ASSERT_TRUE(client->SendText(PingWithText(pad)).ok());
      Frame pong = NextFrame(*client);
      ASSERT_EQ(pong.kind_case(), Frame::kPong) << "at " << at << ": " << last_text_;
    }
  }
}

TEST_F(BridgeServerTest, UtfEightSplitAcrossFragmentsIsAccepted) {
  StartServer();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  const std::string text = PingWithText(std::string(20000, 'a') + "\xe2\x82\xac" + "z");
  const size_t cut = text.find("\xe2") + 1;  // inside the euro sign
  ASSERT_TRUE(client->SendFrame(0x1, text.substr(0, cut), /*fin=*/false).ok());
  ASSERT_TRUE(client->SendFrame(0x0, text.substr(cut), /*fin=*/true).ok());
  EXPECT_EQ(NextFrame(*client).kind_case(), Frame::kPong) << last_text_;
}

TEST_F(BridgeServerTest, BadUtfEightAfterLongAsciiClosesWith1007) {
  StartServer();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendText(PingWithText(std::string(40000, 'a') + "\xc3\x28")).ok());
  absl::StatusOr<int> code = client->WaitForClose();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1007);
}

TEST_F(BridgeServerTest, BadUtfEightSplitAcrossFragmentsClosesWith1007) {
  StartServer();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  const std::string text = PingWithText(std::string(20000, 'a') + "\xc3\x28");
  const size_t cut = text.find("\xc3") + 1;  // the lead byte ends the first fragment
  ASSERT_TRUE(client->SendFrame(0x1, text.substr(0, cut), /*fin=*/false).ok());
  ASSERT_TRUE(client->SendFrame(0x0, text.substr(cut), /*fin=*/true).ok());
  absl::StatusOr<int> code = client->WaitForClose();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1007);
}

TEST_F(BridgeServerTest, NoSubprotocolOfferedMeansJsonWithoutEcho) {
  StartServer();
  auto client = Open({"chat.v2"});
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->subprotocol(), "");
  ASSERT_TRUE(client->SendText(kConnect).ok());
  EXPECT_EQ(NextFrame(*client).kind_case(), Frame::kConnectConfirm);
}

TEST_F(BridgeServerTest, BinarySubprotocolSpeaksSerializedFrames) {
  StartServer();
  auto client = Open({"bridge.v1.proto", "bridge.v1.json"});
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->subprotocol(), "bridge.v1.proto");
  Frame connect;
  connect.mutable_connect()->set_client_id("bin-1");
  connect.mutable_connect()->set_version("1");
  ASSERT_TRUE(client->SendBinary(connect.SerializeAsString()).ok());
  auto reply = client->Receive();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->opcode, WsTestClient::kBinary);
  Frame confirm;
  ASSERT_TRUE(confirm.ParseFromString(reply->payload));
  EXPECT_EQ(confirm.connect_confirm().client_id(), "bin-1");
  EXPECT_EQ(confirm.seq(), 1u);

  Frame ping;
  ping.mutable_ping();
  ASSERT_TRUE(client->SendBinary(ping.SerializeAsString()).ok());
  reply = client->Receive();
  ASSERT_TRUE(reply.ok());
  Frame pong;
  ASSERT_TRUE(pong.ParseFromString(reply->payload));
  EXPECT_EQ(pong.kind_case(), Frame::kPong);
  EXPECT_EQ(pong.seq(), 2u);

  // Garbage and a frame without a kind are protocol errors; the session stays up.
  ASSERT_TRUE(client->SendBinary(std::string("\xff\xff\xff", 3)).ok());
  reply = client->Receive();
  ASSERT_TRUE(reply.ok());
  Frame error;
  ASSERT_TRUE(error.ParseFromString(reply->payload));
  EXPECT_EQ(error.error().category(), v1::ERROR_CATEGORY_PROTOCOL_ERROR);
  EXPECT_EQ(server_->metrics().bad_frames(protocol::DecodeFailure::kInvalidProto), 1u);

  // A text frame on a binary session is refused the same way.
  ASSERT_TRUE(client->SendText(R"({"type":"ping"})").ok());
  reply = client->Receive();
  ASSERT_TRUE(reply.ok());
  ASSERT_TRUE(error.ParseFromString(reply->payload));
  EXPECT_EQ(error.error().category(), v1::ERROR_CATEGORY_PROTOCOL_ERROR);
  EXPECT_EQ(server_->metrics().wrong_encoding_frames.load(), 1u);

  ASSERT_TRUE(client->SendBinary(ping.SerializeAsString()).ok());
  reply = client->Receive();
  ASSERT_TRUE(reply.ok());
  ASSERT_TRUE(pong.ParseFromString(reply->payload));
  EXPECT_EQ(pong.kind_case(), Frame::kPong);
}

TEST_F(BridgeServerTest, EachConnectionGetsItsOwnConversation) {
  StartServer();
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->SendText(kConnect).ok());
  ASSERT_TRUE(b->SendText(kConnect).ok());
  const std::string id_a = NextFrame(*a).connect_confirm().conversation_id();
  const std::string id_b = NextFrame(*b).connect_confirm().conversation_id();
  EXPECT_NE(id_a, id_b);
  EXPECT_EQ(server_->metrics().connections_active.load(), 2);
}

TEST_F(BridgeServerTest, FrameBeforeConnectIsAProtocolErrorThenClose1002) {
  StartServer();
  auto client = Open();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendText(R"({"type":"ping"})").ok());
  ExpectProtocolError(*client, "type");
  auto code = client->WaitForClose();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, cc::kProtocolError);
  EXPECT_EQ(server_->metrics().frames_before_connect.load(), 1u);
  EXPECT_EQ(server_->metrics().closes_sent(cc::kProtocolError), 1u);
}

TEST_F(BridgeServerTest, InvalidJsonBeforeConnectAlsoCloses1002) {
  StartServer();
  auto client = Open();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendText("{nope").ok());
  ExpectProtocolError(*client, "");
  auto code = client->WaitForClose();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, cc::kProtocolError);
}

TEST_F(BridgeServerTest, UnsupportedVersionCloses4502) {
  StartServer();
  auto client = Open();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendText(R"({"type":"connect","clientId":"c","version":"7"})").ok());
  v1::Error error = ExpectProtocolError(*client, "version");
  EXPECT_THAT(error.message(), HasSubstr("7"));
  auto code = client->WaitForClose();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, cc::kUnsupportedVersion);
  EXPECT_EQ(client->close_reason(), "unsupported_version");
  EXPECT_EQ(server_->metrics().unsupported_versions.load(), 1u);
}

TEST_F(BridgeServerTest, HandshakeTimeoutCloses4001) {
  StartServer("handshake_timeout_ms: 100");
  auto client = Open();
  ASSERT_NE(client, nullptr);
  auto code = client->WaitForClose();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, cc::kHandshakeTimeout);
  EXPECT_EQ(client->close_reason(), "handshake_timeout");
  EXPECT_EQ(server_->metrics().handshake_timeouts.load(), 1u);
}

TEST_F(BridgeServerTest, SilentClientIsClosedWith4000) {
  StartServer("heartbeat_interval_ms: 100 heartbeat_timeout_ms: 200");
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  auto code = client->WaitForClose();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, cc::kHeartbeatTimeout);
  EXPECT_EQ(client->close_reason(), "heartbeat_timeout");
  EXPECT_EQ(server_->metrics().heartbeat_timeouts.load(), 1u);
  EXPECT_EQ(protocol::ClassifyClose(*code).category, v1::ERROR_CATEGORY_TIMEOUT);
}

TEST_F(BridgeServerTest, WebSocketPingControlFramesAreAnswered) {
  StartServer();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendPing("are-you-there").ok());
  auto pong = client->NextPong();
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(*pong, "are-you-there");
  EXPECT_EQ(server_->metrics().control_pings_received.load(), 1u);
}

TEST_F(BridgeServerTest, BadFramesGetAnErrorNamingTheFieldAndTheSessionStaysUp) {
  StartServer();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  struct Case {
    const char* frame;
    const char* field;
    protocol::DecodeFailure failure;
  };
  const Case cases[] = {
      {"{\"type\":", "", protocol::DecodeFailure::kInvalidJson},
      {"[1,2,3]", "", protocol::DecodeFailure::kNotObject},
      {"\"ping\"", "", protocol::DecodeFailure::kNotObject},
      {R"({"clientId":"x"})", "type", protocol::DecodeFailure::kMissingType},
      {R"({"type":"teleport"})", "type", protocol::DecodeFailure::kUnknownType},
      {R"({"type":42})", "type", protocol::DecodeFailure::kBadField},
      {R"({"type":"ping","timestamp":12})", "timestamp", protocol::DecodeFailure::kBadField},
      {R"({"type":"message","messageId":7})", "messageId", protocol::DecodeFailure::kBadField},
      {R"({"type":"ack","seq":"many"})", "seq", protocol::DecodeFailure::kBadField},
      {R"({"type":"message","messageId":"m","metadata":[1]})", "metadata",
       protocol::DecodeFailure::kBadField},
      {R"({"type":"batch","frames":[{"type":"ping"},{"type":"cancel","messageId":false}]})",
       "frames[1].messageId", protocol::DecodeFailure::kBadField},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.frame);
    ASSERT_TRUE(client->SendText(c.frame).ok());
    ExpectProtocolError(*client, c.field);
  }
  ExpectAlive(*client);
  const Metrics& m = server_->metrics();
  EXPECT_EQ(m.bad_frames(protocol::DecodeFailure::kInvalidJson), 1u);
  EXPECT_EQ(m.bad_frames(protocol::DecodeFailure::kNotObject), 2u);
  EXPECT_EQ(m.bad_frames(protocol::DecodeFailure::kMissingType), 1u);
  EXPECT_EQ(m.bad_frames(protocol::DecodeFailure::kUnknownType), 1u);
  EXPECT_EQ(m.bad_frames(protocol::DecodeFailure::kBadField), 6u);
  EXPECT_EQ(m.error_frames(v1::ERROR_CATEGORY_PROTOCOL_ERROR), 11u);
}

TEST_F(BridgeServerTest, ServerOnlyFramesAndASecondConnectAreRefused) {
  StartServer();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendText(R"({"type":"pong"})").ok());
  ExpectProtocolError(*client, "type");
  ASSERT_TRUE(client->SendText(kConnect).ok());
  ExpectProtocolError(*client, "type");
  ExpectAlive(*client);
}

TEST_F(BridgeServerTest, BatchFramesAreProcessedInOrder) {
  StartServer();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client
                  ->SendText(R"({"type":"batch","frames":[{"type":"ping"},)"
                             R"({"type":"message","messageId":"m-1","method":"x.Y/Z"},)"
                             R"({"type":"ping"}]})")
                  .ok());
  Frame first = NextFrame(*client);
  Frame second = NextFrame(*client);
  Frame third = NextFrame(*client);
  EXPECT_EQ(first.kind_case(), Frame::kPong);
  EXPECT_EQ(first.seq(), 2u);
  ASSERT_EQ(second.kind_case(), Frame::kError);
  EXPECT_EQ(second.error().message_id(), "m-1");
  EXPECT_EQ(second.error().category(), v1::ERROR_CATEGORY_NOT_FOUND);
  EXPECT_EQ(second.seq(), 3u);
  EXPECT_EQ(third.kind_case(), Frame::kPong);
  EXPECT_EQ(third.seq(), 4u);
}

TEST_F(BridgeServerTest, InvalidUtf8TextFrameCloses1007) {
  StartServer();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendText("{\"type\":\"ping\",\"x\":\"\xc3\x28\"}").ok());
  auto code = client->WaitForClose();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, cc::kInvalidPayload);
  EXPECT_EQ(client->close_reason(), "invalid_utf8");  // a word, not websocketpp's sentence
  // The close handler, which counts, runs once the close handshake is done.
  ASSERT_TRUE(server_->AwaitOpenConnections(0, bridge::testing::kTestTimeout));
  EXPECT_EQ(server_->metrics().invalid_utf8_closes.load(), 1u);
  EXPECT_EQ(server_->metrics().closes_sent(cc::kInvalidPayload), 1u);
}

TEST_F(BridgeServerTest, FrameOverTheLimitCloses1009) {
  StartServer("max_frame_bytes: 1024");
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  // Under the limit is fine.
  ASSERT_TRUE(
      client->SendText(absl::StrCat(R"({"type":"ping","pad":")", std::string(900, 'a'), R"("})"))
          .ok());
  EXPECT_EQ(NextFrame(*client).kind_case(), Frame::kPong);
  ASSERT_TRUE(
      client->SendText(absl::StrCat(R"({"type":"ping","pad":")", std::string(2000, 'a'), R"("})"))
          .ok());
  auto code = client->WaitForClose();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, cc::kMessageTooBig);
  EXPECT_EQ(client->close_reason(), "message_too_big");
  ASSERT_TRUE(server_->AwaitOpenConnections(0, bridge::testing::kTestTimeout));
  EXPECT_EQ(server_->metrics().too_big_closes.load(), 1u);
}

TEST_F(BridgeServerTest, WrongPathIsRefusedAtTheUpgrade) {
  StartServer();
  auto client = WsTestClient::Connect(server_->port(), "/elsewhere");
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(std::string(client.status().message()), HasSubstr("404"));
  EXPECT_EQ(server_->metrics().connections_refused.load(), 1u);
}

TEST_F(BridgeServerTest, ConfiguredPathIsServed) {
  StartServer("path: \"/bridge\"");
  auto client = WsTestClient::Connect(server_->port(), "/bridge?token=abc");
  ASSERT_TRUE(client.ok()) << client.status();
}

TEST_F(BridgeServerTest, HealthAndMetricsOverHttp) {
  StartServer();
  auto health = WsTestClient::HttpGet(server_->port(), "/healthz");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->first, 200);
  EXPECT_EQ(health->second, "ok\n");
  auto ready = WsTestClient::HttpGet(server_->port(), "/readyz");
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(ready->first, 200);

  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendText("[]").ok());
  ExpectProtocolError(*client, "");
  auto metrics = WsTestClient::HttpGet(server_->port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(metrics->first, 200);
  EXPECT_THAT(metrics->second, HasSubstr("bridge_sessions_confirmed_total 1\n"));
  EXPECT_THAT(metrics->second, HasSubstr("bridge_bad_frames_total{reason=\"not_object\"} 1\n"));
  EXPECT_THAT(metrics->second,
              HasSubstr("bridge_error_frames_total{category=\"protocol_error\"} 1\n"));
}

TEST_F(BridgeServerTest, ShutdownClosesEverySessionWith1001) {
  StartServer();
  auto a = OpenConfirmed();
  auto b = Open();  // not yet confirmed
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  server_->Shutdown();
  auto code_a = a->WaitForClose();
  auto code_b = b->WaitForClose();
  ASSERT_TRUE(code_a.ok()) << code_a.status();
  ASSERT_TRUE(code_b.ok()) << code_b.status();
  EXPECT_EQ(*code_a, cc::kGoingAway);
  EXPECT_EQ(*code_b, cc::kGoingAway);
  EXPECT_EQ(a->close_reason(), "server_shutdown");
  server_->Wait();  // returns once both closes are done
  EXPECT_EQ(server_->metrics().closes_sent(cc::kGoingAway), 2u);
  EXPECT_EQ(server_->metrics().connections_active.load(), 0);
  // The listener is gone.
  EXPECT_FALSE(WsTestClient::Connect(server_->port()).ok());
}

// A drain that starts while upgrades are under way waits for them: every client that got its
// 101 gets a 1001 close, none is left hanging or cut with 1006, even when no session was open
// when the drain began.
TEST_F(BridgeServerTest, UpgradesUnderWayWhenTheDrainStartsAreClosedWith1001) {
  StartServer();
  constexpr int kClients = 4;
  absl::Mutex mu;
  std::vector<std::unique_ptr<WsTestClient>> opened;
  absl::Notification first_attempt;
  std::once_flag notify_once;
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&] {
      // Each client connects again and again until the bridge stops taking connections.
      for (;;) {
        std::call_once(notify_once, [&] { first_attempt.Notify(); });
        auto client = WsTestClient::Connect(server_->port());
        if (!client.ok()) return;
        absl::MutexLock lock(&mu);
        opened.push_back(std::move(*client));
      }
    });
  }
  first_attempt.WaitForNotification();
  server_->Shutdown();
  for (std::thread& t : threads) t.join();
  for (auto& client : opened) {
    auto code = client->WaitForClose();
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, cc::kGoingAway);
  }
  server_->Wait();
  EXPECT_EQ(server_->metrics().closes_sent(cc::kGoingAway), opened.size());
  EXPECT_EQ(server_->metrics().connections_active.load(), 0);
}

}  // namespace
}  // namespace bridge

namespace bridge {
namespace {

TEST_F(BridgeServerTest, OriginsOutsideTheAllowListAreRefusedWith403) {
  StartServer(
      R"(allowed_origins: "https://app.example.com" allowed_origins: "https://*.example.org")");
  auto ok = WsTestClient::Connect(server_->port(), "/ws", {}, bridge::testing::kTestTimeout,
                                  {{"Origin", "https://app.example.com"}});
  EXPECT_TRUE(ok.ok()) << ok.status();
  auto sub = WsTestClient::Connect(server_->port(), "/ws", {}, bridge::testing::kTestTimeout,
                                   {{"Origin", "https://eu.example.org"}});
  EXPECT_TRUE(sub.ok()) << sub.status();
  auto no_origin = WsTestClient::Connect(server_->port());
  EXPECT_TRUE(no_origin.ok()) << no_origin.status();
  auto bad = WsTestClient::Connect(server_->port(), "/ws", {}, bridge::testing::kTestTimeout,
                                   {{"Origin", "https://evil.example.net"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("403"));
  EXPECT_EQ(server_->metrics().origin_refusals.load(), 1u);
}

TEST_F(BridgeServerTest, MessagesOverTheRateAreRefusedThenTheConnectionIsClosed4029) {
  // One message a second refills nothing noticeable during the test: the burst is what counts.
  StartServer("max_messages_per_second: 1 message_burst: 4 rate_limit_strikes: 3");
  auto client = OpenConfirmed();  // connect: 1 token
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client->SendText(R"({"type":"ping"})").ok());
    EXPECT_EQ(NextFrame(*client).kind_case(), Frame::kPong) << last_text_;
  }
  for (int strike = 1; strike <= 2; ++strike) {
    ASSERT_TRUE(client->SendText(R"({"type":"ping"})").ok());
    Frame f = NextFrame(*client);
    ASSERT_EQ(f.kind_case(), Frame::kError) << last_text_;
    EXPECT_EQ(f.error().category(), v1::ERROR_CATEGORY_RATE_LIMITED);
    EXPECT_TRUE(f.error().retryable());
    EXPECT_GT(f.error().retry_after_ms(), 0u);
    EXPECT_LE(f.error().retry_after_ms(), 1000u);
  }
  ASSERT_TRUE(client->SendText(R"({"type":"ping"})").ok());
  auto code = client->WaitForClose();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, cc::kRateLimited);
  EXPECT_EQ(server_->metrics().rate_limited_messages.load(), 3u);
  EXPECT_EQ(server_->metrics().rate_limit_closes.load(), 1u);
}

TEST_F(BridgeServerTest, ConnectionsOverTheLimitAreClosedWith1013) {
  StartServer("max_connections: 2");
  auto a = OpenConfirmed();
  auto b = OpenConfirmed();
  auto c = Open();
  ASSERT_NE(c, nullptr);
  auto code = c->WaitForClose();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, cc::kTryAgainLater);
  EXPECT_EQ(c->close_reason(), "too_many_connections");
  EXPECT_EQ(protocol::ClassifyClose(*code).category, v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE);
  // A place frees up: the next one gets in.
  a.reset();
  ASSERT_TRUE(server_->AwaitOpenConnections(1, bridge::testing::kTestTimeout));
  EXPECT_NE(OpenConfirmed(), nullptr);
  EXPECT_EQ(server_->metrics().connection_limit_refusals.load(), 1u);
}

TEST_F(BridgeServerTest, ConnectionsPerClientAddressAreLimited) {
  StartServer("max_connections_per_ip: 1");
  auto a = OpenConfirmed();
  auto b = Open();
  ASSERT_NE(b, nullptr);
  auto code = b->WaitForClose();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, cc::kTryAgainLater);
}

TEST_F(BridgeServerTest, TheMemoryGuardRefusesNewConnectionsWith1013) {
  StartServer("max_memory_bytes: 1");  // always over
  auto client = Open();
  ASSERT_NE(client, nullptr);
  auto code = client->WaitForClose();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, cc::kTryAgainLater);
  EXPECT_EQ(client->close_reason(), "memory_limit");
  EXPECT_EQ(server_->metrics().memory_guard_refusals.load(), 1u);
}

}  // namespace
}  // namespace bridge
