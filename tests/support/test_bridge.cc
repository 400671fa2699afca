#include "tests/support/test_bridge.h"

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/config/config.h"
#include "proto/demo/v1/echo.pb.h"

namespace bridge::testing {

absl::StatusOr<std::unique_ptr<TestBridge>> TestBridge::Start(const std::string& extra_config,
                                                              const std::string& id_prefix) {
  auto backend = harness::backend::StartBackend("127.0.0.1:0");
  if (!backend.ok()) return backend.status();
  std::unique_ptr<TestBridge> bridge(new TestBridge(*std::move(backend)));

  auto config = config::ParseConfigText(
      absl::StrCat("listen: \"127.0.0.1:0\" io_threads: 2 routes { service: \"demo.v1.Echo\" ",
                   "target: \"", bridge->backend_.target(), "\" } ", extra_config),
      "test");
  if (!config.ok()) return config.status();
  config::ApplyDefaults(&*config);
  if (absl::Status valid = config::Validate(*config); !valid.ok()) return valid;
  auto registry = std::make_unique<transcode::DescriptorRegistry>();
  if (absl::Status added = registry->AddGeneratedFile(demo::v1::SayRequest::descriptor()->file());
      !added.ok()) {
    return added;
  }
  auto next_id = std::make_shared<std::atomic<int>>(0);
  server::ServerOptions options;
  options.new_conversation_id = [next_id, id_prefix] {
    return absl::StrCat(id_prefix, ++*next_id);
  };
  auto app = app::BridgeApp::Create(*config, std::move(registry), options);
  if (!app.ok()) return app.status();
  bridge->app_ = *std::move(app);
  if (absl::Status started = bridge->app_->Start(); !started.ok()) return started;
  return bridge;
}

TestBridge::~TestBridge() {
  if (app_ != nullptr) {
    app_->Shutdown();
    app_->Wait();
    app_.reset();
  }
  if (backend_.server != nullptr) backend_.server->Shutdown();
}

}  // namespace bridge::testing
