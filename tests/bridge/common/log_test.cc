#include "bridge/common/log.h"

#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace bridge::log {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { file_ = std::tmpfile(); }
  void TearDown() override {
    Configure(Level::kInfo, Format::kJson);
    std::fclose(file_);
  }
  std::string Written() {
    std::fflush(file_);
    std::rewind(file_);
    std::string out;
    char buf[512];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), file_)) > 0) out.append(buf, n);
    return out;
  }
  std::FILE* file_ = nullptr;
};

TEST_F(LogTest, JsonLinesAreObjectsWithTimeLevelEventAndFields) {
  Configure(Level::kInfo, Format::kJson, file_);
  Warn("origin_refused").Str("origin", "https://x\"y\n").Int("status", 403).Bool("browser", true);
  const std::string line = Written();
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &parsed).ok()) << line;
  EXPECT_EQ(parsed.fields().at("level").string_value(), "warn");
  EXPECT_EQ(parsed.fields().at("event").string_value(), "origin_refused");
  EXPECT_EQ(parsed.fields().at("origin").string_value(), "https://x\"y\n");
  EXPECT_EQ(parsed.fields().at("status").number_value(), 403);
  EXPECT_TRUE(parsed.fields().at("browser").bool_value());
  EXPECT_THAT(parsed.fields().at("ts").string_value(),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z"));
}

TEST_F(LogTest, EventsBelowTheLevelAreNotWritten) {
  Configure(Level::kWarn, Format::kJson, file_);
  Info("quiet").Str("k", "v");
  Debug("quieter");
  Error("loud");
  const std::string out = Written();
  EXPECT_THAT(out, HasSubstr("\"event\":\"loud\""));
  EXPECT_EQ(out.find("quiet"), std::string::npos);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  Configure(Level::kOff, Format::kJson, file_);
  Error("never");
  EXPECT_EQ(Written().find("never"), std::string::npos);
}

TEST_F(LogTest, TextLinesQuoteValuesThatNeedIt) {
  Configure(Level::kDebug, Format::kText, file_);
  Debug("session_closed").Str("reason", "heartbeat_timeout").Str("user", "a b").Int("code", 4000);
  EXPECT_THAT(Written(),
              MatchesRegex(".*Z debug session_closed reason=heartbeat_timeout user=\"a b\" "
                           "code=4000\n"));
}

TEST(LogNamesTest, ParseLevelsAndFormats) {
  EXPECT_EQ(ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(ParseLevel("off"), Level::kOff);
  EXPECT_FALSE(ParseLevel("verbose").has_value());
  EXPECT_EQ(ParseFormat("text"), Format::kText);
  EXPECT_FALSE(ParseFormat("xml").has_value());
}

}  // namespace
}  // namespace bridge::log
