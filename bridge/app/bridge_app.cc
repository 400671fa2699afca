#include "bridge/app/bridge_app.h"

#include "bridge/auth/jwt_verifier.h"
#include "bridge/transcode/json_transcoder.h"
#include "bridge/upstream/auth_client.h"
#include "bridge/upstream/grpc_upstream.h"
#include "bridge/upstream/reflection_client.h"

namespace bridge::app {

struct BridgeApp::Parts {
  std::unique_ptr<auth::JwtVerifier> jwt;
  std::unique_ptr<auth::Checker> auth_checker;
  std::unique_ptr<transcode::DescriptorRegistry> registry;
  std::unique_ptr<transcode::JsonTranscoder> transcoder;
  std::unique_ptr<upstream::GrpcUpstream> upstream;
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
  options.services.registry = parts.registry.get();
  options.services.transcoder = parts.transcoder.get();
  options.services.upstream = parts.upstream.get();
  app->server_ = std::make_unique<server::Server>(app->config_, std::move(options));
  upstream::GrpcUpstream* grpc_upstream = parts.upstream.get();
  app->server_->metrics().AddSection([grpc_upstream] { return grpc_upstream->RenderMetrics(); });
  return app;
}

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
  // The server (and its sessions, which cancel their calls) goes before the upstream.
  server_.reset();
  parts_.reset();
}

}  // namespace bridge::app
