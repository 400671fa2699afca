// The JSON string literal of frames and log lines (bridge/common/json_string.h).
#include "bridge/common/json_string.h"

#include <string>

#include "gtest/gtest.h"

namespace bridge {
namespace {

std::string Quoted(std::string_view s) {
  std::string out = "x=";
  AppendJsonString(s, &out);
  return out;
}

TEST(AppendJsonStringTest, AppendsTheQuotedString) {
  EXPECT_EQ(Quoted(""), "x=\"\"");
  EXPECT_EQ(Quoted("plain text"), "x=\"plain text\"");
}

TEST(AppendJsonStringTest, EscapesQuotesBackslashesAndEveryControlCharacter) {
  EXPECT_EQ(Quoted("a\"b\\c"), "x=\"a\\\"b\\\\c\"");
  EXPECT_EQ(Quoted("\n\r\t\b\f"), "x=\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(Quoted(std::string("\x00\x01\x1f", 3)), "x=\"\\u0000\\u0001\\u001f\"");
}

TEST(AppendJsonStringTest, PassesUtf8AndOtherBytesThrough) {
  EXPECT_EQ(Quoted("h\xc3\xa9llo </script> \x7f"), "x=\"h\xc3\xa9llo </script> \x7f\"");
}

}  // namespace
}  // namespace bridge
