// echo_bridge: the bridge's WebSocket layer alone, for the load runs' middle baseline. The real
// server, sessions, frame codec and JSON transcoder, with an in-process upstream that answers
// each call at once with its request bytes: no gRPC. demo.v1.Echo/Say (a SayRequest's bytes
// read as a SayResponse) and Chat (ChatMessage in, the same out) echo; other methods too, but
// their replies only transcode when the request and reply types share a wire shape.
//
//   echo_bridge [--listen=127.0.0.1:0] [--io_threads=N] [--config=FILE]
//
// Prints "bridge: listening on ws://HOST:PORT/ws" and runs until SIGTERM or SIGINT.
#include <sys/resource.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "bench/load/echo_upstream.h"
#include "bridge/app/signals.h"
#include "bridge/config/config.h"
#include "bridge/server/server.h"
#include "bridge/transcode/descriptor_registry.h"
#include "bridge/transcode/json_transcoder.h"
#include "proto/demo/v1/echo.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "WebSocket listen address HOST:PORT.");
ABSL_FLAG(int, io_threads, 0, "Asio io threads (0: the number of cores).");
ABSL_FLAG(std::string, config, "", "BridgeConfig (text format) merged over the defaults.");

namespace {

using bench::load::EchoUpstream;

int Fail(const std::string& message) {
  std::fprintf(stderr, "echo_bridge: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // as bridge/main.cc
  bridge::app::BlockTerminationSignals();
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  bridge::v1::BridgeConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    auto loaded = bridge::config::LoadConfigFile(path);
    if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
    config = *std::move(loaded);
  }
  config.set_listen(absl::GetFlag(FLAGS_listen));
  if (const int n = absl::GetFlag(FLAGS_io_threads); n > 0) config.set_io_threads(n);
  bridge::config::ApplyDefaults(&config);
  if (absl::Status valid = bridge::config::Validate(config); !valid.ok()) {
    return Fail(std::string(valid.message()));
  }

  bridge::transcode::DescriptorRegistry registry;
  if (absl::Status added = registry.AddGeneratedFile(demo::v1::SayRequest::descriptor()->file());
      !added.ok()) {
    return Fail(std::string(added.message()));
  }
  bridge::transcode::TranscodeOptions transcode_options;
  transcode_options.ignore_unknown_fields = config.ignore_unknown_payload_fields();
  bridge::transcode::JsonTranscoder transcoder(&registry, transcode_options);
  EchoUpstream echo;

  bridge::server::ServerOptions options;
  options.services.registry = &registry;
  options.services.transcoder = &transcoder;
  options.services.upstream = &echo;
  bridge::server::Server server(config, options);
  if (absl::Status started = server.Start(); !started.ok()) {
    return Fail(std::string(started.message()));
  }
  auto host_port = bridge::config::ParseHostPort(config.listen());
  std::printf("bridge: listening on ws://%s:%u%s (%u io threads, echo upstream)\n",
              host_port.ok() ? host_port->host.c_str() : "127.0.0.1",
              static_cast<unsigned>(server.port()), config.path().c_str(), config.io_threads());
  std::fflush(stdout);
  bridge::app::WaitForTerminationSignal();
  server.Shutdown();
  server.Wait();
  return 0;
}
