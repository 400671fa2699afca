#include "harness/scenario/call_steps.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/protocol/error_table.h"

namespace harness::scenario {

using ::bridge::client::CallOutcome;
using ::bridge::protocol::CallRetry;
using ::bridge::protocol::CategoryName;

CallSteps::CallSteps(bridge::client::WebSocketClient& client,
                     const bridge::client::BackoffOptions& backoff, uint64_t seed,
                     absl::Time deadline)
    : client_(client),
      backoff_(backoff),
      deadline_(deadline),
      rng_(seed),
      timer_work_(asio::make_work_guard(timer_io_)),
      timer_thread_([this] { timer_io_.run(); }) {}

CallSteps::~CallSteps() { Stop(); }

void CallSteps::Stop() {
  timer_work_.reset();
  timer_io_.stop();
  if (timer_thread_.joinable()) timer_thread_.join();
}

Observed CallSteps::Call(const v1::Call& spec, int index) {
  const int count = spec.count() > 0 ? static_cast<int>(spec.count()) : 1;
  for (int n = 0; n < count; ++n) {
    auto call = std::make_shared<CallState>();
    call->spec = spec;
    const std::string base = spec.id().empty() ? absl::StrCat("call", index + 1) : spec.id();
    call->id = count == 1 ? base : absl::StrCat(base, "#", n + 1);
    {
      absl::MutexLock lock(&mu_);
      calls_.push_back(call);
    }
    if (absl::Status s = StartAttempt(call); !s.ok()) return s;
  }
  return absl::StrCat(count, " × ", spec.method());
}

absl::Status CallSteps::StartAttempt(const std::shared_ptr<CallState>& call) {
  bridge::client::CallOptions o;
  for (const auto& [k, v] : call->spec.metadata()) o.metadata[k] = v;
  o.timeout = absl::Milliseconds(call->spec.timeout_ms());
  o.idempotent = call->spec.idempotent();
  {
    absl::MutexLock lock(&mu_);
    ++call->attempts;
    call->attempt_times.push_back(absl::Now());
    call->outcomes_of_last = 0;
    call->messages.clear();
  }
  const int attempt = call->attempts;
  bridge::client::CallHandlers h;
  h.on_message = [this, call, attempt](std::string payload) {
    absl::MutexLock lock(&mu_);
    if (call->attempts == attempt) call->messages.push_back(std::move(payload));
  };
  h.on_done = [this, call, attempt](CallOutcome outcome) { OnCallDone(call, attempt, outcome); };
  auto handle = client_->Call(call->spec.method(), call->spec.payload(), o, std::move(h));
  if (!handle.ok()) {
    return absl::InternalError(
        absl::StrCat("the client refused call ", call->id, ": ", handle.status().message()));
  }
  for (const std::string& send : call->spec.stream_sends()) {
    if (absl::Status s = (*handle)->Send(send); !s.ok()) return s;
  }
  if (call->spec.stream_sends_size() > 0) return (*handle)->End();
  return absl::OkStatus();
}

void CallSteps::OnCallDone(const std::shared_ptr<CallState>& call, int attempt,
                           CallOutcome outcome) {
  bool retry = false;
  {
    absl::MutexLock lock(&mu_);
    if (call->attempts != attempt) return;
    ++call->outcomes_of_last;
    if (call->outcomes_of_last > 1) return;  // a duplicate: counted, not acted on
    const int max_attempts =
        call->spec.max_attempts() > 0 ? static_cast<int>(call->spec.max_attempts()) : 1;
    const CallRetry table = bridge::protocol::Info(outcome.category).call_retry;
    const bool may_retry =
        !outcome.ok() &&
        (outcome.retryable || (call->spec.idempotent() && table == CallRetry::kIdempotentOnly));
    retry = may_retry && attempt < max_attempts;
    if (!retry) {
      call->done = true;
      call->outcome = std::move(outcome);
      return;
    }
  }
  // docs/protocol.md: the backoff delay, never sooner than retryAfterMs.
  const absl::Duration delay = bridge::client::BackoffDelay(
      backoff_, attempt, std::uniform_real_distribution<double>(0.0, 1.0)(rng_),
      outcome.retry_after);
  auto timer = std::make_shared<asio::steady_timer>(timer_io_);
  timer->expires_after(absl::ToChronoMilliseconds(delay));
  timer->async_wait([this, call, timer](const asio::error_code& ec) {
    if (ec) return;
    if (absl::Status s = StartAttempt(call); !s.ok()) {
      absl::MutexLock lock(&mu_);
      call->done = true;
      call->outcome.status = s;
    }
  });
}

absl::Status CallSteps::Check(const CallState& call, CallReport& r) {
  r.id = call.id;
  r.method = call.spec.method();
  r.attempts = call.attempts;
  r.done = call.done;
  r.outcomes = call.outcomes_of_last;
  r.messages = static_cast<int>(call.messages.size());
  if (!call.done) {
    r.ok = false;
    r.detail = "no outcome: lost";
    return absl::DataLossError(absl::StrCat("call ", call.id, " never ended (lost)"));
  }
  const CallOutcome& o = call.outcome;
  r.outcome = o.ok() ? "ok" : std::string(CategoryName(o.category));
  r.retryable = o.retryable;
  r.grpc_code = o.grpc_code.value_or(o.ok() ? 0 : -1);
  r.retry_after_ms = absl::ToInt64Milliseconds(o.retry_after);
  // Sequence numbers of the demo's replies: 1, 2, ... each exactly once.
  int64_t expected = 1;
  for (const std::string& m : call.messages) {
    const int64_t seq = NumberField(m, "sequence");
    if (seq == 0) continue;
    if (seq < expected) {
      ++r.messages_duplicated;
    } else {
      r.messages_lost += static_cast<int>(seq - expected);
      expected = seq + 1;
    }
  }
  Mismatches wrong;
  if (r.outcomes > 1) wrong.Add("ended ", r.outcomes, " times");
  const v1::CallExpectation& e = call.spec.expect();
  if (e.category().empty()) {
    if (!o.ok()) wrong.Add("failed with ", r.outcome, " (", o.status.message(), "), expected ok");
  } else if (r.outcome != e.category()) {
    wrong.Add("ended ", r.outcome, ", expected ", e.category());
  }
  if (e.has_retryable() && !o.ok() && e.retryable() != o.retryable) {
    wrong.Add("retryable ", o.retryable, ", expected ", e.retryable());
  }
  if (e.has_grpc_code() && r.grpc_code != static_cast<int>(e.grpc_code())) {
    wrong.Add("grpcCode ", r.grpc_code, ", expected ", e.grpc_code());
  }
  if (e.has_retry_after_ms() && r.retry_after_ms != static_cast<int64_t>(e.retry_after_ms())) {
    wrong.Add("retryAfterMs ", r.retry_after_ms, ", expected ", e.retry_after_ms());
  }
  if (e.has_stream_messages() && r.messages != static_cast<int>(e.stream_messages())) {
    wrong.Add(r.messages, " stream messages, expected ", e.stream_messages());
  }
  if (r.messages_lost > 0 || r.messages_duplicated > 0) {
    wrong.Add(r.messages_lost, " stream messages lost, ", r.messages_duplicated, " duplicated");
  }
  if (e.has_attempts() && r.attempts != static_cast<int>(e.attempts())) {
    wrong.Add(r.attempts, " attempts, expected ", e.attempts());
  }
  if (e.has_min_retry_gap_ms()) {
    for (size_t i = 1; i < call.attempt_times.size(); ++i) {
      const absl::Duration gap = call.attempt_times[i] - call.attempt_times[i - 1];
      if (gap < absl::Milliseconds(e.min_retry_gap_ms())) {
        wrong.Add("attempt ", i + 1, " came ", Ms(gap), " after the last, sooner than ",
                  e.min_retry_gap_ms(), " ms");
      }
    }
    if (call.attempt_times.size() > 1) {
      absl::StrAppend(&r.detail, "retried after ",
                      Ms(call.attempt_times[1] - call.attempt_times[0]), "; ");
    }
  }
  r.ok = wrong.empty();
  absl::StrAppend(&r.detail, r.outcome,
                  r.messages > 0 ? absl::StrCat(", ", r.messages, " msgs") : "");
  if (!r.ok) {
    r.detail = wrong.Joined();
    return absl::FailedPreconditionError(absl::StrCat("call ", call.id, ": ", r.detail));
  }
  return absl::OkStatus();
}

Observed CallSteps::AwaitCalls() {
  std::vector<std::shared_ptr<CallState>> calls;
  {
    absl::MutexLock lock(&mu_);
    calls.assign(calls_.begin() + static_cast<long>(checked_calls_), calls_.end());
    checked_calls_ = calls_.size();
  }
  AwaitUntil(mu_, deadline_, [&] {
    return std::all_of(calls.begin(), calls.end(),
                       [](const std::shared_ptr<CallState>& c) { return c->done; });
  });
  absl::Status first = absl::OkStatus();
  absl::MutexLock lock(&mu_);
  for (const std::shared_ptr<CallState>& call : calls) {
    CallReport r;
    absl::Status s = Check(*call, r);
    reports_.push_back(r);
    if (first.ok() && !s.ok()) first = s;
  }
  if (!first.ok()) return first;
  return absl::StrCat(calls.size(), " calls ended as expected");
}

}  // namespace harness::scenario
