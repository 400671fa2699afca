// The fault proxy's --config file: a harness.v1.FaultConfig in protobuf text format, e.g.
//
//   proxies {
//     name: "bridge" listen: "127.0.0.1:0" upstream: "127.0.0.1:8080"
//     toxics { type: "ws_close" attributes { code: 1012 after_ms: 5000 } }
//   }
//
// Parsing only: the errors name the line, column and field of a syntax mistake or unknown
// field; ProxyRegistry::Load checks the values. Pure functions; any thread.
#ifndef HARNESS_PROXY_FAULT_CONFIG_H_
#define HARNESS_PROXY_FAULT_CONFIG_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "proto/harness/v1/fault.pb.h"

namespace harness::proxy {

// `origin` (a file name) starts every error message.
absl::StatusOr<v1::FaultConfig> ParseFaultConfig(std::string_view text, std::string_view origin);

absl::StatusOr<v1::FaultConfig> LoadFaultConfigFile(const std::string& path);

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_FAULT_CONFIG_H_
