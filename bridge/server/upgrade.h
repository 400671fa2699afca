// The checks of a WebSocket upgrade request, apart from the server so they can be tested and
// fuzzed alone: the path, the Origin allow-list, the token (from `Authorization: Bearer` or the
// subprotocol pair `bearer, <token>`), and the subprotocol the bridge answers with.
// Pure functions; any thread.
#ifndef BRIDGE_SERVER_UPGRADE_H_
#define BRIDGE_SERVER_UPGRADE_H_

#include <string>
#include <string_view>
#include <vector>

#include "bridge/protocol/frame_codec.h"
#include "proto/bridge/v1/config.pb.h"

namespace bridge::server {

struct UpgradeRequest {
  std::string_view resource;       // "/ws?x=1"
  std::string_view origin;         // the Origin header; empty when absent
  std::string_view authorization;  // the Authorization header; empty when absent
  // Sec-WebSocket-Protocol, split into its values in order.
  std::vector<std::string> subprotocols;
  bool draining = false;
};

enum class UpgradeRefusal {
  kNone,
  kNotFound,  // another path: HTTP 404
  kDraining,  // HTTP 503
  kOrigin,    // an Origin not allowed: HTTP 403
};

struct UpgradeDecision {
  UpgradeRefusal refusal = UpgradeRefusal::kNone;
  // The HTTP status of a refusal (404, 503, 403); 0 when accepted.
  int http_status = 0;
  std::string token;        // empty when none was given
  std::string subprotocol;  // to echo; empty: none (JSON)
  protocol::Encoding encoding = protocol::Encoding::kJson;
};

UpgradeDecision DecideUpgrade(const UpgradeRequest& request, const v1::BridgeConfig& config);

// Whether a browser at `origin` may connect: no allow-list, no Origin (not a browser), "*", an
// exact match, or "https://*.example.com" for any subdomain of example.com.
bool OriginAllowed(std::string_view origin, const v1::BridgeConfig& config);

}  // namespace bridge::server

#endif  // BRIDGE_SERVER_UPGRADE_H_
