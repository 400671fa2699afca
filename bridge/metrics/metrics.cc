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
  AppendCounter(&out, "bridge_connections_active", "Open WebSocket connections.",
                static_cast<uint64_t>(connections_active.load(std::memory_order_relaxed)), "gauge");
#define BRIDGE_COUNTER_LINE(member, name, help) AppendCounter(&out, name, help, get(member));
  BRIDGE_COUNTERS(BRIDGE_COUNTER_LINE)
#undef BRIDGE_COUNTER_LINE
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
