#include "bridge/server/server.h"

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <set>
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/config/config.h"
#include "bridge/protocol/error_table.h"
#include "bridge/protocol/frame_codec.h"
#include "websocketpp/config/asio_no_tls.hpp"
#include "websocketpp/server.hpp"

namespace bridge::server {
namespace {

class BridgeConnection;

// Per-connection data that websocketpp keeps inside each connection (config::connection_base).
struct ConnectionSlot {
  protocol::Encoding encoding = protocol::Encoding::kJson;
  std::shared_ptr<BridgeConnection> bridge;
  // Work posted from other threads, run on the connection's strand by the interrupt handler.
  absl::Mutex posted_mu;
  std::vector<std::function<void()>> posted ABSL_GUARDED_BY(posted_mu);
};

struct WsConfig : public websocketpp::config::asio {
  typedef WsConfig type;
  typedef websocketpp::config::asio base;
  typedef ConnectionSlot connection_base;
  // Logging is compiled out; the bridge reports through counters.
  static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
  static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
};

using WsServer = websocketpp::server<WsConfig>;
using WsConnection = WsServer::connection_type;
using WsConnectionPtr = WsServer::connection_ptr;
using websocketpp::connection_hdl;

// What executors need of the server; outlives it, so a late gRPC callback finds it disabled.
struct ServerCore {
  absl::Mutex mu;
  WsServer* endpoint ABSL_GUARDED_BY(mu) = nullptr;
};

void RunOnStrand(WsServer& endpoint, const connection_hdl& hdl,
                 std::function<void(WsConnection&)> task);

// Posts to one connection's strand; drops tasks once the connection or the server is gone.
class ConnectionExecutor final : public session::Executor {
 public:
  ConnectionExecutor(std::shared_ptr<ServerCore> core, connection_hdl hdl)
      : core_(std::move(core)), hdl_(std::move(hdl)) {}
  void Post(std::function<void()> task) override {
    absl::MutexLock lock(&core_->mu);
    if (core_->endpoint == nullptr) return;
    RunOnStrand(*core_->endpoint, hdl_, [task = std::move(task)](WsConnection&) { task(); });
  }

 private:
  std::shared_ptr<ServerCore> core_;
  connection_hdl hdl_;
};

// The session::Transport of one WebSocket connection. Lives as long as the websocketpp
// connection that holds it; every method runs on that connection's strand.
class BridgeConnection final : public session::Transport {
 public:
  BridgeConnection(WsConnection* con, std::shared_ptr<session::Executor> executor,
                   const session::SessionOptions& options, protocol::Encoding encoding,
                   Clock* clock, Metrics* metrics, session::Session::IdGenerator ids,
                   session::CallServices services, upstream::Metadata upgrade_metadata)
      : con_(con),
        executor_(std::move(executor)),
        session_(options, encoding, this, clock, metrics, std::move(ids), services,
                 std::move(upgrade_metadata)) {}

  std::shared_ptr<session::Executor> executor() override { return executor_; }
  size_t buffered_bytes() override { return con_->get_buffered_amount(); }

  session::Session& session() { return session_; }

  void Send(std::string data, protocol::Encoding encoding) override {
    // A failed send means the connection is closing; its close handler does the rest.
    (void)con_->send(data, encoding == protocol::Encoding::kJson
                               ? websocketpp::frame::opcode::text
                               : websocketpp::frame::opcode::binary);
  }

  void Close(int code, std::string_view reason) override {
    std::error_code ec;
    con_->close(static_cast<websocketpp::close::status::value>(code), std::string(reason), ec);
    if (ec) con_->terminate(ec);
  }

  void ArmTimer(session::SessionTimer timer, absl::Duration after) override {
    TimerSlot& slot = timers_[static_cast<size_t>(timer)];
    if (slot.timer) slot.timer->cancel();
    const uint64_t generation = ++slot.generation;
    const long ms = std::max<long>(1, static_cast<long>(absl::ToInt64Milliseconds(after)));
    // The timer handler keeps the websocketpp connection, and so this object, alive.
    slot.timer = con_->set_timer(ms, [this, timer, generation](const std::error_code& ec) {
      if (ec || timers_[static_cast<size_t>(timer)].generation != generation) return;
      session_.OnTimer(timer);
    });
  }

  void CancelTimer(session::SessionTimer timer) override {
    TimerSlot& slot = timers_[static_cast<size_t>(timer)];
    ++slot.generation;
    if (slot.timer) {
      slot.timer->cancel();
      slot.timer.reset();
    }
  }

 private:
  struct TimerSlot {
    WsConnection::timer_ptr timer;
    uint64_t generation = 0;
  };

  WsConnection* const con_;
  std::shared_ptr<session::Executor> executor_;
  session::Session session_;
  std::array<TimerSlot, session::kSessionTimerCount> timers_;
};

// Runs `task(connection)` on the strand of the connection behind `hdl`, if it still exists.
// Any thread.
void RunOnStrand(WsServer& endpoint, const connection_hdl& hdl,
                 std::function<void(WsConnection&)> task) {
  std::error_code ec;
  WsConnectionPtr con = endpoint.get_con_from_hdl(hdl, ec);
  if (ec || !con) return;
  bool first;
  {
    absl::MutexLock lock(&con->posted_mu);
    first = con->posted.empty();
    WsConnection* raw = con.get();
    con->posted.push_back([raw, task = std::move(task)] { task(*raw); });
  }
  if (first) con->interrupt();
}

// The interrupt handler: runs what RunOnStrand queued. On the connection's strand.
void RunPosted(WsConnection& con) {
  std::vector<std::function<void()>> tasks;
  {
    absl::MutexLock lock(&con.posted_mu);
    tasks.swap(con.posted);
  }
  for (auto& task : tasks) task();
}

}  // namespace

class Server::Impl {
 public:
  Impl(const v1::BridgeConfig& config, ServerOptions options)
      : config_(config),
        options_(std::move(options)),
        session_options_(session::SessionOptions::FromConfig(config)),
        core_(std::make_shared<ServerCore>()) {
    absl::MutexLock lock(&core_->mu);
    core_->endpoint = &endpoint_;
  }

  ~Impl() {
    Shutdown();
    Wait();
    absl::MutexLock lock(&core_->mu);
    core_->endpoint = nullptr;
  }

  absl::Status Start() {
    auto host_port = config::ParseHostPort(config_.listen());
    if (!host_port.ok()) return host_port.status();

    std::error_code ec;
    endpoint_.init_asio(ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot start Asio: ", ec.message()));
    endpoint_.set_reuse_addr(true);
    endpoint_.set_listen_backlog(1024);
    endpoint_.set_max_message_size(config_.max_frame_bytes());
    endpoint_.set_max_http_body_size(64 * 1024);

    endpoint_.set_validate_handler([this](connection_hdl hdl) { return OnValidate(hdl); });
    endpoint_.set_open_handler([this](connection_hdl hdl) { OnOpen(hdl); });
    endpoint_.set_close_handler([this](connection_hdl hdl) { OnClose(hdl); });
    endpoint_.set_fail_handler([this](connection_hdl hdl) { OnFail(hdl); });
    endpoint_.set_message_handler(
        [this](connection_hdl hdl, WsServer::message_ptr msg) { OnMessage(hdl, msg); });
    endpoint_.set_ping_handler([this](connection_hdl hdl, std::string) { return OnPing(hdl); });
    endpoint_.set_http_handler([this](connection_hdl hdl) { OnHttp(hdl); });
    endpoint_.set_interrupt_handler([this](connection_hdl hdl) {
      std::error_code ec;
      WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl, ec);
      if (!ec && con) RunPosted(*con);
    });

    endpoint_.listen(host_port->host, std::to_string(host_port->port), ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", config_.listen(), ": ", ec.message()));
    }
    auto local = endpoint_.get_local_endpoint(ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot read the bound port: ", ec.message()));
    port_ = local.port();
    endpoint_.start_accept(ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot accept: ", ec.message()));

    const int threads = static_cast<int>(std::max<uint32_t>(1, config_.io_threads()));
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { endpoint_.run(); });
    }
    started_ = true;
    return absl::OkStatus();
  }

  uint16_t port() const { return port_; }
  Metrics& metrics() { return metrics_; }

  bool AwaitOpenConnections(size_t count, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto done = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return open_.size() == count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  }

  void Shutdown() {
    if (!started_) return;
    asio::post(endpoint_.get_io_service(), [this] { BeginDrain(); });
  }

  void Wait() {
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }

 private:
  // On an io thread.
  void BeginDrain() {
    if (draining_) return;
    draining_ = true;
    std::error_code ec;
    endpoint_.stop_listening(ec);

    std::vector<connection_hdl> open;
    {
      absl::MutexLock lock(&mu_);
      open.assign(open_.begin(), open_.end());
      if (open_.empty()) {
        endpoint_.stop();
        return;
      }
    }
    for (const connection_hdl& hdl : open) {
      RunOnStrand(endpoint_, hdl, [](WsConnection& con) {
        if (con.bridge) con.bridge->session().Shutdown();
      });
    }
    grace_ = std::make_unique<asio::steady_timer>(
        endpoint_.get_io_service(), std::chrono::milliseconds(config_.shutdown_grace_ms()));
    grace_->async_wait([this](const std::error_code& ec) {
      if (!ec) endpoint_.stop();  // clients that did not finish the close handshake in time
    });
  }

  bool OnValidate(connection_hdl hdl) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    const std::string& resource = con->get_resource();
    const std::string_view path = std::string_view(resource).substr(0, resource.find('?'));
    if (path != config_.path() || draining_.load()) {
      metrics_.connections_refused.fetch_add(1, std::memory_order_relaxed);
      con->set_status(draining_.load() ? websocketpp::http::status_code::service_unavailable
                                       : websocketpp::http::status_code::not_found);
      return false;
    }
    // The first subprotocol of the client's list that the bridge speaks; none -> JSON.
    for (const std::string& offered : con->get_requested_subprotocols()) {
      if (offered == protocol::kJsonSubprotocol || offered == protocol::kBinarySubprotocol) {
        std::error_code ec;
        con->select_subprotocol(offered, ec);
        con->encoding = offered == protocol::kBinarySubprotocol ? protocol::Encoding::kBinary
                                                                : protocol::Encoding::kJson;
        break;
      }
    }
    return true;
  }

  void OnOpen(connection_hdl hdl) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    upstream::Metadata forwarded;
    for (const auto& [name, value] : con->get_request().get_headers()) {
      const std::string key = absl::AsciiStrToLower(name);
      for (const std::string& pattern : config_.forward_request_headers()) {
        const bool prefix = !pattern.empty() && pattern.back() == '*';
        if (prefix ? absl::StartsWith(key, absl::string_view(pattern).substr(
                                               0, pattern.size() - 1))
                   : key == pattern) {
          forwarded.emplace_back(key, value);
          break;
        }
      }
    }
    con->bridge = std::make_shared<BridgeConnection>(
        con.get(), std::make_shared<ConnectionExecutor>(core_, hdl), session_options_,
        con->encoding, options_.clock, &metrics_, options_.new_conversation_id,
        options_.services, std::move(forwarded));
    {
      absl::MutexLock lock(&mu_);
      open_.insert(hdl);
    }
    metrics_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    metrics_.connections_active.fetch_add(1, std::memory_order_relaxed);
    con->bridge->session().Start();
    if (draining_.load()) con->bridge->session().Shutdown();
  }

  void OnMessage(connection_hdl hdl, WsServer::message_ptr msg) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    if (!con->bridge) return;
    con->bridge->session().OnMessage(
        msg->get_payload(), msg->get_opcode() == websocketpp::frame::opcode::binary);
  }

  bool OnPing(connection_hdl hdl) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    if (con->bridge) con->bridge->session().OnControlPing();
    return true;  // websocketpp answers with a pong
  }

  void OnClose(connection_hdl hdl) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    if (!con->bridge) return;
    session::Session& session = con->bridge->session();
    if (session.state() != session::Session::State::kClosing) {
      // Closes websocketpp started itself on bad input.
      const int code = con->get_local_close_code();
      if (code == protocol::close_code::kInvalidPayload) {
        metrics_.invalid_utf8_closes.fetch_add(1, std::memory_order_relaxed);
        metrics_.CountCloseSent(code);
      } else if (code == protocol::close_code::kMessageTooBig) {
        metrics_.too_big_closes.fetch_add(1, std::memory_order_relaxed);
        metrics_.CountCloseSent(code);
      }
    }
    session.OnClosed();
    Forget(hdl);
  }

  void OnFail(connection_hdl hdl) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    if (con->bridge) {
      con->bridge->session().OnClosed();
      Forget(hdl);
    }
  }

  void Forget(const connection_hdl& hdl) {
    metrics_.connections_active.fetch_sub(1, std::memory_order_relaxed);
    absl::MutexLock lock(&mu_);
    open_.erase(hdl);
    if (draining_.load() && open_.empty()) {
      asio::post(endpoint_.get_io_service(), [this] {
        if (grace_) grace_->cancel();
        endpoint_.stop();
      });
    }
  }

  void OnHttp(connection_hdl hdl) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    const std::string& resource = con->get_resource();
    if (resource == "/healthz") {
      const bool ok = !draining_.load();
      con->set_status(ok ? websocketpp::http::status_code::ok
                         : websocketpp::http::status_code::service_unavailable);
      con->set_body(ok ? "ok\n" : "draining\n");
      con->append_header("Content-Type", "text/plain");
    } else if (resource == "/metrics") {
      con->set_status(websocketpp::http::status_code::ok);
      con->set_body(metrics_.RenderPrometheus());
      con->append_header("Content-Type", "text/plain; version=0.0.4");
    } else {
      con->set_status(websocketpp::http::status_code::not_found);
      con->set_body(absl::StrCat("not found; WebSocket clients connect to ", config_.path(),
                                 "\n"));
    }
  }

  const v1::BridgeConfig& config_;
  const ServerOptions options_;
  const session::SessionOptions session_options_;
  Metrics metrics_;
  WsServer endpoint_;
  std::vector<std::thread> threads_;
  bool started_ = false;
  uint16_t port_ = 0;
  std::atomic<bool> draining_{false};
  std::unique_ptr<asio::steady_timer> grace_;
  std::shared_ptr<ServerCore> core_;
  absl::Mutex mu_;
  std::set<connection_hdl, std::owner_less<connection_hdl>> open_ ABSL_GUARDED_BY(mu_);
};

Server::Server(const v1::BridgeConfig& config, ServerOptions options)
    : impl_(std::make_unique<Impl>(config, std::move(options))) {}
Server::~Server() = default;
absl::Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
void Server::Shutdown() { impl_->Shutdown(); }
void Server::Wait() { impl_->Wait(); }
Metrics& Server::metrics() { return impl_->metrics(); }
bool Server::AwaitOpenConnections(size_t count, absl::Duration timeout) {
  return impl_->AwaitOpenConnections(count, timeout);
}

}  // namespace bridge::server
