// The fault backend on a port, called through a real gRPC channel: faults by
// request metadata and by rules set through harness.v1.BackendControl.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "harness/backend/backend_server.h"
#include "proto/demo/v1/echo.grpc.pb.h"
#include "proto/harness/v1/backend.grpc.pb.h"

namespace harness::backend {
namespace {

using ::testing::ElementsAre;

class FaultBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = StartBackend("127.0.0.1:0");
    ASSERT_TRUE(started.ok()) << started.status();
    backend_ = *std::move(started);
    auto channel = grpc::CreateChannel(backend_.target(), grpc::InsecureChannelCredentials());
    echo_ = demo::v1::Echo::NewStub(channel);
    control_ = v1::BackendControl::NewStub(channel);
  }
  void TearDown() override { backend_.server->Shutdown(); }

  // The status code of one Say with `metadata`; the trailers land in
  // `trailers`.
  int Say(const std::vector<std::pair<std::string, std::string>> &metadata = {},
          std::multimap<std::string, std::string> *trailers = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    for (const auto &[k, v] : metadata) context.AddMetadata(k, v);
    demo::v1::SayRequest request;
    request.set_text("hi");
    demo::v1::SayResponse response;
    grpc::Status status = echo_->Say(&context, request, &response);
    if (trailers != nullptr) {
      for (const auto &[k, v] : context.GetServerTrailingMetadata()) {
        trailers->emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
      }
    }
    if (status.ok()) {
      EXPECT_EQ(response.text(), "hi");
    }
    return status.error_code();
  }

  grpc::Status AddFault(const std::string &text_fields, v1::BackendFault *added = nullptr) {
    v1::AddFaultRequest request;
    EXPECT_TRUE(
        google::protobuf::TextFormat::ParseFromString(text_fields, request.mutable_fault()));
    grpc::ClientContext context;
    v1::BackendFault response;
    grpc::Status status = control_->AddFault(&context, request, &response);
    if (added != nullptr) *added = response;
    return status;
  }

  RunningBackend backend_;
  std::unique_ptr<demo::v1::Echo::Stub> echo_;
  std::unique_ptr<v1::BackendControl::Stub> control_;
};

TEST_F(FaultBackendTest, APercentageFailsExactlyThatShareSpreadEvenly) {
  std::vector<int> codes;
  for (int i = 0; i < 8; ++i) {
    codes.push_back(Say({{"demo-fail-percent", "25"}, {"demo-attempt-key", "k"}}));
  }
  // Calls 4 and 8 of every 8 (floor(n / 4) grows).
  EXPECT_THAT(codes, ElementsAre(0, 0, 0, 14, 0, 0, 0, 14));
}

TEST_F(FaultBackendTest, FailFirstThenSucceedKeepsItsCodeAndPushback) {
  std::multimap<std::string, std::string> trailers;
  const std::vector<std::pair<std::string, std::string>> md = {{"demo-fail-first", "2"},
                                                               {"demo-fail-code", "8"},
                                                               {"demo-pushback-ms", "700"},
                                                               {"demo-attempt-key", "a"}};
  EXPECT_EQ(Say(md, &trailers), 8);
  EXPECT_EQ(trailers.count("grpc-retry-pushback-ms"), 1u);
  EXPECT_EQ(trailers.find("grpc-retry-pushback-ms")->second, "700");
  EXPECT_EQ(Say(md), 8);
  EXPECT_EQ(Say(md), 0);
}

TEST_F(FaultBackendTest, ARuleSetThroughTheControlApiAppliesToItsMethodOnly) {
  v1::BackendFault added;
  ASSERT_TRUE(AddFault(R"(method: "Say" abort_code: 14 fail_first: 1)", &added).ok());
  EXPECT_EQ(added.name(), "Say_0");
  EXPECT_EQ(Say(), 14);
  EXPECT_EQ(Say(), 0);

  grpc::ClientContext context;
  v1::ListFaultsResponse list;
  ASSERT_TRUE(control_->ListFaults(&context, v1::ListFaultsRequest(), &list).ok());
  ASSERT_EQ(list.faults_size(), 1);
  EXPECT_EQ(list.faults(0).matched(), 2u);

  // Repeat is not matched by a rule for Say.
  grpc::ClientContext repeat_context;
  demo::v1::RepeatRequest repeat;
  repeat.set_count(2);
  auto reader = echo_->Repeat(&repeat_context, repeat);
  demo::v1::SayResponse reply;
  int replies = 0;
  while (reader->Read(&reply)) ++replies;
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(replies, 2);
}

TEST_F(FaultBackendTest, MetadataWinsOverRulesAndResetClearsThem) {
  ASSERT_TRUE(AddFault(R"(abort_code: 7)").ok());
  EXPECT_EQ(Say(), 7);
  EXPECT_EQ(Say({{"demo-fail-code", "5"}}), 5);

  grpc::ClientContext context;
  v1::ResetFaultsResponse reset;
  ASSERT_TRUE(control_->ResetFaults(&context, v1::ResetFaultsRequest(), &reset).ok());
  EXPECT_EQ(Say(), 0);
}

TEST_F(FaultBackendTest, ARuleDelayHoldsTheAnswerUntilTheDeadline) {
  ASSERT_TRUE(AddFault(R"(method: "Say" delay_ms: 5000)").ok());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  demo::v1::SayResponse response;
  EXPECT_EQ(echo_->Say(&context, demo::v1::SayRequest(), &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(FaultBackendTest, BadRulesAreRefusedNamingTheField) {
  grpc::Status status = AddFault(R"(method: "Nope" abort_code: 14)");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("field method"));
  status = AddFault(R"(abort_code: 14 percent: 101)");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("field percent"));
  status = AddFault(R"(abort_code: 17)");
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("field abort_code"));
  ASSERT_TRUE(AddFault(R"(name: "x" abort_code: 14)").ok());
  EXPECT_EQ(AddFault(R"(name: "x" abort_code: 14)").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  grpc::ClientContext context;
  v1::RemoveFaultRequest remove;
  remove.set_name("nope");
  v1::RemoveFaultResponse removed;
  EXPECT_EQ(control_->RemoveFault(&context, remove, &removed).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(FaultBackendTest, StatsCountCallsByMethod) {
  Say();
  Say();
  grpc::ClientContext context;
  v1::BackendStats stats;
  ASSERT_TRUE(control_->GetStats(&context, v1::GetStatsRequest(), &stats).ok());
  EXPECT_EQ(stats.calls().at("Say"), 2u);
}

}  // namespace
}  // namespace harness::backend
