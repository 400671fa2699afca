// Every toxic stage on its own, without sockets: a fake host records what each stage passes
// on, drops and asks of the connection. Timers run on a test-owned io_context.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "asio.hpp"
#include "gtest/gtest.h"
#include "harness/proxy/toxic.h"
#include "harness/proxy/transport_toxics.h"
#include "harness/proxy/websocket_toxics.h"

namespace harness::proxy {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class FakeHost : public StageHost {
 public:
  explicit FakeHost(Direction direction) : direction_(direction), executor_(io_.get_executor()) {}

  void Emit(ToxicStage*, Chunk chunk) override { emitted.push_back(std::move(chunk)); }
  void Release(size_t credit) override { released += credit; }
  Direction direction() const override { return direction_; }
  const asio::any_io_executor& executor() const override { return executor_; }
  Rng& rng() override { return rng_; }
  void CloseConnection() override { ++closes; }
  void ResetConnection() override { ++resets; }
  void SendCloseToClient(WsFrame close) override { closes_to_client.push_back(close); }

  // Runs the handlers that are ready.
  void Poll() {
    io_.restart();
    io_.poll();
  }

  // Runs timers until `done` holds; false after 5 s.
  template <typename Done>
  bool RunUntil(Done done) {
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (Clock::now() > deadline) return false;
      io_.restart();
      io_.run_one_for(milliseconds(10));
    }
    return true;
  }

  std::vector<Chunk> emitted;
  size_t released = 0;
  int closes = 0;
  int resets = 0;
  std::vector<WsFrame> closes_to_client;

 private:
  Direction direction_;
  asio::io_context io_;
  asio::any_io_executor executor_;
  Rng rng_{1};
};

Chunk Bytes(const std::string& bytes) {
  Chunk chunk;
  chunk.bytes = bytes;
  chunk.credit = bytes.size();
  return chunk;
}

Chunk FrameChunk(uint8_t opcode, const std::string& payload, bool masked = false) {
  WsFrame frame;
  frame.opcode = opcode;
  frame.payload = payload;
  if (masked) frame.mask = std::array<uint8_t, 4>{9, 8, 7, 6};
  Chunk chunk = Bytes(EncodeFrame(frame));
  chunk.frame = std::move(frame);
  return chunk;
}

template <typename Stage, typename... Args>
std::shared_ptr<Stage> Attach(FakeHost& host, Args... args) {
  auto stage = std::make_shared<Stage>(args...);
  stage->Attach(&host);
  return stage;
}

std::string Payloads(const std::vector<Chunk>& chunks) {
  std::string out;
  for (const Chunk& chunk : chunks) out += chunk.frame ? chunk.frame->payload : chunk.bytes;
  return out;
}

TEST(LatencyStageTest, DelaysEveryChunkAndKeepsTheirOrderDespiteJitter) {
  FakeHost host(Direction::kDownstream);
  auto stage = Attach<LatencyStage>(host, 30u, 20u);
  const Clock::time_point start = Clock::now();
  for (const char* text : {"a", "b", "c", "d", "e"}) stage->OnChunk(Bytes(text));
  EXPECT_TRUE(host.emitted.empty());
  ASSERT_TRUE(host.RunUntil([&] { return host.emitted.size() == 5; }));
  EXPECT_GE(Clock::now() - start, milliseconds(10));  // latency - jitter at least
  EXPECT_EQ(Payloads(host.emitted), "abcde");
}

TEST(LatencyStageTest, FlushPassesOnWhatItHoldsAtOnce) {
  FakeHost host(Direction::kDownstream);
  auto stage = Attach<LatencyStage>(host, 60000u, 0u);
  stage->OnChunk(Bytes("x"));
  stage->OnChunk(Bytes("y"));
  stage->Flush();
  EXPECT_EQ(Payloads(host.emitted), "xy");
}

TEST(BandwidthStageTest, PacesBytesAtTheRate) {
  FakeHost host(Direction::kDownstream);
  auto stage = Attach<BandwidthStage>(host, 1u);  // 1 KB/s: a byte a millisecond
  const Clock::time_point start = Clock::now();
  stage->OnChunk(Bytes(std::string(60, 'z')));
  ASSERT_TRUE(host.RunUntil([&] { return host.emitted.size() == 1; }));
  EXPECT_GE(Clock::now() - start, milliseconds(60));
}

TEST(SlicerStageTest, CutsIntoPiecesAroundTheAverageSizeAndKeepsCreditAndSignal) {
  FakeHost host(Direction::kDownstream);
  auto stage = Attach<SlicerStage>(host, 10u, 3u, 0u);
  Chunk chunk = Bytes(std::string(100, 's'));
  chunk.then = Chunk::Then::kWebSocketOpen;
  stage->OnChunk(std::move(chunk));
  ASSERT_TRUE(host.RunUntil([&] {
    return !host.emitted.empty() && host.emitted.back().then == Chunk::Then::kWebSocketOpen;
  }));
  size_t credit = 0;
  for (size_t i = 0; i < host.emitted.size(); ++i) {
    const Chunk& piece = host.emitted[i];
    if (i + 1 < host.emitted.size()) {
      EXPECT_GE(piece.bytes.size(), 7u);
      EXPECT_LE(piece.bytes.size(), 13u);
      EXPECT_EQ(piece.then, Chunk::Then::kNothing);
    }
    credit += piece.credit;
  }
  EXPECT_GE(host.emitted.size(), 8u);
  EXPECT_EQ(Payloads(host.emitted), std::string(100, 's'));
  EXPECT_EQ(credit, 100u);
}

TEST(TimeoutStageTest, DropsEverythingAndClosesAfterTheTimeout) {
  FakeHost host(Direction::kDownstream);
  auto stage = Attach<TimeoutStage>(host, 20u);
  stage->OnChunk(Bytes("lost"));
  EXPECT_TRUE(host.emitted.empty());
  EXPECT_EQ(host.released, 4u);
  ASSERT_TRUE(host.RunUntil([&] { return host.closes == 1; }));
}

TEST(TimeoutStageTest, ZeroNeverCloses) {
  FakeHost host(Direction::kDownstream);
  auto stage = Attach<TimeoutStage>(host, 0u);
  stage->OnChunk(Bytes("lost"));
  host.Poll();
  EXPECT_EQ(host.closes, 0);
  EXPECT_EQ(host.released, 4u);
}

TEST(ResetPeerStageTest, ResetsAfterTheTimeoutAndPassesDataMeanwhile) {
  FakeHost host(Direction::kUpstream);
  auto stage = Attach<ResetPeerStage>(host, 10u);
  stage->OnChunk(Bytes("ok"));
  EXPECT_EQ(Payloads(host.emitted), "ok");
  ASSERT_TRUE(host.RunUntil([&] { return host.resets == 1; }));
}

TEST(ResetPeerStageTest, DetachedBeforeItsTimeoutItDoesNothing) {
  FakeHost host(Direction::kUpstream);
  auto stage = Attach<ResetPeerStage>(host, 10u);
  stage->Detach();
  // A chunk delayed longer than the reset's timeout shows when it would have fired.
  auto clock = Attach<LatencyStage>(host, 30u, 0u);
  clock->OnChunk(Bytes("t"));
  ASSERT_TRUE(host.RunUntil([&] { return host.emitted.size() == 1; }));
  EXPECT_EQ(host.resets, 0);
}

TEST(LimitDataStageTest, PassesExactlyTheLimitThenClosesAndDropsTheRest) {
  FakeHost host(Direction::kDownstream);
  auto stage = Attach<LimitDataStage>(host, uint64_t{10});
  stage->OnChunk(Bytes("1234"));
  stage->OnChunk(Bytes("5678"));
  stage->OnChunk(Bytes("9abc"));
  stage->OnChunk(Bytes("more"));
  ASSERT_EQ(host.emitted.size(), 4u);
  EXPECT_EQ(host.emitted[0].bytes + host.emitted[1].bytes + host.emitted[2].bytes, "123456789a");
  EXPECT_EQ(host.emitted[3].then, Chunk::Then::kCloseConnection);
  EXPECT_EQ(host.released, 4u);
}

TEST(WsDropHeartbeatStageTest, DownstreamDropsPongControlAndJsonFramesOnly) {
  FakeHost host(Direction::kDownstream);
  auto stage = Attach<WsDropHeartbeatStage>(host);
  stage->OnChunk(FrameChunk(kWsPong, "p"));
  stage->OnChunk(FrameChunk(kWsText, R"({"type":"pong","timestamp":"t","seq":3})"));
  stage->OnChunk(FrameChunk(kWsText, R"({"type":"response","messageId":"1"})"));
  stage->OnChunk(FrameChunk(kWsPing, "keep"));
  stage->OnChunk(FrameChunk(kWsText, "not json, pong"));
  ASSERT_EQ(host.emitted.size(), 3u);
  EXPECT_EQ(host.emitted[0].frame->payload, R"({"type":"response","messageId":"1"})");
  EXPECT_EQ(host.emitted[1].frame->opcode, kWsPing);
  EXPECT_GT(host.released, 0u);
}

TEST(WsDropHeartbeatStageTest, UpstreamDropsPings) {
  FakeHost host(Direction::kUpstream);
  auto stage = Attach<WsDropHeartbeatStage>(host);
  stage->OnChunk(FrameChunk(kWsPing, "", true));
  stage->OnChunk(FrameChunk(kWsText, R"({"type":"ping"})", true));
  stage->OnChunk(FrameChunk(kWsPong, "", true));
  ASSERT_EQ(host.emitted.size(), 1u);
  EXPECT_EQ(host.emitted[0].frame->opcode, kWsPong);
}

TEST(WsStallStageTest, HoldsFramesAfterTheFirstNUntilFlushed) {
  FakeHost host(Direction::kDownstream);
  auto stage = Attach<WsStallStage>(host, 2u);
  stage->OnChunk(Bytes("head"));  // not a frame: not counted
  for (const char* text : {"1", "2", "3", "4"}) stage->OnChunk(FrameChunk(kWsText, text));
  EXPECT_EQ(Payloads(host.emitted), "head12");
  stage->Flush();
  EXPECT_EQ(Payloads(host.emitted), "head1234");
}

TEST(WsCorruptStageTest, CorruptsTheFirstTextFrameAfterNAndMasksItAgain) {
  FakeHost host(Direction::kUpstream);
  auto stage = Attach<WsCorruptStage>(host, 1u, Corruption::kBadUtf8);
  stage->OnChunk(FrameChunk(kWsText, "first", true));
  stage->OnChunk(FrameChunk(kWsBinary, "bin", true));
  stage->OnChunk(FrameChunk(kWsText, "second", true));
  stage->OnChunk(FrameChunk(kWsText, "third", true));
  ASSERT_EQ(host.emitted.size(), 4u);
  EXPECT_EQ(host.emitted[0].frame->payload, "first");
  EXPECT_EQ(host.emitted[1].frame->payload, "bin");
  EXPECT_EQ(host.emitted[3].frame->payload, "third");
  // What goes on the wire parses, masked with the frame's own key, to the corrupted payload.
  WsFrame wire;
  size_t size = 0;
  ASSERT_EQ(ParseFrame(host.emitted[2].bytes, &wire, &size), ParseResult::kDone);
  EXPECT_EQ(wire.mask, (std::array<uint8_t, 4>{9, 8, 7, 6}));
  EXPECT_EQ(wire.payload, "sec\xffnd");
}

TEST(WsCloseStageTest, DownstreamSendsTheCloseAfterNFramesThenDropsEverything) {
  FakeHost host(Direction::kDownstream);
  auto stage = Attach<WsCloseStage>(host, uint16_t{1012}, std::string("restart"), 2u, 0u);
  stage->OnWebSocketOpen();
  for (const char* text : {"1", "2", "3"}) stage->OnChunk(FrameChunk(kWsText, text));
  ASSERT_EQ(host.emitted.size(), 3u);
  const Chunk& close = host.emitted[2];
  EXPECT_EQ(close.then, Chunk::Then::kCloseSentToClient);
  EXPECT_EQ(close.bytes, EncodeFrame(CloseFrame(1012, "restart")));
  EXPECT_EQ(host.released, host.emitted[0].bytes.size());  // the third frame, dropped
}

TEST(WsCloseStageTest, UpstreamAsksTheConnectionToCloseTowardTheClient) {
  FakeHost host(Direction::kUpstream);
  auto stage = Attach<WsCloseStage>(host, uint16_t{4000}, std::string(""), 1u, 0u);
  stage->OnWebSocketOpen();
  stage->OnChunk(FrameChunk(kWsText, "connect", true));
  stage->OnChunk(FrameChunk(kWsText, "after", true));
  ASSERT_EQ(host.closes_to_client.size(), 1u);
  EXPECT_EQ(host.closes_to_client[0].payload, std::string("\x0f\xa0", 2));
  EXPECT_EQ(Payloads(host.emitted), "connect");
}

TEST(WsCloseStageTest, WithBothZeroItClosesAsTheWebSocketOpens) {
  FakeHost host(Direction::kDownstream);
  auto stage = Attach<WsCloseStage>(host, uint16_t{1011}, std::string(""), 0u, 0u);
  EXPECT_TRUE(host.emitted.empty());
  stage->OnWebSocketOpen();
  ASSERT_EQ(host.emitted.size(), 1u);
  EXPECT_EQ(host.emitted[0].then, Chunk::Then::kCloseSentToClient);
}

TEST(WsCloseStageTest, AfterMsCountsFromTheUpgrade) {
  FakeHost host(Direction::kDownstream);
  auto stage = Attach<WsCloseStage>(host, uint16_t{1013}, std::string(""), 0u, 30u);
  stage->OnChunk(FrameChunk(kWsText, "before"));
  const Clock::time_point open = Clock::now();
  stage->OnWebSocketOpen();
  ASSERT_TRUE(host.RunUntil([&] { return host.emitted.size() == 2; }));
  EXPECT_GE(Clock::now() - open, milliseconds(30));
  EXPECT_EQ(host.emitted[1].then, Chunk::Then::kCloseSentToClient);
}

TEST(JsonFrameTypeTest, ReadsTheTypeOfAJsonObject) {
  EXPECT_EQ(JsonFrameType(R"({"seq":1,"type":"pong"})"), "pong");
  EXPECT_EQ(JsonFrameType(R"({"type":1})"), std::nullopt);
  EXPECT_EQ(JsonFrameType(R"(["type"])"), std::nullopt);
  EXPECT_EQ(JsonFrameType("{broken"), std::nullopt);
}

}  // namespace
}  // namespace harness::proxy
