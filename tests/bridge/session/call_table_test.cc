// The call table alone: call ids that tell a call from an earlier one under the same messageId,
// and the outcomes kept for resends within their bound.
#include "bridge/session/call_table.h"

#include <string>

#include "gtest/gtest.h"

namespace bridge::session {
namespace {

v1::Frame ResponseFrame(const std::string& message_id, uint64_t seq) {
  v1::Frame frame;
  frame.set_seq(seq);
  frame.mutable_response()->set_message_id(message_id);
  frame.mutable_response()->set_payload("{}");
  return frame;
}

TEST(CallTableTest, EachCallStartedGetsAFreshId) {
  CallTable table(8);
  const uint64_t first = table.Start("a").id;
  const uint64_t second = table.Start("b").id;
  EXPECT_NE(first, 0u);
  EXPECT_GT(second, first);
  EXPECT_EQ(table.size(), 2u);
  ASSERT_NE(table.Find("a"), nullptr);
  EXPECT_EQ(table.Find("a")->id, first);
  EXPECT_EQ(table.Find("c"), nullptr);
}

TEST(CallTableTest, AnEventOfAnEarlierCallUnderTheSameMessageIdFindsNothing) {
  CallTable table(8);
  const uint64_t earlier = table.Start("a").id;
  ASSERT_TRUE(table.Take("a", earlier).has_value());
  const uint64_t later = table.Start("a").id;
  EXPECT_EQ(table.Find("a", earlier), nullptr);
  EXPECT_FALSE(table.Take("a", earlier).has_value());  // and leaves the later call be
  ASSERT_NE(table.Find("a", later), nullptr);
  EXPECT_EQ(table.Find("a", later)->id, later);
}

TEST(CallTableTest, ACallStartedAgainUnderItsMessageIdStartsClean) {
  CallTable table(8);
  ActiveCall& call = table.Start("a");
  call.read_wanted = true;
  call.content_mode = true;
  table.Take("a", call.id);
  const ActiveCall& again = table.Start("a");
  EXPECT_FALSE(again.read_wanted);
  EXPECT_FALSE(again.content_mode);
}

TEST(CallTableTest, TakeRemovesAndHandsTheCallOver) {
  CallTable table(8);
  ActiveCall& call = table.Start("a");
  call.read_wanted = true;
  const uint64_t id = call.id;
  std::optional<ActiveCall> taken = table.Take("a", id);
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->id, id);
  EXPECT_TRUE(taken->read_wanted);
  EXPECT_TRUE(table.empty());
  EXPECT_FALSE(table.Take("a", id).has_value());  // nothing left
}

TEST(CallTableTest, TakeAllEmptiesTheTable) {
  CallTable table(8);
  table.Start("a");
  table.Start("b");
  table.Start("c");
  int visited = 0;
  table.ForEach([&](ActiveCall&) { ++visited; });
  EXPECT_EQ(visited, 3);
  EXPECT_EQ(table.TakeAll().size(), 3u);
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.Find("a"), nullptr);
}

TEST(CallTableTest, AnOutcomeIsKeptWithoutItsSeqAndTheFirstOneStays) {
  CallTable table(8);
  table.RememberOutcome("a", ResponseFrame("a", 41));
  v1::Frame second = ResponseFrame("a", 42);
  second.mutable_response()->set_payload(R"({"x":1})");
  table.RememberOutcome("a", second);
  const v1::Frame* kept = table.Outcome("a");
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->seq(), 0u);  // a resend is a new frame: it gets the seq of its own sending
  EXPECT_EQ(kept->response().payload(), "{}");
  EXPECT_EQ(table.Outcome("b"), nullptr);
}

TEST(CallTableTest, OutcomesAreBoundedOldestFirst) {
  CallTable table(3);
  for (const char* id : {"a", "b", "c", "d"}) table.RememberOutcome(id, ResponseFrame(id, 1));
  EXPECT_EQ(table.outcomes(), 3u);
  EXPECT_EQ(table.Outcome("a"), nullptr);
  EXPECT_NE(table.Outcome("b"), nullptr);
  EXPECT_NE(table.Outcome("d"), nullptr);
}

TEST(CallTableTest, ATableWithoutRoomForOutcomesKeepsNone) {
  CallTable table(0);
  table.RememberOutcome("a", ResponseFrame("a", 1));
  EXPECT_EQ(table.outcomes(), 0u);
  EXPECT_EQ(table.Outcome("a"), nullptr);
}

}  // namespace
}  // namespace bridge::session
