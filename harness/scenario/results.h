// What a scenario run reports: its verdict, each step's observation, every close, reconnect,
// call and channel it saw, and the totals of what was lost or duplicated. Plain values; the
// runner (runner.h) fills them, report.h prints them.
#ifndef HARNESS_SCENARIO_RESULTS_H_
#define HARNESS_SCENARIO_RESULTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

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

}  // namespace harness::scenario

#endif  // HARNESS_SCENARIO_RESULTS_H_
