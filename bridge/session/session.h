// One client session: the handshake, the heartbeat, frame dispatch and the per-session `seq`.
//
// A Session knows nothing of sockets: it talks to its connection through `Transport`
// (server/ implements it over websocketpp; tests use a fake).
//
// Threading: every method of Session, and every Transport call it makes, runs on one strand,
// the session's (TryClaim excepted). In the server that is the strand websocketpp runs the
// session's first connection on (server/session_core.h): a client's frame is handled inside
// websocketpp's read handler, and the frames it causes go to websocketpp from there, without a
// task in between. Work from elsewhere arrives as one task per event through
// Transport::executor(): an upstream call's end (for a unary call, its headers, reply and status
// together: upstream::CallSpec::one_event), a stream's reply (already transcoded on the gRPC
// thread it arrived on), the node's deliveries, room to write (Transport::WhenBelow, told by a
// completed write). A session resumed onto another connection stays on its strand; frames then
// cross between the two (docs/performance.md, "A call's path").
//
// Steps: Start -> (OnMessage)* with `connect` first -> connect_confirm -> frames, pings, calls
// -> close (by the client, a timeout, bad input, or Shutdown) -> OnClosed, which cancels every
// call of the session upstream.
//
// Calls: `message` starts one upstream call (any of the four kinds); its replies come back as
// `response` (methods with one reply: unary and client streaming) or `stream_message`s and a
// `stream_end` (server streaming and bidi); a failure as one `error` frame. The next reply is
// read from upstream only when the connection's outbound buffer is under its bound.
#ifndef BRIDGE_SESSION_SESSION_H_
#define BRIDGE_SESSION_SESSION_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/auth/checker.h"
#include "bridge/auth/jwt_verifier.h"
#include "bridge/common/clock.h"
#include "bridge/config/defaults.h"
#include "bridge/metrics/metrics.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/pubsub/session_node.h"
#include "bridge/pubsub/subscriber.h"
#include "bridge/session/batcher.h"
#include "bridge/session/call_table.h"
#include "bridge/session/rate_limiter.h"
#include "bridge/session/resume_buffer.h"
#include "bridge/transcode/descriptor_registry.h"
#include "bridge/transcode/json_transcoder.h"
#include "bridge/upstream/trace_context.h"
#include "bridge/upstream/upstream.h"
#include "proto/bridge/v1/config.pb.h"
#include "proto/bridge/v1/frame.pb.h"

namespace bridge::session {

enum class SessionTimer {
  kHandshake = 0,   // connect is due
  kHeartbeat = 1,   // client silence check
  kGrace = 2,       // a detached session's time to be resumed is up
  kAuthExpiry = 3,  // the client's token expires
  kBatch = 4,       // a batch of outbound frames is due
};
inline constexpr int kSessionTimerCount = 5;

// Runs tasks on a session's strand. Post may be called from any thread; tasks for a
// connection that is gone are dropped, so a task may use the Session it was posted for.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void Post(std::function<void()> task) = 0;
};

// What the dashboard shows of one session. Written on the session's strand, read from any
// thread (the server's /connections), also after the session is gone.
struct SessionStats {
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> frames_out{0};
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> calls_ended{0};
  std::atomic<uint64_t> call_errors{0};
  std::atomic<int64_t> upstream_micros{0};  // over the calls ended
  mutable absl::Mutex mu;
  absl::Time started ABSL_GUARDED_BY(mu);
  std::string conversation_id ABSL_GUARDED_BY(mu);
  std::string client_id ABSL_GUARDED_BY(mu);
  std::string user ABSL_GUARDED_BY(mu);        // empty: anonymous
  std::string last_error ABSL_GUARDED_BY(mu);  // "category: message" of the last error frame
  absl::Time last_error_at ABSL_GUARDED_BY(mu);
};

// What sessions need to make calls; built once, shared by every session.
struct CallServices {
  const transcode::DescriptorRegistry* registry = nullptr;
  const transcode::JsonTranscoder* transcoder = nullptr;
  upstream::Upstream* upstream = nullptr;
};

// The connection under a session. Called on the session's strand only.
class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one WebSocket message: text for kJson, binary for kBinary.
  virtual void Send(std::string data, protocol::Encoding encoding) = 0;
  // Starts the close handshake with `code` and a short machine-readable `reason`, after every
  // message already sent.
  virtual void Close(int code, std::string_view reason) = 0;
  // Closes ahead of the messages still waiting: those not yet handed to the socket are dropped,
  // `farewell` (an encoded frame) goes out, then the close. For a client too slow to read what
  // it was sent (4002), which would otherwise see the close only after all of it.
  virtual void CloseAhead(std::string farewell, protocol::Encoding encoding, int code,
                          std::string_view reason) {
    Send(std::move(farewell), encoding);
    Close(code, reason);
  }
  // (Re)arms `timer` to call Session::OnTimer after `after`; re-arming replaces the old one.
  virtual void ArmTimer(SessionTimer timer, absl::Duration after) = 0;
  virtual void CancelTimer(SessionTimer timer) = 0;
  // The executor of this connection's strand, for work arriving from other threads.
  virtual std::shared_ptr<Executor> executor() = 0;
  // Bytes handed to Send that are not yet written to the socket, as last seen from here: it
  // may still count bytes written since, never fewer than are waiting. Cheap; for "is there
  // room?".
  virtual size_t buffered_bytes() = 0;
  // The same, read where the socket is written: `done` gets, later and on the session's strand,
  // the bytes waiting now and the most that waited right after any send on this connection.
  // For a decision a stale (high) estimate must not make: a slow-consumer close (on the peak).
  virtual void MeasureBuffered(std::function<void(size_t now, size_t peak)> done) = 0;
  // Flow control: runs `room` once, on the session's strand, as soon as fewer than `bytes` wait
  // to be written; the completed writes tell, no timer. A new request replaces the one before;
  // a connection that goes away drops it (a resume asks again).
  virtual void WhenBelow(size_t bytes, std::function<void()> room) = 0;
  // The session is over for good (closed, or its grace period ran out): the host lets go of
  // it. Called once, last.
  virtual void Release() = 0;
};

// What a session needs of the configuration, resolved once from BridgeConfig. The members start
// at the config's defaults (bridge/config/defaults.h).
struct SessionOptions {
  absl::Duration handshake_timeout = absl::Milliseconds(config::kDefaultHandshakeTimeoutMs);
  absl::Duration heartbeat_interval = absl::Milliseconds(config::kDefaultHeartbeatIntervalMs);
  absl::Duration heartbeat_timeout = 2 * heartbeat_interval;
  std::string default_method;
  absl::Duration default_call_timeout = absl::Milliseconds(config::kDefaultCallTimeoutMs);
  absl::Duration max_call_timeout = absl::Milliseconds(config::kDefaultMaxCallTimeoutMs);
  size_t max_calls = config::kDefaultMaxCallsPerSession;
  size_t max_outbound_buffer = config::kDefaultMaxOutboundBufferBytes;
  // Request metadata of one call, as HTTP/2 counts it (max_request_metadata_bytes).
  size_t max_request_metadata_bytes = config::kDefaultMaxRequestMetadataBytes;
  std::vector<std::string> forward_response_metadata;  // exact keys, or prefixes ending in '*'
  // How long a session whose connection dropped waits to be resumed (zero: not at all).
  absl::Duration session_grace = absl::Milliseconds(config::kDefaultSessionGraceMs);
  // Bounds of the resume buffer: the frames sent and not yet acknowledged.
  size_t resume_buffer_frames = config::kDefaultResumeBufferFrames;
  size_t resume_buffer_bytes = config::kDefaultResumeBufferBytes;
  absl::Duration resume_buffer_age = absl::Milliseconds(config::kDefaultResumeBufferAgeMs);
  // Per-connection message rate limit (token bucket) and the strikes before 4029.
  double max_messages_per_second = config::kDefaultMaxMessagesPerSecond;
  double message_burst = config::kDefaultMessageBurstFactor * max_messages_per_second;
  int rate_limit_strikes = config::kDefaultRateLimitStrikes;
  // Bytes waiting to be written above which the client is a slow consumer (4002).
  size_t max_outbound_queue = config::kDefaultMaxOutboundQueueBytes;
  // retryAfterMs given to clients drained at shutdown.
  absl::Duration drain_retry_after = absl::Milliseconds(config::kDefaultDrainRetryAfterMs);
  // Client authentication: tokens are checked with `jwt` when given; `auth_required` refuses
  // clients without one. No verifier: every client is anonymous.
  const auth::JwtVerifier* jwt = nullptr;
  bool auth_required = false;
  // An external check (auth.service) instead of `jwt`: every client is checked after connect.
  auth::Checker* auth_checker = nullptr;
  // Channels, users and push. Null: subscribe gets not_found, users are not counted.
  pubsub::SessionNode* node = nullptr;
  // Connections of one user (across instances sharing the broker); one more closes with 4503.
  size_t max_connections_per_user = config::kDefaultMaxConnectionsPerUser;
  // Outbound batching: up to batch_max_frames frames in one `batch`, none waiting longer than
  // batch_max_delay. batch_max_frames <= 1: off.
  size_t batch_max_frames = 0;
  absl::Duration batch_max_delay = absl::Milliseconds(config::kDefaultBatchMaxDelayMs);
  // The JSON mapping of replies by service (the routes' `json`; "*" for every other service),
  // and whether a session's connect may choose its own.
  transcode::JsonRules json_rules;
  // W3C trace context (tracing): a call with no traceparent starts a new trace; each call's
  // traceparent is returned in its final frame.
  bool start_traces = false;
  bool return_traceparent = false;
  // Random hex for span and trace ids; null: RandomHex.
  upstream::HexSource random_hex;

  static SessionOptions FromConfig(const v1::BridgeConfig& config);
};

class Session {
 public:
  enum class State {
    kPending,    // WebSocket open, waiting for `connect`
    kConfirmed,  // connect_confirm sent
    kClosing,    // the bridge started closing the connection
    kDetached,   // the connection is gone; calls go on and frames are kept for a resume
    kClosed,     // over for good
  };

  // Produces conversation ids; must be unique within the process.
  using IdGenerator = std::function<std::string()>;

  // `services` may be empty (no calls: every call gets not_found). `upgrade_metadata` is what
  // the upgrade request carried that upstreams should see.
  Session(const SessionOptions& options, protocol::Encoding encoding, Transport* transport,
          Clock* clock, Metrics* metrics, IdGenerator new_conversation_id,
          CallServices services = {}, upstream::Metadata upgrade_metadata = {});
  ~Session();

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The WebSocket is open.
  void Start();
  // One WebSocket message from the client; `binary` tells its opcode.
  void OnMessage(std::string_view data, bool binary);
  // A WebSocket ping control frame (websocketpp answers it).
  void OnControlPing();
  void OnTimer(SessionTimer timer);
  // The bridge is draining: no new calls; once the running ones have finished, an `error`
  // server_shutdown with retryAfterMs, then close 1001.
  void Drain();
  // The bridge is stopping now: close with 1001 (running calls are cancelled).
  void Shutdown();
  // The connection is gone. `client_ended` when the client closed it on purpose (close code
  // 1000 or 1001): the session ends. Otherwise (a drop, or the bridge's heartbeat close) a
  // confirmed session is kept for session_grace, detached, for a resume; others end.
  void OnClosed(bool client_ended = true);

  // Resume. TryClaim may be called from any thread by a new connection whose `connect` asks to
  // resume this session after `last_seq`: true when this session can replay everything after
  // it in `encoding`, and then no other connection can claim it. The host then attaches the
  // new connection to this session's transport and calls Reattach on the session's strand.
  // `user_id` is the resuming client's ("" when anonymous): it must be this session's.
  bool TryClaim(protocol::Encoding encoding, uint64_t last_seq, const std::string& user_id);
  // Replays every held frame after the claimed last_seq, in order, then confirms with
  // resumed: true. `identity` is what the new connection's token says, if it had one.
  void Reattach(const v1::Connect& connect, std::optional<auth::Identity> identity);
  // The token a connection brought at the upgrade (header or subprotocol), for `connect`.
  void set_upgrade_token(std::string token) { upgrade_token_ = std::move(token); }
  // What an external check (auth_checker) is told of the upgrade: headers, address, resource.
  void set_upgrade_request(auth::CheckInput request) { upgrade_request_ = std::move(request); }
  // Frames held for a resume, and their bytes.
  size_t resume_buffer_frames() const { return resume_buffer_.frames(); }
  size_t resume_buffer_bytes() const { return resume_buffer_.bytes(); }

  State state() const { return state_; }
  const std::string& conversation_id() const { return conversation_id_; }
  protocol::Encoding encoding() const { return encoding_; }
  uint64_t last_seq() const { return seq_; }

  // A random conversation id: "s-" and 32 hex digits.
  static std::string RandomConversationId();

  // Calls in flight.
  size_t active_calls() const { return calls_.size(); }
  // Shared with whoever shows it; never null.
  const std::shared_ptr<SessionStats>& stats() const { return stats_; }

  // Asks the host to resume session `conversation_id` on this connection (see TryClaim). True
  // when the host took the connection over; this session then ends without a word.
  using ResumeHook = std::function<bool(const std::string& conversation_id, uint64_t last_seq,
                                        const v1::Connect& connect,
                                        const std::optional<auth::Identity>& identity)>;
  void set_resume_hook(ResumeHook hook) { resume_hook_ = std::move(hook); }
  // Runs on the strand when a fresh session is confirmed (its conversation id known).
  void set_confirm_hook(std::function<void()> hook) { confirm_hook_ = std::move(hook); }

  // Events of upstream calls, posted to the strand by the calls' listeners: a stream's reply,
  // already in this session's encoding (or why it could not be), and a call's end (for a method
  // with one reply, with its headers and reply: upstream::CallSpec::one_event).
  void OnCallMessage(const std::string& message_id, uint64_t call_id,
                     absl::StatusOr<std::string> payload);
  void OnCallFinish(const std::string& message_id, uint64_t call_id, upstream::CallResult result);

  // Channels: what the node delivers, on the strand (through Link).
  void OnPublication(const pubsub::Publication& publication);
  void OnPush(const std::string& data);
  void OnDisconnectOrder(int code, const std::string& reason);
  void OnUnsubscribedByNode(const std::string& channel);
  void OnCheckPosition(const std::string& channel);
  // Channels this session is in (subscribed or being subscribed).
  size_t channel_count() const { return channels_.size(); }

 private:
  // The session as the node's Subscriber: posts to the strand.
  class Link;
  struct ChannelSub {
    bool pending = true;  // subscribe sent to the node, not yet answered
    uint64_t offset = 0;  // of the last publication delivered
    std::string epoch;
    bool since_asked = false;  // the subscribe had `since`: its answer says `recovered`
    // Fetching what a gap (or an interrupted delivery) may have lost; `pending` holds the rest.
    bool catching_up = false;
    std::vector<std::shared_ptr<const pubsub::Publication>> held;  // arrived while pending
  };

  // Why a client's input was refused: for its error frame.
  struct Refusal {
    std::string message;
    std::string field;  // JSON path of the offending field
  };
  // Appends the `metadata` of `m` to `to` as gRPC takes it (-bin values base64-decoded), or
  // says which entry breaks the rules of bridge/upstream/metadata.h.
  std::optional<Refusal> AddClientMetadata(const v1::Message& m, upstream::Metadata* to) const;
  // Takes the trace context out of `metadata` (the message's) or else from the upgrade, and
  // puts the call's own in: a child span, or a new trace (start_traces). `traceparent` gets
  // the call's, or stays empty when it has none.
  std::optional<Refusal> TraceCall(upstream::Metadata* metadata, std::string* traceparent);
  // The upgrade request's trace context, checked once.
  void TakeUpgradeTrace();
  // The JSON mapping of `method`'s replies in this session: its route's, or the session's own
  // where the route lets it choose.
  transcode::JsonMapping JsonMappingFor(const transcode::MethodInfo& method) const;
  // The call's final frame, as the client sees it and as a resend repeats it.
  void FinishWith(const ActiveCall& call, const std::string& message_id, int code, v1::Frame frame);

  void Dispatch(v1::Frame& frame);
  void HandleConnect(const v1::Connect& connect);
  // The rest of the handshake once the client is known (or anonymous).
  void FinishConnect(const v1::Connect& connect, std::optional<auth::Identity> identity);
  void OnAuthChecked(const v1::Connect& connect, auth::CheckOutcome outcome);
  void HandleCallFrame(const v1::Frame& frame);
  void StartCall(const v1::Message& m);
  void FinishCall(const std::string& message_id, uint64_t call_id, upstream::CallResult result);
  void SendToCall(const v1::StreamSend& m);
  void RequestReadWhenRoom(ActiveCall& call);
  // Reads paused for room go on when there is room; otherwise room is asked for (WhenBelow).
  void ResumeReads();
  void AskForRoom();
  void CancelAllCalls();
  // Request payload (raw JSON text or wire bytes by encoding) -> wire bytes.
  absl::StatusOr<std::string> RequestBytes(const transcode::MethodInfo& method,
                                           const std::string& payload);
  // Reply wire bytes -> the payload field of a frame in this session's encoding.
  absl::StatusOr<std::string> ReplyPayload(const ActiveCall& call, std::string bytes);
  void FillMetadata(const upstream::Metadata& from,
                    google::protobuf::Map<std::string, std::string>* to) const;

  // `unsequenced`, when given, is `frame` already encoded without its seq (a fan-out's shared
  // encoding): only the seq is added.
  void SendFrame(v1::Frame& frame, const std::string* unsequenced = nullptr);
  // Numbers `frame` (once confirmed), encodes it, holds it for a resume and counts it: the
  // bytes to send, or nothing while detached (held until a resume).
  std::optional<std::string> Seal(v1::Frame& frame, const std::string* unsequenced = nullptr);
  v1::Frame ErrorFrame(v1::ErrorCategory category, std::string message, std::string field = "",
                       std::string message_id = "", uint32_t retry_after_ms = 0);
  // Closes a client too slow to read (4002): error slow_consumer, then the close, ahead of
  // what is still waiting.
  void CloseAsSlowConsumer(size_t waiting);
  // No new connection may claim this session (TryClaim) from now on.
  void EndClaims();
  // Keeps a sent frame for a resume, within the buffer's bounds.
  void HoldForResume(uint64_t seq, const std::string& data);
  void TrimResumeBuffer(uint64_t acked_seq);
  // The end: cancel everything and let the host go.
  void End();
  void SendConfirm(bool resumed);
  void SendError(v1::ErrorCategory category, std::string message, std::string field = "",
                 std::string message_id = "", uint32_t retry_after_ms = 0);
  // Closes with `code`; `farewell` (an encoded frame), when given, goes ahead of what is still
  // waiting to be written, which is dropped (Transport::CloseAhead).
  void CloseWith(int code, std::string_view reason,
                 std::optional<std::string> farewell = std::nullopt);
  void SetNow(google::protobuf::Timestamp* ts);

  const SessionOptions& options_;
  const protocol::Encoding encoding_;
  Transport* const transport_;
  Clock* const clock_;
  Metrics* const metrics_;
  IdGenerator new_conversation_id_;

  State state_ = State::kPending;
  std::string conversation_id_;
  std::string client_id_;
  uint64_t seq_ = 0;  // seq of the last frame sent; 0 before connect_confirm
  absl::Duration last_seen_;
  v1::Frame scratch_;  // reused for decoding

  CallServices services_;
  upstream::Metadata upgrade_metadata_;
  // The trace context of the upgrade request, for calls whose messages carry none.
  std::optional<upstream::TraceParent> upgrade_trace_;
  // The JSON mapping the client asked for in its connect.
  v1::JsonMapping asked_json_;
  std::string upgrade_tracestate_;
  ResumeHook resume_hook_;
  std::function<void()> confirm_hook_;

  ResumeBuffer resume_buffer_;
  bool resume_lost_ = false;  // frames were dropped while detached: no resume possible
  // What TryClaim reads from other threads.
  mutable absl::Mutex claim_mu_;
  bool claimable_ ABSL_GUARDED_BY(claim_mu_) = false;
  bool claimed_ ABSL_GUARDED_BY(claim_mu_) = false;
  uint64_t claim_last_seq_ ABSL_GUARDED_BY(claim_mu_) = 0;
  std::string claim_user_ ABSL_GUARDED_BY(claim_mu_);
  uint64_t first_held_seq_ ABSL_GUARDED_BY(claim_mu_) = 1;  // seq of the oldest held frame
  uint64_t last_sent_seq_ ABSL_GUARDED_BY(claim_mu_) = 0;
  uint64_t last_confirm_seq_ ABSL_GUARDED_BY(claim_mu_) = 0;  // of the last connect_confirm
  // Running calls by messageId, and the final frames kept for resends (while a resume is
  // possible at all: session_grace > 0).
  CallTable calls_;
  bool room_asked_ = false;       // a WhenBelow request is out
  bool resumable_close_ = false;  // the bridge's close leaves the session resumable
  RateLimiter rate_limiter_;
  bool slow_consumer_posted_ = false;
  bool draining_ = false;
  void FinishDrainIfIdle();
  // Authentication: the upgrade's token, and who the client is (none: anonymous).
  std::string upgrade_token_;
  auth::CheckInput upgrade_request_;
  bool checking_auth_ = false;  // connect received; waiting for auth_checker
  std::optional<auth::Identity> identity_;
  void SetIdentity(std::optional<auth::Identity> identity);
  // Confirms a fresh session (after the user count, when there is one).
  void Confirm();
  void OnUserCounted(absl::StatusOr<size_t> count);
  bool user_counted_ = false;  // the node holds this session's user connection
  // Channels.
  void HandleSubscribe(const v1::Subscribe& subscribe);
  void HandleUnsubscribe(const v1::Unsubscribe& unsubscribe);
  void OnSubscribed(const std::string& channel, absl::StatusOr<pubsub::HistoryResult> result);
  void RefuseSubscribe(const std::string& channel, v1::ErrorCategory category, std::string message);
  void SendChannelState(const std::string& channel, bool subscribed, const ChannelSub* sub,
                        std::optional<bool> recovered);
  // A publication the client does not have yet (by offset) goes out.
  // A gap in offsets starts a catch-up from the history, unless `may_catch_up` is false.
  void DeliverPublication(ChannelSub& sub, const pubsub::Publication& publication,
                          bool may_catch_up = true);
  void CatchUp(const std::string& channel, ChannelSub& sub);
  void OnCaughtUp(const std::string& channel, absl::StatusOr<pubsub::HistoryResult> result);
  void SendPublication(const pubsub::Publication& publication);
  pubsub::ClientInfo ClientInfoNow() const;
  // Leaves the node: channels, presence, the user connection.
  void LeaveNode();
  absl::flat_hash_map<std::string, ChannelSub> channels_;
  std::shared_ptr<pubsub::Subscriber> link_;  // set while the node knows this session
  std::shared_ptr<pubsub::Subscriber> MakeLink();
  absl::Time connected_at_;
  // Outbound batching: encoded frames waiting to go out as one `batch`.
  void FlushBatch();
  // Drops what waits for a batch (held for a resume already, or dropped with the rest).
  void DropBatch();
  // Closes a connection whose unwritten bytes are over max_outbound_queue (4002).
  void CheckOutboundQueue();
  Batcher batcher_;
  void HandleRefresh(const v1::Refresh& refresh);
  // The per-connection rate limit, one token per frame (`frame` null: one that did not decode).
  // False when the frame must be dropped: a rate_limited error carrying its messageId (or, for
  // a subscribe, its channel, with `unsubscribed`) went out, or close 4029 after
  // rate_limit_strikes refusals in a row.
  bool Admit(const v1::Frame* frame);
  bool released_ = false;
  std::shared_ptr<SessionStats> stats_ = std::make_shared<SessionStats>();
};

}  // namespace bridge::session

#endif  // BRIDGE_SESSION_SESSION_H_
