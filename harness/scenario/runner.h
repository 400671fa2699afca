// Runs fault scenarios (proto/harness/v1/scenario.proto): starts the parts, drives one client
// of the bridge protocol (bridge/client) through the steps, and reports what it saw against
// docs/protocol.md: categories, retryable, each reconnect's delay against the backoff bounds, and
// every call and stream message lost or duplicated.
//
// Threading: RunScenario blocks the calling thread; the client, the parts and the call retry
// timer have threads of their own.
#ifndef HARNESS_SCENARIO_RUNNER_H_
#define HARNESS_SCENARIO_RUNNER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "harness/scenario/parts.h"
#include "proto/harness/v1/scenario.pb.h"

namespace harness::scenario {

enum class Verdict { kPass, kFail, kSkipped };
const char* VerdictName(Verdict verdict);  // "pass", "fail", "skipped"

struct StepReport {
  std::string name;
  bool ok = true;
  std::string detail;  // what was observed, and what was expected when it differs
  absl::Duration took;
};

// One reconnect attempt, against docs/protocol.md's bounds.
struct ReconnectReport {
  int attempt = 0;
  int after_close_code = 0;
  absl::Duration floor;     // retryAfterMs, or the table's least delay for the close code
  absl::Duration ceiling;   // min(max, base * 2^(attempt-1)), raised to the floor
  absl::Duration planned;   // what the client chose
  absl::Duration measured;  // from the close to the attempt
  bool ok = true;
};

struct CallReport {
  std::string id;
  std::string method;
  int attempts = 0;
  bool done = false;
  int outcomes = 0;     // outcomes of its last attempt (exactly 1 unless duplicated)
  std::string outcome;  // "ok" or the category
  bool retryable = false;
  int grpc_code = 0;
  int64_t retry_after_ms = 0;
  int messages = 0;
  int messages_lost = 0;        // gaps in "sequence"
  int messages_duplicated = 0;  // repeats in "sequence"
  bool ok = true;
  std::string detail;
};

// What one client saw of one channel, against what was published to it while subscribed.
struct ChannelReport {
  std::string client;  // "main" for the scenario's client
  std::string channel;
  int owed = 0;           // publications published after its subscribe
  int received = 0;       // publications it received (repeats included)
  int lost = 0;           // owed, never received, and no unrecovered gap reported for it
  int duplicated = 0;     // received more than once
  int out_of_order = 0;   // received after a higher offset
  int unrecovered = 0;    // owed, missing, in a gap the bridge reported (recovered: false)
  int wrong_payload = 0;  // the payload or epoch differs from what was published at the offset
  int resubscribes = 0;   // `subscribed` after the first (a session that was not resumed)
  std::vector<bool> recovered;  // each resubscribe's `recovered`
  bool ok = true;
  std::string detail;
};

struct CloseReport {
  int code = 0;
  std::string category;
  bool reconnect = false;
};

struct ScenarioReport {
  std::string name;
  std::string description;
  std::string fault;
  Verdict verdict = Verdict::kPass;
  std::string reason;  // why it was skipped, or its first failure
  std::vector<StepReport> steps;
  std::vector<CloseReport> closes;
  std::vector<ReconnectReport> reconnects;
  std::vector<CallReport> calls;
  std::vector<ChannelReport> channels;  // the last expect_publications of each client/channel
  int calls_lost = 0;
  int calls_duplicated = 0;
  int messages_lost = 0;
  int messages_duplicated = 0;
  int publications_lost = 0;
  int publications_duplicated = 0;
  int publications_unrecovered = 0;  // detected: the bridge said recovered: false
  absl::Duration took;
};

struct RunOptions {
  Target target;
  // Seeds the client's jitter and the proxies' draws.
  uint64_t seed = 1;
  // How much later than planned a reconnect may start (scheduling on a loaded machine).
  absl::Duration reconnect_slack = absl::Seconds(1);
};

// Checks `scenario` (errors name the field) without running it.
absl::Status ValidateScenario(const v1::Scenario& scenario);

ScenarioReport RunScenario(const v1::Scenario& scenario, const RunOptions& options);

// Reads a text-format Scenario (or, for a directory, every *.textproto in it, by name).
// Errors name the file, line and column.
absl::StatusOr<std::vector<v1::Scenario>> LoadScenarios(const std::string& path);

}  // namespace harness::scenario

#endif  // HARNESS_SCENARIO_RUNNER_H_
