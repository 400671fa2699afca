// Upstream over gRPC: upstream_channels channels per target (created on first use and kept),
// generic calls of all four kinds through grpc::GenericStub on the callback API (no thread per
// call), and the bridge's own gRFC A6 retries (retrying_call.h) with a retry budget per target.
#ifndef BRIDGE_UPSTREAM_GRPC_UPSTREAM_H_
#define BRIDGE_UPSTREAM_GRPC_UPSTREAM_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "bridge/transcode/descriptor_registry.h"
#include "bridge/upstream/in_flight.h"
#include "bridge/upstream/retry.h"
#include "bridge/upstream/retrying_call.h"
#include "bridge/upstream/upstream.h"
#include "proto/bridge/v1/config.pb.h"

namespace bridge::upstream {

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

  struct RetryStats {
    uint64_t retries = 0;    // attempts after the first
    uint64_t throttled = 0;  // retries the budget refused
  };
  // By method path ("/demo.v1.Echo/Say").
  std::map<std::string, RetryStats> retry_stats() const;
  // Retry counters in the Prometheus text format, for /metrics.
  std::string RenderMetrics() const;

  // Replaces the uniform [0, 1) source of the backoff jitter.
  void SetRandomForTesting(std::function<double()> uniform01);

  // One upstream target: its channel, stub and retry budget (defined in the .cc, so this
  // header stays free of gRPC's).
  struct Target;

 private:
  class TargetRetries;
  GrpcUpstream(const v1::BridgeConfig& config, RetryPolicies policies);
  Target* TargetFor(std::string_view service);
  double NextUniform();
  void CountRetry(const std::string& method, bool throttled);

  const v1::BridgeConfig& config_;
  const RetryPolicies policies_;
  std::map<std::string, std::string, std::less<>> routes_;  // service -> target
  std::map<std::string, v1::RouteTls> tls_;  // target -> TLS, for targets that use it
  std::set<std::string> wait_for_ready_;     // targets whose calls wait for a connection
  std::string default_target_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Target>> targets_ ABSL_GUARDED_BY(mu_);
  // Shared with the calls, which may outlive the upstream briefly. The upstream's channels go
  // only after it is idle (in_flight.h says why).
  std::shared_ptr<InFlightCalls> in_flight_;
  std::function<double()> uniform01_;
  mutable absl::Mutex stats_mu_;
  std::map<std::string, RetryStats> retry_stats_ ABSL_GUARDED_BY(stats_mu_);
};

}  // namespace bridge::upstream

#endif  // BRIDGE_UPSTREAM_GRPC_UPSTREAM_H_
