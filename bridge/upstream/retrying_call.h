// A call under a retry policy (gRFC A6), apart from gRPC: attempts, timers, time and jitter
// come from a RetryContext, so the policy's behaviour is unit-tested with fakes and driven by
// gRPC in grpc_upstream.cc.
//
// Until the call commits (response headers or a reply arrive, or the requests outgrow the
// replay buffer) a failure with a retryable status starts another attempt after a full-jitter
// backoff or the server's pushback, within max_attempts, the deadline and the target's retry
// budget. Requests are kept and replayed to each attempt. Events of old attempts are ignored.
//
// Threading: as upstream.h says for every Call. The attempts' events and the timer's end may
// arrive on any thread; the listener hears one event at a time, in order.
#ifndef BRIDGE_UPSTREAM_RETRYING_CALL_H_
#define BRIDGE_UPSTREAM_RETRYING_CALL_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/upstream/in_flight.h"
#include "bridge/upstream/retry.h"
#include "bridge/upstream/upstream.h"

namespace bridge::upstream {

// One attempt: a Call made first and begun after, so the retrying call holds it before any of
// its events can arrive.
class Attempt : public Call {
 public:
  virtual void Begin() = 0;
};

// A backoff's timer. Cancel ends it early: its `done(false)` follows unless it already ran.
class BackoffTimer {
 public:
  virtual ~BackoffTimer() = default;
  virtual void Cancel() = 0;
};

// What a retrying call needs from around it.
class RetryContext {
 public:
  virtual ~RetryContext() = default;
  // Wall-clock time, the base of deadlines.
  virtual absl::Time Now() = 0;
  // A uniform draw in [0, 1) for the backoff's jitter.
  virtual double Uniform01() = 0;
  // An attempt of `spec`'s method, not begun, reporting to `listener` as a stream (OnHeaders,
  // OnMessage per read, OnFinish) whatever spec.one_event says; it accepts `replay_writes`
  // queued requests beyond its usual limit.
  virtual std::shared_ptr<Attempt> NewAttempt(const CallSpec& spec, absl::Time deadline,
                                              size_t replay_writes,
                                              std::shared_ptr<CallListener> listener) = 0;
  // Runs `done(true)` at `when`, or `done(false)` after Cancel; never inside StartTimer.
  virtual std::shared_ptr<BackoffTimer> StartTimer(absl::Time when,
                                                   std::function<void(bool fired)> done) = 0;
  // A retry started (throttled false) or refused by the budget (throttled true).
  virtual void CountRetry(const std::string& method_path, bool throttled) = 0;
};

class RetryingCall final : public Call, public std::enable_shared_from_this<RetryingCall> {
 public:
  // Requests kept for replay, at most; past it the call commits to its current attempt.
  static constexpr size_t kMaxReplayBytes = 1 << 20;

  // `context`, `rule` and `throttle` must outlive the call.
  RetryingCall(RetryContext* context, const RetryRule* rule, RetryThrottle* throttle,
               std::shared_ptr<InFlightCalls> in_flight, CallSpec spec,
               std::shared_ptr<CallListener> listener);
  // Let go of while waiting out a backoff (its caller gone without cancelling): the call never
  // finishes, so it leaves the count of calls in flight here.
  ~RetryingCall() override;

  // Starts the first attempt; the call is in flight from here to its OnFinish.
  void Begin();

  bool Write(std::string bytes) override;
  void WritesDone() override;
  void RequestRead() override;
  void Cancel() override;

 private:
  class AttemptListener;

  void AttemptHeaders(int attempt, Metadata headers);
  void AttemptMessage(int attempt, std::string bytes);
  void AttemptFinish(int attempt, CallResult result);
  void OnBackoffDone(bool fired);
  std::shared_ptr<Attempt> NewAttemptLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Commit() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Finish(CallResult result);

  RetryContext* const context_;
  const RetryRule* const rule_;
  RetryThrottle* const throttle_;
  const std::shared_ptr<InFlightCalls> in_flight_;
  const CallSpec spec_;
  std::shared_ptr<CallListener> listener_;
  absl::Time deadline_;

  absl::Mutex mu_;
  int attempt_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<Attempt> current_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> writes_ ABSL_GUARDED_BY(mu_);
  size_t replay_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool writes_done_ ABSL_GUARDED_BY(mu_) = false;
  bool read_wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool committed_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  // The current backoff's. A new timer for each backoff: the previous one's `done` may still be
  // running (this attempt was started from it).
  std::shared_ptr<BackoffTimer> timer_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  CallResult last_result_ ABSL_GUARDED_BY(mu_);
  CallResult collected_ ABSL_GUARDED_BY(mu_);  // spec_.one_event: headers and reply so far
};

}  // namespace bridge::upstream

#endif  // BRIDGE_UPSTREAM_RETRYING_CALL_H_
