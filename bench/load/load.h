// The load generator's shared parts: what to run (LoadSpec), what came of it (LoadResult), and
// the two drivers, one speaking the bridge protocol over WebSocket, one calling gRPC directly.
//
// Both run the same loop. Closed loop: each connection keeps `inflight` calls going, the next
// sent as soon as one completes. Open loop: calls are scheduled at a constant total `rate`
// spread over the connections; a call whose turn comes while its connection already has
// `inflight` calls waits, and every latency is measured from the scheduled send time, so a
// stall shows in the percentiles instead of slowing the schedule down.
//
// A run: connect everything, then `warmup_s` unmeasured, then `duration_s` measured; a call
// counts when it completes inside the measured window. `on_window` is called on the caller's
// thread at the window's start and end (the tool samples the bridge's CPU there).
#ifndef BENCH_LOAD_LOAD_H_
#define BENCH_LOAD_LOAD_H_

#include <cstdint>
#include <functional>
#include <string>

#include "bench/load/clock.h"
#include "bench/load/histogram.h"

namespace bench::load {

enum class CallKind {
  kSay,     // unary demo.v1.Echo/Say
  kRepeat,  // server streaming demo.v1.Echo/Repeat: `repeat_count` replies per call
  kChat,    // bidi demo.v1.Echo/Chat: one long call per slot, a round trip per message
};

struct LoadSpec {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string path = "/ws";
  int connections = 1;
  int inflight = 1;     // per connection (closed loop), or its cap (open loop)
  double rate = 0;      // calls per second in all; 0: closed loop
  size_t payload = 64;  // bytes of request text
  CallKind kind = CallKind::kSay;
  int repeat_count = 4;
  double warmup_s = 0.5;
  double duration_s = 2;
  int threads = 1;  // client io threads (WebSocket driver)
};

struct LoadResult {
  uint64_t round_trips = 0;  // calls (or chat messages) completed in the window
  uint64_t replies = 0;      // reply messages in the window (Repeat: several per call)
  uint64_t errors = 0;       // error frames, non-OK statuses, broken connections
  uint64_t late = 0;         // open loop: sends that had to wait for a free slot
  uint64_t connect_failures = 0;
  double seconds = 0;       // the measured window
  double client_cpu_s = 0;  // this process over the window
  Histogram latency;        // ns
  std::string first_error;
};

using WindowHook = std::function<void(bool start)>;

// Each returns false (and sets result->first_error) when the connections cannot be set up.
bool RunWebSocketLoad(const LoadSpec& spec, const WindowHook& on_window, LoadResult* result);
bool RunGrpcLoad(const LoadSpec& spec, const WindowHook& on_window, LoadResult* result);

// Idle connections: opens `spec.connections` bridge sessions (upgrade, connect,
// connect_confirm) with `setup_concurrency` handshakes at a time per thread, using source
// addresses 127.0.0.2, .3, ... `per_source` connections each; holds them `hold_s`, then closes.
struct IdleResult {
  uint64_t established = 0;
  uint64_t failures = 0;
  double setup_seconds = 0;  // first connect to last connect_confirm
  int64_t rss_before = -1, rss_after = -1;
  std::string first_error;
};
bool RunIdleConnections(const LoadSpec& spec, int setup_concurrency, int per_source, double hold_s,
                        int bridge_pid, IdleResult* result);

}  // namespace bench::load

#endif  // BENCH_LOAD_LOAD_H_
