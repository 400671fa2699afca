// Channels fed by a server-streaming upstream method (ChannelNamespace.method): the subscriber's
// `params` become the request, every reply goes to the channel as JSON.
#ifndef BRIDGE_UPSTREAM_CHANNEL_FEEDS_H_
#define BRIDGE_UPSTREAM_CHANNEL_FEEDS_H_

#include "bridge/pubsub/feeds.h"
#include "bridge/transcode/descriptor_registry.h"
#include "bridge/transcode/json_transcoder.h"
#include "bridge/upstream/upstream.h"

namespace bridge::upstream {

class UpstreamFeeds final : public pubsub::ChannelFeeds {
 public:
  // Every pointer must outlive the feeds it opens. A feed's publications are written in the
  // JSON mapping of its method's route (`json_rules`; sessions' own choices do not apply: one
  // publication is shared by every subscriber).
  UpstreamFeeds(const transcode::DescriptorRegistry* registry,
                const transcode::JsonTranscoder* transcoder, Upstream* upstream,
                transcode::JsonRules json_rules = {});

  absl::StatusOr<std::unique_ptr<Feed>> Open(const std::string& method, const std::string& channel,
                                             const std::string& params_json,
                                             std::function<void(std::string json)> on_message,
                                             std::function<void(absl::Status)> on_end) override;

  // Whether `method` can feed a channel: known, routed, server streaming, one request.
  absl::Status CheckMethod(const std::string& method) const;

 private:
  const transcode::DescriptorRegistry* const registry_;
  const transcode::JsonTranscoder* const transcoder_;
  Upstream* const upstream_;
  const transcode::JsonRules json_rules_;
};

}  // namespace bridge::upstream

#endif  // BRIDGE_UPSTREAM_CHANNEL_FEEDS_H_
