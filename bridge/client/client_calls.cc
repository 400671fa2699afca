#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bridge/client/client_impl.h"

namespace bridge::client::internal {

absl::StatusOr<std::shared_ptr<CallHandle>> ClientImpl::StartCall(std::string_view method,
                                                                  std::string payload,
                                                                  CallOptions options,
                                                                  CallHandlers handlers) {
  if (method.empty()) return absl::InvalidArgumentError("method is empty");
  if (auto s = CheckPayload(options_.encoding, payload); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (auto s = CheckAccepting(); !s.ok()) return s;
  const std::string id = absl::StrCat("m-", ++calls_started_);
  Frame frame;
  v1::Message* m = frame.mutable_message();
  m->set_message_id(id);
  m->set_method(std::string(method));
  m->set_payload(std::move(payload));
  m->mutable_metadata()->insert(options.metadata.begin(), options.metadata.end());
  if (!options.traceparent.empty()) {
    (*m->mutable_metadata())[std::string(protocol::kTraceParentKey)] = options.traceparent;
  }
  if (options.timeout > absl::ZeroDuration()) {
    m->set_timeout_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(options.timeout)));
  }
  PendingCall& call = calls_[id];
  call.order = calls_started_;
  call.idempotent = options.idempotent;
  call.handlers = std::move(handlers);
  if (auto s = SendOrQueue(frame, id); !s.ok()) {
    calls_.erase(id);
    return s;
  }
  return std::make_shared<CallHandle>(weak_from_this(), id);
}

absl::Status ClientImpl::StreamSend(const std::string& id, std::string payload) {
  if (auto s = CheckPayload(options_.encoding, payload); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  PendingCall* call = FindOpenCall(id);
  if (call == nullptr) return absl::FailedPreconditionError("the call is over");
  if (call->half_closed) return absl::FailedPreconditionError("the call is half-closed");
  Frame frame;
  frame.mutable_stream_send()->set_message_id(id);
  frame.mutable_stream_send()->set_payload(std::move(payload));
  return SendOrQueue(frame, id);
}

absl::Status ClientImpl::StreamEnd(const std::string& id) {
  absl::MutexLock lock(&mu_);
  PendingCall* call = FindOpenCall(id);
  if (call == nullptr) return absl::FailedPreconditionError("the call is over");
  if (call->half_closed) return absl::OkStatus();
  Frame frame;
  frame.mutable_stream_end()->set_message_id(id);
  if (auto s = SendOrQueue(frame, id); !s.ok()) return s;
  call->half_closed = true;
  return absl::OkStatus();
}

absl::Status ClientImpl::CancelCall(const std::string& id) {
  absl::MutexLock lock(&mu_);
  PendingCall* call = FindOpenCall(id);
  if (call == nullptr || call->cancel_requested) return absl::OkStatus();
  if (!call->sent) {
    // Still queued: the server never heard of it.
    DropQueuedFramesOf(id);
    FinishCall(id,
               LocalOutcome(v1::ERROR_CATEGORY_CANCELLED, false, "cancelled before it was sent"));
    return absl::OkStatus();
  }
  Frame frame;
  frame.mutable_cancel()->set_message_id(id);
  if (auto s = SendOrQueue(frame, id); !s.ok()) return s;
  call->cancel_requested = true;
  return absl::OkStatus();
}

ClientImpl::PendingCall* ClientImpl::AnsweredCall(const std::string& id) {
  PendingCall* call = FindOpenCall(id);
  if (call == nullptr) return nullptr;
  call->answered = true;
  call->message_frame.clear();
  call->later_frames.clear();
  return call;
}

void ClientImpl::HandleResponse(v1::Response& r) {
  if (AnsweredCall(r.message_id()) == nullptr) return;
  CallOutcome outcome;
  outcome.payload = std::move(*r.mutable_payload());
  outcome.content = std::move(*r.mutable_content());
  outcome.metadata = ToMap(r.metadata());
  outcome.trailers = ToMap(r.trailers());
  FinishCall(r.message_id(), std::move(outcome));
}

void ClientImpl::HandleStreamMessage(v1::StreamMessage& m) {
  PendingCall* call = AnsweredCall(m.message_id());
  if (call == nullptr || !call->handlers.on_message) return;
  Emit([h = call->handlers.on_message, payload = std::move(*m.mutable_payload())]() mutable {
    h(std::move(payload));
  });
}

void ClientImpl::HandleStreamEnd(const v1::StreamEnd& end) {
  if (AnsweredCall(end.message_id()) == nullptr) return;
  CallOutcome outcome;
  const int code = end.status().code();
  if (code != 0) {
    outcome.category = protocol::CategoryForGrpcCode(code);
    outcome.retryable = protocol::IsRetryable(outcome.category);
    outcome.grpc_code = code;
    outcome.status = absl::Status(StatusCodeFor(outcome.category), end.status().message());
  }
  outcome.trailers = ToMap(end.trailers());
  FinishCall(end.message_id(), std::move(outcome));
}

void ClientImpl::HandleError(const v1::Error& e) {
  if (!e.message_id().empty()) {
    if (AnsweredCall(e.message_id()) != nullptr) FinishCall(e.message_id(), OutcomeOfError(e));
    return;
  }
  // The session's error: it may explain the close that follows, and sets a floor on the
  // delay before the next attempt.
  session_error_ = e.category();
  session_retry_after_ = std::max(session_retry_after_, absl::Milliseconds(e.retry_after_ms()));
  SessionError error = SessionErrorOf(e);
  if (absl::StartsWith(e.field(), "channel") && !channel_requests_.empty()) {
    FailChannelRequest(std::move(error));
    return;
  }
  if (handlers_.on_error) Emit([h = handlers_.on_error, error] { h(error); });
}

ClientImpl::PendingCall* ClientImpl::FindOpenCall(const std::string& id) {
  auto it = calls_.find(id);
  return it == calls_.end() ? nullptr : &it->second;
}

void ClientImpl::FinishCall(const std::string& id, CallOutcome outcome) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  std::function<void(CallOutcome)> done = std::move(it->second.handlers.on_done);
  calls_.erase(it);
  if (done) {
    Emit([done = std::move(done), outcome = std::move(outcome)]() mutable {
      done(std::move(outcome));
    });
  }
}

}  // namespace bridge::client::internal
