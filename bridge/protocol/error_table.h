// The error table of docs/protocol.md, in one place for the bridge and every client: what each
// failure category means, which gRPC status codes and close codes map to it, and whether a
// call is retried or a session reconnected. Pure functions; any thread.
#ifndef BRIDGE_PROTOCOL_ERROR_TABLE_H_
#define BRIDGE_PROTOCOL_ERROR_TABLE_H_

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "proto/bridge/v1/frame.pb.h"

namespace bridge::protocol {

using ::bridge::v1::ErrorCategory;

// WebSocket close codes the bridge sends or interprets (docs/protocol.md, "Close codes").
namespace close_code {
inline constexpr int kNormal = 1000;
inline constexpr int kGoingAway = 1001;
inline constexpr int kProtocolError = 1002;
inline constexpr int kUnsupportedData = 1003;
inline constexpr int kAbnormal = 1006;  // never sent: the connection dropped without a close
inline constexpr int kInvalidPayload = 1007;
inline constexpr int kPolicyViolation = 1008;
inline constexpr int kMessageTooBig = 1009;
inline constexpr int kInternalError = 1011;
inline constexpr int kServiceRestart = 1012;
inline constexpr int kTryAgainLater = 1013;
inline constexpr int kBadGateway = 1014;
inline constexpr int kHeartbeatTimeout = 4000;
inline constexpr int kHandshakeTimeout = 4001;
inline constexpr int kSlowConsumer = 4002;
inline constexpr int kRateLimited = 4029;
inline constexpr int kUnauthenticated = 4500;
inline constexpr int kForbidden = 4501;
inline constexpr int kUnsupportedVersion = 4502;
inline constexpr int kConnectionLimit = 4503;
}  // namespace close_code

// Whether a failed call may be tried again.
enum class CallRetry {
  kNotApplicable,   // the category never describes a call
  kYes,             // yes (after retryAfterMs when given)
  kIdempotentOnly,  // only when the caller knows the call is idempotent
  kNo,
};

// Whether a client reconnects after a session ends in this category.
enum class Reconnect {
  kNotApplicable,  // the category never ends a session
  kYes,
  kNo,
};

struct CategoryInfo {
  ErrorCategory category;
  std::string_view name;  // the JSON name: "protocol_error"
  CallRetry call_retry;
  Reconnect reconnect;
  // The least delay before reconnecting when the server gave none (0: none).
  int default_reconnect_delay_ms;
};

// The row of `category`. Every ErrorCategory value has one.
const CategoryInfo& Info(ErrorCategory category);

// The JSON name of `category` ("protocol_error"), and back.
std::string_view CategoryName(ErrorCategory category);
std::optional<ErrorCategory> CategoryFromName(std::string_view name);

// The `retryable` field of an error frame: true only where any client may retry the call.
bool IsRetryable(ErrorCategory category);

// The category of a call that ended with gRPC status `grpc_code` (numeric, as grpc::StatusCode).
// OK (0) has no category and yields ERROR_CATEGORY_UNSPECIFIED.
ErrorCategory CategoryForGrpcCode(int grpc_code);

// The category of a failure the bridge reports as an absl::Status (a refused subscribe, an auth
// check): the one attached with WithCategory, else its code's by CategoryForGrpcCode (absl and
// gRPC number the codes alike), so a channel and a call that fail alike are categorized alike.
ErrorCategory CategoryForStatus(const absl::Status& status);
// `status` marked with the category it must be reported as, where the bridge's own rule names
// one its code does not (max_channels_per_session is RESOURCE_EXHAUSTED, yet `limit_exceeded`).
absl::Status WithCategory(absl::Status status, ErrorCategory category);

// What a close with `code` means to a client.
struct CloseDisposition {
  ErrorCategory category;  // ERROR_CATEGORY_UNSPECIFIED for codes outside the table
  bool reconnect;
  int min_delay_ms;  // the least delay before reconnecting (0: none)
};
CloseDisposition ClassifyClose(int code);

}  // namespace bridge::protocol

#endif  // BRIDGE_PROTOCOL_ERROR_TABLE_H_
