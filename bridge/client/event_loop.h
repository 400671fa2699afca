// The one thread a Client runs on: posted tasks and timers. The production loop is an Asio
// io_context with its own thread (asio_event_loop.h); unit tests use a fake whose time they
// move by hand (tests/mocks/client_fakes.h), so every delay the client chooses is exact.
//
// Post, RunAfter and Cancel may be called from any thread; tasks and timers run on the loop's
// thread, one at a time, in the order they were posted or fell due.
#ifndef BRIDGE_CLIENT_EVENT_LOOP_H_
#define BRIDGE_CLIENT_EVENT_LOOP_H_

#include <cstdint>
#include <functional>

#include "absl/time/time.h"

namespace bridge::client {

class EventLoop {
 public:
  using TimerId = uint64_t;  // never 0

  virtual ~EventLoop() = default;
  // Runs `task` on the loop, after the tasks posted before it.
  virtual void Post(std::function<void()> task) = 0;
  // Runs `task` on the loop once `delay` has passed, unless cancelled first.
  virtual TimerId RunAfter(absl::Duration delay, std::function<void()> task) = 0;
  // Cancels a timer. A timer that already ran, or is running, is not affected.
  virtual void Cancel(TimerId id) = 0;
};

}  // namespace bridge::client

#endif  // BRIDGE_CLIENT_EVENT_LOOP_H_
