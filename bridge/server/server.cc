#include "bridge/server/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
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
#include "bridge/server/admin.h"
#include "bridge/server/upgrade.h"
#include "bridge/transcode/json_text.h"
#include "bridge/upstream/metadata.h"
#include "bridge/web/assets.h"
#include "websocketpp/config/asio.hpp"
#include "websocketpp/config/asio_no_tls.hpp"
#include "websocketpp/extensions/permessage_deflate/enabled.hpp"
#include "websocketpp/server.hpp"

namespace bridge::server {
namespace {

template <typename Config>
class SessionCore;

// Per-connection data that websocketpp keeps inside each connection (config::connection_base):
// the subprotocol chosen at the upgrade and the session the connection serves. The session
// changes when the connection resumes an older one.
struct ConnectionSlot {
  protocol::Encoding encoding = protocol::Encoding::kJson;
  std::string upgrade_token;  // from `Authorization: Bearer` or the `bearer, <token>` pair
  std::string client_ip;      // counted against max_connections_per_ip while open
  absl::Mutex core_mu;
  // The SessionCore<Config> of the server the connection belongs to (one Config per server).
  std::shared_ptr<void> core ABSL_GUARDED_BY(core_mu);

  template <typename Core>
  std::shared_ptr<Core> GetCore() {
    absl::MutexLock lock(&core_mu);
    return std::static_pointer_cast<Core>(core);
  }
  void SetCore(std::shared_ptr<void> c) {
    absl::MutexLock lock(&core_mu);
    core = std::move(c);
  }
};

// The websocketpp configurations: plain TCP, and TLS (BridgeConfig.tls). Logging is compiled
// out; the bridge reports through counters and its own logs.
struct PlainConfig : public websocketpp::config::asio {
  typedef PlainConfig type;
  typedef websocketpp::config::asio base;
  typedef ConnectionSlot connection_base;
  static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
  static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
};

struct TlsConfig : public websocketpp::config::asio_tls {
  typedef TlsConfig type;
  typedef websocketpp::config::asio_tls base;
  typedef ConnectionSlot connection_base;
  static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
  static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
};

// The same with permessage-deflate (RFC 7692, BridgeConfig.permessage_deflate): offered to
// clients that ask for it; websocketpp compresses and inflates the messages of connections that
// negotiated it.
template <typename Base>
struct DeflateConfig : public Base {
  typedef DeflateConfig type;
  typedef websocketpp::extensions::permessage_deflate::enabled<
      typename Base::permessage_deflate_config>
      permessage_deflate_type;
};
using PlainDeflateConfig = DeflateConfig<PlainConfig>;
using TlsDeflateConfig = DeflateConfig<TlsConfig>;

using websocketpp::connection_hdl;

// RFC 6455 framing (versions 7, 8 and 13 share it); websocketpp also speaks hybi-00.
template <typename Connection>
bool Rfc6455(Connection& con) {
  const std::string& v = con.get_request_header("Sec-WebSocket-Version");
  return v == "13" || v == "8" || v == "7";
}

// The header of a final, unmasked (server to client) frame of `size` payload bytes.
std::string FrameHeader(websocketpp::frame::opcode::value opcode, size_t size) {
  std::string h(1, static_cast<char>(0x80 | opcode));
  if (size < 126) {
    h.push_back(static_cast<char>(size));
  } else if (size <= 0xffff) {
    h.push_back(static_cast<char>(126));
    h.push_back(static_cast<char>(size >> 8));
    h.push_back(static_cast<char>(size & 0xff));
  } else {
    h.push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
  }
  return h;
}

// Gates work posted from other threads (gRPC callbacks) once the server is gone.
struct ServerGate {
  absl::Mutex mu;
  bool open ABSL_GUARDED_BY(mu) = true;
};

// The connection a session writes to. A websocketpp connection is safe only on its own strand,
// where its handlers run: terminate() there writes its state without the lock that send() and
// close() read it under, and get_buffered_amount() reads the send queue's size without its
// lock. So every call the session makes on it runs on that strand. Messages queue here, in
// order, and one task on the strand hands all that are waiting to websocketpp, which writes
// them with one gathered write.
template <typename Config>
class Outlet final : public std::enable_shared_from_this<Outlet<Config>> {
 public:
  using WsServer = websocketpp::server<Config>;
  using WsConnection = typename WsServer::connection_type;
  using WsConnectionPtr = typename WsServer::connection_ptr;
  using MessagePtr = typename WsConnection::message_ptr;

  explicit Outlet(WsConnectionPtr con)
      : con_(std::move(con)),
        strand_(con_->get_strand()),
        rfc6455_(Rfc6455(*con_)),
        deflating_(absl::StrContains(con_->get_response_header("Sec-WebSocket-Extensions"),
                                     "permessage-deflate")),
        pump_(con_->get_raw_socket().get_executor()) {}

  WsConnection* connection() const { return con_.get(); }

  // --- On the session's strand.
  void Send(std::string data, bool text) {
    const auto opcode =
        text ? websocketpp::frame::opcode::text : websocketpp::frame::opcode::binary;
    const size_t bytes = data.size();
    MessagePtr msg = con_->get_message(opcode, 0);
    if (msg == nullptr) return;
    if (!rfc6455_ || deflating_) {
      // websocketpp frames (and compresses) it; text that is not UTF-8 is dropped there.
      msg->get_raw_payload() = std::move(data);
      msg->set_compressed(deflating_);
    } else {
      // Framed here: websocketpp's framing checks a text frame's UTF-8 one byte at a time and
      // copies the payload twice, most of the cost of a 16 KiB reply. The check runs eight
      // ASCII bytes at a time and the payload moves into the message. Text that is not UTF-8
      // is dropped, as websocketpp's send does.
      if (text && !transcode::IsValidUtf8(data)) return;
      msg->set_header(FrameHeader(opcode, bytes));
      msg->get_raw_payload() = std::move(data);
      msg->set_prepared(true);
    }
    queued_.fetch_add(bytes, std::memory_order_relaxed);
    bool post;
    {
      absl::MutexLock lock(&mu_);
      waiting_.push_back({std::move(msg), bytes});
      post = !flush_posted_;
      flush_posted_ = true;
    }
    if (post) asio::post(*strand_, [self = this->shared_from_this()] { self->Flush(); });
  }

  // After the messages already sent.
  void Close(int code, std::string reason) {
    asio::post(*strand_, [self = this->shared_from_this(), code, reason = std::move(reason)] {
      self->TakeWaiting();
      self->HandOver(SIZE_MAX);  // everything before the close goes first
      self->CloseNow(code, reason);
    });
  }

  // Ahead of the messages not yet handed to websocketpp, which are dropped: `farewell`, then the
  // close. What websocketpp already holds (at most kWindow) still goes first.
  void CloseAhead(std::string farewell, bool text, int code, std::string reason) {
    asio::post(*strand_, [self = this->shared_from_this(), farewell = std::move(farewell), text,
                          code, reason = std::move(reason)]() mutable {
      self->TakeWaiting();
      size_t dropped = 0;
      for (const Waiting& w : self->backlog_) dropped += w.bytes;
      self->backlog_.clear();
      self->queued_.fetch_sub(dropped, std::memory_order_relaxed);
      self->Send(std::move(farewell), text);
      self->TakeWaiting();
      self->HandOver(SIZE_MAX);
      self->CloseNow(code, reason);
    });
  }

  // Bytes waiting here plus those websocketpp held when last looked at (see
  // session::Transport::buffered_bytes).
  size_t buffered_bytes() const {
    return queued_.load(std::memory_order_relaxed) + held_.load(std::memory_order_relaxed);
  }

  // `done` runs on the connection's strand, with the bytes waiting now and the most that
  // waited right after a send (see session::Transport::MeasureBuffered).
  void Measure(std::function<void(size_t, size_t)> done) {
    asio::post(*strand_, [self = this->shared_from_this(), done = std::move(done)] {
      self->held_.store(self->con_->get_buffered_amount(), std::memory_order_relaxed);
      const size_t now = self->buffered_bytes();
      done(now, std::max(now, self->peak_));
    });
  }

 private:
  struct Waiting {
    MessagePtr msg;
    size_t bytes;
  };

  // websocketpp writes everything it holds in one gathered write and queues a close behind it,
  // so it is given at most this much at a time: the rest waits here, where a slow consumer's
  // close can drop it and go first.
  static constexpr size_t kWindow = 1 << 20;
  // How soon a backlog is looked at again when nothing new is sent.
  static constexpr std::chrono::milliseconds kPumpInterval{1};

  // On the connection's strand.
  void Flush() {
    TakeWaiting();
    HandOver(kWindow);
  }

  // Moves what Send queued into the backlog.
  void TakeWaiting() {
    std::vector<Waiting> batch;
    {
      absl::MutexLock lock(&mu_);
      batch.swap(waiting_);
      flush_posted_ = false;
    }
    for (Waiting& w : batch) backlog_.push_back(std::move(w));
  }

  // Hands messages to websocketpp, oldest first, while it holds less than `window` bytes.
  void HandOver(size_t window) {
    size_t bytes = 0;
    size_t held = con_->get_buffered_amount();
    while (!backlog_.empty() && held < window) {
      Waiting& w = backlog_.front();
      (void)con_->send(w.msg);
      bytes += w.bytes;
      held += w.bytes;
      backlog_.pop_front();
    }
    held_.store(con_->get_buffered_amount(), std::memory_order_relaxed);
    queued_.fetch_sub(bytes, std::memory_order_relaxed);
    peak_ = std::max(peak_, buffered_bytes());
    if (!backlog_.empty() && !pump_armed_ && !closed_) {
      pump_armed_ = true;
      pump_.expires_after(kPumpInterval);
      pump_.async_wait(asio::bind_executor(
          *strand_, [self = this->shared_from_this()](const std::error_code& ec) {
            self->pump_armed_ = false;
            if (!ec && !self->closed_) self->HandOver(kWindow);
          }));
    }
  }

  void CloseNow(int code, const std::string& reason) {
    closed_ = true;
    pump_.cancel();
    std::error_code ec;
    con_->close(static_cast<websocketpp::close::status::value>(code), reason, ec);
    if (ec) con_->terminate(ec);
  }

  const WsConnectionPtr con_;
  const typename WsConnection::strand_ptr strand_;
  const bool rfc6455_;    // RFC 6455 framing, which Send can do itself
  const bool deflating_;  // permessage-deflate was negotiated
  absl::Mutex mu_;
  std::vector<Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  bool flush_posted_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<size_t> queued_{0};  // bytes in waiting_, in backlog_ and in the task moving them
  std::atomic<size_t> held_{0};    // websocketpp's buffered amount, when last read
  // On the strand: messages not yet handed to websocketpp, and what hands them over later.
  std::deque<Waiting> backlog_;
  asio::steady_timer pump_;
  bool pump_armed_ = false;
  bool closed_ = false;
  size_t peak_ = 0;  // the most waiting right after a hand-over (on the strand)
};

// What a SessionCore needs of the server.
template <typename Config>
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  virtual void Register(const std::string& conversation_id,
                        std::shared_ptr<SessionCore<Config>> core) = 0;
  virtual void Forget(SessionCore<Config>* core) = 0;
  virtual bool TryResume(const std::shared_ptr<SessionCore<Config>>& claimant,
                         const std::string& conversation_id, uint64_t last_seq,
                         const v1::Connect& connect,
                         const std::optional<auth::Identity>& identity) = 0;
};

// One session and everything it runs on: its own strand (a session outlives its connection
// while it waits for a resume, and then moves to another connection), its timers, and the
// connection it is attached to, if any. Implements session::Transport. Every method but Post
// runs on the strand.
template <typename Config>
class SessionCore final : public session::Transport,
                          public std::enable_shared_from_this<SessionCore<Config>> {
 public:
  using WsServer = websocketpp::server<Config>;
  using WsConnection = typename WsServer::connection_type;
  using WsConnectionPtr = typename WsServer::connection_ptr;
  using ConnectionOutlet = Outlet<Config>;

  SessionCore(asio::io_context& io, std::shared_ptr<ServerGate> gate, SessionHost<Config>* host,
              protocol::Encoding encoding)
      : strand_(std::make_unique<Strand>(asio::make_strand(io))),
        gate_(std::move(gate)),
        host_(host),
        encoding_(encoding) {
    for (auto& slot : timers_) slot = std::make_unique<TimerSlot>(io);
  }

  void Init(const session::SessionOptions& options, Clock* clock, Metrics* metrics,
            session::Session::IdGenerator ids, session::CallServices services,
            upstream::Metadata upgrade_metadata) {
    executor_ = std::make_shared<Executor>(this->weak_from_this());
    session_ =
        std::make_unique<session::Session>(options, encoding_, this, clock, metrics, std::move(ids),
                                           services, std::move(upgrade_metadata));
    stats_ = session_->stats();
    std::weak_ptr<SessionCore> weak = this->weak_from_this();
    session_->set_resume_hook([weak](const std::string& id, uint64_t last_seq,
                                     const v1::Connect& connect,
                                     const std::optional<auth::Identity>& identity) {
      auto self = weak.lock();
      return self != nullptr && self->host_->TryResume(self, id, last_seq, connect, identity);
    });
    // Confirmation may come from a posted task (an auth check, the user count): register then.
    session_->set_confirm_hook([this] {
      if (registered_) return;
      registered_ = true;
      host_->Register(session_->conversation_id(), this->shared_from_this());
    });
  }

  session::Session& session() { return *session_; }
  protocol::Encoding encoding() const { return encoding_; }
  // Any thread, also after Teardown.
  const std::shared_ptr<session::SessionStats>& stats() const { return stats_; }

  // Any thread: runs `task` on this session's strand, unless the server is gone.
  void Post(std::function<void()> task) {
    // Shared: posts from many threads do not wait on one another; only closing the gate does.
    absl::ReaderMutexLock lock(&gate_->mu);
    if (!gate_->open) return;
    asio::post(*strand_, [self = this->shared_from_this(), task = std::move(task)] { task(); });
  }

  // --- Connection events, on the strand. `from` tells which connection they come from: after a
  // resume, late events of the old connection are ignored and those of a connection handed to
  // another session are passed on.
  void AttachNew(WsConnectionPtr con, bool draining) {
    out_ = std::make_shared<ConnectionOutlet>(std::move(con));
    session_->Start();
    if (draining) session_->Shutdown();
  }

  void OnConnectionMessage(WsConnection* from, std::string payload, bool binary) {
    if (forward_ != nullptr) {
      forward_->Post([next = forward_, from, p = std::move(payload), binary]() mutable {
        next->OnConnectionMessage(from, std::move(p), binary);
      });
      return;
    }
    if (!AttachedTo(from)) return;
    session_->OnMessage(payload, binary);
  }

  void OnConnectionPing(WsConnection* from) {
    if (forward_ != nullptr) {
      forward_->Post([next = forward_, from] { next->OnConnectionPing(from); });
      return;
    }
    if (AttachedTo(from)) session_->OnControlPing();
  }

  void OnConnectionClosed(WsConnection* from, bool client_ended) {
    if (forward_ != nullptr) {
      forward_->Post(
          [next = forward_, from, client_ended] { next->OnConnectionClosed(from, client_ended); });
      return;
    }
    if (!AttachedTo(from)) return;
    out_.reset();
    session_->OnClosed(client_ended);
  }

  void Shutdown() { session_->Shutdown(); }
  void Drain() { session_->Drain(); }

  // A new connection resumes this session (claimed with Session::TryClaim).
  void AttachResumed(std::shared_ptr<ConnectionOutlet> out, const v1::Connect& connect,
                     std::optional<auth::Identity> identity) {
    if (out_ != nullptr && out_ != out) {
      // The client came back before the old connection was seen to drop.
      out_->Close(websocketpp::close::status::normal, "session_resumed");
    }
    out_ = std::move(out);
    session_->Reattach(connect, std::move(identity));
  }

  // This session's connection goes to `to`; events still queued here follow it.
  std::shared_ptr<ConnectionOutlet> HandOver(std::shared_ptr<SessionCore> to) {
    forward_ = std::move(to);
    return std::move(out_);
  }

  // Server teardown, with the io threads stopped and the gate closed: break the cycles, end
  // the session, and let go of everything tied to the io_context before it goes (a core may
  // be released later, by a gRPC thread).
  void Teardown() {
    out_.reset();
    forward_.reset();
    session_.reset();
    for (auto& slot : timers_) slot.reset();
    strand_.reset();
  }

  // --- session::Transport
  void Send(std::string data, protocol::Encoding encoding) override {
    if (out_ != nullptr) out_->Send(std::move(data), encoding == protocol::Encoding::kJson);
  }

  void Close(int code, std::string_view reason) override {
    if (out_ != nullptr) out_->Close(code, std::string(reason));
  }

  void CloseAhead(std::string farewell, protocol::Encoding encoding, int code,
                  std::string_view reason) override {
    if (out_ != nullptr) {
      out_->CloseAhead(std::move(farewell), encoding == protocol::Encoding::kJson, code,
                       std::string(reason));
    }
  }

  void ArmTimer(session::SessionTimer timer, absl::Duration after) override {
    if (timers_[static_cast<size_t>(timer)] == nullptr) return;
    TimerSlot& slot = *timers_[static_cast<size_t>(timer)];
    const uint64_t generation = ++slot.generation;
    slot.timer.expires_after(absl::ToChronoMilliseconds(std::max(after, absl::Milliseconds(1))));
    slot.timer.async_wait(asio::bind_executor(
        *strand_, [self = this->shared_from_this(), timer, generation](const std::error_code& ec) {
          if (ec || self->session_ == nullptr ||
              self->timers_[static_cast<size_t>(timer)]->generation != generation) {
            return;
          }
          self->session_->OnTimer(timer);
        }));
  }

  void CancelTimer(session::SessionTimer timer) override {
    if (timers_[static_cast<size_t>(timer)] == nullptr) return;
    TimerSlot& slot = *timers_[static_cast<size_t>(timer)];
    ++slot.generation;
    slot.timer.cancel();
  }

  std::shared_ptr<session::Executor> executor() override { return executor_; }

  size_t buffered_bytes() override { return out_ != nullptr ? out_->buffered_bytes() : 0; }

  void MeasureBuffered(std::function<void(size_t, size_t)> done) override {
    if (out_ == nullptr) {
      Post([done = std::move(done)] { done(0, 0); });
      return;
    }
    out_->Measure(
        [self = this->shared_from_this(), done = std::move(done)](size_t now, size_t peak) {
          self->Post([done, now, peak] { done(now, peak); });
        });
  }

  void Release() override { host_->Forget(this); }

 private:
  class Executor final : public session::Executor {
   public:
    explicit Executor(std::weak_ptr<SessionCore> core) : core_(std::move(core)) {}
    void Post(std::function<void()> task) override {
      if (auto core = core_.lock()) core->Post(std::move(task));
    }

   private:
    std::weak_ptr<SessionCore> core_;
  };

  struct TimerSlot {
    explicit TimerSlot(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    uint64_t generation = 0;
  };
  using Strand = asio::strand<asio::io_context::executor_type>;

  std::unique_ptr<Strand> strand_;
  std::shared_ptr<ServerGate> gate_;
  SessionHost<Config>* const host_;
  const protocol::Encoding encoding_;
  std::array<std::unique_ptr<TimerSlot>, session::kSessionTimerCount> timers_;
  std::shared_ptr<Executor> executor_;
  std::unique_ptr<session::Session> session_;
  std::shared_ptr<session::SessionStats> stats_;
  std::shared_ptr<ConnectionOutlet> out_;  // the attached connection, if any
  bool AttachedTo(const WsConnection* con) const {
    return out_ != nullptr && out_->connection() == con;
  }
  std::shared_ptr<SessionCore> forward_;  // set once this session's connection moved on
  bool registered_ = false;
};

}  // namespace

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
      if (absl::Status loaded = LoadTls(/*at_start=*/true); !loaded.ok()) return loaded;
      // websocketpp makes each connection's TLS stream before it is accepted, so the stream
      // gets one shared context whose certificate callback picks the pair at the handshake.
      tls_base_ = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
      std::error_code ec;
      tls_base_->set_options(kTlsOptions, ec);
      if (ec) return absl::InternalError(absl::StrCat("cannot set up TLS: ", ec.message()));
      SSL_CTX_set_cert_cb(tls_base_->native_handle(), &Endpoint::ChooseCertificate, this);
      endpoint_.set_tls_init_handler([this](connection_hdl) { return tls_base_; });
    }

    if (absl::Status listening = Listen(host_port->host, host_port->port); !listening.ok()) {
      return listening;
    }
    asio::post(*drain_strand_, [this] { AcceptNext(); });
    if (absl::Status admin = StartAdmin(); !admin.ok()) return admin;

    const int threads = static_cast<int>(std::max<uint32_t>(1, config_.io_threads()));
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { endpoint_.run(); });
    }
    started_ = true;
    return absl::OkStatus();
  }

  uint16_t port() const override { return port_; }
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
    for (auto it = cores_.begin(); it != cores_.end(); ++it) {
      if (it->get() == core) {
        keep = *it;
        cores_.erase(it);
        break;
      }
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
      cores_.erase(claimant);
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
    std::error_code ec;
    acceptor_->close(ec);  // the pending accept ends with operation_aborted

    std::vector<std::shared_ptr<Core>> cores;
    bool idle;
    {
      absl::MutexLock lock(&mu_);
      cores.assign(cores_.begin(), cores_.end());
      idle = open_.empty();
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
        left.assign(cores_.begin(), cores_.end());
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

  // Binds the listening socket. The accept loop is the bridge's own rather than websocketpp's:
  // websocketpp runs each accept's handler on the new connection's strand, where nothing else
  // can stop the loop without racing it. This one runs on drain_strand_, with BeginDrain.
  absl::Status Listen(const std::string& host, uint16_t port) {
    const std::string where = absl::StrCat("cannot listen on ", config_.listen(), ": ");
    asio::io_context& io = endpoint_.get_io_service();
    std::error_code ec;
    asio::ip::tcp::resolver resolver(io);
    auto resolved = resolver.resolve(host, std::to_string(port), ec);
    if (ec || resolved.empty()) {
      return absl::UnavailableError(absl::StrCat(where, ec ? ec.message() : "no address"));
    }
    const asio::ip::tcp::endpoint at = resolved.begin()->endpoint();
    acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(io);
    acceptor_->open(at.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(at, ec);
    if (!ec) acceptor_->listen(kListenBacklog, ec);
    if (ec) return absl::UnavailableError(absl::StrCat(where, ec.message()));
    const auto local = acceptor_->local_endpoint(ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot read the bound port: ", ec.message()));
    port_ = local.port();
    return absl::OkStatus();
  }

  // On drain_strand_: accepts the next connection, until BeginDrain closes the acceptor.
  void AcceptNext() {
    if (!acceptor_->is_open()) return;
    WsConnectionPtr con = endpoint_.get_connection();
    if (con == nullptr) {
      RetryAcceptSoon("cannot make a connection");
      return;
    }
    acceptor_->async_accept(
        con->get_raw_socket(),
        asio::bind_executor(*drain_strand_, [this, con](const std::error_code& ec) {
          if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
          if (ec) {
            RetryAcceptSoon(ec.message());
            return;
          }
          // From here on the connection lives on its own strand, as websocketpp's accept
          // loop would have started it.
          asio::post(*con->get_strand(), [con] { con->start(); });
          AcceptNext();
        }));
  }

  // On drain_strand_: a failed accept (out of descriptors, for one) is counted and tried again
  // shortly, rather than in a spin or never.
  void RetryAcceptSoon(const std::string& reason) {
    metrics_.accept_errors.fetch_add(1, std::memory_order_relaxed);
    log::Warn("accept_failed").Str("reason", reason);
    accept_retry_ = std::make_unique<asio::steady_timer>(*drain_strand_, kAcceptRetryDelay);
    accept_retry_->async_wait([this](const std::error_code& ec) {
      if (!ec) AcceptNext();
    });
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

  // Resident memory of this process, from /proc/self/statm.
  static uint64_t ResidentBytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) return 0;
    unsigned long size = 0, resident = 0;
    const int n = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    return n == 2 ? static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE))
                  : 0;
  }

  // Whether one more connection from `ip` fits; counts it when it does.
  bool AdmitConnection(const connection_hdl& hdl, const std::string& ip, const char** reason) {
    if (config_.max_memory_bytes() > 0 && ResidentBytes() > config_.max_memory_bytes()) {
      metrics_.memory_guard_refusals.fetch_add(1, std::memory_order_relaxed);
      *reason = "memory_limit";
      return false;
    }
    absl::MutexLock lock(&mu_);
    if (open_.size() >= config_.max_connections() ||
        per_ip_[ip] >= config_.max_connections_per_ip()) {
      if (per_ip_[ip] == 0) per_ip_.erase(ip);
      metrics_.connection_limit_refusals.fetch_add(1, std::memory_order_relaxed);
      *reason = "too_many_connections";
      return false;
    }
    ++per_ip_[ip];
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
    if (!AdmitConnection(hdl, ip, &reason)) {
      // Over capacity: the protocol's answer is 1013, try again later. No session is made.
      metrics_.CountCloseSent(protocol::close_code::kTryAgainLater);
      log::Warn("connection_refused").Int("code", 1013).Str("reason", reason).Str("ip", ip);
      con->close(websocketpp::close::status::try_again_later, reason, ec);
      return;
    }
    con->client_ip = ip;
    auto core = std::make_shared<Core>(endpoint_.get_io_service(), gate_, this, con->encoding);
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
      cores_.insert(core);
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
    core->Post([core, con, draining] { core->AttachNew(con, draining); });
  }

  void OnMessage(connection_hdl hdl, typename WsServer::message_ptr msg) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    std::shared_ptr<Core> core = con->template GetCore<Core>();
    if (core == nullptr) return;
    const bool binary = msg->get_opcode() == websocketpp::frame::opcode::binary;
    core->Post([core, from = con.get(), p = std::move(msg->get_raw_payload()), binary]() mutable {
      core->OnConnectionMessage(from, std::move(p), binary);
    });
  }

  bool OnPing(connection_hdl hdl) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    if (auto core = con->template GetCore<Core>()) {
      core->Post([core, from = con.get()] { core->OnConnectionPing(from); });
    }
    return true;  // websocketpp answers with a pong
  }

  void OnClose(connection_hdl hdl) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    std::shared_ptr<Core> core = con->template GetCore<Core>();
    if (core == nullptr) return;
    // Closes websocketpp started itself on bad input carry its error's text as their reason.
    namespace perr = websocketpp::processor::error;
    static const std::string kInvalidUtf8 = perr::make_error_code(perr::invalid_utf8).message();
    static const std::string kTooBig = perr::make_error_code(perr::message_too_big).message();
    const int code = con->get_local_close_code();
    if (code == protocol::close_code::kInvalidPayload &&
        con->get_local_close_reason() == kInvalidUtf8) {
      metrics_.invalid_utf8_closes.fetch_add(1, std::memory_order_relaxed);
      metrics_.CountCloseSent(code);
    } else if (code == protocol::close_code::kMessageTooBig &&
               con->get_local_close_reason() == kTooBig) {
      metrics_.too_big_closes.fetch_add(1, std::memory_order_relaxed);
      metrics_.CountCloseSent(code);
    }
    // A client that closed on purpose ends its session; a drop leaves it for a resume.
    const int remote = con->get_remote_close_code();
    const bool client_ended = remote == websocketpp::close::status::normal ||
                              remote == websocketpp::close::status::going_away;
    con->SetCore(nullptr);
    core->Post([core, con, client_ended] { core->OnConnectionClosed(con.get(), client_ended); });
    ForgetConnection(hdl, con->client_ip);
  }

  void OnFail(connection_hdl hdl) {
    WsConnectionPtr con = endpoint_.get_con_from_hdl(hdl);
    std::shared_ptr<Core> core = con->template GetCore<Core>();
    if (core == nullptr) return;
    con->SetCore(nullptr);
    core->Post([core, con] { core->OnConnectionClosed(con.get(), /*client_ended=*/false); });
    ForgetConnection(hdl, con->client_ip);
  }

  void ForgetConnection(const connection_hdl& hdl, const std::string& ip) {
    metrics_.connections_active.fetch_sub(1, std::memory_order_relaxed);
    absl::MutexLock lock(&mu_);
    open_.erase(hdl);
    if (auto it = per_ip_.find(ip); it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
    if (draining_.load() && open_.empty()) {
      asio::post(*drain_strand_, [this] {
        if (grace_) grace_->cancel();
        drain_over_ = true;
        StopIfDrained();
      });
    }
  }

  // TLS: the context of the certificate files as they are now. A pair that fails to load keeps
  // the one in use (at start, it is an error naming the field).
  absl::Status LoadTls(bool at_start) {
    const std::string& cert = config_.tls().cert_file();
    const std::string& key = config_.tls().key_file();
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    std::error_code ec;
    context->set_options(kTlsOptions, ec);
    if (!ec) context->use_certificate_chain_file(cert, ec);
    const char* field = "tls.cert_file";
    if (!ec) {
      field = "tls.key_file";
      context->use_private_key_file(key, asio::ssl::context::pem, ec);
    }
    if (ec) {
      const std::string why = absl::StrCat("config field ", field, ": cannot load ",
                                           field[4] == 'c' ? cert : key, ": ", ec.message());
      if (!at_start) {
        metrics_.tls_reload_failures.fetch_add(1, std::memory_order_relaxed);
        log::Warn("tls_reload_failed").Str("reason", why);
      }
      return absl::InvalidArgumentError(why);
    }
    absl::MutexLock lock(&tls_mu_);
    tls_context_ = std::move(context);
    tls_stamp_ = TlsStamp();
    if (!at_start) {
      metrics_.tls_reloads.fetch_add(1, std::memory_order_relaxed);
      log::Info("tls_reloaded").Str("cert_file", cert);
    }
    return absl::OkStatus();
  }

  // Modification times and sizes of the certificate and key files.
  std::string TlsStamp() const {
    std::string stamp;
    for (const std::string* path : {&config_.tls().cert_file(), &config_.tls().key_file()}) {
      struct stat st {};
      if (::stat(path->c_str(), &st) == 0) {
        absl::StrAppend(&stamp, st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ":", st.st_size, ";");
      }
    }
    return stamp;
  }

  static constexpr long kTlsOptions =  // NOLINT(runtime/int): OpenSSL's type
      asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
      asio::ssl::context::single_dh_use;

  // OpenSSL's certificate callback, at each handshake: the current pair for this connection.
  static int ChooseCertificate(SSL* ssl, void* arg) {
    std::shared_ptr<asio::ssl::context> current = static_cast<Endpoint*>(arg)->CurrentTls();
    SSL_CTX* loaded = current->native_handle();
    STACK_OF(X509)* chain = nullptr;
    SSL_CTX_get0_chain_certs(loaded, &chain);
    if (SSL_use_certificate(ssl, SSL_CTX_get0_certificate(loaded)) != 1 ||
        SSL_use_PrivateKey(ssl, SSL_CTX_get0_privatekey(loaded)) != 1 ||
        (chain != nullptr && SSL_set1_chain(ssl, chain) != 1)) {
      return 0;  // the handshake fails
    }
    return 1;
  }

  // The loaded pair, reloaded first when the files changed (looked at no more often than
  // tls.reload_check_ms).
  std::shared_ptr<asio::ssl::context> CurrentTls() {
    const absl::Time now = absl::Now();
    bool look = false;
    {
      absl::MutexLock lock(&tls_mu_);
      const absl::Duration every = absl::Milliseconds(
          config_.tls().has_reload_check_ms() ? config_.tls().reload_check_ms() : 1000);
      if (now - tls_checked_ >= every) {
        tls_checked_ = now;
        look = true;
      }
    }
    if (look) {
      const std::string stamp = TlsStamp();
      bool changed;
      {
        absl::MutexLock lock(&tls_mu_);
        changed = stamp != tls_stamp_;
      }
      if (changed) LoadTls(/*at_start=*/false).IgnoreError();
    }
    absl::MutexLock lock(&tls_mu_);
    return tls_context_;
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
    admin_.set_http_handler(
        [this](connection_hdl hdl) { ServeAdmin(admin_.get_con_from_hdl(hdl), "admin"); });
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
    ServeAdmin(con, "");
  }

  template <typename Con>
  void ServeAdmin(const Con& con, const char* where) {
    const std::string& resource = con->get_resource();
    if (resource == "/healthz") {
      con->set_status(websocketpp::http::status_code::ok);
      con->set_body("ok\n");
      con->append_header("Content-Type", "text/plain");
    } else if (resource == "/readyz") {
      const bool ready = !draining_.load();
      con->set_status(ready ? websocketpp::http::status_code::ok
                            : websocketpp::http::status_code::service_unavailable);
      con->set_body(ready ? "ready\n" : "draining\n");
      con->append_header("Content-Type", "text/plain");
    } else if (resource == "/metrics") {
      con->set_status(websocketpp::http::status_code::ok);
      con->set_body(metrics_.RenderPrometheus());
      con->append_header("Content-Type", "text/plain; version=0.0.4");
    } else if (resource == "/connections") {
      std::vector<std::shared_ptr<session::SessionStats>> stats;
      {
        absl::MutexLock lock(&mu_);
        for (const auto& core : cores_) stats.push_back(core->stats());
      }
      con->set_status(websocketpp::http::status_code::ok);
      con->set_body(ConnectionsJson(stats, options_.clock->Now()));
      con->append_header("Content-Type", "application/json");
      con->append_header("Cache-Control", "no-store");
    } else if (resource == "/drain") {
      // What SIGTERM does (a Kubernetes preStop hook can call it): readyz false, no new
      // connections, sessions closed with 1001 once their calls end. The process exits on
      // SIGTERM.
      metrics_.drains_requested.fetch_add(1, std::memory_order_relaxed);
      asio::post(*drain_strand_, [this] { BeginDrain(); });
      con->set_status(websocketpp::http::status_code::accepted);
      con->set_body("draining\n");
      con->append_header("Content-Type", "text/plain");
    } else if (resource == "/dashboard") {
      con->set_status(websocketpp::http::status_code::ok);
      con->set_body(DashboardHtml());
      con->append_header("Content-Type", "text/html; charset=utf-8");
    } else if (where[0] != '\0') {
      con->set_status(websocketpp::http::status_code::not_found);
      con->set_body("not found; try /metrics, /healthz, /readyz, /connections, /dashboard\n");
    } else {
      con->set_status(websocketpp::http::status_code::not_found);
      con->set_body(absl::StrCat("not found; WebSocket clients connect to ", config_.path(), "\n"));
    }
  }

  const v1::BridgeConfig& config_;
  const ServerOptions options_;
  const session::SessionOptions session_options_;
  Metrics metrics_;
  WsServer endpoint_;
  websocketpp::server<PlainConfig> admin_;  // on endpoint_'s io_context, plain HTTP
  uint16_t admin_port_ = 0;
  absl::Mutex tls_mu_;
  std::shared_ptr<asio::ssl::context> tls_context_ ABSL_GUARDED_BY(tls_mu_);  // the pair
  std::shared_ptr<asio::ssl::context> tls_base_;  // every connection's, set at Start
  std::string tls_stamp_ ABSL_GUARDED_BY(tls_mu_);
  absl::Time tls_checked_ ABSL_GUARDED_BY(tls_mu_);
  std::vector<std::thread> threads_;
  bool started_ = false;
  uint16_t port_ = 0;
  std::atomic<bool> draining_{false};
  std::atomic<bool> drain_over_{false};         // every connection closed, or the grace is up
  std::atomic<bool> stop_when_drained_{false};  // Shutdown was called
  std::atomic<bool> stopped_{false};
  // The drain's steps (BeginDrain, the grace timer, the last connection's close) run here, one
  // at a time: an Asio timer must not be used from two threads at once.
  std::unique_ptr<asio::strand<asio::io_context::executor_type>> drain_strand_;
  std::unique_ptr<asio::steady_timer> grace_;
  // The listening socket and the accept loop's retry timer, on drain_strand_.
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::unique_ptr<asio::steady_timer> accept_retry_;
  static constexpr int kListenBacklog = 1024;
  static constexpr std::chrono::milliseconds kAcceptRetryDelay{50};
  std::shared_ptr<ServerGate> gate_;
  absl::Mutex mu_;
  std::set<connection_hdl, std::owner_less<connection_hdl>> open_ ABSL_GUARDED_BY(mu_);
  std::set<std::shared_ptr<Core>> cores_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> per_ip_ ABSL_GUARDED_BY(mu_);
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
