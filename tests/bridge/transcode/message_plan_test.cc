// Plans: fields by number and by either name, wire tags, enum names, and the cache.
#include "bridge/transcode/message_plan.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "proto/demo/v1/echo.pb.h"
#include "tests/bridge/transcode/transcode_test.pb.h"

namespace bridge::transcode {
namespace {

TEST(MessagePlanTest, FindsFieldsByNumberAndBothNames) {
  PlanCache cache;
  const MessagePlan* plan = cache.Get(bridge::transcode::test::Options::descriptor());
  ASSERT_NE(plan, nullptr);
  ASSERT_EQ(plan->fields.size(), 7u);
  // Ordered by number, declaration order kept apart.
  for (size_t i = 1; i < plan->fields.size(); ++i) {
    EXPECT_LT(plan->fields[i - 1].number, plan->fields[i].number);
  }
  EXPECT_EQ(plan->fields[plan->declaration_order[0]].name, "zed");
  const int renamed = plan->FindByNumber(1);
  ASSERT_GE(renamed, 0);
  EXPECT_EQ(plan->FindByName("otherName"), renamed);
  EXPECT_EQ(plan->FindByName("renamed"), renamed);
  EXPECT_EQ(plan->FindByName("other_name"), -1);
  EXPECT_EQ(plan->FindByNumber(6), -1);
  EXPECT_EQ(plan->FindByNumber(100000), -1);
  EXPECT_EQ(plan->fields[renamed].json_key, "\"otherName\":");
}

TEST(MessagePlanTest, EncodesTagsAndPacking) {
  PlanCache cache;
  const MessagePlan* plan = cache.Get(bridge::transcode::test::Options::descriptor());
  const FieldPlan& unpacked = plan->fields[plan->FindByName("unpacked")];
  EXPECT_FALSE(unpacked.packed);
  EXPECT_TRUE(unpacked.packable);
  EXPECT_EQ(unpacked.Tag(), std::string("\x18", 1));
  EXPECT_EQ(unpacked.PackedTag(), std::string("\x1a", 1));
  const FieldPlan& fixed = plan->fields[plan->FindByName("fixed")];
  EXPECT_TRUE(fixed.packed);
  EXPECT_EQ(fixed.wire_type, wire::kFixed64);
}

TEST(MessagePlanTest, LinksNestedTypesAndWellKnownTypes) {
  PlanCache cache;
  const MessagePlan* sample = cache.Get(demo::v1::Sample::descriptor());
  const FieldPlan& inner = sample->fields[sample->FindByName("inner")];
  ASSERT_NE(inner.message, nullptr);
  const FieldPlan& children = inner.message->fields[inner.message->FindByName("children")];
  EXPECT_EQ(children.message, inner.message);  // recursion resolved to the same plan
  EXPECT_EQ(sample->fields[sample->FindByName("at")].message->well_known,
            WellKnownType::kTimestamp);
  EXPECT_EQ(sample->fields[sample->FindByName("wI64")].message->well_known,
            WellKnownType::kInt64Value);
  const FieldPlan& map = sample->fields[sample->FindByName("mapI32Inner")];
  EXPECT_TRUE(map.map);
  EXPECT_TRUE(map.message->map_entry);
  EXPECT_TRUE(sample->fields[sample->FindByName("optI32")].presence);
  EXPECT_FALSE(sample->fields[sample->FindByName("i32")].presence);
  EXPECT_TRUE(sample->fields[sample->FindByName("choiceStr")].real_oneof);
  EXPECT_FALSE(sample->fields[sample->FindByName("optI32")].real_oneof);
}

TEST(MessagePlanTest, NamesEnumValues) {
  PlanCache cache;
  const MessagePlan* sample = cache.Get(demo::v1::Sample::descriptor());
  const EnumPlan* color = sample->fields[sample->FindByName("color")].enumeration;
  ASSERT_NE(color, nullptr);
  ASSERT_NE(color->QuotedName(2), nullptr);
  EXPECT_EQ(*color->QuotedName(2), "\"COLOR_GREEN\"");
  EXPECT_EQ(color->QuotedName(4), nullptr);
  EXPECT_EQ(color->QuotedName(-1), nullptr);
  int32_t number = 0;
  EXPECT_TRUE(color->FindNumber("COLOR_BLUE", &number));
  EXPECT_EQ(number, 3);
  EXPECT_FALSE(color->FindNumber("BLUE", &number));
  EXPECT_FALSE(color->closed());
}

TEST(MessagePlanTest, CacheGivesEveryThreadTheSamePlan) {
  PlanCache cache;
  std::vector<const MessagePlan*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&cache, &seen, i] {
      seen[i] =
          cache.Get(i % 2 ? demo::v1::Sample::descriptor() : demo::v1::SayRequest::descriptor());
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], seen[i % 2]);
  }
  const MessagePlan* request = cache.Get(demo::v1::SayRequest::descriptor());
  EXPECT_EQ(request->fields[request->FindByName("sample")].message,
            cache.Get(demo::v1::Sample::descriptor()));
}

}  // namespace
}  // namespace bridge::transcode
