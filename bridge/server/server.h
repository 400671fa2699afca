// The bridge's WebSocket server: websocketpp on standalone Asio, N io threads. It checks the
// upgrade (path, subprotocol), runs one session::Session per connection, keeps a session whose
// connection dropped for a resume by a later connection, answers plain HTTP (/healthz, /readyz,
// /metrics, /connections, /dashboard) on the WebSocket port or, with admin_listen, on an admin
// port of its own, and drains on Shutdown.
//
// Threading: Start, Shutdown and Wait may be called from any thread. Each session runs on a
// strand of its own (it outlives its connection and may move to another one); connection
// events are posted to it, and its frames go out through websocketpp's thread-safe send.
#ifndef BRIDGE_SERVER_SERVER_H_
#define BRIDGE_SERVER_SERVER_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "bridge/auth/checker.h"
#include "bridge/auth/jwt_verifier.h"
#include "bridge/common/clock.h"
#include "bridge/metrics/metrics.h"
#include "bridge/session/session.h"
#include "proto/bridge/v1/config.pb.h"

namespace bridge::server {

struct ServerOptions {
  Clock* clock = RealClock::Get();
  session::Session::IdGenerator new_conversation_id = session::Session::RandomConversationId;
  // Descriptors, transcoder and upstream for calls; they must outlive the server. Empty: every
  // call gets not_found.
  session::CallServices services;
  // Verifies client tokens (BridgeConfig.auth); must outlive the server. Null: no auth.
  const auth::JwtVerifier* jwt = nullptr;
  // The external check (BridgeConfig.auth.service); must outlive the server. Null: none.
  auth::Checker* auth_checker = nullptr;
  // Channels, users and push; must outlive the server. Null: no channels.
  pubsub::SessionNode* node = nullptr;
};

class Server {
 public:
  // `config` must have defaults applied, be valid (config::Validate), and outlive the server.
  explicit Server(const v1::BridgeConfig& config, ServerOptions options = {});
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listen address and starts the io threads.
  absl::Status Start();

  // The port bound by Start (useful with port 0).
  uint16_t port() const;
  // The admin listener's port (admin_listen); 0 when there is none.
  uint16_t admin_port() const;

  // Stops accepting, closes every session with 1001, and stops the io threads once all are
  // closed or shutdown_grace_ms has passed. Idempotent; any thread.
  void Shutdown();

  // Blocks until the io threads have stopped.
  void Wait();

  Metrics& metrics();

  // Waits until exactly `count` WebSocket connections are open (their open or close handlers
  // have run, counters included). False on timeout. Any thread.
  bool AwaitOpenConnections(size_t count, absl::Duration timeout);

  // Sessions alive: attached to a connection, or detached and waiting for a resume.
  size_t SessionCount();
  // Waits until SessionCount() == count; false on timeout.
  bool AwaitSessionCount(size_t count, absl::Duration timeout);

  class Impl;  // the implementation: plain TCP or TLS

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace bridge::server

#endif  // BRIDGE_SERVER_SERVER_H_
