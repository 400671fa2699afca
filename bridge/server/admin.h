// What the admin endpoints answer besides /metrics: /connections (JSON, one object per live
// session) and /dashboard (a page that polls /connections and shows, per connection, the user,
// uptime, upstream latency, messages per second, error rate and last error). Pure functions;
// any thread.
#ifndef BRIDGE_SERVER_ADMIN_H_
#define BRIDGE_SERVER_ADMIN_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "bridge/session/session.h"

namespace bridge::server {

// {"now": "...", "connections": [{"conversationId", "clientId", "user", "uptimeMs",
// "framesIn", "framesOut", "calls", "callsEnded", "callErrors", "avgUpstreamMs", "lastError",
// "lastErrorAgoMs"}, ...]}, ordered by conversation id. Sessions still in their handshake are
// left out.
std::string ConnectionsJson(const std::vector<std::shared_ptr<session::SessionStats>>& sessions,
                            absl::Time now);

// The dashboard page: HTML with its script inline, no other resource.
const std::string& DashboardHtml();

}  // namespace bridge::server

#endif  // BRIDGE_SERVER_ADMIN_H_
