// UnmaskInPlace against websocketpp's own byte-at-a-time unmasking, with keys prepared as
// websocketpp prepares them (the 4-byte mask in both halves of a size_t).
#include "bridge/server/ws_config.h"

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace bridge::server {
namespace {

TEST(UnmaskInPlaceTest, MatchesWebsocketppForEveryLengthPhaseAndKey) {
  uint32_t seed = 12345;
  auto next = [&seed] { return seed = seed * 1664525u + 1013904223u; };
  for (size_t len = 0; len <= 67; ++len) {
    for (int phase = 0; phase < 4; ++phase) {
      websocketpp::frame::masking_key_type mask;
      mask.i = next();
      const size_t key = websocketpp::frame::circshift_prepared_key(
          websocketpp::frame::prepare_masking_key(mask), phase);
      std::string data(len, '\0');
      for (char& c : data) c = static_cast<char>(next() & 0xff);
      std::string expected = data;
      const size_t expected_key = websocketpp::frame::byte_mask_circ(
          reinterpret_cast<uint8_t*>(expected.data()), expected.size(), key);
      const size_t got_key =
          UnmaskInPlace(reinterpret_cast<uint8_t*>(data.data()), data.size(), key);
      ASSERT_EQ(data, expected) << "length " << len << " phase " << phase;
      ASSERT_EQ(static_cast<uint32_t>(got_key), static_cast<uint32_t>(expected_key));
    }
  }
}

TEST(UnmaskInPlaceTest, ChunksContinueWhereThePreviousEnded) {
  std::string whole(1000, '\0');
  for (size_t i = 0; i < whole.size(); ++i) whole[i] = static_cast<char>(i * 7);
  websocketpp::frame::masking_key_type mask;
  mask.i = 0xa1b2c3d4;
  const size_t key = websocketpp::frame::prepare_masking_key(mask);
  std::string expected = whole;
  websocketpp::frame::byte_mask_circ(reinterpret_cast<uint8_t*>(expected.data()), expected.size(),
                                     key);
  size_t k = key;
  size_t at = 0;
  for (size_t chunk : {3, 13, 1, 64, 7, 500}) {
    k = UnmaskInPlace(reinterpret_cast<uint8_t*>(whole.data() + at), chunk, k);
    at += chunk;
  }
  k = UnmaskInPlace(reinterpret_cast<uint8_t*>(whole.data() + at), whole.size() - at, k);
  EXPECT_EQ(whole, expected);
}

}  // namespace
}  // namespace bridge::server
