// A scripted upstream for unit tests of sessions: it records each call a session starts and
// what the session does with it (writes, half-close, reads, cancel), and the test answers as
// gRPC would (headers, replies, the end), from the test's thread, as gRPC's threads would.
// Keeps to upstream.h's contract, one_event included, and fails the test when the session
// breaks it (a second outstanding read).
#ifndef TESTS_MOCKS_FAKE_UPSTREAM_H_
#define TESTS_MOCKS_FAKE_UPSTREAM_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bridge/upstream/upstream.h"
#include "gtest/gtest.h"

namespace bridge::testing {

class FakeCall final : public upstream::Call {
 public:
  FakeCall(upstream::CallSpec spec, std::shared_ptr<upstream::CallListener> listener)
      : spec(std::move(spec)), listener_(std::move(listener)) {}

  // --- upstream::Call, as the session uses it.
  bool Write(std::string bytes) override {
    if (finished_ || writes_done) return true;
    if (refuse_writes) return false;
    writes.push_back(std::move(bytes));
    return true;
  }
  void WritesDone() override { writes_done = true; }
  void RequestRead() override {
    if (finished_) return;
    EXPECT_FALSE(read_pending_) << "a second RequestRead with one outstanding (upstream.h)";
    read_pending_ = true;
    ++reads;
  }
  void Cancel() override { cancelled = true; }

  // --- The test, as the upstream.
  // Response headers (delivered now, or with the end under one_event).
  void Headers(upstream::Metadata headers) {
    if (spec.one_event) {
      collected_.headers = std::move(headers);
    } else {
      listener_->OnHeaders(std::move(headers));
    }
  }
  // One reply message; needs a read outstanding. Under one_event it is kept for the end and the
  // call reads on by itself.
  void Reply(std::string bytes) {
    ASSERT_TRUE(read_pending_) << "a reply with no read outstanding";
    if (spec.one_event) {
      collected_.reply = std::move(bytes);
      return;
    }
    read_pending_ = false;
    listener_->OnMessage(std::move(bytes));
  }
  // The end of the call.
  void Finish(int code, std::string message = "", upstream::Metadata trailers = {}) {
    ASSERT_FALSE(finished_);
    finished_ = true;
    upstream::CallResult result;
    result.code = code;
    result.message = std::move(message);
    result.trailers = std::move(trailers);
    if (spec.one_event && code == 0) {
      result.headers = std::move(collected_.headers);
      result.reply = std::move(collected_.reply);
    }
    listener_->OnFinish(std::move(result));
    listener_.reset();
  }
  bool read_pending() const { return read_pending_; }
  bool finished() const { return finished_; }

  const upstream::CallSpec spec;
  std::vector<std::string> writes;
  bool writes_done = false;
  int reads = 0;
  bool cancelled = false;
  bool refuse_writes = false;  // Write answers false (max_pending_writes reached)

 private:
  std::shared_ptr<upstream::CallListener> listener_;
  upstream::CallResult collected_;
  bool read_pending_ = false;
  bool finished_ = false;
};

class FakeUpstream final : public upstream::Upstream {
 public:
  bool HasRoute(std::string_view service) const override { return service == routed; }
  std::shared_ptr<upstream::Call> StartCall(
      const upstream::CallSpec& spec, std::shared_ptr<upstream::CallListener> listener) override {
    calls.push_back(std::make_shared<FakeCall>(spec, std::move(listener)));
    return calls.back();
  }

  std::string routed = "demo.v1.Echo";
  std::vector<std::shared_ptr<FakeCall>> calls;  // in the order they were started
};

}  // namespace bridge::testing

#endif  // TESTS_MOCKS_FAKE_UPSTREAM_H_
