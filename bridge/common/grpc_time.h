// Time as gRPC sees it. gRPC compares a call's deadline with its own real-time clock, so a
// deadline handed to gRPC is real time plus a timeout, never a reading of an injected Clock (a
// test's clock, moved by hand, would hand gRPC deadlines long past or far ahead). What the
// bridge times itself above gRPC (retry backoffs, session timers, heartbeats) takes its time
// from the injected Clock or RetryContext instead. Any thread.
#ifndef BRIDGE_COMMON_GRPC_TIME_H_
#define BRIDGE_COMMON_GRPC_TIME_H_

#include <chrono>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace bridge {

// Now, on the clock gRPC measures deadlines with.
inline absl::Time GrpcNow() { return absl::Now(); }

// The deadline of a call that may take `timeout`; zero or less: none.
inline absl::Time GrpcDeadline(absl::Duration timeout) {
  return timeout > absl::ZeroDuration() ? GrpcNow() + timeout : absl::InfiniteFuture();
}

// The same, as grpc::ClientContext::set_deadline and grpc::Server::Shutdown take it.
inline std::chrono::system_clock::time_point GrpcDeadlineChrono(absl::Duration timeout) {
  return absl::ToChronoTime(GrpcDeadline(timeout));
}

}  // namespace bridge

#endif  // BRIDGE_COMMON_GRPC_TIME_H_
