#include "harness/proxy/transport_toxics.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace harness::proxy {

using std::chrono::microseconds;
using std::chrono::milliseconds;

void DelayQueueStage::Schedule(Chunk chunk, Clock::time_point due) {
  queue_.emplace_back(due, std::move(chunk));
  if (queue_.size() == 1) EmitDue();
}

ToxicStage::Clock::time_point DelayQueueStage::LastDue() const {
  const Clock::time_point now = Clock::now();
  return queue_.empty() ? now : std::max(now, queue_.back().first);
}

void DelayQueueStage::EmitDue() {
  while (!queue_.empty() && attached()) {
    const Clock::time_point now = Clock::now();
    if (queue_.front().first > now) {
      RunAfter(queue_.front().first - now, [this] { EmitDue(); });
      return;
    }
    Chunk chunk = std::move(queue_.front().second);
    queue_.pop_front();
    Emit(std::move(chunk));
  }
}

void DelayQueueStage::Flush() {
  CancelTimer();
  while (!queue_.empty()) {
    Chunk chunk = std::move(queue_.front().second);
    queue_.pop_front();
    Emit(std::move(chunk));
  }
}

void LatencyStage::OnChunk(Chunk chunk) {
  int64_t delay_ms = latency_ms_;
  if (jitter_ms_ > 0) delay_ms += UniformInt(host().rng(), -int64_t{jitter_ms_}, jitter_ms_);
  Schedule(std::move(chunk), Clock::now() + milliseconds(std::max<int64_t>(delay_ms, 0)));
}

void BandwidthStage::OnChunk(Chunk chunk) {
  // Toxiproxy's pacing: `rate` bytes a millisecond, no piece longer than 100 ms.
  Clock::time_point due = LastDue();
  for (Chunk& piece : SplitChunk(std::move(chunk), size_t{rate_} * 100)) {
    due += microseconds(piece.bytes.size() * 1000 / rate_);
    Schedule(std::move(piece), due);
  }
}

void SlicerStage::OnChunk(Chunk chunk) {
  std::vector<size_t> sizes;
  for (size_t left = chunk.bytes.size(); left > 0;) {
    const int64_t drawn =
        average_size_ + UniformInt(host().rng(), -int64_t{size_variation_}, size_variation_);
    const size_t size = std::min(left, static_cast<size_t>(std::max<int64_t>(drawn, 1)));
    sizes.push_back(size);
    left -= size;
  }
  Clock::time_point due = LastDue();
  for (Chunk& piece : SplitChunk(std::move(chunk), sizes)) {
    Schedule(std::move(piece), due);
    due += microseconds(delay_us_);
  }
}

void TimeoutStage::OnAttach() {
  if (timeout_ms_ == 0) return;
  RunAfter(milliseconds(timeout_ms_), [this] { host().CloseConnection(); });
}

void ResetPeerStage::OnAttach() {
  RunAfter(milliseconds(timeout_ms_), [this] { host().ResetConnection(); });
}

void LimitDataStage::OnChunk(Chunk chunk) {
  if (reached_) {
    Drop(chunk);
    return;
  }
  const uint64_t left = limit_ - passed_;
  if (chunk.bytes.size() < left) {
    passed_ += chunk.bytes.size();
    Emit(std::move(chunk));
    return;
  }
  reached_ = true;
  if (chunk.bytes.size() > left) {
    chunk.bytes.resize(left);
    chunk.frame.reset();
    chunk.then = Chunk::Then::kNothing;
  }
  passed_ = limit_;
  Emit(std::move(chunk));
  Emit(Signal(Chunk::Then::kCloseConnection));
}

}  // namespace harness::proxy
