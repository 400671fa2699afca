// The outbound batcher alone: when the delay is armed, when it is full, and what goes out (one
// frame as it is, several as the `batch` frame that holds them, in both encodings).
#include "bridge/session/batcher.h"

#include <string>

#include "bridge/protocol/frame_codec.h"
#include "gtest/gtest.h"

namespace bridge::session {
namespace {

using protocol::Encoding;

std::string Pong(Encoding encoding, uint64_t seq) {
  v1::Frame frame;
  frame.set_seq(seq);
  frame.mutable_pong();
  return protocol::EncodeFrame(encoding, frame);
}

TEST(BatcherTest, OneFrameOrLessIsOff) {
  EXPECT_FALSE(Batcher(0).enabled());
  EXPECT_FALSE(Batcher(1).enabled());
  EXPECT_TRUE(Batcher(2).enabled());
}

TEST(BatcherTest, TheFirstFrameArmsTheDelayAndTheLastOneFillsIt) {
  Batcher batcher(3);
  EXPECT_EQ(batcher.Add("a"), Batcher::Added::kFirst);
  EXPECT_EQ(batcher.Add("b"), Batcher::Added::kWaiting);
  EXPECT_EQ(batcher.Add("c"), Batcher::Added::kFull);
  EXPECT_EQ(batcher.size(), 3u);
}

TEST(BatcherTest, OneFrameWaitingGoesOutAsItIs) {
  Batcher batcher(4);
  const std::string frame = Pong(Encoding::kJson, 7);
  batcher.Add(frame);
  Batcher::Out out = batcher.Take(Encoding::kJson);
  EXPECT_EQ(out.frames, 1u);
  EXPECT_EQ(out.data, frame);
  EXPECT_TRUE(batcher.empty());
  EXPECT_EQ(batcher.Take(Encoding::kJson).frames, 0u);  // nothing waiting: nothing goes out
}

TEST(BatcherTest, SeveralFramesGoOutAsTheBatchThatHoldsThemInEitherEncoding) {
  for (Encoding encoding : {Encoding::kJson, Encoding::kBinary}) {
    Batcher batcher(4);
    batcher.Add(Pong(encoding, 1));
    batcher.Add(Pong(encoding, 2));
    batcher.Add(Pong(encoding, 3));
    Batcher::Out out = batcher.Take(encoding);
    EXPECT_EQ(out.frames, 3u);
    v1::Frame decoded;
    const protocol::DecodeError error = protocol::DecodeFrame(encoding, out.data, &decoded);
    ASSERT_TRUE(error.ok()) << error.message;
    ASSERT_TRUE(decoded.has_batch());
    ASSERT_EQ(decoded.batch().frames_size(), 3);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(decoded.batch().frames(i).seq(), static_cast<uint64_t>(i + 1));
      EXPECT_TRUE(decoded.batch().frames(i).has_pong());
    }
    EXPECT_TRUE(batcher.empty());
    EXPECT_EQ(batcher.Add("again"), Batcher::Added::kFirst);  // a new batch starts
  }
}

TEST(BatcherTest, ClearDropsWhatWaits) {
  Batcher batcher(4);
  batcher.Add("a");
  batcher.Add("b");
  batcher.Clear();
  EXPECT_TRUE(batcher.empty());
  EXPECT_EQ(batcher.Take(Encoding::kJson).frames, 0u);
}

}  // namespace
}  // namespace bridge::session
