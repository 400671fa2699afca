#include "bridge/client/client.h"

#include <future>
#include <memory>
#include <utility>

#include "bridge/client/client_impl.h"

namespace bridge::client {

std::string_view StateName(State state) {
  switch (state) {
    case State::kIdle:
      return "idle";
    case State::kConnecting:
      return "connecting";
    case State::kPending:
      return "pending";
    case State::kConfirmed:
      return "confirmed";
    case State::kDisconnected:
      return "disconnected";
    case State::kReconnecting:
      return "reconnecting";
    case State::kError:
      return "error";
    case State::kClosed:
      return "closed";
  }
  return "unknown";
}

// ---- CallHandle ----

namespace {
absl::Status ClientGone() { return absl::FailedPreconditionError("the client is gone"); }
}  // namespace

absl::Status CallHandle::Send(std::string payload) {
  auto client = client_.lock();
  return client ? client->StreamSend(message_id_, std::move(payload)) : ClientGone();
}

absl::Status CallHandle::End() {
  auto client = client_.lock();
  return client ? client->StreamEnd(message_id_) : ClientGone();
}

absl::Status CallHandle::Cancel() {
  auto client = client_.lock();
  return client ? client->CancelCall(message_id_) : ClientGone();
}

// ---- Client ----

Client::Client(ClientOptions options, ClientRuntime runtime)
    : impl_(std::make_shared<internal::ClientImpl>(std::move(options), std::move(runtime))) {}

Client::~Client() { Shutdown(); }

void Client::set_handlers(ClientHandlers handlers) { impl_->SetHandlers(std::move(handlers)); }

void Client::OnFrame(v1::Frame::KindCase kind, std::function<void(const v1::Frame&)> handler) {
  impl_->AddFrameHandler(kind, std::move(handler));
}

void Client::Connect() { impl_->Connect(); }
void Client::Close() { impl_->Close(/*wait_for_server=*/true); }
void Client::Shutdown() { impl_->Close(/*wait_for_server=*/false); }

absl::StatusOr<std::shared_ptr<CallHandle>> Client::Call(std::string_view method,
                                                         std::string payload, CallOptions options,
                                                         CallHandlers handlers) {
  return impl_->StartCall(method, std::move(payload), std::move(options), std::move(handlers));
}

std::future<CallOutcome> Client::CallFuture(std::string_view method, std::string payload,
                                            CallOptions options) {
  struct Pending {
    std::promise<CallOutcome> promise;
    std::vector<std::string> messages;  // touched on the loop thread only
  };
  auto pending = std::make_shared<Pending>();
  std::future<CallOutcome> future = pending->promise.get_future();
  CallHandlers handlers;
  handlers.on_message = [pending](std::string payload) {
    pending->messages.push_back(std::move(payload));
  };
  handlers.on_done = [pending](CallOutcome outcome) {
    outcome.messages = std::move(pending->messages);
    pending->promise.set_value(std::move(outcome));
  };
  auto handle = Call(method, std::move(payload), std::move(options), std::move(handlers));
  if (!handle.ok()) {
    CallOutcome refused;
    refused.status = handle.status();
    pending->promise.set_value(std::move(refused));
  }
  return future;
}

absl::StatusOr<std::shared_ptr<StreamCall>> Client::ServerStream(std::string_view method,
                                                                 std::string payload,
                                                                 CallOptions options) {
  auto call = std::make_shared<StreamCall>();
  auto handle = Call(method, std::move(payload), std::move(options), call->Feed(call));
  if (!handle.ok()) return handle.status();
  call->handle_ = *std::move(handle);
  return call;
}

absl::StatusOr<std::shared_ptr<StreamCall>> Client::ClientStream(std::string_view method,
                                                                 CallOptions options,
                                                                 std::string first) {
  return ServerStream(method, std::move(first), std::move(options));
}

absl::StatusOr<std::shared_ptr<StreamCall>> Client::BidiStream(std::string_view method,
                                                               CallOptions options,
                                                               std::string first) {
  return ServerStream(method, std::move(first), std::move(options));
}

// ---- StreamCall ----

CallHandlers StreamCall::Feed(std::shared_ptr<StreamCall> self) {
  // The handlers hold the call until its outcome; the call holds no handler.
  CallHandlers handlers;
  handlers.on_message = [self](std::string payload) {
    absl::MutexLock lock(&self->mu_);
    self->replies_.push_back(std::move(payload));
  };
  handlers.on_done = [self](CallOutcome outcome) {
    self->outcome_.set_value(std::move(outcome));
    absl::MutexLock lock(&self->mu_);
    self->over_ = true;
  };
  return handlers;
}

absl::StatusOr<std::optional<std::string>> StreamCall::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !replies_.empty() || over_; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) {
    return absl::DeadlineExceededError("no reply within the timeout");
  }
  if (replies_.empty()) return std::nullopt;
  std::string reply = std::move(replies_.front());
  replies_.pop_front();
  return reply;
}

absl::Status Client::Subscribe(std::string channel, std::string params,
                               SubscriptionHandlers handlers) {
  return impl_->Subscribe(std::move(channel), std::move(params), std::move(handlers), std::nullopt);
}

absl::Status Client::Subscribe(std::string channel, std::string params,
                               SubscriptionHandlers handlers, StreamPosition since) {
  return impl_->Subscribe(std::move(channel), std::move(params), std::move(handlers),
                          std::move(since));
}

absl::Status Client::Unsubscribe(const std::string& channel) { return impl_->Unsubscribe(channel); }

absl::Status Client::Refresh(std::string token) { return impl_->Refresh(std::move(token)); }

State Client::state() const { return impl_->state(); }
ErrorCategory Client::last_error() const { return impl_->last_error(); }
std::string Client::conversation_id() const { return impl_->conversation_id(); }
uint64_t Client::last_seq() const { return impl_->last_seq(); }
ClientStats Client::stats() const { return impl_->stats(); }

}  // namespace bridge::client
