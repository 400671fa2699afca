#include "tests/support/json_frames.h"

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bridge/protocol/frame_codec.h"
#include "gtest/gtest.h"

namespace bridge::testing {

v1::Frame NextJsonFrame(WsTestClient& client, std::string* text) {
  absl::StatusOr<std::string> received = client.ReceiveText();
  EXPECT_TRUE(received.ok()) << received.status();
  v1::Frame frame;
  if (!received.ok()) return frame;
  const protocol::DecodeError error = protocol::DecodeJsonFrame(*received, &frame);
  EXPECT_TRUE(error.ok()) << error.message << " in " << *received;
  if (text != nullptr) *text = *std::move(received);
  return frame;
}

v1::Frame SubscribeJson(WsTestClient& client, const std::string& channel, const std::string& extra,
                        std::string* text) {
  EXPECT_TRUE(
      client.SendText(absl::StrCat(R"({"type":"subscribe","channel":")", channel, "\"", extra, "}"))
          .ok());
  return NextJsonFrame(client, text);
}

}  // namespace bridge::testing
