// The node as a session uses it: joining and leaving, the user's connections, subscriptions and
// history. pubsub::Node implements it; session tests use a fake.
#ifndef BRIDGE_PUBSUB_SESSION_NODE_H_
#define BRIDGE_PUBSUB_SESSION_NODE_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "bridge/pubsub/broker.h"
#include "bridge/pubsub/subscriber.h"

namespace bridge::pubsub {

class SessionNode {
 public:
  virtual ~SessionNode() = default;

  // A session is known to the node from AddSession to RemoveSession (which leaves its channels,
  // its presence and its user connection).
  virtual void AddSession(const ClientInfo& client, std::shared_ptr<Subscriber> subscriber) = 0;
  // Records the session's user connection (client.user_id set); `done` gets the count now.
  virtual void AddUserConnection(const ClientInfo& client, Done<size_t> done) = 0;
  virtual void RemoveSession(const std::string& session_id) = 0;
  // Forgets a user connection AddUserConnection recorded for a session never added.
  virtual void RemoveUserConnection(const std::string& user_id, const std::string& session_id) = 0;

  // Joins `channel`. `done` gets the channel's position and, with `since`, what the session
  // missed (HistoryResult). Errors: INVALID_ARGUMENT and NOT_FOUND for the name,
  // FAILED_PRECONDITION (unknown session), ALREADY_EXISTS (already subscribed),
  // RESOURCE_EXHAUSTED marked limit_exceeded (max_channels_per_session), UNAVAILABLE (the
  // broker), and a feed's errors; a session reports each by protocol::CategoryForStatus.
  // Publications of the channel reach the subscriber from before `done` runs; the session
  // drops those `done` already covers.
  virtual void Subscribe(const std::string& session_id, const std::string& channel,
                         const std::string& params_json, std::optional<Position> since,
                         Done<HistoryResult> done) = 0;
  // False when the session was not subscribed.
  virtual bool Unsubscribe(const std::string& session_id, const std::string& channel) = 0;
  // The channel's position and what came after `since` (see Broker::History).
  virtual void History(const std::string& channel, std::optional<Position> since,
                       Done<HistoryResult> done) = 0;
};

}  // namespace bridge::pubsub

#endif  // BRIDGE_PUBSUB_SESSION_NODE_H_
