// RetryingCall against a scripted context: attempts are FakeCalls the test answers, the backoff
// timer fires when the test says, time and jitter are the test's. No sockets, no threads.
#include "bridge/upstream/retrying_call.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/mocks/fake_upstream.h"

namespace bridge::upstream {
namespace {

using ::testing::ElementsAre;
using testing::FakeCall;

// gRPC's status codes have absl::StatusCode's numbers.
constexpr int kOk = static_cast<int>(absl::StatusCode::kOk);
constexpr int kCancelled = static_cast<int>(absl::StatusCode::kCancelled);
constexpr int kInternal = static_cast<int>(absl::StatusCode::kInternal);
constexpr int kUnavailable = static_cast<int>(absl::StatusCode::kUnavailable);
using ::testing::Pair;

// An attempt the test answers through its FakeCall.
class FakeAttempt final : public Attempt {
 public:
  FakeAttempt(const CallSpec& spec, std::shared_ptr<CallListener> listener)
      : call(std::make_shared<FakeCall>(AsStream(spec), listener)), listener_(listener) {}
  void Begin() override { begun = true; }
  // Ends the attempt with a result FakeCall::Finish cannot express (a parsed pushback).
  void End(CallResult result) {
    if (auto listener = listener_.lock()) listener->OnFinish(std::move(result));
  }
  bool Write(std::string bytes) override { return call->Write(std::move(bytes)); }
  void WritesDone() override { call->WritesDone(); }
  void RequestRead() override { call->RequestRead(); }
  void Cancel() override { call->Cancel(); }

  const std::shared_ptr<FakeCall> call;
  bool begun = false;

 private:
  std::weak_ptr<CallListener> listener_;  // the FakeCall holds it, until its end
  static CallSpec AsStream(CallSpec spec) {
    spec.one_event = false;  // attempts report as streams (retrying_call.h)
    return spec;
  }
};

class FakeTimer final : public BackoffTimer {
 public:
  FakeTimer(absl::Time when, std::function<void(bool)> done) : when(when), done_(std::move(done)) {}
  void Cancel() override { cancelled = true; }
  // The timer's end, as its thread would run it.
  void End(bool fired) {
    ASSERT_FALSE(ended_);
    ended_ = true;
    done_(fired);
  }
  const absl::Time when;
  bool cancelled = false;

 private:
  std::function<void(bool)> done_;
  bool ended_ = false;
};

class FakeRetryContext final : public RetryContext {
 public:
  absl::Time Now() override { return now; }
  double Uniform01() override { return uniform01; }
  std::shared_ptr<Attempt> NewAttempt(const CallSpec& spec, absl::Time deadline,
                                      size_t replay_writes,
                                      std::shared_ptr<CallListener> listener) override {
    attempts.push_back(std::make_shared<FakeAttempt>(spec, std::move(listener)));
    deadlines.push_back(deadline);
    replay_allowances.push_back(replay_writes);
    return attempts.back();
  }
  std::shared_ptr<BackoffTimer> StartTimer(absl::Time when,
                                           std::function<void(bool)> done) override {
    timers.push_back(std::make_shared<FakeTimer>(when, std::move(done)));
    return timers.back();
  }
  void CountRetry(const std::string& method_path, bool throttled) override {
    (throttled ? throttled_retries : retries).push_back(method_path);
  }

  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  double uniform01 = 0.5;
  std::vector<std::shared_ptr<FakeAttempt>> attempts;
  std::vector<absl::Time> deadlines;
  std::vector<size_t> replay_allowances;
  std::vector<std::shared_ptr<FakeTimer>> timers;
  std::vector<std::string> retries;
  std::vector<std::string> throttled_retries;
};

// What the caller of the retrying call hears.
class RecordingListener final : public CallListener {
 public:
  void OnHeaders(Metadata h) override { headers.push_back(std::move(h)); }
  void OnMessage(std::string bytes) override { messages.push_back(std::move(bytes)); }
  void OnFinish(CallResult r) override {
    ASSERT_FALSE(result.has_value()) << "OnFinish twice";
    result = std::move(r);
  }
  std::vector<Metadata> headers;
  std::vector<std::string> messages;
  std::optional<CallResult> result;
};

class RetryingCallTest : public ::testing::Test {
 protected:
  RetryingCallTest() {
    rule_.max_attempts = 3;
    rule_.initial_backoff = absl::Milliseconds(100);
    rule_.max_backoff = absl::Seconds(1);
    rule_.multiplier = 2;
    rule_.retryable_codes = {kUnavailable};
    spec_.method.path = "/demo.v1.Echo/Say";
    spec_.method.service = "demo.v1.Echo";
  }

  std::shared_ptr<RetryingCall> Start() {
    auto call =
        std::make_shared<RetryingCall>(&context_, &rule_, &throttle_, in_flight_, spec_, listener_);
    call->Begin();
    return call;
  }
  FakeCall& Attempt(size_t i) { return *context_.attempts.at(i)->call; }

  FakeRetryContext context_;
  RetryRule rule_;
  RetryThrottle throttle_{10, 0.1};
  std::shared_ptr<InFlightCalls> in_flight_ = std::make_shared<InFlightCalls>();
  CallSpec spec_;
  std::shared_ptr<RecordingListener> listener_ = std::make_shared<RecordingListener>();
};

TEST_F(RetryingCallTest, AnUnavailableAttemptIsRetriedAfterItsBackoffWithTheRequestsReplayed) {
  auto call = Start();
  ASSERT_EQ(context_.attempts.size(), 1u);
  EXPECT_TRUE(context_.attempts[0]->begun);
  EXPECT_EQ(in_flight_->count(), 1);
  call->Write("a");
  call->Write("b");
  call->WritesDone();
  call->RequestRead();
  Attempt(0).Finish(kUnavailable, "down");

  // Full jitter: the second attempt's backoff is uniform01 × initial_backoff.
  ASSERT_EQ(context_.timers.size(), 1u);
  EXPECT_EQ(context_.timers[0]->when, context_.now + absl::Milliseconds(50));
  EXPECT_THAT(context_.retries, ElementsAre("/demo.v1.Echo/Say"));
  EXPECT_EQ(context_.attempts.size(), 1u) << "no attempt before the backoff is over";
  EXPECT_FALSE(listener_->result.has_value());

  context_.timers[0]->End(/*fired=*/true);
  ASSERT_EQ(context_.attempts.size(), 2u);
  EXPECT_TRUE(context_.attempts[1]->begun);
  EXPECT_EQ(context_.replay_allowances[1], 2u);
  EXPECT_THAT(Attempt(1).writes, ElementsAre("a", "b"));
  EXPECT_TRUE(Attempt(1).writes_done);
  EXPECT_TRUE(Attempt(1).read_pending());

  Attempt(1).Headers({{"k", "v"}});
  Attempt(1).Reply("reply");
  Attempt(1).Finish(kOk);
  EXPECT_THAT(listener_->headers, ElementsAre(ElementsAre(Pair("k", "v"))));
  EXPECT_THAT(listener_->messages, ElementsAre("reply"));
  ASSERT_TRUE(listener_->result.has_value());
  EXPECT_EQ(listener_->result->code, kOk);
  EXPECT_EQ(in_flight_->count(), 0);
}

TEST_F(RetryingCallTest, TheBackoffGrowsByTheMultiplierUpToItsMaximum) {
  rule_.max_attempts = 5;
  rule_.max_backoff = absl::Milliseconds(300);
  context_.uniform01 = 0.999;
  auto call = Start();
  std::vector<absl::Duration> delays;
  for (size_t i = 0; i < 4; ++i) {
    Attempt(i).Finish(kUnavailable);
    ASSERT_EQ(context_.timers.size(), i + 1);
    delays.push_back(context_.timers[i]->when - context_.now);
    context_.timers[i]->End(true);
  }
  EXPECT_THAT(delays, ElementsAre(absl::Microseconds(99900), absl::Microseconds(199800),
                                  absl::Microseconds(299700), absl::Microseconds(299700)));
  // The fifth attempt is the last: its failure is the call's.
  Attempt(4).Finish(kUnavailable, "still down");
  ASSERT_TRUE(listener_->result.has_value());
  EXPECT_EQ(listener_->result->code, kUnavailable);
  EXPECT_EQ(listener_->result->message, "still down");
  EXPECT_EQ(context_.retries.size(), 4u);
}

TEST_F(RetryingCallTest, AStatusOutsideTheRuleEndsTheCallAtOnce) {
  auto call = Start();
  Attempt(0).Finish(kInternal, "bug");
  EXPECT_TRUE(context_.timers.empty());
  ASSERT_TRUE(listener_->result.has_value());
  EXPECT_EQ(listener_->result->code, kInternal);
  EXPECT_TRUE(context_.retries.empty());
  EXPECT_EQ(in_flight_->count(), 0);
}

TEST_F(RetryingCallTest, ResponseHeadersCommitTheCallSoALaterFailureIsNotRetried) {
  auto call = Start();
  call->RequestRead();
  Attempt(0).Headers({});
  Attempt(0).Finish(kUnavailable);
  EXPECT_EQ(context_.attempts.size(), 1u);
  ASSERT_TRUE(listener_->result.has_value());
  EXPECT_EQ(listener_->result->code, kUnavailable);
}

TEST_F(RetryingCallTest, RequestsBeyondTheReplayBufferCommitTheCall) {
  auto call = Start();
  call->Write(std::string(RetryingCall::kMaxReplayBytes, 'x'));
  call->Write("one more");
  Attempt(0).Finish(kUnavailable);
  EXPECT_EQ(context_.attempts.size(), 1u);
  ASSERT_TRUE(listener_->result.has_value());
  EXPECT_EQ(listener_->result->code, kUnavailable);
  EXPECT_EQ(Attempt(0).writes.size(), 2u) << "the current attempt still got both";
}

TEST_F(RetryingCallTest, TheServersPushbackSetsTheDelay) {
  auto call = Start();
  CallResult pushback;
  pushback.code = kUnavailable;
  pushback.retry_pushback_ms = 700;
  context_.attempts[0]->End(std::move(pushback));
  ASSERT_EQ(context_.timers.size(), 1u);
  EXPECT_EQ(context_.timers[0]->when, context_.now + absl::Milliseconds(700));
}

TEST_F(RetryingCallTest, APushbackThatIsNotADelayForbidsTheRetry) {
  auto call = Start();
  CallResult pushback;
  pushback.code = kUnavailable;
  pushback.retry_pushback_ms = CallResult::kPushbackNoRetry;
  context_.attempts[0]->End(std::move(pushback));
  EXPECT_TRUE(context_.timers.empty());
  ASSERT_TRUE(listener_->result.has_value());
  EXPECT_EQ(listener_->result->code, kUnavailable);
}

TEST_F(RetryingCallTest, ABackoffThatWouldEndPastTheDeadlineEndsTheCallInstead) {
  spec_.timeout = absl::Milliseconds(40);  // the first backoff is 50 ms
  auto call = Start();
  EXPECT_EQ(context_.deadlines[0], context_.now + absl::Milliseconds(40));
  Attempt(0).Finish(kUnavailable);
  EXPECT_TRUE(context_.timers.empty());
  ASSERT_TRUE(listener_->result.has_value());
  EXPECT_EQ(listener_->result->code, kUnavailable);
}

TEST_F(RetryingCallTest, AnEmptyRetryBudgetRefusesTheRetryAndCountsIt) {
  RetryThrottle poor(2, 0.1);  // retries need more than 1 token left; a failure takes 1
  auto call =
      std::make_shared<RetryingCall>(&context_, &rule_, &poor, in_flight_, spec_, listener_);
  call->Begin();
  Attempt(0).Finish(kUnavailable);
  EXPECT_TRUE(context_.timers.empty());
  EXPECT_THAT(context_.throttled_retries, ElementsAre("/demo.v1.Echo/Say"));
  EXPECT_TRUE(context_.retries.empty());
  ASSERT_TRUE(listener_->result.has_value());
  EXPECT_EQ(listener_->result->code, kUnavailable);
}

TEST_F(RetryingCallTest, CancelDuringTheBackoffEndsTheCallWithCancelled) {
  auto call = Start();
  Attempt(0).Finish(kUnavailable);
  ASSERT_EQ(context_.timers.size(), 1u);
  call->Cancel();
  EXPECT_TRUE(context_.timers[0]->cancelled);
  EXPECT_FALSE(listener_->result.has_value()) << "the timer's end reports it";
  context_.timers[0]->End(/*fired=*/false);
  ASSERT_TRUE(listener_->result.has_value());
  EXPECT_EQ(listener_->result->code, kCancelled);
  EXPECT_EQ(context_.attempts.size(), 1u);
  EXPECT_EQ(in_flight_->count(), 0);
}

TEST_F(RetryingCallTest, CancelOfARunningAttemptCancelsItAndItsEndIsTheCalls) {
  auto call = Start();
  call->Cancel();
  EXPECT_TRUE(Attempt(0).cancelled);
  // A CANCELLED end is not retryable here; even a retryable one is not retried once cancelled.
  Attempt(0).Finish(kUnavailable);
  EXPECT_TRUE(context_.timers.empty());
  ASSERT_TRUE(listener_->result.has_value());
  EXPECT_EQ(listener_->result->code, kUnavailable);
}

TEST_F(RetryingCallTest, OneEventCallsGetHeadersAndReplyWithTheEndOfTheAttemptThatSucceeded) {
  spec_.one_event = true;
  auto call = Start();
  call->Write("req");
  call->WritesDone();
  call->RequestRead();
  Attempt(0).Finish(kUnavailable);
  context_.timers[0]->End(true);
  Attempt(1).Headers({{"h", "1"}});
  Attempt(1).Reply("r");
  // The retrying call reads on by itself after the reply, to the end.
  EXPECT_TRUE(Attempt(1).read_pending());
  Attempt(1).Finish(kOk);
  EXPECT_TRUE(listener_->headers.empty());
  EXPECT_TRUE(listener_->messages.empty());
  ASSERT_TRUE(listener_->result.has_value());
  EXPECT_EQ(listener_->result->code, kOk);
  EXPECT_THAT(listener_->result->headers, ElementsAre(Pair("h", "1")));
  EXPECT_EQ(listener_->result->reply, "r");
}

TEST_F(RetryingCallTest, ACallLetGoOfDuringItsBackoffLeavesTheCountOfCallsInFlight) {
  auto call = Start();
  Attempt(0).Finish(kUnavailable);
  ASSERT_EQ(context_.timers.size(), 1u);
  EXPECT_EQ(in_flight_->count(), 1);
  call.reset();
  context_.timers[0]->End(true);  // finds nothing to resume
  EXPECT_EQ(in_flight_->count(), 0);
  EXPECT_FALSE(listener_->result.has_value());
  EXPECT_EQ(context_.attempts.size(), 1u);
}

}  // namespace
}  // namespace bridge::upstream
