#include "bridge/client/websocket_transport.h"

#include <map>
#include <system_error>
#include <utility>

#include "websocketpp/client.hpp"
#include "websocketpp/config/asio_no_tls_client.hpp"

namespace bridge::client {
namespace {

struct WsClientConfig : public websocketpp::config::asio_client {
  typedef WsClientConfig type;
  typedef websocketpp::config::asio_client base;
  // Logging is compiled out; the client reports through its handlers and counters.
  static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
  static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
};

using WsEndpoint = websocketpp::client<WsClientConfig>;
using WsConnectionPtr = WsEndpoint::connection_ptr;
using websocketpp::connection_hdl;

long Millis(absl::Duration d) { return static_cast<long>(absl::ToInt64Milliseconds(d)); }

}  // namespace

// Everything below runs on the io thread.
class WebSocketTransport::Impl {
 public:
  Impl(asio::io_context* io, const WebSocketTransportOptions& options) : io_(io) {
    endpoint_.init_asio(io, init_error_);
    endpoint_.set_max_message_size(options.max_message_bytes);
    endpoint_.set_open_handshake_timeout(Millis(options.open_handshake_timeout));
    endpoint_.set_close_handshake_timeout(Millis(options.close_handshake_timeout));
    // Small frames go out at once: with Nagle's algorithm on, a frame sent right after another
    // waits for the bridge's delayed ACK of the first (about 40 ms).
    endpoint_.set_tcp_post_init_handler([this](connection_hdl hdl) {
      std::error_code ec;
      WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl, ec);
      if (!ec) con->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), ec);
    });
  }

  asio::io_context& io() { return *io_; }

  void Open(uint64_t id, const OpenRequest& request, TransportEvents* events) {
    std::error_code ec = init_error_;
    WsConnectionPtr con;
    if (!ec) con = endpoint_.get_connection(request.url, ec);
    if (ec) {
      events->OnTransportClosed(id, TransportClose{1006, ec.message(), 0});
      return;
    }
    for (const std::string& subprotocol : request.subprotocols) {
      con->add_subprotocol(subprotocol, ec);
    }
    for (const auto& [name, value] : request.headers) con->append_header(name, value);

    con->set_open_handler([this, id, events](connection_hdl hdl) {
      // websocketpp's client does not record the server's choice; the header has it.
      if (WsConnectionPtr c = Current(id, hdl)) {
        events->OnTransportOpen(id, c->get_response_header("Sec-WebSocket-Protocol"));
      }
    });
    con->set_message_handler([this, id, events](connection_hdl hdl, WsEndpoint::message_ptr m) {
      if (Current(id, hdl) == nullptr) return;
      events->OnTransportMessage(id, std::move(m->get_raw_payload()),
                                 m->get_opcode() == websocketpp::frame::opcode::binary);
    });
    con->set_close_handler([this, id, events](connection_hdl hdl) {
      WsConnectionPtr c = Current(id, hdl);
      if (c == nullptr) return;
      connections_.erase(id);
      events->OnTransportClosed(
          id, TransportClose{c->get_remote_close_code(), c->get_remote_close_reason(), 0});
    });
    con->set_fail_handler([this, id, events](connection_hdl hdl) {
      WsConnectionPtr c = Current(id, hdl);
      if (c == nullptr) return;
      connections_.erase(id);
      const int status = c->get_response_code();
      events->OnTransportClosed(
          id, TransportClose{1006, c->get_ec().message(), status == 101 ? 0 : status});
    });
    connections_[id] = con;
    endpoint_.connect(con);
  }

  void Send(uint64_t id, const std::string& data, bool binary) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    // A failed send means the connection is closing; its close handler reports it.
    (void)it->second->send(
        data, binary ? websocketpp::frame::opcode::binary : websocketpp::frame::opcode::text);
  }

  void Close(uint64_t id, int code, const std::string& reason) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    std::error_code ec;
    it->second->close(static_cast<websocketpp::close::status::value>(code), reason, ec);
    if (ec) it->second->terminate(ec);
  }

  void Abort(uint64_t id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    WsConnectionPtr con = std::move(it->second);
    connections_.erase(it);  // its events are no longer reported
    con->terminate(std::make_error_code(std::errc::connection_aborted));
  }

 private:
  // The connection `id` when `hdl` is still it.
  WsConnectionPtr Current(uint64_t id, const connection_hdl& hdl) {
    auto it = connections_.find(id);
    if (it == connections_.end() || it->second != hdl.lock()) return nullptr;
    return it->second;
  }

  asio::io_context* const io_;
  std::error_code init_error_;
  WsEndpoint endpoint_;
  std::map<uint64_t, WsConnectionPtr> connections_;
};

WebSocketTransport::WebSocketTransport(asio::io_context* io, WebSocketTransportOptions options)
    : impl_(std::make_unique<Impl>(io, options)) {}

WebSocketTransport::~WebSocketTransport() = default;

void WebSocketTransport::Open(uint64_t id, const OpenRequest& request, TransportEvents* events) {
  asio::post(impl_->io(),
             [impl = impl_.get(), id, request, events] { impl->Open(id, request, events); });
}

void WebSocketTransport::Send(uint64_t id, std::string data, bool binary) {
  asio::post(impl_->io(), [impl = impl_.get(), id, data = std::move(data), binary] {
    impl->Send(id, data, binary);
  });
}

void WebSocketTransport::Close(uint64_t id, int code, std::string_view reason) {
  asio::post(impl_->io(), [impl = impl_.get(), id, code, reason = std::string(reason)] {
    impl->Close(id, code, reason);
  });
}

void WebSocketTransport::Abort(uint64_t id) {
  asio::post(impl_->io(), [impl = impl_.get(), id] { impl->Abort(id); });
}

}  // namespace bridge::client
