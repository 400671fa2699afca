// What one client of a channel was owed and what it got: publications lost, duplicated, out of
// order, not the ones published, or missing in a gap the bridge reported (recovered: false).
//
// Threading: plain functions of their arguments; the caller holds whatever guards them.
#ifndef HARNESS_SCENARIO_CHANNEL_CHECK_H_
#define HARNESS_SCENARIO_CHANNEL_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "bridge/client/client.h"
#include "harness/scenario/results.h"
#include "proto/harness/v1/scenario.pb.h"

namespace harness::scenario {

// One publication of a `publish` step, as BridgeControl answered it.
struct Published {
  uint64_t offset = 0;
  std::string epoch;
  int64_t n = 0;  // its data is {"n":N}
};

// One client's subscription to one channel, across reconnects.
struct ChannelSub {
  std::string client;  // "main" for the scenario's client
  std::string channel;
  size_t owed_from = 0;  // publications of the channel published before the subscribe
  std::vector<bridge::client::ChannelEvent> subscribed;  // the first, then resubscribes
  std::vector<bridge::client::Publication> received;
  bool refused = false;
  bridge::client::SessionError refusal;
  bool unsubscribed = false;
};

// Every publication owed to `sub` (of `published`, all of its channel's) received or in a gap
// the bridge reported.
bool Settled(const ChannelSub& sub, const std::vector<Published>& published);

// What `sub` got of `published` (all of its channel's), checked against `e`.
ChannelReport CheckChannel(const ChannelSub& sub, const std::vector<Published>& published,
                           const v1::ExpectPublications& e);

}  // namespace harness::scenario

#endif  // HARNESS_SCENARIO_CHANNEL_CHECK_H_
