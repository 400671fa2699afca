// The interface every toxic kind implements. On each connection a toxic that applies is a
// ToxicStage in one direction's chain: source socket -> decoder -> stages -> destination
// socket. A stage takes chunks in order and passes them on in order: at once, later, changed,
// or not at all. Its StageHost (the direction of the connection it sits in) carries chunks to
// the next stage and acts on the connection.
//
// Threading: everything runs on the connection's strand: OnChunk, timers, Flush, Detach.
#ifndef HARNESS_PROXY_TOXIC_H_
#define HARNESS_PROXY_TOXIC_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "asio.hpp"
#include "harness/proxy/chunk.h"
#include "harness/proxy/seeded_random.h"
#include "harness/proxy/stream_decoder.h"

namespace harness::proxy {

class ToxicStage;

// What a stage may do to the connection it sits in.
class StageHost {
 public:
  virtual ~StageHost() = default;

  // Passes `chunk` from `from` to the next stage, or to the destination after the last one.
  virtual void Emit(ToxicStage* from, Chunk chunk) = 0;
  // A chunk was dropped: its credit goes back to the source (flow control).
  virtual void Release(size_t credit) = 0;

  virtual Direction direction() const = 0;
  // The connection's strand, for timers.
  virtual const asio::any_io_executor& executor() const = 0;
  // The connection's generator (jitter, slice sizes).
  virtual Rng& rng() = 0;

  // Closes both sockets at once (FIN); whatever is in flight is lost.
  virtual void CloseConnection() = 0;
  // Resets both sockets: SO_LINGER 0, then close, so each peer gets a TCP RST.
  virtual void ResetConnection() = 0;
  // Stops forwarding server frames and sends `close` (a close frame, unmasked) to the client
  // through the downstream toxics. Once it is written the proxy forwards nothing more, closes
  // the server's socket and waits for the client's answering close.
  virtual void SendCloseToClient(WsFrame close) = 0;
};

class ToxicStage : public std::enable_shared_from_this<ToxicStage> {
 public:
  using Clock = std::chrono::steady_clock;

  virtual ~ToxicStage() = default;

  // Joins a chain. `host` outlives the stage's time in it.
  void Attach(StageHost* host);
  // Leaves the chain (removed, or the connection closed): timers stop, held chunks are
  // forgotten, and nothing more is emitted.
  void Detach();

  // The next chunk of the direction, in order.
  virtual void OnChunk(Chunk chunk) = 0;
  // The toxic is being removed: pass on everything held, in order, now.
  virtual void Flush() {}
  // The 101 answer reached the client: frames flow from now on.
  virtual void OnWebSocketOpen() {}

 protected:
  virtual void OnAttach() {}

  StageHost& host() { return *host_; }
  bool attached() const { return host_ != nullptr; }
  // Passes `chunk` on; nothing once detached.
  void Emit(Chunk chunk);
  // Drops `chunk`, giving its credit back.
  void Drop(const Chunk& chunk);

  // Runs `fn` on the strand after `delay`, unless the stage is detached or RunAfter is called
  // again first (one pending call per stage).
  void RunAfter(Clock::duration delay, std::function<void()> fn);
  void CancelTimer();

 private:
  StageHost* host_ = nullptr;
  std::optional<asio::steady_timer> timer_;
  uint64_t timer_generation_ = 0;
};

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_TOXIC_H_
