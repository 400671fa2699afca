// The upstream streams that feed channels (ChannelNamespace.method), as the node opens them;
// bridge/upstream/channel_feeds.h opens them on gRPC.
#ifndef BRIDGE_PUBSUB_FEEDS_H_
#define BRIDGE_PUBSUB_FEEDS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bridge::pubsub {

// Opens the upstream streams that feed channels (ChannelNamespace.method).
class ChannelFeeds {
 public:
  class Feed {
   public:
    virtual ~Feed() = default;
    // Ends the stream upstream; on_end still follows.
    virtual void Cancel() = 0;
  };
  virtual ~ChannelFeeds() = default;
  // Starts `method` with `params_json` as its request. `on_message` gets every reply as JSON
  // text, then `on_end` runs once (OK when the stream ended cleanly), from any thread. Errors
  // here (unknown method, not server streaming, bad params) mean nothing was started.
  virtual absl::StatusOr<std::unique_ptr<Feed>> Open(
      const std::string& method, const std::string& channel, const std::string& params_json,
      std::function<void(std::string json)> on_message,
      std::function<void(absl::Status)> on_end) = 0;
};

}  // namespace bridge::pubsub

#endif  // BRIDGE_PUBSUB_FEEDS_H_
