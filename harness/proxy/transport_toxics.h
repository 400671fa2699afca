// The transport toxics: they act on a connection's bytes whatever protocol it speaks
// (latency, bandwidth, slicer, timeout, reset_peer, limit_data). See fault.proto for what
// each does and its attributes.
//
// Threading: as every ToxicStage, on the connection's strand.
#ifndef HARNESS_PROXY_TRANSPORT_TOXICS_H_
#define HARNESS_PROXY_TRANSPORT_TOXICS_H_

#include <cstdint>
#include <deque>
#include <utility>

#include "harness/proxy/toxic.h"

namespace harness::proxy {

// A stage that lets chunks go at set times, in the order they came.
class DelayQueueStage : public ToxicStage {
 public:
  void Flush() override;

 protected:
  // Queues `chunk` to leave at `due`, after every chunk queued before it.
  void Schedule(Chunk chunk, Clock::time_point due);
  // When the last chunk queued is due (now when none is queued).
  Clock::time_point LastDue() const;

 private:
  void EmitDue();

  std::deque<std::pair<Clock::time_point, Chunk>> queue_;
};

// latency: each chunk waits `latency` ± `jitter` ms.
class LatencyStage : public DelayQueueStage {
 public:
  LatencyStage(uint32_t latency_ms, uint32_t jitter_ms)
      : latency_ms_(latency_ms), jitter_ms_(jitter_ms) {}
  void OnChunk(Chunk chunk) override;

 private:
  uint32_t latency_ms_;
  uint32_t jitter_ms_;
};

// bandwidth: at most `rate` KB (1000 bytes) a second, in pieces of 100 ms at most.
class BandwidthStage : public DelayQueueStage {
 public:
  explicit BandwidthStage(uint32_t rate_kb_per_s) : rate_(rate_kb_per_s) {}
  void OnChunk(Chunk chunk) override;

 private:
  uint32_t rate_;  // > 0; also bytes per millisecond
};

// slicer: chunks cut into pieces of `average_size` ± `size_variation` bytes, `delay` µs apart.
class SlicerStage : public DelayQueueStage {
 public:
  SlicerStage(uint32_t average_size, uint32_t size_variation, uint32_t delay_us)
      : average_size_(average_size), size_variation_(size_variation), delay_us_(delay_us) {}
  void OnChunk(Chunk chunk) override;

 private:
  uint32_t average_size_;  // > size_variation_
  uint32_t size_variation_;
  uint32_t delay_us_;
};

// timeout: a black hole; after `timeout` ms (unless 0) the connection is closed.
class TimeoutStage : public ToxicStage {
 public:
  explicit TimeoutStage(uint32_t timeout_ms) : timeout_ms_(timeout_ms) {}
  void OnChunk(Chunk chunk) override { Drop(chunk); }

 protected:
  void OnAttach() override;

 private:
  uint32_t timeout_ms_;
};

// reset_peer: after `timeout` ms (0: at once) both sockets are reset.
class ResetPeerStage : public ToxicStage {
 public:
  explicit ResetPeerStage(uint32_t timeout_ms) : timeout_ms_(timeout_ms) {}
  void OnChunk(Chunk chunk) override { Emit(std::move(chunk)); }

 protected:
  void OnAttach() override;

 private:
  uint32_t timeout_ms_;
};

// limit_data: once `bytes` bytes have passed, the connection is closed.
class LimitDataStage : public ToxicStage {
 public:
  explicit LimitDataStage(uint64_t bytes) : limit_(bytes) {}
  void OnChunk(Chunk chunk) override;

 private:
  uint64_t limit_;
  uint64_t passed_ = 0;
  bool reached_ = false;
};

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_TRANSPORT_TOXICS_H_
