// The frame parser and rewriter: cutting frames of every length encoding, masked and not, in
// pieces; re-encoding byte for byte; close frames; corruption that keeps a masked frame
// masked correctly.
#include "harness/proxy/ws_frame.h"

#include <string>

#include "gtest/gtest.h"

namespace harness::proxy {
namespace {

constexpr std::array<uint8_t, 4> kMask = {0x37, 0xfa, 0x21, 0x3d};

// RFC 6455 section 5.7: a single-frame masked text message "Hello".
const std::string kMaskedHello("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);

TEST(WsFrameTest, ParsesTheRfcsMaskedExampleAndUnmasksIt) {
  WsFrame frame;
  size_t size = 0;
  ASSERT_EQ(ParseFrame(kMaskedHello, &frame, &size), ParseResult::kFrame);
  EXPECT_EQ(size, kMaskedHello.size());
  EXPECT_TRUE(frame.fin);
  EXPECT_EQ(frame.opcode, kWsText);
  ASSERT_TRUE(frame.mask.has_value());
  EXPECT_EQ(*frame.mask, kMask);
  EXPECT_EQ(frame.payload, "Hello");
  EXPECT_EQ(EncodeFrame(frame), kMaskedHello);
}

TEST(WsFrameTest, NeedsMoreUntilEveryByteOfTheFrameIsThere) {
  for (size_t n = 0; n < kMaskedHello.size(); ++n) {
    WsFrame frame;
    size_t size = 0;
    EXPECT_EQ(ParseFrame(kMaskedHello.substr(0, n), &frame, &size), ParseResult::kNeedMore) << n;
  }
}

TEST(WsFrameTest, TakesOnlyTheFirstFrameOfABuffer) {
  WsFrame pong;
  pong.opcode = kWsPong;
  pong.payload = "p";
  const std::string two = EncodeFrame(pong) + kMaskedHello;
  WsFrame frame;
  size_t size = 0;
  ASSERT_EQ(ParseFrame(two, &frame, &size), ParseResult::kFrame);
  EXPECT_EQ(frame.opcode, kWsPong);
  EXPECT_FALSE(frame.mask.has_value());
  ASSERT_EQ(ParseFrame(std::string_view(two).substr(size), &frame, &size), ParseResult::kFrame);
  EXPECT_EQ(frame.payload, "Hello");
}

TEST(WsFrameTest, RoundTripsEveryLengthEncoding) {
  for (const size_t length : {0u, 125u, 126u, 65535u, 65536u, 200000u}) {
    for (const bool masked : {false, true}) {
      WsFrame frame;
      frame.opcode = kWsBinary;
      frame.fin = false;
      frame.rsv = 0x4;
      if (masked) frame.mask = kMask;
      for (size_t i = 0; i < length; ++i) frame.payload.push_back(static_cast<char>(i * 7));
      const std::string bytes = EncodeFrame(frame);
      const size_t header = (length < 126 ? 2 : length <= 0xffff ? 4 : 10) + (masked ? 4 : 0);
      EXPECT_EQ(bytes.size(), header + length);
      WsFrame parsed;
      size_t size = 0;
      ASSERT_EQ(ParseFrame(bytes, &parsed, &size), ParseResult::kFrame) << length;
      EXPECT_EQ(size, bytes.size());
      EXPECT_FALSE(parsed.fin);
      EXPECT_EQ(parsed.rsv, 0x4);
      EXPECT_EQ(parsed.opcode, kWsBinary);
      EXPECT_EQ(parsed.mask.has_value(), masked);
      EXPECT_EQ(parsed.payload, frame.payload);
    }
  }
}

TEST(WsFrameTest, RefusesAPayloadOverTheLimitFromItsHeaderAlone) {
  WsFrame frame;
  frame.payload = std::string(1000, 'x');
  const std::string header = EncodeFrame(frame).substr(0, 4);
  WsFrame parsed;
  size_t size = 0;
  EXPECT_EQ(ParseFrame(header, &parsed, &size, 999), ParseResult::kInvalid);
  EXPECT_EQ(ParseFrame(header, &parsed, &size, 1000), ParseResult::kNeedMore);
}

TEST(WsFrameTest, CloseFrameCarriesTheCodeBigEndianThenTheReason) {
  const WsFrame close = CloseFrame(1011, "overloaded");
  EXPECT_EQ(close.opcode, kWsClose);
  EXPECT_FALSE(close.mask.has_value());
  EXPECT_EQ(EncodeFrame(close), std::string("\x88\x0c\x03\xf3overloaded", 14));
}

TEST(WsFrameTest, BadUtf8CorruptsOnlyTextFramesAndKeepsTheLength) {
  WsFrame text;
  text.payload = R"({"type":"ping"})";
  WsFrame binary;
  binary.opcode = kWsBinary;
  EXPECT_TRUE(CanCorrupt(text, Corruption::kBadUtf8));
  EXPECT_FALSE(CanCorrupt(binary, Corruption::kBadUtf8));
  const size_t length = text.payload.size();
  Corrupt(Corruption::kBadUtf8, &text);
  EXPECT_EQ(text.payload.size(), length);
  EXPECT_NE(text.payload.find('\xff'), std::string::npos);
}

TEST(WsFrameTest, CorruptingAMaskedFrameMasksItAgainWithItsKey) {
  WsFrame frame;
  size_t size = 0;
  ASSERT_EQ(ParseFrame(kMaskedHello, &frame, &size), ParseResult::kFrame);
  Corrupt(Corruption::kBadUtf8, &frame);
  const std::string bytes = EncodeFrame(frame);
  // Same header and key; only the corrupted byte differs, masked with the key.
  EXPECT_EQ(bytes.substr(0, 6), kMaskedHello.substr(0, 6));
  WsFrame parsed;
  ASSERT_EQ(ParseFrame(bytes, &parsed, &size), ParseResult::kFrame);
  EXPECT_EQ(parsed.payload, std::string("He\xfflo"));
  EXPECT_EQ(static_cast<uint8_t>(bytes[6 + 2]), 0xff ^ kMask[2]);
}

TEST(WsFrameTest, ReservedBitsAndBadOpcodeApplyToDataFramesOnly) {
  WsFrame ping;
  ping.opcode = kWsPing;
  EXPECT_FALSE(CanCorrupt(ping, Corruption::kReservedBits));
  EXPECT_FALSE(CanCorrupt(ping, Corruption::kBadOpcode));
  WsFrame frame;
  Corrupt(Corruption::kReservedBits, &frame);
  EXPECT_EQ(static_cast<uint8_t>(EncodeFrame(frame)[0]), 0xf1);
  frame = WsFrame();
  Corrupt(Corruption::kBadOpcode, &frame);
  EXPECT_EQ(static_cast<uint8_t>(EncodeFrame(frame)[0]), 0x83);
}

TEST(WsFrameTest, CorruptionNames) {
  EXPECT_EQ(CorruptionFromName("bad_utf8"), Corruption::kBadUtf8);
  EXPECT_EQ(CorruptionFromName("reserved_bits"), Corruption::kReservedBits);
  EXPECT_EQ(CorruptionFromName("bad_opcode"), Corruption::kBadOpcode);
  EXPECT_EQ(CorruptionFromName("utf8"), std::nullopt);
}

}  // namespace
}  // namespace harness::proxy
