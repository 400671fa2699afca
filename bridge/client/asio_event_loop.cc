#include "bridge/client/asio_event_loop.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "bridge/common/clock.h"

namespace bridge::client {

AsioEventLoop::AsioEventLoop()
    : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}

AsioEventLoop::~AsioEventLoop() { Stop(); }

void AsioEventLoop::Post(std::function<void()> task) { asio::post(io_, std::move(task)); }

EventLoop::TimerId AsioEventLoop::RunAfter(absl::Duration delay, std::function<void()> task) {
  const TimerId id = ++last_timer_id_;
  if (delay == absl::InfiniteDuration()) return id;  // never due
  const auto after = TimerDelay(delay);
  asio::post(io_, [this, id, after, task = std::move(task)]() mutable {
    auto timer = std::make_unique<asio::steady_timer>(io_, after);
    timer->async_wait([this, id, task = std::move(task)](const std::error_code& ec) {
      auto it = timers_.find(id);
      if (ec || it == timers_.end()) return;  // cancelled
      std::unique_ptr<asio::steady_timer> done = std::move(it->second);
      timers_.erase(it);
      task();
    });
    timers_[id] = std::move(timer);
  });
  return id;
}

void AsioEventLoop::Cancel(TimerId id) {
  asio::post(io_, [this, id] {
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    it->second->cancel();
    timers_.erase(it);
  });
}

void AsioEventLoop::Stop() {
  if (!thread_.joinable()) return;
  if (InLoopThread()) std::abort();  // the loop cannot join itself
  asio::post(io_, [this] {
    for (auto& [id, timer] : timers_) timer->cancel();
    timers_.clear();
    io_.stop();
  });
  thread_.join();
}

}  // namespace bridge::client
