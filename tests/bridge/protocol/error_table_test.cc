// Tests of bridge/protocol/error_table against the table "Errors and their categories" of
// docs/protocol.md: every gRPC status code, every close code, codes outside the table, category
// names, and which categories are retryable.
#include "bridge/protocol/error_table.h"

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "proto/bridge/v1/frame.pb.h"

namespace bridge::protocol {
namespace {

using v1::ErrorCategory;

// ---------------------------------------------------------------------------------------------
// gRPC status code of a call -> category.

struct GrpcCase {
  int code;
  const char* name;
  ErrorCategory category;
};

class GrpcCodeTest : public ::testing::TestWithParam<GrpcCase> {};

TEST_P(GrpcCodeTest, MapsToTheCategoryOfTheTable) {
  const GrpcCase& c = GetParam();
  EXPECT_EQ(CategoryForGrpcCode(c.code), c.category)
      << c.name << " -> " << CategoryName(CategoryForGrpcCode(c.code));
}

// All 17 codes of grpc::StatusCode, by their numbers.
INSTANTIATE_TEST_SUITE_P(
    AllCodes, GrpcCodeTest,
    ::testing::Values(GrpcCase{0, "OK", v1::ERROR_CATEGORY_UNSPECIFIED},
                      GrpcCase{1, "CANCELLED", v1::ERROR_CATEGORY_CANCELLED},
                      GrpcCase{2, "UNKNOWN", v1::ERROR_CATEGORY_INTERNAL},
                      GrpcCase{3, "INVALID_ARGUMENT", v1::ERROR_CATEGORY_INVALID_ARGUMENT},
                      GrpcCase{4, "DEADLINE_EXCEEDED", v1::ERROR_CATEGORY_TIMEOUT},
                      GrpcCase{5, "NOT_FOUND", v1::ERROR_CATEGORY_NOT_FOUND},
                      GrpcCase{6, "ALREADY_EXISTS", v1::ERROR_CATEGORY_INVALID_ARGUMENT},
                      GrpcCase{7, "PERMISSION_DENIED", v1::ERROR_CATEGORY_PERMISSION_DENIED},
                      GrpcCase{8, "RESOURCE_EXHAUSTED", v1::ERROR_CATEGORY_RATE_LIMITED},
                      GrpcCase{9, "FAILED_PRECONDITION", v1::ERROR_CATEGORY_INVALID_ARGUMENT},
                      GrpcCase{10, "ABORTED", v1::ERROR_CATEGORY_CANCELLED},
                      GrpcCase{11, "OUT_OF_RANGE", v1::ERROR_CATEGORY_INVALID_ARGUMENT},
                      GrpcCase{12, "UNIMPLEMENTED", v1::ERROR_CATEGORY_NOT_FOUND},
                      GrpcCase{13, "INTERNAL", v1::ERROR_CATEGORY_INTERNAL},
                      GrpcCase{14, "UNAVAILABLE", v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE},
                      GrpcCase{15, "DATA_LOSS", v1::ERROR_CATEGORY_INTERNAL},
                      GrpcCase{16, "UNAUTHENTICATED", v1::ERROR_CATEGORY_AUTHENTICATION_FAILED}),
    [](const ::testing::TestParamInfo<GrpcCase>& info) { return std::string(info.param.name); });

// A failure the bridge reports as an absl::Status (a refused subscribe) is categorized by the
// same table as a call's status, code for code.
TEST_P(GrpcCodeTest, AStatusWithTheSameCodeGetsTheSameCategory) {
  const GrpcCase& c = GetParam();
  const absl::Status status(static_cast<absl::StatusCode>(c.code), "why");
  EXPECT_EQ(CategoryForStatus(status), c.category)
      << c.name << " -> " << CategoryName(CategoryForStatus(status));
}

TEST(CategoryForStatusTest, ACategoryAttachedByTheBridgeWins) {
  const absl::Status limit = WithCategory(absl::ResourceExhaustedError("at most 128 channels"),
                                          v1::ERROR_CATEGORY_LIMIT_EXCEEDED);
  EXPECT_EQ(CategoryForStatus(limit), v1::ERROR_CATEGORY_LIMIT_EXCEEDED);
  EXPECT_EQ(limit.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(limit.message(), "at most 128 channels");
  // Without it, the code's row: what a call with RESOURCE_EXHAUSTED gets.
  EXPECT_EQ(CategoryForStatus(absl::ResourceExhaustedError("x")), v1::ERROR_CATEGORY_RATE_LIMITED);
  // OK carries no payload and has no category.
  EXPECT_TRUE(WithCategory(absl::OkStatus(), v1::ERROR_CATEGORY_INTERNAL).ok());
  EXPECT_EQ(CategoryForStatus(absl::OkStatus()), v1::ERROR_CATEGORY_UNSPECIFIED);
}

TEST(GrpcCodeOutsideTheTableTest, IsInternal) {
  for (int code : {17, 100, -1, 1000}) {
    EXPECT_EQ(CategoryForGrpcCode(code), v1::ERROR_CATEGORY_INTERNAL) << code;
  }
}

// ---------------------------------------------------------------------------------------------
// Close code of a session -> category, reconnect, least delay.

struct CloseCase {
  int code;
  const char* name;
  ErrorCategory category;
  bool reconnect;
  int min_delay_ms;
};

class CloseCodeTest : public ::testing::TestWithParam<CloseCase> {};

TEST_P(CloseCodeTest, MatchesTheTable) {
  const CloseCase& c = GetParam();
  const CloseDisposition d = ClassifyClose(c.code);
  EXPECT_EQ(d.category, c.category) << c.code << " -> " << CategoryName(d.category);
  EXPECT_EQ(d.reconnect, c.reconnect) << c.code;
  EXPECT_EQ(d.min_delay_ms, c.min_delay_ms) << c.code;
}

INSTANTIATE_TEST_SUITE_P(
    AllCodes, CloseCodeTest,
    ::testing::Values(
        CloseCase{1000, "Normal", v1::ERROR_CATEGORY_NORMAL_CLOSURE, false, 0},
        CloseCase{1001, "GoingAway", v1::ERROR_CATEGORY_SERVER_SHUTDOWN, true, 0},
        CloseCase{1002, "ProtocolError", v1::ERROR_CATEGORY_PROTOCOL_ERROR, false, 0},
        CloseCase{1003, "UnsupportedData", v1::ERROR_CATEGORY_PROTOCOL_ERROR, false, 0},
        CloseCase{1006, "Abnormal", v1::ERROR_CATEGORY_NETWORK_ERROR, true, 0},
        CloseCase{1007, "InvalidPayload", v1::ERROR_CATEGORY_PROTOCOL_ERROR, false, 0},
        CloseCase{1008, "PolicyViolation", v1::ERROR_CATEGORY_PERMISSION_DENIED, false, 0},
        CloseCase{1009, "MessageTooBig", v1::ERROR_CATEGORY_MESSAGE_TOO_BIG, false, 0},
        CloseCase{1011, "InternalError", v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, true, 1000},
        CloseCase{1012, "ServiceRestart", v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, true, 0},
        CloseCase{1013, "TryAgainLater", v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, true, 0},
        CloseCase{1014, "BadGateway", v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, true, 0},
        CloseCase{4000, "HeartbeatTimeout", v1::ERROR_CATEGORY_TIMEOUT, true, 0},
        CloseCase{4001, "HandshakeTimeout", v1::ERROR_CATEGORY_TIMEOUT, true, 0},
        CloseCase{4002, "SlowConsumer", v1::ERROR_CATEGORY_SLOW_CONSUMER, true, 0},
        CloseCase{4029, "RateLimited", v1::ERROR_CATEGORY_RATE_LIMITED, true, 0},
        CloseCase{4500, "Unauthenticated", v1::ERROR_CATEGORY_AUTHENTICATION_FAILED, false, 0},
        CloseCase{4501, "Forbidden", v1::ERROR_CATEGORY_PERMISSION_DENIED, false, 0},
        CloseCase{4502, "UnsupportedVersion", v1::ERROR_CATEGORY_PROTOCOL_ERROR, false, 0},
        CloseCase{4503, "ConnectionLimit", v1::ERROR_CATEGORY_LIMIT_EXCEEDED, false, 0},
        // Codes a client does not know: 4000-4499 reconnect, 4500-4999 do not; 1000-2999 by
        // the table (not in it: do not), and otherwise do not.
        CloseCase{4100, "Unknown4100", v1::ERROR_CATEGORY_UNSPECIFIED, true, 0},
        CloseCase{4003, "Unknown4003", v1::ERROR_CATEGORY_UNSPECIFIED, true, 0},
        CloseCase{4499, "Unknown4499", v1::ERROR_CATEGORY_UNSPECIFIED, true, 0},
        CloseCase{4504, "Unknown4504", v1::ERROR_CATEGORY_UNSPECIFIED, false, 0},
        CloseCase{4600, "Unknown4600", v1::ERROR_CATEGORY_UNSPECIFIED, false, 0},
        CloseCase{4999, "Unknown4999", v1::ERROR_CATEGORY_UNSPECIFIED, false, 0},
        CloseCase{1004, "Unknown1004", v1::ERROR_CATEGORY_UNSPECIFIED, false, 0},
        CloseCase{1005, "Unknown1005", v1::ERROR_CATEGORY_UNSPECIFIED, false, 0},
        CloseCase{1015, "Unknown1015", v1::ERROR_CATEGORY_UNSPECIFIED, false, 0},
        CloseCase{2999, "Unknown2999", v1::ERROR_CATEGORY_UNSPECIFIED, false, 0},
        CloseCase{3000, "Unknown3000", v1::ERROR_CATEGORY_UNSPECIFIED, false, 0},
        CloseCase{3999, "Unknown3999", v1::ERROR_CATEGORY_UNSPECIFIED, false, 0},
        CloseCase{5000, "Unknown5000", v1::ERROR_CATEGORY_UNSPECIFIED, false, 0},
        CloseCase{999, "Unknown999", v1::ERROR_CATEGORY_UNSPECIFIED, false, 0},
        CloseCase{0, "Unknown0", v1::ERROR_CATEGORY_UNSPECIFIED, false, 0},
        CloseCase{-1, "UnknownNegative", v1::ERROR_CATEGORY_UNSPECIFIED, false, 0}),
    [](const ::testing::TestParamInfo<CloseCase>& info) { return std::string(info.param.name); });

TEST(CloseCodeConstantsTest, HaveTheirProtocolValues) {
  EXPECT_EQ(close_code::kNormal, 1000);
  EXPECT_EQ(close_code::kGoingAway, 1001);
  EXPECT_EQ(close_code::kProtocolError, 1002);
  EXPECT_EQ(close_code::kUnsupportedData, 1003);
  EXPECT_EQ(close_code::kAbnormal, 1006);
  EXPECT_EQ(close_code::kInvalidPayload, 1007);
  EXPECT_EQ(close_code::kPolicyViolation, 1008);
  EXPECT_EQ(close_code::kMessageTooBig, 1009);
  EXPECT_EQ(close_code::kInternalError, 1011);
  EXPECT_EQ(close_code::kServiceRestart, 1012);
  EXPECT_EQ(close_code::kTryAgainLater, 1013);
  EXPECT_EQ(close_code::kBadGateway, 1014);
  EXPECT_EQ(close_code::kHeartbeatTimeout, 4000);
  EXPECT_EQ(close_code::kHandshakeTimeout, 4001);
  EXPECT_EQ(close_code::kSlowConsumer, 4002);
  EXPECT_EQ(close_code::kRateLimited, 4029);
  EXPECT_EQ(close_code::kUnauthenticated, 4500);
  EXPECT_EQ(close_code::kForbidden, 4501);
  EXPECT_EQ(close_code::kUnsupportedVersion, 4502);
  EXPECT_EQ(close_code::kConnectionLimit, 4503);
}

// ---------------------------------------------------------------------------------------------
// The rows of the table: name, call retry, reconnect.

struct RowCase {
  ErrorCategory category;
  std::string_view name;
  CallRetry call_retry;
  Reconnect reconnect;
};

const std::vector<RowCase>& Rows() {
  static const auto* rows = new std::vector<RowCase>{
      {v1::ERROR_CATEGORY_NETWORK_ERROR, "network_error", CallRetry::kNotApplicable,
       Reconnect::kYes},
      {v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, "service_unavailable", CallRetry::kYes,
       Reconnect::kYes},
      {v1::ERROR_CATEGORY_TIMEOUT, "timeout", CallRetry::kIdempotentOnly, Reconnect::kYes},
      {v1::ERROR_CATEGORY_RATE_LIMITED, "rate_limited", CallRetry::kYes, Reconnect::kYes},
      {v1::ERROR_CATEGORY_SLOW_CONSUMER, "slow_consumer", CallRetry::kNotApplicable,
       Reconnect::kYes},
      {v1::ERROR_CATEGORY_SERVER_SHUTDOWN, "server_shutdown", CallRetry::kNotApplicable,
       Reconnect::kYes},
      {v1::ERROR_CATEGORY_INTERNAL, "internal", CallRetry::kIdempotentOnly,
       Reconnect::kNotApplicable},
      {v1::ERROR_CATEGORY_AUTHENTICATION_FAILED, "authentication_failed", CallRetry::kNo,
       Reconnect::kNo},
      {v1::ERROR_CATEGORY_PERMISSION_DENIED, "permission_denied", CallRetry::kNo, Reconnect::kNo},
      {v1::ERROR_CATEGORY_PROTOCOL_ERROR, "protocol_error", CallRetry::kNo, Reconnect::kNo},
      {v1::ERROR_CATEGORY_INVALID_ARGUMENT, "invalid_argument", CallRetry::kNo,
       Reconnect::kNotApplicable},
      {v1::ERROR_CATEGORY_NOT_FOUND, "not_found", CallRetry::kNo, Reconnect::kNotApplicable},
      {v1::ERROR_CATEGORY_MESSAGE_TOO_BIG, "message_too_big", CallRetry::kNo, Reconnect::kNo},
      {v1::ERROR_CATEGORY_LIMIT_EXCEEDED, "limit_exceeded", CallRetry::kNotApplicable,
       Reconnect::kNo},
      {v1::ERROR_CATEGORY_CANCELLED, "cancelled", CallRetry::kNo, Reconnect::kNotApplicable},
      {v1::ERROR_CATEGORY_NORMAL_CLOSURE, "normal_closure", CallRetry::kNotApplicable,
       Reconnect::kNo},
  };
  return *rows;
}

TEST(CategoryTableTest, EveryRowOfProtocolMd) {
  for (const RowCase& row : Rows()) {
    SCOPED_TRACE(std::string(row.name));
    const CategoryInfo& info = Info(row.category);
    EXPECT_EQ(info.category, row.category);
    EXPECT_EQ(info.name, row.name);
    EXPECT_EQ(info.call_retry, row.call_retry);
    EXPECT_EQ(info.reconnect, row.reconnect);
    EXPECT_EQ(info.default_reconnect_delay_ms, 0);
  }
}

TEST(CategoryTableTest, EveryCategoryHasItsOwnRow) {
  const auto* e = v1::ErrorCategory_descriptor();
  EXPECT_EQ(static_cast<size_t>(e->value_count()), Rows().size() + 1);  // + UNSPECIFIED
  std::set<std::string_view> names;
  for (int i = 0; i < e->value_count(); ++i) {
    const auto category = static_cast<ErrorCategory>(e->value(i)->number());
    EXPECT_EQ(Info(category).category, category) << e->value(i)->name();
    names.insert(Info(category).name);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(e->value_count()));
}

TEST(CategoryTableTest, UnspecifiedAndOutOfRangeValues) {
  EXPECT_EQ(CategoryName(v1::ERROR_CATEGORY_UNSPECIFIED), "unspecified");
  const CategoryInfo& unspecified = Info(v1::ERROR_CATEGORY_UNSPECIFIED);
  EXPECT_EQ(unspecified.call_retry, CallRetry::kNo);
  EXPECT_EQ(unspecified.reconnect, Reconnect::kNo);
  // Values a newer peer may send fall back to the UNSPECIFIED row.
  EXPECT_EQ(Info(static_cast<ErrorCategory>(17)).category, v1::ERROR_CATEGORY_UNSPECIFIED);
  EXPECT_EQ(Info(static_cast<ErrorCategory>(-1)).category, v1::ERROR_CATEGORY_UNSPECIFIED);
  EXPECT_FALSE(IsRetryable(static_cast<ErrorCategory>(1000)));
}

// Names follow the JSON encoding of the enum: the value name without ERROR_CATEGORY_, lower case.
TEST(CategoryNameTest, IsTheEnumValueNameWithoutPrefixInLowerCase) {
  const auto* e = v1::ErrorCategory_descriptor();
  for (int i = 0; i < e->value_count(); ++i) {
    std::string expected = e->value(i)->name().substr(std::string("ERROR_CATEGORY_").size());
    for (char& ch : expected) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_EQ(CategoryName(static_cast<ErrorCategory>(e->value(i)->number())), expected);
  }
}

TEST(CategoryNameTest, RoundTripsForEveryCategory) {
  const auto* e = v1::ErrorCategory_descriptor();
  for (int i = 0; i < e->value_count(); ++i) {
    const auto category = static_cast<ErrorCategory>(e->value(i)->number());
    const std::optional<ErrorCategory> back = CategoryFromName(CategoryName(category));
    ASSERT_TRUE(back.has_value()) << CategoryName(category);
    EXPECT_EQ(*back, category);
  }
}

TEST(CategoryNameTest, UnknownNamesAreRefused) {
  for (std::string_view name : {"", "PROTOCOL_ERROR", "ERROR_CATEGORY_PROTOCOL_ERROR",
                                "protocol-error", "protocol_error ", "timeouts", "network"}) {
    EXPECT_EQ(CategoryFromName(name), std::nullopt) << name;
  }
}

// `retryable` is true only where any client may retry the call: "yes" in the table, not
// "idempotent calls only", "no" or "—".
TEST(IsRetryableTest, OnlyServiceUnavailableAndRateLimited) {
  const auto* e = v1::ErrorCategory_descriptor();
  std::set<ErrorCategory> retryable;
  for (int i = 0; i < e->value_count(); ++i) {
    const auto category = static_cast<ErrorCategory>(e->value(i)->number());
    if (IsRetryable(category)) retryable.insert(category);
  }
  EXPECT_EQ(retryable, (std::set<ErrorCategory>{v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE,
                                                v1::ERROR_CATEGORY_RATE_LIMITED}));
  EXPECT_FALSE(IsRetryable(v1::ERROR_CATEGORY_TIMEOUT));
  EXPECT_FALSE(IsRetryable(v1::ERROR_CATEGORY_INTERNAL));
  EXPECT_FALSE(IsRetryable(v1::ERROR_CATEGORY_AUTHENTICATION_FAILED));
  EXPECT_FALSE(IsRetryable(v1::ERROR_CATEGORY_UNSPECIFIED));
}

// The two halves of the table agree: a close code's reconnect is its category's.
TEST(ConsistencyTest, CloseCodesReconnectAsTheirCategory) {
  for (int code : {1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1011, 1012,
                   1013, 1014, 4000, 4001, 4002, 4029, 4500, 4501, 4502, 4503}) {
    const CloseDisposition d = ClassifyClose(code);
    ASSERT_NE(d.category, v1::ERROR_CATEGORY_UNSPECIFIED) << code;
    EXPECT_EQ(d.reconnect, Info(d.category).reconnect == Reconnect::kYes) << code;
  }
}

// Categories that describe calls get a gRPC code; those that never describe a call get none.
TEST(ConsistencyTest, GrpcCodesOnlyReachCallCategories) {
  for (int code = 1; code <= 16; ++code) {
    EXPECT_NE(Info(CategoryForGrpcCode(code)).call_retry, CallRetry::kNotApplicable) << code;
  }
}

}  // namespace
}  // namespace bridge::protocol
