#include "bridge/server/server.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bridge/common/log.h"
#include "bridge/config/config.h"
#include "bridge/protocol/error_table.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/server/acceptor.h"
#include "bridge/server/admin.h"
#include "bridge/server/admission.h"
#include "bridge/server/outlet.h"
#include "bridge/server/session_core.h"
#include "bridge/server/tls_certificates.h"
#include "bridge/server/upgrade.h"
#include "bridge/server/ws_config.h"
#include "bridge/transcode/json_text.h"
#include "bridge/upstream/metadata.h"
#include "bridge/upstream/trace_context.h"
#include "bridge/web/assets.h"
#include "websocketpp/config/asio.hpp"
#include "websocketpp/config/asio_no_tls.hpp"
#include "websocketpp/extensions/permessage_deflate/enabled.hpp"
#include "websocketpp/server.hpp"

namespace bridge::server {

using websocketpp::connection_hdl;

// What Server forwards to: an Endpoint on plain TCP or on TLS.
class Server::Impl {
 public:
  virtual ~Impl() = default;
  virtual absl::Status Start() = 0;
  virtual uint16_t port() const = 0;
  virtual uint16_t admin_port() const = 0;
  virtual void Shutdown() = 0;
  virtual void Wait() = 0;
  virtual Metrics& metrics() = 0;
  virtual bool AwaitOpenConnections(size_t count, absl::Duration timeout) = 0;
  virtual size_t SessionCount() = 0;
  virtual bool AwaitSessionCount(size_t count, absl::Duration timeout) = 0;
};

namespace {

// The server, on plain TCP or TLS.
template <typename Config>
class Endpoint final : public Server::Impl, public SessionHost<Config> {
 public:
  using WsServer = websocketpp::server<Config>;
  using WsConnection = typename WsServer::connection_type;
  using WsConnectionPtr = typename WsServer::connection_ptr;
  using Core = SessionCore<Config>;
  static constexpr bool kTls = std::is_base_of_v<TlsConfig, Config>;

  Endpoint(const v1::BridgeConfig& config, ServerOptions options)
      : config_(config),
        options_(std::move(options)),
        session_options_(SessionOptionsFor(config, options_)),
        gate_(std::make_shared<ServerGate>()) {}

  static session::SessionOptions SessionOptionsFor(const v1::BridgeConfig& config,
                                                   const ServerOptions& options) {
    session::SessionOptions o = session::SessionOptions::FromConfig(config);
    o.jwt = options.jwt;
    o.auth_checker = options.auth_checker;
    o.node = options.node;
    return o;
  }

  ~Endpoint() override {
    Shutdown();
    Wait();
    {
      absl::MutexLock lock(&gate_->mu);
      gate_->open = false;
    }
    // The io threads are stopped: end what is left, here, before the endpoint goes; that
    // includes cores no longer registered that pending work still holds.
    std::vector<std::shared_ptr<Core>> cores;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& weak : every_core_) {
        if (auto core = weak.lock()) cores.push_back(std::move(core));
      }
      cores_.clear();
      by_id_.clear();
      every_core_.clear();
    }
    for (auto& core : cores) core->Teardown();
  }

  absl::Status Start() override {
    auto host_port = config::ParseHostPort(config_.listen());
    if (!host_port.ok()) return host_port.status();

    std::error_code ec;
    endpoint_.init_asio(ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot start Asio: ", ec.message()));
    drain_strand_ = std::make_unique<asio::strand<asio::io_context::executor_type>>(
        asio::make_strand(endpoint_.get_io_service()));
    endpoint_.set_max_message_size(config_.max_frame_bytes());
    endpoint_.set_max_http_body_size(64 * 1024);

    endpoint_.set_validate_handler([this](connection_hdl hdl) { return OnValidate(hdl); });
    endpoint_.set_open_handler([this](connection_hdl hdl) { OnOpen(hdl); });
    endpoint_.set_close_handler([this](connection_hdl hdl) { OnClose(hdl); });
    endpoint_.set_fail_handler([this](connection_hdl hdl) { OnFail(hdl); });
    endpoint_.set_message_handler(
        [this](connection_hdl hdl, typename WsServer::message_ptr msg) { OnMessage(hdl, msg); });
    endpoint_.set_ping_handler([this](connection_hdl hdl, std::string) { return OnPing(hdl); });
    endpoint_.set_http_handler([this](connection_hdl hdl) { OnHttp(hdl); });
    if constexpr (kTls) {
      tls_ = std::make_unique<TlsCertificates>(config_.tls(), &metrics_, options_.clock);
      absl::StatusOr<std::shared_ptr<asio::ssl::context>> shared = tls_->Start();
      if (!shared.ok()) return shared.status();
      endpoint_.set_tls_init_handler([shared = *shared](connection_hdl) { return shared; });
    }

    acceptor_ = std::make_unique<Acceptor>(*drain_strand_, MakeAcceptorHooks());
    if (absl::Status listening =
            acceptor_->Listen(host_port->host, host_port->port, config_.listen());
        !listening.ok()) {
      return listening;
    }
    acceptor_->Start();
    if (absl::Status admin = StartAdmin(); !admin.ok()) return admin;

    const int threads = static_cast<int>(std::max<uint32_t>(1, config_.io_threads()));
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { endpoint_.run(); });
    }
    started_ = true;
    return absl::OkStatus();
  }

  uint16_t port() const override { return acceptor_ == nullptr ? 0 : acceptor_->port(); }
  uint16_t admin_port() const override { return admin_port_; }
  Metrics& metrics() override { return metrics_; }

  bool AwaitOpenConnections(size_t count, absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    auto done = [this, count]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_.size() == count; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  }

  size_t SessionCount() override {
    absl::MutexLock lock(&mu_);
    return cores_.size();
  }

  bool AwaitSessionCount(size_t count, absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    auto done = [this, count]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return cores_.size() == count; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  }

  void Shutdown() override {
    if (!started_) return;
    asio::post(*drain_strand_, [this] {
      stop_when_drained_ = true;
      if (draining_.load()) {
        StopIfDrained();  // a drain asked for through /drain went first
      } else {
        BeginDrain();
      }
    });
  }

  void Wait() override {
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }

  // --- SessionHost
  void Register(const std::string& conversation_id, std::shared_ptr<Core> core) override {
    absl::MutexLock lock(&mu_);
    by_id_[conversation_id] = core;
  }

  void Forget(Core* core) override {
    std::shared_ptr<Core> keep;  // dropped after the lock
    absl::MutexLock lock(&mu_);
    if (auto it = cores_.find(core); it != cores_.end()) {
      keep = std::move(it->second);
      cores_.erase(it);
    }
    if (core->session().state() != session::Session::State::kPending) {
      by_id_.erase(core->session().conversation_id());
    }
  }

  bool TryResume(const std::shared_ptr<Core>& claimant, const std::string& conversation_id,
                 uint64_t last_seq, const v1::Connect& connect,
                 const std::optional<auth::Identity>& identity) override {
    std::shared_ptr<Core> target;
    {
      absl::MutexLock lock(&mu_);
      auto it = by_id_.find(conversation_id);
      if (it == by_id_.end()) return false;
      target = it->second.lock();
    }
    if (target == nullptr || target == claimant) return false;
    if (!target->session().TryClaim(claimant->encoding(), last_seq,
                                    identity.has_value() ? identity->user_id : "")) {
      return false;
    }
    // On the claimant's strand: take its connection and point the connection at the target.
    std::shared_ptr<typename Core::ConnectionOutlet> out = claimant->HandOver(target);
    if (out != nullptr) out->connection()->SetCore(target);
    {
      absl::MutexLock lock(&mu_);
      cores_.erase(claimant.get());
    }
    target->Post(
        [target, out, connect, identity] { target->AttachResumed(out, connect, identity); });
    return true;
  }

 private:
  // On drain_strand_.
  void BeginDrain() {
    if (draining_.exchange(true)) return;
    log::Info("drain_started")
        .Int("drain_timeout_ms", config_.drain_timeout_ms())
        .Int("retry_after_ms", config_.drain_retry_after_ms());
    acceptor_->Close();

    std::vector<std::shared_ptr<Core>> cores;
    bool idle;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [key, core] : cores_) cores.push_back(core);
      idle = IdleLocked();
    }
    for (auto& core : cores) core->Post([core] { core->Drain(); });
    if (idle) {
      drain_over_ = true;
      StopIfDrained();
      return;
    }
    // Calls get drain_timeout_ms to finish; then every session is closed at once, and clients
    // get shutdown_grace_ms for the close handshake.
    grace_ = std::make_unique<asio::steady_timer>(
        *drain_strand_, std::chrono::milliseconds(config_.drain_timeout_ms()));
    grace_->async_wait([this](const std::error_code& ec) {
      if (ec) return;
      std::vector<std::shared_ptr<Core>> left;
      {
        absl::MutexLock lock(&mu_);
        for (const auto& [key, core] : cores_) left.push_back(core);
      }
      for (auto& core : left) core->Post([core] { core->Shutdown(); });
      grace_->expires_after(std::chrono::milliseconds(config_.shutdown_grace_ms()));
      grace_->async_wait([this](const std::error_code& ec) {
        if (ec) return;
        drain_over_ = true;  // clients that did not finish the close handshake in time
        StopIfDrained();
      });
    });
  }

  // The accept loop's connections are websocketpp's; each starts on its own strand, as
  // websocketpp's accept loop would have started it.
  Acceptor::Hooks MakeAcceptorHooks() {
    Acceptor::Hooks hooks;
    hooks.next = [this]() -> Acceptor::Pending {
      WsConnectionPtr con = endpoint_.get_connection();
      if (con == nullptr) return {};
      return {&con->get_raw_socket(), [this, con] {
                // From here until OnOpen, OnFail or OnHttp the connection is in its handshake:
                // its client may soon hold a 101, so a drain waits for it as for an open one.
                {
                  absl::MutexLock lock(&mu_);
                  handshaking_.insert(con->get_handle());
                }
                asio::post(*con->get_strand(), [con] { con->start(); });
              }};
    };
    hooks.failed = [this](const std::string& reason) {
      metrics_.accept_errors.fetch_add(1, std::memory_order_relaxed);
      log::Warn("accept_failed").Str("reason", reason);
    };
    return hooks;
  }

  // The io threads stop once a drain is over, when Shutdown asked for it (a drain begun through
  // /drain leaves them running, the admin port answering, until Shutdown). On an io thread.
  void StopIfDrained() {
    if (!stop_when_drained_.load() || !drain_over_.load()) return;
    if (!stopped_.exchange(true)) log::Info("drain_finished");
    endpoint_.stop();
  }

  bool OnValidate(connection_hdl hdl) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    const std::string origin = con->get_request_header("Origin");
    const std::string authorization = con->get_request_header("Authorization");
    UpgradeRequest request{con->get_resource(), origin, authorization,
                           con->get_requested_subprotocols(), draining_.load()};
    const UpgradeDecision d = DecideUpgrade(request, config_);
    switch (d.refusal) {
      case UpgradeRefusal::kNone:
        break;
      case UpgradeRefusal::kOrigin:
        metrics_.origin_refusals.fetch_add(1, std::memory_order_relaxed);
        log::Warn("upgrade_refused").Int("status", 403).Str("origin", origin);
        con->set_status(websocketpp::http::status_code::forbidden);
        return false;
      case UpgradeRefusal::kNotFound:
      case UpgradeRefusal::kDraining:
        metrics_.connections_refused.fetch_add(1, std::memory_order_relaxed);
        log::Debug("upgrade_refused")
            .Int("status", d.http_status)
            .Str("resource", con->get_resource());
        con->set_status(static_cast<websocketpp::http::status_code::value>(d.http_status));
        return false;
    }
    con->upgrade_token = d.token;
    if (!d.subprotocol.empty()) {
      std::error_code ec;
      con->select_subprotocol(d.subprotocol, ec);
    }
    con->encoding = d.encoding;
    return true;
  }

  // Whether one more connection from `ip` fits; counts it when it does.
  bool AdmitConnection(const connection_hdl& hdl, const std::string& ip, const char** reason) {
    const Admission::Refusal refusal = admission_.Admit(ip);
    if (refusal != Admission::Refusal::kNone) {
      (refusal == Admission::Refusal::kMemoryLimit ? metrics_.memory_guard_refusals
                                                   : metrics_.connection_limit_refusals)
          .fetch_add(1, std::memory_order_relaxed);
      *reason = Admission::Name(refusal);
      return false;
    }
    absl::MutexLock lock(&mu_);
    open_.insert(hdl);
    return true;
  }

  bool ForwardPatternMatches(const std::string& key) const {
    for (const std::string& pattern : config_.forward_request_headers()) {
      const bool prefix = !pattern.empty() && pattern.back() == '*';
      if (prefix ? absl::StartsWith(key, absl::string_view(pattern).substr(0, pattern.size() - 1))
                 : key == pattern) {
        return true;
      }
    }
    return false;
  }

  upstream::Metadata ForwardedHeaders(WsConnection& con) {
    upstream::Metadata forwarded;
    for (const auto& [name, value] : con.get_request().get_headers()) {
      const std::string key = absl::AsciiStrToLower(name);
      // The trace context always reaches the session, which checks it and makes each call a
      // child span of it (bridge/upstream/trace_context.h).
      if (key == upstream::kTraceParentKey || key == upstream::kTraceStateKey) {
        forwarded.emplace_back(key, upstream::PercentEncodeMetadataValue(value));
        continue;
      }
      // A name gRPC refuses, or one of the bridge's own (a client's x-bridge-user-id would pass
      // for the bridge's word on who it is), is never forwarded, whatever the patterns say.
      if (!ForwardPatternMatches(key)) continue;
      if (!upstream::IsLegalMetadataKey(key) || upstream::IsReservedMetadataKey(key)) {
        metrics_.headers_not_forwarded.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      // Header values may hold bytes gRPC refuses (obs-text, a tab): percent-encoded.
      forwarded.emplace_back(key, upstream::PercentEncodeMetadataValue(value));
    }
    return forwarded;
  }

  void OnOpen(connection_hdl hdl) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    std::error_code ec;
    const auto remote = con->get_raw_socket().remote_endpoint(ec);
    const std::string ip = ec ? std::string("unknown") : remote.address().to_string();
    const char* reason = "";
    const bool admitted = AdmitConnection(hdl, ip, &reason);
    EndHandshake(hdl);  // after AdmitConnection: a drain always sees it open or in its handshake
    if (!admitted) {
      // Over capacity: the protocol's answer is 1013, try again later. No session is made.
      metrics_.CountCloseSent(protocol::close_code::kTryAgainLater);
      log::Warn("connection_refused").Int("code", 1013).Str("reason", reason).Str("ip", ip);
      con->close(websocketpp::close::status::try_again_later, reason, ec);
      return;
    }
    con->client_ip = ip;
    auto core = std::make_shared<Core>(endpoint_.get_io_service(), con->get_strand(), gate_, this,
                                       con->encoding);
    core->Init(session_options_, options_.clock, &metrics_, options_.new_conversation_id,
               options_.services, ForwardedHeaders(*con));
    core->session().set_upgrade_token(con->upgrade_token);
    if (options_.auth_checker != nullptr) {
      auth::CheckInput request;
      for (const auto& [name, value] : con->get_request().get_headers()) {
        request.headers.emplace_back(absl::AsciiStrToLower(name), value);
      }
      request.remote_ip = ip;
      request.resource = con->get_resource();
      core->session().set_upgrade_request(std::move(request));
    }
    con->SetCore(core);
    {
      absl::MutexLock lock(&mu_);
      cores_.emplace(core.get(), core);
      if (every_core_.size() >= 2 * every_core_floor_) {
        every_core_.erase(std::remove_if(every_core_.begin(), every_core_.end(),
                                         [](const auto& w) { return w.expired(); }),
                          every_core_.end());
        every_core_floor_ = std::max<size_t>(64, every_core_.size());
      }
      every_core_.push_back(core);
    }
    metrics_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    metrics_.connections_active.fetch_add(1, std::memory_order_relaxed);
    const bool draining = draining_.load();
    core->Deliver(
        con->get_strand(), [core, con, draining] { core->AttachNew(con, draining); }, metrics_);
  }

  void OnMessage(connection_hdl hdl, typename WsServer::message_ptr msg) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    std::shared_ptr<Core> core = con->template GetCore<Core>();
    if (core == nullptr) return;
    const bool binary = msg->get_opcode() == websocketpp::frame::opcode::binary;
    core->Deliver(
        con->get_strand(),
        [core, from = con.get(), p = std::move(msg->get_raw_payload()), binary]() mutable {
          core->OnConnectionMessage(from, std::move(p), binary);
        },
        metrics_);
  }

  bool OnPing(connection_hdl hdl) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    if (auto core = con->template GetCore<Core>()) {
      core->Deliver(
          con->get_strand(), [core, from = con.get()] { core->OnConnectionPing(from); }, metrics_);
    }
    return true;  // websocketpp answers with a pong
  }

  void OnClose(connection_hdl hdl) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    std::shared_ptr<Core> core = con->template GetCore<Core>();
    if (core == nullptr) return;
    // Closes websocketpp started itself on bad input carry their error's word (close_reasons.h).
    namespace perr = websocketpp::processor::error;
    const int code = con->get_local_close_code();
    const std::string& reason = con->get_local_close_reason();
    if (code == protocol::close_code::kInvalidPayload &&
        reason == LibraryCloseWord(perr::invalid_utf8)) {
      metrics_.invalid_utf8_closes.fetch_add(1, std::memory_order_relaxed);
      metrics_.CountCloseSent(code);
    } else if (code == protocol::close_code::kMessageTooBig &&
               reason == LibraryCloseWord(perr::message_too_big)) {
      metrics_.too_big_closes.fetch_add(1, std::memory_order_relaxed);
      metrics_.CountCloseSent(code);
    }
    // A client that closed on purpose ends its session; a drop leaves it for a resume.
    const int remote = con->get_remote_close_code();
    const bool client_ended = remote == websocketpp::close::status::normal ||
                              remote == websocketpp::close::status::going_away;
    con->SetCore(nullptr);
    core->Deliver(
        con->get_strand(),
        [core, con, client_ended] { core->OnConnectionClosed(con.get(), client_ended); }, metrics_);
    ForgetConnection(hdl, con->client_ip);
  }

  void OnFail(connection_hdl hdl) {
    EndHandshake(hdl);  // a handshake that failed or was refused
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    std::shared_ptr<Core> core = con->template GetCore<Core>();
    if (core == nullptr) return;
    con->SetCore(nullptr);
    core->Deliver(
        con->get_strand(),
        [core, con] { core->OnConnectionClosed(con.get(), /*client_ended=*/false); }, metrics_);
    ForgetConnection(hdl, con->client_ip);
  }

  void ForgetConnection(const connection_hdl& hdl, const std::string& ip) {
    metrics_.connections_active.fetch_sub(1, std::memory_order_relaxed);
    admission_.Leave(ip);
    absl::MutexLock lock(&mu_);
    open_.erase(hdl);
    EndDrainIfIdle();
  }

  // Once OnOpen has admitted (open_) or refused the connection, or OnFail has seen it fail.
  void EndHandshake(const connection_hdl& hdl) {
    absl::MutexLock lock(&mu_);
    if (handshaking_.erase(hdl) != 0) EndDrainIfIdle();
  }

  bool IdleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return open_.empty() && handshaking_.empty();
  }

  // A drain is over when no connection is open or in its handshake.
  void EndDrainIfIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!draining_.load() || !IdleLocked()) return;
    asio::post(*drain_strand_, [this] {
      if (grace_) grace_->cancel();
      drain_over_ = true;
      StopIfDrained();
    });
  }

  // The admin listener: plain HTTP on its own port, on the same io threads.
  absl::Status StartAdmin() {
    if (config_.admin_listen().empty()) return absl::OkStatus();
    auto host_port = config::ParseHostPort(config_.admin_listen());
    if (!host_port.ok()) return host_port.status();
    std::error_code ec;
    admin_.init_asio(&endpoint_.get_io_service(), ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot start Asio: ", ec.message()));
    admin_.set_reuse_addr(true);
    admin_.set_max_http_body_size(4096);
    admin_.set_validate_handler([this](connection_hdl hdl) {
      admin_.get_con_from_hdl(hdl)->set_status(websocketpp::http::status_code::not_found);
      return false;
    });
    admin_.set_http_handler([this](connection_hdl hdl) {
      ServeAdmin(admin_.get_con_from_hdl(hdl), /*admin_port=*/true);
    });
    admin_.listen(host_port->host, std::to_string(host_port->port), ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", config_.admin_listen(),
                                                 " (admin_listen): ", ec.message()));
    }
    auto local = admin_.get_local_endpoint(ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot read the bound port: ", ec.message()));
    admin_port_ = local.port();
    admin_.start_accept(ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot accept: ", ec.message()));
    return absl::OkStatus();
  }

  void OnHttp(connection_hdl hdl) {
    EndHandshake(hdl);  // a plain HTTP request: websocketpp calls no other handler for it
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    const std::string& resource = con->get_resource();
    const web::Asset* asset = web::FindAsset(
        std::string_view(resource).substr(0, std::min(resource.find('?'), resource.size())));
    if (asset != nullptr && con->get_request().get_method() == "GET") {
      con->set_status(websocketpp::http::status_code::ok);
      con->set_body(std::string(asset->body));
      con->append_header("Content-Type", std::string(asset->content_type));
      con->append_header("Cache-Control", "no-cache");
      return;
    }
    if (!config_.admin_listen().empty()) {
      con->set_status(websocketpp::http::status_code::not_found);
      con->set_body(absl::StrCat("not found; WebSocket clients connect to ", config_.path(), "\n"));
      return;
    }
    ServeAdmin(con, /*admin_port=*/false);
  }

  template <typename Con>
  void ServeAdmin(const Con& con, bool admin_port) {
    HttpAnswer answer = AnswerAdmin(con->get_resource(), admin_port, config_.path(), admin_hooks_);
    con->set_status(static_cast<websocketpp::http::status_code::value>(answer.status));
    con->set_body(std::move(answer.body));
    for (const auto& [name, value] : answer.headers) con->append_header(name, value);
  }

  AdminHooks MakeAdminHooks() {
    AdminHooks hooks;
    hooks.draining = [this] { return draining_.load(); };
    hooks.metrics = [this] { return metrics_.RenderPrometheus(); };
    hooks.sessions = [this] {
      std::vector<std::shared_ptr<session::SessionStats>> stats;
      absl::MutexLock lock(&mu_);
      for (const auto& [key, core] : cores_) stats.push_back(core->stats());
      return stats;
    };
    hooks.drain = [this] {
      metrics_.drains_requested.fetch_add(1, std::memory_order_relaxed);
      asio::post(*drain_strand_, [this] { BeginDrain(); });
    };
    hooks.now = [this] { return options_.clock->Now(); };
    return hooks;
  }

  const v1::BridgeConfig& config_;
  const ServerOptions options_;
  const session::SessionOptions session_options_;
  Metrics metrics_;
  WsServer endpoint_;
  websocketpp::server<PlainConfig> admin_;  // on endpoint_'s io_context, plain HTTP
  uint16_t admin_port_ = 0;
  std::unique_ptr<TlsCertificates> tls_;  // with kTls, from Start
  Admission admission_{Admission::FromConfig(config_), &Admission::ResidentBytes};
  const AdminHooks admin_hooks_ = MakeAdminHooks();
  std::vector<std::thread> threads_;
  bool started_ = false;
  std::atomic<bool> draining_{false};
  std::atomic<bool> drain_over_{false};         // every connection closed, or the grace is up
  std::atomic<bool> stop_when_drained_{false};  // Shutdown was called
  std::atomic<bool> stopped_{false};
  // The drain's steps (BeginDrain, the grace timer, the last connection's close) run here, one
  // at a time: an Asio timer must not be used from two threads at once.
  std::unique_ptr<asio::strand<asio::io_context::executor_type>> drain_strand_;
  std::unique_ptr<asio::steady_timer> grace_;
  std::unique_ptr<Acceptor> acceptor_;  // its loop on drain_strand_
  std::shared_ptr<ServerGate> gate_;
  absl::Mutex mu_;
  std::set<connection_hdl, std::owner_less<connection_hdl>> open_ ABSL_GUARDED_BY(mu_);
  // Accepted connections whose OnOpen, OnFail or OnHttp has not run yet.
  std::set<connection_hdl, std::owner_less<connection_hdl>> handshaking_ ABSL_GUARDED_BY(mu_);
  // By address: a session's end (Forget) finds its own in constant time, under mu_.
  absl::flat_hash_map<const Core*, std::shared_ptr<Core>> cores_ ABSL_GUARDED_BY(mu_);
  // Every core that may still be alive, for teardown (pruned as it grows).
  std::vector<std::weak_ptr<Core>> every_core_ ABSL_GUARDED_BY(mu_);
  size_t every_core_floor_ ABSL_GUARDED_BY(mu_) = 64;
  absl::flat_hash_map<std::string, std::weak_ptr<Core>> by_id_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Server::Impl> MakeEndpoint(const v1::BridgeConfig& config, ServerOptions options) {
  if (config.has_tls()) {
    if (config.permessage_deflate()) {
      return std::make_unique<Endpoint<TlsDeflateConfig>>(config, std::move(options));
    }
    return std::make_unique<Endpoint<TlsConfig>>(config, std::move(options));
  }
  if (config.permessage_deflate()) {
    return std::make_unique<Endpoint<PlainDeflateConfig>>(config, std::move(options));
  }
  return std::make_unique<Endpoint<PlainConfig>>(config, std::move(options));
}

Server::Server(const v1::BridgeConfig& config, ServerOptions options)
    : impl_(MakeEndpoint(config, std::move(options))) {}
Server::~Server() = default;
absl::Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
uint16_t Server::admin_port() const { return impl_->admin_port(); }
void Server::Shutdown() { impl_->Shutdown(); }
void Server::Wait() { impl_->Wait(); }
Metrics& Server::metrics() { return impl_->metrics(); }
bool Server::AwaitOpenConnections(size_t count, absl::Duration timeout) {
  return impl_->AwaitOpenConnections(count, timeout);
}
size_t Server::SessionCount() { return impl_->SessionCount(); }
bool Server::AwaitSessionCount(size_t count, absl::Duration timeout) {
  return impl_->AwaitSessionCount(count, timeout);
}

}  // namespace bridge::server
