#include "harness/scenario/runner.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "asio.hpp"
#include "bridge/client/backoff.h"
#include "bridge/client/websocket_client.h"
#include "bridge/common/strings.h"
#include "bridge/config/config.h"
#include "bridge/protocol/error_table.h"

namespace harness::scenario {
namespace {

using ::bridge::client::BackoffOptions;
using ::bridge::client::CallOutcome;
using ::bridge::client::ClientOptions;
using ::bridge::client::CloseInfo;
using ::bridge::client::Jitter;
using ::bridge::client::SessionError;
using ::bridge::client::SessionInfo;
using ::bridge::client::State;
using ::bridge::client::StateChange;
using ::bridge::client::WebSocketClient;
using ::bridge::protocol::CallRetry;
using ::bridge::protocol::CategoryName;
using ::bridge::protocol::ClassifyClose;
using ::bridge::v1::ErrorCategory;

std::string Ms(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d), " ms"); }

BackoffOptions Backoff(const v1::ClientSettings& c) {
  BackoffOptions b;
  b.base = absl::Milliseconds(c.has_backoff_base_ms() ? c.backoff_base_ms() : 200);
  b.max = absl::Milliseconds(c.has_backoff_max_ms() ? c.backoff_max_ms() : 5000);
  b.max_attempts = c.has_max_attempts() ? static_cast<int>(c.max_attempts()) : 5;
  b.jitter = c.jitter() == "full"   ? Jitter::kFull
             : c.jitter() == "none" ? Jitter::kNone
                                    : Jitter::kEqual;
  return b;
}

std::string StepKind(const v1::Step& step) {
  if (!step.name().empty()) return step.name();
  const auto* field = step.GetDescriptor()->FindFieldByNumber(step.kind_case());
  return field == nullptr ? "step" : field->name();
}

// The "sequence" of a demo reply ({"sequence":"3"} in the JSON mapping), or 0 when it has none.
int64_t SequenceOf(const std::string& json) {
  const size_t key = json.find("\"sequence\"");
  if (key == std::string::npos) return 0;
  size_t i = json.find(':', key);
  if (i == std::string::npos) return 0;
  ++i;
  while (i < json.size() && (json[i] == ' ' || json[i] == '"')) ++i;
  size_t end = i;
  while (end < json.size() && json[end] >= '0' && json[end] <= '9') ++end;
  int64_t value = 0;
  return absl::SimpleAtoi(json.substr(i, end - i), &value) ? value : 0;
}

// Everything the client reported, in order, with the time it arrived.
struct CloseEvent {
  CloseInfo info;
  absl::Duration retry_after;  // the largest retryAfterMs of the session's error frames
  absl::Time at;
};
struct AttemptEvent {
  int attempt = 0;
  absl::Duration planned;
  absl::Time scheduled_at;
  absl::Time started_at = absl::InfiniteFuture();
};
struct OpenEvent {
  SessionInfo info;
  absl::Time at;
};

// One call of the scenario across its attempts.
struct CallState {
  v1::Call spec;
  std::string id;
  int attempts = 0;
  std::vector<absl::Time> attempt_times;
  int outcomes_of_last = 0;
  bool done = false;
  CallOutcome outcome;
  std::vector<std::string> messages;  // of the last attempt
};

// The "n" of a publication's data ({"n":3}), or 0 when it has none.
int64_t PayloadNumber(const std::string& json) {
  const size_t key = json.find("\"n\"");
  if (key == std::string::npos) return 0;
  size_t i = json.find(':', key);
  if (i == std::string::npos) return 0;
  ++i;
  while (i < json.size() && (json[i] == ' ' || json[i] == '"')) ++i;
  size_t end = i;
  while (end < json.size() && json[end] >= '0' && json[end] <= '9') ++end;
  int64_t value = 0;
  return absl::SimpleAtoi(json.substr(i, end - i), &value) ? value : 0;
}

// "3, 4, 5" (at most 20, then how many more).
std::string OffsetList(const std::vector<uint64_t>& offsets) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < offsets.size() && i < 20; ++i) parts.push_back(absl::StrCat(offsets[i]));
  if (offsets.size() > 20) parts.push_back(absl::StrCat("... (", offsets.size(), " in all)"));
  return absl::StrJoin(parts, ", ");
}

// One publication of a `publish` step, as BridgeControl answered it.
struct Published {
  uint64_t offset = 0;
  std::string epoch;
  int64_t n = 0;
};

// One client's subscription to one channel, across reconnects.
struct ChannelSub {
  std::string client;  // "main" for the scenario's client
  std::string channel;
  size_t owed_from = 0;  // publications of the channel published before the subscribe
  std::vector<bridge::client::ChannelEvent> subscribed;  // the first, then resubscribes
  std::vector<bridge::client::Publication> received;
  bool refused = false;
  SessionError refusal;
  bool unsubscribed = false;
};

constexpr char kMain[] = "main";

class Run {
 public:
  Run(const v1::Scenario& scenario, const RunOptions& options)
      : scenario_(scenario),
        options_(options),
        backoff_(Backoff(scenario.client())),
        rng_(options.seed),
        deadline_(absl::Now() +
                  absl::Milliseconds(scenario.timeout_ms() > 0 ? scenario.timeout_ms() : 30000)),
        timer_work_(asio::make_work_guard(timer_io_)) {
    report_.name = scenario.name();
    report_.description = scenario.description();
    report_.fault = scenario.fault();
  }

  ~Run() {
    timer_work_.reset();
    timer_io_.stop();
    if (timer_thread_.joinable()) timer_thread_.join();
    client_.reset();
    extra_clients_.clear();
    parts_.reset();
  }

  ScenarioReport Go() {
    const absl::Time start = absl::Now();
    Target target = options_.target;
    target.seed = options_.seed;
    absl::StatusOr<std::unique_ptr<ScenarioParts>> parts =
        ScenarioParts::Start(scenario_.parts(), target);
    if (!parts.ok()) {
      report_.verdict = parts.status().code() == absl::StatusCode::kUnimplemented
                            ? Verdict::kSkipped
                            : Verdict::kFail;
      report_.reason = std::string(parts.status().message());
      return Finish(start);
    }
    parts_ = *std::move(parts);
    timer_thread_ = std::thread([this] { timer_io_.run(); });
    MakeClient();

    for (int i = 0; i < scenario_.steps_size(); ++i) {
      const v1::Step& step = scenario_.steps(i);
      const absl::Time step_start = absl::Now();
      StepReport step_report;
      step_report.name = StepKind(step);
      absl::Status status = RunStep(step, i);
      if (status.code() == absl::StatusCode::kUnimplemented) {
        report_.verdict = Verdict::kSkipped;
        report_.reason =
            absl::StrCat("step ", i + 1, " (", step_report.name, "): ", status.message());
        step_report.detail = report_.reason;
        report_.steps.push_back(step_report);
        return Finish(start);
      }
      step_report.ok = status.ok();
      step_report.detail = status.ok() ? detail_ : std::string(status.message());
      detail_.clear();
      step_report.took = absl::Now() - step_start;
      report_.steps.push_back(step_report);
      if (!status.ok()) {
        Fail(absl::StrCat("step ", i + 1, " (", step_report.name, "): ", status.message()));
        break;
      }
    }
    // Whatever the steps said, every call must have ended exactly once.
    if (report_.verdict != Verdict::kFail) {
      if (absl::Status all = CheckCalls(); !all.ok()) Fail(std::string(all.message()));
    }
    return Finish(start);
  }

 private:
  void Fail(std::string reason) {
    if (report_.verdict == Verdict::kFail) return;
    report_.verdict = Verdict::kFail;
    report_.reason = std::move(reason);
  }

  ScenarioReport Finish(absl::Time start) {
    {
      absl::MutexLock lock(&mu_);
      for (const CloseEvent& c : closes_) {
        report_.closes.push_back(CloseReport{
            c.info.code, std::string(CategoryName(c.info.category)), c.info.will_reconnect});
      }
    }
    for (const ChannelReport& c : report_.channels) {
      report_.publications_lost += c.lost;
      report_.publications_duplicated += c.duplicated;
      report_.publications_unrecovered += c.unrecovered;
    }
    report_.took = absl::Now() - start;
    return report_;
  }

  std::string ClientId() const {
    const v1::ClientSettings& c = scenario_.client();
    return c.client_id().empty() ? absl::StrCat("scenario-", scenario_.name()) : c.client_id();
  }

  std::unique_ptr<WebSocketClient> NewClient(const std::string& client_id, uint64_t seed) {
    const v1::ClientSettings& c = scenario_.client();
    ClientOptions o;
    o.url = parts_->client_url();
    o.client_id = client_id;
    o.token = c.token();
    o.reconnect = backoff_;
    o.resume = !c.has_resume() || c.resume();
    o.connect_timeout = absl::Seconds(5);
    if (c.heartbeat_interval_ms() > 0) {
      o.heartbeat_interval = absl::Milliseconds(c.heartbeat_interval_ms());
    }
    if (c.heartbeat_timeout_ms() > 0) {
      o.heartbeat_timeout = absl::Milliseconds(c.heartbeat_timeout_ms());
    }
    o.close_timeout = absl::Seconds(1);
    auto random = std::make_shared<std::mt19937_64>(seed);
    return std::make_unique<WebSocketClient>(
        o, bridge::client::WebSocketTransportOptions(),
        [random] { return std::uniform_real_distribution<double>(0.0, 1.0)(*random); });
  }

  void MakeClient() {
    client_ = NewClient(ClientId(), options_.seed);
    bridge::client::ClientHandlers h;
    h.on_state_change = [this](const StateChange& change) {
      if (change.from != State::kReconnecting || change.to != State::kConnecting) return;
      absl::MutexLock lock(&mu_);
      if (!attempts_.empty()) attempts_.back().started_at = absl::Now();
    };
    h.on_open = [this](const SessionInfo& info) {
      absl::MutexLock lock(&mu_);
      opens_.push_back(OpenEvent{info, absl::Now()});
      session_retry_after_ = absl::ZeroDuration();
    };
    h.on_error = [this](const SessionError& error) {
      absl::MutexLock lock(&mu_);
      session_retry_after_ = std::max(session_retry_after_, error.retry_after);
    };
    h.on_close = [this](const CloseInfo& info) {
      std::function<void()> hook;
      {
        absl::MutexLock lock(&mu_);
        closes_.push_back(CloseEvent{info, session_retry_after_, absl::Now()});
        session_retry_after_ = absl::ZeroDuration();
        hook = std::move(on_next_close_);
        on_next_close_ = nullptr;
      }
      // Before the client can reconnect: its reconnect timer fires on this same thread.
      if (hook) hook();
    };
    h.on_reconnecting = [this](int attempt, absl::Duration delay) {
      absl::MutexLock lock(&mu_);
      attempts_.push_back(AttemptEvent{attempt, delay, absl::Now()});
    };
    (*client_)->set_handlers(std::move(h));
    const google::protobuf::OneofDescriptor* kinds =
        bridge::v1::Frame::descriptor()->FindOneofByName("kind");
    for (int i = 0; i < kinds->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* kind = kinds->field(i);
      (*client_)->OnFrame(static_cast<bridge::v1::Frame::KindCase>(kind->number()),
                          [this, type = kind->name()](const bridge::v1::Frame& frame) {
                            absl::MutexLock lock(&mu_);
                            frames_[type].push_back(frame);
                          });
    }
  }

  // Waits until `ready` (evaluated under mu_) or the scenario's deadline.
  bool Await(std::function<bool()> ready) {
    absl::MutexLock lock(&mu_);
    auto cond = [&ready]() { return ready(); };
    return mu_.AwaitWithDeadline(absl::Condition(&cond), deadline_);
  }

  absl::Status RunStep(const v1::Step& step, int index) {
    switch (step.kind_case()) {
      case v1::Step::kConnect:
        return DoConnect(step.connect());
      case v1::Step::kCall:
        return DoCall(step.call(), index);
      case v1::Step::kInject:
        return DoInject(step.inject());
      case v1::Step::kRestore:
        return parts_->Restore();
      case v1::Step::kDrain:
        return parts_->Drain();
      case v1::Step::kSwitchBridge:
        return parts_->SwitchBridge();
      case v1::Step::kExpectClose:
        return DoExpectClose(step.expect_close());
      case v1::Step::kExpectReconnect:
        return DoExpectReconnect(step.expect_reconnect());
      case v1::Step::kAwaitCalls:
        return CheckCalls();
      case v1::Step::kExpectBackend:
        return DoExpectBackend(step.expect_backend());
      case v1::Step::kExpectState:
        return DoExpectState(step.expect_state());
      case v1::Step::kExpectFrame:
        return DoExpectFrame(step.expect_frame());
      case v1::Step::kSubscribe:
        return DoSubscribe(step.subscribe());
      case v1::Step::kPublish:
        return DoPublish(step.publish());
      case v1::Step::kExpectPublications:
        return DoExpectPublications(step.expect_publications());
      case v1::Step::KIND_NOT_SET:
        break;
    }
    return absl::InvalidArgumentError("a step without a kind");
  }

  absl::Status DoConnect(const v1::Connect& connect) {
    size_t opens_before, closes_before;
    {
      absl::MutexLock lock(&mu_);
      opens_before = opens_.size();
      closes_before = closes_.size();
    }
    // After the counts: the confirm may come back before this thread looks again.
    (*client_)->Connect();
    if (connect.has_expect_close()) {
      return DoExpectClose(connect.expect_close());
    }
    if (!Await([&] { return opens_.size() > opens_before || closes_.size() > closes_before; })) {
      return absl::DeadlineExceededError("no connect_confirm before the scenario's deadline");
    }
    absl::MutexLock lock(&mu_);
    if (opens_.size() == opens_before) {
      const CloseInfo& c = closes_.back().info;
      return absl::FailedPreconditionError(absl::StrCat("the connection closed with ", c.code, " (",
                                                        bridge::Sv(CategoryName(c.category)), ") ",
                                                        c.reason));
    }
    open_cursor_ = opens_.size();
    detail_ = absl::StrCat("confirmed ", opens_.back().info.conversation_id);
    return absl::OkStatus();
  }

  absl::Status DoCall(const v1::Call& spec, int index) {
    const int count = spec.count() > 0 ? static_cast<int>(spec.count()) : 1;
    std::vector<std::shared_ptr<CallState>> started;
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
    detail_ = absl::StrCat(count, " × ", spec.method());
    return absl::OkStatus();
  }

  absl::Status StartAttempt(const std::shared_ptr<CallState>& call) {
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
    auto handle = (*client_)->Call(call->spec.method(), call->spec.payload(), o, std::move(h));
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

  void OnCallDone(const std::shared_ptr<CallState>& call, int attempt, CallOutcome outcome) {
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

  absl::Status CheckOneCall(CallState& call, CallReport& r) {
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
      const int64_t seq = SequenceOf(m);
      if (seq == 0) continue;
      if (seq < expected) {
        ++r.messages_duplicated;
      } else {
        r.messages_lost += static_cast<int>(seq - expected);
        expected = seq + 1;
      }
    }
    std::vector<std::string> wrong;
    if (r.outcomes > 1) wrong.push_back(absl::StrCat("ended ", r.outcomes, " times"));
    const v1::CallExpectation& e = call.spec.expect();
    if (e.category().empty()) {
      if (!o.ok()) {
        wrong.push_back(
            absl::StrCat("failed with ", r.outcome, " (", o.status.message(), "), expected ok"));
      }
    } else if (r.outcome != e.category()) {
      wrong.push_back(absl::StrCat("ended ", r.outcome, ", expected ", e.category()));
    }
    if (e.has_retryable() && !o.ok() && e.retryable() != o.retryable) {
      wrong.push_back(absl::StrCat("retryable ", o.retryable, ", expected ", e.retryable()));
    }
    if (e.has_grpc_code() && r.grpc_code != static_cast<int>(e.grpc_code())) {
      wrong.push_back(absl::StrCat("grpcCode ", r.grpc_code, ", expected ", e.grpc_code()));
    }
    if (e.has_retry_after_ms() && r.retry_after_ms != static_cast<int64_t>(e.retry_after_ms())) {
      wrong.push_back(
          absl::StrCat("retryAfterMs ", r.retry_after_ms, ", expected ", e.retry_after_ms()));
    }
    if (e.has_stream_messages() && r.messages != static_cast<int>(e.stream_messages())) {
      wrong.push_back(absl::StrCat(r.messages, " stream messages, expected ", e.stream_messages()));
    }
    if (r.messages_lost > 0 || r.messages_duplicated > 0) {
      wrong.push_back(absl::StrCat(r.messages_lost, " stream messages lost, ",
                                   r.messages_duplicated, " duplicated"));
    }
    if (e.has_attempts() && r.attempts != static_cast<int>(e.attempts())) {
      wrong.push_back(absl::StrCat(r.attempts, " attempts, expected ", e.attempts()));
    }
    if (e.has_min_retry_gap_ms()) {
      for (size_t i = 1; i < call.attempt_times.size(); ++i) {
        const absl::Duration gap = call.attempt_times[i] - call.attempt_times[i - 1];
        if (gap < absl::Milliseconds(e.min_retry_gap_ms())) {
          wrong.push_back(absl::StrCat("attempt ", i + 1, " came ", Ms(gap),
                                       " after the last, sooner than ", e.min_retry_gap_ms(),
                                       " ms"));
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
      r.detail = absl::StrJoin(wrong, "; ");
      return absl::FailedPreconditionError(absl::StrCat("call ", call.id, ": ", r.detail));
    }
    return absl::OkStatus();
  }

  // Waits for every call started so far, then checks each once.
  absl::Status CheckCalls() {
    std::vector<std::shared_ptr<CallState>> calls;
    {
      absl::MutexLock lock(&mu_);
      calls.assign(calls_.begin() + static_cast<long>(checked_calls_), calls_.end());
      checked_calls_ = calls_.size();
    }
    Await([&] {
      return std::all_of(calls.begin(), calls.end(),
                         [](const std::shared_ptr<CallState>& c) { return c->done; });
    });
    absl::Status first = absl::OkStatus();
    absl::MutexLock lock(&mu_);
    for (const std::shared_ptr<CallState>& call : calls) {
      CallReport r;
      absl::Status s = CheckOneCall(*call, r);
      if (!r.done) ++report_.calls_lost;
      if (r.outcomes > 1) ++report_.calls_duplicated;
      report_.messages_lost += r.messages_lost;
      report_.messages_duplicated += r.messages_duplicated;
      report_.calls.push_back(r);
      if (first.ok() && !s.ok()) first = s;
    }
    detail_ = absl::StrCat(calls.size(), " calls ended as expected");
    return first;
  }

  absl::Status DoInject(const v1::Inject& inject) {
    if (inject.has_backend_fault()) {
      detail_ = absl::StrCat("backend rule ", inject.backend_fault().ShortDebugString());
      return parts_->AddBackendFault(inject.backend_fault());
    }
    if (inject.has_enabled()) {
      detail_ = absl::StrCat("proxy ", inject.proxy(), inject.enabled() ? " up" : " down");
      if (inject.until_close()) {
        return absl::InvalidArgumentError("until_close applies to toxics only");
      }
      return parts_->SetProxyEnabled(inject.proxy(), inject.enabled());
    }
    if (!inject.has_toxic()) {
      return absl::InvalidArgumentError("inject needs toxic, enabled or backend_fault");
    }
    v1::Toxic toxic = inject.toxic();
    if (toxic.name().empty()) toxic.set_name(absl::StrCat("scenario_", toxic.type()));
    if (inject.until_close()) {
      absl::MutexLock lock(&mu_);
      on_next_close_ = [this, proxy = inject.proxy(), name = toxic.name()] {
        absl::Status removed = parts_->RemoveToxic(proxy, name);
        if (!removed.ok()) {
          absl::MutexLock lock(&mu_);
          hook_error_ = std::string(removed.message());
        }
      };
    }
    detail_ = absl::StrCat(toxic.type(), " on ", inject.proxy(), " ", toxic.stream());
    return parts_->AddToxic(inject.proxy(), toxic);
  }

  absl::Status DoExpectClose(const v1::ExpectClose& e) {
    if (!Await([&] { return closes_.size() > close_cursor_; })) {
      return absl::DeadlineExceededError("the connection did not close before the deadline");
    }
    absl::MutexLock lock(&mu_);
    if (!hook_error_.empty()) return absl::InternalError(hook_error_);
    const CloseEvent& c = closes_[close_cursor_++];
    const std::string category(CategoryName(c.info.category));
    detail_ = absl::StrCat("closed ", c.info.code, " ", c.info.reason, ": ", category,
                           c.info.will_reconnect ? ", reconnecting" : ", not reconnecting");
    std::vector<std::string> wrong;
    if (e.code() != 0 && c.info.code != static_cast<int>(e.code())) {
      wrong.push_back(absl::StrCat("code ", c.info.code, ", expected ", e.code()));
    }
    if (!e.category().empty() && category != e.category()) {
      wrong.push_back(absl::StrCat("category ", category, ", expected ", e.category()));
    }
    if (e.has_reconnect() && c.info.will_reconnect != e.reconnect()) {
      wrong.push_back(e.reconnect() ? "the client gave up, expected it to reconnect"
                                    : "the client reconnects, expected it not to");
    }
    if (e.has_retry_after_ms() && c.retry_after != absl::Milliseconds(e.retry_after_ms())) {
      wrong.push_back(absl::StrCat("retryAfterMs ", absl::ToInt64Milliseconds(c.retry_after),
                                   ", expected ", e.retry_after_ms()));
    }
    if (!wrong.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(detail_, ": ", absl::StrJoin(wrong, "; ")));
    }
    return absl::OkStatus();
  }

  absl::Status DoExpectReconnect(const v1::ExpectReconnect& e) {
    if (!Await([&] { return opens_.size() > open_cursor_; })) {
      absl::MutexLock lock(&mu_);
      return absl::DeadlineExceededError(absl::StrCat(
          "no new session before the deadline (", attempts_.size(), " attempts, client ",
          bridge::Sv(bridge::client::StateName((*client_)->state())), ")"));
    }
    absl::MutexLock lock(&mu_);
    const OpenEvent open = opens_[open_cursor_++];
    const absl::Time since =
        close_cursor_ > 0 ? closes_[close_cursor_ - 1].at : absl::InfinitePast();
    std::vector<std::string> wrong;
    int attempts = 0;
    for (const AttemptEvent& a : attempts_) {
      if (a.scheduled_at < since || a.started_at > open.at) continue;
      ++attempts;
      // The close this attempt follows: the last one before it was scheduled.
      const CloseEvent* close = nullptr;
      for (const CloseEvent& c : closes_) {
        if (c.at <= a.scheduled_at) close = &c;
      }
      ReconnectReport r;
      r.attempt = a.attempt;
      r.after_close_code = close ? close->info.code : 0;
      r.floor =
          std::max(absl::Milliseconds(close ? ClassifyClose(close->info.code).min_delay_ms : 0),
                   close ? close->retry_after : absl::ZeroDuration());
      r.ceiling = std::max(r.floor, bridge::client::BackoffCeiling(backoff_, a.attempt));
      r.planned = a.planned;
      r.measured = a.started_at - (close ? close->at : a.scheduled_at);
      const absl::Duration tick = absl::Milliseconds(2);
      if (r.planned < r.floor || r.planned > r.ceiling) {
        r.ok = false;
        wrong.push_back(absl::StrCat("attempt ", a.attempt, " planned ", Ms(r.planned),
                                     ", outside [", Ms(r.floor), ", ", Ms(r.ceiling), "]"));
      }
      if (r.measured + tick < r.planned || r.measured > r.planned + options_.reconnect_slack) {
        r.ok = false;
        wrong.push_back(absl::StrCat("attempt ", a.attempt, " started after ", Ms(r.measured),
                                     ", planned ", Ms(r.planned)));
      }
      report_.reconnects.push_back(r);
    }
    // Attempts that failed closed connections of their own; they are consumed here.
    while (close_cursor_ < closes_.size() && closes_[close_cursor_].at <= open.at) ++close_cursor_;
    const uint32_t max_attempts = e.max_attempts() > 0 ? e.max_attempts() : 1;
    if (attempts == 0) wrong.push_back("a session opened without a reconnect attempt");
    if (attempts > static_cast<int>(max_attempts)) {
      wrong.push_back(absl::StrCat(attempts, " attempts, expected at most ", max_attempts));
    }
    if (e.has_resumed() && open.info.resumed != e.resumed()) {
      wrong.push_back(absl::StrCat("resumed ", open.info.resumed, ", expected ", e.resumed()));
    }
    detail_ =
        absl::StrCat(attempts, " attempt(s), ", open.info.resumed ? "resumed" : "new session");
    if (!report_.reconnects.empty()) {
      const ReconnectReport& last = report_.reconnects.back();
      absl::StrAppend(&detail_, ", delay ", Ms(last.measured), " in [", Ms(last.floor), ", ",
                      Ms(last.ceiling), "]");
    }
    if (!wrong.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(detail_, ": ", absl::StrJoin(wrong, "; ")));
    }
    return absl::OkStatus();
  }

  absl::Status DoExpectBackend(const v1::ExpectBackend& e) {
    // Counts only grow: wait for each, then require it exactly (a duplicate shows as more).
    for (const auto& [method, n] : e.calls()) {
      absl::StatusOr<bool> reached =
          parts_->AwaitBackendCalls(method, static_cast<int>(n), deadline_);
      if (!reached.ok()) return reached.status();
    }
    absl::StatusOr<v1::BackendStats> stats = parts_->BackendStats();
    if (!stats.ok()) return stats.status();
    std::vector<std::string> wrong, seen;
    for (const auto& [method, n] : e.calls()) {
      auto it = stats->calls().find(method);
      const uint64_t got = it == stats->calls().end() ? 0 : it->second;
      seen.push_back(absl::StrCat(method, " ", got));
      if (got != n) wrong.push_back(absl::StrCat(method, " called ", got, " times, expected ", n));
    }
    detail_ = absl::StrCat("backend calls: ", absl::StrJoin(seen, ", "));
    if (!wrong.empty()) return absl::FailedPreconditionError(absl::StrJoin(wrong, "; "));
    return absl::OkStatus();
  }

  absl::Status DoExpectFrame(const v1::ExpectFrame& e) {
    if (!Await([&] { return frames_[e.type()].size() > frame_cursor_[e.type()]; })) {
      return absl::DeadlineExceededError(
          absl::StrCat("no ", e.type(), " frame before the scenario's deadline"));
    }
    absl::MutexLock lock(&mu_);
    const bridge::v1::Frame frame = frames_[e.type()][frame_cursor_[e.type()]++];
    detail_ = absl::StrCat(e.type(), " seq ", frame.seq());
    std::vector<std::string> wrong;
    if (frame.has_error()) {
      const bridge::v1::Error& error = frame.error();
      const std::string category(CategoryName(error.category()));
      absl::StrAppend(
          &detail_, ": ", category, error.retryable() ? " retryable" : "",
          error.retry_after_ms() > 0 ? absl::StrCat(" retryAfterMs ", error.retry_after_ms()) : "",
          error.message_id().empty() ? " (session)" : " (call)");
      if (!e.category().empty() && category != e.category()) {
        wrong.push_back(absl::StrCat("category ", category, ", expected ", e.category()));
      }
      if (e.has_retryable() && error.retryable() != e.retryable()) {
        wrong.push_back(
            absl::StrCat("retryable ", error.retryable(), ", expected ", e.retryable()));
      }
      if (e.has_retry_after_ms() && error.retry_after_ms() != e.retry_after_ms()) {
        wrong.push_back(absl::StrCat("retryAfterMs ", error.retry_after_ms(), ", expected ",
                                     e.retry_after_ms()));
      }
      if (e.has_session() && error.message_id().empty() != e.session()) {
        wrong.push_back(e.session() ? "it concerns a call, expected the session"
                                    : "it concerns the session, expected a call");
      }
    } else if (!e.category().empty() || e.has_retryable() || e.has_retry_after_ms()) {
      wrong.push_back("only error frames have a category, retryable and retryAfterMs");
    }
    if (!wrong.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(detail_, ": ", absl::StrJoin(wrong, "; ")));
    }
    return absl::OkStatus();
  }

  // ---- Channels ----

  static std::string ClientName(const std::string& name) { return name.empty() ? kMain : name; }

  // The scenario's client, or another client of that name, started and confirmed on first use.
  absl::StatusOr<WebSocketClient*> ClientNamed(const std::string& name) {
    if (name == kMain) return client_.get();
    auto it = extra_clients_.find(name);
    if (it != extra_clients_.end()) return it->second.get();
    std::unique_ptr<WebSocketClient> client =
        NewClient(absl::StrCat(ClientId(), "-", name), options_.seed + 1 + extra_clients_.size());
    bridge::client::ClientHandlers h;
    h.on_open = [this, name](const SessionInfo&) {
      absl::MutexLock lock(&mu_);
      ++extra_opens_[name];
    };
    h.on_close = [this, name](const CloseInfo& info) {
      absl::MutexLock lock(&mu_);
      extra_closes_[name].push_back(info);
    };
    (*client)->set_handlers(std::move(h));
    WebSocketClient* raw = client.get();
    extra_clients_[name] = std::move(client);
    (*raw)->Connect();
    if (!Await([&] { return extra_opens_[name] > 0 || !extra_closes_[name].empty(); })) {
      return absl::DeadlineExceededError(
          absl::StrCat("client ", name, ": no connect_confirm before the scenario's deadline"));
    }
    absl::MutexLock lock(&mu_);
    if (extra_opens_[name] == 0) {
      const CloseInfo& c = extra_closes_[name].front();
      return absl::FailedPreconditionError(
          absl::StrCat("client ", name, ": the connection closed ", c.code, " ", c.reason));
    }
    return raw;
  }

  absl::Status DoSubscribe(const v1::Subscribe& spec) {
    const std::string name = ClientName(spec.client());
    const std::pair<std::string, std::string> key(name, spec.channel());
    absl::StatusOr<WebSocketClient*> client = ClientNamed(name);
    if (!client.ok()) return client.status();
    std::shared_ptr<ChannelSub> sub;
    {
      absl::MutexLock lock(&mu_);
      if (subs_.count(key) > 0 && !subs_[key]->refused && !subs_[key]->unsubscribed) {
        return absl::InvalidArgumentError(
            absl::StrCat("client ", name, " is already subscribed to ", spec.channel()));
      }
      sub = std::make_shared<ChannelSub>();
      sub->client = name;
      sub->channel = spec.channel();
      // Publications happen on this thread only (publish steps): every later one is owed.
      sub->owed_from = published_[spec.channel()].size();
      subs_[key] = sub;
    }
    bridge::client::SubscriptionHandlers h;
    h.on_subscribed = [this, sub](const bridge::client::ChannelEvent& e) {
      absl::MutexLock lock(&mu_);
      sub->subscribed.push_back(e);
    };
    h.on_publication = [this, sub](const bridge::client::Publication& p) {
      absl::MutexLock lock(&mu_);
      sub->received.push_back(p);
    };
    h.on_unsubscribed = [this, sub](const bridge::client::ChannelEvent&) {
      absl::MutexLock lock(&mu_);
      sub->unsubscribed = true;
    };
    h.on_error = [this, sub](const SessionError& error) {
      absl::MutexLock lock(&mu_);
      sub->refused = true;
      sub->refusal = error;
    };
    if (absl::Status s = (**client)->Subscribe(spec.channel(), spec.params(), std::move(h));
        !s.ok()) {
      return absl::InternalError(absl::StrCat("the client refused to subscribe ", name, " to ",
                                              spec.channel(), ": ", s.message()));
    }
    if (!Await([&] { return !sub->subscribed.empty() || sub->refused || sub->unsubscribed; })) {
      return absl::DeadlineExceededError(absl::StrCat("client ", name, ": no answer to subscribe ",
                                                      spec.channel(),
                                                      " before the scenario's deadline"));
    }
    absl::MutexLock lock(&mu_);
    if (!sub->subscribed.empty()) {
      const bridge::client::ChannelEvent& e = sub->subscribed.front();
      detail_ = absl::StrCat(name, " subscribed to ", spec.channel(), " at offset ",
                             e.offset.value_or(0), " epoch ", e.epoch);
      if (!spec.expect_refusal().empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat(detail_, ", expected a refusal (", spec.expect_refusal(), ")"));
      }
      return absl::OkStatus();
    }
    const std::string category(CategoryName(sub->refusal.category));
    detail_ = absl::StrCat(name, " refused ", spec.channel(), ": ",
                           sub->refused ? category : "unsubscribed without an error", " ",
                           sub->refusal.message);
    if (spec.expect_refusal().empty()) return absl::FailedPreconditionError(detail_);
    if (!sub->refused || category != spec.expect_refusal()) {
      return absl::FailedPreconditionError(
          absl::StrCat(detail_, ", expected ", spec.expect_refusal()));
    }
    return absl::OkStatus();
  }

  absl::Status DoPublish(const v1::Publish& spec) {
    const int count = spec.count() > 0 ? static_cast<int>(spec.count()) : 1;
    uint64_t first = 0, last = 0;
    for (int i = 0; i < count; ++i) {
      if (i > 0 && spec.interval_ms() > 0) {
        // A paced publisher: the pace is the fault's timing, not a wait for a condition.
        absl::SleepFor(absl::Milliseconds(spec.interval_ms()));
      }
      const int64_t n = ++next_n_[spec.channel()];
      absl::StatusOr<bridge::v1::PublishResponse> r =
          parts_->Publish(spec.channel(), absl::StrCat("{\"n\":", n, "}"));
      if (!r.ok()) {
        if (r.status().code() == absl::StatusCode::kUnimplemented) return r.status();
        return absl::Status(r.status().code(), absl::StrCat("publication ", i + 1, " of ", count,
                                                            ": ", r.status().message()));
      }
      absl::MutexLock lock(&mu_);
      published_[spec.channel()].push_back(Published{r->offset(), r->epoch(), n});
      if (i == 0) first = r->offset();
      last = r->offset();
    }
    detail_ =
        absl::StrCat(count, " publications to ", spec.channel(), ", offsets ", first, "..", last);
    return absl::OkStatus();
  }

  // Whether offset `offset` lies in a gap the bridge reported: a resubscribe that said
  // recovered: false at an offset at or above it.
  static bool InReportedGap(const ChannelSub& sub, uint64_t offset) {
    for (size_t i = 1; i < sub.subscribed.size(); ++i) {
      const bridge::client::ChannelEvent& e = sub.subscribed[i];
      if (!e.recovered && e.offset.value_or(0) >= offset) return true;
    }
    return false;
  }

  // Every owed publication received or in a reported gap.
  bool Settled(const ChannelSub& sub) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::vector<Published>& all = published_[sub.channel];
    std::set<uint64_t> got;
    for (const auto& p : sub.received) got.insert(p.offset);
    for (size_t i = sub.owed_from; i < all.size(); ++i) {
      if (got.count(all[i].offset) == 0 && !InReportedGap(sub, all[i].offset)) return false;
    }
    return true;
  }

  ChannelReport CheckChannel(const ChannelSub& sub, const v1::ExpectPublications& e)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ChannelReport r;
    r.client = sub.client;
    r.channel = sub.channel;
    const std::vector<Published>& all = published_[sub.channel];
    std::map<uint64_t, const Published*> owed;
    for (size_t i = sub.owed_from; i < all.size(); ++i) owed[all[i].offset] = &all[i];
    r.owed = static_cast<int>(owed.size());
    r.received = static_cast<int>(sub.received.size());
    for (size_t i = 1; i < sub.subscribed.size(); ++i) {
      r.recovered.push_back(sub.subscribed[i].recovered);
    }
    r.resubscribes = static_cast<int>(r.recovered.size());
    std::vector<uint64_t> lost, unrecovered, duplicated, out_of_order, wrong;
    std::set<uint64_t> seen;
    uint64_t highest = 0;
    for (const bridge::client::Publication& p : sub.received) {
      if (!seen.insert(p.offset).second) {
        duplicated.push_back(p.offset);
        continue;
      }
      if (p.offset < highest) out_of_order.push_back(p.offset);
      highest = std::max(highest, p.offset);
      auto it = owed.find(p.offset);
      if (it != owed.end() &&
          (it->second->epoch != p.epoch || PayloadNumber(p.data) != it->second->n)) {
        wrong.push_back(p.offset);
      }
    }
    for (const auto& [offset, published] : owed) {
      if (seen.count(offset) > 0) continue;
      (InReportedGap(sub, offset) ? unrecovered : lost).push_back(offset);
    }
    r.lost = static_cast<int>(lost.size());
    r.unrecovered = static_cast<int>(unrecovered.size());
    r.duplicated = static_cast<int>(duplicated.size());
    r.out_of_order = static_cast<int>(out_of_order.size());
    r.wrong_payload = static_cast<int>(wrong.size());
    std::vector<std::string> bad;
    if (!lost.empty()) bad.push_back(absl::StrCat("lost offsets ", OffsetList(lost)));
    if (!duplicated.empty()) {
      bad.push_back(absl::StrCat("duplicated offsets ", OffsetList(duplicated)));
    }
    if (!out_of_order.empty()) {
      bad.push_back(absl::StrCat("out of order: offsets ", OffsetList(out_of_order),
                                 " came after higher ones"));
    }
    if (!wrong.empty()) {
      bad.push_back(
          absl::StrCat("payload or epoch not the published one at offsets ", OffsetList(wrong)));
    }
    if (e.has_recovered()) {
      if (r.recovered.empty()) {
        bad.push_back(
            absl::StrCat("no resubscribe (every session resumed), expected one with "
                         "recovered ",
                         e.recovered()));
      } else if (e.recovered() &&
                 std::find(r.recovered.begin(), r.recovered.end(), false) != r.recovered.end()) {
        bad.push_back("a resubscribe reported recovered false, expected true");
      } else if (!e.recovered() &&
                 std::find(r.recovered.begin(), r.recovered.end(), false) == r.recovered.end()) {
        bad.push_back("every resubscribe reported recovered true, expected false");
      }
    }
    if (e.has_received() && r.received != static_cast<int>(e.received())) {
      bad.push_back(absl::StrCat(r.received, " received, expected ", e.received()));
    }
    std::vector<std::string> recovered;
    for (bool b : r.recovered) recovered.push_back(b ? "true" : "false");
    r.detail = absl::StrCat(
        r.client, " on ", r.channel, ": ", r.owed, " owed, ", r.received, " received",
        r.unrecovered > 0 ? absl::StrCat(", ", r.unrecovered, " in a reported gap (offsets ",
                                         OffsetList(unrecovered), ")")
                          : "",
        r.resubscribes > 0 ? absl::StrCat(", ", r.resubscribes, " resubscribe(s) recovered ",
                                          absl::StrJoin(recovered, "/"))
                           : "");
    r.ok = bad.empty();
    if (!r.ok) absl::StrAppend(&r.detail, ": ", absl::StrJoin(bad, "; "));
    return r;
  }

  absl::Status DoExpectPublications(const v1::ExpectPublications& e) {
    std::vector<std::shared_ptr<ChannelSub>> subs;
    {
      absl::MutexLock lock(&mu_);
      if (e.clients_size() == 0) {
        for (const auto& [key, sub] : subs_) {
          if (key.second == e.channel() && !sub->refused) subs.push_back(sub);
        }
      }
      for (const std::string& client : e.clients()) {
        auto it = subs_.find({ClientName(client), e.channel()});
        if (it == subs_.end()) {
          return absl::InvalidArgumentError(
              absl::StrCat("client ", ClientName(client), " never subscribed to ", e.channel()));
        }
        subs.push_back(it->second);
      }
      if (subs.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("nobody subscribed to ", e.channel()));
      }
    }
    Await([&] {
      return std::all_of(subs.begin(), subs.end(),
                         [&](const std::shared_ptr<ChannelSub>& s) { return Settled(*s); });
    });
    absl::MutexLock lock(&mu_);
    std::vector<std::string> details, failures;
    for (const std::shared_ptr<ChannelSub>& sub : subs) {
      ChannelReport r = CheckChannel(*sub, e);
      details.push_back(r.detail);
      if (!r.ok) failures.push_back(r.detail);
      auto same = std::find_if(
          report_.channels.begin(), report_.channels.end(),
          [&](const ChannelReport& x) { return x.client == r.client && x.channel == r.channel; });
      if (same != report_.channels.end()) {
        *same = std::move(r);
      } else {
        report_.channels.push_back(std::move(r));
      }
    }
    detail_ = absl::StrJoin(details, "; ");
    if (!failures.empty()) return absl::DataLossError(absl::StrJoin(failures, "; "));
    return absl::OkStatus();
  }

  absl::Status DoExpectState(const v1::ExpectState& e) {
    auto matches = [&] {
      return e.state().empty() || bridge::client::StateName((*client_)->state()) == e.state();
    };
    Await(matches);
    const std::string state(bridge::client::StateName((*client_)->state()));
    const uint64_t attempts = (*client_)->stats().reconnect_attempts;
    detail_ = absl::StrCat("state ", state, ", ", attempts, " reconnect attempts");
    std::vector<std::string> wrong;
    if (!matches()) wrong.push_back(absl::StrCat("state ", state, ", expected ", e.state()));
    if (e.has_reconnect_attempts() && attempts != e.reconnect_attempts()) {
      wrong.push_back(
          absl::StrCat(attempts, " reconnect attempts, expected ", e.reconnect_attempts()));
    }
    if (!wrong.empty()) return absl::FailedPreconditionError(absl::StrJoin(wrong, "; "));
    return absl::OkStatus();
  }

  const v1::Scenario& scenario_;
  const RunOptions options_;
  const BackoffOptions backoff_;
  std::mt19937_64 rng_;  // call retries' jitter; used on the client's thread only
  const absl::Time deadline_;
  ScenarioReport report_;
  std::string detail_;  // the current step's observation

  asio::io_context timer_io_;
  asio::executor_work_guard<asio::io_context::executor_type> timer_work_;
  std::thread timer_thread_;
  std::unique_ptr<ScenarioParts> parts_;
  std::unique_ptr<WebSocketClient> client_;

  absl::Mutex mu_;
  std::vector<CloseEvent> closes_ ABSL_GUARDED_BY(mu_);
  std::vector<AttemptEvent> attempts_ ABSL_GUARDED_BY(mu_);
  std::vector<OpenEvent> opens_ ABSL_GUARDED_BY(mu_);
  absl::Duration session_retry_after_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_next_close_ ABSL_GUARDED_BY(mu_);
  std::string hook_error_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<CallState>> calls_ ABSL_GUARDED_BY(mu_);
  size_t checked_calls_ ABSL_GUARDED_BY(mu_) = 0;
  size_t close_cursor_ ABSL_GUARDED_BY(mu_) = 0;
  size_t open_cursor_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::vector<bridge::v1::Frame>> frames_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, size_t> frame_cursor_ ABSL_GUARDED_BY(mu_);

  std::map<std::string, std::unique_ptr<WebSocketClient>> extra_clients_;  // runner thread only
  std::map<std::string, int> extra_opens_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<CloseInfo>> extra_closes_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, std::shared_ptr<ChannelSub>> subs_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<Published>> published_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> next_n_;  // runner thread only
};

}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kSkipped:
      return "skipped";
  }
  return "unknown";
}

absl::Status ValidateScenario(const v1::Scenario& s) {
  if (s.name().empty()) return absl::InvalidArgumentError("field name: must be set");
  for (char ch : s.name()) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("field name: letters, digits, '_' and '-' only, got \"", s.name(), "\""));
    }
  }
  const std::string& jitter = s.client().jitter();
  if (!jitter.empty() && jitter != "full" && jitter != "equal" && jitter != "none") {
    return absl::InvalidArgumentError(
        absl::StrCat("field client.jitter: full, equal or none, got \"", jitter, "\""));
  }
  for (int i = 0; i < s.steps_size(); ++i) {
    const v1::Step& step = s.steps(i);
    const std::string at = absl::StrCat("field steps[", i, "]");
    if (step.kind_case() == v1::Step::KIND_NOT_SET) {
      return absl::InvalidArgumentError(absl::StrCat(at, ": a step needs a kind"));
    }
    if (step.has_call() && step.call().method().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(at, ".call.method: must be set"));
    }
    if (step.has_call() && !step.call().expect().category().empty() &&
        !bridge::protocol::CategoryFromName(step.call().expect().category())) {
      return absl::InvalidArgumentError(absl::StrCat(at, ".call.expect.category: unknown \"",
                                                     step.call().expect().category(), "\""));
    }
    if (step.has_inject()) {
      const v1::Inject& in = step.inject();
      const int kinds = in.has_toxic() + in.has_enabled() + in.has_backend_fault();
      if (kinds != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ".inject: exactly one of toxic, enabled, backend_fault"));
      }
      if (!in.has_backend_fault() && in.proxy() != "client" && in.proxy() != "backend") {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ".inject.proxy: \"client\" or \"backend\", got \"", in.proxy(), "\""));
      }
    }
    if ((step.has_subscribe() && step.subscribe().channel().empty()) ||
        (step.has_publish() && step.publish().channel().empty()) ||
        (step.has_expect_publications() && step.expect_publications().channel().empty())) {
      return absl::InvalidArgumentError(absl::StrCat(at, ": the channel must be set"));
    }
    if (step.has_subscribe() && !step.subscribe().expect_refusal().empty() &&
        !bridge::protocol::CategoryFromName(step.subscribe().expect_refusal())) {
      return absl::InvalidArgumentError(absl::StrCat(at, ".subscribe.expect_refusal: unknown \"",
                                                     step.subscribe().expect_refusal(), "\""));
    }
    const google::protobuf::FieldDescriptor* frame_kind =
        step.has_expect_frame()
            ? bridge::v1::Frame::descriptor()->FindFieldByName(step.expect_frame().type())
            : nullptr;
    if (step.has_expect_frame() &&
        (frame_kind == nullptr || frame_kind->containing_oneof() == nullptr)) {
      return absl::InvalidArgumentError(absl::StrCat(at, ".expect_frame.type: unknown frame \"",
                                                     step.expect_frame().type(), "\""));
    }
    const v1::ExpectClose* close = step.has_expect_close() ? &step.expect_close()
                                   : step.connect().has_expect_close()
                                       ? &step.connect().expect_close()
                                       : nullptr;
    if (close != nullptr && !close->category().empty() &&
        !bridge::protocol::CategoryFromName(close->category())) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, " expect_close.category: unknown \"", close->category(), "\""));
    }
  }
  return absl::OkStatus();
}

ScenarioReport RunScenario(const v1::Scenario& scenario, const RunOptions& options) {
  if (absl::Status valid = ValidateScenario(scenario); !valid.ok()) {
    ScenarioReport report;
    report.name = scenario.name();
    report.verdict = Verdict::kFail;
    report.reason = std::string(valid.message());
    return report;
  }
  Run run(scenario, options);
  return run.Go();
}

absl::StatusOr<std::vector<v1::Scenario>> LoadScenarios(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  std::vector<std::string> files;
  if (S_ISDIR(st.st_mode)) {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return absl::NotFoundError(absl::StrCat("cannot read ", path));
    while (dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name.size() > 10 && name.substr(name.size() - 10) == ".textproto") {
        files.push_back(absl::StrCat(path, "/", name));
      }
    }
    ::closedir(dir);
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  std::vector<v1::Scenario> out;
  for (const std::string& file : files) {
    v1::Scenario scenario;
    if (absl::Status s = bridge::config::LoadTextMessageFile(file, &scenario); !s.ok()) return s;
    if (absl::Status s = ValidateScenario(scenario); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": ", s.message()));
    }
    out.push_back(std::move(scenario));
  }
  return out;
}

}  // namespace harness::scenario
