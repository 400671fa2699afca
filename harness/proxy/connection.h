// One proxied TCP connection: the client's socket, a socket to the upstream, and for each
// direction a Link: reader -> StreamDecoder -> toxic stages -> writer. Which toxics apply is
// drawn from the connection's own seeded generator, one draw per toxic, when the connection
// starts or when a toxic is added later; a removed toxic first passes on what it holds.
//
// Order is kept in each direction. A direction stops reading from its source while more than
// kMaxPendingBytes it read are still on their way (held by a toxic or being written).
//
// Threading: all of a connection's work runs on one strand, the executor of the client socket
// it is given. The public methods post to it and may be called from any thread; the `done`
// callbacks run on the strand.
#ifndef HARNESS_PROXY_CONNECTION_H_
#define HARNESS_PROXY_CONNECTION_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "asio.hpp"
#include "harness/proxy/seeded_random.h"
#include "harness/proxy/ws_frame.h"
#include "proto/harness/v1/fault.pb.h"

namespace harness::proxy {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  static constexpr size_t kMaxPendingBytes = 1 << 20;
  // How long the proxy waits for the client to answer a close frame it sent.
  static constexpr std::chrono::milliseconds kCloseReplyTimeout{1000};

  // `client` is an accepted socket whose executor is a strand of its own.
  Connection(asio::ip::tcp::socket client, std::string upstream_host, uint16_t upstream_port,
             uint64_t seed);
  ~Connection();

  // Adds the toxics of `toxics` that apply, then connects to the upstream and forwards.
  void Start(std::vector<v1::Toxic> toxics);
  // Adds `toxic` (normalized) if it applies to this connection, then calls `done`.
  void AddToxic(v1::Toxic toxic, std::function<void()> done);
  // Removes the toxic named `name` if this connection has it, then calls `done`.
  void RemoveToxic(std::string name, std::function<void()> done);
  // Closes both sockets.
  void Close();

 private:
  class Link;

  void AttachToxic(const v1::Toxic& toxic);
  void OnUpstreamConnected(const std::error_code& error);
  void OnWebSocketOpen();
  void SendCloseToClient(WsFrame close);
  void OnCloseSentToClient();
  void ResetNow();
  void CloseNow();
  void MaybeFinish();

  asio::any_io_executor executor_;
  asio::ip::tcp::socket client_;
  asio::ip::tcp::socket server_;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer close_timer_;
  std::string upstream_host_;
  uint16_t upstream_port_;
  Rng rng_;
  std::unique_ptr<Link> upstream_;    // client -> server
  std::unique_ptr<Link> downstream_;  // server -> client
  bool websocket_open_ = false;
  bool closing_websocket_ = false;  // a close frame from the proxy reached the client
  bool closed_ = false;
};

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_CONNECTION_H_
