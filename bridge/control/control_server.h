// bridge.v1.BridgeControl (proto/bridge/v1/control.proto) served to backends on
// BridgeConfig.control_listen: publish, push, disconnect, presence, connections, stats, all
// through the node (and so, with the Redis broker, to every instance).
//
// Bad requests get INVALID_ARGUMENT naming the field (a channel name, data that is not JSON,
// a close code out of range); a broker that cannot be reached gives UNAVAILABLE.
#ifndef BRIDGE_CONTROL_CONTROL_SERVER_H_
#define BRIDGE_CONTROL_CONTROL_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "bridge/metrics/metrics.h"
#include "bridge/pubsub/node.h"

namespace grpc {
class Server;
}

namespace bridge::control {

class ControlServer {
 public:
  // `node` and `metrics` must outlive the server.
  ControlServer(pubsub::Node* node, Metrics* metrics);
  ~ControlServer();

  // Listens on `address` (HOST:PORT; port 0 picks one).
  absl::Status Start(const std::string& address);
  // Stops taking calls; waits for the running ones. Idempotent.
  void Shutdown();
  uint16_t port() const { return port_; }

 private:
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  uint16_t port_ = 0;
};

}  // namespace bridge::control

#endif  // BRIDGE_CONTROL_CONTROL_SERVER_H_
