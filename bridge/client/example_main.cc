// Calls demo.v1.Echo/Say through a running bridge and prints the reply. With the demo up
// (`bazel run //:demo`):
//
//   bazel run //bridge/client:example
//   bazel run //bridge/client:example -- ws://127.0.0.1:8080/ws '{"text":"hello"}'
#include <chrono>
#include <cstdio>
#include <future>
#include <string>

#include "bridge/client/websocket_client.h"

int main(int argc, char** argv) {
  using bridge::client::CallOutcome;
  bridge::client::ClientOptions options;
  options.url = argc > 1 ? argv[1] : "ws://127.0.0.1:8080/ws";
  options.client_id = "example";
  options.reconnect.max_attempts = 2;
  const std::string payload = argc > 2 ? argv[2] : R"({"text":"hello from C++"})";

  bridge::client::WebSocketClient ws(options);
  bridge::client::ClientHandlers handlers;
  handlers.on_open = [](const bridge::client::SessionInfo& info) {
    std::printf("connected: conversation %s\n", info.conversation_id.c_str());
  };
  handlers.on_reconnecting = [](int attempt, absl::Duration delay) {
    std::printf("reconnecting: attempt %d in %s\n", attempt, absl::FormatDuration(delay).c_str());
  };
  ws->set_handlers(handlers);
  ws->Connect();

  std::future<CallOutcome> reply = ws->CallFuture("demo.v1.Echo/Say", payload);
  if (reply.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    std::fprintf(stderr, "no reply from %s within 20 s\n", options.url.c_str());
    return 1;
  }
  const CallOutcome outcome = reply.get();
  if (!outcome.ok()) {
    std::fprintf(stderr, "call failed: %s\n", outcome.status.ToString().c_str());
    return 1;
  }
  std::printf("%s\n", outcome.payload.c_str());
  ws->Close();
  return 0;
}
