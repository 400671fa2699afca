// The frames a session sent and the client has not acknowledged yet, oldest first, kept for a
// resume within three bounds (frames, bytes, age). What a claim pins (docs/protocol.md,
// "Resume") is the caller's to say: Hold never drops a frame after `keep_after`.
//
// Not thread-safe: the session's strand owns it.
#ifndef BRIDGE_SESSION_RESUME_BUFFER_H_
#define BRIDGE_SESSION_RESUME_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "absl/time/time.h"
#include "bridge/common/lazy_deque.h"

namespace bridge::session {

class ResumeBuffer {
 public:
  struct Limits {
    size_t frames = 1024;
    size_t bytes = 1 << 20;
    absl::Duration age = absl::Seconds(60);
  };
  struct Held {
    uint64_t seq;
    std::string data;  // as sent
    absl::Duration sent_at;
  };

  explicit ResumeBuffer(Limits limits) : limits_(limits) {}

  // Keeps frame `seq` (sent at `now`, monotonic), then drops the oldest frames while a bound is
  // exceeded, none of them after `keep_after`. True when any frame was dropped.
  bool Hold(uint64_t seq, std::string data, absl::Duration now, uint64_t keep_after = UINT64_MAX);
  // Drops the frames up to and including `acked_seq`.
  void Trim(uint64_t acked_seq);
  // Drops every frame.
  void Clear() {
    held_.clear();
    bytes_ = 0;
  }

  bool empty() const { return held_.empty(); }
  size_t frames() const { return held_.size(); }
  size_t bytes() const { return bytes_; }
  // seq of the oldest frame held, or `otherwise` when none is.
  uint64_t FirstSeqOr(uint64_t otherwise) const {
    return held_.empty() ? otherwise : held_.front().seq;
  }
  uint64_t LastSeqOr(uint64_t otherwise) const {
    return held_.empty() ? otherwise : held_.back().seq;
  }
  const LazyDeque<Held>& held() const { return held_; }

 private:
  void PopFront();

  const Limits limits_;
  LazyDeque<Held> held_;
  size_t bytes_ = 0;
};

}  // namespace bridge::session

#endif  // BRIDGE_SESSION_RESUME_BUFFER_H_
