// gRPC's metadata rules as the bridge applies them, held against gRPC core's own predicates,
// and the upstream's last guard: a call gRPC would refuse (and grpc++ abort on) never starts.
#include "bridge/upstream/metadata.h"

#include <string>

#include "absl/synchronization/notification.h"
#include "bridge/config/config.h"
#include "bridge/transcode/descriptor_registry.h"
#include "bridge/upstream/grpc_upstream.h"
#include "grpc/grpc.h"
#include "grpc/slice.h"
#include "gtest/gtest.h"
#include "proto/demo/v1/echo.pb.h"

namespace bridge::upstream {
namespace {

bool GrpcKeyIsLegal(const std::string& key) {
  grpc_slice s = grpc_slice_from_copied_buffer(key.data(), key.size());
  const bool legal = grpc_header_key_is_legal(s) != 0;
  grpc_slice_unref(s);
  return legal;
}

bool GrpcValueIsLegal(const std::string& key, const std::string& value) {
  grpc_slice k = grpc_slice_from_copied_buffer(key.data(), key.size());
  grpc_slice v = grpc_slice_from_copied_buffer(value.data(), value.size());
  const bool legal = grpc_is_binary_header(k) != 0 || grpc_header_nonbin_value_is_legal(v) != 0;
  grpc_slice_unref(k);
  grpc_slice_unref(v);
  return legal;
}

TEST(MetadataRulesTest, AgreeWithGrpcCoreOnEveryByte) {
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    EXPECT_EQ(IsLegalMetadataKey(one), GrpcKeyIsLegal(one)) << b;
    EXPECT_EQ(IsLegalMetadataKey("x-" + one), GrpcKeyIsLegal("x-" + one)) << b;
    EXPECT_EQ(IsLegalMetadataValue("x-note", "a" + one), GrpcValueIsLegal("x-note", "a" + one))
        << b;
    EXPECT_TRUE(IsLegalMetadataValue("x-note-bin", one));
    EXPECT_TRUE(GrpcValueIsLegal("x-note-bin", one));
  }
  EXPECT_FALSE(IsLegalMetadataKey(""));
  EXPECT_EQ(IsLegalMetadataKey(""), GrpcKeyIsLegal(""));
  EXPECT_TRUE(IsBinaryMetadataKey("trace-bin"));
  EXPECT_FALSE(IsBinaryMetadataKey("-bin"));
  EXPECT_FALSE(IsBinaryMetadataKey("binary"));
}

TEST(MetadataRulesTest, PercentEncodingLeavesPrintableAsciiAlone) {
  EXPECT_EQ(PercentEncodeMetadataValue("c-1 ok"), "c-1 ok");
  EXPECT_EQ(PercentEncodeMetadataValue("J\xc3\xbcrgen"), "J%C3%BCrgen");
  EXPECT_EQ(PercentEncodeMetadataValue("100%\n\x7f"), "100%25%0A%7F");
  EXPECT_EQ(PercentEncodeMetadataValue(std::string("\0", 1)), "%00");
  for (int b = 0; b < 256; ++b) {
    const std::string encoded = PercentEncodeMetadataValue(std::string(1, static_cast<char>(b)));
    EXPECT_TRUE(GrpcValueIsLegal("x-bridge-client-id", encoded)) << b;
  }
}

TEST(MetadataRulesTest, SizeCountsAsHttp2AndBinaryValuesAsBase64) {
  EXPECT_EQ(MetadataListSize({{"ab", "cde"}}), 2u + 3u + 32u);
  EXPECT_EQ(MetadataEntrySize("x-bin", "abc"), 5u + 4u + 32u);
  EXPECT_EQ(MetadataListSize({{"a", ""}, {"b", "c"}}), 33u + 34u);
}

TEST(MetadataRulesTest, CheckNamesTheFirstEntryGrpcWouldRefuse) {
  EXPECT_TRUE(CheckMetadata({{"x-ok", "fine"}, {"x-raw-bin", std::string("\0\xff", 2)}}).ok());
  absl::Status bad = CheckMetadata({{"x-ok", "fine"}, {"x-note", "a\nb"}});
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("x-note"), absl::string_view::npos);
  EXPECT_FALSE(CheckMetadata({{"Upper", "v"}}).ok());
}

class Recorder final : public CallListener {
 public:
  void OnHeaders(Metadata) override {}
  void OnMessage(std::string) override {}
  void OnFinish(CallResult result) override {
    result_ = std::move(result);
    done_.Notify();
  }
  absl::Notification done_;
  CallResult result_;
};

TEST(GrpcUpstreamGuardTest, ACallWithMetadataGrpcRefusesEndsAsInvalidArgument) {
  auto config = config::ParseConfigText(
      R"(routes { service: "demo.v1.Echo" target: "127.0.0.1:1" })", "test");
  ASSERT_TRUE(config.ok()) << config.status();
  config::ApplyDefaults(&*config);
  auto registry = std::make_unique<transcode::DescriptorRegistry>();
  ASSERT_TRUE(registry->AddGeneratedFile(demo::v1::SayRequest::descriptor()->file()).ok());
  auto upstream = GrpcUpstream::Create(*config, *registry);
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  auto method = registry->FindMethod("demo.v1.Echo/Say");
  ASSERT_TRUE(method.ok());
  for (const auto& [key, value] : Metadata{{"x-note", "gr\xc3\xbc\xc3\x9f"},
                                           {"x-note", "a\nb"},
                                           {"Upper", "v"},
                                           {"x-bridge-client-id", "J\xc3\xbcrgen"}}) {
    SCOPED_TRACE(key);
    CallSpec spec;
    spec.method = *method;
    spec.metadata = {{key, value}};
    auto recorder = std::make_shared<Recorder>();
    std::shared_ptr<Call> call = (*upstream)->StartCall(spec, recorder);
    call->Write("");
    call->WritesDone();
    call->RequestRead();
    ASSERT_TRUE(recorder->done_.WaitForNotificationWithTimeout(absl::Seconds(10)));
    EXPECT_EQ(recorder->result_.code, 3);  // INVALID_ARGUMENT, never an abort
  }
}

}  // namespace
}  // namespace bridge::upstream
