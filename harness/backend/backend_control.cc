#include "harness/backend/backend_control.h"

#include <string>

namespace harness::backend {
namespace {

grpc::Status ToGrpc(const absl::Status &status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::ServerUnaryReactor *Done(grpc::CallbackServerContext *context, const absl::Status &status) {
  grpc::ServerUnaryReactor *reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(status));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor *BackendControlService::AddFault(grpc::CallbackServerContext *context,
                                                          const v1::AddFaultRequest *request,
                                                          v1::BackendFault *response) {
  absl::StatusOr<v1::BackendFault> added = echo_->AddFault(request->fault());
  if (added.ok()) *response = *std::move(added);
  return Done(context, added.status());
}

grpc::ServerUnaryReactor *BackendControlService::RemoveFault(grpc::CallbackServerContext *context,
                                                             const v1::RemoveFaultRequest *request,
                                                             v1::RemoveFaultResponse *response) {
  return Done(context, echo_->RemoveFault(request->name()));
}

grpc::ServerUnaryReactor *BackendControlService::ListFaults(grpc::CallbackServerContext *context,
                                                            const v1::ListFaultsRequest *request,
                                                            v1::ListFaultsResponse *response) {
  for (v1::BackendFault &fault : echo_->ListFaults()) *response->add_faults() = std::move(fault);
  return Done(context, absl::OkStatus());
}

grpc::ServerUnaryReactor *BackendControlService::ResetFaults(grpc::CallbackServerContext *context,
                                                             const v1::ResetFaultsRequest *request,
                                                             v1::ResetFaultsResponse *response) {
  echo_->ResetFaults();
  return Done(context, absl::OkStatus());
}

grpc::ServerUnaryReactor *BackendControlService::GetStats(grpc::CallbackServerContext *context,
                                                          const v1::GetStatsRequest *request,
                                                          v1::BackendStats *response) {
  *response = echo_->Stats();
  return Done(context, absl::OkStatus());
}

}  // namespace harness::backend
