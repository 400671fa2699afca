#include "bridge/protocol/error_table.h"

#include <array>
#include <string>

#include "absl/strings/cord.h"

namespace bridge::protocol {
namespace {

using v1::ErrorCategory;

constexpr std::array<CategoryInfo, 17> kTable = {{
    {v1::ERROR_CATEGORY_UNSPECIFIED, "unspecified", CallRetry::kNo, Reconnect::kNo, 0},
    {v1::ERROR_CATEGORY_NETWORK_ERROR, "network_error", CallRetry::kNotApplicable, Reconnect::kYes,
     0},
    {v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, "service_unavailable", CallRetry::kYes,
     Reconnect::kYes, 0},
    {v1::ERROR_CATEGORY_TIMEOUT, "timeout", CallRetry::kIdempotentOnly, Reconnect::kYes, 0},
    {v1::ERROR_CATEGORY_RATE_LIMITED, "rate_limited", CallRetry::kYes, Reconnect::kYes, 0},
    {v1::ERROR_CATEGORY_SLOW_CONSUMER, "slow_consumer", CallRetry::kNotApplicable, Reconnect::kYes,
     0},
    {v1::ERROR_CATEGORY_SERVER_SHUTDOWN, "server_shutdown", CallRetry::kNotApplicable,
     Reconnect::kYes, 0},
    {v1::ERROR_CATEGORY_INTERNAL, "internal", CallRetry::kIdempotentOnly, Reconnect::kNotApplicable,
     0},
    {v1::ERROR_CATEGORY_AUTHENTICATION_FAILED, "authentication_failed", CallRetry::kNo,
     Reconnect::kNo, 0},
    {v1::ERROR_CATEGORY_PERMISSION_DENIED, "permission_denied", CallRetry::kNo, Reconnect::kNo, 0},
    {v1::ERROR_CATEGORY_PROTOCOL_ERROR, "protocol_error", CallRetry::kNo, Reconnect::kNo, 0},
    {v1::ERROR_CATEGORY_INVALID_ARGUMENT, "invalid_argument", CallRetry::kNo,
     Reconnect::kNotApplicable, 0},
    {v1::ERROR_CATEGORY_NOT_FOUND, "not_found", CallRetry::kNo, Reconnect::kNotApplicable, 0},
    {v1::ERROR_CATEGORY_MESSAGE_TOO_BIG, "message_too_big", CallRetry::kNo, Reconnect::kNo, 0},
    {v1::ERROR_CATEGORY_LIMIT_EXCEEDED, "limit_exceeded", CallRetry::kNotApplicable, Reconnect::kNo,
     0},
    {v1::ERROR_CATEGORY_CANCELLED, "cancelled", CallRetry::kNo, Reconnect::kNotApplicable, 0},
    {v1::ERROR_CATEGORY_NORMAL_CLOSURE, "normal_closure", CallRetry::kNotApplicable, Reconnect::kNo,
     0},
}};

// Checked once at start-up: row i describes category i.
bool TableIsIndexedByCategory() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].category) != i) return false;
  }
  return true;
}

}  // namespace

const CategoryInfo& Info(ErrorCategory category) {
  static const bool indexed = TableIsIndexedByCategory();
  if (!indexed) __builtin_trap();
  const auto i = static_cast<size_t>(category);
  return i < kTable.size() ? kTable[i] : kTable[0];
}

std::string_view CategoryName(ErrorCategory category) { return Info(category).name; }

std::optional<ErrorCategory> CategoryFromName(std::string_view name) {
  for (const CategoryInfo& row : kTable) {
    if (row.name == name) return row.category;
  }
  return std::nullopt;
}

bool IsRetryable(ErrorCategory category) { return Info(category).call_retry == CallRetry::kYes; }

ErrorCategory CategoryForGrpcCode(int grpc_code) {
  switch (grpc_code) {
    case 0:  // OK
      return v1::ERROR_CATEGORY_UNSPECIFIED;
    case 1:   // CANCELLED
    case 10:  // ABORTED
      return v1::ERROR_CATEGORY_CANCELLED;
    case 2:   // UNKNOWN
    case 13:  // INTERNAL
    case 15:  // DATA_LOSS
      return v1::ERROR_CATEGORY_INTERNAL;
    case 3:   // INVALID_ARGUMENT
    case 6:   // ALREADY_EXISTS
    case 9:   // FAILED_PRECONDITION
    case 11:  // OUT_OF_RANGE
      return v1::ERROR_CATEGORY_INVALID_ARGUMENT;
    case 4:  // DEADLINE_EXCEEDED
      return v1::ERROR_CATEGORY_TIMEOUT;
    case 5:   // NOT_FOUND
    case 12:  // UNIMPLEMENTED
      return v1::ERROR_CATEGORY_NOT_FOUND;
    case 7:  // PERMISSION_DENIED
      return v1::ERROR_CATEGORY_PERMISSION_DENIED;
    case 8:  // RESOURCE_EXHAUSTED
      return v1::ERROR_CATEGORY_RATE_LIMITED;
    case 14:  // UNAVAILABLE
      return v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE;
    case 16:  // UNAUTHENTICATED
      return v1::ERROR_CATEGORY_AUTHENTICATION_FAILED;
    default:
      return v1::ERROR_CATEGORY_INTERNAL;
  }
}

namespace {
constexpr char kCategoryPayload[] = "bridge.v1/error_category";
}  // namespace

ErrorCategory CategoryForStatus(const absl::Status& status) {
  if (absl::optional<absl::Cord> name = status.GetPayload(kCategoryPayload)) {
    if (std::optional<ErrorCategory> c = CategoryFromName(std::string(*name))) return *c;
  }
  return CategoryForGrpcCode(static_cast<int>(status.code()));
}

absl::Status WithCategory(absl::Status status, ErrorCategory category) {
  if (!status.ok())
    status.SetPayload(kCategoryPayload, absl::Cord(std::string(CategoryName(category))));
  return status;
}

CloseDisposition ClassifyClose(int code) {
  namespace cc = close_code;
  auto row = [](ErrorCategory c, int min_delay_ms = 0) {
    return CloseDisposition{c, Info(c).reconnect == Reconnect::kYes, min_delay_ms};
  };
  switch (code) {
    case cc::kNormal:
      return row(v1::ERROR_CATEGORY_NORMAL_CLOSURE);
    case cc::kGoingAway:
      return row(v1::ERROR_CATEGORY_SERVER_SHUTDOWN);
    case cc::kProtocolError:
    case cc::kUnsupportedData:
    case cc::kInvalidPayload:
    case cc::kUnsupportedVersion:
      return row(v1::ERROR_CATEGORY_PROTOCOL_ERROR);
    case cc::kAbnormal:
      return row(v1::ERROR_CATEGORY_NETWORK_ERROR);
    case cc::kPolicyViolation:
    case cc::kForbidden:
      return row(v1::ERROR_CATEGORY_PERMISSION_DENIED);
    case cc::kMessageTooBig:
      return row(v1::ERROR_CATEGORY_MESSAGE_TOO_BIG);
    case cc::kInternalError:
      return row(v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, 1000);
    case cc::kServiceRestart:
    case cc::kTryAgainLater:
    case cc::kBadGateway:
      return row(v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE);
    case cc::kHeartbeatTimeout:
    case cc::kHandshakeTimeout:
      return row(v1::ERROR_CATEGORY_TIMEOUT);
    case cc::kSlowConsumer:
      return row(v1::ERROR_CATEGORY_SLOW_CONSUMER);
    case cc::kRateLimited:
      return row(v1::ERROR_CATEGORY_RATE_LIMITED);
    case cc::kUnauthenticated:
      return row(v1::ERROR_CATEGORY_AUTHENTICATION_FAILED);
    case cc::kConnectionLimit:
      return row(v1::ERROR_CATEGORY_LIMIT_EXCEEDED);
    default:
      break;
  }
  // Codes outside the table: 4000-4499 reconnect, everything else does not.
  return CloseDisposition{v1::ERROR_CATEGORY_UNSPECIFIED, code >= 4000 && code <= 4499, 0};
}

}  // namespace bridge::protocol
