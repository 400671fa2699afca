// The metrics table (bridge/metrics/metrics.h, BRIDGE_COUNTERS): every row is one member and one
// Prometheus counter with its HELP and TYPE, the names are unique, and a count reaches its line.
#include "bridge/metrics/metrics.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bridge/protocol/error_table.h"
#include "gtest/gtest.h"

namespace bridge {
namespace {

struct Row {
  Counter Metrics::*member;
  std::string name;
};

std::vector<Row> Rows() {
  std::vector<Row> rows;
#define BRIDGE_TEST_ROW(member, name, help) rows.push_back({&Metrics::member, name});
  BRIDGE_COUNTERS(BRIDGE_TEST_ROW)
#undef BRIDGE_TEST_ROW
  return rows;
}

size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(MetricsTableTest, EveryRowIsOneUniquelyNamedCounterWithHelpAndType) {
  Metrics metrics;
  const std::string text = metrics.RenderPrometheus();
  std::set<std::string> names;
  for (const Row& row : Rows()) {
    EXPECT_TRUE(names.insert(row.name).second) << row.name << " twice in the table";
    EXPECT_TRUE(absl::EndsWith(row.name, "_total")) << row.name;
    EXPECT_EQ(Occurrences(text, absl::StrCat("# HELP ", row.name, " ")), 1u) << row.name;
    EXPECT_EQ(Occurrences(text, absl::StrCat("# TYPE ", row.name, " counter\n")), 1u) << row.name;
    EXPECT_EQ(Occurrences(text, absl::StrCat("\n", row.name, " 0\n")), 1u) << row.name;
  }
}

TEST(MetricsTableTest, ACountReachesItsOwnLineOnly) {
  const std::vector<Row> rows = Rows();
  for (size_t i = 0; i < rows.size(); ++i) {
    Metrics metrics;
    (metrics.*(rows[i].member)).fetch_add(7 + i);
    const std::string text = metrics.RenderPrometheus();
    EXPECT_TRUE(absl::StrContains(text, absl::StrCat("\n", rows[i].name, " ", 7 + i, "\n")))
        << rows[i].name;
    for (size_t j = 0; j < rows.size(); ++j) {
      if (j != i) {
        EXPECT_TRUE(absl::StrContains(text, absl::StrCat("\n", rows[j].name, " 0\n")))
            << rows[j].name << " moved with " << rows[i].name;
      }
    }
  }
}

TEST(MetricsTableTest, ErrorFramesHaveALineForEveryCategory) {
  Metrics metrics;
  metrics.CountErrorFrame(v1::ERROR_CATEGORY_NORMAL_CLOSURE);
  const std::string text = metrics.RenderPrometheus();
  for (int i = 1; i < v1::ErrorCategory_ARRAYSIZE; ++i) {
    if (!v1::ErrorCategory_IsValid(i)) continue;
    const auto category = static_cast<v1::ErrorCategory>(i);
    const std::string_view name = protocol::CategoryName(category);
    EXPECT_TRUE(absl::StrContains(
        text, absl::StrCat("bridge_error_frames_total{category=\"", std::string(name), "\"} ",
                           category == v1::ERROR_CATEGORY_NORMAL_CLOSURE ? 1 : 0, "\n")))
        << name;
  }
}

}  // namespace
}  // namespace bridge
