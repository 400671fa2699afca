// The resume rule, checked against random interleavings: sends, acks (honest, stale and
// hostile), connection drops that cut what the client received, claims (while the old
// connection is still open or after it dropped, with the client's lastSeq or any other),
// events between a claim and its replay, buffer overflow by count and by age, and grace expiry.
// After every step: a session that confirms `resumed: true` has delivered exactly lastSeq + 1,
// lastSeq + 2, ... before that confirm, and never an older connect_confirm; a client that
// resumes with what it received holds every frame 1..N without a gap.
//
// Each run is seeded by its index: a failure names the seed and the step, and replays exactly.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/protocol/error_table.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/session/session.h"
#include "gtest/gtest.h"
#include "tests/mocks/session_mocks.h"

namespace bridge::session {
namespace {

using ::bridge::testing::FakeClock;
using ::bridge::testing::FakeTransport;
using v1::Frame;

constexpr int kRuns = 3000;
constexpr int kStepsPerRun = 120;

Frame Decode(const std::string& data) {
  Frame f;
  const protocol::DecodeError error = protocol::DecodeJsonFrame(data, &f);
  EXPECT_TRUE(error.ok()) << error.message;
  return f;
}

class ResumeModel {
 public:
  explicit ResumeModel(uint64_t seed) : rng_(seed) {
    options_.session_grace = absl::Seconds(30);
    options_.resume_buffer_frames = 1 + Pick(16);
    options_.resume_buffer_bytes = Pick(2) == 0 ? (1 << 20) : 64 + Pick(2000);
    options_.resume_buffer_age = absl::Seconds(1 + Pick(60));
    options_.max_messages_per_second = 1e9;
    options_.message_burst = 1e9;
    session_ = std::make_unique<Session>(options_, protocol::Encoding::kJson, &transport_, &clock_,
                                         &metrics_, [] { return std::string("s-model"); });
    session_->Start();
    session_->OnMessage(R"({"type":"connect","clientId":"c","version":"1"})", false);
  }

  // One random step; false when the session is over (nothing more to check).
  bool Step(const std::string& where) {
    ReadNew(/*all=*/true);
    if (session_->state() == Session::State::kClosed) return false;
    switch (Pick(10)) {
      case 0:
      case 1:
        session_->OnPush(
            absl::StrCat("\"", std::string(Pick(200), 'p'), "\""));  // from the server side
        break;
      case 2:
        if (connected_) session_->OnMessage(R"({"type":"ping"})", false);
        break;
      case 3:
        if (connected_) Ack(where);
        break;
      case 4:
        if (connected_ && session_->state() == Session::State::kConfirmed) {
          // The connection drops; the client got only part of what was on its way.
          ReadNew(/*all=*/false);
          connected_ = false;
          session_->OnClosed(/*client_ended=*/false);
        }
        break;
      case 5:
        clock_.Advance(absl::Milliseconds(Pick(2 * 60000)));
        if (session_->state() == Session::State::kDetached && Pick(3) == 0) {
          clock_.Advance(options_.session_grace);
          session_->OnTimer(SessionTimer::kGrace);
        }
        break;
      default:
        Resume(where);
        break;
    }
    return true;
  }

 private:
  uint64_t Pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

  // The client reads what reached it on its connection (a prefix when `all` is false).
  void ReadNew(bool all) {
    if (!connected_) {
      read_ = transport_.sent.size();  // written to a connection nobody reads any more
      return;
    }
    size_t end = transport_.sent.size();
    if (!all && end > read_) end = read_ + Pick(end - read_ + 1);
    for (; read_ < end; ++read_) {
      const Frame f = Decode(transport_.sent[read_]);
      if (f.seq() == 0) continue;
      // In order on one connection: the frame after the last one the client holds.
      ASSERT_EQ(f.seq(), last_seq_ + 1) << "a gap on a live connection";
      last_seq_ = f.seq();
    }
    read_ = transport_.sent.size();
  }

  void Ack(const std::string& where) {
    uint64_t seq = last_seq_ == 0 ? 0 : 1 + Pick(last_seq_);
    if (Pick(8) == 0) seq = Pick(last_seq_ + 20);  // hostile: beyond what it has
    session_->OnMessage(absl::StrCat(R"({"type":"ack","seq":)", seq, "}"), false);
  }

  void Resume(const std::string& where) {
    // Usually the client's own position; sometimes a hostile one.
    uint64_t last_seq = last_seq_;
    if (Pick(6) == 0) last_seq = Pick(session_->last_seq() + 3);
    if (!session_->TryClaim(protocol::Encoding::kJson, last_seq, "")) return;
    // Between the claim (another thread) and the replay (the session's strand), anything may
    // happen on the old connection.
    for (uint64_t n = Pick(6); n > 0; --n) {
      switch (Pick(4)) {
        case 0:
        case 1:
          session_->OnPush(absl::StrCat("\"", std::string(Pick(200), 'q'), "\""));
          break;
        case 2:
          if (connected_) Ack(where);
          break;
        default:
          clock_.Advance(absl::Milliseconds(Pick(120000)));
          break;
      }
    }
    // The new connection: it sees only what is sent from here on.
    ReadNew(/*all=*/false);
    connected_ = true;
    const size_t start = transport_.sent.size();
    read_ = start;
    transport_.close_code.reset();
    v1::Connect connect;
    connect.set_client_id("c");
    session_->Reattach(connect, std::nullopt);
    if (session_->state() != Session::State::kConfirmed) {
      // The session could not be resumed: no confirm at all, and a close.
      for (size_t i = start; i < transport_.sent.size(); ++i) {
        ASSERT_FALSE(Decode(transport_.sent[i]).has_connect_confirm()) << where;
      }
      ASSERT_TRUE(transport_.close_code.has_value()) << where;
      connected_ = false;
      return;
    }
    // The rule: exactly last_seq + 1, last_seq + 2, ..., then the new confirm.
    uint64_t expect = last_seq + 1;
    bool confirmed = false;
    for (size_t i = start; i < transport_.sent.size(); ++i) {
      const Frame f = Decode(transport_.sent[i]);
      ASSERT_FALSE(confirmed) << where << ": a frame after the confirm in the replay";
      ASSERT_EQ(f.seq(), expect) << where << ": resumed after lastSeq " << last_seq;
      ++expect;
      if (f.has_connect_confirm()) {
        ASSERT_TRUE(f.connect_confirm().resumed()) << where << ": an old confirm replayed";
        confirmed = true;
      }
    }
    ASSERT_TRUE(confirmed) << where;
    read_ = transport_.sent.size();
    // An honest client now holds every frame up to the confirm; a hostile one follows the
    // session's numbering from here on.
    last_seq_ = expect - 1;
  }

  std::mt19937_64 rng_;
  SessionOptions options_;
  FakeTransport transport_;
  FakeClock clock_;
  Metrics metrics_;
  std::unique_ptr<Session> session_;
  bool connected_ = true;
  size_t read_ = 0;        // frames of transport_.sent the client has looked at
  uint64_t last_seq_ = 0;  // the last seq the client holds, in order
};

TEST(SessionResumeModelTest, AResumedSessionDeliversExactlyWhatFollowsLastSeq) {
  for (int run = 0; run < kRuns; ++run) {
    ResumeModel model(static_cast<uint64_t>(run));
    for (int step = 0; step < kStepsPerRun; ++step) {
      const std::string where = absl::StrCat("seed ", run, " step ", step);
      bool more = model.Step(where);
      if (::testing::Test::HasFatalFailure()) {
        FAIL() << where;
        return;
      }
      if (!more) break;
    }
  }
}

}  // namespace
}  // namespace bridge::session
