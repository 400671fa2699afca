// The gRPC side as the session sees it: start a call of any kind on a routed service, feed it
// request messages, pull replies one at a time (flow control), cancel it. No gRPC headers
// here; grpc_upstream.h implements it.
//
// Threading: Call methods may be called from any thread and never block. A CallListener's
// methods run on gRPC's threads, one at a time per call, in order: OnHeaders (at most once),
// OnMessage (once per RequestRead that found a message), OnFinish (exactly once, last).
//
// A call of a method with one reply (unary, client streaming) may ask for its result as one
// event (CallSpec::one_event): after the first RequestRead the call reads to its end by itself,
// OnHeaders and OnMessage are not called, and OnFinish carries the headers and the reply.
#ifndef BRIDGE_UPSTREAM_UPSTREAM_H_
#define BRIDGE_UPSTREAM_UPSTREAM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "bridge/transcode/descriptor_registry.h"

namespace bridge::upstream {

using Metadata = std::vector<std::pair<std::string, std::string>>;

struct CallSpec {
  transcode::MethodInfo method;
  absl::Duration timeout = absl::ZeroDuration();  // zero: no deadline
  Metadata metadata;
  // Headers, reply and status in one OnFinish (methods with one reply only; see above).
  bool one_event = false;
};

// How a call ended.
struct CallResult {
  int code = 0;  // gRPC status code
  std::string message;
  Metadata trailers;
  // grpc-retry-pushback-ms when the upstream sent it: the delay before a retry, or
  // kPushbackNoRetry for a value that is not a non-negative integer (gRFC A6: do not retry).
  static constexpr int64_t kNoPushback = -1;
  static constexpr int64_t kPushbackNoRetry = -2;
  int64_t retry_pushback_ms = kNoPushback;
  // CallSpec::one_event only: the response headers and the reply, when they came.
  Metadata headers;
  std::optional<std::string> reply;
};

class CallListener {
 public:
  virtual ~CallListener() = default;
  virtual void OnHeaders(Metadata headers) = 0;
  virtual void OnMessage(std::string bytes) = 0;
  virtual void OnFinish(CallResult result) = 0;
};

class Call {
 public:
  virtual ~Call() = default;
  // Queues one request message (protobuf wire bytes). False when max_pending_writes are
  // already queued; the message is then not sent.
  virtual bool Write(std::string bytes) = 0;
  // Half-closes after the queued messages.
  virtual void WritesDone() = 0;
  // Reads the next reply: OnMessage, or OnFinish at the end. One read at a time.
  virtual void RequestRead() = 0;
  // Cancels the call upstream; OnFinish follows with CANCELLED (or the status already due).
  virtual void Cancel() = 0;
};

class Upstream {
 public:
  virtual ~Upstream() = default;
  // Whether calls of `service` ("demo.v1.Echo") have somewhere to go.
  virtual bool HasRoute(std::string_view service) const = 0;
  virtual std::shared_ptr<Call> StartCall(const CallSpec& spec,
                                          std::shared_ptr<CallListener> listener) = 0;
};

}  // namespace bridge::upstream

#endif  // BRIDGE_UPSTREAM_UPSTREAM_H_
