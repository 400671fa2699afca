// An in-process Upstream that answers each call at once with its request bytes: every request
// message written is the next reply, and the call ends OK once the client half-closed and
// every request was answered. For echo_bridge (the WebSocket layer alone) and the session
// benchmark. demo.v1.Echo/Say echoes (a SayRequest's bytes read as a SayResponse), as does
// Chat (ChatMessage both ways).
//
// Threading: as upstream.h; listener events are emitted on the thread of the Call method that
// causes them (the session's strand), which the session's listener posts back to the strand.
#ifndef BENCH_LOAD_ECHO_UPSTREAM_H_
#define BENCH_LOAD_ECHO_UPSTREAM_H_

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "bridge/upstream/upstream.h"

namespace bench::load {

// Replies with each request message as it is read; finishes OK once the client half-closed
// and every request was answered.
class EchoCall final : public ::bridge::upstream::Call {
 public:
  EchoCall(std::shared_ptr<::bridge::upstream::CallListener> listener, bool one_event)
      : listener_(std::move(listener)), one_event_(one_event) {}

  bool Write(std::string bytes) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return false;
    if (read_pending_) {
      DeliverLocked(std::move(bytes));
    } else {
      queue_.push_back(std::move(bytes));
    }
    return true;
  }
  void WritesDone() override {
    std::lock_guard<std::mutex> lock(mu_);
    writes_done_ = true;
    if (read_pending_ && queue_.empty()) FinishLocked(0, "");
  }
  void RequestRead() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (!headers_sent_) {
      headers_sent_ = true;
      if (!one_event_) listener_->OnHeaders({});
    }
    if (!queue_.empty()) {
      std::string next = std::move(queue_.front());
      queue_.pop_front();
      read_pending_ = true;
      DeliverLocked(std::move(next));
    } else if (writes_done_) {
      FinishLocked(0, "");
    } else {
      read_pending_ = true;
    }
  }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(1, "cancelled");  // CANCELLED
  }

 private:
  void FinishLocked(int code, std::string message) {
    if (finished_) return;
    finished_ = true;
    ::bridge::upstream::CallResult result;
    result.code = code;
    result.message = std::move(message);
    if (one_event_ && code == 0) result.reply = std::move(reply_);
    listener_->OnFinish(std::move(result));
  }

  // A reply for the read that is pending. With one_event (upstream.h) it is kept for the
  // finish, and the call reads on by itself.
  void DeliverLocked(std::string bytes) {
    if (!one_event_) {
      read_pending_ = false;
      listener_->OnMessage(std::move(bytes));
      return;
    }
    reply_ = std::move(bytes);
    if (queue_.empty()) {
      if (writes_done_) FinishLocked(0, "");
      return;
    }
    std::string next = std::move(queue_.front());
    queue_.pop_front();
    DeliverLocked(std::move(next));
  }

  // The listener only posts to the session's strand, so calling it under the lock keeps the
  // events in order without re-entering.
  std::mutex mu_;
  std::shared_ptr<::bridge::upstream::CallListener> listener_;
  const bool one_event_;
  std::optional<std::string> reply_;  // one_event_: the last reply, for the finish
  std::deque<std::string> queue_;
  bool headers_sent_ = false;
  bool read_pending_ = false;
  bool writes_done_ = false;
  bool finished_ = false;
};

class EchoUpstream final : public ::bridge::upstream::Upstream {
 public:
  bool HasRoute(std::string_view) const override { return true; }
  std::shared_ptr<::bridge::upstream::Call> StartCall(
      const ::bridge::upstream::CallSpec& spec,
      std::shared_ptr<::bridge::upstream::CallListener> listener) override {
    return std::make_shared<EchoCall>(std::move(listener), spec.one_event);
  }
};

}  // namespace bench::load

#endif  // BENCH_LOAD_ECHO_UPSTREAM_H_
