#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/client/client_impl.h"
#include "bridge/common/strings.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace bridge::client::internal {

absl::StatusCode StatusCodeFor(ErrorCategory category) {
  switch (category) {
    case v1::ERROR_CATEGORY_NETWORK_ERROR:
    case v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE:
    case v1::ERROR_CATEGORY_SLOW_CONSUMER:
    case v1::ERROR_CATEGORY_SERVER_SHUTDOWN:
      return absl::StatusCode::kUnavailable;
    case v1::ERROR_CATEGORY_TIMEOUT:
      return absl::StatusCode::kDeadlineExceeded;
    case v1::ERROR_CATEGORY_RATE_LIMITED:
    case v1::ERROR_CATEGORY_LIMIT_EXCEEDED:
      return absl::StatusCode::kResourceExhausted;
    case v1::ERROR_CATEGORY_INTERNAL:
      return absl::StatusCode::kInternal;
    case v1::ERROR_CATEGORY_AUTHENTICATION_FAILED:
      return absl::StatusCode::kUnauthenticated;
    case v1::ERROR_CATEGORY_PERMISSION_DENIED:
      return absl::StatusCode::kPermissionDenied;
    case v1::ERROR_CATEGORY_PROTOCOL_ERROR:
    case v1::ERROR_CATEGORY_INVALID_ARGUMENT:
      return absl::StatusCode::kInvalidArgument;
    case v1::ERROR_CATEGORY_NOT_FOUND:
      return absl::StatusCode::kNotFound;
    case v1::ERROR_CATEGORY_MESSAGE_TOO_BIG:
      return absl::StatusCode::kOutOfRange;
    case v1::ERROR_CATEGORY_CANCELLED:
    case v1::ERROR_CATEGORY_NORMAL_CLOSURE:
      return absl::StatusCode::kCancelled;
    default:
      return absl::StatusCode::kUnknown;
  }
}

// An outcome the client decides itself (no frame from the server behind it).
CallOutcome LocalOutcome(ErrorCategory category, bool retryable, std::string_view message) {
  CallOutcome outcome;
  outcome.category = category;
  outcome.retryable = retryable;
  outcome.status =
      absl::Status(StatusCodeFor(category),
                   absl::StrCat(Sv(protocol::CategoryName(category)), ": ", Sv(message)));
  return outcome;
}

CallOutcome OutcomeOfError(const v1::Error& e) {
  CallOutcome outcome;
  outcome.category = e.category();
  outcome.retryable = e.has_retryable() ? e.retryable() : protocol::IsRetryable(e.category());
  outcome.retry_after = absl::Milliseconds(e.retry_after_ms());
  if (e.has_grpc_code()) outcome.grpc_code = e.grpc_code();
  outcome.status =
      absl::Status(StatusCodeFor(e.category()),
                   absl::StrCat(Sv(protocol::CategoryName(e.category())), ": ", e.message()));
  return outcome;
}

SessionError SessionErrorOf(const v1::Error& e) {
  SessionError error;
  error.category = e.category();
  error.message = e.message();
  error.retryable = e.has_retryable() ? e.retryable() : protocol::IsRetryable(e.category());
  error.retry_after = absl::Milliseconds(e.retry_after_ms());
  error.field = e.field();
  return error;
}

std::map<std::string, std::string> ToMap(const google::protobuf::Map<std::string, std::string>& m) {
  return std::map<std::string, std::string>(m.begin(), m.end());
}

// A payload of a JSON client must be one JSON value: the frame carries it verbatim.
absl::Status CheckPayload(protocol::Encoding encoding, const std::string& payload) {
  if (encoding != protocol::Encoding::kJson || payload.empty()) return absl::OkStatus();
  google::protobuf::Value value;
  if (!google::protobuf::util::JsonStringToMessage(payload, &value).ok()) {
    return absl::InvalidArgumentError("payload is not a JSON value");
  }
  return absl::OkStatus();
}

// A refused upgrade, by its HTTP status.
Loss LossOfHttpStatus(int status) {
  Loss loss;
  loss.reason = absl::StrCat("HTTP ", status);
  if (status == 401) {
    loss.category = v1::ERROR_CATEGORY_AUTHENTICATION_FAILED;
  } else if (status == 403) {
    loss.category = v1::ERROR_CATEGORY_PERMISSION_DENIED;
  } else if (status == 429) {
    loss.category = v1::ERROR_CATEGORY_RATE_LIMITED;
  } else if (status >= 500) {
    loss.category = v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE;
  } else {
    loss.category = v1::ERROR_CATEGORY_PROTOCOL_ERROR;  // wrong path, bad request
  }
  loss.reconnect = protocol::Info(loss.category).reconnect == protocol::Reconnect::kYes;
  return loss;
}

}  // namespace bridge::client::internal
