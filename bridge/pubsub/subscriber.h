// A local session as the node sees it: where the node delivers publications, pushes and orders.
#ifndef BRIDGE_PUBSUB_SUBSCRIBER_H_
#define BRIDGE_PUBSUB_SUBSCRIBER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "bridge/pubsub/broker.h"

namespace bridge::pubsub {

// One local session as the node sees it. Called from any thread, never with the node's lock
// held; implementations post to the session's strand and return.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // One Publication is shared by every subscriber it goes to.
  virtual void OnPublication(std::shared_ptr<const Publication> publication) = 0;
  // Data pushed to this connection (SendToUser, SendToSession, Broadcast).
  virtual void OnPush(const std::string& data) = 0;
  // BridgeControl.Disconnect: close with `code` and `reason`, for good (no resume).
  virtual void OnDisconnect(int code, const std::string& reason) = 0;
  // The node ended a subscription itself (the upstream stream feeding the channel ended).
  virtual void OnUnsubscribed(const std::string& channel) = 0;
  // Publications of `channel` may have been lost on the way (the broker's delivery was
  // interrupted): the session compares its position with the channel's (Node::History).
  virtual void OnCheckPosition(const std::string& channel) = 0;

  struct Counts {
    uint64_t frames_in = 0;
    uint64_t frames_out = 0;
    uint64_t calls = 0;
  };
  virtual Counts counts() const = 0;
};

}  // namespace bridge::pubsub

#endif  // BRIDGE_PUBSUB_SUBSCRIBER_H_
