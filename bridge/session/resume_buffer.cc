#include "bridge/session/resume_buffer.h"

#include <utility>

namespace bridge::session {

bool ResumeBuffer::Hold(uint64_t seq, std::string data, absl::Duration now, uint64_t keep_after) {
  bytes_ += data.size();
  held_.push_back(Held{seq, std::move(data), now});
  bool dropped = false;
  while (!held_.empty() && held_.front().seq <= keep_after &&
         (held_.size() > limits_.frames || bytes_ > limits_.bytes ||
          now - held_.front().sent_at > limits_.age)) {
    PopFront();
    dropped = true;
  }
  return dropped;
}

void ResumeBuffer::Trim(uint64_t acked_seq) {
  while (!held_.empty() && held_.front().seq <= acked_seq) PopFront();
  // A client that acknowledged everything is often one that went quiet: its session keeps no
  // storage for frames it may never get. (Acks come far less often than frames.)
  if (held_.empty()) held_.clear();
}

void ResumeBuffer::PopFront() {
  bytes_ -= held_.front().data.size();
  held_.pop_front();
}

}  // namespace bridge::session
