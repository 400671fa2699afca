#include "harness/backend/echo_service.h"

#include <memory>
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

// Copies x-echo-* request metadata back as headers and trailers.
void EchoMetadata(grpc::CallbackServerContext* context) {
  for (const auto& [key, value] : context->client_metadata()) {
    const std::string k(key.data(), key.size());
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

class SayReactor final : public grpc::ServerUnaryReactor, public RefCounted {
 public:
  SayReactor(EchoService* service, grpc::CallbackServerContext* context,
             const SayRequest* request, SayResponse* response)
      : service_(service) {
    EchoMetadata(context);
    if (grpc::Status failure = service->PlannedFailure(context); !failure.ok()) {
      FinishOnce(failure);
      return;
    }
    response->set_text(request->text());
    *response->mutable_sample() = request->sample();
    response->set_sequence(1);
    *response->mutable_received_at() = TimeUtil::GetCurrentTime();
    const int delay_ms = MetaInt(context, "demo-delay-ms", 0);
    if (delay_ms <= 0) {
      FinishOnce(grpc::Status::OK);
      return;
    }
    Ref();
    alarm_.Set(After(absl::Milliseconds(delay_ms)), [this](bool) {
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
    failure_ = service->PlannedFailure(context);
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

class CollectReactor final : public grpc::ServerReadReactor<SayRequest> {
 public:
  CollectReactor(EchoService* service, grpc::CallbackServerContext* context,
                 demo::v1::CollectResponse* response)
      : service_(service), response_(response) {
    EchoMetadata(context);
    failure_ = service->PlannedFailure(context);
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

  void OnCancel() override {
    service_->CountCancellation();
    FinishOnce(grpc::Status::CANCELLED);
  }
  void OnDone() override { delete this; }

 private:
  void FinishOnce(grpc::Status status) {
    if (finished_.exchange(true)) return;
    Finish(status);
  }

  EchoService* service_;
  demo::v1::CollectResponse* response_;
  grpc::Status failure_;
  SayRequest request_;
  std::atomic<bool> finished_{false};
};

class ChatReactor final : public grpc::ServerBidiReactor<ChatMessage, ChatMessage> {
 public:
  ChatReactor(EchoService* service, grpc::CallbackServerContext* context) : service_(service) {
    EchoMetadata(context);
    fail_after_ = MetaInt(context, "demo-fail-after", -1);
    failure_ = service->PlannedFailure(context);
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

  void OnCancel() override {
    service_->CountCancellation();
    FinishOnce(grpc::Status::CANCELLED);
  }
  void OnDone() override { delete this; }

 private:
  void FinishOnce(grpc::Status status) {
    if (finished_.exchange(true)) return;
    Finish(status);
  }

  EchoService* service_;
  int fail_after_ = -1;
  int replies_ = 0;
  grpc::Status failure_;
  ChatMessage in_;
  ChatMessage out_;
  std::atomic<bool> finished_{false};
};

}  // namespace

grpc::ServerUnaryReactor* EchoService::Say(grpc::CallbackServerContext* context,
                                           const SayRequest* request, SayResponse* response) {
  CountCall("Say", context);
  return new SayReactor(this, context, request, response);
}

grpc::ServerWriteReactor<SayResponse>* EchoService::Repeat(
    grpc::CallbackServerContext* context, const demo::v1::RepeatRequest* request) {
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

grpc::Status EchoService::PlannedFailure(grpc::CallbackServerContext* context) {
  const int code = MetaInt(context, "demo-fail-code", -1);
  const int fail_first = MetaInt(context, "demo-fail-first", -1);
  const int pushback_ms = MetaInt(context, "demo-pushback-ms", -1);
  std::string message = Meta(context, "demo-fail-message");
  bool fail = false;
  grpc::StatusCode status_code = grpc::StatusCode::UNAVAILABLE;
  if (code > 0 && code <= 16) status_code = static_cast<grpc::StatusCode>(code);
  if (fail_first >= 0) {
    const std::string key = Meta(context, "demo-attempt-key");
    absl::MutexLock lock(&mu_);
    fail = ++attempts_[key] <= fail_first;
  } else {
    fail = code > 0 && code <= 16;
  }
  if (!fail) return grpc::Status::OK;
  if (message.empty()) message = absl::StrCat("demo failure ", static_cast<int>(status_code));
  if (pushback_ms >= 0) {
    context->AddTrailingMetadata("grpc-retry-pushback-ms", std::to_string(pushback_ms));
  }
  return grpc::Status(status_code, message);
}

}  // namespace harness::backend
