// The calls of one session by messageId, and the final frames of the ones that ended, so that
// a resend of a messageId (after a resume) is answered again and never starts a second upstream
// call (docs/protocol.md, "Resume").
//
// Each call started gets an id of its own: an upstream event names the call it belongs to, and
// an event of an earlier call under the same messageId finds nothing.
//
// Not thread-safe: the session's strand owns it.
#ifndef BRIDGE_SESSION_CALL_TABLE_H_
#define BRIDGE_SESSION_CALL_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "bridge/common/lazy_deque.h"
#include "bridge/transcode/descriptor_registry.h"
#include "bridge/transcode/json_transcoder.h"
#include "bridge/upstream/upstream.h"
#include "proto/bridge/v1/frame.pb.h"

namespace bridge::session {

struct ActiveCall {
  uint64_t id = 0;
  transcode::MethodInfo method;
  std::shared_ptr<upstream::Call> call;
  bool content_mode = false;            // started from `content`: answer with `content` too
  bool read_wanted = false;             // a read waits for the outbound buffer to drain
  absl::Duration started_at;            // monotonic, when it was started upstream
  absl::Duration before_upstream;       // from its message frame to that start
  std::string traceparent;              // W3C trace context of the call upstream; empty: none
  transcode::JsonMapping json_mapping;  // how its replies are written as JSON
};

class CallTable {
 public:
  // Up to `max_outcomes` final frames are kept, the oldest dropped first; 0 keeps none.
  explicit CallTable(size_t max_outcomes) : max_outcomes_(max_outcomes) {}

  // The running call with this messageId, or null.
  ActiveCall* Find(const std::string& message_id);
  // The running call with this messageId if it is call `call_id`, or null.
  ActiveCall* Find(const std::string& message_id, uint64_t call_id);
  // A new call under `message_id`, which must not be running, with a fresh id.
  ActiveCall& Start(const std::string& message_id);
  // Removes call `call_id` under `message_id` and hands it over; nothing when that is not the
  // running call (an event of an earlier call under the same messageId).
  std::optional<ActiveCall> Take(const std::string& message_id, uint64_t call_id);
  // Removes every running call and hands them over.
  std::vector<ActiveCall> TakeAll();

  size_t size() const { return calls_.size(); }
  bool empty() const { return calls_.empty(); }
  // `f(ActiveCall&)` for each running call.
  template <typename F>
  void ForEach(F f) {
    for (auto& [id, call] : calls_) f(call);
  }

  // Keeps a call's final frame, without its seq, unless one is kept for this messageId already.
  void RememberOutcome(const std::string& message_id, const v1::Frame& frame);
  // The final frame kept for this messageId, or null.
  const v1::Frame* Outcome(const std::string& message_id) const;
  size_t outcomes() const { return outcomes_.size(); }

 private:
  const size_t max_outcomes_;
  absl::flat_hash_map<std::string, ActiveCall> calls_;
  uint64_t next_call_id_ = 0;
  absl::flat_hash_map<std::string, v1::Frame> outcomes_;
  LazyDeque<std::string> outcome_order_;  // oldest first
};

}  // namespace bridge::session

#endif  // BRIDGE_SESSION_CALL_TABLE_H_
