// harness.v1.FaultControl: the fault proxy's gRPC control service, the same operations as the
// HTTP JSON API over the same ProxyRegistry. Errors: INVALID_ARGUMENT naming the field,
// NOT_FOUND, ALREADY_EXISTS, UNAVAILABLE.
//
// Threading: a synchronous service: its methods run on gRPC's thread pool and wait for the
// proxies' io threads (see ProxyRegistry).
#ifndef HARNESS_PROXY_GRPC_API_H_
#define HARNESS_PROXY_GRPC_API_H_

#include "harness/proxy/proxy_registry.h"
#include "proto/harness/v1/fault.grpc.pb.h"

namespace harness::proxy {

class FaultControlService final : public v1::FaultControl::Service {
 public:
  explicit FaultControlService(ProxyRegistry& registry) : registry_(registry) {}

  grpc::Status ListProxies(grpc::ServerContext* context, const v1::ListProxiesRequest* request,
                           v1::ListProxiesResponse* response) override;
  grpc::Status CreateProxy(grpc::ServerContext* context, const v1::CreateProxyRequest* request,
                           v1::Proxy* response) override;
  grpc::Status UpdateProxy(grpc::ServerContext* context, const v1::UpdateProxyRequest* request,
                           v1::Proxy* response) override;
  grpc::Status DeleteProxy(grpc::ServerContext* context, const v1::DeleteProxyRequest* request,
                           v1::DeleteProxyResponse* response) override;
  grpc::Status AddToxic(grpc::ServerContext* context, const v1::AddToxicRequest* request,
                        v1::Toxic* response) override;
  grpc::Status RemoveToxic(grpc::ServerContext* context, const v1::RemoveToxicRequest* request,
                           v1::RemoveToxicResponse* response) override;
  grpc::Status Reset(grpc::ServerContext* context, const v1::ResetRequest* request,
                     v1::ResetResponse* response) override;
  grpc::Status UpdateToxic(grpc::ServerContext* context, const v1::UpdateToxicRequest* request,
                           v1::Toxic* response) override;
  grpc::Status Populate(grpc::ServerContext* context, const v1::PopulateRequest* request,
                        v1::PopulateResponse* response) override;
  grpc::Status GetVersion(grpc::ServerContext* context, const v1::GetVersionRequest* request,
                          v1::GetVersionResponse* response) override;

 private:
  ProxyRegistry& registry_;
};

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_GRPC_API_H_
