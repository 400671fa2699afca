// Test doubles for bridge/client: an event loop whose time the test moves by hand (it is the
// client's clock too), and a transport that records what the client sent and lets the test
// play the server. Single-threaded: the test thread does everything.
#ifndef TESTS_MOCKS_CLIENT_FAKES_H_
#define TESTS_MOCKS_CLIENT_FAKES_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "bridge/client/event_loop.h"
#include "bridge/client/transport.h"
#include "bridge/common/clock.h"

namespace bridge::testing {

class FakeEventLoop : public client::EventLoop, public Clock {
 public:
  void Post(std::function<void()> task) override { ready_.push_back(std::move(task)); }

  TimerId RunAfter(absl::Duration delay, std::function<void()> task) override {
    const TimerId id = ++last_id_;
    timers_[id] = Timer{now_ + delay, std::move(task)};
    return id;
  }

  void Cancel(TimerId id) override { timers_.erase(id); }

  absl::Time Now() override { return absl::FromUnixSeconds(1795000000) + now_; }
  absl::Duration Monotonic() override { return now_; }

  // Runs the posted tasks, and those they post, until none is left. Returns how many ran.
  int RunReady() {
    int ran = 0;
    while (!ready_.empty()) {
      std::function<void()> task = std::move(ready_.front());
      ready_.pop_front();
      task();
      ++ran;
    }
    return ran;
  }

  // Moves time forward by `d`, running each timer when it falls due (earliest first, then in
  // the order they were set), and the tasks posted on the way.
  void Advance(absl::Duration d) {
    const absl::Duration end = now_ + d;
    RunReady();
    while (true) {
      auto next = timers_.end();
      for (auto it = timers_.begin(); it != timers_.end(); ++it) {
        if (it->second.due <= end && (next == timers_.end() || it->second.due < next->second.due)) {
          next = it;
        }
      }
      if (next == timers_.end()) break;
      now_ = std::max(now_, next->second.due);
      std::function<void()> task = std::move(next->second.task);
      timers_.erase(next);
      task();
      RunReady();
    }
    now_ = end;
  }

  // The time until the soonest timer, if any.
  std::optional<absl::Duration> NextTimer() const {
    std::optional<absl::Duration> soonest;
    for (const auto& [id, timer] : timers_) {
      if (!soonest || timer.due - now_ < *soonest) soonest = timer.due - now_;
    }
    return soonest;
  }

  size_t pending_timers() const { return timers_.size(); }

 private:
  struct Timer {
    absl::Duration due;
    std::function<void()> task;
  };

  absl::Duration now_ = absl::ZeroDuration();
  TimerId last_id_ = 0;
  std::map<TimerId, Timer> timers_;  // ids grow, so equal due times run in setting order
  std::deque<std::function<void()>> ready_;
};

// Records every connection the client opens; the test answers as the server would.
class FakeClientTransport : public client::Transport {
 public:
  struct Connection {
    uint64_t id = 0;
    client::OpenRequest request;
    client::TransportEvents* events = nullptr;
    std::vector<std::string> sent;
    std::vector<bool> sent_binary;
    std::optional<int> close_code;  // what the client asked for with Close
    std::string close_reason;
    bool aborted = false;
  };

  void Open(uint64_t id, const client::OpenRequest& request,
            client::TransportEvents* events) override {
    Connection c;
    c.id = id;
    c.request = request;
    c.events = events;
    connections.push_back(std::move(c));
  }
  void Send(uint64_t id, std::string data, bool binary) override {
    Connection* c = Find(id);
    if (c == nullptr) return;
    c->sent.push_back(std::move(data));
    c->sent_binary.push_back(binary);
  }
  void Close(uint64_t id, int code, std::string_view reason) override {
    Connection* c = Find(id);
    if (c == nullptr) return;
    c->close_code = code;
    c->close_reason = std::string(reason);
  }
  void Abort(uint64_t id) override {
    if (Connection* c = Find(id)) c->aborted = true;
  }

  Connection& last() { return connections.back(); }

  // The server side of the last connection.
  void Accept(std::string subprotocol = "bridge.v1.json") {
    last().events->OnTransportOpen(last().id, std::move(subprotocol));
  }
  void Deliver(std::string frame, bool binary = false) {
    last().events->OnTransportMessage(last().id, std::move(frame), binary);
  }
  void Drop(int code = 1006, std::string reason = "", int http_status = 0) {
    last().events->OnTransportClosed(last().id,
                                     client::TransportClose{code, std::move(reason), http_status});
  }

  std::deque<Connection> connections;

 private:
  Connection* Find(uint64_t id) {
    for (Connection& c : connections) {
      if (c.id == id) return &c;
    }
    return nullptr;
  }
};

}  // namespace bridge::testing

#endif  // TESTS_MOCKS_CLIENT_FAKES_H_
