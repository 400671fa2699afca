// The bridge: serves the protocol of docs/protocol.md on a WebSocket and stops cleanly on
// SIGTERM/SIGINT (every client gets 1001, then exit 0).
//
// Configuration: --config=FILE (protobuf text format, proto/bridge/v1/config.proto), then the
// flags below, which override single fields.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/app/bridge_app.h"
#include "bridge/app/signals.h"
#include "bridge/common/log.h"
#include "bridge/config/config.h"
#include "bridge/server/server.h"
#include "google/protobuf/text_format.h"

ABSL_FLAG(std::string, config, "", "BridgeConfig file in protobuf text format.");
ABSL_FLAG(std::string, listen, "", "WebSocket listen address HOST:PORT. Default 127.0.0.1:8080.");
ABSL_FLAG(std::string, path, "", "WebSocket path. Default /ws.");
ABSL_FLAG(std::string, control_listen, "",
          "HOST:PORT where bridge.v1.BridgeControl is served to backends. Default: none.");
ABSL_FLAG(std::string, admin_listen, "",
          "Admin HTTP listener HOST:PORT (/metrics, /healthz, /readyz, /connections, "
          "/dashboard). Default: those are served on the WebSocket port.");
ABSL_FLAG(int64_t, io_threads, -1, "Asio io threads. Default: the number of cores.");
ABSL_FLAG(int64_t, handshake_timeout_ms, -1,
          "Time to send `connect` after the upgrade, then close 4001. Default 10000.");
ABSL_FLAG(int64_t, heartbeat_interval_ms, -1, "Heartbeat interval for clients. Default 30000.");
ABSL_FLAG(int64_t, heartbeat_timeout_ms, -1,
          "Silence from a client that closes it with 4000. Default 2 x interval.");
ABSL_FLAG(int64_t, max_frame_bytes, -1,
          "Largest message accepted; bigger closes with 1009. "
          "Default 1048576.");
ABSL_FLAG(int64_t, shutdown_grace_ms, -1,
          "On SIGTERM, time for clients to finish closing. Default 5000.");
ABSL_FLAG(std::string, default_method, "", "Method called by `message` frames with `content`.");
ABSL_FLAG(std::vector<std::string>, descriptor_sets, {},
          "Descriptor sets (protoc --include_imports --descriptor_set_out), comma-separated.");
ABSL_FLAG(std::string, routes, "",
          "Service routes: demo.v1.Echo=127.0.0.1:50051,*=dns:///backend:50051.");
ABSL_FLAG(std::string, log_level, "",
          "Least level of the structured logs on stderr: debug, info, warn, error, off. "
          "Default info.");
ABSL_FLAG(std::string, log_format, "", "Log lines as json (the default) or text.");
ABSL_FLAG(bool, check_config, false,
          "Check the configuration (the file and the flags over it), print it with its defaults "
          "in text format, and exit: 0 when valid, 2 naming the field when not. Reads no other "
          "file and connects nowhere.");
ABSL_FLAG(bool, reflect, false,
          "Fetch the descriptors of the --routes services from their targets by gRPC server "
          "reflection at start.");

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "bridge: %s\n", message.c_str());
  return 2;
}

// Copies an integer flag into the config when given; the error names the flag.
template <typename Setter>
absl::Status ApplyIntFlag(const char* name, int64_t value, int64_t max, Setter set) {
  if (value == -1) return absl::OkStatus();
  if (value < 0 || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag --", name, ": must be from 0 to ", max, ", got ", value));
  }
  set(value);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "gRPC/WebSocket bridge. Usage: bridge [--config=FILE] [--listen=HOST:PORT] [flags]");
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil without NDEBUG, which leaves Mutex deadlock detection on: a global
  // graph updated on every lock and on every Mutex's destruction (one per upstream call), about
  // a tenth of the bridge's CPU under load. It is a debugging aid; tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  bridge::v1::BridgeConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    auto loaded = bridge::config::LoadConfigFile(path);
    if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
    config = *std::move(loaded);
  }
  if (auto v = absl::GetFlag(FLAGS_listen); !v.empty()) config.set_listen(v);
  if (auto v = absl::GetFlag(FLAGS_path); !v.empty()) config.set_path(v);
  if (auto v = absl::GetFlag(FLAGS_admin_listen); !v.empty()) config.set_admin_listen(v);
  if (auto v = absl::GetFlag(FLAGS_control_listen); !v.empty()) config.set_control_listen(v);
  if (auto v = absl::GetFlag(FLAGS_log_level); !v.empty()) config.set_log_level(v);
  if (auto v = absl::GetFlag(FLAGS_log_format); !v.empty()) config.set_log_format(v);
  if (auto v = absl::GetFlag(FLAGS_default_method); !v.empty()) config.set_default_method(v);
  constexpr int64_t kMaxU32 = 0xffffffff;
  for (absl::Status s : {
           ApplyIntFlag("io_threads", absl::GetFlag(FLAGS_io_threads), 256,
                        [&](int64_t v) { config.set_io_threads(v); }),
           ApplyIntFlag("handshake_timeout_ms", absl::GetFlag(FLAGS_handshake_timeout_ms), kMaxU32,
                        [&](int64_t v) { config.set_handshake_timeout_ms(v); }),
           ApplyIntFlag("heartbeat_interval_ms", absl::GetFlag(FLAGS_heartbeat_interval_ms),
                        kMaxU32, [&](int64_t v) { config.set_heartbeat_interval_ms(v); }),
           ApplyIntFlag("heartbeat_timeout_ms", absl::GetFlag(FLAGS_heartbeat_timeout_ms), kMaxU32,
                        [&](int64_t v) { config.set_heartbeat_timeout_ms(v); }),
           ApplyIntFlag("max_frame_bytes", absl::GetFlag(FLAGS_max_frame_bytes), int64_t{1} << 30,
                        [&](int64_t v) { config.set_max_frame_bytes(v); }),
           ApplyIntFlag("shutdown_grace_ms", absl::GetFlag(FLAGS_shutdown_grace_ms), kMaxU32,
                        [&](int64_t v) { config.set_shutdown_grace_ms(v); }),
       }) {
    if (!s.ok()) return Fail(std::string(s.message()));
  }
  for (const std::string& path : absl::GetFlag(FLAGS_descriptor_sets)) {
    config.add_descriptor_sets(path);
  }
  if (const std::string routes = absl::GetFlag(FLAGS_routes); !routes.empty()) {
    auto parsed = bridge::config::ParseRoutes(routes);
    if (!parsed.ok()) return Fail(absl::StrCat("flag --routes: ", parsed.status().message()));
    for (auto& r : *parsed) {
      r.set_reflect(absl::GetFlag(FLAGS_reflect));
      *config.add_routes() = std::move(r);
    }
  }
  bridge::config::ApplyDefaults(&config);
  if (absl::Status s = bridge::config::Validate(config); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  if (absl::GetFlag(FLAGS_check_config)) {
    std::string text;
    google::protobuf::TextFormat::PrintToString(config, &text);
    std::printf("%s", text.c_str());
    std::fprintf(stderr, "bridge: the configuration is valid\n");
    return 0;
  }

  bridge::log::Configure(*bridge::log::ParseLevel(config.log_level()),
                         *bridge::log::ParseFormat(config.log_format()));

  // Signals are taken by sigwait below; every thread started from here on inherits the mask.
  bridge::app::BlockTerminationSignals();

  auto app = bridge::app::BridgeApp::Create(config, nullptr);
  if (!app.ok()) return Fail(std::string(app.status().message()));
  bridge::server::Server& server = (*app)->server();
  if (absl::Status s = (*app)->Start(); !s.ok()) {
    std::fprintf(stderr, "bridge: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  auto host_port = bridge::config::ParseHostPort(config.listen());
  std::printf("bridge: listening on %s://%s:%u%s (%u io threads)\n",
              config.has_tls() ? "wss" : "ws", host_port->host.c_str(),
              static_cast<unsigned>(server.port()), config.path().c_str(), config.io_threads());
  if (const uint16_t admin = server.admin_port(); admin != 0) {
    std::printf("bridge: admin on http://%s:%u (/metrics /healthz /readyz /dashboard)\n",
                bridge::config::ParseHostPort(config.admin_listen())->host.c_str(),
                static_cast<unsigned>(admin));
  }
  if (const uint16_t control = (*app)->control_port(); control != 0) {
    std::printf("bridge: BridgeControl on %s:%u\n",
                bridge::config::ParseHostPort(config.control_listen())->host.c_str(),
                static_cast<unsigned>(control));
  }
  std::fflush(stdout);

  bridge::log::Info("started")
      .Str("listen", config.listen())
      .Int("port", server.port())
      .Str("path", config.path())
      .Int("admin_port", server.admin_port())
      .Int("io_threads", config.io_threads())
      .Int("routes", config.routes_size());
  const int signal_number = bridge::app::WaitForTerminationSignal();
  std::printf("bridge: %s, closing every session with 1001\n",
              signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  std::fflush(stdout);
  server.Shutdown();
  server.Wait();
  std::printf("bridge: stopped\n");
  return 0;
}
