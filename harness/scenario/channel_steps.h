// The channel steps: `subscribe` (the main client or another one, connected on first use),
// `publish` through the parts' BridgeControl, and `expect_publications`, which waits until every
// owed publication arrived or lies in a gap the bridge reported and then checks each client's
// subscription (channel_check.h).
//
// Threading: the steps run on the runner's thread; subscription events arrive on the clients'
// io threads and are recorded under a mutex of this class.
#ifndef HARNESS_SCENARIO_CHANNEL_STEPS_H_
#define HARNESS_SCENARIO_CHANNEL_STEPS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/client/websocket_client.h"
#include "harness/scenario/channel_check.h"
#include "harness/scenario/checks.h"
#include "harness/scenario/clients.h"
#include "harness/scenario/parts.h"
#include "harness/scenario/results.h"
#include "proto/harness/v1/scenario.pb.h"

namespace harness::scenario {

class ChannelSteps {
 public:
  // `main`, `clients` and `parts` must outlive this; CloseClients() before `main` is destroyed.
  ChannelSteps(bridge::client::WebSocketClient& main, const ClientMaker& clients,
               ScenarioParts& parts, absl::Time deadline);

  Observed Subscribe(const v1::Subscribe& spec);
  Observed Publish(const v1::Publish& spec);
  Observed ExpectPublications(const v1::ExpectPublications& e);

  // Ends the sessions of the clients other than the main one.
  void CloseClients() { others_.clear(); }

  // The last expect_publications of each client and channel, in the order first checked.
  const std::vector<ChannelReport>& reports() const { return reports_; }

 private:
  using Key = std::pair<std::string, std::string>;  // client, channel

  bool Await(const std::function<bool()>& ready) { return AwaitUntil(mu_, deadline_, ready); }
  // The main client, or another client of that name, started and confirmed on first use.
  absl::StatusOr<bridge::client::WebSocketClient*> ClientNamed(const std::string& name);
  // The subscriptions `e` checks: of the clients it names, else of every client not refused.
  absl::StatusOr<std::vector<std::shared_ptr<ChannelSub>>> SubsOf(const v1::ExpectPublications& e);
  void Keep(ChannelReport r);

  bridge::client::WebSocketClient& main_;
  const ClientMaker& clients_;
  ScenarioParts& parts_;
  const absl::Time deadline_;
  // Runner thread only.
  std::map<std::string, std::unique_ptr<bridge::client::WebSocketClient>> others_;
  std::map<std::string, int64_t> next_n_;
  std::vector<ChannelReport> reports_;

  absl::Mutex mu_;
  std::map<std::string, int> other_opens_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<bridge::client::CloseInfo>> other_closes_ ABSL_GUARDED_BY(mu_);
  std::map<Key, std::shared_ptr<ChannelSub>> subs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<Published>> published_ ABSL_GUARDED_BY(mu_);
};

}  // namespace harness::scenario

#endif  // HARNESS_SCENARIO_CHANNEL_STEPS_H_
