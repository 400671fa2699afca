// The production EventLoop: a standalone-Asio io_context run by one thread of its own, which
// also runs the client's websocketpp transport (websocket_transport.h).
//
// Post, RunAfter and Cancel may be called from any thread; tasks and timers run on the loop's
// thread. Stop (and the destructor) must not be called on it.
#ifndef BRIDGE_CLIENT_ASIO_EVENT_LOOP_H_
#define BRIDGE_CLIENT_ASIO_EVENT_LOOP_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "asio.hpp"
#include "bridge/client/event_loop.h"

namespace bridge::client {

class AsioEventLoop final : public EventLoop {
 public:
  // Starts the thread.
  AsioEventLoop();
  ~AsioEventLoop() override;

  AsioEventLoop(const AsioEventLoop&) = delete;
  AsioEventLoop& operator=(const AsioEventLoop&) = delete;

  asio::io_context& io_context() { return io_; }

  void Post(std::function<void()> task) override;
  TimerId RunAfter(absl::Duration delay, std::function<void()> task) override;
  void Cancel(TimerId id) override;

  // Runs the tasks posted before it, then stops the thread and joins it. Later tasks never
  // run. Idempotent.
  void Stop();

  bool InLoopThread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::atomic<TimerId> last_timer_id_{0};
  std::map<TimerId, std::unique_ptr<asio::steady_timer>> timers_;  // on the loop thread only
  std::thread thread_;
};

}  // namespace bridge::client

#endif  // BRIDGE_CLIENT_ASIO_EVENT_LOOP_H_
