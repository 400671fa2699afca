// harness.v1.BackendControl (proto/harness/v1/backend.proto): run-time fault
// rules of the demo backend, served beside demo.v1.Echo. Callbacks run on
// gRPC's threads and never block.
#ifndef HARNESS_BACKEND_BACKEND_CONTROL_H_
#define HARNESS_BACKEND_BACKEND_CONTROL_H_

#include "harness/backend/echo_service.h"
#include "proto/harness/v1/backend.grpc.pb.h"

namespace harness::backend {

class BackendControlService final : public harness::v1::BackendControl::CallbackService {
 public:
  // `echo` must outlive the service.
  explicit BackendControlService(EchoService *echo) : echo_(echo) {}

  grpc::ServerUnaryReactor *AddFault(grpc::CallbackServerContext *context,
                                     const v1::AddFaultRequest *request,
                                     v1::BackendFault *response) override;
  grpc::ServerUnaryReactor *RemoveFault(grpc::CallbackServerContext *context,
                                        const v1::RemoveFaultRequest *request,
                                        v1::RemoveFaultResponse *response) override;
  grpc::ServerUnaryReactor *ListFaults(grpc::CallbackServerContext *context,
                                       const v1::ListFaultsRequest *request,
                                       v1::ListFaultsResponse *response) override;
  grpc::ServerUnaryReactor *ResetFaults(grpc::CallbackServerContext *context,
                                        const v1::ResetFaultsRequest *request,
                                        v1::ResetFaultsResponse *response) override;
  grpc::ServerUnaryReactor *GetStats(grpc::CallbackServerContext *context,
                                     const v1::GetStatsRequest *request,
                                     v1::BackendStats *response) override;

 private:
  EchoService *echo_;
};

}  // namespace harness::backend

#endif  // HARNESS_BACKEND_BACKEND_CONTROL_H_
