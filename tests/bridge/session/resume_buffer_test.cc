// The resume buffer alone: its three bounds, acks, and the frames a claim pins.
#include "bridge/session/resume_buffer.h"

#include <string>

#include "gtest/gtest.h"

namespace bridge::session {
namespace {

ResumeBuffer::Limits Limits(size_t frames, size_t bytes, absl::Duration age) {
  ResumeBuffer::Limits l;
  l.frames = frames;
  l.bytes = bytes;
  l.age = age;
  return l;
}

TEST(ResumeBufferTest, KeepsTheNewestFramesWithinTheFrameBound) {
  ResumeBuffer buffer(Limits(3, 1 << 20, absl::Hours(1)));
  bool dropped = false;
  for (uint64_t seq = 1; seq <= 5; ++seq) dropped = buffer.Hold(seq, "x", absl::Seconds(1));
  EXPECT_TRUE(dropped);
  EXPECT_EQ(buffer.frames(), 3u);
  EXPECT_EQ(buffer.FirstSeqOr(0), 3u);
  EXPECT_EQ(buffer.LastSeqOr(0), 5u);
  EXPECT_EQ(buffer.bytes(), 3u);
}

TEST(ResumeBufferTest, TheByteAndAgeBoundsDropTheOldest) {
  ResumeBuffer by_bytes(Limits(100, 10, absl::Hours(1)));
  EXPECT_FALSE(by_bytes.Hold(1, std::string(6, 'a'), absl::Seconds(1)));
  EXPECT_TRUE(by_bytes.Hold(2, std::string(6, 'b'), absl::Seconds(1)));
  EXPECT_EQ(by_bytes.FirstSeqOr(0), 2u);
  EXPECT_EQ(by_bytes.bytes(), 6u);

  ResumeBuffer by_age(Limits(100, 1 << 20, absl::Seconds(60)));
  by_age.Hold(1, "a", absl::Seconds(0));
  by_age.Hold(2, "b", absl::Seconds(30));
  EXPECT_FALSE(by_age.Hold(3, "c", absl::Seconds(60)));  // 60 s old: still within
  EXPECT_TRUE(by_age.Hold(4, "d", absl::Seconds(61)));
  EXPECT_EQ(by_age.FirstSeqOr(0), 2u);
}

TEST(ResumeBufferTest, NothingAfterKeepAfterIsDropped) {
  ResumeBuffer buffer(Limits(2, 1 << 20, absl::Hours(1)));
  buffer.Hold(1, "a", absl::Seconds(1));
  buffer.Hold(2, "b", absl::Seconds(1));
  // A claim at lastSeq 1 pins 2 and everything after it, over the bound.
  buffer.Hold(3, "c", absl::Seconds(1), /*keep_after=*/1);
  buffer.Hold(4, "d", absl::Seconds(1), /*keep_after=*/1);
  EXPECT_EQ(buffer.frames(), 3u);
  EXPECT_EQ(buffer.FirstSeqOr(0), 2u);
  buffer.Hold(5, "e", absl::Seconds(1));  // the claim is over: back within the bound
  EXPECT_EQ(buffer.frames(), 2u);
  EXPECT_EQ(buffer.FirstSeqOr(0), 4u);
}

TEST(ResumeBufferTest, AnAckDropsEverythingUpToIt) {
  ResumeBuffer buffer(Limits(100, 1 << 20, absl::Hours(1)));
  for (uint64_t seq = 1; seq <= 4; ++seq) buffer.Hold(seq, "ab", absl::Seconds(1));
  buffer.Trim(3);
  EXPECT_EQ(buffer.frames(), 1u);
  EXPECT_EQ(buffer.bytes(), 2u);
  EXPECT_EQ(buffer.held().front().seq, 4u);
  buffer.Trim(10);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.FirstSeqOr(11), 11u);
}

}  // namespace
}  // namespace bridge::session
