#include "harness/backend/demo_bridge.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/config/config.h"
#include "bridge/transcode/descriptor_registry.h"
#include "proto/demo/v1/echo.pb.h"

namespace harness::backend {

absl::StatusOr<bridge::v1::BridgeConfig> DemoBridgeConfig(const std::string& backend_target,
                                                          const std::string& extra_text) {
  return bridge::config::ParseConfigText(
      absl::StrCat("listen: \"127.0.0.1:0\" io_threads: 2 routes { service: \"demo.v1.Echo\" ",
                   "target: \"", backend_target, "\" }\n", extra_text),
      "bridge config");
}

absl::StatusOr<std::unique_ptr<bridge::app::BridgeApp>> StartDemoBridge(
    bridge::v1::BridgeConfig config, bridge::server::ServerOptions options) {
  bridge::config::ApplyDefaults(&config);
  if (absl::Status valid = bridge::config::Validate(config); !valid.ok()) return valid;
  auto registry = std::make_unique<bridge::transcode::DescriptorRegistry>();
  if (absl::Status added = registry->AddGeneratedFile(demo::v1::SayRequest::descriptor()->file());
      !added.ok()) {
    return added;
  }
  auto app = bridge::app::BridgeApp::Create(std::move(config), std::move(registry), options);
  if (!app.ok()) return app.status();
  if (absl::Status started = (*app)->Start(); !started.ok()) return started;
  return app;
}

}  // namespace harness::backend
