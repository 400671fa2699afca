// What a scenario runs against (proto/harness/v1/scenario.proto, Parts): in-process, the demo
// backend (with BackendControl), a bridge routing demo.v1.Echo to it, a standby bridge, and
// fault proxies named "client" (client -> bridge) and "backend" (bridge -> backend); or an
// external bridge at a URL, with only the client proxy in front of it.
//
// Threading: Start, the operations and the destructor run on the runner's thread (never on a
// client or io thread); the parts have threads of their own.
#ifndef HARNESS_SCENARIO_PARTS_H_
#define HARNESS_SCENARIO_PARTS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bridge/app/bridge_app.h"
#include "harness/backend/backend_server.h"
#include "harness/proxy/fault_proxy_server.h"
#include "proto/bridge/v1/control.grpc.pb.h"
#include "proto/harness/v1/backend.grpc.pb.h"
#include "proto/harness/v1/scenario.pb.h"

namespace harness::scenario {

struct Target {
  // Empty: in-process. Otherwise ws://HOST:PORT/PATH of a running bridge.
  std::string url;
  // With `url`: HOST:PORT of the backend's harness.v1.BackendControl (the demo backend serves it
  // on its gRPC port), for backend faults and counts. Empty: those steps are skipped.
  std::string backend_control;
  // With `url`: HOST:PORT of the bridge's bridge.v1.BridgeControl (control_listen), for
  // `publish` steps. Empty: those steps are skipped.
  std::string control;
  // Seed of the fault proxies' random draws.
  uint64_t seed = 1;
};

class ScenarioParts {
 public:
  // Errors: UNIMPLEMENTED when `parts` needs what an external target cannot give (the scenario
  // is then skipped), others when a part does not start. The operations below answer
  // UNIMPLEMENTED in the same case.
  static absl::StatusOr<std::unique_ptr<ScenarioParts>> Start(const v1::Parts& parts,
                                                              const Target& target);
  ~ScenarioParts();

  // Where the client connects: the client proxy when there is one, else the bridge.
  const std::string& client_url() const { return client_url_; }
  bool in_process() const { return backend_.server != nullptr; }

  absl::Status AddToxic(const std::string& proxy, const v1::Toxic& toxic);
  absl::Status RemoveToxic(const std::string& proxy, const std::string& toxic);
  absl::Status SetProxyEnabled(const std::string& proxy, bool enabled);
  absl::Status AddBackendFault(const v1::BackendFault& fault);
  // Every proxy enabled without toxics; no backend rules.
  absl::Status Restore();
  // Starts draining the active bridge (as SIGTERM does); returns at once.
  absl::Status Drain();
  // New connections through the client proxy go to the standby bridge.
  absl::Status SwitchBridge();
  // Calls since the parts started (an external backend's counts before then are subtracted).
  absl::StatusOr<v1::BackendStats> BackendStats() const;
  // Waits until BackendStats counts at least `n` calls of `method`; false at `deadline`.
  absl::StatusOr<bool> AwaitBackendCalls(const std::string& method, int n, absl::Time deadline);
  // BridgeControl.Publish on the active bridge (in-process, or --control). UNIMPLEMENTED when
  // there is no BridgeControl to call.
  absl::StatusOr<bridge::v1::PublishResponse> Publish(const std::string& channel,
                                                      const std::string& data);

 private:
  ScenarioParts() = default;
  absl::StatusOr<proxy::ProxyRegistry*> Proxies(const std::string& name);

  backend::RunningBackend backend_;
  std::unique_ptr<v1::BackendControl::Stub> control_;  // an external backend's
  std::unique_ptr<bridge::v1::BridgeControl::Stub> bridge_control_;
  v1::BackendStats baseline_;  // its counts when the parts started
  std::unique_ptr<proxy::FaultProxyServer> proxies_;
  std::unique_ptr<bridge::app::BridgeApp> bridge_;
  std::unique_ptr<bridge::app::BridgeApp> standby_;
  std::string client_url_;
};

// Splits ws://HOST:PORT/PATH; errors name what is wrong.
struct WsUrl {
  std::string host;
  uint16_t port = 0;
  std::string path;
};
absl::StatusOr<WsUrl> ParseWsUrl(const std::string& url);

}  // namespace harness::scenario

#endif  // HARNESS_SCENARIO_PARTS_H_
