// The broker of several bridge instances sharing one Redis: offsets, epochs and history in
// Redis keys (updated atomically by Lua scripts), delivery by Redis pub/sub, presence and user
// connections as Redis hashes whose entries expire unless the instance that added them keeps
// refreshing them.
//
// Keys and pub/sub topics, under `prefix` (default "bridge"):
//   <prefix>.ch.<channel>            topic: the channel's publications
//   <prefix>.control                 topic: pushes and disconnect orders, for every instance
//   <prefix>.meta.<channel>          hash {offset, epoch}; kept `meta_ttl` after the last publish
//   <prefix>.history.<channel>       list, oldest first: "<offset> <unix ms> <data>"
//   <prefix>.presence.<channel>      hash session id -> client;  <prefix>.presence_exp.<channel>
//   <prefix>.user.<user id>          hash session id -> client;  <prefix>.user_exp.<user id>
//                                    (sorted sets of each entry's expiry, unix ms)
//
// Threading: two threads of the broker's own, each with its own Redis connection. The command
// thread sends what the methods queue (everything queued at once, as one pipeline), runs the
// `done`s of commands as their replies arrive, and refreshes this instance's presence and user
// entries every presence_ttl / 3. The subscriber thread holds the SUBSCRIBEs and calls
// BrokerEvents, one at a time, in the order Redis delivers (for one channel: offset order).
// Both reconnect with backoff when their connection drops; meanwhile `done`s get UNAVAILABLE
// at once, and subscriptions come back with the connection (publications in between are lost;
// History tells what was missed). Methods called after Stop run their `done` inline, with
// UNAVAILABLE.
#ifndef BRIDGE_PUBSUB_REDIS_BROKER_H_
#define BRIDGE_PUBSUB_REDIS_BROKER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/common/clock.h"
#include "bridge/config/defaults.h"
#include "bridge/pubsub/broker.h"
#include "proto/bridge/v1/config.pb.h"

struct redisContext;
struct redisReply;

namespace bridge::pubsub {

struct RedisBrokerOptions {
  // HOST:PORT ([v6]:PORT), or unix:/path/to.sock.
  std::string address = std::string(config::kDefaultRedisAddress);
  std::string prefix = std::string(config::kDefaultRedisPrefix);
  // How long presence and user-connection entries live without a refresh.
  absl::Duration presence_ttl = absl::Milliseconds(config::kDefaultPresenceTtlMs);
  // Names this instance; empty: a random one.
  std::string node_id;
  // Timestamps of history entries and expiry times of presence entries.
  Clock* clock = RealClock::Get();
  // How long a channel's offset and epoch outlive its last publish.
  absl::Duration meta_ttl = absl::Hours(24 * 30);
  // Bounds on one connection attempt and on waiting for a reply; past the latter the
  // connection counts as lost.
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(5);
  // Waits between connection attempts: from min, doubling up to max.
  absl::Duration reconnect_backoff_min = absl::Milliseconds(100);
  absl::Duration reconnect_backoff_max = absl::Seconds(5);
  // Commands queued and not yet answered; beyond it `done`s get RESOURCE_EXHAUSTED.
  size_t max_pending_commands = 100000;

  // From the config's broker section, with its defaults applied (config::ApplyDefaults).
  static RedisBrokerOptions FromConfig(const v1::BrokerConfig& config);
};

class RedisBroker final : public Broker {
 public:
  explicit RedisBroker(RedisBrokerOptions options);
  ~RedisBroker() override;
  RedisBroker(const RedisBroker&) = delete;
  RedisBroker& operator=(const RedisBroker&) = delete;

  std::string name() const override { return "redis"; }
  // Connects both connections and subscribes to the control topic, waiting up to
  // connect_timeout for it; UNAVAILABLE if Redis did not answer by then, INVALID_ARGUMENT for a
  // bad address. Call once.
  absl::Status Start(BrokerEvents* events) override;
  // Joins the broker's threads: not from a `done` or a BrokerEvents call.
  void Stop() override;
  void Publish(Publication publication, const HistoryOptions& history,
               Done<Position> done) override;
  void Listen(const std::string& channel, StatusDone done) override;
  void Unlisten(const std::string& channel) override;
  void History(const std::string& channel, std::optional<Position> since,
               const HistoryOptions& history, Done<HistoryResult> done) override;
  void SendPush(Push push, StatusDone done) override;
  void SendDisconnect(DisconnectOrder order, StatusDone done) override;
  void AddPresence(const std::string& channel, const ClientInfo& client) override;
  void RemovePresence(const std::string& channel, const std::string& session_id) override;
  void Presence(const std::string& channel, Done<std::vector<ClientInfo>> done) override;
  void AddUserConnection(const ClientInfo& client, Done<size_t> done) override;
  void RemoveUserConnection(const std::string& user_id, const std::string& session_id) override;
  void UserConnections(const std::string& user_id, Done<std::vector<ClientInfo>> done) override;

  const std::string& node_id() const { return options_.node_id; }

  struct Stats {
    uint64_t connects = 0;     // successful connections, both kinds
    uint64_t disconnects = 0;  // connections lost
    uint64_t refreshes = 0;    // rounds of presence / user-connection refresh sent
    bool connected = false;    // both connections up, the subscriptions confirmed
  };
  Stats stats();
  // Waits until `condition` holds for the stats (evaluated under the broker's lock; it must not
  // call the broker); false at the deadline or once stopped.
  bool AwaitStats(const std::function<bool(const Stats&)>& condition, absl::Duration timeout);
  // Both connections up and every subscription confirmed.
  bool WaitConnected(absl::Duration timeout) {
    return AwaitStats([](const Stats& s) { return s.connected; }, timeout);
  }

 private:
  class Connection;
  // An error reply arrives as an INTERNAL status (and no reply).
  using ReplyHandler = std::function<void(absl::Status, const redisReply*)>;
  struct Command {
    std::vector<std::string> args;  // a script's: numkeys, keys..., args...
    int script = -1;                // index of a Lua script, or -1: `args` is the command
    bool eval = false;              // EVAL with the script's text rather than EVALSHA
    ReplyHandler handler;
  };

  // Queues a command for the command thread; `handler` runs once, with its reply or an error.
  void Send(std::vector<std::string> args, int script, ReplyHandler handler);
  void CommandLoop();
  void SubscriberLoop();
  // Sends `batch` on the command connection and runs each handler; false if the connection was
  // lost (the handlers of unanswered commands then ran with an error).
  bool RunBatch(Connection& conn, std::vector<Command>& batch);
  void QueueRefreshLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailQueued(absl::Status status);
  static void Wake(int fd);
  // key suffix (a channel, a user id) -> session id -> encoded ClientInfo.
  using OwnEntries = std::map<std::string, std::map<std::string, std::string>>;
  // Forgets one of this instance's entries (`own`: own_presence_ or own_users_) here and in
  // Redis.
  void RemoveEntry(OwnEntries RedisBroker::*own, const char* kind, const char* exp_kind,
                   const std::string& name, const std::string& session_id);
  // The live entries (presence or user connections) of `name`.
  void ListEntries(std::string_view kind, std::string_view exp_kind, const std::string& name,
                   Done<std::vector<ClientInfo>> done);
  std::string Key(std::string_view kind, std::string_view name) const;
  std::string Topic(const std::string& channel) const;
  std::string ControlTopic() const;
  std::vector<std::string> AddEntryArgs(const char* kind, const char* exp_kind,
                                        const std::string& name, const std::string& session,
                                        const std::string& encoded, bool count);
  int64_t EntryKeyTtlMs() const;
  void HandleSubscriberReply(const redisReply* reply, BrokerEvents* events);
  void DeliverControl(std::string_view payload, BrokerEvents* events);
  void FailListenWaitersLocked(absl::Status status, std::vector<StatusDone>& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ConnectedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Duration NextBackoff(absl::Duration& backoff);

  RedisBrokerOptions options_;
  std::string host_;  // or the unix socket's path
  int port_ = 0;      // 0: unix socket
  absl::Status address_status_;
  int command_wake_fd_ = -1;
  int subscriber_wake_fd_ = -1;

  absl::Mutex stop_mu_;  // one Stop joins the threads
  absl::Mutex mu_;
  BrokerEvents* events_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);

  // Command thread.
  std::deque<Command> queue_ ABSL_GUARDED_BY(mu_);
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;  // sent, awaiting a reply
  bool commands_up_ ABSL_GUARDED_BY(mu_) = false;
  bool refresh_due_ ABSL_GUARDED_BY(mu_) = false;
  // This instance's entries, kept alive by the refresh: key suffix -> session id -> encoded.
  OwnEntries own_presence_ ABSL_GUARDED_BY(mu_);
  OwnEntries own_users_ ABSL_GUARDED_BY(mu_);

  // Subscriber thread.
  struct TopicState {
    std::string channel;
    int listens = 0;
    // Listens waiting for the confirmation of one SUBSCRIBE each, in the order they were sent.
    std::deque<std::vector<StatusDone>> waiting;
    bool confirmed = false;
  };
  absl::flat_hash_map<std::string, TopicState> topics_ ABSL_GUARDED_BY(mu_);
  // SUBSCRIBE (true) / UNSUBSCRIBE (false) of topics, to send.
  std::vector<std::pair<bool, std::string>> sub_ops_ ABSL_GUARDED_BY(mu_);
  // Listens answered without waiting for Redis, to run on the subscriber thread.
  std::vector<std::pair<StatusDone, absl::Status>> sub_ready_ ABSL_GUARDED_BY(mu_);
  bool subscriber_up_ ABSL_GUARDED_BY(mu_) = false;   // the control subscription confirmed
  int subscriber_connects_ ABSL_GUARDED_BY(mu_) = 0;  // subscriber connections made
  bool subscriber_connected_ ABSL_GUARDED_BY(mu_) = false;

  std::thread command_thread_;
  std::thread subscriber_thread_;
};

}  // namespace bridge::pubsub

#endif  // BRIDGE_PUBSUB_REDIS_BROKER_H_
