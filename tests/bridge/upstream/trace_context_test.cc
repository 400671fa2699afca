#include "bridge/upstream/trace_context.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bridge::upstream {
namespace {

using ::testing::HasSubstr;

constexpr char kParent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceParentTest, AVersion00ValueParsesAndPrintsBack) {
  absl::StatusOr<TraceParent> p = ParseTraceParent(kParent);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(p->parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(p->flags, "01");
  EXPECT_EQ(p->ToString(), kParent);
}

TEST(TraceParentTest, ALaterVersionMayCarryMoreWhichIsDropped) {
  absl::StatusOr<TraceParent> p =
      ParseTraceParent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->ToString(), kParent);  // written as the version this bridge knows
}

TEST(TraceParentTest, EveryMalformedShapeIsRefusedSayingWhat) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "must read"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "must read"},
      {"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "must read"},
      {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version"},
      {"0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", "after the flags"},
      {"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", "after the flags"},
      {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "trace id"},
      {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace id"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "parent id"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba9z2b7-01", "parent id"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0G", "flags"},
  };
  for (const auto& [value, says] : cases) {
    SCOPED_TRACE(value);
    absl::StatusOr<TraceParent> p = ParseTraceParent(value);
    ASSERT_FALSE(p.ok());
    EXPECT_THAT(std::string(p.status().message()), HasSubstr(says));
  }
}

TEST(TraceStateTest, PrintableAndBoundedPasses) {
  EXPECT_TRUE(CheckTraceState("").ok());
  EXPECT_TRUE(CheckTraceState("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE").ok());
  EXPECT_TRUE(CheckTraceState(std::string(kMaxTraceStateBytes, 'a')).ok());
  EXPECT_FALSE(CheckTraceState(std::string(kMaxTraceStateBytes + 1, 'a')).ok());
  EXPECT_FALSE(CheckTraceState("a=\x01").ok());
  EXPECT_FALSE(CheckTraceState("a=\xc3\xa9").ok());
}

// Hands out the given ids in turn.
HexSource Ids(std::vector<std::string> ids) {
  return [ids = std::move(ids), i = size_t{0}](size_t bytes) mutable {
    EXPECT_LT(i, ids.size());
    std::string id = ids.at(i++);
    EXPECT_EQ(id.size(), 2 * bytes);
    return id;
  };
}

TEST(ChildTraceTest, AChildKeepsTheTraceFlagsAndStateWithANewSpan) {
  const TraceParent from = *ParseTraceParent(kParent);
  std::optional<CallTrace> t = ChildTrace(&from, "k=v", false, Ids({"aaaaaaaaaaaaaaaa"}));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->parent.ToString(), "00-4bf92f3577b34da6a3ce929d0e0e4736-aaaaaaaaaaaaaaaa-01");
  EXPECT_EQ(t->tracestate, "k=v");
}

TEST(ChildTraceTest, WithoutAParentANewSampledTraceOnlyWhenAsked) {
  EXPECT_FALSE(ChildTrace(nullptr, "", false, Ids({})).has_value());
  std::optional<CallTrace> t =
      ChildTrace(nullptr, "", true, Ids({"0123456789abcdef0123456789abcdef", "fedcba9876543210"}));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->parent.ToString(), "00-0123456789abcdef0123456789abcdef-fedcba9876543210-01");
}

TEST(ChildTraceTest, AnAllZeroIdIsDrawnAgain) {
  std::optional<CallTrace> t = ChildTrace(nullptr, "", true,
                                          Ids({std::string(32, '0'), std::string(32, '7'),
                                               std::string(16, '0'), std::string(16, '8')}));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->parent.trace_id, std::string(32, '7'));
  EXPECT_EQ(t->parent.parent_id, std::string(16, '8'));
}

}  // namespace
}  // namespace bridge::upstream
