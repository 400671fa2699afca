#include "harness/proxy/fault_proxy_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "harness/proxy/http_api.h"

namespace harness::proxy {

FaultProxyServer::FaultProxyServer(uint64_t seed)
    : work_(asio::make_work_guard(io_)), registry_(std::make_unique<ProxyRegistry>(io_, seed)) {}

absl::StatusOr<std::unique_ptr<FaultProxyServer>> FaultProxyServer::Start(
    const v1::FaultConfig& config, const FaultProxyOptions& options) {
  std::unique_ptr<FaultProxyServer> server(new FaultProxyServer(options.seed));
  for (int i = 0; i < std::max(1, options.io_threads); ++i) {
    server->threads_.emplace_back([s = server.get()] { s->io_.run(); });
  }
  if (absl::Status s = server->registry_->Load(config); !s.ok()) return s;
  if (!options.api_listen.empty()) {
    absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
        options.api_listen, [registry = server->registry_.get()](const HttpRequest& request) {
          return HandleApiRequest(*registry, request);
        });
    if (!http.ok()) {
      return absl::UnavailableError(absl::StrCat("api_listen: ", http.status().message()));
    }
    server->http_ = *std::move(http);
  }
  if (!options.grpc_listen.empty()) {
    server->service_ = std::make_unique<FaultControlService>(*server->registry_);
    grpc::ServerBuilder builder;
    builder.AddListeningPort(options.grpc_listen, grpc::InsecureServerCredentials(),
                             &server->grpc_port_);
    builder.RegisterService(server->service_.get());
    server->grpc_ = builder.BuildAndStart();
    if (server->grpc_ == nullptr || server->grpc_port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("grpc_listen: cannot listen on ", options.grpc_listen));
    }
  }
  return server;
}

FaultProxyServer::~FaultProxyServer() { Shutdown(); }

void FaultProxyServer::Shutdown() {
  if (grpc_ != nullptr) {
    grpc_->Shutdown();
    grpc_.reset();
  }
  http_.reset();
  registry_->Clear();
  work_.reset();
  io_.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace harness::proxy
