// The count of callback-API calls in flight on the channels one owner holds, so that the owner
// lets its channels go only after its calls are gone.
//
// Why the order matters: gRPC 1.51 runs callback-API completions on one completion queue shared
// by the process and polled by its own threads ("nexting_thread"), and the last grpc::Channel to
// be destroyed shuts that queue down, joins those threads and frees it. A ClientContext holds a
// reference to its channel. So when a call deletes itself in its completion after its owner has
// let the channel go, the channel's last reference goes on a polling thread, which then joins
// itself and frees the queue it is still polling (a double free; AddressSanitizer reports it).
//
// The rule: a call that deletes itself on a gRPC thread leaves the count after its context is
// destroyed; an owner cancels what it can and waits for the count before it destroys its
// channels. A call released on any other thread (a session's) may drop the last reference there.
#ifndef BRIDGE_UPSTREAM_IN_FLIGHT_H_
#define BRIDGE_UPSTREAM_IN_FLIGHT_H_

#include <cstdint>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace bridge::upstream {

class InFlightCalls {
 public:
  void Enter() {
    absl::MutexLock lock(&mu_);
    ++calls_;
  }
  void Leave() {
    absl::MutexLock lock(&mu_);
    --calls_;
  }
  int64_t count() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // False when calls are still in flight after `timeout`.
  bool AwaitIdle(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_ == 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  int64_t calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace bridge::upstream

#endif  // BRIDGE_UPSTREAM_IN_FLIGHT_H_
