// The engine under channels, users and push: where publications get their offsets, where
// history and presence live, and how a publish, a push or a disconnect order reaches every
// bridge instance ("node"). One process: MemoryBroker. Several instances acting as one:
// RedisBroker (history, presence and user connections in Redis, delivery by Redis pub/sub).
//
// A broker knows nothing of sessions: the node above it (node.h) keeps which local sessions are
// in which channel and fans out what the broker delivers.
//
// Threading: every method may be called from any thread and never blocks on the network; `done`
// callbacks and BrokerEvents run on a thread of the broker's (or inline, for MemoryBroker), and
// must not block either. Each `done` runs exactly once, also when the broker is stopped (then
// with an error).
#ifndef BRIDGE_PUBSUB_BROKER_H_
#define BRIDGE_PUBSUB_BROKER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace bridge::pubsub {

// Where a channel's stream is: the offset of its last publication (0: none yet) and the epoch,
// which names one life of the stream. The epoch changes only when the broker lost the stream
// (a new process for MemoryBroker; its keys gone for RedisBroker); offsets of different epochs
// do not compare.
struct Position {
  uint64_t offset = 0;
  std::string epoch;
};

// A publication's frame as sessions send it, made once by the first session that delivers it
// and shared by the others, by session encoding (index: protocol::Encoding), without a seq
// (each session adds its own: protocol::WithSeq).
class EncodedPublication {
 public:
  // The form at `index`, made by `make()` (a std::string) by the first caller; shared, not
  // copied, with the others.
  template <typename Make>
  std::shared_ptr<const std::string> Get(size_t index, Make make) {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<const std::string>& form = forms_[index];
    if (form == nullptr) form = std::make_shared<const std::string>(make());
    return form;
  }

 private:
  absl::Mutex mu_;
  std::shared_ptr<const std::string> forms_[2] ABSL_GUARDED_BY(mu_);
};

struct Publication {
  std::string channel;
  uint64_t offset = 0;  // assigned by the broker: 1, 2, ... within an epoch
  std::string epoch;
  std::string data;  // JSON text, as it goes into the frame's `data`
  // A session that must not receive it (the publisher's own), or empty. It is delivered to that
  // session's node all the same (the session skips it but keeps its offsets whole); history
  // may not keep it (RedisBroker does not), so a recovery can return it to that session.
  std::string exclude_session;
  // Set by the node on what it fans out to its sessions (Node::OnPublication); null elsewhere.
  std::shared_ptr<EncodedPublication> encoded;
};

// How much of a channel's stream is kept for recovery. size 0: nothing (offsets still grow).
struct HistoryOptions {
  size_t size = 0;
  // Publications older than this are no longer returned. Zero: no age limit.
  absl::Duration ttl = absl::ZeroDuration();
};

struct HistoryResult {
  Position top;  // the stream's position now
  // Only when asked `since`: every publication after it is in `publications` (true), or some
  // are gone or the epoch differs (false; `publications` empty).
  bool recovered = false;
  std::vector<Publication> publications;  // oldest first
};

// One client in a channel's presence, or one of a user's connections.
struct ClientInfo {
  std::string session_id;  // the conversation id
  std::string user_id;     // empty: anonymous
  std::string client_id;
  int64_t connected_at_unix_ms = 0;
};

enum class Target {
  kUser,     // every connection of user `id`
  kSession,  // the session whose conversation id is `id`
  kAll,      // every connection
};

// Data for connections rather than a channel (BridgeControl SendToUser, SendToSession,
// Broadcast).
struct Push {
  Target target = Target::kAll;
  std::string id;
  std::string data;  // JSON text
};

// BridgeControl Disconnect: close these connections with `code` and `reason`.
struct DisconnectOrder {
  Target target = Target::kUser;
  std::string id;
  int code = 1000;
  std::string reason;
};

// What a broker delivers to its node. Called on broker threads, any number at once for
// different channels; for one channel, publications arrive in offset order.
class BrokerEvents {
 public:
  virtual ~BrokerEvents() = default;
  // A publication on a channel this node listens to (Listen).
  virtual void OnPublication(const Publication& publication) = 0;
  virtual void OnPush(const Push& push) = 0;
  virtual void OnDisconnect(const DisconnectOrder& order) = 0;
  // Delivery was interrupted (the broker lost its connection) and is back: publications made
  // in between may never arrive. The node has its sessions check their channels' positions.
  virtual void OnDeliveryResumed() {}
};

template <typename T>
using Done = std::function<void(absl::StatusOr<T>)>;
using StatusDone = std::function<void(absl::Status)>;

class Broker {
 public:
  virtual ~Broker() = default;

  // "memory" or "redis", for Stats and logs.
  virtual std::string name() const = 0;

  // Connects (RedisBroker) and starts delivering to `events`, which must outlive Stop.
  virtual absl::Status Start(BrokerEvents* events) = 0;
  // No more events after it returns; pending `done`s run with an error. Idempotent.
  virtual void Stop() = 0;

  // Appends `publication` to its channel's stream (offset and epoch assigned here; kept per
  // `history`), then delivers it to every node listening to the channel, this one included.
  // `done` gets the publication's position.
  virtual void Publish(Publication publication, const HistoryOptions& history,
                       Done<Position> done) = 0;

  // This node wants the channel's publications (from every node) / no longer does. Listen's
  // `done` runs once publications published after it will be delivered. Calls nest: a channel
  // listened to twice needs two Unlistens.
  virtual void Listen(const std::string& channel, StatusDone done) = 0;
  virtual void Unlisten(const std::string& channel) = 0;

  // The stream's position and, with `since`, what came after it (see HistoryResult), within
  // `history` (the same options the channel is published with).
  virtual void History(const std::string& channel, std::optional<Position> since,
                       const HistoryOptions& history, Done<HistoryResult> done) = 0;

  // Delivers to every node (this one included).
  virtual void SendPush(Push push, StatusDone done) = 0;
  virtual void SendDisconnect(DisconnectOrder order, StatusDone done) = 0;

  // Presence: `client` is in `channel` until RemovePresence, for every node to see. The broker
  // keeps its own node's entries alive; entries of a node that died expire (RedisBroker).
  virtual void AddPresence(const std::string& channel, const ClientInfo& client) = 0;
  virtual void RemovePresence(const std::string& channel, const std::string& session_id) = 0;
  virtual void Presence(const std::string& channel, Done<std::vector<ClientInfo>> done) = 0;

  // A user's connections, across nodes. AddUserConnection records `client` (its user_id set)
  // and answers how many connections the user has now, this one included.
  virtual void AddUserConnection(const ClientInfo& client, Done<size_t> done) = 0;
  virtual void RemoveUserConnection(const std::string& user_id, const std::string& session_id) = 0;
  // The user's connections now, on every node (none: the user is offline).
  virtual void UserConnections(const std::string& user_id, Done<std::vector<ClientInfo>> done) = 0;
};

}  // namespace bridge::pubsub

#endif  // BRIDGE_PUBSUB_BROKER_H_
