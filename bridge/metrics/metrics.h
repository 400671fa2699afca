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
  Counter connections_accepted{0};
  Counter connections_refused{0};  // upgrade refused (wrong path, ...)
  std::atomic<int64_t> connections_active{0};
  Counter sessions_confirmed{0};
  Counter frames_received{0};
  Counter frames_sent{0};
  Counter bytes_received{0};
  Counter bytes_sent{0};
  Counter pings_received{0};
  Counter control_pings_received{0};
  Counter handshake_timeouts{0};
  Counter heartbeat_timeouts{0};
  Counter frames_before_connect{0};
  Counter unsupported_versions{0};
  Counter wrong_encoding_frames{0};  // a binary frame on a JSON session, or the reverse
  Counter invalid_utf8_closes{0};    // close 1007 sent
  Counter too_big_closes{0};         // close 1009 sent
  Counter calls_started{0};
  Counter calls_succeeded{0};
  Counter calls_failed{0};  // ended with an error frame
  Counter calls_cancelled_by_client{0};
  Counter calls_cancelled_by_close{0};  // the session ended first
  Counter bad_payloads{0};              // request payloads that did not transcode
  Counter bad_metadata{0};              // calls refused for their metadata (rules, size)
  Counter bad_client_ids{0};            // connects refused for their clientId
  // Upgrade headers matching forward_request_headers whose name gRPC refuses or the bridge
  // reserves: not forwarded.
  Counter headers_not_forwarded{0};
  Counter resumes_gapped{0};       // resumes refused at replay: the first held frame was not next
  Counter flow_control_pauses{0};  // reads deferred for a full outbound buffer
  // The data path's hops (docs/performance.md, "A call's path"): WebSocket events (open,
  // message, ping, close) the session handled inside websocketpp's handler, on the connection's
  // strand, and those handed to the session's strand in a task (a resumed session, or an event
  // behind one that was); upstream call events handed from gRPC's threads to a session.
  Counter connection_events_inline{0};
  Counter connection_events_posted{0};
  Counter upstream_events_posted{0};
  Counter sessions_detached{0};  // kept after their connection dropped
  Counter sessions_resumed{0};
  Counter resumes_refused{0};   // a resume asked for and a fresh session given
  Counter sessions_expired{0};  // detached sessions whose grace period ran out
  Counter frames_replayed{0};
  Counter duplicate_messages{0};         // resent messageIds: attached or answered, not re-called
  Counter origin_refusals{0};            // HTTP 403 at the upgrade
  Counter connection_limit_refusals{0};  // 1013: too many connections, in all or per IP
  Counter memory_guard_refusals{0};      // 1013: over max_memory_bytes
  Counter rate_limited_messages{0};
  Counter rate_limit_closes{0};      // 4029
  Counter slow_consumer_closes{0};   // 4002
  Counter auth_failures{0};          // bad, missing or expired tokens (4500), bad refreshes
  Counter permission_denials{0};     // calls the user's token does not allow
  Counter drains_requested{0};       // GET or POST /drain on the admin port
  Counter auth_unavailable{0};       // 1013: the authentication service did not answer
  Counter tls_reloads{0};            // certificate files changed and loaded
  Counter tls_reload_failures{0};    // changed files that did not load (the old pair stays)
  Counter subscriptions_refused{0};  // subscribe answered with an error
  Counter user_limit_closes{0};      // 4503: one connection too many for the user
  Counter disconnects_ordered{0};    // sessions closed by BridgeControl.Disconnect
  // Publications that arrived after a missing offset.
  Counter channel_gaps{0};
  // Outbound `batch` frames (each of several frames).
  Counter batches_sent{0};
  // BridgeControl requests answered INVALID_ARGUMENT.
  Counter control_requests_refused{0};
  // Accepts that failed (out of descriptors, for one); the loop tries again shortly.
  Counter accept_errors{0};

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
  std::array<Counter, 17> error_frames_{};
  mutable absl::Mutex closes_mu_;
  std::map<int, uint64_t> closes_sent_ ABSL_GUARDED_BY(closes_mu_);
  std::vector<std::function<std::string()>> sections_ ABSL_GUARDED_BY(closes_mu_);
};

}  // namespace bridge

#endif  // BRIDGE_METRICS_METRICS_H_
