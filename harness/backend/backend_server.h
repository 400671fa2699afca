// Starts the demo backend (demo.v1.Echo, harness.v1.BackendControl, gRPC server reflection) on
// an address; used by the demo binaries and by integration tests (port 0 picks a free port).
#ifndef HARNESS_BACKEND_BACKEND_SERVER_H_
#define HARNESS_BACKEND_BACKEND_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "harness/backend/backend_control.h"
#include "harness/backend/echo_service.h"

namespace harness::backend {

struct RunningBackend {
  std::unique_ptr<EchoService> service;
  std::unique_ptr<BackendControlService> control;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::string target() const { return "127.0.0.1:" + std::to_string(port); }
};

// `address` is HOST:PORT; `credentials` default to plaintext. Shut down with
// server->Shutdown().
absl::StatusOr<RunningBackend> StartBackend(
    const std::string& address, std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);

}  // namespace harness::backend

#endif  // HARNESS_BACKEND_BACKEND_SERVER_H_
