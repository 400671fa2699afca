// The broker of one process: streams, presence and user connections in memory, delivery by a
// direct call. The default; no set-up.
//
// Every `done` and BrokerEvents call runs inline, on the caller's thread. Events are delivered
// under the broker's lock, so one channel's publications arrive in offset order; an event
// handler must not call back into the broker.
#ifndef BRIDGE_PUBSUB_MEMORY_BROKER_H_
#define BRIDGE_PUBSUB_MEMORY_BROKER_H_

#include <cstdint>
#include <deque>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "bridge/common/clock.h"
#include "bridge/pubsub/broker.h"

namespace bridge::pubsub {

class MemoryBroker final : public Broker {
 public:
  explicit MemoryBroker(Clock* clock = RealClock::Get());

  std::string name() const override { return "memory"; }
  absl::Status Start(BrokerEvents* events) override;
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

  // Streams held (for tests of the sweep).
  size_t stream_count();

 private:
  struct Entry {
    Publication publication;
    absl::Time at;
  };
  struct Stream {
    std::string epoch;
    uint64_t offset = 0;
    std::deque<Entry> entries;  // oldest first
    absl::Time last_publish;
    absl::Duration ttl;  // of the last publish
  };

  static void Trim(Stream& stream, const HistoryOptions& history, absl::Time now);
  // Drops streams nobody listens to whose history is all gone; every so many publishes.
  void SweepLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  absl::Mutex mu_;
  BrokerEvents* events_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::flat_hash_map<std::string, Stream> streams_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> listens_ ABSL_GUARDED_BY(mu_);
  // channel -> session id -> client
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, ClientInfo>> presence_
      ABSL_GUARDED_BY(mu_);
  // user id -> session id -> client
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, ClientInfo>> users_
      ABSL_GUARDED_BY(mu_);
  uint64_t publishes_ ABSL_GUARDED_BY(mu_) = 0;
};

// A random epoch: 16 hex digits.
std::string NewEpoch();

}  // namespace bridge::pubsub

#endif  // BRIDGE_PUBSUB_MEMORY_BROKER_H_
