// The WebSocket under a Client: open a connection, send messages, close it. The production
// transport is websocketpp on the client's io thread (websocket_transport.h); unit tests use a
// fake that records what was sent and lets the test play the server.
//
// A Client tells its connections apart by an id it chooses. Transport methods may be called
// from any thread and never call back before they return; every TransportEvents callback runs
// on the client's EventLoop thread. Events of an aborted connection may still arrive; the
// client ignores ids that are not current.
#ifndef BRIDGE_CLIENT_TRANSPORT_H_
#define BRIDGE_CLIENT_TRANSPORT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bridge::client {

// What a connection is opened with.
struct OpenRequest {
  std::string url;                                           // ws://host:port/path
  std::vector<std::string> subprotocols;                     // offered, in order of preference
  std::vector<std::pair<std::string, std::string>> headers;  // extra upgrade headers
};

// How a connection ended.
struct TransportClose {
  // The close code the server sent; 1006 when the connection ended without a close frame or
  // never opened.
  int code = 1006;
  std::string reason;
  // The HTTP status of a refused upgrade (401, 503, ...); 0 otherwise.
  int http_status = 0;
};

// The client's side of a transport. Runs on the EventLoop thread.
class TransportEvents {
 public:
  virtual ~TransportEvents() = default;
  // The upgrade succeeded; `subprotocol` is what the server selected ("" for none).
  virtual void OnTransportOpen(uint64_t id, std::string subprotocol) = 0;
  // One WebSocket message: text, or binary when `binary`.
  virtual void OnTransportMessage(uint64_t id, std::string data, bool binary) = 0;
  // The connection is over (or never opened). Last event of `id`.
  virtual void OnTransportClosed(uint64_t id, TransportClose close) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Starts opening connection `id`; its events go to `events`, which must outlive it.
  virtual void Open(uint64_t id, const OpenRequest& request, TransportEvents* events) = 0;
  // Sends one message on `id`, in order with earlier sends. Dropped once `id` is gone.
  virtual void Send(uint64_t id, std::string data, bool binary) = 0;
  // Starts the close handshake on `id`; OnTransportClosed follows.
  virtual void Close(uint64_t id, int code, std::string_view reason) = 0;
  // Drops `id` at once, without a close handshake.
  virtual void Abort(uint64_t id) = 0;
};

}  // namespace bridge::client

#endif  // BRIDGE_CLIENT_TRANSPORT_H_
