// The fault proxy's frame rewrites: close frames, and corruption that keeps a masked frame
// masked correctly (the codec itself: tests/bridge/common/ws_frame_test.cc).
#include "harness/proxy/ws_frame.h"

#include <string>

#include "gtest/gtest.h"

namespace harness::proxy {
namespace {

constexpr std::array<uint8_t, 4> kMask = {0x37, 0xfa, 0x21, 0x3d};

// RFC 6455 section 5.7: a single-frame masked text message "Hello".
const std::string kMaskedHello("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);

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
  ASSERT_EQ(ParseFrame(kMaskedHello, &frame, &size), ParseResult::kDone);
  Corrupt(Corruption::kBadUtf8, &frame);
  const std::string bytes = EncodeFrame(frame);
  // Same header and key; only the corrupted byte differs, masked with the key.
  EXPECT_EQ(bytes.substr(0, 6), kMaskedHello.substr(0, 6));
  WsFrame parsed;
  ASSERT_EQ(ParseFrame(bytes, &parsed, &size), ParseResult::kDone);
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
