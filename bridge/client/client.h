// A client of the bridge protocol (docs/protocol.md), for C++ services that talk to the bridge over
// WebSocket, for the fault harness and for tests: the session life, calls of the four kinds,
// channel subscriptions, the heartbeat, reconnection with backoff, and resume.
//
//   ClientOptions options;
//   options.url = "ws://127.0.0.1:8080/ws";
//   WebSocketClient ws(options);  // websocket_client.h: websocketpp on an io thread of its own
//   ws->Connect();
//   CallOutcome out = ws->CallFuture("demo.v1.Echo/Say", R"({"text":"hi"})").get();
//
// Threading: every method may be called from any thread, also from inside a callback. Every
// callback (ClientHandlers, frame handlers, call and channel handlers) runs on the client's
// EventLoop thread, one at a time, in the order the events happened. A callback must not block
// on the client (waiting on a CallFuture inside one never returns).
//
// States: kIdle -Connect-> kConnecting -ws open-> kPending -connect_confirm-> kConfirmed.
// A lost connection goes to kDisconnected, then kReconnecting (a backoff delay, then
// kConnecting again) or, for a terminal category or once the attempts are used up, kError.
// Close() ends in kClosed.
//
// Sending: frames made while the session is not confirmed (calls, stream sends, cancels,
// subscriptions) are queued and go out in order once it is. The queue is bounded
// (max_queued_frames, max_queued_bytes); a send that does not fit is refused with
// RESOURCE_EXHAUSTED to the caller, never dropped.
//
// Failures: every close code and error frame is categorized by the shared error table
// (bridge/protocol/error_table.h). Terminal categories (authentication_failed,
// permission_denied, protocol_error, message_too_big, limit_exceeded, the client's own normal
// closure) stop at once; the others reconnect after
// BackoffDelay(attempt, random, floor = max(retryAfterMs, the table's least delay)).
//
// Resume and exactly-once outcomes. The client tracks the highest `seq` received, drops any
// frame whose seq is not above it, and acks it every ack_interval (or every ack_every_frames
// frames) so the server can trim its resume buffer. After a reconnect it sends `connect` with
// `resume {conversationId, lastSeq}`:
//   - resumed: true  -> the server has replayed what was missed; every call whose `message`
//     went out but got no answer yet is sent again with the same messageId (the server
//     dedups), and subscriptions stand.
//   - resumed: false -> a new session; the outcome of a call in flight on the old one is
//     unknown. Each such call gets exactly one outcome: an error of category network_error
//     with retryable = true, unless it was marked CallOptions::idempotent and has not
//     answered yet, in which case its request frames are sent again and it goes on. Channels
//     are subscribed again with `since {offset, epoch}` when a position is known.
// Calls still queued (never sent) simply go out on the new session. stream_send, stream_end
// and cancel frames that went out on a connection that then dropped are not sent again: the
// protocol does not acknowledge client frames.
//
// Every call's outcome is delivered exactly once: a response, a stream end, an error frame,
// one of the local outcomes above, or CANCELLED when the client is closed or destroyed first.
#ifndef BRIDGE_CLIENT_CLIENT_H_
#define BRIDGE_CLIENT_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/client/backoff.h"
#include "bridge/client/event_loop.h"
#include "bridge/client/transport.h"
#include "bridge/common/clock.h"
#include "bridge/protocol/frame_codec.h"
#include "proto/bridge/v1/frame.pb.h"

namespace bridge::client {

using ::bridge::v1::ErrorCategory;

enum class State {
  kIdle,          // made, Connect not called yet
  kConnecting,    // opening the WebSocket
  kPending,       // open; `connect` sent, waiting for connect_confirm
  kConfirmed,     // the session is up
  kDisconnected,  // the connection is gone; deciding what next
  kReconnecting,  // waiting out the backoff delay before the next attempt
  kError,         // gave up: a terminal category, or every attempt failed
  kClosed,        // closed by the client (or normally by the server)
};
std::string_view StateName(State state);

struct ClientOptions {
  std::string url = "ws://127.0.0.1:8080/ws";
  std::string client_id = "cpp-client";
  // Sent in `connect` (and replaced by Refresh).
  std::string token;
  // Extra upgrade headers, e.g. {"Authorization", "Bearer ..."}.
  std::vector<std::pair<std::string, std::string>> headers;
  // kJson: payloads are JSON text. kBinary: payloads are protobuf wire bytes.
  protocol::Encoding encoding = protocol::Encoding::kJson;

  // Time from opening a connection to its connect_confirm.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Ping period; unset: connect_confirm's heartbeatIntervalMs. InfiniteDuration: no pings.
  std::optional<absl::Duration> heartbeat_interval;
  // Silence after which the connection is dead (network_error); unset: connect_confirm's
  // heartbeatTimeoutMs. InfiniteDuration: never.
  std::optional<absl::Duration> heartbeat_timeout;
  BackoffOptions reconnect;
  // Ask to resume the session after a reconnect.
  bool resume = true;
  // The JSON mapping asked for in `connect` (docs/protocol.md, "JSON mapping"): fields set here
  // replace the route's choice where the route lets the session choose. Unset: the route's.
  std::optional<v1::JsonMapping> json_mapping;

  // Bounds of the queue of frames made while not confirmed.
  size_t max_queued_frames = 1024;
  size_t max_queued_bytes = 1 << 20;

  // Acks: every ack_interval, and as soon as ack_every_frames frames are unacknowledged
  // (0: only by time). InfiniteDuration and 0: never.
  absl::Duration ack_interval = absl::Seconds(1);
  uint64_t ack_every_frames = 64;

  // How long Close waits for the server's close frame before dropping the connection.
  absl::Duration close_timeout = absl::Seconds(5);
};

// The session after connect_confirm.
struct SessionInfo {
  std::string conversation_id;
  bool resumed = false;
  absl::Duration heartbeat_interval;  // in effect (confirm or override)
  absl::Duration heartbeat_timeout;
};

// A connection that ended.
struct CloseInfo {
  int code = 0;  // 1006 when there was no close frame
  std::string reason;
  ErrorCategory category = v1::ERROR_CATEGORY_UNSPECIFIED;
  bool will_reconnect = false;
};

// An error frame without messageId (it concerns the session), or a channel's failure.
struct SessionError {
  ErrorCategory category = v1::ERROR_CATEGORY_UNSPECIFIED;
  std::string message;
  bool retryable = false;
  absl::Duration retry_after;
  std::string field;  // for protocol errors: the JSON path the server objected to
};

struct StateChange {
  State from;
  State to;
  // The category of the failure behind the change (UNSPECIFIED for none).
  ErrorCategory cause = v1::ERROR_CATEGORY_UNSPECIFIED;
};

struct ClientHandlers {
  std::function<void(const StateChange&)> on_state_change;
  std::function<void(const SessionInfo&)> on_open;
  std::function<void(const CloseInfo&)> on_close;
  std::function<void(const SessionError&)> on_error;
  // A reconnect attempt is scheduled `delay` from now.
  std::function<void(int attempt, absl::Duration delay)> on_reconnecting;
  // Every attempt failed; the client is in kError.
  std::function<void(ErrorCategory last)> on_reconnect_failed;
};

struct CallOptions {
  std::map<std::string, std::string> metadata;
  // Sent as timeoutMs; zero: the bridge's default.
  absl::Duration timeout = absl::ZeroDuration();
  // The call may run twice: after a reconnect that did not resume, it is sent again instead
  // of failing (see the header comment).
  bool idempotent = false;
  // A W3C traceparent ("00-<trace id>-<span id>-<flags>"): the call's gRPC request becomes a
  // child span of it (docs/protocol.md, "Trace context"). Sent as the call's `traceparent`
  // metadata; empty: none, or what `metadata` holds under that key.
  std::string traceparent;
};

// How a call ended. Exactly one per call.
struct CallOutcome {
  // OK, or why the call failed (the code follows the category).
  absl::Status status;
  ErrorCategory category = v1::ERROR_CATEGORY_UNSPECIFIED;
  bool retryable = false;
  absl::Duration retry_after;
  std::optional<int> grpc_code;
  // The reply of a unary or client-streaming call: JSON text (kJson) or wire bytes (kBinary).
  std::string payload;
  std::string content;
  std::map<std::string, std::string> metadata;
  std::map<std::string, std::string> trailers;
  // The stream messages of a call made with CallFuture, in order.
  std::vector<std::string> messages;

  bool ok() const { return status.ok(); }
};

struct CallHandlers {
  // One reply message of a server-streaming or bidi call.
  std::function<void(std::string payload)> on_message;
  // The outcome; called exactly once, last.
  std::function<void(CallOutcome outcome)> on_done;
};

namespace internal {
class ClientImpl;
}

// A call in progress: more request messages, the half-close, cancellation. Methods may be
// called from any thread; once the client is gone they fail with FAILED_PRECONDITION.
class CallHandle {
 public:
  CallHandle(std::weak_ptr<internal::ClientImpl> client, std::string message_id)
      : client_(std::move(client)), message_id_(std::move(message_id)) {}

  const std::string& message_id() const { return message_id_; }
  // One more request message (stream_send) on a client-streaming or bidi call.
  absl::Status Send(std::string payload);
  // The client's half-close (stream_end).
  absl::Status End();
  // Cancels the call upstream; its outcome (usually CANCELLED) follows. A call still queued
  // ends at once with CANCELLED. No-op once the call is over.
  absl::Status Cancel();

 private:
  std::weak_ptr<internal::ClientImpl> client_;
  std::string message_id_;
};

// A call of any kind read by pulling, as the JavaScript client's call objects are read with
// `for await`: Next() gives the replies in order, done() the one outcome. Made by
// Client::ServerStream, ClientStream and BidiStream; send(), end() and cancel() are the
// CallHandle's. Replies wait in the call, without bound, until Next() takes them. Next() and
// done().get() block: call them from your own threads, never from a client callback.
class StreamCall {
 public:
  StreamCall() = default;
  StreamCall(const StreamCall&) = delete;
  StreamCall& operator=(const StreamCall&) = delete;

  const std::string& message_id() const { return handle_->message_id(); }
  // One more request message; FAILED_PRECONDITION once the call is over or half-closed.
  absl::Status Send(std::string payload) { return handle_->Send(std::move(payload)); }
  // The half-close: no more request messages.
  absl::Status End() { return handle_->End(); }
  // Cancels the call upstream; its outcome (CANCELLED) follows.
  absl::Status Cancel() { return handle_->Cancel(); }

  // The next reply message; std::nullopt once the call is over and every reply has been taken
  // (done() is then ready); DEADLINE_EXCEEDED if none came within `timeout`.
  absl::StatusOr<std::optional<std::string>> Next(
      absl::Duration timeout = absl::InfiniteDuration());
  // The call's outcome: the reply of a unary or client-streaming call in `payload`, the status
  // and trailers of a streaming one. Its `messages` are empty: replies are Next()'s.
  std::shared_future<CallOutcome> done() const { return done_; }

 private:
  friend class Client;
  // The handlers that feed this call; on the client's loop thread.
  CallHandlers Feed(std::shared_ptr<StreamCall> self);

  std::shared_ptr<CallHandle> handle_;
  std::promise<CallOutcome> outcome_;
  std::shared_future<CallOutcome> done_ = outcome_.get_future().share();
  absl::Mutex mu_;
  std::deque<std::string> replies_ ABSL_GUARDED_BY(mu_);
  bool over_ ABSL_GUARDED_BY(mu_) = false;
};

// A channel's state (subscribed, unsubscribed).
struct ChannelEvent {
  std::string channel;
  std::optional<uint64_t> offset;
  std::string epoch;
  bool recovered = false;
};

// A position in a channel's stream: the offset of a publication and the stream's epoch, as
// on_subscribed and on_publication report them.
struct StreamPosition {
  uint64_t offset = 0;
  std::string epoch;
};

struct Publication {
  std::string channel;
  uint64_t offset = 0;
  std::string epoch;
  std::string data;
};

struct SubscriptionHandlers {
  std::function<void(const ChannelEvent&)> on_subscribed;
  std::function<void(const Publication&)> on_publication;
  // The subscription is over (the server's unsubscribed, or the client closed).
  std::function<void(const ChannelEvent&)> on_unsubscribed;
  // The subscription failed and is over. The protocol's error frames for channels carry no
  // channel: an error whose field is "channel" is matched to the oldest channel request still
  // waiting for its answer, as the server answers in order.
  std::function<void(const SessionError&)> on_error;
};

// Counters, for tests and dashboards.
struct ClientStats {
  uint64_t frames_sent = 0;
  uint64_t frames_received = 0;
  uint64_t duplicates_dropped = 0;  // frames with seq <= the last seq received
  uint64_t unknown_frames = 0;      // frame types this client does not know
  uint64_t pings_sent = 0;
  uint64_t pongs_received = 0;
  uint64_t acks_sent = 0;
  uint64_t heartbeat_timeouts = 0;
  uint64_t queue_overflows = 0;
  uint64_t calls_resent = 0;
  uint64_t calls_lost = 0;  // failed with network_error after a session was not resumed
  uint64_t reconnect_attempts = 0;
  uint64_t sessions_confirmed = 0;
  uint64_t sessions_resumed = 0;
};

// What a client runs on. Everything must outlive the client, and the transport must deliver
// no event once the client is destroyed: stop the loop's thread first (WebSocketClient does).
struct ClientRuntime {
  EventLoop* loop = nullptr;
  Transport* transport = nullptr;
  Clock* clock = RealClock::Get();
  // Draws in [0, 1) for jitter; empty: a seeded absl::BitGen.
  std::function<double()> random;
};

class Client {
 public:
  Client(ClientOptions options, ClientRuntime runtime);
  // Ends the session without waiting (see Shutdown).
  ~Client();

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Set before Connect.
  void set_handlers(ClientHandlers handlers);
  // Calls `handler` with every server frame of `kind` after de-duplication, before the client
  // acts on it. Several handlers per kind run in the order they were added.
  void OnFrame(v1::Frame::KindCase kind, std::function<void(const v1::Frame&)> handler);

  // Starts connecting. No-op unless kIdle.
  void Connect();
  // Normal closure by the client: close 1000, no reconnect. Calls in flight end with
  // CANCELLED, channels with on_unsubscribed. Ends in kClosed once the server answers (or
  // close_timeout passes).
  void Close();
  // As Close, without waiting for the server: kClosed at once. The destructor calls it.
  void Shutdown();

  // Starts a call of any kind: `method` is a gRPC full method name, `payload` the (first)
  // request (JSON text, or wire bytes on a kBinary client; empty: none). Errors: INVALID_ARGUMENT
  // (payload that is not JSON), RESOURCE_EXHAUSTED (queue full), FAILED_PRECONDITION (closed or
  // given up). On error no handler is ever called.
  absl::StatusOr<std::shared_ptr<CallHandle>> Call(std::string_view method, std::string payload,
                                                   CallOptions options, CallHandlers handlers);
  // Call, with the outcome (and any stream messages) in a future. A refused call's future is
  // ready at once with the refusal as its status.
  std::future<CallOutcome> CallFuture(std::string_view method, std::string payload,
                                      CallOptions options = {});
  // The pull form of Call (StreamCall), named by the call's kind as the JavaScript client's
  // serverStream, clientStream and bidiStream are. `first`: the first request message, sent with
  // the call (empty: none). Errors: those of Call.
  absl::StatusOr<std::shared_ptr<StreamCall>> ServerStream(std::string_view method,
                                                           std::string payload,
                                                           CallOptions options = {});
  absl::StatusOr<std::shared_ptr<StreamCall>> ClientStream(std::string_view method,
                                                           CallOptions options = {},
                                                           std::string first = "");
  absl::StatusOr<std::shared_ptr<StreamCall>> BidiStream(std::string_view method,
                                                         CallOptions options = {},
                                                         std::string first = "");

  // Joins `channel`; `params` is JSON (or wire bytes), empty for none. Errors: ALREADY_EXISTS,
  // and those of Call.
  absl::Status Subscribe(std::string channel, std::string params, SubscriptionHandlers handlers);
  // Joins `channel` from `since`: the publications after it are replayed from the channel's
  // history before new ones (on_subscribed says `recovered`: false when they could not all be
  // replayed, or the epoch differs; the client then refetches its state). Rejoins after a
  // reconnect go on from the last position seen, as for Subscribe.
  absl::Status Subscribe(std::string channel, std::string params, SubscriptionHandlers handlers,
                         StreamPosition since);
  // Leaves `channel`; on_unsubscribed follows. NOT_FOUND when not subscribed.
  absl::Status Unsubscribe(const std::string& channel);
  // Sends a new token (`refresh`); later connects use it too.
  absl::Status Refresh(std::string token);

  State state() const;
  // The category of the last failure (UNSPECIFIED before any).
  ErrorCategory last_error() const;
  std::string conversation_id() const;
  // The highest seq received in the current conversation.
  uint64_t last_seq() const;
  ClientStats stats() const;

 private:
  std::shared_ptr<internal::ClientImpl> impl_;
};

}  // namespace bridge::client

#endif  // BRIDGE_CLIENT_CLIENT_H_
