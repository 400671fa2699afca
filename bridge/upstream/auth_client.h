// The client of bridge.v1.Auth/Check (BridgeConfig.auth.service): one callback-API unary call
// per check, with the configured deadline. `done` runs on a gRPC thread.
#ifndef BRIDGE_UPSTREAM_AUTH_CLIENT_H_
#define BRIDGE_UPSTREAM_AUTH_CLIENT_H_

#include <memory>

#include "bridge/auth/checker.h"
#include "proto/bridge/v1/config.pb.h"

namespace bridge::upstream {

// `config` has its defaults applied and is valid (config::ApplyDefaults, config::Validate).
std::unique_ptr<auth::Checker> MakeAuthServiceChecker(const v1::AuthServiceConfig& config);

}  // namespace bridge::upstream

#endif  // BRIDGE_UPSTREAM_AUTH_CLIENT_H_
