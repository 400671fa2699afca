// One bridge instance's side of channels, users and push: which local sessions are in which
// channel, the fan-out of what the broker delivers to them, user connections, presence, and
// channels fed by an upstream stream (ChannelNamespace.method).
//
// Sessions reach the node through Subscribe/Unsubscribe; the node reaches sessions through
// their Subscriber, whose methods must only post to the session's strand. BridgeControl calls
// Publish, SendPush, SendDisconnect, Presence, ListSessions and counts().
//
// Threading: every method may be called from any thread; `done`s run on broker threads or
// inline. The node never calls its broker or a Subscriber with its own lock held.
#ifndef BRIDGE_PUBSUB_NODE_H_
#define BRIDGE_PUBSUB_NODE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "bridge/common/clock.h"
#include "bridge/config/defaults.h"
#include "bridge/pubsub/broker.h"
#include "bridge/pubsub/feeds.h"
#include "bridge/pubsub/memory_broker.h"
#include "bridge/pubsub/session_node.h"
#include "bridge/pubsub/subscriber.h"
#include "proto/bridge/v1/config.pb.h"

namespace bridge::pubsub {

// What a channel is, from the namespaces of ChannelsConfig.
struct ChannelRules {
  HistoryOptions history;
  bool presence = config::kDefaultChannelPresence;
  std::string method;  // a server-streaming method feeding the channel; empty: Publish feeds it
};

class Node final : public BrokerEvents, public SessionNode {
 public:
  // `config` must have defaults applied and outlive the node. `feeds` may be null (channels of
  // a namespace with a method then refuse subscribers).
  Node(const v1::BridgeConfig& config, std::unique_ptr<Broker> broker, ChannelFeeds* feeds,
       Clock* clock = RealClock::Get());
  ~Node() override;

  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  absl::Status Start();
  // Ends every feed and stops the broker. Idempotent.
  void Stop();

  const std::string& node_id() const { return node_id_; }
  Broker& broker() { return *broker_; }

  // INVALID_ARGUMENT for a bad name (empty, too long, control characters); NOT_FOUND when
  // require_namespace is set and no namespace matches.
  absl::StatusOr<ChannelRules> RulesFor(std::string_view channel) const;

  // SessionNode (session_node.h).
  void AddSession(const ClientInfo& client, std::shared_ptr<Subscriber> subscriber) override;
  void AddUserConnection(const ClientInfo& client, Done<size_t> done) override;
  void RemoveSession(const std::string& session_id) override;
  void RemoveUserConnection(const std::string& user_id, const std::string& session_id) override {
    broker_->RemoveUserConnection(user_id, session_id);
  }
  void Subscribe(const std::string& session_id, const std::string& channel,
                 const std::string& params_json, std::optional<Position> since,
                 Done<HistoryResult> done) override;
  bool Unsubscribe(const std::string& session_id, const std::string& channel) override;
  void History(const std::string& channel, std::optional<Position> since,
               Done<HistoryResult> done) override;

  // BridgeControl. `data` must be JSON text (the caller checks).
  void Publish(const std::string& channel, std::string data, std::string exclude_session,
               Done<Position> done);
  void SendPush(Push push, StatusDone done) { broker_->SendPush(std::move(push), std::move(done)); }
  void SendDisconnect(DisconnectOrder order, StatusDone done) {
    broker_->SendDisconnect(std::move(order), std::move(done));
  }
  void Presence(const std::string& channel, Done<std::vector<ClientInfo>> done);
  // A user's connections on every instance (none: offline).
  void UserConnections(const std::string& user_id, Done<std::vector<ClientInfo>> done) {
    broker_->UserConnections(user_id, std::move(done));
  }

  struct LocalSession {
    ClientInfo client;
    std::vector<std::string> channels;
    Subscriber::Counts counts;
  };
  // This instance's sessions (of `user_id` only, unless empty).
  std::vector<LocalSession> ListSessions(const std::string& user_id) const;

  struct Counts {
    uint64_t sessions = 0;
    uint64_t users = 0;
    uint64_t channels = 0;
    uint64_t subscriptions = 0;
    uint64_t publications_delivered = 0;
    uint64_t pushes_delivered = 0;
  };
  Counts counts() const;

  // BrokerEvents.
  void OnPublication(const Publication& publication) override;
  void OnPush(const Push& push) override;
  void OnDisconnect(const DisconnectOrder& order) override;
  void OnDeliveryResumed() override;

 private:
  struct SessionEntry {
    ClientInfo client;
    std::shared_ptr<Subscriber> subscriber;
    absl::flat_hash_set<std::string> channels;
  };
  enum class ChannelState { kOpening, kOpen };
  struct ChannelEntry {
    ChannelRules rules;
    ChannelState state = ChannelState::kOpening;
    absl::flat_hash_set<std::string> sessions;
    // Subscribers waiting for the channel to open.
    std::vector<std::function<void(absl::Status)>> waiters;
    std::unique_ptr<ChannelFeeds::Feed> feed;
    // A fed channel's position before its feed started: the subscriber that opened it gets
    // everything after it.
    std::optional<Position> opened_at;
    bool feed_ended = false;  // the feed ended while the channel was opening
    uint64_t generation = 0;
  };

  // The broker a channel's stream is in: feed_broker_ for fed channels.
  Broker& BrokerFor(const ChannelRules& rules);
  // Opens the channel (Listen, or the feed); runs the waiters.
  void OpenChannel(const std::string& channel, const ChannelRules& rules,
                   const std::string& params_json, uint64_t generation);
  void OnChannelOpened(const std::string& channel, uint64_t generation, absl::Status status);
  // Closes a channel nobody is in any more (Unlisten, or the feed cancelled). Lock not held.
  void CloseChannel(const std::string& channel, const ChannelRules& rules,
                    std::unique_ptr<ChannelFeeds::Feed> feed);
  void OnFeedEnded(const std::string& channel, uint64_t generation, absl::Status status);
  // Takes `session_id` out of `channel`; true when the channel is then empty and open (it is
  // erased and `closing` gets what CloseChannel needs).
  bool LeaveLocked(const std::string& session_id, const std::string& channel, ChannelRules* rules,
                   std::unique_ptr<ChannelFeeds::Feed>* feed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeliverToSessions(const std::vector<std::shared_ptr<Subscriber>>& to,
                         const std::function<void(Subscriber&)>& deliver);

  // Fed channels' streams and history live here, per instance.
  class FeedEvents;

  const v1::BridgeConfig& config_;
  std::unique_ptr<Broker> broker_;
  ChannelFeeds* const feeds_;
  Clock* const clock_;
  const std::string node_id_;
  std::unique_ptr<FeedEvents> feed_events_;
  MemoryBroker feed_broker_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, SessionEntry> sessions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> users_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, ChannelEntry> channels_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;

  std::atomic<uint64_t> publications_delivered_{0};
  std::atomic<uint64_t> pushes_delivered_{0};
};

}  // namespace bridge::pubsub

#endif  // BRIDGE_PUBSUB_NODE_H_
