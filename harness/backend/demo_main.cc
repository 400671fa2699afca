// The demo: the bridge and the demo backend in one process, with an embedded configuration and
// descriptor set, so any WebSocket client can call demo.v1.Echo with no set-up:
//
//   {"type":"message","messageId":"1","method":"demo.v1.Echo/Say","payload":{"text":"hi"}}
//
// --listen sets the bridge's address (default 127.0.0.1:8080); the backend takes a free
// loopback port. --config adds a BridgeConfig on top of the embedded one.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "bridge/app/bridge_app.h"
#include "bridge/app/signals.h"
#include "bridge/common/log.h"
#include "bridge/config/config.h"
#include "harness/backend/backend_server.h"
#include "harness/backend/demo_bridge.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:8080", "WebSocket listen address HOST:PORT.");
ABSL_FLAG(std::string, backend_listen, "127.0.0.1:0", "The demo backend's gRPC address.");
ABSL_FLAG(std::string, admin_listen, "",
          "Admin HTTP listener HOST:PORT (/metrics, /healthz, /readyz, /dashboard, /drain).");
ABSL_FLAG(std::string, config, "", "Optional BridgeConfig (text format) merged over the demo's.");

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "demo: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  bridge::app::BlockTerminationSignals();

  auto backend = harness::backend::StartBackend(absl::GetFlag(FLAGS_backend_listen));
  if (!backend.ok()) return Fail(std::string(backend.status().message()));

  auto config = harness::backend::DemoBridgeConfig(
      backend->target(),
      "default_method: \"demo.v1.Echo/Say\"\n"
      "forward_response_metadata: \"x-echo-*\"\n"
      "retry_policies { service: \"demo.v1.Echo\" method: \"Say\" max_attempts: 3 "
      "initial_backoff_ms: 50 max_backoff_ms: 500 backoff_multiplier: 2 "
      "retryable_status_codes: \"UNAVAILABLE\" }\n");
  if (!config.ok()) return Fail(std::string(config.status().message()));
  // The io threads of a real deployment (one per core), not the fixture's two.
  config->clear_io_threads();
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    auto extra = bridge::config::LoadConfigFile(path);
    if (!extra.ok()) return Fail(std::string(extra.status().message()));
    config->MergeFrom(*extra);
  }
  config->set_listen(absl::GetFlag(FLAGS_listen));
  if (auto v = absl::GetFlag(FLAGS_admin_listen); !v.empty()) config->set_admin_listen(v);
  bridge::log::Configure(
      bridge::log::ParseLevel(config->log_level()).value_or(bridge::log::Level::kInfo),
      bridge::log::ParseFormat(config->log_format()).value_or(bridge::log::Format::kJson));
  auto app = harness::backend::StartDemoBridge(*config);
  if (!app.ok()) return Fail(std::string(app.status().message()));
  // For the banner: the values in effect (the bridge applied the defaults to its own copy).
  bridge::config::ApplyDefaults(&*config);

  auto host_port = bridge::config::ParseHostPort(config->listen());
  std::printf("demo: backend demo.v1.Echo on %s\n", backend->target().c_str());
  std::printf("bridge: listening on %s://%s:%u%s (%u io threads)\n",
              config->has_tls() ? "wss" : "ws", host_port->host.c_str(),
              static_cast<unsigned>((*app)->server().port()), config->path().c_str(),
              config->io_threads());
  if (const uint16_t admin = (*app)->server().admin_port(); admin != 0) {
    std::printf("bridge: admin on http://%s:%u (/metrics /healthz /readyz /dashboard)\n",
                bridge::config::ParseHostPort(config->admin_listen())->host.c_str(),
                static_cast<unsigned>(admin));
  }
  if (const uint16_t control = (*app)->control_port(); control != 0) {
    std::printf("bridge: control on %s:%u (bridge.v1.BridgeControl)\n",
                bridge::config::ParseHostPort(config->control_listen())->host.c_str(),
                static_cast<unsigned>(control));
  }
  std::printf(
      "demo: try {\"type\":\"connect\",\"clientId\":\"me\"} then "
      "{\"type\":\"message\",\"messageId\":\"1\",\"method\":\"demo.v1.Echo/Say\","
      "\"payload\":{\"text\":\"hi\"}}\n");
  std::fflush(stdout);

  const int signal_number = bridge::app::WaitForTerminationSignal();
  std::printf("demo: %s, closing every session with 1001\n",
              signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  std::fflush(stdout);
  (*app)->Shutdown();
  (*app)->Wait();
  app->reset();
  backend->server->Shutdown();
  std::printf("demo: stopped\n");
  return 0;
}
