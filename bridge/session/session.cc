#include "bridge/session/session.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "bridge/common/log.h"
#include "bridge/common/random_id.h"
#include "bridge/common/strings.h"
#include "bridge/protocol/error_table.h"

namespace bridge::session {
namespace {

namespace cc = protocol::close_code;
using v1::Frame;

constexpr std::string_view kProtocolVersion = "1";

// Why `client_id` cannot name a client (docs/protocol.md, "connect"), or "" when it can.
std::string ClientIdProblem(std::string_view client_id) {
  if (client_id.size() > protocol::kMaxClientIdBytes) {
    return absl::StrCat("clientId is ", client_id.size(), " bytes; at most ",
                        protocol::kMaxClientIdBytes);
  }
  for (char c : client_id) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) return "clientId holds a control character";
  }
  return "";
}

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
  o.max_request_metadata_bytes = config.max_request_metadata_bytes();
  o.forward_response_metadata.assign(config.forward_response_metadata().begin(),
                                     config.forward_response_metadata().end());
  o.session_grace = config.disable_resume() ? absl::ZeroDuration()
                                            : absl::Milliseconds(config.session_grace_ms());
  o.resume_buffer_frames = config.resume_buffer_frames();
  o.resume_buffer_bytes = config.resume_buffer_bytes();
  o.resume_buffer_age = absl::Milliseconds(config.resume_buffer_age_ms());
  o.max_messages_per_second = config.max_messages_per_second();
  o.message_burst = config.message_burst();
  o.rate_limit_strikes = static_cast<int>(config.rate_limit_strikes());
  o.max_outbound_queue = config.max_outbound_queue_bytes();
  o.drain_retry_after = absl::Milliseconds(config.drain_retry_after_ms());
  o.auth_required = config.auth().required();
  o.max_connections_per_user = config.max_connections_per_user();
  o.batch_max_frames = config.batch().max_frames();
  o.batch_max_delay = absl::Milliseconds(config.batch().max_delay_ms());
  for (const v1::Route& route : config.routes()) {
    if (!route.has_json()) continue;
    transcode::JsonRule& rule = o.json_rules[route.service()];
    rule.mapping.emit_defaults = route.json().emit_defaults();
    rule.mapping.proto_names = route.json().proto_names();
    rule.mapping.enums_as_numbers = route.json().enums_as_numbers();
    rule.session_may_choose = route.json().session_may_choose();
  }
  o.start_traces = config.tracing().start_traces();
  o.return_traceparent = config.tracing().return_traceparent();
  return o;
}

std::string Session::RandomConversationId() { return "s-" + RandomHex(16); }

Session::Session(const SessionOptions& options, protocol::Encoding encoding, Transport* transport,
                 Clock* clock, Metrics* metrics, IdGenerator new_conversation_id,
                 CallServices services, upstream::Metadata upgrade_metadata)
    : options_(options),
      encoding_(encoding),
      transport_(transport),
      clock_(clock),
      metrics_(metrics),
      new_conversation_id_(std::move(new_conversation_id)),
      services_(services),
      upgrade_metadata_(std::move(upgrade_metadata)),
      resume_buffer_(
          {options.resume_buffer_frames, options.resume_buffer_bytes, options.resume_buffer_age}),
      calls_(options.session_grace > absl::ZeroDuration() ? options.resume_buffer_frames : 0),
      rate_limiter_(options.max_messages_per_second, options.message_burst,
                    options.rate_limit_strikes),
      batcher_(options.batch_max_frames) {
  TakeUpgradeTrace();
  absl::MutexLock lock(&stats_->mu);
  stats_->started = clock_->Now();
}

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
  stats_->frames_in.fetch_add(1, std::memory_order_relaxed);

  const protocol::Encoding frame_encoding =
      binary ? protocol::Encoding::kBinary : protocol::Encoding::kJson;
  if (frame_encoding != encoding_) {
    if (!Admit(nullptr)) return;
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
    if (!Admit(nullptr)) return;
    metrics_->CountBadFrame(error.failure);
    const bool pending = state_ == State::kPending;
    SendError(v1::ERROR_CATEGORY_PROTOCOL_ERROR, std::move(error.message), std::move(error.field));
    if (pending) {
      metrics_->frames_before_connect.fetch_add(1, std::memory_order_relaxed);
      CloseWith(cc::kProtocolError, "protocol_error");
    }
    return;
  }
  Dispatch(scratch_);
}

void Session::Dispatch(Frame& frame) {
  // The rate limit counts frames, not WebSocket messages: each frame of a batch is one.
  if (frame.kind_case() != Frame::kBatch || frame.batch().frames().empty()) {
    if (!Admit(&frame)) return;
  }
  metrics_->CountFrameIn(frame.kind_case());
  if (state_ == State::kPending) {
    if (frame.kind_case() != Frame::kConnect || checking_auth_) {
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
          if (!Admit(nullptr)) continue;  // a frame all the same: it costs its token
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
      TrimResumeBuffer(frame.ack().seq());
      return;
    case Frame::kRefresh:
      HandleRefresh(frame.refresh());
      return;
    case Frame::kMessage:
    case Frame::kStreamSend:
    case Frame::kStreamEnd:
    case Frame::kCancel:
      HandleCallFrame(frame);
      return;
    case Frame::kSubscribe:
      HandleSubscribe(frame.subscribe());
      return;
    case Frame::kUnsubscribe:
      HandleUnsubscribe(frame.unsubscribe());
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
  if (std::string problem = ClientIdProblem(connect.client_id()); !problem.empty()) {
    metrics_->bad_client_ids.fetch_add(1, std::memory_order_relaxed);
    SendError(v1::ERROR_CATEGORY_INVALID_ARGUMENT, std::move(problem), "clientId");
    CloseWith(cc::kProtocolError, "invalid_client_id");
    return;
  }
  transport_->CancelTimer(SessionTimer::kHandshake);
  if (options_.auth_checker != nullptr) {
    auth::CheckInput input = std::move(upgrade_request_);
    input.token = !connect.token().empty() ? connect.token() : upgrade_token_;
    input.client_id = connect.client_id();
    checking_auth_ = true;
    std::shared_ptr<Executor> executor = transport_->executor();
    options_.auth_checker->Check(
        std::move(input), [this, executor, connect](auth::CheckOutcome outcome) {
          executor->Post([this, connect, outcome = std::move(outcome)]() mutable {
            OnAuthChecked(connect, std::move(outcome));
          });
        });
    return;
  }
  std::optional<auth::Identity> identity;
  if (options_.jwt != nullptr) {
    const std::string& token = !connect.token().empty() ? connect.token() : upgrade_token_;
    if (!token.empty() || options_.auth_required) {
      absl::StatusOr<auth::Identity> verified = options_.jwt->Verify(token, clock_->Now());
      if (!verified.ok()) {
        metrics_->auth_failures.fetch_add(1, std::memory_order_relaxed);
        SendError(v1::ERROR_CATEGORY_AUTHENTICATION_FAILED,
                  std::string(verified.status().message()), "token");
        CloseWith(cc::kUnauthenticated, "authentication_failed");
        return;
      }
      identity = *std::move(verified);
    }
  }
  FinishConnect(connect, std::move(identity));
}

void Session::OnAuthChecked(const v1::Connect& connect, auth::CheckOutcome outcome) {
  if (state_ != State::kPending || !checking_auth_) return;  // closed meanwhile
  checking_auth_ = false;
  const std::string message(outcome.status.message());
  switch (outcome.status.code()) {
    case absl::StatusCode::kOk:
      if (outcome.valid_for != absl::InfiniteDuration()) {
        outcome.identity.expires_at = clock_->Now() + outcome.valid_for;
      }
      FinishConnect(connect, std::move(outcome.identity));
      return;
    case absl::StatusCode::kUnauthenticated:
      metrics_->auth_failures.fetch_add(1, std::memory_order_relaxed);
      SendError(v1::ERROR_CATEGORY_AUTHENTICATION_FAILED, message, "token");
      CloseWith(cc::kUnauthenticated, "authentication_failed");
      return;
    case absl::StatusCode::kPermissionDenied:
      metrics_->permission_denials.fetch_add(1, std::memory_order_relaxed);
      SendError(v1::ERROR_CATEGORY_PERMISSION_DENIED, message);
      CloseWith(cc::kForbidden, "permission_denied");
      return;
    default:
      // Nobody could say who the client is: not the client's fault; it may try again.
      metrics_->auth_unavailable.fetch_add(1, std::memory_order_relaxed);
      SendError(v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, message, "", "",
                static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.drain_retry_after)));
      CloseWith(cc::kTryAgainLater, "auth_unavailable");
      return;
  }
}

void Session::FinishConnect(const v1::Connect& connect, std::optional<auth::Identity> identity) {
  if (connect.has_resume() && !connect.resume().conversation_id().empty()) {
    if (resume_hook_ && resume_hook_(connect.resume().conversation_id(),
                                     connect.resume().last_seq(), connect, identity)) {
      // The resumed session has this connection now; this one was never confirmed.
      state_ = State::kClosed;
      return;
    }
    metrics_->resumes_refused.fetch_add(1, std::memory_order_relaxed);
  }
  client_id_ = connect.client_id();
  asked_json_ = connect.json_mapping();
  conversation_id_ = new_conversation_id_();
  connected_at_ = clock_->Now();
  identity_ = std::move(identity);
  if (options_.node != nullptr && identity_.has_value() && !identity_->user_id.empty()) {
    // The user's connections are counted (on every instance) before the session is confirmed.
    checking_auth_ = true;
    user_counted_ = true;
    std::shared_ptr<Executor> executor = transport_->executor();
    options_.node->AddUserConnection(ClientInfoNow(), [this, executor](absl::StatusOr<size_t> n) {
      executor->Post([this, n = std::move(n)]() mutable { OnUserCounted(std::move(n)); });
    });
    return;
  }
  Confirm();
}

void Session::OnUserCounted(absl::StatusOr<size_t> count) {
  if (state_ != State::kPending || !checking_auth_) return;  // closed meanwhile
  checking_auth_ = false;
  if (!count.ok()) {
    SendError(v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE,
              absl::StrCat("cannot count the user's connections: ", count.status().message()), "",
              "", static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.drain_retry_after)));
    CloseWith(cc::kTryAgainLater, "broker_unavailable");
    return;
  }
  if (*count > options_.max_connections_per_user) {
    metrics_->user_limit_closes.fetch_add(1, std::memory_order_relaxed);
    SendError(v1::ERROR_CATEGORY_LIMIT_EXCEEDED,
              absl::StrCat("user ", identity_->user_id, " has ", *count - 1,
                           " connections open; at most ", options_.max_connections_per_user),
              "");
    CloseWith(cc::kConnectionLimit, "connection_limit");
    return;
  }
  Confirm();
}

void Session::Confirm() {
  state_ = State::kConfirmed;
  {
    absl::MutexLock lock(&stats_->mu);
    stats_->conversation_id = conversation_id_;
    stats_->client_id = client_id_;
  }
  SetIdentity(std::move(identity_));
  if (options_.node != nullptr) {
    link_ = MakeLink();
    options_.node->AddSession(ClientInfoNow(), link_);
  }
  metrics_->sessions_confirmed.fetch_add(1, std::memory_order_relaxed);
  {
    absl::MutexLock lock(&claim_mu_);
    claimable_ = options_.session_grace > absl::ZeroDuration();
  }
  if (confirm_hook_) confirm_hook_();
  SendConfirm(/*resumed=*/false);
  transport_->ArmTimer(SessionTimer::kHeartbeat, options_.heartbeat_timeout);
}

void Session::SendConfirm(bool resumed) {
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
  c->set_resumed(resumed);
  SendFrame(confirm);
  absl::MutexLock lock(&claim_mu_);
  last_confirm_seq_ = seq_;
}

bool Session::TryClaim(protocol::Encoding encoding, uint64_t last_seq, const std::string& user_id) {
  absl::MutexLock lock(&claim_mu_);
  if (!claimable_ || claimed_ || encoding != encoding_ || user_id != claim_user_) return false;
  // Everything after last_seq must still be held (frames first_held_seq_..last_sent_seq_), and
  // none of it may be a connect_confirm: a client that did not see the last confirm gets a
  // fresh session rather than an old confirm replayed before the new one.
  if (last_seq > last_sent_seq_ || last_seq + 1 < first_held_seq_ || last_seq < last_confirm_seq_) {
    return false;
  }
  // From here until Reattach the held frames after last_seq stay, whatever the buffer's
  // bounds or acks on the old connection say (HoldForResume, TrimResumeBuffer).
  claimed_ = true;
  claim_last_seq_ = last_seq;
  return true;
}

void Session::Reattach(const v1::Connect& connect, std::optional<auth::Identity> identity) {
  uint64_t last_seq;
  {
    absl::MutexLock lock(&claim_mu_);
    claimed_ = false;
    last_seq = claim_last_seq_;
  }
  if (state_ == State::kClosed || (state_ == State::kClosing && !resumable_close_)) {
    // The session ended, or was closed for good, between the claim and now (its old connection
    // closed it, or the bridge did): nothing to resume. The client connects again and gets a
    // fresh session. A closing session ends when its connection's close completes.
    metrics_->resumes_gapped.fetch_add(1, std::memory_order_relaxed);
    SendError(v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE,
              "the session ended before it could be resumed; connect again", "", "",
              static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.drain_retry_after)));
    transport_->Close(cc::kTryAgainLater, "resume_failed");
    return;
  }
  // The replay must start right after last_seq: the claim pinned those frames.
  const bool exact = resume_buffer_.empty() ? last_seq == seq_
                                            : resume_buffer_.FirstSeqOr(0) <= last_seq + 1 &&
                                                  resume_buffer_.LastSeqOr(0) == seq_;
  if (!exact) {
    // Not reachable while the claim pins the frames; never confirm a gap if it were.
    metrics_->resumes_gapped.fetch_add(1, std::memory_order_relaxed);
    log::Event(log::Level::kWarn, "resume_gap")
        .Str("conversation", conversation_id_)
        .Int("last_seq", static_cast<int64_t>(last_seq))
        .Int("first_held", static_cast<int64_t>(resume_buffer_.FirstSeqOr(seq_ + 1)));
    state_ = State::kClosing;
    metrics_->CountCloseSent(cc::kInternalError);
    transport_->Close(cc::kInternalError, "resume_failed");
    End();
    return;
  }
  transport_->CancelTimer(SessionTimer::kGrace);
  DropBatch();  // held already: they go out in the replay
  if (!connect.client_id().empty()) client_id_ = connect.client_id();
  state_ = State::kConfirmed;
  last_seen_ = clock_->Monotonic();
  if (identity.has_value()) SetIdentity(std::move(identity));
  for (const ResumeBuffer::Held& held : resume_buffer_.held()) {
    if (held.seq <= last_seq) continue;
    metrics_->frames_replayed.fetch_add(1, std::memory_order_relaxed);
    metrics_->frames_sent.fetch_add(1, std::memory_order_relaxed);
    metrics_->bytes_sent.fetch_add(held.data.size(), std::memory_order_relaxed);
    transport_->Send(held.data, encoding_);
  }
  metrics_->sessions_resumed.fetch_add(1, std::memory_order_relaxed);
  SendConfirm(/*resumed=*/true);
  transport_->ArmTimer(SessionTimer::kHeartbeat, options_.heartbeat_timeout);
  room_asked_ = false;  // the old connection took its request along
  ResumeReads();        // replies held back for the old connection's buffer may flow again
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
      ActiveCall* call = calls_.Find(frame.stream_end().message_id());
      if (call == nullptr) {
        SendError(v1::ERROR_CATEGORY_NOT_FOUND, "no open call with this messageId", "messageId",
                  frame.stream_end().message_id());
        return;
      }
      call->call->WritesDone();
      return;
    }
    case Frame::kCancel: {
      ActiveCall* call = calls_.Find(frame.cancel().message_id());
      if (call == nullptr) {
        SendError(v1::ERROR_CATEGORY_NOT_FOUND, "no open call with this messageId", "messageId",
                  frame.cancel().message_id());
        return;
      }
      // The call's end (CANCELLED, or whatever came first) answers with one error frame.
      metrics_->calls_cancelled_by_client.fetch_add(1, std::memory_order_relaxed);
      call->call->Cancel();
      return;
    }
    default:
      return;
  }
}

bool Session::Admit(const Frame* frame) {
  const RateLimiter::Verdict verdict = rate_limiter_.Take(clock_->Monotonic());
  if (verdict.admitted) return true;
  metrics_->rate_limited_messages.fetch_add(1, std::memory_order_relaxed);
  if (verdict.close) {
    metrics_->rate_limit_closes.fetch_add(1, std::memory_order_relaxed);
    CloseWith(cc::kRateLimited, "rate_limited");
    return false;
  }
  const uint32_t retry_after_ms = verdict.retry_after_ms;
  std::string what = absl::StrCat(
      "over ", options_.max_messages_per_second, " frames per second; this ",
      frame != nullptr ? Sv(protocol::FrameTypeName(*frame)) : "frame", " was dropped");
  // The refusal names what it refuses: the call's messageId, or the channel.
  std::string message_id = frame != nullptr ? std::string(protocol::MessageIdOf(*frame)) : "";
  if (frame != nullptr && frame->kind_case() == Frame::kSubscribe) {
    metrics_->subscriptions_refused.fetch_add(1, std::memory_order_relaxed);
    const std::string& channel = frame->subscribe().channel();
    SendError(v1::ERROR_CATEGORY_RATE_LIMITED, absl::StrCat("channel ", channel, ": ", what),
              "channel", "", retry_after_ms);
    SendChannelState(channel, /*subscribed=*/false, nullptr, std::nullopt);
    return false;
  }
  SendError(v1::ERROR_CATEGORY_RATE_LIMITED, std::move(what), "", std::move(message_id),
            retry_after_ms);
  return false;
}

void Session::SetIdentity(std::optional<auth::Identity> identity) {
  identity_ = std::move(identity);
  {
    absl::MutexLock lock(&stats_->mu);
    stats_->user = identity_.has_value() ? identity_->user_id : "";
  }
  {
    absl::MutexLock lock(&claim_mu_);
    claim_user_ = identity_.has_value() ? identity_->user_id : "";
  }
  transport_->CancelTimer(SessionTimer::kAuthExpiry);
  if (identity_.has_value() && identity_->expires_at != absl::InfiniteFuture()) {
    transport_->ArmTimer(SessionTimer::kAuthExpiry, identity_->expires_at - clock_->Now());
  }
}

void Session::HandleRefresh(const v1::Refresh& refresh) {
  if (options_.auth_checker != nullptr) {
    SendError(v1::ERROR_CATEGORY_INVALID_ARGUMENT,
              "refresh is not supported with an external authentication service; reconnect",
              "token");
    return;
  }
  if (options_.jwt == nullptr) return;  // no authentication: nothing to refresh
  absl::StatusOr<auth::Identity> verified = options_.jwt->Verify(refresh.token(), clock_->Now());
  if (!verified.ok()) {
    metrics_->auth_failures.fetch_add(1, std::memory_order_relaxed);
    SendError(v1::ERROR_CATEGORY_AUTHENTICATION_FAILED,
              absl::StrCat("refresh refused: ", std::string(verified.status().message())), "token");
    return;
  }
  if (identity_.has_value() && verified->user_id != identity_->user_id) {
    metrics_->auth_failures.fetch_add(1, std::memory_order_relaxed);
    SendError(v1::ERROR_CATEGORY_AUTHENTICATION_FAILED,
              "refresh refused: the token is for another user", "token");
    return;
  }
  SetIdentity(*std::move(verified));
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
    case SessionTimer::kBatch:
      FlushBatch();
      return;
    case SessionTimer::kAuthExpiry:
      if (state_ != State::kConfirmed || !identity_.has_value()) return;
      if (clock_->Now() < identity_->expires_at) {
        transport_->ArmTimer(SessionTimer::kAuthExpiry, identity_->expires_at - clock_->Now());
        return;
      }
      metrics_->auth_failures.fetch_add(1, std::memory_order_relaxed);
      SendError(v1::ERROR_CATEGORY_AUTHENTICATION_FAILED,
                "the token expired; reconnect with a new one or send refresh before expiry",
                "token");
      resumable_close_ = false;
      CloseWith(cc::kUnauthenticated, "token_expired");
      return;
    case SessionTimer::kGrace: {
      if (state_ != State::kDetached) return;
      {
        absl::MutexLock lock(&claim_mu_);
        if (claimed_) return;  // a resume is on its way
        claimable_ = false;
      }
      metrics_->sessions_expired.fetch_add(1, std::memory_order_relaxed);
      End();
      return;
    }
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

void Session::Drain() {
  if (state_ == State::kDetached) {
    End();
    return;
  }
  if (state_ == State::kPending) {
    Shutdown();
    return;
  }
  if (state_ != State::kConfirmed) return;
  draining_ = true;
  FinishDrainIfIdle();
}

void Session::FinishDrainIfIdle() {
  if (!draining_ || state_ != State::kConfirmed || !calls_.empty()) return;
  Frame frame =
      ErrorFrame(v1::ERROR_CATEGORY_SERVER_SHUTDOWN,
                 "the bridge is shutting down; reconnect to another instance", "", "",
                 static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.drain_retry_after)));
  frame.mutable_error()->set_retryable(true);  // the session's calls may go to another instance
  metrics_->CountErrorFrame(v1::ERROR_CATEGORY_SERVER_SHUTDOWN);
  SendFrame(frame);
  resumable_close_ = false;
  CloseWith(cc::kGoingAway, "server_shutdown");
}

void Session::Shutdown() {
  if (state_ == State::kPending || state_ == State::kConfirmed) {
    resumable_close_ = false;
    CloseWith(cc::kGoingAway, "server_shutdown");
  } else if (state_ == State::kDetached) {
    End();
  }
}

void Session::OnClosed(bool client_ended) {
  if (state_ == State::kClosed || state_ == State::kDetached) return;
  const bool keep = ((state_ == State::kConfirmed && !client_ended) ||
                     (state_ == State::kClosing && resumable_close_)) &&
                    !conversation_id_.empty() && options_.session_grace > absl::ZeroDuration() &&
                    !resume_lost_;
  if (!keep) {
    End();
    return;
  }
  state_ = State::kDetached;
  metrics_->sessions_detached.fetch_add(1, std::memory_order_relaxed);
  transport_->CancelTimer(SessionTimer::kHandshake);
  transport_->CancelTimer(SessionTimer::kHeartbeat);
  DropBatch();  // every one of them is held for the resume
  room_asked_ = false;
  transport_->ArmTimer(SessionTimer::kGrace, options_.session_grace);
}

void Session::End() {
  if (state_ == State::kClosed && released_) return;
  state_ = State::kClosed;
  EndClaims();
  for (int t = 0; t < kSessionTimerCount; ++t) {
    transport_->CancelTimer(static_cast<SessionTimer>(t));
  }
  CancelAllCalls();
  LeaveNode();
  resume_buffer_.Clear();
  batcher_.Clear();
  released_ = true;
  transport_->Release();  // may destroy this session: nothing after it
}

void Session::EndClaims() {
  absl::MutexLock lock(&claim_mu_);
  claimable_ = false;
}

void Session::HoldForResume(uint64_t seq, const std::string& data) {
  if (options_.session_grace <= absl::ZeroDuration()) return;
  absl::MutexLock lock(&claim_mu_);
  // A claim pins the frames after its lastSeq until Reattach replays them.
  const bool dropped =
      resume_buffer_.Hold(seq, data, clock_->Monotonic(), claimed_ ? claim_last_seq_ : UINT64_MAX);
  last_sent_seq_ = seq;
  first_held_seq_ = resume_buffer_.FirstSeqOr(seq + 1);
  // Unacknowledged frames dropped while no connection could receive them: the session can no
  // longer be resumed exactly.
  if (dropped && state_ == State::kDetached && !claimed_) {
    resume_lost_ = true;
    claimable_ = false;
  }
}

void Session::TrimResumeBuffer(uint64_t acked_seq) {
  absl::MutexLock lock(&claim_mu_);
  // An ack (from the old connection, after a claim) never takes what the claim will replay.
  if (claimed_) acked_seq = std::min(acked_seq, claim_last_seq_);
  resume_buffer_.Trim(acked_seq);
  first_held_seq_ = resume_buffer_.FirstSeqOr(last_sent_seq_ + 1);
}

std::optional<std::string> Session::Seal(Frame& frame, const std::string* unsequenced) {
  const bool numbered = state_ == State::kConfirmed || state_ == State::kDetached ||
                        (state_ == State::kClosing && !conversation_id_.empty());
  if (numbered) frame.set_seq(++seq_);
  std::string data = unsequenced == nullptr ? protocol::EncodeFrame(encoding_, frame)
                     : numbered             ? protocol::WithSeq(encoding_, *unsequenced, seq_)
                                            : *unsequenced;
  if (numbered) HoldForResume(seq_, data);
  if (state_ == State::kDetached) return std::nullopt;  // held until a resume
  metrics_->frames_sent.fetch_add(1, std::memory_order_relaxed);
  metrics_->bytes_sent.fetch_add(data.size(), std::memory_order_relaxed);
  metrics_->CountFrameOut(frame.kind_case());
  stats_->frames_out.fetch_add(1, std::memory_order_relaxed);
  if (frame.has_error()) {
    absl::MutexLock lock(&stats_->mu);
    stats_->last_error = absl::StrCat(Sv(protocol::CategoryName(frame.error().category())), ": ",
                                      frame.error().message());
    stats_->last_error_at = clock_->Now();
  }
  return data;
}

void Session::SendFrame(Frame& frame, const std::string* unsequenced) {
  std::optional<std::string> data = Seal(frame, unsequenced);
  if (!data.has_value()) return;
  // connect_confirm goes out at once: the client waits for it before anything else.
  if (batcher_.enabled() && state_ == State::kConfirmed && !frame.has_connect_confirm()) {
    switch (batcher_.Add(*std::move(data))) {
      case Batcher::Added::kFirst:
        transport_->ArmTimer(SessionTimer::kBatch, options_.batch_max_delay);
        break;
      case Batcher::Added::kWaiting:
        break;
      case Batcher::Added::kFull:
        FlushBatch();
        break;
    }
    return;
  }
  FlushBatch();  // frames already waiting go first
  transport_->Send(*std::move(data), encoding_);
  CheckOutboundQueue();
}

void Session::FlushBatch() {
  if (batcher_.empty()) return;
  transport_->CancelTimer(SessionTimer::kBatch);
  Batcher::Out out = batcher_.Take(encoding_);
  if (out.frames > 1) metrics_->batches_sent.fetch_add(1, std::memory_order_relaxed);
  transport_->Send(std::move(out.data), encoding_);
  CheckOutboundQueue();
}

void Session::DropBatch() {
  transport_->CancelTimer(SessionTimer::kBatch);
  batcher_.Clear();
}

void Session::CheckOutboundQueue() {
  if (slow_consumer_posted_ || transport_->buffered_bytes() <= options_.max_outbound_queue) return;
  // Confirmed by a fresh figure, and closed from a task of its own: callers may be in the
  // middle of a call's bookkeeping.
  slow_consumer_posted_ = true;
  transport_->MeasureBuffered([this](size_t /*now*/, size_t peak) {
    if (state_ != State::kConfirmed && state_ != State::kPending) return;
    if (peak <= options_.max_outbound_queue) {
      slow_consumer_posted_ = false;  // only the estimate was over
      return;
    }
    CloseAsSlowConsumer(peak);
  });
}

void Session::CloseAsSlowConsumer(size_t waiting) {
  metrics_->slow_consumer_closes.fetch_add(1, std::memory_order_relaxed);
  metrics_->CountErrorFrame(v1::ERROR_CATEGORY_SLOW_CONSUMER);
  Frame frame = ErrorFrame(v1::ERROR_CATEGORY_SLOW_CONSUMER,
                           absl::StrCat("the client did not read what it was sent: ", waiting,
                                        " bytes waiting, at most ", options_.max_outbound_queue,
                                        "; frames not yet written were dropped"));
  std::optional<std::string> farewell = Seal(frame);
  CloseWith(cc::kSlowConsumer, "slow_consumer", std::move(farewell));
}

Frame Session::ErrorFrame(v1::ErrorCategory category, std::string message, std::string field,
                          std::string message_id, uint32_t retry_after_ms) {
  Frame frame;
  v1::Error* e = frame.mutable_error();
  e->set_message_id(std::move(message_id));
  e->set_category(category);
  e->set_retryable(protocol::IsRetryable(category));
  e->set_message(std::move(message));
  e->set_field(std::move(field));
  e->set_retry_after_ms(retry_after_ms);
  SetNow(e->mutable_timestamp());
  return frame;
}

void Session::SendError(v1::ErrorCategory category, std::string message, std::string field,
                        std::string message_id, uint32_t retry_after_ms) {
  metrics_->CountErrorFrame(category);
  Frame frame = ErrorFrame(category, std::move(message), std::move(field), std::move(message_id),
                           retry_after_ms);
  SendFrame(frame);
}

void Session::CloseWith(int code, std::string_view reason, std::optional<std::string> farewell) {
  if (farewell.has_value()) {
    DropBatch();  // dropped with the rest
  } else {
    FlushBatch();  // what was said before the close goes out before it
  }
  const bool was_confirmed = state_ == State::kConfirmed;
  state_ = State::kClosing;
  // A client closed for silence may come back and resume; anything else ends the session, and
  // from now on no new connection may claim it.
  resumable_close_ = was_confirmed && code == cc::kHeartbeatTimeout;
  if (!resumable_close_) EndClaims();
  transport_->CancelTimer(SessionTimer::kHandshake);
  transport_->CancelTimer(SessionTimer::kHeartbeat);
  if (!resumable_close_) CancelAllCalls();
  metrics_->CountCloseSent(code);
  // Closes that say something went wrong are worth a line at the default level.
  const bool routine = code == cc::kNormal || code == cc::kGoingAway;
  log::Event(routine ? log::Level::kDebug : log::Level::kInfo, "session_closed")
      .Int("code", code)
      .Str("reason", reason)
      .Str("conversation", conversation_id_)
      .Str("client", client_id_)
      .Str("user", identity_.has_value() ? identity_->user_id : "");
  if (farewell.has_value()) {
    transport_->CloseAhead(*std::move(farewell), encoding_, code, reason);
  } else {
    transport_->Close(code, reason);
  }
}

void Session::SetNow(google::protobuf::Timestamp* ts) {
  // Millisecond precision, as docs/protocol.md writes timestamps.
  const int64_t millis = absl::ToUnixMillis(clock_->Now());
  ts->set_seconds(millis / 1000);
  ts->set_nanos(static_cast<int32_t>(millis % 1000) * 1000000);
}

}  // namespace bridge::session
