#include "bridge/config/config.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bridge/common/log.h"
#include "bridge/common/strings.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace bridge::config {
namespace {

// The field a text-format error is about: the last `name:` on its line before the column.
std::string FieldAt(std::string_view text, int line, int column) {
  std::vector<absl::string_view> lines = absl::StrSplit(Sv(text), '\n');
  if (line < 0 || static_cast<size_t>(line) >= lines.size()) return "";
  absl::string_view prefix = lines[line].substr(0, static_cast<size_t>(std::max(column, 0)));
  const size_t colon = prefix.rfind(':');
  if (colon == absl::string_view::npos) return "";
  absl::string_view name = absl::StripTrailingAsciiWhitespace(prefix.substr(0, colon));
  size_t start = name.size();
  while (start > 0 && (absl::ascii_isalnum(name[start - 1]) || name[start - 1] == '_')) --start;
  return std::string(name.substr(start));
}

class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit ErrorCollector(std::string_view text) : text_(text) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!first_.empty()) return;
    first_ = absl::StrCat(line + 1, ":", column + 1, ": ");
    const std::string field = FieldAt(text_, line, column);
    if (!field.empty() && message.find(field) == std::string::npos) {
      absl::StrAppend(&first_, "field ", field, ": ");
    }
    absl::StrAppend(&first_, message);
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  std::string_view text_;
  std::string first_;
};

absl::Status FieldError(std::string_view field, std::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("config field ", Sv(field), ": ", Sv(reason)));
}

}  // namespace

absl::Status ParseTextMessage(std::string_view text, std::string_view origin,
                              google::protobuf::Message* message) {
  ErrorCollector errors(text);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), message)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(origin), ":", errors.first().empty() ? "invalid" : errors.first()));
  }
  return absl::OkStatus();
}

absl::Status LoadTextMessageFile(const std::string& path, google::protobuf::Message* message) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read file ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(absl::StrCat("cannot read file ", path));
  return ParseTextMessage(text.str(), path, message);
}

absl::StatusOr<BridgeConfig> ParseConfigText(std::string_view text, std::string_view origin) {
  BridgeConfig config;
  if (absl::Status parsed = ParseTextMessage(text, origin, &config); !parsed.ok()) return parsed;
  return config;
}

absl::StatusOr<BridgeConfig> LoadConfigFile(const std::string& path) {
  BridgeConfig config;
  if (absl::Status loaded = LoadTextMessageFile(path, &config); !loaded.ok()) return loaded;
  return config;
}

void ApplyDefaults(v1::ChannelsConfig* channels) {
  if (channels->history_size() == 0) channels->set_history_size(kDefaultHistorySize);
  if (channels->history_ttl_ms() == 0) channels->set_history_ttl_ms(kDefaultHistoryTtlMs);
  if (channels->max_channels_per_session() == 0) {
    channels->set_max_channels_per_session(kDefaultMaxChannelsPerSession);
  }
  if (channels->max_channel_length() == 0) {
    channels->set_max_channel_length(kDefaultMaxChannelLength);
  }
  for (v1::ChannelNamespace& ns : *channels->mutable_namespaces()) {
    if (!ns.has_presence()) ns.set_presence(kDefaultChannelPresence);
  }
}

void ApplyDefaults(v1::BrokerConfig* broker) {
  if (broker->type().empty()) broker->set_type(std::string(kDefaultBrokerType));
  if (broker->redis_address().empty()) broker->set_redis_address(std::string(kDefaultRedisAddress));
  if (broker->redis_prefix().empty()) broker->set_redis_prefix(std::string(kDefaultRedisPrefix));
  if (broker->presence_ttl_ms() == 0) broker->set_presence_ttl_ms(kDefaultPresenceTtlMs);
}

void ApplyDefaults(v1::ServerTls* tls) {
  if (!tls->has_reload_check_ms()) tls->set_reload_check_ms(kDefaultTlsReloadCheckMs);
}

void ApplyDefaults(v1::AuthServiceConfig* service) {
  if (service->timeout_ms() == 0) service->set_timeout_ms(kDefaultAuthServiceTimeoutMs);
}

void ApplyDefaults(v1::JwtConfig* jwt) {
  if (jwt->clock_skew_ms() == 0) jwt->set_clock_skew_ms(kDefaultJwtClockSkewMs);
  if (jwt->user_claim().empty()) jwt->set_user_claim(std::string(kDefaultJwtUserClaim));
  if (jwt->methods_claim().empty()) jwt->set_methods_claim(std::string(kDefaultJwtMethodsClaim));
  if (jwt->channels_claim().empty()) {
    jwt->set_channels_claim(std::string(kDefaultJwtChannelsClaim));
  }
}

void ApplyDefaults(v1::RouteTls* tls) {
  if (tls->reload_interval_s() == 0) tls->set_reload_interval_s(kDefaultRouteTlsReloadIntervalS);
}

void ApplyDefaults(v1::RetryPolicy* p) {
  if (p->initial_backoff_ms() == 0) p->set_initial_backoff_ms(kDefaultRetryInitialBackoffMs);
  if (p->max_backoff_ms() == 0) p->set_max_backoff_ms(kDefaultRetryMaxBackoffMs);
  if (p->backoff_multiplier() == 0) p->set_backoff_multiplier(kDefaultRetryBackoffMultiplier);
  if (p->retryable_status_codes().empty()) {
    p->add_retryable_status_codes(std::string(kDefaultRetryableStatus));
  }
}

void ApplyDefaults(v1::RetryThrottling* t) {
  if (t->max_tokens() == 0) t->set_max_tokens(kDefaultRetryMaxTokens);
  if (t->token_ratio() == 0) t->set_token_ratio(kDefaultRetryTokenRatio);
}

void ApplyDefaults(BridgeConfig* c) {
  if (c->listen().empty()) c->set_listen(std::string(kDefaultListen));
  if (c->path().empty()) c->set_path(std::string(kDefaultPath));
  if (c->log_level().empty()) c->set_log_level(std::string(kDefaultLogLevel));
  if (c->log_format().empty()) c->set_log_format(std::string(kDefaultLogFormat));
  if (c->io_threads() == 0) {
    c->set_io_threads(std::max(1u, std::thread::hardware_concurrency()));
  }
  if (c->handshake_timeout_ms() == 0) c->set_handshake_timeout_ms(kDefaultHandshakeTimeoutMs);
  if (c->heartbeat_interval_ms() == 0) {
    c->set_heartbeat_interval_ms(kDefaultHeartbeatIntervalMs);
  }
  if (c->heartbeat_timeout_ms() == 0) {
    // 2 x interval, saturated: a uint32 product would wrap below the interval.
    const uint64_t twice = 2 * uint64_t{c->heartbeat_interval_ms()};
    c->set_heartbeat_timeout_ms(
        static_cast<uint32_t>(std::min<uint64_t>(twice, std::numeric_limits<uint32_t>::max())));
  }
  if (c->max_frame_bytes() == 0) c->set_max_frame_bytes(kDefaultMaxFrameBytes);
  if (c->shutdown_grace_ms() == 0) c->set_shutdown_grace_ms(kDefaultShutdownGraceMs);
  if (c->default_call_timeout_ms() == 0) c->set_default_call_timeout_ms(kDefaultCallTimeoutMs);
  if (c->max_call_timeout_ms() == 0) c->set_max_call_timeout_ms(kDefaultMaxCallTimeoutMs);
  if (c->max_calls_per_session() == 0) {
    c->set_max_calls_per_session(kDefaultMaxCallsPerSession);
  }
  if (c->max_pending_writes_per_call() == 0) {
    c->set_max_pending_writes_per_call(kDefaultMaxPendingWritesPerCall);
  }
  if (c->session_grace_ms() == 0) c->set_session_grace_ms(kDefaultSessionGraceMs);
  if (c->max_messages_per_second() == 0) {
    c->set_max_messages_per_second(kDefaultMaxMessagesPerSecond);
  }
  if (c->message_burst() == 0) {
    c->set_message_burst(kDefaultMessageBurstFactor * c->max_messages_per_second());
  }
  if (c->rate_limit_strikes() == 0) c->set_rate_limit_strikes(kDefaultRateLimitStrikes);
  if (c->max_connections() == 0) c->set_max_connections(kDefaultMaxConnections);
  if (c->max_connections_per_ip() == 0) c->set_max_connections_per_ip(kDefaultMaxConnectionsPerIp);
  if (c->max_outbound_queue_bytes() == 0) {
    c->set_max_outbound_queue_bytes(kDefaultMaxOutboundQueueBytes);
  }
  if (c->drain_timeout_ms() == 0) c->set_drain_timeout_ms(kDefaultDrainTimeoutMs);
  if (c->drain_retry_after_ms() == 0) c->set_drain_retry_after_ms(kDefaultDrainRetryAfterMs);
  if (c->max_request_metadata_bytes() == 0) {
    c->set_max_request_metadata_bytes(kDefaultMaxRequestMetadataBytes);
  }
  if (c->upstream_channels() == 0) c->set_upstream_channels(kDefaultUpstreamChannels);
  if (c->resume_buffer_frames() == 0) c->set_resume_buffer_frames(kDefaultResumeBufferFrames);
  if (c->resume_buffer_bytes() == 0) c->set_resume_buffer_bytes(kDefaultResumeBufferBytes);
  if (c->resume_buffer_age_ms() == 0) c->set_resume_buffer_age_ms(kDefaultResumeBufferAgeMs);
  if (c->max_outbound_buffer_bytes() == 0) {
    c->set_max_outbound_buffer_bytes(kDefaultMaxOutboundBufferBytes);
  }
  if (c->max_connections_per_user() == 0) {
    c->set_max_connections_per_user(kDefaultMaxConnectionsPerUser);
  }
  ApplyDefaults(c->mutable_channels());
  ApplyDefaults(c->mutable_broker());
  if (c->batch().max_frames() > 1 && c->batch().max_delay_ms() == 0) {
    c->mutable_batch()->set_max_delay_ms(kDefaultBatchMaxDelayMs);
  }
  for (v1::RetryPolicy& policy : *c->mutable_retry_policies()) ApplyDefaults(&policy);
  ApplyDefaults(c->mutable_retry_throttling());
  for (v1::Route& route : *c->mutable_routes()) {
    if (route.has_tls()) ApplyDefaults(route.mutable_tls());
  }
  if (c->has_tls()) ApplyDefaults(c->mutable_tls());
  if (c->auth().has_service()) ApplyDefaults(c->mutable_auth()->mutable_service());
  if (c->auth().has_jwt()) ApplyDefaults(c->mutable_auth()->mutable_jwt());
}

absl::Status Validate(const BridgeConfig& c) {
  if (auto hp = ParseHostPort(c.listen()); !hp.ok()) {
    return FieldError("listen", std::string(hp.status().message()));
  }
  if (!c.admin_listen().empty()) {
    if (auto hp = ParseHostPort(c.admin_listen()); !hp.ok()) {
      return FieldError("admin_listen", std::string(hp.status().message()));
    }
  }
  if (!c.control_listen().empty()) {
    if (auto hp = ParseHostPort(c.control_listen()); !hp.ok()) {
      return FieldError("control_listen", std::string(hp.status().message()));
    }
  }
  if (c.broker().type() != "memory" && c.broker().type() != "redis") {
    return FieldError("broker.type",
                      absl::StrCat("memory or redis, got \"", c.broker().type(), "\""));
  }
  if (c.broker().type() == "redis" && !absl::StartsWith(c.broker().redis_address(), "unix:")) {
    if (auto hp = ParseHostPort(c.broker().redis_address()); !hp.ok()) {
      return FieldError("broker.redis_address", std::string(hp.status().message()));
    }
  }
  for (int i = 0; i < c.channels().namespaces_size(); ++i) {
    const v1::ChannelNamespace& ns = c.channels().namespaces(i);
    const std::string field = absl::StrCat("channels.namespaces[", i, "]");
    if (ns.pattern().empty()) return FieldError(absl::StrCat(field, ".pattern"), "must be set");
    if (!ns.method().empty() && ns.method().find('/') == std::string::npos) {
      return FieldError(absl::StrCat(field, ".method"),
                        absl::StrCat("must be a full method name like demo.v1.Echo/Ticks, got \"",
                                     ns.method(), "\""));
    }
  }
  if (c.batch().max_frames() > 1024) return FieldError("batch.max_frames", "must be at most 1024");
  if (c.batch().max_delay_ms() > 1000) {
    return FieldError("batch.max_delay_ms", "must be at most 1000");
  }
  if (c.has_tls()) {
    if (c.tls().cert_file().empty()) return FieldError("tls.cert_file", "must be set");
    if (c.tls().key_file().empty()) return FieldError("tls.key_file", "must be set");
  }
  if (c.auth().has_service()) {
    if (c.auth().has_jwt()) {
      return FieldError("auth", "set jwt or service, not both");
    }
    if (c.auth().service().target().empty()) {
      return FieldError("auth.service.target", "must be set");
    }
    for (const std::string& h : c.auth().service().forward_headers()) {
      if (h.empty() || h != absl::AsciiStrToLower(h)) {
        return FieldError("auth.service.forward_headers",
                          absl::StrCat("lower-case header names, got \"", h, "\""));
      }
    }
  }
  if (!log::ParseLevel(c.log_level())) {
    return FieldError("log_level",
                      absl::StrCat("debug, info, warn, error or off, got \"", c.log_level(), "\""));
  }
  if (!log::ParseFormat(c.log_format())) {
    return FieldError("log_format", absl::StrCat("json or text, got \"", c.log_format(), "\""));
  }
  if (c.path().empty() || c.path()[0] != '/') {
    return FieldError("path", absl::StrCat("must start with '/', got \"", c.path(), "\""));
  }
  if (c.io_threads() > 256) return FieldError("io_threads", "must be at most 256");
  if (c.heartbeat_timeout_ms() < c.heartbeat_interval_ms()) {
    return FieldError("heartbeat_timeout_ms",
                      absl::StrCat("must be at least heartbeat_interval_ms (",
                                   c.heartbeat_interval_ms(), "), got ", c.heartbeat_timeout_ms()));
  }
  if (c.max_frame_bytes() < 256) return FieldError("max_frame_bytes", "must be at least 256");
  if (c.max_frame_bytes() > (uint64_t{1} << 30)) {
    return FieldError("max_frame_bytes", "must be at most 1073741824 (1 GiB)");
  }
  if (!c.default_method().empty() && c.default_method().find('/') == std::string::npos) {
    return FieldError("default_method",
                      absl::StrCat("must be a full method name like demo.v1.Echo/Say, got \"",
                                   c.default_method(), "\""));
  }
  if (c.default_call_timeout_ms() > c.max_call_timeout_ms()) {
    return FieldError(
        "default_call_timeout_ms",
        absl::StrCat("must be at most max_call_timeout_ms (", c.max_call_timeout_ms(), ")"));
  }
  for (int i = 0; i < c.routes_size(); ++i) {
    const auto& r = c.routes(i);
    const std::string field = absl::StrCat("routes[", i, "]");
    if (r.service().empty()) return FieldError(field + ".service", "empty");
    if (r.target().empty()) return FieldError(field + ".target", "empty");
    if (r.tls().cert_file().empty() != r.tls().key_file().empty()) {
      return FieldError(field + ".tls", "cert_file and key_file go together");
    }
    for (int j = 0; j < i; ++j) {
      const auto& other = c.routes(j);
      if (other.target() == r.target() &&
          other.tls().SerializeAsString() != r.tls().SerializeAsString()) {
        return FieldError(field + ".tls", absl::StrCat("routes[", j, "] to the same target ",
                                                       r.target(), " has other TLS settings"));
      }
    }
  }
  for (int i = 0; i < c.descriptor_sets_size(); ++i) {
    if (c.descriptor_sets(i).empty()) {
      return FieldError(absl::StrCat("descriptor_sets[", i, "]"), "empty path");
    }
  }
  if (c.auth().required() && !c.auth().has_jwt() && !c.auth().has_service()) {
    return FieldError("auth.required", "needs auth.jwt to check tokens with");
  }
  for (const std::string& origin : c.allowed_origins()) {
    if (origin.empty()) return FieldError("allowed_origins", "empty entry");
  }
  if (c.max_outbound_queue_bytes() < c.max_outbound_buffer_bytes()) {
    return FieldError("max_outbound_queue_bytes",
                      "must be at least max_outbound_buffer_bytes (replies pause there first)");
  }
  for (const std::string& h : c.forward_request_headers()) {
    if (h.empty() || h != absl::AsciiStrToLower(h)) {
      return FieldError("forward_request_headers",
                        absl::StrCat("\"", h, "\" must be a non-empty lower-case header name"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Route>> ParseRoutes(std::string_view text) {
  std::vector<v1::Route> routes;
  for (absl::string_view item : absl::StrSplit(Sv(text), ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos || eq == 0 || eq + 1 == item.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("route \"", item, "\" is not SERVICE=TARGET (demo.v1.Echo=host:port)"));
    }
    v1::Route r;
    r.set_service(std::string(item.substr(0, eq)));
    r.set_target(std::string(item.substr(eq + 1)));
    routes.push_back(std::move(r));
  }
  return routes;
}

absl::StatusOr<HostPort> ParseHostPort(std::string_view text) {
  HostPort out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("expected [IPV6]:PORT, got \"", Sv(text), "\""));
    }
    out.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(absl::StrCat("expected HOST:PORT, got \"", Sv(text), "\""));
    }
    out.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  uint32_t p;
  if (!absl::SimpleAtoi(Sv(port), &p) || p > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port must be a number from 0 to 65535, got \"", Sv(port), "\""));
  }
  out.port = static_cast<uint16_t>(p);
  return out;
}

}  // namespace bridge::config
