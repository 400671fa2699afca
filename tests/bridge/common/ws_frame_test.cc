// The project's RFC 6455 codec (bridge/common/ws_frame.h): cutting frames of every length
// encoding, masked and not, in pieces; re-encoding byte for byte; the payload bound read from
// the header alone; masking from any offset.
#include "bridge/common/ws_frame.h"

#include <string>

#include "gtest/gtest.h"

namespace bridge::ws {
namespace {

constexpr Mask kMask = {0x37, 0xfa, 0x21, 0x3d};

// RFC 6455 section 5.7: a single-frame masked text message "Hello".
const std::string kMaskedHello("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);

TEST(WsCodecTest, ParsesTheRfcsMaskedExampleAndUnmasksIt) {
  Frame frame;
  size_t size = 0;
  ASSERT_EQ(ParseFrame(kMaskedHello, &frame, &size), ParseResult::kDone);
  EXPECT_EQ(size, kMaskedHello.size());
  EXPECT_TRUE(frame.fin);
  EXPECT_EQ(frame.opcode, kText);
  ASSERT_TRUE(frame.mask.has_value());
  EXPECT_EQ(*frame.mask, kMask);
  EXPECT_EQ(frame.payload, "Hello");
  EXPECT_EQ(EncodeFrame(frame), kMaskedHello);
}

TEST(WsCodecTest, NeedsMoreUntilEveryByteOfTheFrameIsThere) {
  for (size_t n = 0; n < kMaskedHello.size(); ++n) {
    Frame frame;
    size_t size = 0;
    EXPECT_EQ(ParseFrame(kMaskedHello.substr(0, n), &frame, &size), ParseResult::kNeedMore) << n;
  }
}

TEST(WsCodecTest, TakesOnlyTheFirstFrameOfABuffer) {
  Frame pong;
  pong.opcode = kPong;
  pong.payload = "p";
  const std::string two = EncodeFrame(pong) + kMaskedHello;
  Frame frame;
  size_t size = 0;
  ASSERT_EQ(ParseFrame(two, &frame, &size), ParseResult::kDone);
  EXPECT_EQ(frame.opcode, kPong);
  EXPECT_FALSE(frame.mask.has_value());
  ASSERT_EQ(ParseFrame(std::string_view(two).substr(size), &frame, &size), ParseResult::kDone);
  EXPECT_EQ(frame.payload, "Hello");
}

TEST(WsCodecTest, RoundTripsEveryLengthEncoding) {
  for (const size_t length : {0u, 125u, 126u, 65535u, 65536u, 200000u}) {
    for (const bool masked : {false, true}) {
      Frame frame;
      frame.opcode = kBinary;
      frame.fin = false;
      frame.rsv = 0x4;
      if (masked) frame.mask = kMask;
      for (size_t i = 0; i < length; ++i) frame.payload.push_back(static_cast<char>(i * 7));
      const std::string bytes = EncodeFrame(frame);
      const size_t header = (length < 126 ? 2 : length <= 0xffff ? 4 : 10) + (masked ? 4 : 0);
      EXPECT_EQ(bytes.size(), header + length);
      Frame parsed;
      size_t size = 0;
      ASSERT_EQ(ParseFrame(bytes, &parsed, &size), ParseResult::kDone) << length;
      EXPECT_EQ(size, bytes.size());
      EXPECT_FALSE(parsed.fin);
      EXPECT_EQ(parsed.rsv, 0x4);
      EXPECT_EQ(parsed.opcode, kBinary);
      EXPECT_EQ(parsed.mask.has_value(), masked);
      EXPECT_EQ(parsed.payload, frame.payload);
    }
  }
}

TEST(WsCodecTest, RefusesAPayloadOverTheLimitFromItsHeaderAlone) {
  Frame frame;
  frame.payload = std::string(1000, 'x');
  const std::string header = EncodeFrame(frame).substr(0, 4);
  Frame parsed;
  size_t size = 0;
  EXPECT_EQ(ParseFrame(header, &parsed, &size, 999), ParseResult::kTooBig);
  EXPECT_EQ(ParseFrame(header, &parsed, &size, 1000), ParseResult::kNeedMore);
}

TEST(WsCodecTest, HeaderSizesAndFieldsRoundTrip) {
  for (const uint64_t size : {uint64_t{0}, uint64_t{125}, uint64_t{126}, uint64_t{65535},
                              uint64_t{65536}, uint64_t{1} << 40}) {
    Header header;
    header.opcode = kPing;
    header.payload_size = size;
    header.mask = kMask;
    std::string bytes;
    AppendHeader(header, &bytes);
    Header parsed;
    ASSERT_EQ(ParseHeader(bytes, &parsed, ~uint64_t{0}), ParseResult::kDone) << size;
    EXPECT_EQ(parsed.size, bytes.size());
    EXPECT_EQ(parsed.size, (size < 126 ? 2u : size <= 0xffff ? 4u : 10u) + 4u);
    EXPECT_EQ(parsed.payload_size, size);
    EXPECT_EQ(parsed.opcode, kPing);
    EXPECT_EQ(parsed.mask, header.mask);
  }
}

TEST(WsCodecTest, MaskingFromAnOffsetContinuesTheKey) {
  std::string whole(37, 'a');
  for (size_t i = 0; i < whole.size(); ++i) whole[i] = static_cast<char>(i);
  std::string split = whole;
  ApplyMask(kMask, whole.data(), whole.size());
  ApplyMask(kMask, split.data(), 5);
  ApplyMask(kMask, split.data() + 5, split.size() - 5, 5);
  EXPECT_EQ(split, whole);
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(static_cast<uint8_t>(whole[i]), static_cast<uint8_t>(i ^ kMask[i % 4])) << i;
  }
}

TEST(WsCodecTest, ClosePayloadIsTheCodeBigEndianThenTheReason) {
  EXPECT_EQ(ClosePayload(1011, "overloaded"), std::string("\x03\xf3overloaded", 12));
}

}  // namespace
}  // namespace bridge::ws
