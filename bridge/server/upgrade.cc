#include "bridge/server/upgrade.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "bridge/common/strings.h"

namespace bridge::server {

bool OriginAllowed(std::string_view origin_text, const v1::BridgeConfig& config) {
  const absl::string_view origin = Sv(origin_text);
  if (config.allowed_origins_size() == 0 || origin.empty()) return true;
  for (const std::string& allowed : config.allowed_origins()) {
    if (allowed == "*" || allowed == origin) return true;
    // "https://*.example.com": the scheme, then any subdomain of example.com.
    const size_t star = allowed.find("*.");
    if (star != std::string::npos && origin.size() > allowed.size() - 1 &&
        absl::StartsWith(origin, absl::string_view(allowed).substr(0, star)) &&
        absl::EndsWith(origin, absl::string_view(allowed).substr(star + 1))) {
      return true;
    }
  }
  return false;
}

UpgradeDecision DecideUpgrade(const UpgradeRequest& request, const v1::BridgeConfig& config) {
  UpgradeDecision d;
  const std::string_view path = request.resource.substr(0, request.resource.find('?'));
  if (path != config.path() || request.draining) {
    d.refusal = request.draining ? UpgradeRefusal::kDraining : UpgradeRefusal::kNotFound;
    d.http_status = request.draining ? 503 : 404;
    return d;
  }
  if (!OriginAllowed(request.origin, config)) {
    d.refusal = UpgradeRefusal::kOrigin;
    d.http_status = 403;
    return d;
  }
  // A token at the upgrade: the Authorization header, or the subprotocol pair
  // `bearer, <token>` (browsers cannot set headers). The pair is never echoed.
  const absl::string_view authorization = Sv(request.authorization);
  if (absl::StartsWithIgnoreCase(authorization, "bearer ")) {
    d.token = std::string(absl::StripAsciiWhitespace(authorization.substr(7)));
  }
  const std::vector<std::string>& offered = request.subprotocols;
  for (size_t i = 0; i + 1 < offered.size(); ++i) {
    if (absl::EqualsIgnoreCase(offered[i], "bearer")) d.token = offered[i + 1];
  }
  // The first subprotocol of the client's list that the bridge speaks; none -> JSON.
  for (const std::string& p : offered) {
    if (p == protocol::kJsonSubprotocol || p == protocol::kBinarySubprotocol) {
      d.subprotocol = p;
      d.encoding = p == protocol::kBinarySubprotocol ? protocol::Encoding::kBinary
                                                     : protocol::Encoding::kJson;
      break;
    }
  }
  return d;
}

}  // namespace bridge::server
