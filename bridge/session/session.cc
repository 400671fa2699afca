#include "bridge/session/session.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "bridge/protocol/error_table.h"

namespace bridge::session {
namespace {

namespace cc = protocol::close_code;
using v1::Frame;

constexpr std::string_view kProtocolVersion = "1";

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

SessionOptions SessionOptions::FromConfig(const v1::BridgeConfig& config) {
  SessionOptions o;
  o.handshake_timeout = absl::Milliseconds(config.handshake_timeout_ms());
  o.heartbeat_interval = absl::Milliseconds(config.heartbeat_interval_ms());
  o.heartbeat_timeout = absl::Milliseconds(config.heartbeat_timeout_ms());
  o.default_method = config.default_method();
  o.default_call_timeout = absl::Milliseconds(config.default_call_timeout_ms());
  o.max_call_timeout = absl::Milliseconds(config.max_call_timeout_ms());
  o.max_calls = config.max_calls_per_session();
  o.max_outbound_buffer = config.max_outbound_buffer_bytes();
  o.forward_response_metadata.assign(config.forward_response_metadata().begin(),
                                     config.forward_response_metadata().end());
  return o;
}

std::string Session::RandomConversationId() {
  thread_local absl::BitGen gen;
  char bytes[16];
  for (char& b : bytes) b = static_cast<char>(absl::Uniform<unsigned>(gen, 0, 256));
  return absl::StrCat("s-", absl::BytesToHexString(absl::string_view(bytes, sizeof(bytes))));
}

Session::Session(const SessionOptions& options, protocol::Encoding encoding,
                 Transport* transport, Clock* clock, Metrics* metrics,
                 IdGenerator new_conversation_id, CallServices services,
                 upstream::Metadata upgrade_metadata)
    : options_(options),
      encoding_(encoding),
      transport_(transport),
      clock_(clock),
      metrics_(metrics),
      new_conversation_id_(std::move(new_conversation_id)),
      services_(services),
      upgrade_metadata_(std::move(upgrade_metadata)) {}

Session::~Session() { CancelAllCalls(); }

void Session::Start() {
  last_seen_ = clock_->Monotonic();
  transport_->ArmTimer(SessionTimer::kHandshake, options_.handshake_timeout);
}

void Session::OnMessage(std::string_view data, bool binary) {
  if (state_ != State::kPending && state_ != State::kConfirmed) return;
  last_seen_ = clock_->Monotonic();
  metrics_->frames_received.fetch_add(1, std::memory_order_relaxed);
  metrics_->bytes_received.fetch_add(data.size(), std::memory_order_relaxed);

  const protocol::Encoding frame_encoding =
      binary ? protocol::Encoding::kBinary : protocol::Encoding::kJson;
  if (frame_encoding != encoding_) {
    metrics_->wrong_encoding_frames.fetch_add(1, std::memory_order_relaxed);
    const bool pending = state_ == State::kPending;
    SendError(v1::ERROR_CATEGORY_PROTOCOL_ERROR,
              binary ? "binary frame on a bridge.v1.json session: send text frames"
                     : "text frame on a bridge.v1.proto session: send binary frames");
    if (pending) CloseWith(cc::kProtocolError, "protocol_error");
    return;
  }

  protocol::DecodeError error = protocol::DecodeFrame(encoding_, data, &scratch_);
  if (!error.ok()) {
    metrics_->CountBadFrame(error.failure);
    const bool pending = state_ == State::kPending;
    SendError(v1::ERROR_CATEGORY_PROTOCOL_ERROR, std::move(error.message),
              std::move(error.field));
    if (pending) {
      metrics_->frames_before_connect.fetch_add(1, std::memory_order_relaxed);
      CloseWith(cc::kProtocolError, "protocol_error");
    }
    return;
  }
  Dispatch(scratch_);
}

void Session::Dispatch(Frame& frame) {
  if (state_ == State::kPending) {
    if (frame.kind_case() != Frame::kConnect) {
      metrics_->frames_before_connect.fetch_add(1, std::memory_order_relaxed);
      SendError(v1::ERROR_CATEGORY_PROTOCOL_ERROR,
                absl::StrCat("expected connect as the first frame, got ",
                             Sv(protocol::FrameTypeName(frame))),
                "type");
      CloseWith(cc::kProtocolError, "protocol_error");
      return;
    }
    HandleConnect(frame.connect());
    return;
  }
  if (state_ != State::kConfirmed) return;

  switch (frame.kind_case()) {
    case Frame::kPing: {
      metrics_->pings_received.fetch_add(1, std::memory_order_relaxed);
      Frame pong;
      SetNow(pong.mutable_pong()->mutable_timestamp());
      SendFrame(pong);
      return;
    }
    case Frame::kBatch: {
      // Frames of a batch are processed in order; a batch never holds a batch (the codec
      // refuses nested ones).
      v1::Batch batch = std::move(*frame.mutable_batch());
      for (Frame& inner : *batch.mutable_frames()) {
        if (state_ != State::kConfirmed) return;
        if (inner.kind_case() == Frame::KIND_NOT_SET || inner.kind_case() == Frame::kBatch) {
          metrics_->CountBadFrame(protocol::DecodeFailure::kMissingType);
          SendError(v1::ERROR_CATEGORY_PROTOCOL_ERROR, "batch frames must each have a type",
                    "frames");
          continue;
        }
        Dispatch(inner);
      }
      return;
    }
    case Frame::kConnect:
      SendError(v1::ERROR_CATEGORY_PROTOCOL_ERROR, "the session is already connected", "type");
      return;
    case Frame::kAck:
    case Frame::kRefresh:
      // Nothing is held for resume yet and tokens are not checked: both are accepted as is.
      return;
    case Frame::kMessage:
    case Frame::kStreamSend:
    case Frame::kStreamEnd:
    case Frame::kCancel:
    case Frame::kSubscribe:
    case Frame::kUnsubscribe:
      HandleCallFrame(frame);
      return;
    default:
      SendError(v1::ERROR_CATEGORY_PROTOCOL_ERROR,
                absl::StrCat("frame type ", Sv(protocol::FrameTypeName(frame)),
                             " is sent by the server only"),
                "type");
      return;
  }
}

void Session::HandleConnect(const v1::Connect& connect) {
  if (!connect.version().empty() && connect.version() != kProtocolVersion) {
    metrics_->unsupported_versions.fetch_add(1, std::memory_order_relaxed);
    SendError(v1::ERROR_CATEGORY_PROTOCOL_ERROR,
              absl::StrCat("unsupported protocol version \"", absl::CHexEscape(connect.version()),
                           "\"; supported: 1"),
              "version");
    CloseWith(cc::kUnsupportedVersion, "unsupported_version");
    return;
  }
  transport_->CancelTimer(SessionTimer::kHandshake);
  client_id_ = connect.client_id();
  conversation_id_ = new_conversation_id_();
  state_ = State::kConfirmed;
  metrics_->sessions_confirmed.fetch_add(1, std::memory_order_relaxed);

  Frame confirm;
  v1::ConnectConfirm* c = confirm.mutable_connect_confirm();
  c->set_client_id(client_id_);
  c->set_conversation_id(conversation_id_);
  c->set_status("confirmed");
  SetNow(c->mutable_timestamp());
  c->set_heartbeat_interval_ms(
      static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.heartbeat_interval)));
  c->set_heartbeat_timeout_ms(
      static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.heartbeat_timeout)));
  // No session state outlives its connection yet, so a resume always starts afresh.
  c->set_resumed(false);
  SendFrame(confirm);
  transport_->ArmTimer(SessionTimer::kHeartbeat, options_.heartbeat_timeout);
}

void Session::HandleCallFrame(const Frame& frame) {
  switch (frame.kind_case()) {
    case Frame::kMessage:
      StartCall(frame.message());
      return;
    case Frame::kStreamSend:
      SendToCall(frame.stream_send());
      return;
    case Frame::kStreamEnd: {
      auto it = calls_.find(frame.stream_end().message_id());
      if (it == calls_.end()) {
        SendError(v1::ERROR_CATEGORY_NOT_FOUND, "no open call with this messageId", "messageId",
                  frame.stream_end().message_id());
        return;
      }
      it->second.call->WritesDone();
      return;
    }
    case Frame::kCancel: {
      auto it = calls_.find(frame.cancel().message_id());
      if (it == calls_.end()) {
        SendError(v1::ERROR_CATEGORY_NOT_FOUND, "no open call with this messageId", "messageId",
                  frame.cancel().message_id());
        return;
      }
      // The call's end (CANCELLED, or whatever came first) answers with one error frame.
      metrics_->calls_cancelled_by_client.fetch_add(1, std::memory_order_relaxed);
      it->second.call->Cancel();
      return;
    }
    case Frame::kSubscribe:
    case Frame::kUnsubscribe:
      SendError(v1::ERROR_CATEGORY_NOT_FOUND, "channels are not enabled on this bridge",
                "channel");
      return;
    default:
      return;
  }
}

void Session::OnControlPing() {
  metrics_->control_pings_received.fetch_add(1, std::memory_order_relaxed);
  last_seen_ = clock_->Monotonic();
}

void Session::OnTimer(SessionTimer timer) {
  switch (timer) {
    case SessionTimer::kHandshake:
      if (state_ != State::kPending) return;
      metrics_->handshake_timeouts.fetch_add(1, std::memory_order_relaxed);
      CloseWith(cc::kHandshakeTimeout, "handshake_timeout");
      return;
    case SessionTimer::kDrain:
      drain_armed_ = false;
      if (state_ == State::kConfirmed) OnDrainTimer();
      return;
    case SessionTimer::kHeartbeat: {
      if (state_ != State::kConfirmed) return;
      const absl::Duration idle = clock_->Monotonic() - last_seen_;
      if (idle >= options_.heartbeat_timeout) {
        metrics_->heartbeat_timeouts.fetch_add(1, std::memory_order_relaxed);
        CloseWith(cc::kHeartbeatTimeout, "heartbeat_timeout");
        return;
      }
      transport_->ArmTimer(SessionTimer::kHeartbeat, options_.heartbeat_timeout - idle);
      return;
    }
  }
}

void Session::Shutdown() {
  if (state_ == State::kPending || state_ == State::kConfirmed) {
    CloseWith(cc::kGoingAway, "server_shutdown");
  }
}

void Session::OnClosed() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  transport_->CancelTimer(SessionTimer::kHandshake);
  transport_->CancelTimer(SessionTimer::kHeartbeat);
  transport_->CancelTimer(SessionTimer::kDrain);
  CancelAllCalls();
}

void Session::SendFrame(Frame& frame) {
  if (state_ == State::kConfirmed) frame.set_seq(++seq_);
  std::string data = protocol::EncodeFrame(encoding_, frame);
  metrics_->frames_sent.fetch_add(1, std::memory_order_relaxed);
  metrics_->bytes_sent.fetch_add(data.size(), std::memory_order_relaxed);
  transport_->Send(std::move(data), encoding_);
}

void Session::SendError(v1::ErrorCategory category, std::string message, std::string field,
                        std::string message_id) {
  metrics_->CountErrorFrame(category);
  Frame frame;
  v1::Error* e = frame.mutable_error();
  e->set_message_id(std::move(message_id));
  e->set_category(category);
  e->set_retryable(protocol::IsRetryable(category));
  e->set_message(std::move(message));
  e->set_field(std::move(field));
  SetNow(e->mutable_timestamp());
  SendFrame(frame);
}

void Session::CloseWith(int code, std::string_view reason) {
  state_ = State::kClosing;
  transport_->CancelTimer(SessionTimer::kHandshake);
  transport_->CancelTimer(SessionTimer::kHeartbeat);
  transport_->CancelTimer(SessionTimer::kDrain);
  CancelAllCalls();
  metrics_->CountCloseSent(code);
  transport_->Close(code, reason);
}

void Session::SetNow(google::protobuf::Timestamp* ts) {
  // Millisecond precision, as PROTOCOL.md writes timestamps.
  const int64_t millis = absl::ToUnixMillis(clock_->Now());
  ts->set_seconds(millis / 1000);
  ts->set_nanos(static_cast<int32_t>(millis % 1000) * 1000000);
}

}  // namespace bridge::session
