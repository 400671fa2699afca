// The defaults of BridgeConfig: the one home of every value a field takes when it is left unset
// (0 or empty). config::ApplyDefaults fills a loaded config from these, and the option structs
// that parts of the bridge take (SessionOptions, RedisBrokerOptions, Admission::Limits, ...)
// initialize their members from them, so a part built in a test without a config file behaves
// as one built from an empty config. proto/bridge/v1/config.proto documents each default
// beside its field; tests/bridge/config/config_test.cc checks that the two agree.
//
// Header only, constants only: no dependencies, any thread.
#ifndef BRIDGE_CONFIG_DEFAULTS_H_
#define BRIDGE_CONFIG_DEFAULTS_H_

#include <cstdint>
#include <string_view>

namespace bridge::config {

// Listener, handshake and heartbeat.
inline constexpr std::string_view kDefaultListen = "127.0.0.1:8080";
inline constexpr std::string_view kDefaultPath = "/ws";
inline constexpr std::string_view kDefaultLogLevel = "info";
inline constexpr std::string_view kDefaultLogFormat = "json";
inline constexpr uint32_t kDefaultHandshakeTimeoutMs = 10000;
inline constexpr uint32_t kDefaultHeartbeatIntervalMs = 30000;
inline constexpr uint64_t kDefaultMaxFrameBytes = 1 << 20;
inline constexpr uint32_t kDefaultShutdownGraceMs = 5000;

// Calls.
inline constexpr uint32_t kDefaultCallTimeoutMs = 30000;
inline constexpr uint32_t kDefaultMaxCallTimeoutMs = 300000;
inline constexpr uint32_t kDefaultMaxCallsPerSession = 100;
inline constexpr uint32_t kDefaultMaxPendingWritesPerCall = 64;
inline constexpr uint64_t kDefaultMaxOutboundBufferBytes = 1 << 20;
inline constexpr uint32_t kDefaultMaxRequestMetadataBytes = 8192;
inline constexpr uint32_t kDefaultUpstreamChannels = 2;

// Retries (gRFC A6) and their budget.
inline constexpr uint32_t kDefaultRetryInitialBackoffMs = 100;
inline constexpr uint32_t kDefaultRetryMaxBackoffMs = 10000;
inline constexpr double kDefaultRetryBackoffMultiplier = 2.0;
inline constexpr std::string_view kDefaultRetryableStatus = "UNAVAILABLE";
inline constexpr uint32_t kDefaultRetryMaxTokens = 10;
inline constexpr double kDefaultRetryTokenRatio = 0.1;

// Sessions: resume, rate limit, slow consumers, drain.
inline constexpr uint32_t kDefaultSessionGraceMs = 30000;
inline constexpr uint32_t kDefaultResumeBufferFrames = 1024;
inline constexpr uint64_t kDefaultResumeBufferBytes = 1 << 20;
inline constexpr uint32_t kDefaultResumeBufferAgeMs = 60000;
inline constexpr uint32_t kDefaultMaxMessagesPerSecond = 100;
// message_burst defaults to this many times max_messages_per_second.
inline constexpr uint32_t kDefaultMessageBurstFactor = 2;
inline constexpr uint32_t kDefaultRateLimitStrikes = 10;
inline constexpr uint64_t kDefaultMaxOutboundQueueBytes = 8 << 20;
inline constexpr uint32_t kDefaultDrainTimeoutMs = 10000;
inline constexpr uint32_t kDefaultDrainRetryAfterMs = 1000;
inline constexpr uint32_t kDefaultBatchMaxDelayMs = 5;

// Admission.
inline constexpr uint32_t kDefaultMaxConnections = 10000;
inline constexpr uint32_t kDefaultMaxConnectionsPerIp = 1000;
inline constexpr uint32_t kDefaultMaxConnectionsPerUser = 5;

// Channels and the broker.
inline constexpr uint32_t kDefaultHistorySize = 100;
inline constexpr uint32_t kDefaultHistoryTtlMs = 300000;
inline constexpr uint32_t kDefaultMaxChannelsPerSession = 128;
inline constexpr uint32_t kDefaultMaxChannelLength = 255;
inline constexpr bool kDefaultChannelPresence = true;
inline constexpr std::string_view kDefaultBrokerType = "memory";
inline constexpr std::string_view kDefaultRedisAddress = "127.0.0.1:6379";
inline constexpr std::string_view kDefaultRedisPrefix = "bridge";
inline constexpr uint32_t kDefaultPresenceTtlMs = 30000;

// TLS: how often the server's certificate files are looked at, and an upstream's reloaded.
inline constexpr uint32_t kDefaultTlsReloadCheckMs = 1000;
inline constexpr uint32_t kDefaultRouteTlsReloadIntervalS = 60;

// Client authentication.
inline constexpr uint32_t kDefaultAuthServiceTimeoutMs = 2000;
inline constexpr uint32_t kDefaultJwtClockSkewMs = 30000;
inline constexpr std::string_view kDefaultJwtUserClaim = "sub";
inline constexpr std::string_view kDefaultJwtMethodsClaim = "methods";
inline constexpr std::string_view kDefaultJwtChannelsClaim = "channels";

}  // namespace bridge::config

#endif  // BRIDGE_CONFIG_DEFAULTS_H_
