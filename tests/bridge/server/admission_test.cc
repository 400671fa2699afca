// Admission alone: the overall and per-address limits, the memory guard, and the counts a
// closed connection gives back.
#include "bridge/server/admission.h"

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace bridge::server {
namespace {

Admission::Limits Limits(size_t total, size_t per_ip, uint64_t memory = 0) {
  Admission::Limits limits;
  limits.max_connections = total;
  limits.max_per_ip = per_ip;
  limits.max_memory_bytes = memory;
  return limits;
}

TEST(AdmissionTest, OneAddressGetsNoMoreThanItsShare) {
  Admission admission(Limits(10, 2), [] { return uint64_t{0}; });
  EXPECT_EQ(admission.Admit("10.0.0.1"), Admission::Refusal::kNone);
  EXPECT_EQ(admission.Admit("10.0.0.1"), Admission::Refusal::kNone);
  EXPECT_EQ(admission.Admit("10.0.0.1"), Admission::Refusal::kTooManyConnections);
  EXPECT_EQ(admission.Admit("10.0.0.2"), Admission::Refusal::kNone);
  EXPECT_EQ(admission.open(), 3u);
  EXPECT_EQ(admission.open_from("10.0.0.1"), 2u);
  admission.Leave("10.0.0.1");
  EXPECT_EQ(admission.Admit("10.0.0.1"), Admission::Refusal::kNone);
}

TEST(AdmissionTest, TheOverallLimitHoldsAcrossAddresses) {
  Admission admission(Limits(2, 10), [] { return uint64_t{0}; });
  EXPECT_EQ(admission.Admit("a"), Admission::Refusal::kNone);
  EXPECT_EQ(admission.Admit("b"), Admission::Refusal::kNone);
  EXPECT_EQ(admission.Admit("c"), Admission::Refusal::kTooManyConnections);
  EXPECT_EQ(admission.open_from("c"), 0u);
  EXPECT_EQ(admission.addresses(), 2u);  // a refused address is not kept
}

TEST(AdmissionTest, AnAddressWhoseLastConnectionClosedIsForgotten) {
  Admission admission(Limits(10, 10), [] { return uint64_t{0}; });
  admission.Admit("a");
  admission.Admit("a");
  admission.Leave("a");
  EXPECT_EQ(admission.addresses(), 1u);
  admission.Leave("a");
  EXPECT_EQ(admission.addresses(), 0u);
  EXPECT_EQ(admission.open(), 0u);
  admission.Leave("a");  // never admitted (any more): nothing to give back
  EXPECT_EQ(admission.open(), 0u);
}

TEST(AdmissionTest, TheMemoryGuardRefusesAboveItsLimitOnly) {
  uint64_t resident = 100;
  Admission admission(Limits(10, 10, 150), [&] { return resident; });
  EXPECT_EQ(admission.Admit("a"), Admission::Refusal::kNone);
  resident = 151;
  EXPECT_EQ(admission.Admit("a"), Admission::Refusal::kMemoryLimit);
  EXPECT_EQ(admission.open(), 1u);
  EXPECT_STREQ(Admission::Name(Admission::Refusal::kMemoryLimit), "memory_limit");
  EXPECT_STREQ(Admission::Name(Admission::Refusal::kTooManyConnections), "too_many_connections");
}

TEST(AdmissionTest, NoGuardWithoutAMemoryLimit) {
  Admission admission(Limits(10, 10, 0), [] { return UINT64_MAX; });
  EXPECT_EQ(admission.Admit("a"), Admission::Refusal::kNone);
}

TEST(AdmissionTest, ThisProcessHasResidentMemory) { EXPECT_GT(Admission::ResidentBytes(), 0u); }

}  // namespace
}  // namespace bridge::server
