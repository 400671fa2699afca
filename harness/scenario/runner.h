// Runs fault scenarios (proto/harness/v1/scenario.proto): starts the parts, drives one client
// of the bridge protocol (bridge/client) through the steps, and reports what it saw against
// docs/protocol.md: categories, retryable, each reconnect's delay against the backoff bounds, and
// every call and stream message lost or duplicated.
//
// Each kind of step has a section of its own (session_steps.h, call_steps.h, channel_steps.h,
// fault_steps.h); the report's values are in results.h, checking and reading scenario files in
// scenario_file.h, both included here for the runner's callers.
//
// Threading: RunScenario blocks the calling thread; the client, the parts and the call retry
// timer have threads of their own.
#ifndef HARNESS_SCENARIO_RUNNER_H_
#define HARNESS_SCENARIO_RUNNER_H_

#include <cstdint>

#include "absl/time/time.h"
#include "harness/scenario/parts.h"
#include "harness/scenario/results.h"
#include "harness/scenario/scenario_file.h"
#include "proto/harness/v1/scenario.pb.h"

namespace harness::scenario {

struct RunOptions {
  Target target;
  // Seeds the client's jitter and the proxies' draws.
  uint64_t seed = 1;
  // How much later than planned a reconnect may start (scheduling on a loaded machine).
  absl::Duration reconnect_slack = absl::Seconds(1);
};

ScenarioReport RunScenario(const v1::Scenario& scenario, const RunOptions& options);

}  // namespace harness::scenario

#endif  // HARNESS_SCENARIO_RUNNER_H_
