// The suite's small parts: URL parsing, case selection, checks, and frame parsing.
#include "harness/conformance/suite.h"

#include <map>
#include <set>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/conformance/json_frame.h"

namespace harness::conformance {
namespace {

using ::testing::HasSubstr;

TEST(ParseWsUrlTest, SplitsHostPortAndPath) {
  auto t = ParseWsUrl("ws://127.0.0.1:8080/ws");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 8080);
  EXPECT_EQ(t->path, "/ws");
  t = ParseWsUrl("ws://bridge.internal/ws?token=a");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "bridge.internal");
  EXPECT_EQ(t->port, 80);
  EXPECT_EQ(t->path, "/ws?token=a");
  t = ParseWsUrl("ws://[::1]:9/");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, 9);
  t = ParseWsUrl("ws://h:1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/");
}

TEST(ParseWsUrlTest, RefusesWhatItCannotReach) {
  EXPECT_FALSE(ParseWsUrl("http://h/ws").ok());
  EXPECT_FALSE(ParseWsUrl("wss://h/ws").ok());
  EXPECT_FALSE(ParseWsUrl("ws://:80/ws").ok());
  EXPECT_FALSE(ParseWsUrl("ws://h:0/ws").ok());
  EXPECT_FALSE(ParseWsUrl("ws://h:70000/ws").ok());
  EXPECT_FALSE(ParseWsUrl("ws://h:x/ws").ok());
  EXPECT_FALSE(ParseWsUrl("ws://[::1/ws").ok());
}

TEST(CaseSelectedTest, IdsAndPrefixes) {
  EXPECT_TRUE(CaseSelected("4.10", ""));
  EXPECT_TRUE(CaseSelected("3.1", "3."));
  EXPECT_TRUE(CaseSelected("3.1", "3"));
  EXPECT_FALSE(CaseSelected("3.1", "2."));
  EXPECT_TRUE(CaseSelected("4.1", "4.1"));
  EXPECT_FALSE(CaseSelected("4.10", "4.1"));
  EXPECT_TRUE(CaseSelected("4.10", "4.1*"));
  EXPECT_TRUE(CaseSelected("5.2", "1.1, 5.2"));
  EXPECT_FALSE(CaseSelected("5.3", "1.1,5.2"));
}

TEST(AllCasesTest, IdsAreUniqueAndEveryGroupIsThere) {
  std::set<std::string> ids;
  std::set<std::string> groups;
  for (const Case& c : AllCases()) {
    EXPECT_TRUE(ids.insert(c.id).second) << c.id;
    groups.insert(c.id.substr(0, c.id.find('.')));
    EXPECT_FALSE(c.title.empty()) << c.id;
    EXPECT_FALSE(c.expected.empty()) << c.id;
    EXPECT_TRUE(c.run != nullptr) << c.id;
  }
  EXPECT_EQ(groups,
            (std::set<std::string>{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}));
}

// The report lists the cases as AllCases has them: by group, then by number ("4.9" before
// "4.10"), one group name to each group number.
TEST(AllCasesTest, CasesAreInIdOrderWithOneNamePerGroup) {
  const auto numbers = [](const std::string& id) {
    const size_t dot = id.find('.');
    return std::make_pair(std::stoi(id.substr(0, dot)), std::stoi(id.substr(dot + 1)));
  };
  std::map<int, std::string> names;
  for (size_t i = 0; i < AllCases().size(); ++i) {
    const Case& c = AllCases()[i];
    if (i > 0) {
      EXPECT_LT(numbers(AllCases()[i - 1].id), numbers(c.id)) << c.id;
    }
    const auto it = names.emplace(numbers(c.id).first, c.group).first;
    EXPECT_EQ(it->second, c.group) << c.id;
  }
}

TEST(CaseSelectedTest, AGroupPrefixDoesNotTakeTheGroupsAfterIt) {
  EXPECT_TRUE(CaseSelected("10.1", "10."));
  EXPECT_FALSE(CaseSelected("10.1", "1."));
  EXPECT_FALSE(CaseSelected("10.1", "1"));
  EXPECT_TRUE(CaseSelected("10.18", "10.1*"));
  EXPECT_FALSE(CaseSelected("1.1", "11."));
}

TEST(ChecksTest, FailBeatsNonStrictBeatsPass) {
  Checks pass;
  pass.Require(true, "x");
  EXPECT_EQ(pass.Result("seen").outcome, Outcome::kPass);
  Checks non_strict;
  non_strict.Prefer(false, "reason word");
  Verdict v = non_strict.Result("seen");
  EXPECT_EQ(v.outcome, Outcome::kNonStrict);
  EXPECT_EQ(v.observed, "reason word -- seen");
  Checks fail;
  fail.Prefer(false, "reason word");
  fail.Require(false, "seq absent");
  v = fail.Result("seen");
  EXPECT_EQ(v.outcome, Outcome::kFail);
  EXPECT_EQ(v.observed, "seq absent; also: reason word -- seen");
}

TEST(PrintableTest, EscapesControlAndHighBytesAndTruncates) {
  EXPECT_EQ(Printable("a\nb\xc3"), "a\\x0ab\\xc3");
  EXPECT_EQ(Printable("abcdef", 3), "abc... (6 bytes)");
}

TEST(JsonFrameTest, ReadsMembersByPath) {
  auto f = JsonFrame::Parse(
      R"({"type":"stream_end","status":{"code":0},"seq":"7","retryable":false,"n":-3})");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->type(), "stream_end");
  EXPECT_EQ(f->Int("status.code"), 0);
  EXPECT_EQ(f->Int("seq"), 7);  // a 64-bit integer as a string, as protobuf JSON writes it
  EXPECT_EQ(f->Int("n"), -3);
  EXPECT_EQ(f->Bool("retryable"), false);
  EXPECT_FALSE(f->Has("status.message"));
  EXPECT_FALSE(f->Int("type").has_value());
  EXPECT_THAT(std::string(JsonFrame::Parse("[1]").status().message()), HasSubstr("not a JSON"));
  EXPECT_THAT(std::string(JsonFrame::Parse("{").status().message()), HasSubstr("not JSON"));
}

}  // namespace
}  // namespace harness::conformance
