#include "bridge/metrics/metrics.h"

#include "absl/strings/str_cat.h"
#include "bridge/protocol/error_table.h"

namespace bridge {
namespace {

void AppendCounter(std::string* out, const char* name, const char* help, uint64_t value,
                   const char* type = "counter") {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ",
                  value, "\n");
}

// Prometheus label values: backslash, quote and newline escaped.
std::string LabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void LatencyHistogram::Observe(absl::Duration d) {
  const double seconds = absl::ToDoubleSeconds(d);
  for (size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) {
      ++buckets_[i];
      break;
    }
  }
  ++count_;
  sum_seconds_ += seconds;
}

void LatencyHistogram::Render(std::string* out, const std::string& name,
                              const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i];
    absl::StrAppend(out, name, "_bucket{", labels, sep, "le=\"", kBounds[i], "\"} ", cumulative,
                    "\n");
  }
  absl::StrAppend(out, name, "_bucket{", labels, sep, "le=\"+Inf\"} ", count_, "\n");
  const std::string braces = labels.empty() ? "" : absl::StrCat("{", labels, "}");
  absl::StrAppend(out, name, "_sum", braces, " ", sum_seconds_, "\n", name, "_count", braces, " ",
                  count_, "\n");
}

void Metrics::CountCallEnd(const std::string& method, int code, absl::Duration upstream,
                           absl::Duration bridge_added) {
  absl::MutexLock lock(&calls_mu_);
  MethodFigures& m = methods_[method];
  ++m.by_code[code];
  m.upstream.Observe(upstream);
  bridge_added_.Observe(bridge_added);
}

uint64_t Metrics::calls_ended(const std::string& method, int code) const {
  absl::MutexLock lock(&calls_mu_);
  auto it = methods_.find(method);
  if (it == methods_.end()) return 0;
  auto c = it->second.by_code.find(code);
  return c == it->second.by_code.end() ? 0 : c->second;
}

void Metrics::CountCloseSent(int code) {
  absl::MutexLock lock(&closes_mu_);
  ++closes_sent_[code];
}

uint64_t Metrics::closes_sent(int code) const {
  absl::MutexLock lock(&closes_mu_);
  auto it = closes_sent_.find(code);
  return it == closes_sent_.end() ? 0 : it->second;
}

void Metrics::AddSection(std::function<std::string()> section) {
  absl::MutexLock lock(&closes_mu_);
  sections_.push_back(std::move(section));
}

std::string Metrics::RenderPrometheus() const {
  std::string out;
  auto get = [](const Counter& c) { return c.load(std::memory_order_relaxed); };
  AppendCounter(&out, "bridge_connections_accepted_total", "WebSocket upgrades accepted.",
                get(connections_accepted));
  AppendCounter(&out, "bridge_connections_refused_total", "WebSocket upgrades refused.",
                get(connections_refused));
  AppendCounter(&out, "bridge_connections_active", "Open WebSocket connections.",
                static_cast<uint64_t>(connections_active.load(std::memory_order_relaxed)), "gauge");
  AppendCounter(&out, "bridge_sessions_confirmed_total", "Handshakes completed.",
                get(sessions_confirmed));
  AppendCounter(&out, "bridge_frames_received_total", "Frames received from clients.",
                get(frames_received));
  AppendCounter(&out, "bridge_frames_sent_total", "Frames sent to clients.", get(frames_sent));
  AppendCounter(&out, "bridge_bytes_received_total", "Frame bytes received.", get(bytes_received));
  AppendCounter(&out, "bridge_bytes_sent_total", "Frame bytes sent.", get(bytes_sent));
  AppendCounter(&out, "bridge_pings_total", "Protocol ping frames answered.", get(pings_received));
  AppendCounter(&out, "bridge_control_pings_total", "WebSocket ping control frames answered.",
                get(control_pings_received));
  AppendCounter(&out, "bridge_handshake_timeouts_total", "Sessions closed with 4001.",
                get(handshake_timeouts));
  AppendCounter(&out, "bridge_heartbeat_timeouts_total", "Sessions closed with 4000.",
                get(heartbeat_timeouts));
  AppendCounter(&out, "bridge_frames_before_connect_total",
                "Frames other than connect before the handshake (closed with 1002).",
                get(frames_before_connect));
  AppendCounter(&out, "bridge_unsupported_versions_total", "Sessions closed with 4502.",
                get(unsupported_versions));
  AppendCounter(&out, "bridge_wrong_encoding_frames_total",
                "Binary frames on JSON sessions and text frames on binary sessions.",
                get(wrong_encoding_frames));
  AppendCounter(&out, "bridge_invalid_utf8_closes_total", "Sessions closed with 1007.",
                get(invalid_utf8_closes));
  AppendCounter(&out, "bridge_too_big_closes_total", "Sessions closed with 1009.",
                get(too_big_closes));

  AppendCounter(&out, "bridge_calls_started_total", "Upstream calls started.", get(calls_started));
  AppendCounter(&out, "bridge_calls_succeeded_total", "Upstream calls that ended with OK.",
                get(calls_succeeded));
  AppendCounter(&out, "bridge_calls_failed_total", "Upstream calls that ended with an error.",
                get(calls_failed));
  AppendCounter(&out, "bridge_calls_cancelled_by_client_total", "cancel frames honoured.",
                get(calls_cancelled_by_client));
  AppendCounter(&out, "bridge_calls_cancelled_by_close_total",
                "Calls cancelled upstream because their session ended.",
                get(calls_cancelled_by_close));
  AppendCounter(&out, "bridge_bad_payloads_total", "Request payloads refused (invalid_argument).",
                get(bad_payloads));
  AppendCounter(&out, "bridge_bad_metadata_total",
                "Calls refused for their metadata: a key, a value or the size gRPC would refuse "
                "(invalid_argument).",
                get(bad_metadata));
  AppendCounter(&out, "bridge_bad_client_ids_total",
                "connect frames refused for their clientId (control characters, too long).",
                get(bad_client_ids));
  AppendCounter(&out, "bridge_headers_not_forwarded_total",
                "Upgrade headers matching forward_request_headers that were not forwarded: a "
                "name gRPC refuses, or one the bridge reserves (x-bridge-*, grpc-*).",
                get(headers_not_forwarded));
  AppendCounter(&out, "bridge_resumes_gapped_total",
                "Resumes refused at replay because the held frames no longer followed lastSeq.",
                get(resumes_gapped));
  AppendCounter(&out, "bridge_flow_control_pauses_total",
                "Upstream reads deferred until the outbound buffer drained.",
                get(flow_control_pauses));
  AppendCounter(&out, "bridge_connection_events_inline_total",
                "WebSocket events (open, message, ping, close) handled by their session inside "
                "websocketpp's handler, on the connection's strand.",
                get(connection_events_inline));
  AppendCounter(&out, "bridge_connection_events_posted_total",
                "WebSocket events handed to their session's strand in a task (a resumed "
                "session runs on its first connection's strand).",
                get(connection_events_posted));
  AppendCounter(&out, "bridge_upstream_events_posted_total",
                "Upstream call events handed from gRPC's threads to a session: one per unary or "
                "client-streaming call, one per stream message and one per stream's end.",
                get(upstream_events_posted));
  AppendCounter(&out, "bridge_sessions_detached_total",
                "Sessions kept for a resume after their connection dropped.",
                get(sessions_detached));
  AppendCounter(&out, "bridge_sessions_resumed_total", "Sessions resumed on a new connection.",
                get(sessions_resumed));
  AppendCounter(&out, "bridge_resumes_refused_total",
                "Resumes asked for that got a fresh session (unknown, expired, frames lost).",
                get(resumes_refused));
  AppendCounter(&out, "bridge_sessions_expired_total",
                "Detached sessions whose grace period ran out.", get(sessions_expired));
  AppendCounter(&out, "bridge_frames_replayed_total", "Frames replayed on resume.",
                get(frames_replayed));
  AppendCounter(&out, "bridge_duplicate_messages_total",
                "Resent messageIds answered without calling upstream again.",
                get(duplicate_messages));
  AppendCounter(&out, "bridge_origin_refusals_total", "Upgrades refused for their Origin (403).",
                get(origin_refusals));
  AppendCounter(&out, "bridge_connection_limit_refusals_total",
                "Connections closed with 1013 over max_connections or max_connections_per_ip.",
                get(connection_limit_refusals));
  AppendCounter(&out, "bridge_memory_guard_refusals_total",
                "Connections closed with 1013 over max_memory_bytes.", get(memory_guard_refusals));
  AppendCounter(&out, "bridge_rate_limited_messages_total",
                "Messages refused by the per-connection rate limit.", get(rate_limited_messages));
  AppendCounter(&out, "bridge_rate_limit_closes_total", "Connections closed with 4029.",
                get(rate_limit_closes));
  AppendCounter(&out, "bridge_slow_consumer_closes_total", "Connections closed with 4002.",
                get(slow_consumer_closes));
  AppendCounter(&out, "bridge_accept_errors_total",
                "Accepts that failed (the accept loop tries again after 50 ms).",
                get(accept_errors));
  AppendCounter(&out, "bridge_auth_failures_total",
                "Bad, missing or expired tokens, and refused refreshes.", get(auth_failures));
  AppendCounter(&out, "bridge_subscriptions_refused_total", "Subscribes answered with an error.",
                get(subscriptions_refused));
  AppendCounter(&out, "bridge_user_limit_closes_total",
                "Connections closed with 4503: over max_connections_per_user.",
                get(user_limit_closes));
  AppendCounter(&out, "bridge_disconnects_ordered_total",
                "Sessions closed by BridgeControl.Disconnect.", get(disconnects_ordered));
  AppendCounter(&out, "bridge_control_requests_refused_total",
                "BridgeControl requests refused as invalid.", get(control_requests_refused));
  AppendCounter(&out, "bridge_batches_sent_total",
                "Outbound batch frames, each holding several frames.", get(batches_sent));
  AppendCounter(&out, "bridge_channel_gaps_total",
                "Publications lost on the way that the channel's history could not give back.",
                get(channel_gaps));
  AppendCounter(&out, "bridge_permission_denials_total", "Calls the caller's token does not allow.",
                get(permission_denials));
  AppendCounter(&out, "bridge_drains_requested_total", "Drains asked for through /drain.",
                get(drains_requested));
  AppendCounter(&out, "bridge_auth_unavailable_total",
                "Connections closed with 1013 because the authentication service did not answer.",
                get(auth_unavailable));
  AppendCounter(&out, "bridge_tls_reloads_total", "Certificate files reloaded after a change.",
                get(tls_reloads));
  AppendCounter(&out, "bridge_tls_reload_failures_total",
                "Changed certificate files that did not load; the pair in use stayed.",
                get(tls_reload_failures));
  absl::StrAppend(&out,
                  "# HELP bridge_bad_frames_total Frames refused, by reason.\n"
                  "# TYPE bridge_bad_frames_total counter\n");
  for (int i = 1; i < protocol::kDecodeFailureCount; ++i) {
    const auto failure = static_cast<protocol::DecodeFailure>(i);
    const std::string_view name = protocol::DecodeFailureName(failure);
    absl::StrAppend(&out, "bridge_bad_frames_total{reason=\"",
                    absl::string_view(name.data(), name.size()), "\"} ", bad_frames(failure), "\n");
  }
  absl::StrAppend(&out,
                  "# HELP bridge_error_frames_total Error frames sent, by category.\n"
                  "# TYPE bridge_error_frames_total counter\n");
  for (size_t i = 1; i < error_frames_.size(); ++i) {
    const auto category = static_cast<v1::ErrorCategory>(i);
    const std::string_view name = protocol::CategoryName(category);
    absl::StrAppend(&out, "bridge_error_frames_total{category=\"",
                    absl::string_view(name.data(), name.size()), "\"} ", get(error_frames_[i]),
                    "\n");
  }
  // Frames by type, named as in JSON ("stream_message").
  const google::protobuf::OneofDescriptor* kinds = v1::Frame::descriptor()->FindOneofByName("kind");
  for (const bool in : {true, false}) {
    const char* name = in ? "bridge_frames_in_total" : "bridge_frames_out_total";
    absl::StrAppend(&out, "# HELP ", name,
                    in ? " Frames received, by type.\n" : " Frames sent, by type.\n", "# TYPE ",
                    name, " counter\n");
    for (int i = 0; i < kinds->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* kind = kinds->field(i);
      const uint64_t n = in ? frames_in(kind->number()) : frames_out(kind->number());
      if (n > 0) absl::StrAppend(&out, name, "{type=\"", kind->name(), "\"} ", n, "\n");
    }
  }
  {
    absl::MutexLock calls_lock(&calls_mu_);
    absl::StrAppend(&out,
                    "# HELP bridge_calls_total Upstream calls that ended, by method and gRPC "
                    "status code.\n# TYPE bridge_calls_total counter\n");
    for (const auto& [method, figures] : methods_) {
      for (const auto& [code, n] : figures.by_code) {
        absl::StrAppend(&out, "bridge_calls_total{method=\"", LabelValue(method), "\",code=\"",
                        code, "\"} ", n, "\n");
      }
    }
    absl::StrAppend(&out,
                    "# HELP bridge_upstream_latency_seconds Time from starting a call upstream "
                    "to its end, by method.\n# TYPE bridge_upstream_latency_seconds histogram\n");
    for (const auto& [method, figures] : methods_) {
      figures.upstream.Render(&out, "bridge_upstream_latency_seconds",
                              absl::StrCat("method=\"", LabelValue(method), "\""));
    }
    absl::StrAppend(&out,
                    "# HELP bridge_added_latency_seconds Time the bridge adds to a call: from "
                    "the message frame to the call upstream, and from its end to the answer "
                    "frame written.\n# TYPE bridge_added_latency_seconds histogram\n");
    bridge_added_.Render(&out, "bridge_added_latency_seconds", "");
  }
  absl::StrAppend(&out,
                  "# HELP bridge_closes_sent_total Closes the bridge initiated, by code.\n"
                  "# TYPE bridge_closes_sent_total counter\n");
  absl::MutexLock lock(&closes_mu_);
  for (const auto& [code, count] : closes_sent_) {
    absl::StrAppend(&out, "bridge_closes_sent_total{code=\"", code, "\"} ", count, "\n");
  }
  for (const auto& section : sections_) out += section();
  return out;
}

}  // namespace bridge
