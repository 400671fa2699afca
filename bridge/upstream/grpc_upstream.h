// Upstream over gRPC: one channel per target (created on first use and kept), generic calls
// through grpc::GenericStub on the callback API (no thread per call), and gRFC A6 retries
// and retry throttling configured per method through each channel's service config.
#ifndef BRIDGE_UPSTREAM_GRPC_UPSTREAM_H_
#define BRIDGE_UPSTREAM_GRPC_UPSTREAM_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "bridge/transcode/descriptor_registry.h"
#include "bridge/upstream/upstream.h"
#include "proto/bridge/v1/config.pb.h"

namespace bridge::upstream {

// Parses --routes: "svc=target,*=target".
absl::StatusOr<std::vector<v1::Route>> ParseRoutes(std::string_view text);

// The gRPC service config (JSON) that carries the retry policies and throttling of `config`.
// Errors name the offending field.
absl::StatusOr<std::string> RetryServiceConfig(const v1::BridgeConfig& config);

class GrpcUpstream final : public Upstream {
 public:
  // Checks the routes against `registry` (a routed service it lacks is an error naming it)
  // and the retry policies. `config` must outlive the upstream.
  static absl::StatusOr<std::unique_ptr<GrpcUpstream>> Create(
      const v1::BridgeConfig& config, const transcode::DescriptorRegistry& registry);
  ~GrpcUpstream() override;

  bool HasRoute(std::string_view service) const override;
  std::shared_ptr<Call> StartCall(const CallSpec& spec,
                                  std::shared_ptr<CallListener> listener) override;

  // Calls started and not yet finished.
  int64_t calls_in_flight() const;
  // Waits until no call is in flight; false on timeout. Cancelled calls finish quickly.
  bool AwaitIdle(absl::Duration timeout);

  // Counts calls in flight; shared with the calls, which may outlive the upstream briefly.
  struct InFlight {
    absl::Mutex mu;
    int64_t calls ABSL_GUARDED_BY(mu) = 0;
  };

 private:
  struct Target {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<grpc::GenericStub> stub;
  };
  GrpcUpstream(const v1::BridgeConfig& config, std::string service_config);
  Target* TargetFor(std::string_view service);

  const v1::BridgeConfig& config_;
  const std::string service_config_;
  std::map<std::string, std::string, std::less<>> routes_;  // service -> target
  std::string default_target_;
  absl::Mutex mu_;
  std::map<std::string, Target> targets_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<InFlight> in_flight_;
};

}  // namespace bridge::upstream

#endif  // BRIDGE_UPSTREAM_GRPC_UPSTREAM_H_
