// The pages and scripts the bridge serves itself on its WebSocket port (GET, same origin as the
// WebSocket, so a page can connect without CORS): the JavaScript client of docs/protocol.md (the
// module bridge/web/client/bridge-client.js at /bridge-client.mjs, and the classic script made
// from it at /bridge-client.js) and the demo pages of bridge/web/static, built into the binary.
#ifndef BRIDGE_WEB_ASSETS_H_
#define BRIDGE_WEB_ASSETS_H_

#include <string_view>

namespace bridge::web {

struct Asset {
  std::string_view path;  // "/chat", "/bridge-client.js"
  std::string_view content_type;
  std::string_view body;
};

// The asset served at `path` (the request's path, without its query), or null.
const Asset* FindAsset(std::string_view path);

}  // namespace bridge::web

#endif  // BRIDGE_WEB_ASSETS_H_
