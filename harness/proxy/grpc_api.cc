#include "harness/proxy/grpc_api.h"

#include <string>

namespace harness::proxy {
namespace {

// absl and gRPC number their status codes alike.
grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return ToGrpc(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status FaultControlService::ListProxies(grpc::ServerContext*, const v1::ListProxiesRequest*,
                                              v1::ListProxiesResponse* response) {
  for (v1::Proxy& proxy : registry_.List()) *response->add_proxies() = std::move(proxy);
  return grpc::Status::OK;
}

grpc::Status FaultControlService::CreateProxy(grpc::ServerContext*,
                                              const v1::CreateProxyRequest* request,
                                              v1::Proxy* response) {
  return Reply(registry_.Create(request->proxy()), response);
}

grpc::Status FaultControlService::UpdateProxy(grpc::ServerContext*,
                                              const v1::UpdateProxyRequest* request,
                                              v1::Proxy* response) {
  return Reply(registry_.Update(request->proxy()), response);
}

grpc::Status FaultControlService::DeleteProxy(grpc::ServerContext*,
                                              const v1::DeleteProxyRequest* request,
                                              v1::DeleteProxyResponse*) {
  return ToGrpc(registry_.Delete(request->name()));
}

grpc::Status FaultControlService::AddToxic(grpc::ServerContext*, const v1::AddToxicRequest* request,
                                           v1::Toxic* response) {
  return Reply(registry_.AddToxic(request->proxy(), request->toxic()), response);
}

grpc::Status FaultControlService::RemoveToxic(grpc::ServerContext*,
                                              const v1::RemoveToxicRequest* request,
                                              v1::RemoveToxicResponse*) {
  return ToGrpc(registry_.RemoveToxic(request->proxy(), request->toxic()));
}

grpc::Status FaultControlService::Reset(grpc::ServerContext*, const v1::ResetRequest*,
                                        v1::ResetResponse*) {
  return ToGrpc(registry_.Reset());
}

grpc::Status FaultControlService::UpdateToxic(grpc::ServerContext*,
                                              const v1::UpdateToxicRequest* request,
                                              v1::Toxic* response) {
  return Reply(registry_.UpdateToxic(request->proxy(), request->toxic().name(), request->toxic()),
               response);
}

grpc::Status FaultControlService::Populate(grpc::ServerContext*, const v1::PopulateRequest* request,
                                           v1::PopulateResponse* response) {
  absl::StatusOr<std::vector<v1::Proxy>> proxies = registry_.Populate(
      std::vector<v1::Proxy>(request->proxies().begin(), request->proxies().end()));
  if (!proxies.ok()) return ToGrpc(proxies.status());
  for (v1::Proxy& proxy : *proxies) *response->add_proxies() = std::move(proxy);
  return grpc::Status::OK;
}

grpc::Status FaultControlService::GetVersion(grpc::ServerContext*, const v1::GetVersionRequest*,
                                             v1::GetVersionResponse* response) {
  response->set_version(kToxiproxyApiVersion);
  return grpc::Status::OK;
}

}  // namespace harness::proxy
