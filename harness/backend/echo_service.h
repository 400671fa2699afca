// The demo backend: a real implementation of demo.v1.Echo on gRPC's callback API.
//
//   Say      unary: the request's text and sample back, sequence 1
//   Repeat   server streaming: `count` replies, `interval` apart (count 0: until cancelled)
//   Collect  client streaming: every text received, once the client half-closes
//   Chat     bidi: one reply per message, in order
//
// Request metadata steers failures, so tests and demos can see every status (the fault
// harness builds on the same keys):
//   demo-fail-code: N        finish with gRPC status N (and demo-fail-message: text)
//   demo-fail-first: N       with demo-attempt-key: K, fail the first N calls sharing K
//                            (status demo-fail-code, default UNAVAILABLE), then succeed
//   demo-fail-percent: P     with demo-attempt-key: K, fail P % of the calls sharing K, spread
//                            evenly (status demo-fail-code, default UNAVAILABLE)
//   demo-pushback-ms: N      add grpc-retry-pushback-ms: N to a failure's trailers
//   demo-delay-ms: N         answer Say after N ms (cancellation and deadlines end it early)
//   demo-fail-after: N       Repeat/Chat: fail after N replies (an error mid-stream)
// Calls whose metadata asks for none of these follow the rules set through
// harness.v1.BackendControl (AddFault; proto/harness/v1/backend.proto): the first rule whose
// method matches decides, with the same meaning.
// Metadata whose key starts with "x-echo-" comes back as an initial-metadata header and as
// a trailer ("x-echo-trailer-" prefix), so metadata can be checked both ways.
//
// Thread-safe; callbacks run on gRPC's threads and never block.
#ifndef HARNESS_BACKEND_ECHO_SERVICE_H_
#define HARNESS_BACKEND_ECHO_SERVICE_H_

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/demo/v1/echo.grpc.pb.h"
#include "proto/harness/v1/backend.pb.h"

namespace harness::backend {

class EchoService final : public demo::v1::Echo::CallbackService {
 public:
  grpc::ServerUnaryReactor* Say(grpc::CallbackServerContext* context,
                                const demo::v1::SayRequest* request,
                                demo::v1::SayResponse* response) override;
  grpc::ServerWriteReactor<demo::v1::SayResponse>* Repeat(
      grpc::CallbackServerContext* context, const demo::v1::RepeatRequest* request) override;
  grpc::ServerReadReactor<demo::v1::SayRequest>* Collect(
      grpc::CallbackServerContext* context, demo::v1::CollectResponse* response) override;
  grpc::ServerBidiReactor<demo::v1::ChatMessage, demo::v1::ChatMessage>* Chat(
      grpc::CallbackServerContext* context) override;

  // Calls that ended because the client cancelled (or its deadline passed).
  int cancellations() const { return cancellations_.load(); }
  // Replies Repeat has written so far, over all calls.
  int64_t stream_messages_sent() const { return stream_messages_sent_.load(); }
  void CountStreamMessage() { stream_messages_sent_.fetch_add(1); }
  // Calls started, by method name ("Say", "Repeat", ...).
  int calls(const std::string& method) const;
  // Waits until calls(method) >= n; false on timeout.
  bool AwaitCalls(const std::string& method, int n, absl::Duration timeout);
  // Waits until cancellations() >= n; false on timeout.
  bool AwaitCancellations(int n, absl::Duration timeout);
  // The metadata of the last call, as received.
  std::multimap<std::string, std::string> last_metadata() const;

  // Rules (BackendControl). Errors name the field; ALREADY_EXISTS, NOT_FOUND.
  absl::StatusOr<harness::v1::BackendFault> AddFault(harness::v1::BackendFault fault);
  absl::Status RemoveFault(const std::string& name);
  std::vector<harness::v1::BackendFault> ListFaults() const;
  // Removes every rule and forgets the demo-attempt-key counters.
  void ResetFaults();
  harness::v1::BackendStats Stats() const;

  // What one call is to do: the status to fail with (OK: none) and, for Say, a delay.
  struct Plan {
    grpc::Status failure;
    absl::Duration delay;
  };

  // Internal: used by the reactors.
  void CountCancellation();
  void CountCall(const std::string& method, grpc::CallbackServerContext* context);
  // The plan the metadata of `context`, or else the rules, ask for `method`.
  Plan PlanCall(const std::string& method, grpc::CallbackServerContext* context);

 private:
  std::atomic<int> cancellations_{0};
  std::atomic<int64_t> stream_messages_sent_{0};
  mutable absl::Mutex mu_;
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> attempts_ ABSL_GUARDED_BY(mu_);  // by demo-attempt-key
  std::vector<harness::v1::BackendFault> rules_ ABSL_GUARDED_BY(mu_);
  std::multimap<std::string, std::string> last_metadata_ ABSL_GUARDED_BY(mu_);
};

}  // namespace harness::backend

#endif  // HARNESS_BACKEND_ECHO_SERVICE_H_
