#include "harness/backend/demo_bridge.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/config/config.h"
#include "bridge/transcode/descriptor_registry.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "harness/backend/chat_service.h"
#include "proto/demo/v1/chat.pb.h"
#include "proto/demo/v1/echo.pb.h"

namespace harness::backend {
namespace {

constexpr char kChatService[] = "demo.v1.Chat";

// The chat demo's backend: one per process, alive until it exits.
struct ChatBackend {
  ChatService service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::string target() const { return absl::StrCat("127.0.0.1:", port); }
};

absl::StatusOr<ChatBackend*> StartedChatBackend() {
  static ChatBackend* const backend = [] {
    auto* b = new ChatBackend;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &b->port);
    builder.RegisterService(&b->service);
    b->server = builder.BuildAndStart();
    return b;
  }();
  if (backend->server == nullptr || backend->port == 0) {
    return absl::UnavailableError("cannot serve demo.v1.Chat on 127.0.0.1:0");
  }
  return backend;
}

bool HasRoute(const bridge::v1::BridgeConfig& config, const std::string& service) {
  for (const auto& route : config.routes()) {
    if (route.service() == service) return true;
  }
  return false;
}

bool HasNamespace(const bridge::v1::BridgeConfig& config, const std::string& pattern) {
  for (const auto& ns : config.channels().namespaces()) {
    if (ns.pattern() == pattern) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<bridge::v1::BridgeConfig> DemoBridgeConfig(const std::string& backend_target,
                                                          const std::string& extra_text) {
  auto config = bridge::config::ParseConfigText(
      absl::StrCat("listen: \"127.0.0.1:0\" io_threads: 2 routes { service: \"demo.v1.Echo\" ",
                   "target: \"", backend_target, "\" }\n", extra_text),
      "bridge config");
  if (!config.ok()) return config;
  absl::StatusOr<ChatBackend*> chat = StartedChatBackend();
  if (!chat.ok()) return chat.status();
  if (!HasRoute(*config, kChatService)) {
    auto* route = config->add_routes();
    route->set_service(kChatService);
    route->set_target((*chat)->target());
  }
  if (config->control_listen().empty()) config->set_control_listen("127.0.0.1:0");
  // Typing notices matter only while they are fresh, and nobody is "in" a typing channel.
  if (!HasNamespace(*config, "typing:*")) {
    auto* typing = config->mutable_channels()->add_namespaces();
    typing->set_pattern("typing:*");
    typing->set_history_size(0);
    typing->set_presence(false);
  }
  return config;
}

absl::StatusOr<std::unique_ptr<bridge::app::BridgeApp>> StartDemoBridge(
    bridge::v1::BridgeConfig config, bridge::server::ServerOptions options) {
  bridge::config::ApplyDefaults(&config);
  if (absl::Status valid = bridge::config::Validate(config); !valid.ok()) return valid;
  auto registry = std::make_unique<bridge::transcode::DescriptorRegistry>();
  for (const auto* file :
       {demo::v1::SayRequest::descriptor()->file(), demo::v1::PostRequest::descriptor()->file()}) {
    if (absl::Status added = registry->AddGeneratedFile(file); !added.ok()) return added;
  }
  auto app = bridge::app::BridgeApp::Create(std::move(config), std::move(registry), options);
  if (!app.ok()) return app.status();
  if (absl::Status started = (*app)->Start(); !started.ok()) return started;

  absl::StatusOr<ChatBackend*> chat = StartedChatBackend();
  if (!chat.ok()) return chat.status();
  for (const auto& route : (*app)->config().routes()) {
    if (route.service() != kChatService || route.target() != (*chat)->target()) continue;
    const uint16_t control_port = (*app)->control_port();
    auto host_port = bridge::config::ParseHostPort((*app)->config().control_listen());
    if (control_port != 0 && host_port.ok()) {
      const std::string host =
          host_port->host == "0.0.0.0" || host_port->host.empty() ? "127.0.0.1" : host_port->host;
      (*chat)->service.SetBridgeControl(grpc::CreateChannel(absl::StrCat(host, ":", control_port),
                                                            grpc::InsecureChannelCredentials()));
    }
  }
  return app;
}

}  // namespace harness::backend
