#include "bridge/client/client.h"

#include <algorithm>
#include <array>
#include <deque>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/common/strings.h"
#include "bridge/protocol/error_table.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

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

namespace internal {
namespace {

namespace cc = protocol::close_code;
using v1::Frame;

constexpr std::string_view kProtocolVersion = "1";
constexpr absl::Duration kDefaultHeartbeatInterval = absl::Seconds(30);

// Debian's Abseil has its own string_view type.

absl::StatusCode StatusCodeFor(ErrorCategory category) {
  switch (category) {
    case v1::ERROR_CATEGORY_NETWORK_ERROR:
    case v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE:
    case v1::ERROR_CATEGORY_SLOW_CONSUMER:
    case v1::ERROR_CATEGORY_SERVER_SHUTDOWN:
      return absl::StatusCode::kUnavailable;
    case v1::ERROR_CATEGORY_TIMEOUT:
      return absl::StatusCode::kDeadlineExceeded;
    case v1::ERROR_CATEGORY_RATE_LIMITED:
    case v1::ERROR_CATEGORY_LIMIT_EXCEEDED:
      return absl::StatusCode::kResourceExhausted;
    case v1::ERROR_CATEGORY_INTERNAL:
      return absl::StatusCode::kInternal;
    case v1::ERROR_CATEGORY_AUTHENTICATION_FAILED:
      return absl::StatusCode::kUnauthenticated;
    case v1::ERROR_CATEGORY_PERMISSION_DENIED:
      return absl::StatusCode::kPermissionDenied;
    case v1::ERROR_CATEGORY_PROTOCOL_ERROR:
    case v1::ERROR_CATEGORY_INVALID_ARGUMENT:
      return absl::StatusCode::kInvalidArgument;
    case v1::ERROR_CATEGORY_NOT_FOUND:
      return absl::StatusCode::kNotFound;
    case v1::ERROR_CATEGORY_MESSAGE_TOO_BIG:
      return absl::StatusCode::kOutOfRange;
    case v1::ERROR_CATEGORY_CANCELLED:
    case v1::ERROR_CATEGORY_NORMAL_CLOSURE:
      return absl::StatusCode::kCancelled;
    default:
      return absl::StatusCode::kUnknown;
  }
}

// An outcome the client decides itself (no frame from the server behind it).
CallOutcome LocalOutcome(ErrorCategory category, bool retryable, std::string_view message) {
  CallOutcome outcome;
  outcome.category = category;
  outcome.retryable = retryable;
  outcome.status =
      absl::Status(StatusCodeFor(category),
                   absl::StrCat(Sv(protocol::CategoryName(category)), ": ", Sv(message)));
  return outcome;
}

CallOutcome OutcomeOfError(const v1::Error& e) {
  CallOutcome outcome;
  outcome.category = e.category();
  outcome.retryable = e.has_retryable() ? e.retryable() : protocol::IsRetryable(e.category());
  outcome.retry_after = absl::Milliseconds(e.retry_after_ms());
  if (e.has_grpc_code()) outcome.grpc_code = e.grpc_code();
  outcome.status =
      absl::Status(StatusCodeFor(e.category()),
                   absl::StrCat(Sv(protocol::CategoryName(e.category())), ": ", e.message()));
  return outcome;
}

SessionError SessionErrorOf(const v1::Error& e) {
  SessionError error;
  error.category = e.category();
  error.message = e.message();
  error.retryable = e.has_retryable() ? e.retryable() : protocol::IsRetryable(e.category());
  error.retry_after = absl::Milliseconds(e.retry_after_ms());
  error.field = e.field();
  return error;
}

std::map<std::string, std::string> ToMap(const google::protobuf::Map<std::string, std::string>& m) {
  return std::map<std::string, std::string>(m.begin(), m.end());
}

// A payload of a JSON client must be one JSON value: the frame carries it verbatim.
absl::Status CheckPayload(protocol::Encoding encoding, const std::string& payload) {
  if (encoding != protocol::Encoding::kJson || payload.empty()) return absl::OkStatus();
  google::protobuf::Value value;
  if (!google::protobuf::util::JsonStringToMessage(payload, &value).ok()) {
    return absl::InvalidArgumentError("payload is not a JSON value");
  }
  return absl::OkStatus();
}

// What the client does after a connection ends.
struct Loss {
  ErrorCategory category = v1::ERROR_CATEGORY_UNSPECIFIED;
  bool reconnect = false;
  absl::Duration floor;  // the least delay before reconnecting
  int code = cc::kAbnormal;
  std::string reason;
};

// A refused upgrade, by its HTTP status.
Loss LossOfHttpStatus(int status) {
  Loss loss;
  loss.reason = absl::StrCat("HTTP ", status);
  if (status == 401) {
    loss.category = v1::ERROR_CATEGORY_AUTHENTICATION_FAILED;
  } else if (status == 403) {
    loss.category = v1::ERROR_CATEGORY_PERMISSION_DENIED;
  } else if (status == 429) {
    loss.category = v1::ERROR_CATEGORY_RATE_LIMITED;
  } else if (status >= 500) {
    loss.category = v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE;
  } else {
    loss.category = v1::ERROR_CATEGORY_PROTOCOL_ERROR;  // wrong path, bad request
  }
  loss.reconnect = protocol::Info(loss.category).reconnect == protocol::Reconnect::kYes;
  return loss;
}

}  // namespace

class ClientImpl : public TransportEvents, public std::enable_shared_from_this<ClientImpl> {
 public:
  ClientImpl(ClientOptions options, ClientRuntime runtime)
      : options_(std::move(options)), runtime_(std::move(runtime)) {
    if (!runtime_.random) {
      runtime_.random = [gen = std::make_shared<absl::BitGen>()] {
        return absl::Uniform<double>(*gen, 0.0, 1.0);
      };
    }
  }

  // ---- Configuration ----

  void SetHandlers(ClientHandlers handlers) {
    absl::MutexLock lock(&mu_);
    handlers_ = std::move(handlers);
  }

  void AddFrameHandler(Frame::KindCase kind, std::function<void(const Frame&)> handler) {
    absl::MutexLock lock(&mu_);
    frame_handlers_[kind].push_back(std::move(handler));
  }

  // ---- Session life ----

  void Connect() {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kIdle) StartAttempt();
  }

  void Close(bool wait_for_server) {
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

  // ---- Calls ----

  absl::StatusOr<std::shared_ptr<CallHandle>> StartCall(std::string_view method,
                                                        std::string payload, CallOptions options,
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

  absl::Status StreamSend(const std::string& id, std::string payload) {
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

  absl::Status StreamEnd(const std::string& id) {
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

  absl::Status CancelCall(const std::string& id) {
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

  // ---- Channels ----

  absl::Status Subscribe(std::string channel, std::string params, SubscriptionHandlers handlers,
                         std::optional<StreamPosition> since) {
    if (channel.empty()) return absl::InvalidArgumentError("channel is empty");
    if (auto s = CheckPayload(options_.encoding, params); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    if (auto s = CheckAccepting(); !s.ok()) return s;
    if (subscriptions_.count(channel) > 0) {
      return absl::AlreadyExistsError(absl::StrCat("already subscribed to ", channel));
    }
    Frame frame;
    frame.mutable_subscribe()->set_channel(channel);
    frame.mutable_subscribe()->set_params(params);
    Subscription& sub = subscriptions_[channel];
    sub.params = std::move(params);
    sub.handlers = std::move(handlers);
    if (since.has_value()) {
      frame.mutable_subscribe()->mutable_since()->set_offset(since->offset);
      frame.mutable_subscribe()->mutable_since()->set_epoch(since->epoch);
      sub.has_position = true;
      sub.offset = since->offset;
      sub.epoch = std::move(since->epoch);
    }
    if (auto s = SendOrQueue(frame, channel); !s.ok()) {
      subscriptions_.erase(channel);
      return s;
    }
    return absl::OkStatus();
  }

  absl::Status Unsubscribe(const std::string& channel) {
    absl::MutexLock lock(&mu_);
    auto it = subscriptions_.find(channel);
    if (it == subscriptions_.end()) {
      return absl::NotFoundError(absl::StrCat("not subscribed to ", channel));
    }
    if (it->second.unsubscribing) return absl::OkStatus();
    Frame frame;
    frame.mutable_unsubscribe()->set_channel(channel);
    if (auto s = SendOrQueue(frame, channel); !s.ok()) return s;
    it->second.unsubscribing = true;
    return absl::OkStatus();
  }

  absl::Status Refresh(std::string token) {
    absl::MutexLock lock(&mu_);
    if (auto s = CheckAccepting(); !s.ok()) return s;
    options_.token = token;
    if (state_ != State::kConfirmed) return absl::OkStatus();  // the next connect carries it
    Frame frame;
    frame.mutable_refresh()->set_token(std::move(token));
    SendNow(frame);
    return absl::OkStatus();
  }

  // ---- Observers ----

  State state() const {
    absl::MutexLock lock(&mu_);
    return state_;
  }
  ErrorCategory last_error() const {
    absl::MutexLock lock(&mu_);
    return last_error_;
  }
  std::string conversation_id() const {
    absl::MutexLock lock(&mu_);
    return conversation_id_;
  }
  uint64_t last_seq() const {
    absl::MutexLock lock(&mu_);
    return last_seq_;
  }
  ClientStats stats() const {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

  // ---- TransportEvents ----

  void OnTransportOpen(uint64_t id, std::string subprotocol) override {
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

  void OnTransportMessage(uint64_t id, std::string data, bool binary) override {
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

  void OnTransportClosed(uint64_t id, TransportClose close) override {
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

 private:
  enum class Timer { kConnect, kPing, kLiveness, kAck, kReconnect, kClose };
  static constexpr size_t kTimerCount = 6;

  struct PendingCall {
    uint64_t order = 0;  // start order
    bool idempotent = false;
    CallHandlers handlers;
    bool sent = false;      // its `message` went out (on this or an earlier connection)
    bool answered = false;  // a frame of it arrived
    bool half_closed = false;
    bool cancel_requested = false;
    // What a resend needs while unanswered: the `message`, and for idempotent calls the
    // stream_send / stream_end frames that followed it.
    std::string message_frame;
    std::vector<std::string> later_frames;
  };

  struct Subscription {
    std::string params;
    SubscriptionHandlers handlers;
    bool sent = false;  // its `subscribe` went out
    bool unsubscribing = false;
    bool has_position = false;
    uint64_t offset = 0;
    std::string epoch;
  };

  struct Queued {
    std::string data;
    Frame::KindCase kind;
    std::string key;  // messageId or channel
  };

  // A subscribe or unsubscribe waiting for its answer.
  struct ChannelRequest {
    Frame::KindCase kind;
    std::string channel;
  };

  // ---- Sending ----

  absl::Status CheckAccepting() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (closing_ || state_ == State::kClosed) {
      return absl::FailedPreconditionError("the client is closed");
    }
    if (state_ == State::kError) {
      return absl::FailedPreconditionError(
          absl::StrCat("the client gave up: ", Sv(protocol::CategoryName(last_error_))));
    }
    return absl::OkStatus();
  }

  // Sends `frame` now when the session is confirmed (the queue is then empty), else queues it.
  absl::Status SendOrQueue(const Frame& frame, const std::string& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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

  // Puts a call or channel frame on the wire, keeping what a resend or a resubscribe needs.
  void Transmit(Frame::KindCase kind, const std::string& key, std::string data)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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

  // Control frames (connect, ping, ack, refresh) skip the queue.
  void SendNow(const Frame& frame) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    SendData(protocol::EncodeFrame(options_.encoding, frame));
  }

  void SendData(std::string data) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ++stats_.frames_sent;
    runtime_.transport->Send(conn_id_, std::move(data),
                             options_.encoding == protocol::Encoding::kBinary);
  }

  void FlushQueue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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

  void DropQueuedFramesOf(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto gone = std::remove_if(queue_.begin(), queue_.end(), [&](const Queued& q) {
      return q.key == id && q.kind != Frame::kSubscribe && q.kind != Frame::kUnsubscribe;
    });
    for (auto it = gone; it != queue_.end(); ++it) queued_bytes_ -= it->data.size();
    queue_.erase(gone, queue_.end());
  }

  // ---- Connections ----

  void StartAttempt() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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

  // The current connection is over: reconnect after a delay, or give up.
  void LoseConnection(Loss loss) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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
    const absl::Duration delay =
        BackoffDelay(options_.reconnect, attempt_, runtime_.random(), floor);
    SetState(State::kReconnecting, loss.category);
    if (handlers_.on_reconnecting) {
      Emit([h = handlers_.on_reconnecting, a = attempt_, delay] { h(a, delay); });
    }
    ArmTimer(Timer::kReconnect, delay);
  }

  // No more attempts: every call and channel ends with `category`.
  void GiveUp(ErrorCategory category) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const bool retryable =
        category == v1::ERROR_CATEGORY_NETWORK_ERROR || protocol::IsRetryable(category);
    EndEverything(category, "the connection ended and the client gave up", retryable);
    SetState(category == v1::ERROR_CATEGORY_NORMAL_CLOSURE ? State::kClosed : State::kError,
             category);
  }

  void FinishClose(int code, std::string reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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

  // Ends every call (and channel) and empties the queue.
  void EndEverything(ErrorCategory category, std::string_view why, bool retryable = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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

  // ---- Frames from the server ----

  void HandleFrame(Frame& frame) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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

  // True for a frame already seen; else records its seq.
  bool IsDuplicate(uint64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (seq == 0) return false;
    if (seq <= last_seq_) {
      ++stats_.duplicates_dropped;
      return true;
    }
    last_seq_ = seq;
    return false;
  }

  void HandleConfirm(const v1::ConnectConfirm& confirm, uint64_t seq)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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
      Emit(
          [h = handlers_.on_open, info = SessionInfo{conversation_id_, resumed, heartbeat_interval_,
                                                     heartbeat_timeout_}] { h(info); });
    }
  }

  // resumed: true. The server replayed what it sent; what it may never have received is a
  // `message` that got no answer.
  void ResendUnanswered() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const std::string& id :
         CallsInOrder([](const PendingCall& c) { return c.sent && !c.answered; })) {
      ++stats_.calls_resent;
      SendData(calls_[id].message_frame);
    }
  }

  // resumed: false. Calls sent on the old session: idempotent ones that have not answered go
  // again, the rest end with network_error. Channels are joined again.
  void RecoverAfterNewSession() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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

  PendingCall* AnsweredCall(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    PendingCall* call = FindOpenCall(id);
    if (call == nullptr) return nullptr;
    call->answered = true;
    call->message_frame.clear();
    call->later_frames.clear();
    return call;
  }

  void HandleResponse(v1::Response& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (AnsweredCall(r.message_id()) == nullptr) return;
    CallOutcome outcome;
    outcome.payload = std::move(*r.mutable_payload());
    outcome.content = std::move(*r.mutable_content());
    outcome.metadata = ToMap(r.metadata());
    outcome.trailers = ToMap(r.trailers());
    FinishCall(r.message_id(), std::move(outcome));
  }

  void HandleStreamMessage(v1::StreamMessage& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    PendingCall* call = AnsweredCall(m.message_id());
    if (call == nullptr || !call->handlers.on_message) return;
    Emit([h = call->handlers.on_message, payload = std::move(*m.mutable_payload())]() mutable {
      h(std::move(payload));
    });
  }

  void HandleStreamEnd(const v1::StreamEnd& end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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

  void HandleError(const v1::Error& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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

  void FailChannelRequest(SessionError error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const ChannelRequest request = channel_requests_.front();
    channel_requests_.pop_front();
    auto it = subscriptions_.find(request.channel);
    if (it == subscriptions_.end()) return;
    if (it->second.handlers.on_error) {
      Emit([h = it->second.handlers.on_error, error = std::move(error)] { h(error); });
    }
    RemoveSubscription(it);
  }

  // The subscription is over: so are the channel requests made for it.
  void RemoveSubscription(std::map<std::string, Subscription>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string& channel = it->first;
    channel_requests_.erase(
        std::remove_if(channel_requests_.begin(), channel_requests_.end(),
                       [&](const ChannelRequest& r) { return r.channel == channel; }),
        channel_requests_.end());
    subscriptions_.erase(it);
  }

  void ForgetChannelRequest(Frame::KindCase kind, const std::string& channel)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = std::find_if(channel_requests_.begin(), channel_requests_.end(),
                           [&](const ChannelRequest& r) {
                             return r.channel == channel &&
                                    (r.kind == Frame::kSubscribe) == (kind == Frame::kSubscribed);
                           });
    if (it != channel_requests_.end()) channel_requests_.erase(it);
  }

  void HandleChannelState(Frame::KindCase kind, const v1::ChannelState& state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ForgetChannelRequest(kind, state.channel());
    auto it = subscriptions_.find(state.channel());
    if (it == subscriptions_.end()) return;
    Subscription& sub = it->second;
    ChannelEvent event;
    event.channel = state.channel();
    if (state.has_offset()) event.offset = state.offset();
    event.epoch = state.epoch();
    event.recovered = state.recovered();
    if (kind == Frame::kSubscribed) {
      if (state.has_offset()) {
        sub.has_position = true;
        sub.offset = state.offset();
        sub.epoch = state.epoch();
      }
      if (sub.handlers.on_subscribed) Emit([h = sub.handlers.on_subscribed, event] { h(event); });
      return;
    }
    if (sub.handlers.on_unsubscribed) {
      Emit([h = sub.handlers.on_unsubscribed, event] { h(event); });
    }
    RemoveSubscription(it);
  }

  void HandlePublication(v1::Publication& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = subscriptions_.find(p.channel());
    if (it == subscriptions_.end()) return;
    Subscription& sub = it->second;
    sub.has_position = true;
    sub.offset = p.offset();
    sub.epoch = p.epoch();
    if (!sub.handlers.on_publication) return;
    Publication publication{p.channel(), p.offset(), p.epoch(), std::move(*p.mutable_data())};
    Emit([h = sub.handlers.on_publication, publication = std::move(publication)] {
      h(publication);
    });
  }

  static ChannelEvent PositionOf(const std::string& channel, const Subscription& sub) {
    ChannelEvent event;
    event.channel = channel;
    if (sub.has_position) event.offset = sub.offset;
    event.epoch = sub.epoch;
    return event;
  }

  // ---- Calls ----

  PendingCall* FindOpenCall(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = calls_.find(id);
    return it == calls_.end() ? nullptr : &it->second;
  }

  // The ids of the calls that `pred` selects, in the order they were started.
  template <typename Pred>
  std::vector<std::string> CallsInOrder(Pred pred) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<std::pair<uint64_t, std::string>> selected;
    for (const auto& [id, call] : calls_) {
      if (pred(call)) selected.emplace_back(call.order, id);
    }
    std::sort(selected.begin(), selected.end());
    std::vector<std::string> ids;
    ids.reserve(selected.size());
    for (auto& [order, id] : selected) ids.push_back(std::move(id));
    return ids;
  }

  // Delivers the outcome of call `id` (once: the call is forgotten).
  void FinishCall(const std::string& id, CallOutcome outcome) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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

  // ---- Heartbeat and acks ----

  void OnTimer(Timer timer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    switch (timer) {
      case Timer::kConnect:
        if (state_ != State::kConnecting && state_ != State::kPending) return;
        runtime_.transport->Abort(conn_id_);
        LoseConnection(Loss{state_ == State::kPending ? v1::ERROR_CATEGORY_TIMEOUT
                                                      : v1::ERROR_CATEGORY_NETWORK_ERROR,
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

  void MaybeAck(bool by_time) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (state_ != State::kConfirmed || last_seq_ <= acked_seq_) return;
    const uint64_t every = options_.ack_every_frames;
    if (!by_time && (every == 0 || last_seq_ - acked_seq_ < every)) return;
    Frame ack;
    ack.mutable_ack()->set_seq(last_seq_);
    SendNow(ack);
    acked_seq_ = last_seq_;
    ++stats_.acks_sent;
  }

  // ---- Plumbing ----

  void ArmTimer(Timer timer, absl::Duration after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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

  void CancelTimer(Timer timer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const size_t slot = static_cast<size_t>(timer);
    ++timer_generation_[slot];
    if (timer_ids_[slot] != 0) runtime_.loop->Cancel(timer_ids_[slot]);
    timer_ids_[slot] = 0;
  }

  void SetState(State to, ErrorCategory cause = v1::ERROR_CATEGORY_UNSPECIFIED)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (to == state_) return;
    const StateChange change{state_, to, cause};
    state_ = to;
    if (handlers_.on_state_change) Emit([h = handlers_.on_state_change, change] { h(change); });
  }

  void EmitFrameHandlers(const Frame& frame) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = frame_handlers_.find(frame.kind_case());
    if (it == frame_handlers_.end()) return;
    for (const auto& handler : it->second) Emit([handler, frame] { handler(frame); });
  }

  // Callbacks run on the loop, outside the lock, in the order they were emitted.
  void Emit(std::function<void()> callback) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    runtime_.loop->Post(std::move(callback));
  }

  void SetNow(google::protobuf::Timestamp* ts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int64_t millis = absl::ToUnixMillis(runtime_.clock->Now());
    ts->set_seconds(millis / 1000);
    ts->set_nanos(static_cast<int32_t>(millis % 1000) * 1000000);
  }

  mutable absl::Mutex mu_;
  ClientOptions options_ ABSL_GUARDED_BY(mu_);
  ClientRuntime runtime_;
  ClientHandlers handlers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int, std::vector<std::function<void(const Frame&)>>> frame_handlers_
      ABSL_GUARDED_BY(mu_);

  State state_ ABSL_GUARDED_BY(mu_) = State::kIdle;
  ErrorCategory last_error_ ABSL_GUARDED_BY(mu_) = v1::ERROR_CATEGORY_UNSPECIFIED;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t conn_id_ ABSL_GUARDED_BY(mu_) = 0;  // the current connection; 0: none
  uint64_t connections_opened_ ABSL_GUARDED_BY(mu_) = 0;
  int attempt_ ABSL_GUARDED_BY(mu_) = 0;  // reconnect attempts since the last confirm
  // The session error frame of the current connection, and its retryAfterMs.
  ErrorCategory session_error_ ABSL_GUARDED_BY(mu_) = v1::ERROR_CATEGORY_UNSPECIFIED;
  absl::Duration session_retry_after_ ABSL_GUARDED_BY(mu_);

  std::string conversation_id_ ABSL_GUARDED_BY(mu_);
  bool resume_requested_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t acked_seq_ ABSL_GUARDED_BY(mu_) = 0;

  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_);
  absl::Duration heartbeat_timeout_ ABSL_GUARDED_BY(mu_);
  absl::Duration last_received_ ABSL_GUARDED_BY(mu_);

  std::array<EventLoop::TimerId, kTimerCount> timer_ids_ ABSL_GUARDED_BY(mu_) = {};
  std::array<uint64_t, kTimerCount> timer_generation_ ABSL_GUARDED_BY(mu_) = {};

  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;

  uint64_t calls_started_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, PendingCall> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Subscription> subscriptions_ ABSL_GUARDED_BY(mu_);
  std::deque<ChannelRequest> channel_requests_ ABSL_GUARDED_BY(mu_);

  ClientStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal

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
