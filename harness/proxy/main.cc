// The fault proxy: proxies that forward TCP connections (to the bridge, or to a gRPC backend)
// and inject faults ("toxics") at the transport and WebSocket level, controlled at run time by
// a Toxiproxy-like HTTP JSON API and by gRPC harness.v1.FaultControl.
//
//   fault_proxy --config=faults.textproto --api_listen=127.0.0.1:8474 --seed=7
//
// It prints every bound address (port 0 picks one) and stops on SIGTERM/SIGINT.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "bridge/app/signals.h"
#include "bridge/config/config.h"
#include "harness/proxy/fault_config.h"
#include "harness/proxy/fault_proxy_server.h"

ABSL_FLAG(std::string, config, "",
          "harness.v1.FaultConfig in protobuf text format: the proxies and toxics to start with.");
ABSL_FLAG(std::string, api_listen, "127.0.0.1:8474",
          "HOST:PORT of the HTTP JSON API (Toxiproxy's default port). Empty: none.");
ABSL_FLAG(std::string, grpc_listen, "127.0.0.1:8475",
          "HOST:PORT of the gRPC harness.v1.FaultControl service. Empty: none.");
ABSL_FLAG(uint64_t, seed, 1,
          "Seed of every random draw (toxicity, jitter, slice sizes): the same seed, config and "
          "connection order give the same faults.");
ABSL_FLAG(int32_t, io_threads, 2, "Asio io threads for the proxied connections.");

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "fault_proxy: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Fault-injecting TCP/WebSocket proxy. Usage: fault_proxy [--config=FILE] "
      "[--api_listen=HOST:PORT] [--grpc_listen=HOST:PORT] [--seed=N]");
  absl::ParseCommandLine(argc, argv);

  harness::v1::FaultConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    absl::StatusOr<harness::v1::FaultConfig> loaded = harness::proxy::LoadFaultConfigFile(path);
    if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
    config = *std::move(loaded);
  }
  if (absl::GetFlag(FLAGS_io_threads) < 1 || absl::GetFlag(FLAGS_io_threads) > 256) {
    return Fail(absl::StrCat("flag --io_threads: must be from 1 to 256, got ",
                             absl::GetFlag(FLAGS_io_threads)));
  }
  // Signals are taken by sigwait below; every thread started from here on inherits the mask.
  bridge::app::BlockTerminationSignals();

  harness::proxy::FaultProxyOptions options;
  options.seed = absl::GetFlag(FLAGS_seed);
  options.io_threads = absl::GetFlag(FLAGS_io_threads);
  options.api_listen = absl::GetFlag(FLAGS_api_listen);
  options.grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  absl::StatusOr<std::unique_ptr<harness::proxy::FaultProxyServer>> server =
      harness::proxy::FaultProxyServer::Start(config, options);
  if (!server.ok()) {
    const std::string origin = absl::GetFlag(FLAGS_config);
    return Fail(origin.empty() || server.status().code() != absl::StatusCode::kInvalidArgument
                    ? std::string(server.status().message())
                    : absl::StrCat(origin, ": ", server.status().message()));
  }

  std::printf("fault_proxy: seed %llu\n", static_cast<unsigned long long>(options.seed));
  for (const harness::v1::Proxy& proxy : (*server)->registry().List()) {
    std::printf("fault_proxy: proxy %s listening on %s -> %s (%d toxics)\n", proxy.name().c_str(),
                proxy.listen().c_str(), proxy.upstream().c_str(), proxy.toxics_size());
  }
  // The API addresses as given, with the port bound.
  const auto with_port = [](const std::string& listen, uint16_t port) {
    return absl::StrCat(bridge::config::ParseHostPort(listen)->host, ":", port);
  };
  if ((*server)->api_port() != 0) {
    std::printf("fault_proxy: HTTP API on http://%s\n",
                with_port(options.api_listen, (*server)->api_port()).c_str());
  }
  if ((*server)->grpc_port() != 0) {
    std::printf("fault_proxy: gRPC harness.v1.FaultControl on %s\n",
                with_port(options.grpc_listen, (*server)->grpc_port()).c_str());
  }
  std::fflush(stdout);

  bridge::app::WaitForTerminationSignal();
  (*server)->Shutdown();
  std::printf("fault_proxy: stopped\n");
  return 0;
}
