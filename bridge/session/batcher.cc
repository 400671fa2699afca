#include "bridge/session/batcher.h"

#include <utility>

namespace bridge::session {

Batcher::Added Batcher::Add(std::string encoded) {
  waiting_.push_back(std::move(encoded));
  if (waiting_.size() >= max_frames_) return Added::kFull;
  return waiting_.size() == 1 ? Added::kFirst : Added::kWaiting;
}

Batcher::Out Batcher::Take(protocol::Encoding encoding) {
  Out out;
  out.frames = waiting_.size();
  if (out.frames == 1) {
    out.data = std::move(waiting_.front());
  } else if (out.frames > 1) {
    out.data = protocol::EncodeBatch(encoding, waiting_);
  }
  waiting_.clear();
  return out;
}

}  // namespace bridge::session
