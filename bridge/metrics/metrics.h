// The bridge's counters: connections, frames (by type), bad input by reason, error frames by
// category, closes by code, calls by method and status, and latency histograms (time upstream,
// and time the bridge itself adds to a call). Lock-free increments from any thread, but for the
// per-method figures (one short lock per call); rendered in the Prometheus text format for
// /metrics.
#ifndef BRIDGE_METRICS_METRICS_H_
#define BRIDGE_METRICS_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/protocol/frame_codec.h"
#include "proto/bridge/v1/frame.pb.h"

namespace bridge {

using Counter = std::atomic<uint64_t>;

// Every plain counter of the bridge, once: its member of Metrics, its Prometheus name and its
// help text. Metrics declares a member per row and RenderPrometheus writes a line per row, in
// this order. Counters with labels (frames by type, bad frames by reason, error frames by
// category, calls by method and code, closes by code) have their own members below.
#define BRIDGE_COUNTERS(X)                                                                       \
  X(connections_accepted, "bridge_connections_accepted_total", "WebSocket upgrades accepted.")   \
  X(connections_refused, "bridge_connections_refused_total", "WebSocket upgrades refused.")      \
  X(sessions_confirmed, "bridge_sessions_confirmed_total", "Handshakes completed.")              \
  X(frames_received, "bridge_frames_received_total", "Frames received from clients.")            \
  X(frames_sent, "bridge_frames_sent_total", "Frames sent to clients.")                          \
  X(bytes_received, "bridge_bytes_received_total", "Frame bytes received.")                      \
  X(bytes_sent, "bridge_bytes_sent_total", "Frame bytes sent.")                                  \
  X(pings_received, "bridge_pings_total", "Protocol ping frames answered.")                      \
  X(control_pings_received, "bridge_control_pings_total",                                        \
    "WebSocket ping control frames answered.")                                                   \
  X(handshake_timeouts, "bridge_handshake_timeouts_total", "Sessions closed with 4001.")         \
  X(heartbeat_timeouts, "bridge_heartbeat_timeouts_total", "Sessions closed with 4000.")         \
  X(frames_before_connect, "bridge_frames_before_connect_total",                                 \
    "Frames other than connect before the handshake (closed with 1002).")                        \
  X(unsupported_versions, "bridge_unsupported_versions_total", "Sessions closed with 4502.")     \
  X(wrong_encoding_frames, "bridge_wrong_encoding_frames_total",                                 \
    "Binary frames on JSON sessions and text frames on binary sessions.")                        \
  X(invalid_utf8_closes, "bridge_invalid_utf8_closes_total", "Sessions closed with 1007.")       \
  X(too_big_closes, "bridge_too_big_closes_total", "Sessions closed with 1009.")                 \
  X(calls_started, "bridge_calls_started_total", "Upstream calls started.")                      \
  X(calls_succeeded, "bridge_calls_succeeded_total", "Upstream calls that ended with OK.")       \
  X(calls_failed, "bridge_calls_failed_total", "Upstream calls that ended with an error.")       \
  X(calls_cancelled_by_client, "bridge_calls_cancelled_by_client_total",                         \
    "cancel frames honoured.")                                                                   \
  X(calls_cancelled_by_close, "bridge_calls_cancelled_by_close_total",                           \
    "Calls cancelled upstream because their session ended.")                                     \
  X(bad_payloads, "bridge_bad_payloads_total", "Request payloads refused (invalid_argument).")   \
  X(bad_metadata, "bridge_bad_metadata_total",                                                   \
    "Calls refused for their metadata: a key, a value or the size gRPC would refuse "            \
    "(invalid_argument).")                                                                       \
  X(bad_trace_contexts, "bridge_bad_trace_contexts_total",                                       \
    "traceparent or tracestate values refused: in a message's metadata (invalid_argument), or "  \
    "in an upgrade request (ignored, as W3C Trace Context asks).")                               \
  X(bad_client_ids, "bridge_bad_client_ids_total",                                               \
    "connect frames refused for their clientId (control characters, too long).")                 \
  X(headers_not_forwarded, "bridge_headers_not_forwarded_total",                                 \
    "Upgrade headers matching forward_request_headers that were not forwarded: a name gRPC "     \
    "refuses, or one the bridge reserves (x-bridge-*, grpc-*).")                                 \
  X(resumes_gapped, "bridge_resumes_gapped_total",                                               \
    "Resumes refused at replay because the held frames no longer followed lastSeq.")             \
  X(flow_control_pauses, "bridge_flow_control_pauses_total",                                     \
    "Upstream reads deferred until the outbound buffer drained.")                                \
  X(connection_events_inline, "bridge_connection_events_inline_total",                           \
    "WebSocket events (open, message, ping, close) handled by their session inside "             \
    "websocketpp's handler, on the connection's strand.")                                        \
  X(connection_events_posted, "bridge_connection_events_posted_total",                           \
    "WebSocket events handed to their session's strand in a task (a resumed session runs on "    \
    "its first connection's strand).")                                                           \
  X(upstream_events_posted, "bridge_upstream_events_posted_total",                               \
    "Upstream call events handed from gRPC's threads to a session: one per unary or "            \
    "client-streaming call, one per stream message and one per stream's end.")                   \
  X(sessions_detached, "bridge_sessions_detached_total",                                         \
    "Sessions kept for a resume after their connection dropped.")                                \
  X(sessions_resumed, "bridge_sessions_resumed_total", "Sessions resumed on a new connection.")  \
  X(resumes_refused, "bridge_resumes_refused_total",                                             \
    "Resumes asked for that got a fresh session (unknown, expired, frames lost).")               \
  X(sessions_expired, "bridge_sessions_expired_total",                                           \
    "Detached sessions whose grace period ran out.")                                             \
  X(frames_replayed, "bridge_frames_replayed_total", "Frames replayed on resume.")               \
  X(duplicate_messages, "bridge_duplicate_messages_total",                                       \
    "Resent messageIds answered without calling upstream again.")                                \
  X(origin_refusals, "bridge_origin_refusals_total", "Upgrades refused for their Origin (403).") \
  X(connection_limit_refusals, "bridge_connection_limit_refusals_total",                         \
    "Connections closed with 1013 over max_connections or max_connections_per_ip.")              \
  X(memory_guard_refusals, "bridge_memory_guard_refusals_total",                                 \
    "Connections closed with 1013 over max_memory_bytes.")                                       \
  X(rate_limited_messages, "bridge_rate_limited_messages_total",                                 \
    "Messages refused by the per-connection rate limit.")                                        \
  X(rate_limit_closes, "bridge_rate_limit_closes_total", "Connections closed with 4029.")        \
  X(slow_consumer_closes, "bridge_slow_consumer_closes_total", "Connections closed with 4002.")  \
  X(accept_errors, "bridge_accept_errors_total",                                                 \
    "Accepts that failed (the accept loop tries again after 50 ms).")                            \
  X(auth_failures, "bridge_auth_failures_total",                                                 \
    "Bad, missing or expired tokens, and refused refreshes.")                                    \
  X(subscriptions_refused, "bridge_subscriptions_refused_total",                                 \
    "Subscribes answered with an error.")                                                        \
  X(user_limit_closes, "bridge_user_limit_closes_total",                                         \
    "Connections closed with 4503: over max_connections_per_user.")                              \
  X(disconnects_ordered, "bridge_disconnects_ordered_total",                                     \
    "Sessions closed by BridgeControl.Disconnect.")                                              \
  X(control_requests_refused, "bridge_control_requests_refused_total",                           \
    "BridgeControl requests refused as invalid.")                                                \
  X(batches_sent, "bridge_batches_sent_total",                                                   \
    "Outbound batch frames, each holding several frames.")                                       \
  X(channel_gaps, "bridge_channel_gaps_total",                                                   \
    "Publications lost on the way that the channel's history could not give back.")              \
  X(permission_denials, "bridge_permission_denials_total",                                       \
    "Calls the caller's token does not allow.")                                                  \
  X(drains_requested, "bridge_drains_requested_total", "Drains asked for through /drain.")       \
  X(auth_unavailable, "bridge_auth_unavailable_total",                                           \
    "Connections closed with 1013 because the authentication service did not answer.")           \
  X(tls_reloads, "bridge_tls_reloads_total", "Certificate files reloaded after a change.")       \
  X(tls_reload_failures, "bridge_tls_reload_failures_total",                                     \
    "Changed certificate files that did not load; the pair in use stayed.")

// A Prometheus histogram of durations with fixed buckets (0.5 ms to 10 s). Not thread-safe.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  void Observe(absl::Duration d);
  uint64_t count() const { return count_; }
  // Appends the _bucket, _sum and _count lines of `name` with `labels` ("method=\"x\"" or "").
  void Render(std::string* out, const std::string& name, const std::string& labels) const;

 private:
  std::array<uint64_t, kBounds.size()> buckets_{};  // not cumulative; Render sums them
  uint64_t count_ = 0;
  double sum_seconds_ = 0;
};

class Metrics {
 public:
  // The plain counters: one member per row of BRIDGE_COUNTERS.
#define BRIDGE_COUNTER_MEMBER(member, name, help) Counter member{0};
  BRIDGE_COUNTERS(BRIDGE_COUNTER_MEMBER)
#undef BRIDGE_COUNTER_MEMBER
  std::atomic<int64_t> connections_active{0};  // a gauge: bridge_connections_active

  void CountBadFrame(protocol::DecodeFailure failure) {
    bad_frames_[static_cast<size_t>(failure)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t bad_frames(protocol::DecodeFailure failure) const {
    return bad_frames_[static_cast<size_t>(failure)].load(std::memory_order_relaxed);
  }

  void CountErrorFrame(v1::ErrorCategory category) {
    const auto i = static_cast<size_t>(category);
    if (i < error_frames_.size()) error_frames_[i].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t error_frames(v1::ErrorCategory category) const {
    const auto i = static_cast<size_t>(category);
    return i < error_frames_.size() ? error_frames_[i].load(std::memory_order_relaxed) : 0;
  }

  // Frames by type: `kind` is the field number of Frame's `kind` oneof (Frame::KindCase).
  void CountFrameIn(int kind) { CountKind(frames_in_, kind); }
  void CountFrameOut(int kind) { CountKind(frames_out_, kind); }
  uint64_t frames_in(int kind) const { return KindCount(frames_in_, kind); }
  uint64_t frames_out(int kind) const { return KindCount(frames_out_, kind); }

  // A call that ended: its method ("/demo.v1.Echo/Say"), gRPC status code (0 OK), the time it
  // spent upstream, and the time the bridge added (decoding, transcoding, writing the answer).
  void CountCallEnd(const std::string& method, int code, absl::Duration upstream,
                    absl::Duration bridge_added);
  uint64_t calls_ended(const std::string& method, int code) const;

  // Closes the bridge initiated, by close code.
  void CountCloseSent(int code);
  uint64_t closes_sent(int code) const;

  std::string RenderPrometheus() const;

  // Adds a producer of more metrics text (another part's counters) to RenderPrometheus.
  void AddSection(std::function<std::string()> section);

 private:
  static constexpr size_t kKinds = 32;  // above every Frame kind field number
  static void CountKind(std::array<Counter, kKinds>& counters, int kind) {
    if (kind > 0 && static_cast<size_t>(kind) < kKinds) {
      counters[kind].fetch_add(1, std::memory_order_relaxed);
    }
  }
  static uint64_t KindCount(const std::array<Counter, kKinds>& counters, int kind) {
    return kind > 0 && static_cast<size_t>(kind) < kKinds
               ? counters[kind].load(std::memory_order_relaxed)
               : 0;
  }
  struct MethodFigures {
    std::map<int, uint64_t> by_code;
    LatencyHistogram upstream;
  };

  std::array<Counter, kKinds> frames_in_{};
  std::array<Counter, kKinds> frames_out_{};
  mutable absl::Mutex calls_mu_;
  std::map<std::string, MethodFigures> methods_ ABSL_GUARDED_BY(calls_mu_);
  LatencyHistogram bridge_added_ ABSL_GUARDED_BY(calls_mu_);
  std::array<Counter, protocol::kDecodeFailureCount> bad_frames_{};
  std::array<Counter, v1::ErrorCategory_ARRAYSIZE> error_frames_{};
  mutable absl::Mutex closes_mu_;
  std::map<int, uint64_t> closes_sent_ ABSL_GUARDED_BY(closes_mu_);
  std::vector<std::function<std::string()>> sections_ ABSL_GUARDED_BY(closes_mu_);
};

}  // namespace bridge

#endif  // BRIDGE_METRICS_METRICS_H_
