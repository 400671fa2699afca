// The state machine behind Client (client.h), for the client's own files only. One class with
// one mutex: every method but the public entry points and the transport's events runs with
// `mu_` held. Its definitions live by section:
//   client_connection.cc  configuration, session life, transport events, connecting, losing a
//                         connection and reconnecting, heartbeat and acks, timers, state
//   client_frames.cc      sending and queueing, frames from the server, confirm and resume
//   client_calls.cc       calls: start, stream frames, cancel, outcomes
//   client_channels.cc    subscriptions: subscribe, unsubscribe, channel frames, publications
//   client_outcomes.cc    the pure mappings: error frames, categories and HTTP statuses to
//                         outcomes and losses
#ifndef BRIDGE_CLIENT_CLIENT_IMPL_H_
#define BRIDGE_CLIENT_CLIENT_IMPL_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/client/client.h"
#include "bridge/protocol/error_table.h"
#include "proto/bridge/v1/frame.pb.h"

namespace bridge::client::internal {

namespace cc = protocol::close_code;
using v1::Frame;

inline constexpr std::string_view kProtocolVersion = "1";
inline constexpr absl::Duration kDefaultHeartbeatInterval = absl::Seconds(30);

absl::StatusCode StatusCodeFor(ErrorCategory category);

// An outcome the client decides itself (no frame from the server behind it).
CallOutcome LocalOutcome(ErrorCategory category, bool retryable, std::string_view message);

CallOutcome OutcomeOfError(const v1::Error& e);

SessionError SessionErrorOf(const v1::Error& e);

std::map<std::string, std::string> ToMap(const google::protobuf::Map<std::string, std::string>& m);

// A payload of a JSON client must be one JSON value: the frame carries it verbatim.
absl::Status CheckPayload(protocol::Encoding encoding, const std::string& payload);

// What the client does after a connection ends.
struct Loss {
  ErrorCategory category = v1::ERROR_CATEGORY_UNSPECIFIED;
  bool reconnect = false;
  absl::Duration floor;  // the least delay before reconnecting
  int code = cc::kAbnormal;
  std::string reason;
};

// A refused upgrade, by its HTTP status.
Loss LossOfHttpStatus(int status);

class ClientImpl : public TransportEvents, public std::enable_shared_from_this<ClientImpl> {
 public:
  ClientImpl(ClientOptions options, ClientRuntime runtime);

  // ---- Configuration ----

  void SetHandlers(ClientHandlers handlers);
  void AddFrameHandler(Frame::KindCase kind, std::function<void(const Frame&)> handler);

  // ---- Session life ----

  void Connect();
  void Close(bool wait_for_server);

  // ---- Calls ----

  absl::StatusOr<std::shared_ptr<CallHandle>> StartCall(std::string_view method,
                                                        std::string payload, CallOptions options,
                                                        CallHandlers handlers);
  absl::Status StreamSend(const std::string& id, std::string payload);
  absl::Status StreamEnd(const std::string& id);
  absl::Status CancelCall(const std::string& id);

  // ---- Channels ----

  absl::Status Subscribe(std::string channel, std::string params, SubscriptionHandlers handlers,
                         std::optional<StreamPosition> since);
  absl::Status Unsubscribe(const std::string& channel);
  absl::Status Refresh(std::string token);

  // ---- Observers ----

  State state() const;
  ErrorCategory last_error() const;
  std::string conversation_id() const;
  uint64_t last_seq() const;
  ClientStats stats() const;

  // ---- TransportEvents ----

  void OnTransportOpen(uint64_t id, std::string subprotocol) override;
  void OnTransportMessage(uint64_t id, std::string data, bool binary) override;
  void OnTransportClosed(uint64_t id, TransportClose close) override;

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

  absl::Status CheckAccepting() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Sends `frame` now when the session is confirmed (the queue is then empty), else queues it.
  absl::Status SendOrQueue(const Frame& frame, const std::string& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Puts a call or channel frame on the wire, keeping what a resend or a resubscribe needs.
  void Transmit(Frame::KindCase kind, const std::string& key, std::string data)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Control frames (connect, ping, ack, refresh) skip the queue.
  void SendNow(const Frame& frame) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendData(std::string data) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FlushQueue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropQueuedFramesOf(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Connections ----

  void StartAttempt() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The current connection is over: reconnect after a delay, or give up.
  void LoseConnection(Loss loss) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // No more attempts: every call and channel ends with `category`.
  void GiveUp(ErrorCategory category) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishClose(int code, std::string reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Ends every call (and channel) and empties the queue.
  void EndEverything(ErrorCategory category, std::string_view why, bool retryable = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Frames from the server ----

  void HandleFrame(Frame& frame) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // True for a frame already seen; else records its seq.
  bool IsDuplicate(uint64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleConfirm(const v1::ConnectConfirm& confirm, uint64_t seq)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // resumed: true. The server replayed what it sent; what it may never have received is a
  // `message` that got no answer.
  void ResendUnanswered() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // resumed: false. Calls sent on the old session: idempotent ones that have not answered go
  // again, the rest end with network_error. Channels are joined again.
  void RecoverAfterNewSession() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  PendingCall* AnsweredCall(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleResponse(v1::Response& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleStreamMessage(v1::StreamMessage& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleStreamEnd(const v1::StreamEnd& end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleError(const v1::Error& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailChannelRequest(SessionError error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The subscription is over: so are the channel requests made for it.
  void RemoveSubscription(std::map<std::string, Subscription>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetChannelRequest(Frame::KindCase kind, const std::string& channel)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleChannelState(Frame::KindCase kind, const v1::ChannelState& state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandlePublication(v1::Publication& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static ChannelEvent PositionOf(const std::string& channel, const Subscription& sub);

  // ---- Calls ----

  PendingCall* FindOpenCall(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

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
  void FinishCall(const std::string& id, CallOutcome outcome) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Heartbeat and acks ----

  void OnTimer(Timer timer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeAck(bool by_time) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Plumbing ----

  void ArmTimer(Timer timer, absl::Duration after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelTimer(Timer timer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetState(State to, ErrorCategory cause = v1::ERROR_CATEGORY_UNSPECIFIED)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EmitFrameHandlers(const Frame& frame) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Callbacks run on the loop, outside the lock, in the order they were emitted.
  void Emit(std::function<void()> callback) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetNow(google::protobuf::Timestamp* ts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
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

}  // namespace bridge::client::internal

#endif  // BRIDGE_CLIENT_CLIENT_IMPL_H_
