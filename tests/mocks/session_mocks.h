// Test doubles for session::Transport and Clock: a transport that records what the session
// sent, closed and armed, and a clock the test moves by hand.
#ifndef TESTS_MOCKS_SESSION_MOCKS_H_
#define TESTS_MOCKS_SESSION_MOCKS_H_

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bridge/common/clock.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/session/session.h"
#include "gmock/gmock.h"

namespace bridge::testing {

class MockTransport : public session::Transport {
 public:
  MOCK_METHOD(void, Send, (std::string data, protocol::Encoding encoding), (override));
  MOCK_METHOD(void, Close, (int code, std::string_view reason), (override));
  MOCK_METHOD(void, ArmTimer, (session::SessionTimer timer, absl::Duration after), (override));
  MOCK_METHOD(void, CancelTimer, (session::SessionTimer timer), (override));
  MOCK_METHOD(std::shared_ptr<session::Executor>, executor, (), (override));
  MOCK_METHOD(size_t, buffered_bytes, (), (override));
  MOCK_METHOD(void, MeasureBuffered, (std::function<void(size_t, size_t)> done), (override));
  MOCK_METHOD(void, WhenBelow, (size_t bytes, std::function<void()> room), (override));
  MOCK_METHOD(void, Release, (), (override));
};

// Keeps posted tasks until the test runs them, as a strand would later.
class FakeExecutor : public session::Executor {
 public:
  void Post(std::function<void()> task) override { tasks.push_back(std::move(task)); }
  // Runs every task posted so far, and those they post. Returns how many ran.
  int RunAll() {
    int n = 0;
    while (!tasks.empty()) {
      auto task = std::move(tasks.front());
      tasks.erase(tasks.begin());
      task();
      ++n;
    }
    return n;
  }
  std::vector<std::function<void()>> tasks;
};

// Records everything; timers are kept so the test can fire the ones that are due.
class FakeTransport : public session::Transport {
 public:
  // Sent frame `i`, decoded from JSON; out of range or undecodable: a test failure and an
  // empty frame.
  v1::Frame SentFrame(size_t i) const {
    v1::Frame f;
    EXPECT_LT(i, sent.size());
    if (i >= sent.size()) return f;
    const protocol::DecodeError error = protocol::DecodeJsonFrame(sent[i], &f);
    EXPECT_TRUE(error.ok()) << error.message << " in " << sent[i];
    return f;
  }
  void Send(std::string data, protocol::Encoding encoding) override {
    sent.push_back(std::move(data));
    encodings.push_back(encoding);
  }
  void Close(int code, std::string_view reason) override {
    close_code = code;
    close_reason = std::string(reason);
  }
  // Records that the close went ahead of what was waiting; `farewell` is the last frame sent.
  void CloseAhead(std::string farewell, protocol::Encoding encoding, int code,
                  std::string_view reason) override {
    closed_ahead = true;
    Send(std::move(farewell), encoding);
    Close(code, reason);
  }
  void ArmTimer(session::SessionTimer timer, absl::Duration after) override {
    armed[timer] = after;
  }
  void CancelTimer(session::SessionTimer timer) override { armed.erase(timer); }
  std::shared_ptr<session::Executor> executor() override { return fake_executor; }
  size_t buffered_bytes() override { return buffered; }
  // The figures as they are when the posted task runs.
  void MeasureBuffered(std::function<void(size_t, size_t)> done) override {
    fake_executor->Post(
        [this, done = std::move(done)] { done(buffered, std::max(buffered, peak)); });
  }
  // Kept for the test to answer (TellRoom), as a completed write would.
  void WhenBelow(size_t bytes, std::function<void()> room) override {
    room_below = bytes;
    room_request = std::move(room);
  }
  // The writes caught up to `now` bytes waiting: a request for room is answered by a task.
  void Drained(size_t now) {
    buffered = now;
    if (room_request == nullptr || buffered >= room_below) return;
    fake_executor->Post(std::move(room_request));
    room_request = nullptr;
  }
  void Release() override { ++released; }

  std::shared_ptr<FakeExecutor> fake_executor = std::make_shared<FakeExecutor>();
  size_t buffered = 0;
  size_t peak = 0;
  int released = 0;
  std::function<void()> room_request;  // WhenBelow's, until answered
  size_t room_below = 0;

  std::vector<std::string> sent;
  std::vector<protocol::Encoding> encodings;
  std::optional<int> close_code;
  std::string close_reason;
  bool closed_ahead = false;
  std::map<session::SessionTimer, absl::Duration> armed;  // delay of each armed timer
};

class FakeClock : public Clock {
 public:
  absl::Time Now() override { return absl::UnixEpoch() + absl::Hours(24 * 365 * 56) + offset_; }
  absl::Duration Monotonic() override { return offset_; }
  void Advance(absl::Duration d) { offset_ += d; }

 private:
  absl::Duration offset_ = absl::ZeroDuration();
};

}  // namespace bridge::testing

#endif  // TESTS_MOCKS_SESSION_MOCKS_H_
