// The connection a session writes to: WebSocket messages in order, flow control by completed
// writes, and the closes.
//
// A websocketpp connection is safe only on its own strand, where its handlers run: terminate()
// there writes its state without the lock that send() and close() read it under. A session
// normally runs on that same strand (server/session_core.h), and then a message goes to
// websocketpp at once, from the call that sends it: no queue, no task. A session resumed onto
// another connection runs on its first connection's strand; its messages then queue here, in
// order, and one task on this connection's strand hands all that wait to websocketpp.
//
// Flow control: websocketpp writes everything it holds in one gathered write, so it is given at
// most kWindow bytes at a time; the rest waits in the backlog, where a slow consumer's close can
// drop it and go first. A message framed here carries a deleter that websocketpp runs when it
// lets go of the message, that is when the write that carried it has completed: that event, and
// no timer, hands over the backlog's next part and tells a session waiting for room (WhenBelow).
// Messages websocketpp frames itself (permessage-deflate, hybi-00) are copied into a message of
// its own, so their completion is not seen: for those connections a 1 ms pump looks at
// websocketpp's buffered amount while something waits.
#ifndef BRIDGE_SERVER_OUTLET_H_
#define BRIDGE_SERVER_OUTLET_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "bridge/common/lazy_deque.h"
#include "bridge/transcode/json_text.h"
#include "websocketpp/config/asio_no_tls.hpp"
#include "websocketpp/server.hpp"

namespace bridge::server {

// RFC 6455 framing (versions 7, 8 and 13 share it); websocketpp also speaks hybi-00.
template <typename Connection>
bool Rfc6455(Connection& con) {
  const std::string& v = con.get_request_header("Sec-WebSocket-Version");
  return v == "13" || v == "8" || v == "7";
}

// Empties the upgrade's request and response, which websocketpp keeps inside the connection
// for its whole life: their header maps and bodies, about 1 KB per idle connection. websocketpp
// reads them only during the handshake (and in its access log, compiled out); the bridge has
// read what it needs by the time a connection's outlet is made (server.cc's OnOpen, Outlet's
// constructor). The members are not const, only websocketpp's accessors are.
template <typename Connection>
void ReleaseHandshake(Connection& con) {
  const_cast<typename Connection::request_type&>(con.get_request()) =
      typename Connection::request_type();
  const_cast<typename Connection::response_type&>(con.get_response()) =
      typename Connection::response_type();
}

// The header of a final, unmasked (server to client) frame of `size` payload bytes.
std::string FrameHeader(websocketpp::frame::opcode::value opcode, size_t size);

template <typename Config>
class Outlet final : public std::enable_shared_from_this<Outlet<Config>> {
 public:
  using WsServer = websocketpp::server<Config>;
  using WsConnection = typename WsServer::connection_type;
  using WsConnectionPtr = typename WsServer::connection_ptr;
  using MessagePtr = typename WsConnection::message_ptr;
  using Message = typename WsConnection::message_type;
  using StrandPtr = typename WsConnection::strand_ptr;

  // websocketpp is given at most this many bytes at a time.
  static constexpr size_t kWindow = 1 << 20;

  explicit Outlet(WsConnectionPtr con)
      : con_(std::move(con)),
        strand_(con_->get_strand()),
        rfc6455_(Rfc6455(*con_)),
        deflating_(absl::StrContains(con_->get_response_header("Sec-WebSocket-Extensions"),
                                     "permessage-deflate")),
        watched_(rfc6455_ && !deflating_),
        pump_(con_->get_raw_socket().get_executor()) {
    ReleaseHandshake(*con_);
  }

  WsConnection* connection() const { return con_.get(); }
  const StrandPtr& strand() const { return strand_; }

  // --- Any thread (the session's strand).

  // One message, after those sent before. On the connection's strand it is handed to
  // websocketpp here and now (within the window).
  void Send(std::string data, bool text) {
    const auto opcode =
        text ? websocketpp::frame::opcode::text : websocketpp::frame::opcode::binary;
    const size_t bytes = data.size();
    MessagePtr msg;
    if (!watched_) {
      // websocketpp frames (and compresses) it; text that is not UTF-8 is dropped there.
      msg = con_->get_message(opcode, 0);
      if (msg == nullptr) return;
      msg->get_raw_payload() = std::move(data);
      msg->set_compressed(deflating_);
    } else {
      // Framed here: websocketpp's framing checks a text frame's UTF-8 one byte at a time and
      // copies the payload twice, most of the cost of a 16 KiB reply. The check runs eight
      // ASCII bytes at a time and the payload moves into the message. Text that is not UTF-8
      // is dropped, as websocketpp's send does.
      if (text && !transcode::IsValidUtf8(data)) return;
      msg = MessagePtr(new Message(nullptr, opcode, 0), Written{this->weak_from_this(), bytes});
      msg->set_header(FrameHeader(opcode, bytes));
      msg->get_raw_payload() = std::move(data);
      msg->set_prepared(true);
    }
    if (watched_) unwritten_.fetch_add(bytes, std::memory_order_relaxed);
    queued_.fetch_add(bytes, std::memory_order_relaxed);
    if (strand_->running_in_this_thread()) {
      TakeWaiting();
      HandOver(kWindow, Waiting{std::move(msg), bytes});
      return;
    }
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
      self->queued_.fetch_sub(dropped, std::memory_order_relaxed);
      self->backlog_.clear();  // a message framed here counts itself out of unwritten_
      self->Send(std::move(farewell), text);
      self->HandOver(SIZE_MAX);
      self->CloseNow(code, reason);
    });
  }

  // Bytes given to Send and not yet written to the socket. Exact for messages framed here;
  // for the others it counts websocketpp's buffered amount as last looked at.
  size_t buffered_bytes() const {
    return watched_
               ? unwritten_.load(std::memory_order_relaxed)
               : queued_.load(std::memory_order_relaxed) + held_.load(std::memory_order_relaxed);
  }

  // `done` runs on the connection's strand, with the bytes waiting now and the most that
  // waited right after a send (see session::Transport::MeasureBuffered).
  void Measure(std::function<void(size_t, size_t)> done) {
    asio::post(*strand_, [self = this->shared_from_this(), done = std::move(done)] {
      self->LookAtWebsocketpp();
      const size_t now = self->buffered_bytes();
      done(now, std::max(now, self->peak_));
    });
  }

  // Runs `room` once, on the connection's strand, as soon as fewer than `below` bytes are
  // unwritten (looked at after every completed write). Replaces an earlier request.
  void WhenBelow(size_t below, std::function<void()> room) {
    {
      absl::MutexLock lock(&mu_);
      room_ = std::move(room);
      room_below_ = below;
      room_wanted_.store(true, std::memory_order_release);
    }
    PostPump();
  }

 private:
  struct Waiting {
    MessagePtr msg;
    size_t bytes = 0;
  };

  // The deleter of a message framed here: websocketpp lets go of it once its write completed
  // (or the connection is gone). Runs on the connection's strand, inside websocketpp's write
  // handler, or wherever the connection is destroyed.
  struct Written {
    std::weak_ptr<Outlet> outlet;
    size_t bytes;
    void operator()(Message* m) const {
      delete m;
      if (auto o = outlet.lock()) o->OnWritten(bytes);
    }
  };

  // How soon websocketpp's buffered amount is looked at again, for messages it framed.
  static constexpr std::chrono::milliseconds kPumpInterval{1};

  static size_t SaturatingSub(size_t a, size_t b) { return a > b ? a - b : 0; }

  void OnWritten(size_t bytes) {
    unwritten_.fetch_sub(bytes, std::memory_order_relaxed);
    // The next step is a task of its own: websocketpp is in the middle of its write handler.
    if (has_backlog_.load(std::memory_order_relaxed) ||
        room_wanted_.load(std::memory_order_acquire)) {
      PostPump();
    }
  }

  void PostPump() {
    if (pump_posted_.exchange(true, std::memory_order_acq_rel)) return;
    asio::post(*strand_, [self = this->shared_from_this()] {
      // An exchange, not a store: it pairs with PostPump's, so a WhenBelow that found a pump
      // posted is seen by this one, or posts another.
      self->pump_posted_.exchange(false, std::memory_order_acq_rel);
      if (!self->closed_) self->HandOver(kWindow);
    });
  }

  // On the connection's strand.
  void Flush() {
    TakeWaiting();
    HandOver(kWindow);
  }

  // Moves what Send queued from other threads into the backlog.
  void TakeWaiting() {
    std::vector<Waiting> batch;
    {
      absl::MutexLock lock(&mu_);
      if (waiting_.empty()) {
        flush_posted_ = false;
        return;
      }
      batch.swap(waiting_);
      flush_posted_ = false;
    }
    for (Waiting& w : batch) backlog_.push_back(std::move(w));
  }

  void LookAtWebsocketpp() {
    if (!watched_) held_.store(con_->get_buffered_amount(), std::memory_order_relaxed);
  }

  // Hands messages to websocketpp, oldest first (the backlog, then `newest`), while it holds
  // less than `window` bytes; what is left waits in the backlog. Then tells a session waiting
  // for room, if there is room. A message that goes straight through never enters the backlog,
  // which so allocates nothing on a connection that keeps up.
  void HandOver(size_t window, std::optional<Waiting> newest = std::nullopt) {
    // What websocketpp holds: for messages framed here, those handed over and not yet
    // written (unwritten_ counts the queued ones too; on this strand, only Send adds to both).
    size_t held = watched_ ? SaturatingSub(unwritten_.load(std::memory_order_relaxed),
                                           queued_.load(std::memory_order_relaxed))
                           : con_->get_buffered_amount();
    size_t handed = 0;
    while (held < window && (!backlog_.empty() || newest.has_value())) {
      Waiting w;
      if (!backlog_.empty()) {
        w = std::move(backlog_.front());
        backlog_.pop_front();
      } else {
        w = std::move(*newest);
        newest.reset();
      }
      held += w.bytes;
      handed += w.bytes;
      (void)con_->send(std::move(w.msg));
    }
    if (newest.has_value()) backlog_.push_back(std::move(*newest));
    queued_.fetch_sub(handed, std::memory_order_relaxed);
    has_backlog_.store(!backlog_.empty(), std::memory_order_relaxed);
    LookAtWebsocketpp();
    peak_ = std::max(peak_, buffered_bytes());
    if (!watched_ && !pump_armed_ && !closed_ &&
        (!backlog_.empty() || room_wanted_.load(std::memory_order_acquire))) {
      pump_armed_ = true;
      pump_.expires_after(kPumpInterval);
      pump_.async_wait(asio::bind_executor(
          *strand_, [self = this->shared_from_this()](const std::error_code& ec) {
            self->pump_armed_ = false;
            if (!ec && !self->closed_) self->HandOver(kWindow);
          }));
    }
    if (room_wanted_.load(std::memory_order_acquire)) TellRoom();
  }

  void TellRoom() {
    std::function<void()> room;
    {
      absl::MutexLock lock(&mu_);
      if (room_ == nullptr || buffered_bytes() >= room_below_) return;
      room = std::move(room_);
      room_ = nullptr;
      room_wanted_.store(false, std::memory_order_release);
    }
    room();
  }

  void CloseNow(int code, const std::string& reason) {
    closed_ = true;
    pump_.cancel();
    std::error_code ec;
    con_->close(static_cast<websocketpp::close::status::value>(code), reason, ec);
    if (ec) con_->terminate(ec);
  }

  const WsConnectionPtr con_;
  const StrandPtr strand_;
  const bool rfc6455_;    // RFC 6455 framing, which Send can do itself
  const bool deflating_;  // permessage-deflate was negotiated
  const bool watched_;    // messages are framed here and their writes seen to complete
  absl::Mutex mu_;
  std::vector<Waiting> waiting_ ABSL_GUARDED_BY(mu_);  // sent from another strand
  bool flush_posted_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> room_ ABSL_GUARDED_BY(mu_);
  size_t room_below_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<bool> room_wanted_{false};
  std::atomic<bool> pump_posted_{false};
  std::atomic<bool> has_backlog_{false};
  std::atomic<size_t> unwritten_{0};  // watched: from Send until websocketpp lets go
  std::atomic<size_t> queued_{0};     // not yet handed to websocketpp (waiting_ and backlog_)
  std::atomic<size_t> held_{0};       // unwatched: websocketpp's buffered amount, last seen
  // On the strand: messages not yet handed to websocketpp.
  LazyDeque<Waiting> backlog_;
  asio::steady_timer pump_;  // unwatched connections only
  bool pump_armed_ = false;
  bool closed_ = false;
  size_t peak_ = 0;  // the most unwritten right after a hand-over (on the strand)
};

}  // namespace bridge::server

#endif  // BRIDGE_SERVER_OUTLET_H_
