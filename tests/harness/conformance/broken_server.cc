#include "tests/harness/conformance/broken_server.h"

#include <map>
#include <string>
#include <system_error>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "websocketpp/config/asio_no_tls.hpp"
#include "websocketpp/server.hpp"

namespace harness::conformance::testing {
namespace {

using Endpoint = websocketpp::server<websocketpp::config::asio>;

class BrokenServerImpl : public BrokenServer {
 public:
  ~BrokenServerImpl() override {
    // The io thread first: websocketpp's accept loop runs on connection strands, so closing
    // its acceptor while that thread runs would race it.
    endpoint_.stop();
    if (thread_.joinable()) thread_.join();
    std::error_code ec;
    endpoint_.stop_listening(ec);
  }

  absl::Status Listen() {
    std::error_code ec;
    endpoint_.clear_access_channels(websocketpp::log::alevel::all);
    endpoint_.clear_error_channels(websocketpp::log::elevel::all);
    endpoint_.init_asio(ec);
    if (ec) return absl::InternalError(ec.message());
    endpoint_.set_message_handler(
        [this](websocketpp::connection_hdl hdl, Endpoint::message_ptr msg) {
          OnMessage(hdl, msg->get_payload());
        });
    endpoint_.listen("127.0.0.1", "0", ec);
    if (ec) return absl::InternalError(ec.message());
    port_ = endpoint_.get_local_endpoint(ec).port();
    if (ec) return absl::InternalError(ec.message());
    endpoint_.start_accept(ec);
    if (ec) return absl::InternalError(ec.message());
    thread_ = std::thread([this] { endpoint_.run(); });
    return absl::OkStatus();
  }

  uint16_t port() const override { return port_; }

 private:
  // On the io thread.
  void OnMessage(websocketpp::connection_hdl hdl, const std::string& text) {
    std::error_code ec;
    bool& confirmed = confirmed_[hdl];
    if (!confirmed) {
      if (absl::StrContains(text, R"("type":"connect")")) {
        confirmed = true;
        endpoint_.send(hdl,
                       R"({"type":"connect_confirm","clientId":"someone-else",)"
                       R"("conversationId":"b-1","status":"confirmed",)"
                       R"("heartbeatIntervalMs":500,"heartbeatTimeoutMs":1000,"resumed":false})",
                       websocketpp::frame::opcode::text, ec);
      } else {
        endpoint_.close(hdl, websocketpp::close::status::normal, "bye", ec);
      }
      return;
    }
    if (absl::StrContains(text, R"("type":"message")")) {
      endpoint_.send(hdl,
                     R"({"type":"error","messageId":"probe","category":"not_found",)"
                     R"("retryable":false,"message":"no such service","seq":2})",
                     websocketpp::frame::opcode::text, ec);
    }
    if (absl::StrContains(text, R"("type":"subscribe")")) {
      endpoint_.send(hdl, R"({"type":"subscribed","seq":3})", websocketpp::frame::opcode::text, ec);
    }
    if (absl::StrContains(text, R"("type":"unsubscribe")")) {
      endpoint_.send(hdl, R"({"type":"unsubscribed","seq":4})", websocketpp::frame::opcode::text,
                     ec);
    }
    // ping: no pong, ever.
  }

  Endpoint endpoint_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::map<websocketpp::connection_hdl, bool, std::owner_less<websocketpp::connection_hdl>>
      confirmed_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BrokenServer>> BrokenServer::Start() {
  auto server = std::make_unique<BrokenServerImpl>();
  if (absl::Status s = server->Listen(); !s.ok()) return s;
  return server;
}

}  // namespace harness::conformance::testing
