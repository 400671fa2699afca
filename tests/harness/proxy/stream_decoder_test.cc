// Cutting a direction into chunks: the upgrade head, then frames even when they arrive a byte
// at a time; raw bytes for anything that is not a WebSocket (HTTP/2 gRPC, a refused upgrade).
#include "harness/proxy/stream_decoder.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace harness::proxy {
namespace {

constexpr char kUpgradeRequest[] =
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
constexpr char kUpgradeResponse[] =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

std::string Frame(uint8_t opcode, const std::string& payload, bool masked) {
  WsFrame frame;
  frame.opcode = opcode;
  frame.payload = payload;
  if (masked) frame.mask = std::array<uint8_t, 4>{1, 2, 3, 4};
  return EncodeFrame(frame);
}

std::vector<Chunk> Drain(StreamDecoder& decoder) {
  std::vector<Chunk> chunks;
  Chunk chunk;
  while (decoder.Next(&chunk)) chunks.push_back(chunk);
  return chunks;
}

TEST(StreamDecoderTest, CutsTheUpgradeResponseThenOneChunkPerFrame) {
  StreamDecoder decoder(Direction::kDownstream);
  const std::string frames = Frame(kWsText, "one", false) + Frame(kWsPong, "", false);
  decoder.Feed(std::string(kUpgradeResponse) + frames);
  const std::vector<Chunk> chunks = Drain(decoder);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].bytes, kUpgradeResponse);
  EXPECT_EQ(chunks[0].then, Chunk::Then::kWebSocketOpen);
  EXPECT_FALSE(chunks[0].frame.has_value());
  ASSERT_TRUE(chunks[1].frame.has_value());
  EXPECT_EQ(chunks[1].frame->payload, "one");
  EXPECT_EQ(chunks[1].bytes + chunks[2].bytes, frames);
  EXPECT_EQ(chunks[2].frame->opcode, kWsPong);
  EXPECT_TRUE(decoder.in_frames());
}

TEST(StreamDecoderTest, FollowsAnUpgradeRequestFedOneByteAtATime) {
  StreamDecoder decoder(Direction::kUpstream);
  const std::string bytes = std::string(kUpgradeRequest) + Frame(kWsText, "hi", true);
  std::vector<Chunk> chunks;
  for (const char c : bytes) {
    decoder.Feed(std::string(1, c));
    for (Chunk& chunk : Drain(decoder)) chunks.push_back(std::move(chunk));
  }
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].bytes, kUpgradeRequest);
  EXPECT_EQ(chunks[0].then, Chunk::Then::kNothing);
  ASSERT_TRUE(chunks[1].frame.has_value());
  EXPECT_EQ(chunks[1].frame->payload, "hi");
  EXPECT_TRUE(chunks[1].frame->mask.has_value());
}

TEST(StreamDecoderTest, AnHttp2ConnectionPassesAsRawBytes) {
  StreamDecoder decoder(Direction::kUpstream);
  decoder.Feed("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  const std::vector<Chunk> chunks = Drain(decoder);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_FALSE(chunks[0].frame.has_value());
  EXPECT_FALSE(decoder.in_frames());
}

TEST(StreamDecoderTest, ARefusedUpgradeIsNotCutIntoFrames) {
  StreamDecoder decoder(Direction::kDownstream);
  decoder.Feed("HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno");
  const std::vector<Chunk> chunks = Drain(decoder);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].then, Chunk::Then::kNothing);
  EXPECT_EQ(chunks[1].bytes, "no");
  EXPECT_FALSE(decoder.in_frames());
}

TEST(StreamDecoderTest, APlainGetIsRawAfterItsHead) {
  StreamDecoder decoder(Direction::kUpstream);
  decoder.Feed("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(Drain(decoder).size(), 1u);
  EXPECT_FALSE(decoder.in_frames());
}

TEST(StreamDecoderTest, TheRestOfAnEndedStreamComesBackAsItIs) {
  StreamDecoder decoder(Direction::kDownstream);
  const std::string partial = Frame(kWsText, "cut short", false).substr(0, 5);
  decoder.Feed(std::string(kUpgradeResponse) + partial);
  EXPECT_EQ(Drain(decoder).size(), 1u);
  EXPECT_EQ(decoder.TakeRest(), partial);
}

TEST(StreamDecoderTest, RecognizesUpgradeHeads) {
  EXPECT_TRUE(IsWebSocketUpgradeRequest(kUpgradeRequest));
  EXPECT_FALSE(IsWebSocketUpgradeRequest("GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n"));
  EXPECT_TRUE(IsSwitchingProtocols(kUpgradeResponse));
  EXPECT_FALSE(IsSwitchingProtocols("HTTP/1.1 200 OK\r\n\r\n"));
}

}  // namespace
}  // namespace harness::proxy
