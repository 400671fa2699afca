// Random identifiers (bridge/common/random_id.h): lower-case hex of the length asked for, and
// not repeated.
#include "bridge/common/random_id.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace bridge {
namespace {

TEST(RandomHexTest, IsLowerCaseHexOfTwoDigitsPerByte) {
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{8}, size_t{16}}) {
    const std::string id = RandomHex(bytes);
    EXPECT_EQ(id.size(), bytes * 2);
    for (char c : id) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
  }
}

TEST(RandomHexTest, DoesNotRepeatItself) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) EXPECT_TRUE(seen.insert(RandomHex(8)).second);
}

}  // namespace
}  // namespace bridge
