// The bridge's counters: connections, frames, bad input by reason, error frames by category,
// closes by code. Lock-free increments from any thread; rendered in the Prometheus text format
// for /metrics.
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
#include "bridge/protocol/frame_codec.h"
#include "proto/bridge/v1/frame.pb.h"

namespace bridge {

using Counter = std::atomic<uint64_t>;

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
  Counter calls_failed{0};             // ended with an error frame
  Counter calls_cancelled_by_client{0};
  Counter calls_cancelled_by_close{0};  // the session ended first
  Counter bad_payloads{0};              // request payloads that did not transcode
  Counter flow_control_pauses{0};       // reads deferred for a full outbound buffer
  Counter sessions_detached{0};         // kept after their connection dropped
  Counter sessions_resumed{0};
  Counter resumes_refused{0};           // a resume asked for and a fresh session given
  Counter sessions_expired{0};          // detached sessions whose grace period ran out
  Counter frames_replayed{0};
  Counter duplicate_messages{0};        // resent messageIds: attached or answered, not re-called
  Counter origin_refusals{0};           // HTTP 403 at the upgrade
  Counter connection_limit_refusals{0};  // 1013: too many connections, in all or per IP
  Counter memory_guard_refusals{0};     // 1013: over max_memory_bytes
  Counter rate_limited_messages{0};
  Counter rate_limit_closes{0};         // 4029
  Counter slow_consumer_closes{0};      // 4002
  Counter auth_failures{0};             // bad, missing or expired tokens (4500), bad refreshes
  Counter permission_denials{0};        // calls the user's token does not allow

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

  // Closes the bridge initiated, by close code.
  void CountCloseSent(int code);
  uint64_t closes_sent(int code) const;

  std::string RenderPrometheus() const;

  // Adds a producer of more metrics text (another part's counters) to RenderPrometheus.
  void AddSection(std::function<std::string()> section);

 private:
  std::array<Counter, protocol::kDecodeFailureCount> bad_frames_{};
  std::array<Counter, 17> error_frames_{};
  mutable absl::Mutex closes_mu_;
  std::map<int, uint64_t> closes_sent_ ABSL_GUARDED_BY(closes_mu_);
  std::vector<std::function<std::string()>> sections_ ABSL_GUARDED_BY(closes_mu_);
};

}  // namespace bridge

#endif  // BRIDGE_METRICS_METRICS_H_
