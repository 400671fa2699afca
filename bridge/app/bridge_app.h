// The whole bridge, assembled from a validated BridgeConfig: the descriptor registry, the JSON
// transcoder, the gRPC upstream and the WebSocket server. main.cc, the demo and the
// integration tests all run the bridge through this.
#ifndef BRIDGE_APP_BRIDGE_APP_H_
#define BRIDGE_APP_BRIDGE_APP_H_

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "bridge/pubsub/node.h"
#include "bridge/server/server.h"
#include "bridge/transcode/descriptor_registry.h"
#include "proto/bridge/v1/config.pb.h"

namespace bridge::app {

class BridgeApp {
 public:
  // `config` must have defaults applied and be valid. Descriptor sets named in it are read
  // and added to `registry` (which may already hold files); routes are checked against it.
  // Errors name the field or file at fault.
  static absl::StatusOr<std::unique_ptr<BridgeApp>> Create(
      v1::BridgeConfig config, std::unique_ptr<transcode::DescriptorRegistry> registry,
      server::ServerOptions options = {});
  ~BridgeApp();

  // Starts the broker, the WebSocket server and BridgeControl (control_listen).
  absl::Status Start();
  void Shutdown() { server_->Shutdown(); }
  void Wait() { server_->Wait(); }
  // BridgeControl's port (control_listen); 0 when it is not served.
  uint16_t control_port() const;
  // Channels, users and push of this instance.
  pubsub::Node& node();
  server::Server& server() { return *server_; }
  const v1::BridgeConfig& config() const { return config_; }
  // Waits until no upstream call is in flight; false on timeout.
  bool AwaitUpstreamIdle(absl::Duration timeout);
  // Upstream retries by method path: {retries, throttled}.
  std::map<std::string, std::pair<uint64_t, uint64_t>> retry_counts() const;

 private:
  BridgeApp() = default;
  struct Parts;

  v1::BridgeConfig config_;
  std::unique_ptr<Parts> parts_;
  std::unique_ptr<server::Server> server_;
};

}  // namespace bridge::app

#endif  // BRIDGE_APP_BRIDGE_APP_H_
