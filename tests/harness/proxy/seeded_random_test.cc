// Toxic selection by toxicity: reproducible from the seed, in proportion to the toxicity, one
// draw per toxic whatever its toxicity.
#include "harness/proxy/seeded_random.h"

#include <vector>

#include "gtest/gtest.h"

namespace harness::proxy {
namespace {

std::vector<bool> Selections(uint64_t seed, double toxicity, int connections) {
  Rng rng(ProxySeed(seed, "bridge"));
  std::vector<bool> selected;
  for (int i = 0; i < connections; ++i) selected.push_back(ToxicApplies(toxicity, rng));
  return selected;
}

TEST(SeededRandomTest, TheSameSeedSelectsTheSameConnections) {
  EXPECT_EQ(Selections(7, 0.5, 200), Selections(7, 0.5, 200));
  EXPECT_NE(Selections(7, 0.5, 200), Selections(8, 0.5, 200));
}

TEST(SeededRandomTest, ProxiesOfOneSeedDrawDifferentSequences) {
  EXPECT_NE(ProxySeed(7, "bridge"), ProxySeed(7, "backend"));
  EXPECT_EQ(ProxySeed(7, "bridge"), ProxySeed(7, "bridge"));
}

TEST(SeededRandomTest, SelectsInProportionToTheToxicity) {
  for (const double toxicity : {0.1, 0.5, 0.9}) {
    int selected = 0;
    for (const bool s : Selections(42, toxicity, 10000)) selected += s;
    EXPECT_NEAR(selected / 10000.0, toxicity, 0.02) << toxicity;
  }
}

TEST(SeededRandomTest, ZeroNeverAppliesAndOneAlways) {
  for (const bool s : Selections(3, 0, 1000)) EXPECT_FALSE(s);
  for (const bool s : Selections(3, 1, 1000)) EXPECT_TRUE(s);
}

TEST(SeededRandomTest, EveryToxicDrawsOnceWhateverItsToxicity) {
  // A connection's later draws do not depend on the toxicities before them.
  Rng a(11);
  Rng b(11);
  (void)ToxicApplies(1, a);
  (void)ToxicApplies(0.3, b);
  EXPECT_EQ(a(), b());
}

TEST(SeededRandomTest, KnownValuesForSeedOne) {
  // std::mt19937_64 is specified exactly: these hold with any standard library.
  Rng rng(1);
  EXPECT_EQ(rng(), 2469588189546311528u);
  Rng again(1);
  EXPECT_DOUBLE_EQ(UniformUnit(again), (2469588189546311528u >> 11) * 0x1.0p-53);
}

TEST(SeededRandomTest, UniformIntStaysInItsRange) {
  Rng rng(5);
  bool low = false;
  bool high = false;
  for (int i = 0; i < 1000; ++i) {
    const int64_t v = UniformInt(rng, -3, 3);
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 3);
    low |= v == -3;
    high |= v == 3;
  }
  EXPECT_TRUE(low && high);
}

}  // namespace
}  // namespace harness::proxy
