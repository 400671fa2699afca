#include "bridge/client/websocket_client.h"

#include <utility>

namespace bridge::client {
namespace {

ClientRuntime RuntimeOn(AsioEventLoop* loop, WebSocketTransport* transport,
                        std::function<double()> random) {
  ClientRuntime runtime;
  runtime.loop = loop;
  runtime.transport = transport;
  runtime.random = std::move(random);
  return runtime;
}

}  // namespace

WebSocketClient::WebSocketClient(ClientOptions options, WebSocketTransportOptions transport,
                                 std::function<double()> random)
    : transport_(&loop_.io_context(), transport),
      client_(std::move(options), RuntimeOn(&loop_, &transport_, std::move(random))) {}

WebSocketClient::~WebSocketClient() {
  client_.Shutdown();
  // The callbacks emitted so far run; then nothing touches the client or the transport.
  loop_.Stop();
}

}  // namespace bridge::client
