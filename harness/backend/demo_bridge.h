// A bridge serving demo.v1.Echo and the chat demo (demo.v1.Chat) from its compiled-in
// descriptors, started from a config: the demo binary, the scenario runner and the integration
// tests run the bridge through this. Start runs on the caller's thread; the bridge has io
// threads of its own.
//
// The chat demo's backend (ChatService) is one per process, on a free loopback port, started
// by the first DemoBridgeConfig; it publishes through the BridgeControl of the demo bridge
// started last.
#ifndef HARNESS_BACKEND_DEMO_BRIDGE_H_
#define HARNESS_BACKEND_DEMO_BRIDGE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bridge/app/bridge_app.h"
#include "proto/bridge/v1/config.pb.h"

namespace harness::backend {

// A BridgeConfig routing demo.v1.Echo to `backend_target` and demo.v1.Chat to the chat demo's
// backend, listening on 127.0.0.1:0 with two io threads, with `extra_text` (BridgeConfig fields
// in text format) on top. Unless `extra_text` says otherwise: BridgeControl on 127.0.0.1:0
// (control_listen), and channels "typing:*" without history or presence. Errors name the
// field.
absl::StatusOr<bridge::v1::BridgeConfig> DemoBridgeConfig(const std::string& backend_target,
                                                          const std::string& extra_text);

// Applies the defaults to `config`, validates it, and starts a bridge with demo.v1.Echo's and
// demo.v1.Chat's descriptors (and those `config` names). When `config` routes demo.v1.Chat to
// the chat demo's backend, that backend publishes through this bridge from now on. Errors name
// the field or file at fault.
absl::StatusOr<std::unique_ptr<bridge::app::BridgeApp>> StartDemoBridge(
    bridge::v1::BridgeConfig config, bridge::server::ServerOptions options = {});

}  // namespace harness::backend

#endif  // HARNESS_BACKEND_DEMO_BRIDGE_H_
