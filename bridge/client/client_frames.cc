#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/client/client_impl.h"
#include "bridge/common/strings.h"

namespace bridge::client::internal {

absl::Status ClientImpl::CheckAccepting() const {
  if (closing_ || state_ == State::kClosed) {
    return absl::FailedPreconditionError("the client is closed");
  }
  if (state_ == State::kError) {
    return absl::FailedPreconditionError(
        absl::StrCat("the client gave up: ", Sv(protocol::CategoryName(last_error_))));
  }
  return absl::OkStatus();
}

absl::Status ClientImpl::SendOrQueue(const Frame& frame, const std::string& key) {
  std::string data = protocol::EncodeFrame(options_.encoding, frame);
  if (state_ == State::kConfirmed) {
    Transmit(frame.kind_case(), key, std::move(data));
    return absl::OkStatus();
  }
  if (queue_.size() >= options_.max_queued_frames ||
      queued_bytes_ + data.size() > options_.max_queued_bytes) {
    ++stats_.queue_overflows;
    return absl::ResourceExhaustedError(absl::StrCat("send queue full (", queue_.size(),
                                                     " frames, ", queued_bytes_, " bytes) while ",
                                                     Sv(StateName(state_))));
  }
  queued_bytes_ += data.size();
  queue_.push_back(Queued{std::move(data), frame.kind_case(), key});
  return absl::OkStatus();
}

void ClientImpl::Transmit(Frame::KindCase kind, const std::string& key, std::string data) {
  switch (kind) {
    case Frame::kMessage:
      if (PendingCall* call = FindOpenCall(key)) {
        call->sent = true;
        call->message_frame = data;
      }
      break;
    case Frame::kStreamSend:
    case Frame::kStreamEnd:
      if (PendingCall* call = FindOpenCall(key); call && call->idempotent && !call->answered) {
        call->later_frames.push_back(data);
      }
      break;
    case Frame::kSubscribe:
      if (auto it = subscriptions_.find(key); it != subscriptions_.end()) it->second.sent = true;
      channel_requests_.push_back({kind, key});
      break;
    case Frame::kUnsubscribe:
      channel_requests_.push_back({kind, key});
      break;
    default:
      break;
  }
  SendData(std::move(data));
}

void ClientImpl::SendNow(const Frame& frame) {
  SendData(protocol::EncodeFrame(options_.encoding, frame));
}

void ClientImpl::SendData(std::string data) {
  ++stats_.frames_sent;
  runtime_.transport->Send(conn_id_, std::move(data),
                           options_.encoding == protocol::Encoding::kBinary);
}

void ClientImpl::FlushQueue() {
  while (!queue_.empty()) {
    Queued q = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= q.data.size();
    const bool call_frame = q.kind == Frame::kMessage || q.kind == Frame::kStreamSend ||
                            q.kind == Frame::kStreamEnd || q.kind == Frame::kCancel;
    if (call_frame && !calls_.contains(q.key)) continue;  // the call ended meanwhile
    Transmit(q.kind, q.key, std::move(q.data));
  }
}

void ClientImpl::DropQueuedFramesOf(const std::string& id) {
  auto gone = std::remove_if(queue_.begin(), queue_.end(), [&](const Queued& q) {
    return q.key == id && q.kind != Frame::kSubscribe && q.kind != Frame::kUnsubscribe;
  });
  for (auto it = gone; it != queue_.end(); ++it) queued_bytes_ -= it->data.size();
  queue_.erase(gone, queue_.end());
}

void ClientImpl::HandleFrame(Frame& frame) {
  if (frame.kind_case() == Frame::kConnectConfirm) {
    EmitFrameHandlers(frame);
    HandleConfirm(frame.connect_confirm(), frame.seq());
    return;
  }
  if (frame.kind_case() == Frame::kBatch) {
    // The inner frames carry their own seq; the batch's own counts only when they do not.
    const auto& inner = frame.batch().frames();
    const bool inner_seq =
        std::any_of(inner.begin(), inner.end(), [](const Frame& f) { return f.seq() != 0; });
    if (!inner_seq && IsDuplicate(frame.seq())) return;
    EmitFrameHandlers(frame);
    for (Frame& f : *frame.mutable_batch()->mutable_frames()) HandleFrame(f);
    return;
  }
  if (IsDuplicate(frame.seq())) return;
  EmitFrameHandlers(frame);
  switch (frame.kind_case()) {
    case Frame::kPong:
      ++stats_.pongs_received;
      return;
    case Frame::kResponse:
      HandleResponse(*frame.mutable_response());
      return;
    case Frame::kStreamMessage:
      HandleStreamMessage(*frame.mutable_stream_message());
      return;
    case Frame::kStreamEnd:
      HandleStreamEnd(frame.stream_end());
      return;
    case Frame::kError:
      HandleError(frame.error());
      return;
    case Frame::kSubscribed:
    case Frame::kUnsubscribed:
      HandleChannelState(frame.kind_case(), frame.kind_case() == Frame::kSubscribed
                                                ? frame.subscribed()
                                                : frame.unsubscribed());
      return;
    case Frame::kPublication:
      HandlePublication(*frame.mutable_publication());
      return;
    default:
      return;  // client-to-server kinds: nothing to do
  }
}

bool ClientImpl::IsDuplicate(uint64_t seq) {
  if (seq == 0) return false;
  if (seq <= last_seq_) {
    ++stats_.duplicates_dropped;
    return true;
  }
  last_seq_ = seq;
  return false;
}

void ClientImpl::HandleConfirm(const v1::ConnectConfirm& confirm, uint64_t seq) {
  if (state_ != State::kPending) return;
  CancelTimer(Timer::kConnect);
  const bool resumed = resume_requested_ && confirm.has_resumed() && confirm.resumed() &&
                       confirm.conversation_id() == conversation_id_;
  if (!resumed) {
    last_seq_ = 0;  // a new session counts from 1 again
    acked_seq_ = 0;
  }
  last_seq_ = std::max(last_seq_, seq);
  conversation_id_ = confirm.conversation_id();
  attempt_ = 0;
  const absl::Duration announced = confirm.heartbeat_interval_ms() > 0
                                       ? absl::Milliseconds(confirm.heartbeat_interval_ms())
                                       : kDefaultHeartbeatInterval;
  heartbeat_interval_ = options_.heartbeat_interval.value_or(announced);
  heartbeat_timeout_ = options_.heartbeat_timeout.value_or(
      confirm.heartbeat_timeout_ms() > 0 ? absl::Milliseconds(confirm.heartbeat_timeout_ms())
                                         : 2 * announced);
  ++stats_.sessions_confirmed;
  if (resumed) ++stats_.sessions_resumed;
  SetState(State::kConfirmed);

  if (resumed) {
    ResendUnanswered();
  } else {
    RecoverAfterNewSession();
  }
  FlushQueue();

  last_received_ = runtime_.clock->Monotonic();
  if (heartbeat_interval_ != absl::InfiniteDuration()) {
    ArmTimer(Timer::kPing, heartbeat_interval_);
  }
  if (heartbeat_timeout_ != absl::InfiniteDuration()) {
    ArmTimer(Timer::kLiveness, heartbeat_timeout_);
  }
  if (options_.ack_interval != absl::InfiniteDuration()) {
    ArmTimer(Timer::kAck, options_.ack_interval);
  }
  if (handlers_.on_open) {
    Emit([h = handlers_.on_open, info = SessionInfo{conversation_id_, resumed, heartbeat_interval_,
                                                    heartbeat_timeout_}] { h(info); });
  }
}

void ClientImpl::ResendUnanswered() {
  for (const std::string& id :
       CallsInOrder([](const PendingCall& c) { return c.sent && !c.answered; })) {
    ++stats_.calls_resent;
    SendData(calls_[id].message_frame);
  }
}

void ClientImpl::RecoverAfterNewSession() {
  for (const std::string& id : CallsInOrder([](const PendingCall& c) { return c.sent; })) {
    PendingCall& call = calls_[id];
    if (call.idempotent && !call.answered) {
      ++stats_.calls_resent;
      SendData(call.message_frame);
      for (const std::string& data : call.later_frames) SendData(data);
      continue;
    }
    ++stats_.calls_lost;
    FinishCall(id, LocalOutcome(v1::ERROR_CATEGORY_NETWORK_ERROR, /*retryable=*/true,
                                "the connection was lost and the session was not resumed"));
  }

  channel_requests_.clear();
  for (auto it = subscriptions_.begin(); it != subscriptions_.end();) {
    auto current = it++;
    Subscription& sub = current->second;
    if (!sub.sent) continue;  // its subscribe is still queued
    if (sub.unsubscribing) {
      if (sub.handlers.on_unsubscribed) {
        Emit([h = sub.handlers.on_unsubscribed, e = PositionOf(current->first, sub)] { h(e); });
      }
      subscriptions_.erase(current);
      continue;
    }
    Frame frame;
    v1::Subscribe* s = frame.mutable_subscribe();
    s->set_channel(current->first);
    s->set_params(sub.params);
    if (sub.has_position) {
      s->mutable_since()->set_offset(sub.offset);
      s->mutable_since()->set_epoch(sub.epoch);
    }
    Transmit(Frame::kSubscribe, current->first, protocol::EncodeFrame(options_.encoding, frame));
  }
}

}  // namespace bridge::client::internal
