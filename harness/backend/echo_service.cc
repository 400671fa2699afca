#include "harness/backend/echo_service.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/alarm.h"

namespace harness::backend {
namespace {

using demo::v1::ChatMessage;
using demo::v1::SayRequest;
using demo::v1::SayResponse;
using google::protobuf::util::TimeUtil;

std::string Meta(grpc::CallbackServerContext* context, const std::string& key) {
  const auto& md = context->client_metadata();
  auto it = md.find(key);
  return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
}

int MetaInt(grpc::CallbackServerContext* context, const std::string& key, int fallback) {
  int value;
  return absl::SimpleAtoi(Meta(context, key), &value) ? value : fallback;
}

// Copies x-echo-* request metadata back as headers and trailers, and the trace context the
// call came with as the trailer x-echo-received-traceparent: a client sees what reached the
// backend.
void EchoMetadata(grpc::CallbackServerContext* context) {
  for (const auto& [key, value] : context->client_metadata()) {
    const std::string k(key.data(), key.size());
    if (k == "traceparent") {
      context->AddTrailingMetadata("x-echo-received-traceparent",
                                   std::string(value.data(), value.size()));
      continue;
    }
    if (k.rfind("x-echo-", 0) != 0) continue;
    const std::string v(value.data(), value.size());
    context->AddInitialMetadata(k, v);
    context->AddTrailingMetadata(absl::StrCat("x-echo-trailer-", k.substr(7)), v);
  }
}

gpr_timespec After(absl::Duration d) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                      gpr_time_from_micros(absl::ToInt64Microseconds(d), GPR_TIMESPAN));
}

// Reactors that arm a grpc::Alarm are deleted by whoever lets go last: gRPC (OnDone) or the
// alarm's callback, which always runs once, fired or cancelled.
class RefCounted {
 protected:
  virtual ~RefCounted() = default;
  void Ref() { refs_.fetch_add(1); }
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

 private:
  std::atomic<int> refs_{1};
};

// The end of a streaming reactor that arms no alarm: a cancel is counted and finishes the call
// CANCELLED, the call is finished once whoever asks first, and the reactor deletes itself when
// gRPC is done with it.
template <typename Reactor>
class FinishedOnce : public Reactor {
 public:
  void OnCancel() override {
    service_->CountCancellation();
    FinishOnce(grpc::Status::CANCELLED);
  }
  void OnDone() override { delete this; }

 protected:
  explicit FinishedOnce(EchoService* service) : service_(service) {}
  void FinishOnce(grpc::Status status) {
    if (finished_.exchange(true)) return;
    this->Finish(status);
  }

  EchoService* const service_;

 private:
  std::atomic<bool> finished_{false};
};

class SayReactor final : public grpc::ServerUnaryReactor, public RefCounted {
 public:
  SayReactor(EchoService* service, grpc::CallbackServerContext* context, const SayRequest* request,
             SayResponse* response)
      : service_(service) {
    EchoMetadata(context);
    const EchoService::Plan plan = service->PlanCall("Say", context);
    if (!plan.failure.ok()) {
      FinishOnce(plan.failure);
      return;
    }
    response->set_text(request->text());
    *response->mutable_sample() = request->sample();
    response->set_sequence(1);
    *response->mutable_received_at() = TimeUtil::GetCurrentTime();
    if (plan.delay <= absl::ZeroDuration()) {
      FinishOnce(grpc::Status::OK);
      return;
    }
    Ref();
    alarm_.Set(After(plan.delay), [this](bool) {
      FinishOnce(grpc::Status::OK);
      Unref();
    });
  }

  void OnCancel() override {
    service_->CountCancellation();
    FinishOnce(grpc::Status::CANCELLED);
    alarm_.Cancel();
  }
  void OnDone() override { Unref(); }

 private:
  void FinishOnce(grpc::Status status) {
    if (finished_.exchange(true)) return;
    Finish(status);
  }

  EchoService* service_;
  std::atomic<bool> finished_{false};
  grpc::Alarm alarm_;
};

class RepeatReactor final : public grpc::ServerWriteReactor<SayResponse>, public RefCounted {
 public:
  RepeatReactor(EchoService* service, grpc::CallbackServerContext* context,
                const demo::v1::RepeatRequest* request)
      : service_(service), request_(*request) {
    EchoMetadata(context);
    fail_after_ = MetaInt(context, "demo-fail-after", -1);
    failure_ = service->PlanCall("Repeat", context).failure;
    absl::MutexLock lock(&mu_);
    if (!failure_.ok() && fail_after_ < 0) {
      FinishLocked(failure_);
      return;
    }
    if (fail_after_ >= 0 && failure_.ok()) {
      failure_ = grpc::Status(grpc::StatusCode::INTERNAL, "failed mid-stream");
    }
    interval_ = absl::Seconds(request_.interval().seconds()) +
                absl::Nanoseconds(request_.interval().nanos());
    NextLocked();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return;  // cancelled: OnCancel finishes
    absl::MutexLock lock(&mu_);
    if (interval_ > absl::ZeroDuration()) {
      Ref();
      alarm_.Set(After(interval_), [this](bool fired) {
        {
          absl::MutexLock lock(&mu_);
          if (fired) NextLocked();
        }
        Unref();
      });
    } else {
      NextLocked();
    }
  }

  void OnCancel() override {
    service_->CountCancellation();
    {
      absl::MutexLock lock(&mu_);
      FinishLocked(grpc::Status::CANCELLED);
    }
    alarm_.Cancel();
  }
  void OnDone() override { Unref(); }

 private:
  void NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    if (fail_after_ >= 0 && sent_ >= fail_after_) {
      FinishLocked(failure_);
      return;
    }
    if (request_.count() > 0 && sent_ >= request_.count()) {
      FinishLocked(grpc::Status::OK);
      return;
    }
    ++sent_;
    service_->CountStreamMessage();
    reply_.set_text(request_.text());
    *reply_.mutable_sample() = request_.sample();
    reply_.set_sequence(sent_);
    *reply_.mutable_received_at() = TimeUtil::GetCurrentTime();
    StartWrite(&reply_);
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  EchoService* service_;
  const demo::v1::RepeatRequest request_;
  absl::Duration interval_;
  int fail_after_ = -1;
  grpc::Status failure_;
  absl::Mutex mu_;
  SayResponse reply_;
  int64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Alarm alarm_;
};

class CollectReactor final : public FinishedOnce<grpc::ServerReadReactor<SayRequest>> {
 public:
  CollectReactor(EchoService* service, grpc::CallbackServerContext* context,
                 demo::v1::CollectResponse* response)
      : FinishedOnce(service), response_(response) {
    EchoMetadata(context);
    failure_ = service->PlanCall("Collect", context).failure;
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client half-closed (or cancelled: then OnCancel has counted it).
      if (!failure_.ok()) {
        FinishOnce(failure_);
        return;
      }
      response_->set_count(response_->texts_size());
      FinishOnce(grpc::Status::OK);
      return;
    }
    response_->add_texts(request_.text());
    StartRead(&request_);
  }

 private:
  demo::v1::CollectResponse* response_;
  grpc::Status failure_;
  SayRequest request_;
};

class ChatReactor final : public FinishedOnce<grpc::ServerBidiReactor<ChatMessage, ChatMessage>> {
 public:
  ChatReactor(EchoService* service, grpc::CallbackServerContext* context) : FinishedOnce(service) {
    EchoMetadata(context);
    fail_after_ = MetaInt(context, "demo-fail-after", -1);
    failure_ = service->PlanCall("Chat", context).failure;
    if (!failure_.ok() && fail_after_ < 0) {
      FinishOnce(failure_);
      return;
    }
    if (fail_after_ >= 0 && failure_.ok()) {
      failure_ = grpc::Status(grpc::StatusCode::INTERNAL, "failed mid-stream");
    }
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      FinishOnce(grpc::Status::OK);  // the client half-closed: so does the server
      return;
    }
    if (fail_after_ >= 0 && replies_ >= fail_after_) {
      FinishOnce(failure_);
      return;
    }
    ++replies_;
    out_.set_user("echo");
    out_.set_text(in_.text());
    *out_.mutable_sent_at() = TimeUtil::GetCurrentTime();
    StartWrite(&out_);
  }

  void OnWriteDone(bool ok) override {
    if (ok) StartRead(&in_);
  }

 private:
  int fail_after_ = -1;
  int replies_ = 0;
  grpc::Status failure_;
  ChatMessage in_;
  ChatMessage out_;
};

}  // namespace

grpc::ServerUnaryReactor* EchoService::Say(grpc::CallbackServerContext* context,
                                           const SayRequest* request, SayResponse* response) {
  CountCall("Say", context);
  return new SayReactor(this, context, request, response);
}

grpc::ServerWriteReactor<SayResponse>* EchoService::Repeat(grpc::CallbackServerContext* context,
                                                           const demo::v1::RepeatRequest* request) {
  CountCall("Repeat", context);
  return new RepeatReactor(this, context, request);
}

grpc::ServerReadReactor<SayRequest>* EchoService::Collect(grpc::CallbackServerContext* context,
                                                          demo::v1::CollectResponse* response) {
  CountCall("Collect", context);
  return new CollectReactor(this, context, response);
}

grpc::ServerBidiReactor<ChatMessage, ChatMessage>* EchoService::Chat(
    grpc::CallbackServerContext* context) {
  CountCall("Chat", context);
  return new ChatReactor(this, context);
}

int EchoService::calls(const std::string& method) const {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

bool EchoService::AwaitCalls(const std::string& method, int n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this, &method, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = calls_.find(method);
    return it != calls_.end() && it->second >= n;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

bool EchoService::AwaitCancellations(int n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this, n] { return cancellations_.load() >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

std::multimap<std::string, std::string> EchoService::last_metadata() const {
  absl::MutexLock lock(&mu_);
  return last_metadata_;
}

void EchoService::CountCancellation() {
  absl::MutexLock lock(&mu_);  // wakes AwaitCancellations
  cancellations_.fetch_add(1);
}

void EchoService::CountCall(const std::string& method, grpc::CallbackServerContext* context) {
  absl::MutexLock lock(&mu_);
  ++calls_[method];
  last_metadata_.clear();
  for (const auto& [key, value] : context->client_metadata()) {
    last_metadata_.emplace(std::string(key.data(), key.size()),
                           std::string(value.data(), value.size()));
  }
}

namespace {

// The fault the metadata of a call asks for; nullopt when it asks for none.
std::optional<harness::v1::BackendFault> FaultFromMetadata(grpc::CallbackServerContext* context) {
  const int code = MetaInt(context, "demo-fail-code", -1);
  const int fail_first = MetaInt(context, "demo-fail-first", -1);
  const int percent = MetaInt(context, "demo-fail-percent", -1);
  const int pushback_ms = MetaInt(context, "demo-pushback-ms", -1);
  const int delay_ms = MetaInt(context, "demo-delay-ms", -1);
  const bool valid_code = code > 0 && code <= 16;
  if (!valid_code && fail_first < 0 && percent < 0 && delay_ms < 0) return std::nullopt;
  harness::v1::BackendFault fault;
  if (valid_code || fail_first >= 0 || percent >= 0) {
    fault.set_abort_code(valid_code ? code : grpc::StatusCode::UNAVAILABLE);
  }
  // demo-fail-first: 0 means no call fails.
  if (fail_first == 0) fault.set_abort_code(0);
  if (fail_first > 0) fault.set_fail_first(fail_first);
  if (percent >= 0) fault.set_percent(std::min(percent, 100));
  if (pushback_ms >= 0) fault.set_pushback_ms(pushback_ms);
  if (delay_ms > 0) fault.set_delay_ms(delay_ms);
  fault.set_abort_message(Meta(context, "demo-fail-message"));
  return fault;
}

// Whether the `n`-th call (1-based) that `fault` matches fails.
bool FailsCall(const harness::v1::BackendFault& fault, uint64_t n) {
  if (fault.abort_code() == 0) return false;
  if (fault.fail_first() > 0 && n > fault.fail_first()) return false;
  const uint64_t p = fault.has_percent() ? fault.percent() : 100;
  return n * p / 100 > (n - 1) * p / 100;
}

EchoService::Plan PlanFrom(const harness::v1::BackendFault& fault, uint64_t n,
                           grpc::CallbackServerContext* context) {
  EchoService::Plan plan;
  plan.delay = absl::Milliseconds(fault.delay_ms());
  if (!FailsCall(fault, n)) return plan;
  const auto code = static_cast<grpc::StatusCode>(fault.abort_code());
  std::string message = fault.abort_message();
  if (message.empty()) message = absl::StrCat("demo failure ", fault.abort_code());
  if (fault.has_pushback_ms()) {
    context->AddTrailingMetadata("grpc-retry-pushback-ms", std::to_string(fault.pushback_ms()));
  }
  plan.failure = grpc::Status(code, message);
  return plan;
}

}  // namespace

EchoService::Plan EchoService::PlanCall(const std::string& method,
                                        grpc::CallbackServerContext* context) {
  if (std::optional<harness::v1::BackendFault> fault = FaultFromMetadata(context)) {
    uint64_t n = 1;
    if (fault->fail_first() > 0 || fault->has_percent()) {
      absl::MutexLock lock(&mu_);
      n = ++attempts_[Meta(context, "demo-attempt-key")];
    }
    return PlanFrom(*fault, n, context);
  }
  harness::v1::BackendFault rule;
  uint64_t n = 0;
  {
    absl::MutexLock lock(&mu_);
    for (harness::v1::BackendFault& r : rules_) {
      if (r.method() != "*" && r.method() != method) continue;
      n = r.matched() + 1;
      r.set_matched(n);
      rule = r;
      break;
    }
  }
  if (n == 0) return Plan{};
  return PlanFrom(rule, n, context);
}

absl::StatusOr<harness::v1::BackendFault> EchoService::AddFault(harness::v1::BackendFault fault) {
  static const std::set<std::string> kMethods = {"*", "Say", "Repeat", "Collect", "Chat"};
  if (fault.method().empty()) fault.set_method("*");
  if (kMethods.count(fault.method()) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field method: must be Say, Repeat, Collect, Chat or *, got \"", fault.method(), "\""));
  }
  if (fault.abort_code() > 16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field abort_code: must be a gRPC status code from 0 to 16, got ", fault.abort_code()));
  }
  if (fault.has_percent() && fault.percent() > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("field percent: must be from 0 to 100, got ", fault.percent()));
  }
  if (fault.abort_code() == 0 && fault.delay_ms() == 0) {
    return absl::InvalidArgumentError("field abort_code: a rule needs abort_code or delay_ms");
  }
  fault.set_matched(0);
  absl::MutexLock lock(&mu_);
  if (fault.name().empty()) {
    fault.set_name(
        absl::StrCat(fault.method() == "*" ? "all" : fault.method(), "_", rules_.size()));
  }
  for (const harness::v1::BackendFault& r : rules_) {
    if (r.name() == fault.name()) {
      return absl::AlreadyExistsError(absl::StrCat("a rule named ", fault.name(), " exists"));
    }
  }
  rules_.push_back(fault);
  return fault;
}

absl::Status EchoService::RemoveFault(const std::string& name) {
  absl::MutexLock lock(&mu_);
  for (auto it = rules_.begin(); it != rules_.end(); ++it) {
    if (it->name() == name) {
      rules_.erase(it);
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(absl::StrCat("no rule named ", name));
}

std::vector<harness::v1::BackendFault> EchoService::ListFaults() const {
  absl::MutexLock lock(&mu_);
  return rules_;
}

void EchoService::ResetFaults() {
  absl::MutexLock lock(&mu_);
  rules_.clear();
  attempts_.clear();
}

harness::v1::BackendStats EchoService::Stats() const {
  harness::v1::BackendStats stats;
  absl::MutexLock lock(&mu_);
  for (const auto& [method, n] : calls_) (*stats.mutable_calls())[method] = n;
  stats.set_cancellations(cancellations_.load());
  stats.set_stream_messages_sent(stream_messages_sent_.load());
  return stats;
}

}  // namespace harness::backend
