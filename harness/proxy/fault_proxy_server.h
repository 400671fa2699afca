// The fault proxy assembled: io threads for the proxies, the proxies of a FaultConfig, the HTTP
// JSON API and the gRPC FaultControl service. main.cc and the tests run it through this.
//
// Threading: Start and Shutdown from one thread (not an io thread); registry() is thread-safe.
#ifndef HARNESS_PROXY_FAULT_PROXY_SERVER_H_
#define HARNESS_PROXY_FAULT_PROXY_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "asio.hpp"
#include "harness/proxy/grpc_api.h"
#include "harness/proxy/http_server.h"
#include "harness/proxy/proxy_registry.h"
#include "proto/harness/v1/fault.pb.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace harness::proxy {

struct FaultProxyOptions {
  uint64_t seed = 1;
  int io_threads = 2;
  // HOST:PORT of the HTTP JSON API; port 0 picks one; empty: none.
  std::string api_listen = "127.0.0.1:8474";
  // HOST:PORT of gRPC FaultControl; port 0 picks one; empty: none.
  std::string grpc_listen = "127.0.0.1:8475";
};

class FaultProxyServer {
 public:
  // Errors name the config field or the address that cannot be bound.
  static absl::StatusOr<std::unique_ptr<FaultProxyServer>> Start(const v1::FaultConfig& config,
                                                                 const FaultProxyOptions& options);
  ~FaultProxyServer();

  ProxyRegistry& registry() { return *registry_; }
  // The bound ports; 0 when not served.
  uint16_t api_port() const { return http_ ? http_->port() : 0; }
  uint16_t grpc_port() const { return static_cast<uint16_t>(grpc_port_); }

  // Stops both APIs, closes every proxy and joins the io threads. Idempotent.
  void Shutdown();

 private:
  explicit FaultProxyServer(uint64_t seed);

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  std::unique_ptr<ProxyRegistry> registry_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<FaultControlService> service_;
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
};

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_FAULT_PROXY_SERVER_H_
