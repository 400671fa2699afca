// The admin endpoints (/healthz, /readyz, /metrics, /connections, /drain, /dashboard), on the
// admin port (admin_listen) or, without one, on the WebSocket port: what each answers, apart
// from the socket. /connections is JSON, one object per live session; /dashboard a page that
// polls /connections and shows, per connection, the user, uptime, upstream latency, messages
// per second, error rate and last error. Any thread.
#ifndef BRIDGE_SERVER_ADMIN_H_
#define BRIDGE_SERVER_ADMIN_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "bridge/session/session.h"

namespace bridge::server {

// {"now": "...", "connections": [{"conversationId", "clientId", "user", "uptimeMs",
// "framesIn", "framesOut", "calls", "callsEnded", "callErrors", "avgUpstreamMs", "lastError",
// "lastErrorAgoMs"}, ...]}, ordered by conversation id. Sessions still in their handshake are
// left out. A conversation id is what a resume presents, so off the admin port (`full_ids`
// false: anyone who reaches the WebSocket port can read it) each is cut to its first
// kShownConversationIdChars characters and "...": enough to tell sessions apart, too little to
// resume one.
inline constexpr size_t kShownConversationIdChars = 10;
std::string ConnectionsJson(const std::vector<std::shared_ptr<session::SessionStats>>& sessions,
                            absl::Time now, bool full_ids);

// The dashboard page: HTML with its script inline, no other resource.
const std::string& DashboardHtml();

// One HTTP answer.
struct HttpAnswer {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// What the admin endpoints read and do; every function is set.
struct AdminHooks {
  std::function<bool()> draining;
  std::function<std::string()> metrics;  // the Prometheus text
  std::function<std::vector<std::shared_ptr<session::SessionStats>>()> sessions;
  std::function<void()> drain;  // what SIGTERM does; returns at once
  std::function<absl::Time()> now;
};

// The answer to a request for `resource`. On the WebSocket port (`admin_port` false) an
// unknown resource's answer names where WebSocket clients connect (`ws_path`).
HttpAnswer AnswerAdmin(std::string_view resource, bool admin_port, const std::string& ws_path,
                       const AdminHooks& hooks);

}  // namespace bridge::server

#endif  // BRIDGE_SERVER_ADMIN_H_
