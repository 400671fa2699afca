// Upgrade requests as bytes off the wire: websocketpp's HTTP request parser (the one the bridge
// runs), the Sec-WebSocket-Protocol list as websocketpp's hybi13 processor reads it, then the
// bridge's upgrade checks (bridge/server/upgrade.h) under an allow-list with a wildcard. No
// crash or sanitizer report; every answer is one the protocol allows: accepted (with a
// subprotocol the bridge speaks, or none) or refused with 403, 404 or 503.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bridge/server/upgrade.h"
#include "websocketpp/http/request.hpp"

namespace {

bridge::v1::BridgeConfig MakeConfig() {
  bridge::v1::BridgeConfig config;
  config.set_path("/ws");
  config.add_allowed_origins("https://app.example.com");
  config.add_allowed_origins("https://*.example.org");
  return config;
}

[[noreturn]] void Wrong(const char* what) {
  std::fprintf(stderr, "MISMATCH %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bridge::v1::BridgeConfig config = MakeConfig();
  websocketpp::http::parser::request request;
  try {
    request.consume(reinterpret_cast<const char*>(data), size);
  } catch (const websocketpp::http::exception&) {
    return 0;  // websocketpp answers these with 400 before the bridge sees them
  }
  if (!request.ready()) return 0;
  std::vector<std::string> subprotocols;
  websocketpp::http::parameter_list params;
  if (!request.get_header("Sec-WebSocket-Protocol").empty() &&
      !request.get_header_as_plist("Sec-WebSocket-Protocol", params)) {
    for (const auto& p : params) subprotocols.push_back(p.first);
  }
  const std::string origin = request.get_header("Origin");
  const std::string authorization = request.get_header("Authorization");
  for (bool draining : {false, true}) {
    bridge::server::UpgradeRequest r{request.get_uri(), origin, authorization, subprotocols,
                                     draining};
    const bridge::server::UpgradeDecision d = bridge::server::DecideUpgrade(r, config);
    if (d.http_status != 0 && d.http_status != 403 && d.http_status != 404 &&
        d.http_status != 503) {
      Wrong("an HTTP status outside 403, 404, 503");
    }
    if (draining && d.http_status == 0) Wrong("accepted while draining");
    if (d.http_status == 0 && !d.subprotocol.empty() &&
        d.subprotocol != bridge::protocol::kJsonSubprotocol &&
        d.subprotocol != bridge::protocol::kBinarySubprotocol) {
      Wrong("a subprotocol the bridge does not speak");
    }
  }
  return 0;
}
