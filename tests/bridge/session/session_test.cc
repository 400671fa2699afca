// Session logic without sockets: a fake transport and a clock the test moves.
#include "bridge/session/session.h"

#include "absl/strings/str_cat.h"
#include "bridge/protocol/error_table.h"
#include "bridge/protocol/frame_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/mocks/session_mocks.h"

namespace bridge::session {
namespace {

namespace cc = protocol::close_code;
using ::bridge::testing::FakeClock;
using ::bridge::testing::FakeTransport;
using ::bridge::testing::MockTransport;
using ::testing::_;
using ::testing::HasSubstr;
using ::testing::InSequence;
using v1::Frame;

constexpr char kConnect[] = R"({"type":"connect","clientId":"c-1","version":"1"})";

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() {
    options_.handshake_timeout = absl::Seconds(10);
    options_.heartbeat_interval = absl::Seconds(30);
    options_.heartbeat_timeout = absl::Seconds(60);
  }

  void Create(protocol::Encoding encoding = protocol::Encoding::kJson) {
    session_ = std::make_unique<Session>(options_, encoding, &transport_, &clock_, &metrics_,
                                         [] { return std::string("s-test"); });
    session_->Start();
  }

  void Confirm() {
    session_->OnMessage(kConnect, false);
    ASSERT_EQ(session_->state(), Session::State::kConfirmed);
  }

  Frame Sent(size_t i) { return transport_.SentFrame(i); }
  Frame Last() { return Sent(transport_.sent.size() - 1); }
  // Reattach after a claim is refused: service_unavailable, then close 1013, and no confirm.
  void ExpectReattachRefused() {
    transport_.sent.clear();
    session_->Reattach(v1::Connect(), std::nullopt);
    ASSERT_EQ(transport_.sent.size(), 1u);
    EXPECT_EQ(Sent(0).error().category(), v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE);
    EXPECT_EQ(transport_.close_code, cc::kTryAgainLater);
    EXPECT_EQ(transport_.close_reason, "resume_failed");
  }

  SessionOptions options_;
  FakeTransport transport_;
  FakeClock clock_;
  Metrics metrics_;
  std::unique_ptr<Session> session_;
};

TEST_F(SessionTest, StartArmsTheHandshakeTimer) {
  Create();
  EXPECT_EQ(session_->state(), Session::State::kPending);
  ASSERT_EQ(transport_.armed.count(SessionTimer::kHandshake), 1u);
  EXPECT_EQ(transport_.armed[SessionTimer::kHandshake], absl::Seconds(10));
  EXPECT_TRUE(transport_.sent.empty());
}

TEST_F(SessionTest, HandshakeTimeoutClosesWith4001) {
  Create();
  clock_.Advance(absl::Seconds(10));
  session_->OnTimer(SessionTimer::kHandshake);
  EXPECT_EQ(transport_.close_code, cc::kHandshakeTimeout);
  EXPECT_EQ(transport_.close_reason, "handshake_timeout");
  EXPECT_EQ(metrics_.handshake_timeouts.load(), 1u);
  EXPECT_EQ(session_->state(), Session::State::kClosing);
}

TEST_F(SessionTest, ConnectConfirmsAndSwitchesToTheHeartbeatTimer) {
  Create();
  Confirm();
  Frame confirm = Last();
  ASSERT_EQ(confirm.kind_case(), Frame::kConnectConfirm);
  EXPECT_EQ(confirm.seq(), 1u);
  EXPECT_EQ(confirm.connect_confirm().conversation_id(), "s-test");
  EXPECT_EQ(confirm.connect_confirm().heartbeat_interval_ms(), 30000u);
  EXPECT_EQ(confirm.connect_confirm().heartbeat_timeout_ms(), 60000u);
  EXPECT_EQ(transport_.armed.count(SessionTimer::kHandshake), 0u);
  EXPECT_EQ(transport_.armed[SessionTimer::kHeartbeat], absl::Seconds(60));
  // A late handshake timer does nothing now.
  session_->OnTimer(SessionTimer::kHandshake);
  EXPECT_FALSE(transport_.close_code.has_value());
}

TEST_F(SessionTest, TimestampsComeFromTheInjectedClockInMilliseconds) {
  Create();
  clock_.Advance(absl::Milliseconds(1234) + absl::Microseconds(567));
  Confirm();
  const Frame confirm = Last();
  const auto& ts = confirm.connect_confirm().timestamp();
  EXPECT_EQ(ts.nanos(), 234000000);
}

TEST_F(SessionTest, TrafficKeepsTheSessionAliveAndSilenceEndsIt) {
  Create();
  Confirm();
  clock_.Advance(absl::Seconds(40));
  session_->OnMessage(R"({"type":"ping"})", false);
  EXPECT_EQ(Last().kind_case(), Frame::kPong);
  EXPECT_EQ(Last().seq(), 2u);

  // The timer armed at confirmation fires at 60 s; the client spoke 20 s ago.
  clock_.Advance(absl::Seconds(20));
  session_->OnTimer(SessionTimer::kHeartbeat);
  EXPECT_FALSE(transport_.close_code.has_value());
  EXPECT_EQ(transport_.armed[SessionTimer::kHeartbeat], absl::Seconds(40));

  // A WebSocket ping counts as traffic too.
  clock_.Advance(absl::Seconds(30));
  session_->OnControlPing();
  clock_.Advance(absl::Seconds(10));
  session_->OnTimer(SessionTimer::kHeartbeat);
  EXPECT_FALSE(transport_.close_code.has_value());
  EXPECT_EQ(transport_.armed[SessionTimer::kHeartbeat], absl::Seconds(50));

  clock_.Advance(absl::Seconds(50));
  session_->OnTimer(SessionTimer::kHeartbeat);
  EXPECT_EQ(transport_.close_code, cc::kHeartbeatTimeout);
  EXPECT_EQ(transport_.close_reason, "heartbeat_timeout");
  EXPECT_EQ(metrics_.heartbeat_timeouts.load(), 1u);
}

TEST_F(SessionTest, FrameBeforeConnectSendsErrorThenCloses1002) {
  MockTransport mock;
  Session session(options_, protocol::Encoding::kJson, &mock, &clock_, &metrics_,
                  [] { return std::string("s"); });
  {
    InSequence order;
    EXPECT_CALL(mock, ArmTimer(SessionTimer::kHandshake, absl::Seconds(10)));
    EXPECT_CALL(mock, Send(HasSubstr(R"("category":"protocol_error")"), protocol::Encoding::kJson));
    EXPECT_CALL(mock, Close(cc::kProtocolError, "protocol_error"));
  }
  EXPECT_CALL(mock, CancelTimer(_)).Times(::testing::AnyNumber());
  session.Start();
  session.OnMessage(R"({"type":"subscribe","channel":"news"})", false);
  // Nothing more happens once closing.
  session.OnMessage(kConnect, false);
  EXPECT_EQ(session.state(), Session::State::kClosing);
}

TEST_F(SessionTest, ErrorFramesBeforeConfirmationCarryNoSeq) {
  Create();
  session_->OnMessage("nonsense", false);
  Frame error = Sent(0);
  EXPECT_EQ(error.kind_case(), Frame::kError);
  EXPECT_EQ(error.seq(), 0u);
  EXPECT_EQ(transport_.close_code, cc::kProtocolError);
}

TEST_F(SessionTest, UnsupportedVersionCloses4502) {
  Create();
  session_->OnMessage(R"({"type":"connect","clientId":"c","version":"2"})", false);
  EXPECT_EQ(Sent(0).error().field(), "version");
  EXPECT_EQ(transport_.close_code, cc::kUnsupportedVersion);
}

TEST_F(SessionTest, MissingVersionMeansVersionOne) {
  Create();
  session_->OnMessage(R"({"type":"connect","clientId":"c"})", false);
  EXPECT_EQ(session_->state(), Session::State::kConfirmed);
}

TEST_F(SessionTest, SeqGrowsByOneOnEveryFrameAfterConfirmation) {
  Create();
  Confirm();
  session_->OnMessage(R"({"type":"ping"})", false);
  session_->OnMessage("{}", false);  // an error frame
  session_->OnMessage(R"({"type":"ping"})", false);
  ASSERT_EQ(transport_.sent.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(Sent(i).seq(), i + 1);
  EXPECT_EQ(session_->last_seq(), 4u);
}

TEST_F(SessionTest, CallFramesWithoutAnUpstreamGetNotFoundForTheirMessageId) {
  Create();
  Confirm();
  session_->OnMessage(
      R"({"type":"message","messageId":"m-7","method":"demo.v1.Echo/Say","payload":{"text":"x"}})",
      false);
  Frame error = Last();
  EXPECT_EQ(error.error().message_id(), "m-7");
  EXPECT_EQ(error.error().category(), v1::ERROR_CATEGORY_NOT_FOUND);
  EXPECT_FALSE(error.error().retryable());

  session_->OnMessage(R"({"type":"message","messageId":"m-8","content":"hello"})", false);
  EXPECT_EQ(Last().error().category(), v1::ERROR_CATEGORY_INVALID_ARGUMENT);
  EXPECT_EQ(Last().error().message_id(), "m-8");

  session_->OnMessage(R"({"type":"cancel","messageId":"m-9"})", false);
  EXPECT_EQ(Last().error().message_id(), "m-9");
  EXPECT_EQ(metrics_.error_frames(v1::ERROR_CATEGORY_NOT_FOUND), 2u);
}

// The estimate (buffered_bytes) may only overstate, so it only asks for a measurement; the
// peak measured where the socket is written decides.
TEST_F(SessionTest, ASlowConsumerIsClosedWhenTheMeasuredPeakIsOverTheBound) {
  options_.max_outbound_queue = 1000;
  Create();
  Confirm();
  auto send_one = [&](const char* id) {
    session_->OnMessage(absl::StrCat(R"({"type":"cancel","messageId":")", id, R"("})"), false);
  };
  transport_.buffered = 5000;  // the estimate is over: a measurement is asked for, once
  send_one("m-1");
  send_one("m-2");
  ASSERT_EQ(transport_.fake_executor->tasks.size(), 1u);
  transport_.buffered = 10;  // by the time it is read, the socket caught up
  transport_.peak = 900;     // and never held more than the bound
  transport_.fake_executor->RunAll();
  EXPECT_FALSE(transport_.close_code.has_value());
  EXPECT_EQ(metrics_.slow_consumer_closes.load(), 0u);

  transport_.buffered = 5000;
  send_one("m-3");           // asked again
  transport_.buffered = 10;  // caught up again, but only after holding more than the bound
  transport_.peak = 2000;
  transport_.fake_executor->RunAll();
  EXPECT_EQ(transport_.close_code, cc::kSlowConsumer);
  EXPECT_EQ(transport_.close_reason, "slow_consumer");
  EXPECT_EQ(metrics_.slow_consumer_closes.load(), 1u);
}

TEST_F(SessionTest, ShutdownClosesWith1001AndClosedSessionsIgnoreEverything) {
  Create();
  Confirm();
  session_->Shutdown();
  EXPECT_EQ(transport_.close_code, cc::kGoingAway);
  EXPECT_EQ(transport_.close_reason, "server_shutdown");
  EXPECT_EQ(metrics_.closes_sent(cc::kGoingAway), 1u);
  const size_t sent = transport_.sent.size();
  session_->OnMessage(R"({"type":"ping"})", false);
  session_->OnClosed();
  session_->OnTimer(SessionTimer::kHeartbeat);
  EXPECT_EQ(transport_.sent.size(), sent);
  EXPECT_EQ(session_->state(), Session::State::kClosed);
  EXPECT_TRUE(transport_.armed.empty());
  EXPECT_EQ(transport_.released, 1);
}

TEST_F(SessionTest, BinarySessionsAnswerInBinary) {
  Create(protocol::Encoding::kBinary);
  Frame connect;
  connect.mutable_connect()->set_client_id("b");
  session_->OnMessage(connect.SerializeAsString(), true);
  ASSERT_EQ(transport_.encodings.size(), 1u);
  EXPECT_EQ(transport_.encodings[0], protocol::Encoding::kBinary);
  Frame confirm;
  ASSERT_TRUE(confirm.ParseFromString(transport_.sent[0]));
  EXPECT_EQ(confirm.connect_confirm().client_id(), "b");
}

TEST_F(SessionTest, ADroppedConnectionDetachesAndHoldsFramesUntilTheGracePeriodEnds) {
  options_.session_grace = absl::Seconds(30);
  Create();
  Confirm();
  session_->OnMessage(R"({"type":"ping"})", false);  // seq 2
  session_->OnClosed(/*client_ended=*/false);
  EXPECT_EQ(session_->state(), Session::State::kDetached);
  EXPECT_EQ(transport_.armed[SessionTimer::kGrace], absl::Seconds(30));
  EXPECT_EQ(transport_.armed.count(SessionTimer::kHeartbeat), 0u);
  EXPECT_EQ(session_->resume_buffer_frames(), 2u);
  EXPECT_EQ(transport_.released, 0);
  session_->OnTimer(SessionTimer::kGrace);
  EXPECT_EQ(session_->state(), Session::State::kClosed);
  EXPECT_EQ(transport_.released, 1);
  EXPECT_EQ(metrics_.sessions_expired.load(), 1u);
}

TEST_F(SessionTest, AClientThatClosesOnPurposeEndsItsSession) {
  Create();
  Confirm();
  session_->OnClosed(/*client_ended=*/true);
  EXPECT_EQ(session_->state(), Session::State::kClosed);
  EXPECT_EQ(transport_.released, 1);
}

TEST_F(SessionTest, ClaimsNeedTheSameEncodingAndEveryFrameAfterLastSeq) {
  Create();
  Confirm();                                         // seq 1
  session_->OnMessage(R"({"type":"ping"})", false);  // seq 2
  session_->OnMessage(R"({"type":"ping"})", false);  // seq 3
  EXPECT_FALSE(session_->TryClaim(protocol::Encoding::kBinary, 1, ""));
  EXPECT_FALSE(session_->TryClaim(protocol::Encoding::kJson, 4, ""));  // never sent
  session_->OnMessage(R"({"type":"ack","seq":2})", false);
  EXPECT_EQ(session_->resume_buffer_frames(), 1u);
  EXPECT_FALSE(session_->TryClaim(protocol::Encoding::kJson, 1, ""));  // seq 2 is gone
  EXPECT_TRUE(session_->TryClaim(protocol::Encoding::kJson, 2, ""));
  EXPECT_FALSE(session_->TryClaim(protocol::Encoding::kJson, 2, ""));  // claimed already
}

TEST_F(SessionTest, ReattachReplaysAfterLastSeqThenConfirmsResumed) {
  Create();
  Confirm();                                         // seq 1
  session_->OnMessage(R"({"type":"ping"})", false);  // seq 2
  session_->OnClosed(/*client_ended=*/false);
  ASSERT_TRUE(session_->TryClaim(protocol::Encoding::kJson, 1, ""));
  transport_.sent.clear();
  v1::Connect connect;
  connect.set_client_id("c-1");
  session_->Reattach(connect, std::nullopt);
  ASSERT_EQ(transport_.sent.size(), 2u);
  EXPECT_EQ(Sent(0).kind_case(), Frame::kPong);
  EXPECT_EQ(Sent(0).seq(), 2u);
  EXPECT_EQ(Sent(1).kind_case(), Frame::kConnectConfirm);
  EXPECT_TRUE(Sent(1).connect_confirm().resumed());
  EXPECT_EQ(Sent(1).seq(), 3u);
  EXPECT_EQ(session_->state(), Session::State::kConfirmed);
  EXPECT_EQ(transport_.armed.count(SessionTimer::kGrace), 0u);
}

TEST_F(SessionTest, AResumeNeverReplaysAConnectConfirm) {
  Create();
  Confirm();                                         // seq 1: connect_confirm
  session_->OnMessage(R"({"type":"ping"})", false);  // seq 2
  session_->OnClosed(/*client_ended=*/false);
  // lastSeq 0 would replay the first confirm (resumed: false) before the new one.
  EXPECT_FALSE(session_->TryClaim(protocol::Encoding::kJson, 0, ""));
  ASSERT_TRUE(session_->TryClaim(protocol::Encoding::kJson, 1, ""));
  v1::Connect connect;
  session_->Reattach(connect, std::nullopt);  // seq 3: the resumed confirm
  EXPECT_EQ(Last().seq(), 3u);
  session_->OnMessage(R"({"type":"ping"})", false);  // seq 4
  session_->OnClosed(/*client_ended=*/false);
  // A client that did not see confirm 3 gets a fresh session, not confirm 3 again.
  EXPECT_FALSE(session_->TryClaim(protocol::Encoding::kJson, 2, ""));
  EXPECT_TRUE(session_->TryClaim(protocol::Encoding::kJson, 3, ""));
}

TEST_F(SessionTest, AClaimKeepsWhatItWillReplayWhileTheOldConnectionGoesOn) {
  options_.resume_buffer_frames = 2;
  Create();
  Confirm();                                          // seq 1
  for (int i = 0; i < 3; ++i) session_->OnPush("1");  // seq 2..4; the buffer holds 3..4
  // A new connection claims while the old one is still open and busy.
  ASSERT_TRUE(session_->TryClaim(protocol::Encoding::kJson, 3, ""));
  for (int i = 0; i < 5; ++i) session_->OnPush("1");        // seq 5..9: over the bound, all kept
  session_->OnMessage(R"({"type":"ack","seq":8})", false);  // the old connection's ack
  transport_.sent.clear();
  v1::Connect connect;
  session_->Reattach(connect, std::nullopt);
  ASSERT_EQ(transport_.sent.size(), 7u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(Sent(i).seq(), 4 + i);
  EXPECT_TRUE(Sent(6).connect_confirm().resumed());
  // The claim is over: the bound applies again.
  EXPECT_LE(session_->resume_buffer_frames(), 2u);
}

TEST_F(SessionTest, ReattachingASessionThatEndedMeanwhileDoesNotConfirm) {
  Create();
  Confirm();
  ASSERT_TRUE(session_->TryClaim(protocol::Encoding::kJson, 1, ""));
  session_->OnClosed(/*client_ended=*/true);  // the old connection closed it on purpose
  ExpectReattachRefused();
}

TEST_F(SessionTest, RateLimitRefusalsNameTheirCallAndABatchCountsEachFrame) {
  options_.max_messages_per_second = 1;
  options_.message_burst = 3;
  options_.rate_limit_strikes = 4;
  Create();
  Confirm();  // one token
  // Two tokens left: two pings pass, the message, the cancel and the subscribe are refused.
  session_->OnMessage(R"({"type":"batch","frames":[{"type":"ping"},{"type":"ping"},)"
                      R"({"type":"message","messageId":"m1","method":"x.Y/Z"},)"
                      R"({"type":"cancel","messageId":"m2"},)"
                      R"({"type":"subscribe","channel":"news"}]})",
                      false);
  ASSERT_EQ(transport_.sent.size(), 1u + 2u + 1u + 1u + 2u);
  EXPECT_TRUE(Sent(1).has_pong());
  EXPECT_TRUE(Sent(2).has_pong());
  EXPECT_EQ(Sent(3).error().category(), v1::ERROR_CATEGORY_RATE_LIMITED);
  EXPECT_EQ(Sent(3).error().message_id(), "m1");
  EXPECT_GT(Sent(3).error().retry_after_ms(), 0u);
  EXPECT_EQ(Sent(4).error().message_id(), "m2");
  EXPECT_EQ(Sent(5).error().field(), "channel");
  EXPECT_THAT(Sent(5).error().message(), HasSubstr("news"));
  EXPECT_EQ(Sent(6).unsubscribed().channel(), "news");
  EXPECT_FALSE(transport_.close_code.has_value());
  // The fourth refusal in a row closes with 4029.
  session_->OnMessage(R"({"type":"ping"})", false);
  EXPECT_EQ(transport_.close_code, cc::kRateLimited);
}

TEST_F(SessionTest, ASlowConsumerIsToldWhyAheadOfWhatIsStillWaiting) {
  options_.max_outbound_queue = 100;
  Create();
  Confirm();
  transport_.buffered = 1000;
  transport_.peak = 1000;
  session_->OnPush("1");
  transport_.fake_executor->RunAll();
  EXPECT_EQ(metrics_.slow_consumer_closes.load(), 1u);
  EXPECT_EQ(transport_.close_code, cc::kSlowConsumer);
  EXPECT_EQ(transport_.close_reason, "slow_consumer");
  ASSERT_TRUE(transport_.closed_ahead);
  EXPECT_EQ(Last().error().category(), v1::ERROR_CATEGORY_SLOW_CONSUMER);
  EXPECT_EQ(Last().error().message_id(), "");
}

TEST_F(SessionTest, TheResumeBufferKeepsWithinItsBounds) {
  options_.resume_buffer_frames = 3;
  Create();
  Confirm();
  for (int i = 0; i < 10; ++i) session_->OnMessage(R"({"type":"ping"})", false);
  EXPECT_EQ(session_->resume_buffer_frames(), 3u);
  EXPECT_FALSE(session_->TryClaim(protocol::Encoding::kJson, 7, ""));  // 8 is gone
  EXPECT_TRUE(session_->TryClaim(protocol::Encoding::kJson, 8, ""));
}

TEST_F(SessionTest, ASessionClosedForGoodCannotBeClaimedWhileItsCloseCompletes) {
  Create();
  Confirm();
  session_->OnMessage(R"({"type":"ping"})", false);  // seq 2
  // Ordered away (BridgeControl.Disconnect); the client ignores the close and comes back at
  // once with a resume, before its old connection's close handshake is over.
  session_->OnDisconnectOrder(cc::kNormal, "disconnected");
  ASSERT_EQ(session_->state(), Session::State::kClosing);
  EXPECT_FALSE(session_->TryClaim(protocol::Encoding::kJson, 1, ""));
  session_->OnClosed(/*client_ended=*/false);
  EXPECT_EQ(session_->state(), Session::State::kClosed);
}

TEST_F(SessionTest, AnOrderToLeaveWithTheHeartbeatCodeIsNotResumableEither) {
  Create();
  Confirm();
  session_->OnDisconnectOrder(cc::kHeartbeatTimeout, "disconnected");
  EXPECT_FALSE(session_->TryClaim(protocol::Encoding::kJson, 1, ""));
}

TEST_F(SessionTest, AClaimMadeBeforeACloseForGoodIsRefusedAtReattach) {
  Create();
  Confirm();
  ASSERT_TRUE(session_->TryClaim(protocol::Encoding::kJson, 1, ""));
  session_->OnDisconnectOrder(cc::kNormal, "disconnected");
  ExpectReattachRefused();
  EXPECT_EQ(session_->state(), Session::State::kClosing);
  session_->OnClosed(/*client_ended=*/false);
  EXPECT_EQ(session_->state(), Session::State::kClosed);
}

TEST_F(SessionTest, ASessionClosedForSilenceCanStillBeResumed) {
  Create();
  Confirm();
  clock_.Advance(absl::Seconds(60));
  session_->OnTimer(SessionTimer::kHeartbeat);
  ASSERT_EQ(transport_.close_code, cc::kHeartbeatTimeout);
  EXPECT_TRUE(session_->TryClaim(protocol::Encoding::kJson, 1, ""));
}

TEST_F(SessionTest, WithResumeOffNothingIsHeldAndADropEndsTheSession) {
  options_.session_grace = absl::ZeroDuration();
  Create();
  Confirm();
  session_->OnMessage(R"({"type":"ping"})", false);
  EXPECT_EQ(session_->resume_buffer_frames(), 0u);
  EXPECT_FALSE(session_->TryClaim(protocol::Encoding::kJson, 1, ""));
  session_->OnClosed(/*client_ended=*/false);
  EXPECT_EQ(session_->state(), Session::State::kClosed);
}

TEST_F(SessionTest, DrainClosesAnIdleSessionWithAServerShutdownErrorFirst) {
  options_.drain_retry_after = absl::Milliseconds(1500);
  Create();
  Confirm();
  session_->Drain();
  Frame bye = Last();
  ASSERT_EQ(bye.kind_case(), Frame::kError);
  EXPECT_EQ(bye.error().category(), v1::ERROR_CATEGORY_SERVER_SHUTDOWN);
  EXPECT_EQ(bye.error().retry_after_ms(), 1500u);
  EXPECT_EQ(transport_.close_code, cc::kGoingAway);
}

TEST_F(SessionTest, ASessionIsClaimedOnlyByItsOwnUser) {
  Create();
  Confirm();  // anonymous
  EXPECT_FALSE(session_->TryClaim(protocol::Encoding::kJson, 1, "someone"));
  EXPECT_TRUE(session_->TryClaim(protocol::Encoding::kJson, 1, ""));
}

TEST_F(SessionTest, RandomConversationIdsAreDistinct) {
  const std::string a = Session::RandomConversationId();
  const std::string b = Session::RandomConversationId();
  EXPECT_EQ(a.size(), 34u);
  EXPECT_EQ(a.substr(0, 2), "s-");
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace bridge::session
