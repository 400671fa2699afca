// The bridge's configuration: loading a BridgeConfig file, filling in defaults, validating.
// Built once at start-up and then shared read-only (const BridgeConfig&). Any thread.
//
// File format: protobuf text format (textproto), e.g.
//
//   listen: "0.0.0.0:8080"
//   heartbeat_interval_ms: 15000
//
// Chosen because its parser names the line, column and field of every mistake and refuses
// unknown fields, and because the schema (proto/bridge/v1/config.proto) documents it.
#ifndef BRIDGE_CONFIG_CONFIG_H_
#define BRIDGE_CONFIG_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bridge/config/defaults.h"
#include "proto/bridge/v1/config.pb.h"

namespace bridge::config {

using ::bridge::v1::BridgeConfig;

// Parses protobuf text format into `message`, refusing unknown fields. Errors name `origin`
// (a file), the line, the column and the field.
absl::Status ParseTextMessage(std::string_view text, std::string_view origin,
                              google::protobuf::Message* message);
// Reads `path` and parses it as ParseTextMessage does; NOT_FOUND when it cannot be read.
absl::Status LoadTextMessageFile(const std::string& path, google::protobuf::Message* message);

// Parses a text-format BridgeConfig. Errors name the file, line, column and field.
absl::StatusOr<BridgeConfig> ParseConfigText(std::string_view text, std::string_view origin);

// Reads and parses `path`.
absl::StatusOr<BridgeConfig> LoadConfigFile(const std::string& path);

// Fills every unset field with its default (bridge/config/defaults.h). io_threads defaults to
// the number of cores. Sections that are absent stay absent (no `tls`, no `auth.jwt`): their
// presence switches a feature on.
void ApplyDefaults(BridgeConfig* config);
// The same for one section, as ApplyDefaults(BridgeConfig*) applies it to each section present;
// for parts built from a section alone (a JwtVerifier from a JwtConfig, ...).
void ApplyDefaults(v1::ChannelsConfig* channels);
void ApplyDefaults(v1::BrokerConfig* broker);
void ApplyDefaults(v1::ServerTls* tls);
void ApplyDefaults(v1::AuthServiceConfig* service);
void ApplyDefaults(v1::JwtConfig* jwt);
void ApplyDefaults(v1::RouteTls* tls);
void ApplyDefaults(v1::RetryPolicy* policy);
void ApplyDefaults(v1::RetryThrottling* throttling);

// Checks every field of a config with defaults applied; the error names the field.
absl::Status Validate(const BridgeConfig& config);

// Parses --routes: "demo.v1.Echo=127.0.0.1:50051,*=dns:///backend:50051".
absl::StatusOr<std::vector<v1::Route>> ParseRoutes(std::string_view text);

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// "127.0.0.1:8080", "[::1]:0", "localhost:9000".
absl::StatusOr<HostPort> ParseHostPort(std::string_view text);

}  // namespace bridge::config

#endif  // BRIDGE_CONFIG_CONFIG_H_
