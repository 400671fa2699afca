// Checking toxics: defaults filled in so a toxic reads back complete, and every bad input
// refused with the field named.
#include "harness/proxy/toxic_kinds.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "harness/proxy/transport_toxics.h"
#include "harness/proxy/websocket_toxics.h"

namespace harness::proxy {
namespace {

using ::testing::HasSubstr;

v1::Toxic Toxic(const std::string& text) {
  v1::Toxic toxic;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &toxic)) << text;
  return toxic;
}

std::string Error(const std::string& text, std::string_view prefix = "") {
  v1::Toxic toxic = Toxic(text);
  const absl::Status status = NormalizeToxic(&toxic, prefix);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(status.message());
}

TEST(ToxicKindsTest, FillsInStreamNameToxicityAndTheTypesAttributes) {
  v1::Toxic toxic = Toxic(R"(type: "latency" attributes { latency: 100 })");
  ASSERT_TRUE(NormalizeToxic(&toxic).ok());
  EXPECT_EQ(toxic.stream(), "downstream");
  EXPECT_EQ(toxic.name(), "latency_downstream");
  EXPECT_EQ(toxic.toxicity(), 1);
  EXPECT_TRUE(toxic.attributes().has_jitter());
  EXPECT_EQ(toxic.attributes().jitter(), 0u);
  EXPECT_FALSE(toxic.attributes().has_rate());
}

TEST(ToxicKindsTest, KeepsWhatIsGiven) {
  v1::Toxic toxic = Toxic(R"(name: "slow_up" type: "bandwidth" stream: "upstream" )"
                          R"(toxicity: 0 attributes { rate: 5 })");
  ASSERT_TRUE(NormalizeToxic(&toxic).ok());
  EXPECT_EQ(toxic.name(), "slow_up");
  EXPECT_EQ(toxic.stream(), "upstream");
  EXPECT_EQ(toxic.toxicity(), 0);
}

TEST(ToxicKindsTest, RefusesBadInputNamingTheField) {
  EXPECT_THAT(Error(""), HasSubstr("field type: required"));
  EXPECT_THAT(Error(R"(type: "lag")"), HasSubstr("field type: unknown toxic type \"lag\""));
  EXPECT_THAT(Error(R"(type: "lag")"), HasSubstr("ws_close"));
  EXPECT_THAT(Error(R"(type: "latency" stream: "sideways")"), HasSubstr("field stream:"));
  EXPECT_THAT(Error(R"(type: "latency" toxicity: 1.5)"), HasSubstr("field toxicity:"));
  EXPECT_THAT(Error(R"(type: "latency" name: "a/b")"), HasSubstr("field name:"));
  EXPECT_THAT(Error(R"(type: "latency" attributes { rate: 3 })"),
              HasSubstr("field attributes.rate: not an attribute of latency (it takes latency, "
                        "jitter)"));
  EXPECT_THAT(Error(R"(type: "ws_drop_heartbeat" attributes { code: 1000 })"),
              HasSubstr("field attributes.code: not an attribute of ws_drop_heartbeat (it takes "
                        "none)"));
  EXPECT_THAT(Error(R"(type: "bandwidth")"), HasSubstr("field attributes.rate: must be more"));
  EXPECT_THAT(Error(R"(type: "slicer" attributes { average_size: 4 size_variation: 4 })"),
              HasSubstr("field attributes.size_variation:"));
  EXPECT_THAT(Error(R"(type: "ws_close" attributes { code: 1006 })"),
              HasSubstr("field attributes.code: must be a close code"));
  EXPECT_THAT(Error(R"(type: "ws_close")"), HasSubstr("field attributes.code:"));
  EXPECT_THAT(Error(std::string(R"(type: "ws_close" attributes { code: 1000 reason: ")") +
                    std::string(124, 'r') + "\" }"),
              HasSubstr("field attributes.reason:"));
  EXPECT_THAT(Error(R"(type: "ws_corrupt" attributes { corruption: "garble" })"),
              HasSubstr("field attributes.corruption: must be bad_utf8"));
}

TEST(ToxicKindsTest, ThePrefixPlacesTheFieldInALargerMessage) {
  EXPECT_THAT(Error(R"(type: "bandwidth")", "proxies[0].toxics[2]."),
              HasSubstr("field proxies[0].toxics[2].attributes.rate:"));
}

TEST(ToxicKindsTest, EveryCloseCodeAnEndpointMaySendIsAccepted) {
  for (const uint32_t code :
       {1000u, 1001u, 1007u, 1011u, 1012u, 1013u, 1014u, 3000u, 4029u, 4999u}) {
    v1::Toxic toxic = Toxic(R"(type: "ws_close")");
    toxic.mutable_attributes()->set_code(code);
    EXPECT_TRUE(NormalizeToxic(&toxic).ok()) << code;
  }
  for (const uint32_t code : {999u, 1004u, 1005u, 1006u, 1015u, 2999u, 5000u}) {
    v1::Toxic toxic = Toxic(R"(type: "ws_close")");
    toxic.mutable_attributes()->set_code(code);
    EXPECT_FALSE(NormalizeToxic(&toxic).ok()) << code;
  }
}

TEST(ToxicKindsTest, MakesTheStageOfEachTypeWebSocketOnesMarked) {
  v1::Toxic latency = Toxic(R"(type: "latency")");
  ASSERT_TRUE(NormalizeToxic(&latency).ok());
  EXPECT_FALSE(IsWebSocketToxic(latency));
  EXPECT_NE(std::dynamic_pointer_cast<LatencyStage>(MakeToxicStage(latency)), nullptr);
  v1::Toxic corrupt = Toxic(R"(type: "ws_corrupt" attributes { corruption: "bad_opcode" })");
  ASSERT_TRUE(NormalizeToxic(&corrupt).ok());
  EXPECT_TRUE(IsWebSocketToxic(corrupt));
  EXPECT_NE(std::dynamic_pointer_cast<WsCorruptStage>(MakeToxicStage(corrupt)), nullptr);
}

}  // namespace
}  // namespace harness::proxy
