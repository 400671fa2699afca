// A session as the server runs it: on its connection's strand, with its timers, attached to
// a connection (server/outlet.h) or waiting for one to resume it.
#ifndef BRIDGE_SERVER_SESSION_CORE_H_
#define BRIDGE_SERVER_SESSION_CORE_H_

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/auth/jwt_verifier.h"
#include "bridge/common/clock.h"
#include "bridge/metrics/metrics.h"
#include "bridge/server/outlet.h"
#include "bridge/session/session.h"
#include "bridge/upstream/upstream.h"
#include "proto/bridge/v1/frame.pb.h"
#include "websocketpp/server.hpp"

namespace bridge::server {

// Gates work posted from other threads (gRPC callbacks) once the server is gone.
struct ServerGate {
  absl::Mutex mu;
  bool open ABSL_GUARDED_BY(mu) = true;
};

template <typename Config>
class SessionCore;

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

// One session and everything it runs on: its strand, its timers, and the connection it is
// attached to, if any. Implements session::Transport. Every method but Post runs on the strand.
//
// The strand is the one websocketpp runs the session's first connection on: its frames arrive
// there and its writes happen there, so a frame in, the session's work and a frame out are one
// task (see RunsHere). The session keeps that strand for life: it outlives the connection while
// it waits for a resume, and a connection that resumes it runs on a strand of its own; frames
// then cross between the two strands (one task each way, server/outlet.h).
template <typename Config>
class SessionCore final : public session::Transport,
                          public std::enable_shared_from_this<SessionCore<Config>> {
 public:
  using WsServer = websocketpp::server<Config>;
  using WsConnection = typename WsServer::connection_type;
  using WsConnectionPtr = typename WsServer::connection_ptr;
  using ConnectionOutlet = Outlet<Config>;
  using StrandPtr = typename WsConnection::strand_ptr;

  SessionCore(asio::io_context& io, StrandPtr strand, std::shared_ptr<ServerGate> gate,
              SessionHost<Config>* host, protocol::Encoding encoding)
      : io_(io),
        strand_(std::move(strand)),
        gate_(std::move(gate)),
        host_(host),
        encoding_(encoding) {}

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

  // A connection's event (open, message, ping, close) from websocketpp's handler: run now when
  // the handler runs on this session's strand and no earlier event of it waits in a task (so
  // events keep their order); posted otherwise. Counted in metrics.events_inline/events_posted.
  // `from` is the strand of the connection the event comes from: asio's strands share their
  // internals from a pool, so running_in_this_thread() alone may also be true on another
  // connection's strand (a resumed session's new connection).
  template <typename Task>
  void Deliver(const StrandPtr& from, Task task, Metrics& metrics) {
    if (from == strand_ && strand_->running_in_this_thread() && events_posted_ == 0) {
      metrics.connection_events_inline.fetch_add(1, std::memory_order_relaxed);
      task();
      return;
    }
    metrics.connection_events_posted.fetch_add(1, std::memory_order_relaxed);
    events_posted_.fetch_add(1, std::memory_order_relaxed);
    Post([self = this->shared_from_this(), task = std::move(task)]() mutable {
      self->events_posted_.fetch_sub(1, std::memory_order_relaxed);
      task();
    });
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
    torn_down_ = true;
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
    std::unique_ptr<TimerSlot>& made = timers_[static_cast<size_t>(timer)];
    if (torn_down_) return;
    if (made == nullptr) made = std::make_unique<TimerSlot>(io_);  // on first use
    TimerSlot& slot = *made;
    const uint64_t generation = ++slot.generation;
    slot.timer.expires_after(TimerDelay(after, absl::Milliseconds(1)));
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
          self->RunHere([done, now, peak] { done(now, peak); });
        });
  }

  void WhenBelow(size_t bytes, std::function<void()> room) override {
    if (out_ == nullptr) return;  // detached: a resume asks again
    out_->WhenBelow(bytes, [weak = this->weak_from_this(), room = std::move(room)] {
      if (auto self = weak.lock()) self->RunHere(room);
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

  // Runs `task` on this session's strand: now when already there (the connection's strand is
  // the session's), else in a task.
  void RunHere(std::function<void()> task) {
    if (strand_ != nullptr && strand_->running_in_this_thread()) {
      task();
    } else {
      Post(std::move(task));
    }
  }

  struct TimerSlot {
    explicit TimerSlot(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    uint64_t generation = 0;
  };
  asio::io_context& io_;
  StrandPtr strand_;                   // the first connection's
  std::atomic<int> events_posted_{0};  // connection events waiting in a task
  std::shared_ptr<ServerGate> gate_;
  SessionHost<Config>* const host_;
  const protocol::Encoding encoding_;
  // Each made when first armed: an idle session arms two of them.
  std::array<std::unique_ptr<TimerSlot>, session::kSessionTimerCount> timers_;
  bool torn_down_ = false;  // no timer is made after Teardown
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

}  // namespace bridge::server

#endif  // BRIDGE_SERVER_SESSION_CORE_H_
