#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "bridge/client/client_impl.h"

namespace bridge::client::internal {

ClientImpl::ClientImpl(ClientOptions options, ClientRuntime runtime)
    : options_(std::move(options)), runtime_(std::move(runtime)) {
  if (!runtime_.random) {
    runtime_.random = [gen = std::make_shared<absl::BitGen>()] {
      return absl::Uniform<double>(*gen, 0.0, 1.0);
    };
  }
}

void ClientImpl::SetHandlers(ClientHandlers handlers) {
  absl::MutexLock lock(&mu_);
  handlers_ = std::move(handlers);
}

void ClientImpl::AddFrameHandler(Frame::KindCase kind, std::function<void(const Frame&)> handler) {
  absl::MutexLock lock(&mu_);
  frame_handlers_[kind].push_back(std::move(handler));
}

void ClientImpl::Connect() {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kIdle) StartAttempt();
}

void ClientImpl::Close(bool wait_for_server) {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kClosed || (closing_ && wait_for_server)) return;
  const bool open = state_ == State::kPending || state_ == State::kConfirmed;
  if (!closing_) {
    closing_ = true;
    EndEverything(v1::ERROR_CATEGORY_CANCELLED, "the client closed");
    if (open) runtime_.transport->Close(conn_id_, cc::kNormal, "normal_closure");
  }
  if (open && wait_for_server) {
    for (Timer t : {Timer::kPing, Timer::kLiveness, Timer::kAck}) CancelTimer(t);
    ArmTimer(Timer::kClose, options_.close_timeout);
    return;
  }
  if (state_ == State::kConnecting) runtime_.transport->Abort(conn_id_);
  FinishClose(cc::kNormal, "normal_closure");
}

absl::Status ClientImpl::Refresh(std::string token) {
  absl::MutexLock lock(&mu_);
  if (auto s = CheckAccepting(); !s.ok()) return s;
  options_.token = token;
  if (state_ != State::kConfirmed) return absl::OkStatus();  // the next connect carries it
  Frame frame;
  frame.mutable_refresh()->set_token(std::move(token));
  SendNow(frame);
  return absl::OkStatus();
}

State ClientImpl::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

ErrorCategory ClientImpl::last_error() const {
  absl::MutexLock lock(&mu_);
  return last_error_;
}

std::string ClientImpl::conversation_id() const {
  absl::MutexLock lock(&mu_);
  return conversation_id_;
}

uint64_t ClientImpl::last_seq() const {
  absl::MutexLock lock(&mu_);
  return last_seq_;
}

ClientStats ClientImpl::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void ClientImpl::OnTransportOpen(uint64_t id, std::string subprotocol) {
  absl::MutexLock lock(&mu_);
  if (id != conn_id_ || state_ != State::kConnecting) return;
  if (options_.encoding == protocol::Encoding::kBinary &&
      subprotocol != protocol::kBinarySubprotocol) {
    runtime_.transport->Abort(conn_id_);
    Loss loss;
    loss.category = v1::ERROR_CATEGORY_PROTOCOL_ERROR;
    loss.reason = "the server did not select bridge.v1.proto";
    LoseConnection(std::move(loss));
    return;
  }
  SetState(State::kPending);
  Frame frame;
  v1::Connect* c = frame.mutable_connect();
  c->set_client_id(options_.client_id);
  c->set_version(std::string(kProtocolVersion));
  SetNow(c->mutable_timestamp());
  c->set_token(options_.token);
  if (options_.json_mapping.has_value()) *c->mutable_json_mapping() = *options_.json_mapping;
  resume_requested_ = options_.resume && !conversation_id_.empty();
  if (resume_requested_) {
    c->mutable_resume()->set_conversation_id(conversation_id_);
    c->mutable_resume()->set_last_seq(last_seq_);
  }
  SendNow(frame);
}

void ClientImpl::OnTransportMessage(uint64_t id, std::string data, bool binary) {
  absl::MutexLock lock(&mu_);
  if (id != conn_id_ || (state_ != State::kPending && state_ != State::kConfirmed)) return;
  last_received_ = runtime_.clock->Monotonic();
  ++stats_.frames_received;
  const protocol::Encoding encoding =
      binary ? protocol::Encoding::kBinary : protocol::Encoding::kJson;
  Frame frame;
  protocol::DecodeError error = protocol::DecodeFrame(encoding, data, &frame);
  if (error.ok() && encoding != options_.encoding) {
    error.failure = protocol::DecodeFailure::kBadField;
    error.message = "a frame in the other encoding";
  }
  if (error.failure == protocol::DecodeFailure::kUnknownType) {
    ++stats_.unknown_frames;  // a newer server's frame
    return;
  }
  if (!error.ok()) {
    // The server broke the protocol: there is no telling what else went wrong.
    runtime_.transport->Close(conn_id_, cc::kProtocolError, "protocol_error");
    Loss loss;
    loss.category = v1::ERROR_CATEGORY_PROTOCOL_ERROR;
    loss.code = cc::kProtocolError;
    loss.reason = absl::StrCat("bad frame from the server: ", error.message);
    LoseConnection(std::move(loss));
    return;
  }
  HandleFrame(frame);
  MaybeAck(/*by_time=*/false);
}

void ClientImpl::OnTransportClosed(uint64_t id, TransportClose close) {
  absl::MutexLock lock(&mu_);
  if (id != conn_id_) return;
  Loss loss;
  if (close.http_status != 0) {
    loss = LossOfHttpStatus(close.http_status);
  } else {
    const protocol::CloseDisposition d = protocol::ClassifyClose(close.code);
    loss.category = d.category;
    // A code outside the table: the session error that came before it, if any, says why.
    if (loss.category == v1::ERROR_CATEGORY_UNSPECIFIED) loss.category = session_error_;
    loss.reconnect = d.reconnect;
    loss.floor = absl::Milliseconds(d.min_delay_ms);
    loss.code = close.code;
    loss.reason = std::move(close.reason);
  }
  LoseConnection(std::move(loss));
}

void ClientImpl::StartAttempt() {
  conn_id_ = ++connections_opened_;
  session_error_ = v1::ERROR_CATEGORY_UNSPECIFIED;
  session_retry_after_ = absl::ZeroDuration();
  SetState(State::kConnecting);
  OpenRequest request;
  request.url = options_.url;
  request.subprotocols.emplace_back(options_.encoding == protocol::Encoding::kBinary
                                        ? protocol::kBinarySubprotocol
                                        : protocol::kJsonSubprotocol);
  request.headers = options_.headers;
  runtime_.transport->Open(conn_id_, request, this);
  ArmTimer(Timer::kConnect, options_.connect_timeout);
}

void ClientImpl::LoseConnection(Loss loss) {
  if (closing_) {
    FinishClose(loss.code, std::move(loss.reason));
    return;
  }
  conn_id_ = 0;
  resume_requested_ = false;
  for (Timer t : {Timer::kConnect, Timer::kPing, Timer::kLiveness, Timer::kAck}) CancelTimer(t);
  last_error_ = loss.category;
  SetState(State::kDisconnected, loss.category);

  const int max_attempts = options_.reconnect.max_attempts;
  const bool will_reconnect = loss.reconnect && attempt_ < max_attempts;
  if (handlers_.on_close) {
    Emit([h = handlers_.on_close,
          info = CloseInfo{loss.code, loss.reason, loss.category, will_reconnect}] { h(info); });
  }
  if (!will_reconnect) {
    GiveUp(loss.category);
    // A terminal category is not a failed reconnect; running out of attempts is.
    if (loss.reconnect && handlers_.on_reconnect_failed) {
      Emit([h = handlers_.on_reconnect_failed, c = loss.category] { h(c); });
    }
    return;
  }
  ++attempt_;
  ++stats_.reconnect_attempts;
  const absl::Duration floor = std::max(loss.floor, session_retry_after_);
  const absl::Duration delay = BackoffDelay(options_.reconnect, attempt_, runtime_.random(), floor);
  SetState(State::kReconnecting, loss.category);
  if (handlers_.on_reconnecting) {
    Emit([h = handlers_.on_reconnecting, a = attempt_, delay] { h(a, delay); });
  }
  ArmTimer(Timer::kReconnect, delay);
}

void ClientImpl::GiveUp(ErrorCategory category) {
  const bool retryable =
      category == v1::ERROR_CATEGORY_NETWORK_ERROR || protocol::IsRetryable(category);
  EndEverything(category, "the connection ended and the client gave up", retryable);
  SetState(category == v1::ERROR_CATEGORY_NORMAL_CLOSURE ? State::kClosed : State::kError,
           category);
}

void ClientImpl::FinishClose(int code, std::string reason) {
  for (Timer t : {Timer::kConnect, Timer::kPing, Timer::kLiveness, Timer::kAck, Timer::kReconnect,
                  Timer::kClose}) {
    CancelTimer(t);
  }
  if (conn_id_ != 0) {
    const bool was_open = state_ == State::kPending || state_ == State::kConfirmed;
    conn_id_ = 0;
    SetState(State::kDisconnected, v1::ERROR_CATEGORY_NORMAL_CLOSURE);
    if (was_open && handlers_.on_close) {
      Emit([h = handlers_.on_close,
            info = CloseInfo{code, std::move(reason), v1::ERROR_CATEGORY_NORMAL_CLOSURE, false}] {
        h(info);
      });
    }
  }
  SetState(State::kClosed, v1::ERROR_CATEGORY_NORMAL_CLOSURE);
}

void ClientImpl::EndEverything(ErrorCategory category, std::string_view why, bool retryable) {
  queue_.clear();
  queued_bytes_ = 0;
  for (const std::string& id : CallsInOrder([](const PendingCall&) { return true; })) {
    FinishCall(id, LocalOutcome(category, retryable, why));
  }
  for (auto& [channel, sub] : subscriptions_) {
    if (category == v1::ERROR_CATEGORY_CANCELLED && sub.handlers.on_unsubscribed) {
      Emit([h = sub.handlers.on_unsubscribed, e = PositionOf(channel, sub)] { h(e); });
    } else if (category != v1::ERROR_CATEGORY_CANCELLED && sub.handlers.on_error) {
      SessionError error;
      error.category = category;
      error.message = std::string(why);
      Emit([h = sub.handlers.on_error, error] { h(error); });
    }
  }
  subscriptions_.clear();
  channel_requests_.clear();
}

void ClientImpl::OnTimer(Timer timer) {
  switch (timer) {
    case Timer::kConnect:
      if (state_ != State::kConnecting && state_ != State::kPending) return;
      runtime_.transport->Abort(conn_id_);
      LoseConnection(Loss{
          state_ == State::kPending ? v1::ERROR_CATEGORY_TIMEOUT : v1::ERROR_CATEGORY_NETWORK_ERROR,
          true, absl::ZeroDuration(), cc::kAbnormal, "connect_timeout"});
      return;
    case Timer::kPing: {
      if (state_ != State::kConfirmed) return;
      Frame ping;
      SetNow(ping.mutable_ping()->mutable_timestamp());
      SendNow(ping);
      ++stats_.pings_sent;
      ArmTimer(Timer::kPing, heartbeat_interval_);
      return;
    }
    case Timer::kLiveness: {
      if (state_ != State::kConfirmed) return;
      const absl::Duration silence = runtime_.clock->Monotonic() - last_received_;
      if (silence < heartbeat_timeout_) {
        ArmTimer(Timer::kLiveness, heartbeat_timeout_ - silence);
        return;
      }
      ++stats_.heartbeat_timeouts;
      runtime_.transport->Abort(conn_id_);
      LoseConnection(Loss{v1::ERROR_CATEGORY_NETWORK_ERROR, true, absl::ZeroDuration(),
                          cc::kAbnormal, "heartbeat_timeout"});
      return;
    }
    case Timer::kAck:
      MaybeAck(/*by_time=*/true);
      ArmTimer(Timer::kAck, options_.ack_interval);
      return;
    case Timer::kReconnect:
      if (state_ == State::kReconnecting) StartAttempt();
      return;
    case Timer::kClose:
      if (!closing_ || state_ == State::kClosed) return;
      runtime_.transport->Abort(conn_id_);
      FinishClose(cc::kAbnormal, "close_timeout");
      return;
  }
}

void ClientImpl::MaybeAck(bool by_time) {
  if (state_ != State::kConfirmed || last_seq_ <= acked_seq_) return;
  const uint64_t every = options_.ack_every_frames;
  if (!by_time && (every == 0 || last_seq_ - acked_seq_ < every)) return;
  Frame ack;
  ack.mutable_ack()->set_seq(last_seq_);
  SendNow(ack);
  acked_seq_ = last_seq_;
  ++stats_.acks_sent;
}

void ClientImpl::ArmTimer(Timer timer, absl::Duration after) {
  CancelTimer(timer);
  const size_t slot = static_cast<size_t>(timer);
  const uint64_t generation = ++timer_generation_[slot];
  timer_ids_[slot] =
      runtime_.loop->RunAfter(after, [weak = weak_from_this(), timer, slot, generation] {
        std::shared_ptr<ClientImpl> self = weak.lock();
        if (self == nullptr) return;
        absl::MutexLock lock(&self->mu_);
        if (self->timer_generation_[slot] != generation) return;  // re-armed or cancelled
        self->timer_ids_[slot] = 0;
        self->OnTimer(timer);
      });
}

void ClientImpl::CancelTimer(Timer timer) {
  const size_t slot = static_cast<size_t>(timer);
  ++timer_generation_[slot];
  if (timer_ids_[slot] != 0) runtime_.loop->Cancel(timer_ids_[slot]);
  timer_ids_[slot] = 0;
}

void ClientImpl::SetState(State to, ErrorCategory cause) {
  if (to == state_) return;
  const StateChange change{state_, to, cause};
  state_ = to;
  if (handlers_.on_state_change) Emit([h = handlers_.on_state_change, change] { h(change); });
}

void ClientImpl::EmitFrameHandlers(const Frame& frame) {
  auto it = frame_handlers_.find(frame.kind_case());
  if (it == frame_handlers_.end()) return;
  for (const auto& handler : it->second) Emit([handler, frame] { handler(frame); });
}

void ClientImpl::Emit(std::function<void()> callback) { runtime_.loop->Post(std::move(callback)); }

void ClientImpl::SetNow(google::protobuf::Timestamp* ts) {
  const int64_t millis = absl::ToUnixMillis(runtime_.clock->Now());
  ts->set_seconds(millis / 1000);
  ts->set_nanos(static_cast<int32_t>(millis % 1000) * 1000000);
}

}  // namespace bridge::client::internal
