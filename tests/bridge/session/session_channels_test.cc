// The session's side of channels without sockets: a real Node over a broker whose answers the
// test releases by hand, so publications can be made to arrive while a subscribe is still being
// answered, repeated, or out of order; outbound batching; and, against a fake node, how every
// refusal is categorized.
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/config/config.h"
#include "bridge/protocol/error_table.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/pubsub/memory_broker.h"
#include "bridge/pubsub/node.h"
#include "bridge/pubsub/session_node.h"
#include "bridge/session/session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/mocks/session_mocks.h"

namespace bridge::session {
namespace {

using ::bridge::testing::FakeClock;
using ::bridge::testing::FakeTransport;
using v1::Frame;

constexpr char kConnect[] = R"({"type":"connect","clientId":"c-1","version":"1"})";

// A MemoryBroker whose History answers wait until the test releases them, and which can
// deliver a publication of the test's making (a repeat, a gap) as if another instance sent it.
class HeldBroker final : public pubsub::Broker, private pubsub::BrokerEvents {
 public:
  std::string name() const override { return "held"; }
  absl::Status Start(pubsub::BrokerEvents* events) override {
    events_ = events;
    return inner_.Start(this);
  }
  void Stop() override { inner_.Stop(); }
  void Publish(pubsub::Publication p, const pubsub::HistoryOptions& h,
               pubsub::Done<pubsub::Position> done) override {
    inner_.Publish(std::move(p), h, std::move(done));
  }
  void Listen(const std::string& channel, pubsub::StatusDone done) override {
    inner_.Listen(channel, std::move(done));
  }
  void Unlisten(const std::string& channel) override { inner_.Unlisten(channel); }
  void History(const std::string& channel, std::optional<pubsub::Position> since,
               const pubsub::HistoryOptions& h, pubsub::Done<pubsub::HistoryResult> done) override {
    held_.push_back([this, channel, since, h, done = std::move(done)]() mutable {
      inner_.History(channel, since, h, std::move(done));
    });
  }
  void SendPush(pubsub::Push push, pubsub::StatusDone done) override {
    inner_.SendPush(std::move(push), std::move(done));
  }
  void SendDisconnect(pubsub::DisconnectOrder o, pubsub::StatusDone done) override {
    inner_.SendDisconnect(std::move(o), std::move(done));
  }
  void AddPresence(const std::string& c, const pubsub::ClientInfo& i) override {
    inner_.AddPresence(c, i);
  }
  void RemovePresence(const std::string& c, const std::string& s) override {
    inner_.RemovePresence(c, s);
  }
  void Presence(const std::string& c, pubsub::Done<std::vector<pubsub::ClientInfo>> d) override {
    inner_.Presence(c, std::move(d));
  }
  void AddUserConnection(const pubsub::ClientInfo& i, pubsub::Done<size_t> d) override {
    inner_.AddUserConnection(i, std::move(d));
  }
  void RemoveUserConnection(const std::string& u, const std::string& s) override {
    inner_.RemoveUserConnection(u, s);
  }
  void UserConnections(const std::string& u,
                       pubsub::Done<std::vector<pubsub::ClientInfo>> d) override {
    inner_.UserConnections(u, std::move(d));
  }

  // Answers the oldest History held.
  void ReleaseHistory() {
    ASSERT_FALSE(held_.empty());
    auto next = std::move(held_.front());
    held_.pop_front();
    next();
  }
  size_t held() const { return held_.size(); }
  void Deliver(const pubsub::Publication& p) { events_->OnPublication(p); }
  // Publications are kept in the history but not delivered, as when a connection to Redis
  // drops them.
  bool drop_deliveries = false;

 private:
  void OnPublication(const pubsub::Publication& p) override {
    if (!drop_deliveries) events_->OnPublication(p);
  }
  void OnPush(const pubsub::Push& p) override { events_->OnPush(p); }
  void OnDisconnect(const pubsub::DisconnectOrder& o) override { events_->OnDisconnect(o); }

  pubsub::MemoryBroker inner_;
  pubsub::BrokerEvents* events_ = nullptr;
  std::deque<std::function<void()>> held_;
};

class SessionChannelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::ApplyDefaults(&config_);
    auto broker = std::make_unique<HeldBroker>();
    broker_ = broker.get();
    node_ = std::make_unique<pubsub::Node>(config_, std::move(broker), nullptr, &clock_);
    ASSERT_TRUE(node_->Start().ok());
    options_.node = node_.get();
  }

  void Create() {
    session_ = std::make_unique<Session>(options_, protocol::Encoding::kJson, &transport_, &clock_,
                                         &metrics_, [] { return std::string("s-1"); });
    session_->Start();
    session_->OnMessage(kConnect, false);
    ASSERT_EQ(session_->state(), Session::State::kConfirmed);
    ASSERT_EQ(Drain().size(), 1u);  // connect_confirm
  }

  void Send(const std::string& json) {
    session_->OnMessage(json, false);
    transport_.fake_executor->RunAll();
  }

  // Publishes through the node, as BridgeControl does, and runs what was posted.
  void Publish(const std::string& channel, const std::string& data) {
    bool done = false;
    node_->Publish(channel, data, "", [&done](absl::StatusOr<pubsub::Position> p) {
      ASSERT_TRUE(p.ok()) << p.status();
      done = true;
    });
    ASSERT_TRUE(done);
    transport_.fake_executor->RunAll();
  }

  // Lets the broker answer the history asked for, and returns the frames sent since.
  std::vector<Frame> ReleaseHistory() {
    broker_->ReleaseHistory();
    transport_.fake_executor->RunAll();
    return Drain();
  }

  // Subscribes to `channel` and returns its epoch from the answer.
  std::string Join(const std::string& channel) {
    Send(absl::StrCat(R"({"type":"subscribe","channel":")", channel, R"("})"));
    std::vector<Frame> frames = ReleaseHistory();
    EXPECT_FALSE(frames.empty());
    return frames.empty() ? "" : frames[0].subscribed().epoch();
  }

  // The frames sent since the last call.
  std::vector<Frame> Drain() {
    std::vector<Frame> out;
    for (; read_ < transport_.sent.size(); ++read_) {
      Frame f;
      EXPECT_TRUE(protocol::DecodeJsonFrame(transport_.sent[read_], &f).ok())
          << transport_.sent[read_];
      out.push_back(std::move(f));
    }
    return out;
  }

  static std::vector<uint64_t> Offsets(const std::vector<Frame>& frames) {
    std::vector<uint64_t> out;
    for (const Frame& f : frames) {
      if (f.has_publication()) out.push_back(f.publication().offset());
    }
    return out;
  }

  v1::BridgeConfig config_;
  FakeClock clock_;
  Metrics metrics_;
  HeldBroker* broker_ = nullptr;
  std::unique_ptr<pubsub::Node> node_;
  SessionOptions options_;
  FakeTransport transport_;
  std::unique_ptr<Session> session_;
  size_t read_ = 0;
};

TEST_F(SessionChannelsTest, PublicationsArrivingWhileTheSubscribeIsAnsweredGoOutOnceInOrder) {
  Create();
  Publish("c", "1");  // before anyone listens: only in the history
  Drain();
  Send(R"({"type":"subscribe","channel":"c","since":{"offset":0,"epoch":"?"}})");
  ASSERT_EQ(broker_->held(), 1u);
  // Live publications while the answer is held back: kept, not sent yet.
  Publish("c", "2");
  Publish("c", "3");
  EXPECT_TRUE(Drain().empty());
  // The history now holds 1..3; the epoch given does not match.
  std::vector<Frame> frames = ReleaseHistory();
  ASSERT_FALSE(frames.empty());
  ASSERT_TRUE(frames[0].has_subscribed());
  EXPECT_EQ(frames[0].subscribed().offset(), 3u);
  EXPECT_FALSE(frames[0].subscribed().recovered());
  // Not recovered: the ones covered by the position (2, 3) are not sent again.
  EXPECT_THAT(Offsets(frames), ::testing::IsEmpty());
  Publish("c", "4");
  EXPECT_THAT(Offsets(Drain()), ::testing::ElementsAre(4));
}

TEST_F(SessionChannelsTest, SinceWithoutAnEpochIsAPositionThatCannotBeHonoured) {
  Create();
  Publish("c", "1");
  Drain();
  Send(R"({"type":"subscribe","channel":"c","since":{"offset":0}})");
  std::vector<Frame> frames = ReleaseHistory();
  ASSERT_FALSE(frames.empty());
  ASSERT_TRUE(frames[0].has_subscribed());
  ASSERT_TRUE(frames[0].subscribed().has_recovered()) << "recovered must be said, and false";
  EXPECT_FALSE(frames[0].subscribed().recovered());
  EXPECT_THAT(Offsets(frames), ::testing::IsEmpty());  // nothing replayed
}

TEST_F(SessionChannelsTest, RecoveredAndHeldPublicationsDoNotRepeat) {
  Create();
  const std::string epoch = Join("c");
  Publish("c", "1");
  ASSERT_THAT(Offsets(Drain()), ::testing::ElementsAre(1));
  Send(R"({"type":"unsubscribe","channel":"c"})");
  Drain();
  Publish("c", "2");
  Send(std::string(R"({"type":"subscribe","channel":"c","since":{"offset":1,"epoch":")") + epoch +
       "\"}}");
  Publish("c", "3");  // arrives while the answer is held: held, and also in the history
  std::vector<Frame> frames = ReleaseHistory();
  ASSERT_TRUE(frames[0].has_subscribed());
  EXPECT_TRUE(frames[0].subscribed().recovered());
  EXPECT_THAT(Offsets(frames), ::testing::ElementsAre(2, 3));
}

TEST_F(SessionChannelsTest, RepeatsAreDropped) {
  Create();
  const std::string epoch = Join("c");
  Publish("c", "1");
  broker_->Deliver({"c", 1, epoch, "1", ""});  // delivered twice
  transport_.fake_executor->RunAll();
  EXPECT_THAT(Offsets(Drain()), ::testing::ElementsAre(1));
}

TEST_F(SessionChannelsTest, AGapIsFilledFromTheHistoryBeforeWhatCameAfterIt) {
  Create();
  Join("c");
  Publish("c", "1");
  broker_->drop_deliveries = true;  // 2 and 3 are lost on the way
  Publish("c", "2");
  Publish("c", "3");
  broker_->drop_deliveries = false;
  Publish("c", "4");  // the gap shows: 4 waits while 2 and 3 are fetched
  EXPECT_THAT(Offsets(Drain()), ::testing::ElementsAre(1));
  Publish("c", "5");  // held as well
  std::vector<Frame> frames = ReleaseHistory();
  EXPECT_THAT(Offsets(frames), ::testing::ElementsAre(2, 3, 4, 5));
  EXPECT_EQ(frames[0].publication().data(), "2");
  EXPECT_EQ(metrics_.channel_gaps.load(), 0u);
}

TEST_F(SessionChannelsTest, AGapTheHistoryCannotFillIsCountedAndDeliveryGoesOn) {
  config_.mutable_channels()->set_history_size(1);
  Create();
  Join("c");
  Publish("c", "1");
  broker_->drop_deliveries = true;
  Publish("c", "2");
  Publish("c", "3");
  broker_->drop_deliveries = false;
  Publish("c", "4");  // only 4 is kept now
  EXPECT_THAT(Offsets(ReleaseHistory()), ::testing::ElementsAre(1, 4));
  EXPECT_EQ(metrics_.channel_gaps.load(), 1u);
}

TEST_F(SessionChannelsTest, AfterAnInterruptedDeliveryEveryChannelChecksItsPosition) {
  Create();
  Join("c");
  broker_->drop_deliveries = true;
  Publish("c", "1");  // lost, and nothing after it to show the gap
  broker_->drop_deliveries = false;
  EXPECT_TRUE(Drain().empty());
  node_->OnDeliveryResumed();  // what the Redis broker says after reconnecting
  transport_.fake_executor->RunAll();
  EXPECT_THAT(Offsets(ReleaseHistory()), ::testing::ElementsAre(1));
}

TEST_F(SessionChannelsTest, AnUnsubscribeBeforeTheAnswerLeavesNothingBehind) {
  Create();
  Send(R"({"type":"subscribe","channel":"c"})");
  Send(R"({"type":"unsubscribe","channel":"c"})");
  std::vector<Frame> frames = Drain();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames[0].has_unsubscribed());
  broker_->ReleaseHistory();
  transport_.fake_executor->RunAll();
  Publish("c", "1");
  EXPECT_TRUE(Drain().empty());
  EXPECT_EQ(node_->counts().subscriptions, 0u);
  EXPECT_EQ(node_->counts().channels, 0u);
}

TEST_F(SessionChannelsTest, TheSessionsEndLeavesItsChannels) {
  Create();
  Send(R"({"type":"subscribe","channel":"c"})");
  broker_->ReleaseHistory();
  transport_.fake_executor->RunAll();
  EXPECT_EQ(node_->counts().subscriptions, 1u);
  session_->OnClosed(/*client_ended=*/true);
  EXPECT_EQ(transport_.released, 1);
  EXPECT_EQ(node_->counts().sessions, 0u);
  EXPECT_EQ(node_->counts().channels, 0u);
}

TEST_F(SessionChannelsTest, BatchesGoOutAtTheirSizeOrTheirDelayAndBeforeAClose) {
  options_.batch_max_frames = 3;
  options_.batch_max_delay = absl::Milliseconds(5);
  Create();  // connect_confirm went out alone, at once
  Send(R"({"type":"ping"})");
  Send(R"({"type":"ping"})");
  EXPECT_TRUE(Drain().empty());
  ASSERT_EQ(transport_.armed.count(SessionTimer::kBatch), 1u);
  EXPECT_EQ(transport_.armed[SessionTimer::kBatch], absl::Milliseconds(5));
  Send(R"({"type":"ping"})");  // the third: the batch is full
  std::vector<Frame> frames = Drain();
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_TRUE(frames[0].has_batch());
  ASSERT_EQ(frames[0].batch().frames_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(frames[0].batch().frames(i).has_pong());
    EXPECT_EQ(frames[0].batch().frames(i).seq(), 2u + i);
  }
  EXPECT_EQ(transport_.armed.count(SessionTimer::kBatch), 0u);

  Send(R"({"type":"ping"})");
  session_->OnTimer(SessionTimer::kBatch);  // the delay is up: one frame goes out alone
  frames = Drain();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames[0].has_pong());

  Send(R"({"type":"ping"})");
  session_->Shutdown();  // what is waiting goes before the close
  frames = Drain();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames[0].has_pong());
  EXPECT_EQ(transport_.close_code, 1001);
}

}  // namespace
}  // namespace bridge::session

namespace bridge::session {
namespace {

// The node as a session uses it, answering every subscribe with the status the test sets.
class RefusingNode final : public pubsub::SessionNode {
 public:
  absl::Status refusal = absl::UnavailableError("down");

  void AddSession(const pubsub::ClientInfo&, std::shared_ptr<pubsub::Subscriber>) override {}
  void AddUserConnection(const pubsub::ClientInfo&, pubsub::Done<size_t> done) override {
    done(size_t{1});
  }
  void RemoveSession(const std::string&) override {}
  void RemoveUserConnection(const std::string&, const std::string&) override {}
  void Subscribe(const std::string&, const std::string&, const std::string&,
                 std::optional<pubsub::Position>,
                 pubsub::Done<pubsub::HistoryResult> done) override {
    done(refusal);
  }
  bool Unsubscribe(const std::string&, const std::string&) override { return true; }
  void History(const std::string&, std::optional<pubsub::Position>,
               pubsub::Done<pubsub::HistoryResult> done) override {
    done(refusal);
  }
};

// A subscribe the node refuses gets the category a call with the same status gets
// (docs/protocol.md 8.4), but for the bridge's own limit, marked limit_exceeded.
TEST(SessionSubscribeRefusalTest, IsCategorizedAsACallWithTheSameStatus) {
  v1::BridgeConfig config;
  config::ApplyDefaults(&config);
  for (int code = 1; code <= 16; ++code) {
    for (const bool marked : {false, true}) {
      if (marked && code != static_cast<int>(absl::StatusCode::kResourceExhausted)) continue;
      SCOPED_TRACE(::testing::Message() << "code " << code << (marked ? " marked" : ""));
      RefusingNode node;
      node.refusal = absl::Status(static_cast<absl::StatusCode>(code), "refused");
      if (marked) {
        node.refusal = protocol::WithCategory(node.refusal, v1::ERROR_CATEGORY_LIMIT_EXCEEDED);
      }
      FakeClock clock;
      Metrics metrics;
      FakeTransport transport;
      SessionOptions options;
      options.node = &node;
      Session session(options, protocol::Encoding::kJson, &transport, &clock, &metrics,
                      [] { return std::string("s-1"); });
      session.Start();
      session.OnMessage(kConnect, false);
      ASSERT_EQ(session.state(), Session::State::kConfirmed);
      session.OnMessage(R"({"type":"subscribe","channel":"news"})", false);
      transport.fake_executor->RunAll();
      std::vector<Frame> frames;
      for (const std::string& text : transport.sent) {
        Frame f;
        ASSERT_TRUE(protocol::DecodeJsonFrame(text, &f).ok()) << text;
        frames.push_back(std::move(f));
      }
      ASSERT_GE(frames.size(), 3u);  // connect_confirm, error, unsubscribed
      const Frame& error = frames[frames.size() - 2];
      ASSERT_TRUE(error.has_error());
      EXPECT_EQ(error.error().field(), "channel");
      EXPECT_EQ(error.error().category(),
                marked ? v1::ERROR_CATEGORY_LIMIT_EXCEEDED : protocol::CategoryForGrpcCode(code));
      EXPECT_TRUE(frames.back().has_unsubscribed());
    }
  }
}

}  // namespace
}  // namespace bridge::session
