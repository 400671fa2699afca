#include "bridge/app/bridge_app.h"

#include "absl/strings/str_cat.h"
#include "bridge/auth/jwt_verifier.h"
#include "bridge/control/control_server.h"
#include "bridge/pubsub/memory_broker.h"
#include "bridge/pubsub/redis_broker.h"
#include "bridge/session/session.h"
#include "bridge/transcode/json_transcoder.h"
#include "bridge/upstream/auth_client.h"
#include "bridge/upstream/channel_feeds.h"
#include "bridge/upstream/grpc_upstream.h"
#include "bridge/upstream/reflection_client.h"

namespace bridge::app {
namespace {

std::string RenderNodeMetrics(const pubsub::Node& node) {
  const pubsub::Node::Counts c = node.counts();
  std::string out;
  auto gauge = [&out](const char* name, const char* help, uint64_t value, const char* type) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ",
                    value, "\n");
  };
  gauge("bridge_channel_sessions", "Sessions known to channels (attached or waiting for a resume).",
        c.sessions, "gauge");
  gauge("bridge_channel_users", "Distinct users with a session on this instance.", c.users,
        "gauge");
  gauge("bridge_channels", "Channels with a subscriber on this instance.", c.channels, "gauge");
  gauge("bridge_subscriptions", "Subscriptions of this instance's sessions.", c.subscriptions,
        "gauge");
  gauge("bridge_publications_delivered_total", "Publications handed to sessions.",
        c.publications_delivered, "counter");
  gauge("bridge_pushes_delivered_total", "Pushes handed to sessions.", c.pushes_delivered,
        "counter");
  return out;
}

}  // namespace

struct BridgeApp::Parts {
  std::unique_ptr<auth::JwtVerifier> jwt;
  std::unique_ptr<auth::Checker> auth_checker;
  std::unique_ptr<transcode::DescriptorRegistry> registry;
  std::unique_ptr<transcode::JsonTranscoder> transcoder;
  std::unique_ptr<upstream::GrpcUpstream> upstream;
  // After the upstream: they go first (feeds are upstream calls).
  std::unique_ptr<upstream::UpstreamFeeds> feeds;
  std::unique_ptr<pubsub::Node> node;
  std::unique_ptr<control::ControlServer> control;
};

absl::StatusOr<std::unique_ptr<BridgeApp>> BridgeApp::Create(
    v1::BridgeConfig config, std::unique_ptr<transcode::DescriptorRegistry> registry,
    server::ServerOptions options) {
  std::unique_ptr<BridgeApp> app(new BridgeApp());
  app->config_ = std::move(config);
  app->parts_ = std::make_unique<Parts>();
  Parts& parts = *app->parts_;
  parts.registry =
      registry != nullptr ? std::move(registry) : std::make_unique<transcode::DescriptorRegistry>();
  for (const std::string& path : app->config_.descriptor_sets()) {
    if (absl::Status s = parts.registry->AddDescriptorSetFile(path); !s.ok()) return s;
  }
  for (int i = 0; i < app->config_.routes_size(); ++i) {
    const v1::Route& route = app->config_.routes(i);
    if (!route.reflect()) continue;
    std::vector<std::string> services;
    if (route.service() != "*") services.push_back(route.service());
    auto files = upstream::FetchDescriptorsByReflection(route.target(), services);
    absl::Status s = files.ok() ? parts.registry->AddFileDescriptorSet(*files) : files.status();
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("config field routes[", i,
                                                 "] (reflect): ", std::string(s.message())));
    }
  }
  transcode::TranscodeOptions transcode_options;
  transcode_options.ignore_unknown_fields = app->config_.ignore_unknown_payload_fields();
  parts.transcoder =
      std::make_unique<transcode::JsonTranscoder>(parts.registry.get(), transcode_options);
  auto upstream = upstream::GrpcUpstream::Create(app->config_, *parts.registry);
  if (!upstream.ok()) return upstream.status();
  parts.upstream = *std::move(upstream);
  if (!app->config_.default_method().empty()) {
    auto method = parts.registry->FindMethod(app->config_.default_method());
    if (!method.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config field default_method: ", std::string(method.status().message())));
    }
  }

  if (app->config_.auth().has_service()) {
    parts.auth_checker = upstream::MakeAuthServiceChecker(app->config_.auth().service());
    options.auth_checker = parts.auth_checker.get();
  }
  if (app->config_.auth().has_jwt()) {
    auto jwt = auth::JwtVerifier::Create(app->config_.auth().jwt());
    if (!jwt.ok()) return jwt.status();
    parts.jwt = *std::move(jwt);
    options.jwt = parts.jwt.get();
  }
  parts.feeds = std::make_unique<upstream::UpstreamFeeds>(
      parts.registry.get(), parts.transcoder.get(), parts.upstream.get(),
      session::SessionOptions::FromConfig(app->config_).json_rules);
  for (int i = 0; i < app->config_.channels().namespaces_size(); ++i) {
    const std::string& method = app->config_.channels().namespaces(i).method();
    if (method.empty()) continue;
    if (absl::Status s = parts.feeds->CheckMethod(method); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("config field channels.namespaces[", i,
                                                     "].method: ", std::string(s.message())));
    }
  }
  std::unique_ptr<pubsub::Broker> broker;
  if (app->config_.broker().type() == "redis") {
    broker = std::make_unique<pubsub::RedisBroker>(
        pubsub::RedisBrokerOptions::FromConfig(app->config_.broker()));
  } else {
    broker = std::make_unique<pubsub::MemoryBroker>(options.clock);
  }
  parts.node = std::make_unique<pubsub::Node>(app->config_, std::move(broker), parts.feeds.get(),
                                              options.clock);
  options.node = parts.node.get();
  options.services.registry = parts.registry.get();
  options.services.transcoder = parts.transcoder.get();
  options.services.upstream = parts.upstream.get();
  app->server_ = std::make_unique<server::Server>(app->config_, std::move(options));
  upstream::GrpcUpstream* grpc_upstream = parts.upstream.get();
  app->server_->metrics().AddSection([grpc_upstream] { return grpc_upstream->RenderMetrics(); });
  pubsub::Node* node = parts.node.get();
  app->server_->metrics().AddSection([node] { return RenderNodeMetrics(*node); });
  if (!app->config_.control_listen().empty()) {
    parts.control = std::make_unique<control::ControlServer>(node, &app->server_->metrics());
  }
  return app;
}

absl::Status BridgeApp::Start() {
  if (absl::Status s = parts_->node->Start(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("broker (", parts_->node->broker().name(),
                                               "): ", std::string(s.message())));
  }
  if (absl::Status s = server_->Start(); !s.ok()) return s;
  if (parts_->control != nullptr) return parts_->control->Start(config_.control_listen());
  return absl::OkStatus();
}

uint16_t BridgeApp::control_port() const {
  return parts_->control != nullptr ? parts_->control->port() : 0;
}

pubsub::Node& BridgeApp::node() { return *parts_->node; }

std::map<std::string, std::pair<uint64_t, uint64_t>> BridgeApp::retry_counts() const {
  std::map<std::string, std::pair<uint64_t, uint64_t>> out;
  for (const auto& [method, s] : parts_->upstream->retry_stats()) {
    out[method] = {s.retries, s.throttled};
  }
  return out;
}

bool BridgeApp::AwaitUpstreamIdle(absl::Duration timeout) {
  return parts_->upstream->AwaitIdle(timeout);
}

BridgeApp::~BridgeApp() {
  // BridgeControl and the server (its sessions cancel their calls) go first, then the node
  // (its feeds are upstream calls), then the upstream.
  if (parts_ != nullptr && parts_->control != nullptr) parts_->control->Shutdown();
  server_.reset();
  if (parts_ != nullptr && parts_->node != nullptr) {
    parts_->node->Stop();
    parts_->upstream->AwaitIdle(absl::Seconds(5));
  }
  parts_.reset();
}

}  // namespace bridge::app
