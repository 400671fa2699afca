// The real bridge and the real demo backend (demo.v1.Echo), both in-process on port 0, for
// integration tests. Conversation ids are "s-1", "s-2", ... in the order sessions start.
//
// Start and the destructor run on the test's thread; the bridge has io threads of its own.
#ifndef TESTS_SUPPORT_TEST_BRIDGE_H_
#define TESTS_SUPPORT_TEST_BRIDGE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bridge/app/bridge_app.h"
#include "harness/backend/backend_server.h"

namespace bridge::testing {

class TestBridge {
 public:
  // Starts the backend, then a bridge routing demo.v1.Echo to it with io_threads 2 and
  // `extra_config` (text format) on top.
  // Conversation ids are `id_prefix` and a counter ("s-1"); bridges sharing a broker need
  // prefixes of their own.
  static absl::StatusOr<std::unique_ptr<TestBridge>> Start(const std::string& extra_config = "",
                                                           const std::string& id_prefix = "s-");
  // Shuts the bridge down and waits for it, then stops the backend.
  ~TestBridge();

  app::BridgeApp& app() { return *app_; }
  harness::backend::RunningBackend& backend() { return backend_; }
  uint16_t port() { return app_->server().port(); }

 private:
  explicit TestBridge(harness::backend::RunningBackend backend) : backend_(std::move(backend)) {}

  harness::backend::RunningBackend backend_;
  std::unique_ptr<app::BridgeApp> app_;
};

}  // namespace bridge::testing

#endif  // TESTS_SUPPORT_TEST_BRIDGE_H_
