#include "harness/backend/backend_server.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace harness::backend {

absl::StatusOr<RunningBackend> StartBackend(const std::string& address,
                                            std::shared_ptr<grpc::ServerCredentials> credentials) {
  static const bool reflection = [] {
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    return true;
  }();
  (void)reflection;
  RunningBackend backend;
  backend.service = std::make_unique<EchoService>();
  backend.control = std::make_unique<BackendControlService>(backend.service.get());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address,
                           credentials != nullptr ? credentials : grpc::InsecureServerCredentials(),
                           &backend.port);
  builder.RegisterService(backend.service.get());
  builder.RegisterService(backend.control.get());
  backend.server = builder.BuildAndStart();
  if (backend.server == nullptr || backend.port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", address));
  }
  return backend;
}

}  // namespace harness::backend
