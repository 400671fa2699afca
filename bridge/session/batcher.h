// Outbound batching (BridgeConfig.batch): a session's encoded frames wait to go out together as
// one `batch` frame, up to `max_frames` of them and none longer than the batch delay (the
// session's kBatch timer, which Add says when to arm).
//
// Not thread-safe: the session's strand owns it.
#ifndef BRIDGE_SESSION_BATCHER_H_
#define BRIDGE_SESSION_BATCHER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "bridge/protocol/frame_codec.h"

namespace bridge::session {

class Batcher {
 public:
  // max_frames <= 1: off.
  explicit Batcher(size_t max_frames) : max_frames_(max_frames) {}

  bool enabled() const { return max_frames_ > 1; }

  enum class Added {
    kFirst,    // the first frame waiting: arm the delay
    kWaiting,  // more frames may join
    kFull,     // max_frames are waiting: flush now
  };
  Added Add(std::string encoded);

  // What goes out for the frames waiting: the one frame as it is, or a `batch` of them all in
  // `encoding`; `frames` is how many. Empties the batcher; nothing waiting gives frames == 0.
  struct Out {
    std::string data;
    size_t frames = 0;
  };
  Out Take(protocol::Encoding encoding);

  // Drops the frames waiting.
  void Clear() { waiting_.clear(); }
  bool empty() const { return waiting_.empty(); }
  size_t size() const { return waiting_.size(); }

 private:
  const size_t max_frames_;
  std::vector<std::string> waiting_;
};

}  // namespace bridge::session

#endif  // BRIDGE_SESSION_BATCHER_H_
