// A Client ready for production: its own io thread (AsioEventLoop), websocketpp underneath
// (WebSocketTransport), the real clock and a seeded random source.
//
//   ClientOptions options;
//   options.url = "ws://127.0.0.1:8080/ws";
//   WebSocketClient ws(options);
//   ws->Connect();
//   CallOutcome out = ws->CallFuture("demo.v1.Echo/Say", R"({"text":"hi"})").get();
//
// Threading as for Client: any thread calls in, callbacks run on the io thread. Destroy it
// from another thread than its io thread (not from one of its callbacks).
#ifndef BRIDGE_CLIENT_WEBSOCKET_CLIENT_H_
#define BRIDGE_CLIENT_WEBSOCKET_CLIENT_H_

#include <functional>

#include "bridge/client/asio_event_loop.h"
#include "bridge/client/client.h"
#include "bridge/client/websocket_transport.h"

namespace bridge::client {

class WebSocketClient {
 public:
  // `random` draws the reconnect jitter in [0, 1); empty: a seeded absl::BitGen.
  explicit WebSocketClient(ClientOptions options, WebSocketTransportOptions transport = {},
                           std::function<double()> random = {});
  // Ends the session without waiting (Client::Shutdown), then stops the io thread.
  ~WebSocketClient();

  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  Client& client() { return client_; }
  Client* operator->() { return &client_; }

 private:
  // Destroyed in reverse: the client, then the transport, then the loop.
  AsioEventLoop loop_;
  WebSocketTransport transport_;
  Client client_;
};

}  // namespace bridge::client

#endif  // BRIDGE_CLIENT_WEBSOCKET_CLIENT_H_
