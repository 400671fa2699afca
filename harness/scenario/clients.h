// The scenario's clients of the bridge protocol: the main one and any other a channel step
// names, all made from the scenario's client settings (proto/harness/v1/scenario.proto,
// ClientSettings) and connecting where the parts say.
//
// Threading: ClientMaker is a value used on the runner's thread; each client it makes has an
// io thread of its own.
#ifndef HARNESS_SCENARIO_CLIENTS_H_
#define HARNESS_SCENARIO_CLIENTS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "bridge/client/backoff.h"
#include "bridge/client/websocket_client.h"
#include "proto/harness/v1/scenario.pb.h"

namespace harness::scenario {

// The name channel steps give the scenario's own client.
inline constexpr char kMainClient[] = "main";

// `name`, or "main" when it is empty.
std::string ClientName(const std::string& name);

class ClientMaker {
 public:
  ClientMaker(const v1::Scenario& scenario, std::string url, uint64_t seed);

  // The reconnect schedule of every client: base 200 ms, max 5 s, 5 attempts, equal jitter
  // unless the settings say otherwise.
  const bridge::client::BackoffOptions& backoff() const { return backoff_; }

  // The scenario's own client, its jitter drawn from the seed.
  std::unique_ptr<bridge::client::WebSocketClient> Main() const;
  // Another client, `name`, the `index`-th (from 0) made besides the main one: its clientId and
  // its seed follow the main one's.
  std::unique_ptr<bridge::client::WebSocketClient> Other(const std::string& name,
                                                         size_t index) const;

 private:
  std::unique_ptr<bridge::client::WebSocketClient> Make(const std::string& client_id,
                                                        uint64_t seed) const;

  const v1::ClientSettings& settings_;
  const std::string client_id_;
  const std::string url_;
  const uint64_t seed_;
  const bridge::client::BackoffOptions backoff_;
};

}  // namespace harness::scenario

#endif  // HARNESS_SCENARIO_CLIENTS_H_
