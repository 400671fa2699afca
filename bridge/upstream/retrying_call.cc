#include "bridge/upstream/retrying_call.h"

#include <utility>

#include "absl/status/status.h"

namespace bridge::upstream {
namespace {

// gRPC's status codes have absl::StatusCode's numbers.
constexpr int kOk = static_cast<int>(absl::StatusCode::kOk);
constexpr int kCancelled = static_cast<int>(absl::StatusCode::kCancelled);

}  // namespace

// Hands an attempt's events to its call, with the attempt's number.
class RetryingCall::AttemptListener final : public CallListener {
 public:
  AttemptListener(std::shared_ptr<RetryingCall> owner, int attempt)
      : owner_(std::move(owner)), attempt_(attempt) {}
  void OnHeaders(Metadata headers) override {
    owner_->AttemptHeaders(attempt_, std::move(headers));
  }
  void OnMessage(std::string bytes) override { owner_->AttemptMessage(attempt_, std::move(bytes)); }
  void OnFinish(CallResult result) override { owner_->AttemptFinish(attempt_, std::move(result)); }

 private:
  std::shared_ptr<RetryingCall> owner_;
  const int attempt_;
};

RetryingCall::RetryingCall(RetryContext* context, const RetryRule* rule, RetryThrottle* throttle,
                           std::shared_ptr<InFlightCalls> in_flight, CallSpec spec,
                           std::shared_ptr<CallListener> listener)
    : context_(context),
      rule_(rule),
      throttle_(throttle),
      in_flight_(std::move(in_flight)),
      spec_(std::move(spec)),
      listener_(std::move(listener)) {}

RetryingCall::~RetryingCall() {
  if (!finished_) in_flight_->Leave();
}

void RetryingCall::Begin() {
  deadline_ = spec_.timeout > absl::ZeroDuration() ? context_->Now() + spec_.timeout
                                                   : absl::InfiniteFuture();
  in_flight_->Enter();
  std::shared_ptr<Attempt> attempt;
  {
    absl::MutexLock lock(&mu_);
    attempt = NewAttemptLocked();
  }
  attempt->Begin();
}

bool RetryingCall::Write(std::string bytes) {
  std::shared_ptr<Attempt> attempt;
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return true;
    if (!committed_) {
      replay_bytes_ += bytes.size();
      if (replay_bytes_ > kMaxReplayBytes) {
        Commit();
      } else {
        writes_.push_back(bytes);
      }
    }
    attempt = current_;
  }
  return attempt == nullptr || attempt->Write(std::move(bytes));
}

void RetryingCall::WritesDone() {
  std::shared_ptr<Attempt> attempt;
  {
    absl::MutexLock lock(&mu_);
    writes_done_ = true;
    attempt = current_;
  }
  if (attempt != nullptr) attempt->WritesDone();
}

void RetryingCall::RequestRead() {
  std::shared_ptr<Attempt> attempt;
  {
    absl::MutexLock lock(&mu_);
    read_wanted_ = true;
    attempt = current_;
  }
  if (attempt != nullptr) attempt->RequestRead();
}

void RetryingCall::Cancel() {
  std::shared_ptr<Attempt> attempt;
  std::shared_ptr<BackoffTimer> timer;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    attempt = current_;
    if (waiting_) timer = timer_;
  }
  if (attempt != nullptr) attempt->Cancel();
  if (timer != nullptr) timer->Cancel();  // the backoff ends now, with CANCELLED
}

void RetryingCall::AttemptHeaders(int attempt, Metadata headers) {
  {
    absl::MutexLock lock(&mu_);
    if (attempt != attempt_) return;
    Commit();
    if (spec_.one_event) {
      collected_.headers = std::move(headers);
      return;
    }
  }
  listener_->OnHeaders(std::move(headers));
}

void RetryingCall::AttemptMessage(int attempt, std::string bytes) {
  std::shared_ptr<Attempt> read_on;
  {
    absl::MutexLock lock(&mu_);
    if (attempt != attempt_) return;
    Commit();
    if (spec_.one_event) {
      // The attempt reports as a stream; this call reads on to the end by itself.
      collected_.reply = std::move(bytes);
      read_on = current_;
    } else {
      read_wanted_ = false;
    }
  }
  if (!spec_.one_event) {
    listener_->OnMessage(std::move(bytes));
  } else if (read_on != nullptr) {
    read_on->RequestRead();
  }
}

void RetryingCall::AttemptFinish(int attempt, CallResult result) {
  std::shared_ptr<BackoffTimer> superseded;  // let go of outside the lock
  {
    absl::MutexLock lock(&mu_);
    if (attempt != attempt_) return;
    current_.reset();
    if (result.code == kOk) {
      throttle_->OnSuccess();
    } else if (rule_->retryable_codes.count(result.code) > 0) {
      const bool budget = throttle_->OnFailureAllowsRetry();
      const bool eligible = !committed_ && !cancelled_ && attempt_ < rule_->max_attempts &&
                            result.retry_pushback_ms != CallResult::kPushbackNoRetry;
      if (eligible && !budget) context_->CountRetry(spec_.method.path, /*throttled=*/true);
      if (eligible && budget) {
        const absl::Duration delay =
            result.retry_pushback_ms >= 0
                ? absl::Milliseconds(result.retry_pushback_ms)
                : BackoffDelay(*rule_, attempt_ + 1, context_->Uniform01());
        const absl::Time when = context_->Now() + delay;
        if (when < deadline_) {
          context_->CountRetry(spec_.method.path, /*throttled=*/false);
          last_result_ = std::move(result);
          waiting_ = true;
          superseded = std::move(timer_);
          // Weak: a timer may keep its callback after it ran, and a strong reference there
          // would keep this call alive for good.
          timer_ = context_->StartTimer(when, [weak = weak_from_this()](bool fired) {
            if (auto self = weak.lock()) self->OnBackoffDone(fired);
          });
          return;
        }
      }
    }
    finished_ = true;
    if (spec_.one_event && result.code == kOk) {
      result.headers = std::move(collected_.headers);
      result.reply = std::move(collected_.reply);
    }
  }
  Finish(std::move(result));
}

std::shared_ptr<Attempt> RetryingCall::NewAttemptLocked() {
  ++attempt_;
  current_ = context_->NewAttempt(spec_, deadline_, writes_.size(),
                                  std::make_shared<AttemptListener>(shared_from_this(), attempt_));
  return current_;
}

void RetryingCall::OnBackoffDone(bool fired) {
  std::shared_ptr<Attempt> attempt;
  CallResult result;
  bool finish = false;
  // What the caller did so far, for the new attempt.
  std::vector<std::string> writes;
  bool writes_done = false;
  bool read_wanted = false;
  {
    absl::MutexLock lock(&mu_);
    waiting_ = false;
    if (cancelled_ || !fired) {
      result.code = kCancelled;
      result.message = "cancelled";
      finish = true;
    } else if (committed_) {
      result = std::move(last_result_);
      finish = true;
    } else {
      attempt = NewAttemptLocked();
      writes = writes_;
      writes_done = writes_done_;
      read_wanted = read_wanted_;
    }
    if (finish) finished_ = true;
  }
  if (finish) {
    Finish(std::move(result));
    return;
  }
  attempt->Begin();
  for (std::string& w : writes) attempt->Write(std::move(w));
  if (writes_done) attempt->WritesDone();
  if (read_wanted) attempt->RequestRead();
}

void RetryingCall::Commit() {
  committed_ = true;
  writes_.clear();
}

void RetryingCall::Finish(CallResult result) {
  listener_->OnFinish(std::move(result));
  listener_.reset();
  in_flight_->Leave();
}

}  // namespace bridge::upstream
