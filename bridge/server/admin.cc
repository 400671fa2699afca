#include "bridge/server/admin.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/transcode/json_text.h"

namespace bridge::server {
namespace {

struct Row {
  std::string conversation_id, client_id, user, last_error;
  absl::Time started, last_error_at;
  uint64_t frames_in, frames_out, calls, calls_ended, call_errors;
  int64_t upstream_micros;
};

}  // namespace

std::string ConnectionsJson(const std::vector<std::shared_ptr<session::SessionStats>>& sessions,
                            absl::Time now, bool full_ids) {
  std::vector<Row> rows;
  for (const auto& s : sessions) {
    Row r;
    {
      absl::MutexLock lock(&s->mu);
      if (s->conversation_id.empty()) continue;  // still in its handshake
      r.conversation_id = full_ids || s->conversation_id.size() <= kShownConversationIdChars
                              ? s->conversation_id
                              : s->conversation_id.substr(0, kShownConversationIdChars) + "...";
      r.client_id = s->client_id;
      r.user = s->user;
      r.last_error = s->last_error;
      r.started = s->started;
      r.last_error_at = s->last_error_at;
    }
    r.frames_in = s->frames_in.load(std::memory_order_relaxed);
    r.frames_out = s->frames_out.load(std::memory_order_relaxed);
    r.calls = s->calls.load(std::memory_order_relaxed);
    r.calls_ended = s->calls_ended.load(std::memory_order_relaxed);
    r.call_errors = s->call_errors.load(std::memory_order_relaxed);
    r.upstream_micros = s->upstream_micros.load(std::memory_order_relaxed);
    rows.push_back(std::move(r));
  }
  std::sort(rows.begin(), rows.end(),
            [](const Row& a, const Row& b) { return a.conversation_id < b.conversation_id; });

  std::string out;
  transcode::JsonWriter w(&out);
  {
    transcode::JsonObject top(w);
    top.Str("now", absl::FormatTime(absl::RFC3339_full, now, absl::UTCTimeZone()));
    top.Array("connections", rows, [now](transcode::JsonObject& o, const Row& r) {
      o.Str("conversationId", r.conversation_id)
          .Str("clientId", r.client_id)
          .Str("user", r.user)
          .Int("uptimeMs", absl::ToInt64Milliseconds(now - r.started))
          .Uint("framesIn", r.frames_in)
          .Uint("framesOut", r.frames_out)
          .Uint("calls", r.calls)
          .Uint("callsEnded", r.calls_ended)
          .Uint("callErrors", r.call_errors)
          .Double("avgUpstreamMs", r.calls_ended == 0
                                       ? 0.0
                                       : static_cast<double>(r.upstream_micros) / 1000.0 /
                                             static_cast<double>(r.calls_ended))
          .Str("lastError", r.last_error)
          .Int("lastErrorAgoMs",
               r.last_error.empty() ? -1 : absl::ToInt64Milliseconds(now - r.last_error_at));
    });
  }
  w.Char('\n');
  w.Finish();
  return out;
}

const std::string& DashboardHtml() {
  static const std::string* page = new std::string(R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>bridge: connections</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
  h1 { font-size: 1.3em; margin: 0 0 .3em; }
  #summary { color: #555; margin-bottom: 1em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e3e3e3; }
  th { background: #f4f4f4; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  tr.errors td { background: #fff4f4; }
  .muted { color: #999; }
  #status.down { color: #b00; }
</style>
</head>
<body>
<h1>Bridge connections</h1>
<div id="summary"><span id="count">0</span> sessions &middot; updated <span id="updated">never</span>
  &middot; <span id="status">connecting</span></div>
<table>
  <thead><tr>
    <th>conversation</th><th>client</th><th>user</th><th>uptime</th>
    <th>msgs/s in</th><th>msgs/s out</th><th>calls</th><th>error rate</th>
    <th>avg upstream</th><th>last error</th>
  </tr></thead>
  <tbody id="rows"></tbody>
</table>
<script>
"use strict";
const previous = new Map();  // conversationId -> {at, framesIn, framesOut}
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}
function duration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}
function render(data) {
  const now = Date.now();
  const tbody = document.getElementById("rows");
  tbody.textContent = "";
  const seen = new Set();
  for (const c of data.connections) {
    seen.add(c.conversationId);
    const before = previous.get(c.conversationId);
    let rateIn = "-", rateOut = "-";
    if (before) {
      const dt = (now - before.at) / 1000;
      if (dt > 0) {
        rateIn = ((c.framesIn - before.framesIn) / dt).toFixed(1);
        rateOut = ((c.framesOut - before.framesOut) / dt).toFixed(1);
      }
    }
    previous.set(c.conversationId, {at: now, framesIn: c.framesIn, framesOut: c.framesOut});
    const tr = document.createElement("tr");
    tr.dataset.conversation = c.conversationId;
    if (c.callErrors > 0) tr.className = "errors";
    cell(tr, c.conversationId);
    cell(tr, c.clientId);
    cell(tr, c.user || "anonymous", c.user ? "" : "muted");
    cell(tr, duration(c.uptimeMs), "num");
    cell(tr, rateIn, "num");
    cell(tr, rateOut, "num");
    cell(tr, String(c.calls), "num calls");
    cell(tr, c.callsEnded ? (100 * c.callErrors / c.callsEnded).toFixed(1) + " %" : "-", "num");
    cell(tr, c.callsEnded ? c.avgUpstreamMs.toFixed(2) + " ms" : "-", "num");
    cell(tr, c.lastError ? c.lastError + " (" + duration(c.lastErrorAgoMs) + " ago)" : "",
         "error");
    tbody.appendChild(tr);
  }
  for (const id of [...previous.keys()]) if (!seen.has(id)) previous.delete(id);
  document.getElementById("count").textContent = String(data.connections.length);
  document.getElementById("updated").textContent = new Date(now).toLocaleTimeString();
  const status = document.getElementById("status");
  status.textContent = "live";
  status.className = "";
}
async function poll() {
  try {
    const response = await fetch("connections", {cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
  } catch (e) {
    const status = document.getElementById("status");
    status.textContent = "unreachable: " + e.message;
    status.className = "down";
  }
}
poll();
setInterval(poll, 1000);
</script>
</body>
</html>
)html");
  return *page;
}

HttpAnswer AnswerAdmin(std::string_view resource, bool admin_port, const std::string& ws_path,
                       const AdminHooks& hooks) {
  HttpAnswer a;
  if (resource == "/healthz") {
    a.body = "ok\n";
    a.headers = {{"Content-Type", "text/plain"}};
  } else if (resource == "/readyz") {
    const bool ready = !hooks.draining();
    a.status = ready ? 200 : 503;
    a.body = ready ? "ready\n" : "draining\n";
    a.headers = {{"Content-Type", "text/plain"}};
  } else if (resource == "/metrics") {
    a.body = hooks.metrics();
    a.headers = {{"Content-Type", "text/plain; version=0.0.4"}};
  } else if (resource == "/connections") {
    a.body = ConnectionsJson(hooks.sessions(), hooks.now(), /*full_ids=*/admin_port);
    a.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
  } else if (resource == "/drain" && admin_port) {
    // Only where the operator alone can reach: on the WebSocket port any client could stop
    // the bridge. What SIGTERM does (a Kubernetes preStop hook can call it): readyz false, no new
    // connections, sessions closed with 1001 once their calls end. The process exits on SIGTERM.
    hooks.drain();
    a.status = 202;
    a.body = "draining\n";
    a.headers = {{"Content-Type", "text/plain"}};
  } else if (resource == "/dashboard") {
    a.body = DashboardHtml();
    a.headers = {{"Content-Type", "text/html; charset=utf-8"}};
  } else {
    a.status = 404;
    a.body = admin_port ? "not found; try /metrics, /healthz, /readyz, /connections, /dashboard\n"
             : resource == "/drain"
                 ? "not found; /drain answers on the admin port only (admin_listen)\n"
                 : absl::StrCat("not found; WebSocket clients connect to ", ws_path, "\n");
  }
  return a;
}

}  // namespace bridge::server
