// The production Transport: websocketpp's client (ws:// only, no TLS) on an Asio io_context
// that one thread runs, the client's AsioEventLoop.
//
// Methods may be called from any thread: each posts its work to the io_context, so websocketpp
// is only ever touched on the loop thread. TransportEvents callbacks run on that thread.
#ifndef BRIDGE_CLIENT_WEBSOCKET_TRANSPORT_H_
#define BRIDGE_CLIENT_WEBSOCKET_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "asio.hpp"
#include "bridge/client/transport.h"

namespace bridge::client {

struct WebSocketTransportOptions {
  // Largest message accepted from the server; a bigger one closes with 1009.
  size_t max_message_bytes = 64 << 20;
  // websocketpp's own limits on the opening and closing handshakes.
  absl::Duration open_handshake_timeout = absl::Seconds(10);
  absl::Duration close_handshake_timeout = absl::Seconds(5);
};

class WebSocketTransport final : public Transport {
 public:
  // `io` must outlive the transport and be run by exactly one thread; stop that thread before
  // destroying the transport.
  WebSocketTransport(asio::io_context* io, WebSocketTransportOptions options = {});
  ~WebSocketTransport() override;

  WebSocketTransport(const WebSocketTransport&) = delete;
  WebSocketTransport& operator=(const WebSocketTransport&) = delete;

  void Open(uint64_t id, const OpenRequest& request, TransportEvents* events) override;
  void Send(uint64_t id, std::string data, bool binary) override;
  void Close(uint64_t id, int code, std::string_view reason) override;
  void Abort(uint64_t id) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bridge::client

#endif  // BRIDGE_CLIENT_WEBSOCKET_TRANSPORT_H_
