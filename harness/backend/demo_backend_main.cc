// The demo backend alone: demo.v1.Echo with reflection, on --listen (default 127.0.0.1:50051).
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bridge/app/signals.h"
#include "harness/backend/backend_server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "gRPC listen address HOST:PORT (port 0: any).");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  bridge::app::BlockTerminationSignals();
  auto backend = harness::backend::StartBackend(absl::GetFlag(FLAGS_listen));
  if (!backend.ok()) {
    std::fprintf(stderr, "demo_backend: %s\n", std::string(backend.status().message()).c_str());
    return 1;
  }
  std::printf("demo_backend: demo.v1.Echo on 127.0.0.1:%d\n", backend->port);
  std::fflush(stdout);
  bridge::app::WaitForTerminationSignal();
  backend->server->Shutdown();
  return 0;
}
