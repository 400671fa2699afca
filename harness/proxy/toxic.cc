#include "harness/proxy/toxic.h"

#include <utility>

namespace harness::proxy {

void ToxicStage::Attach(StageHost* host) {
  host_ = host;
  timer_.emplace(host->executor());
  OnAttach();
}

void ToxicStage::Detach() {
  CancelTimer();
  host_ = nullptr;
}

void ToxicStage::Emit(Chunk chunk) {
  if (host_ != nullptr) host_->Emit(this, std::move(chunk));
}

void ToxicStage::Drop(const Chunk& chunk) {
  if (host_ != nullptr) host_->Release(chunk.credit);
}

void ToxicStage::RunAfter(Clock::duration delay, std::function<void()> fn) {
  if (host_ == nullptr) return;
  const uint64_t generation = ++timer_generation_;
  timer_->expires_after(delay);
  timer_->async_wait(
      [self = shared_from_this(), generation, fn = std::move(fn)](const std::error_code& error) {
        // A handler already queued when the timer was cancelled or re-armed still runs: the
        // generation tells it apart.
        if (error || self->host_ == nullptr || generation != self->timer_generation_) return;
        fn();
      });
}

void ToxicStage::CancelTimer() {
  ++timer_generation_;
  if (timer_) timer_->cancel();
}

}  // namespace harness::proxy
