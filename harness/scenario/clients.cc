#include "harness/scenario/clients.h"

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"

namespace harness::scenario {
namespace {

using ::bridge::client::BackoffOptions;
using ::bridge::client::Jitter;
using ::bridge::client::WebSocketClient;

BackoffOptions Backoff(const v1::ClientSettings& c) {
  BackoffOptions b;
  b.base = absl::Milliseconds(c.has_backoff_base_ms() ? c.backoff_base_ms() : 200);
  b.max = absl::Milliseconds(c.has_backoff_max_ms() ? c.backoff_max_ms() : 5000);
  b.max_attempts = c.has_max_attempts() ? static_cast<int>(c.max_attempts()) : 5;
  b.jitter = c.jitter() == "full"   ? Jitter::kFull
             : c.jitter() == "none" ? Jitter::kNone
                                    : Jitter::kEqual;
  return b;
}

}  // namespace

std::string ClientName(const std::string& name) { return name.empty() ? kMainClient : name; }

ClientMaker::ClientMaker(const v1::Scenario& scenario, std::string url, uint64_t seed)
    : settings_(scenario.client()),
      client_id_(scenario.client().client_id().empty() ? absl::StrCat("scenario-", scenario.name())
                                                       : scenario.client().client_id()),
      url_(std::move(url)),
      seed_(seed),
      backoff_(Backoff(scenario.client())) {}

std::unique_ptr<WebSocketClient> ClientMaker::Main() const { return Make(client_id_, seed_); }

std::unique_ptr<WebSocketClient> ClientMaker::Other(const std::string& name, size_t index) const {
  return Make(absl::StrCat(client_id_, "-", name), seed_ + 1 + index);
}

std::unique_ptr<WebSocketClient> ClientMaker::Make(const std::string& client_id,
                                                   uint64_t seed) const {
  const v1::ClientSettings& c = settings_;
  bridge::client::ClientOptions o;
  o.url = url_;
  o.client_id = client_id;
  o.token = c.token();
  o.reconnect = backoff_;
  o.resume = !c.has_resume() || c.resume();
  o.connect_timeout = absl::Seconds(5);
  if (c.heartbeat_interval_ms() > 0) {
    o.heartbeat_interval = absl::Milliseconds(c.heartbeat_interval_ms());
  }
  if (c.heartbeat_timeout_ms() > 0) {
    o.heartbeat_timeout = absl::Milliseconds(c.heartbeat_timeout_ms());
  }
  o.close_timeout = absl::Seconds(1);
  auto random = std::make_shared<std::mt19937_64>(seed);
  return std::make_unique<WebSocketClient>(
      o, bridge::client::WebSocketTransportOptions(),
      [random] { return std::uniform_real_distribution<double>(0.0, 1.0)(*random); });
}

}  // namespace harness::scenario
