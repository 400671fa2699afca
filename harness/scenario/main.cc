// The scenario runner: runs fault scenarios (harness.v1.Scenario text files, or directories of
// them) against the in-process bridge, or against a running bridge at --url, and prints a table;
// --junit and --json write reports for CI. Exit code 0 when none failed, 1 when one did, 2 for
// bad flags or files.
//
//   scenario_runner --scenarios=harness/scenario/suite --junit=faults.xml --json=faults.json
//   scenario_runner --scenarios=harness/scenario/suite --url=ws://bridge.staging:8080/ws
//       --backend_control=backend.staging:50051 --control=bridge.staging:50052
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "harness/scenario/report.h"
#include "harness/scenario/runner.h"

ABSL_FLAG(std::vector<std::string>, scenarios, {},
          "Scenario files or directories of *.textproto files, comma-separated.");
ABSL_FLAG(std::string, url, "",
          "ws://HOST:PORT/PATH of a running bridge with demo.v1.Echo behind it. Empty: the "
          "runner starts the bridge, the demo backend and the fault proxies in-process.");
ABSL_FLAG(std::string, backend_control, "",
          "With --url: HOST:PORT of the backend's harness.v1.BackendControl (the demo backend "
          "serves it on its gRPC port), so backend faults and call counts work too.");
ABSL_FLAG(std::string, control, "",
          "With --url: HOST:PORT of the bridge's bridge.v1.BridgeControl (control_listen), so "
          "publish steps work too; without it they are skipped.");
ABSL_FLAG(std::string, filter, "", "Only scenarios whose name contains this.");
ABSL_FLAG(std::string, junit, "", "Write JUnit XML here.");
ABSL_FLAG(std::string, json, "", "Write the JSON report here.");
ABSL_FLAG(std::string, suite, "faults", "The suite's name in the reports.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the client's jitter and the proxies' random draws.");
ABSL_FLAG(int32_t, reconnect_slack_ms, 1000,
          "How much later than planned a reconnect may start before it counts as late.");

namespace {

int Usage(const std::string& message) {
  std::fprintf(stderr, "scenario_runner: %s\n", message.c_str());
  return 2;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Runs fault scenarios against the bridge. Usage: scenario_runner --scenarios=DIR_OR_FILES "
      "[--url=ws://...] [--junit=FILE] [--json=FILE]");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_scenarios).empty()) return Usage("flag --scenarios: must be set");

  std::vector<harness::v1::Scenario> scenarios;
  for (const std::string& path : absl::GetFlag(FLAGS_scenarios)) {
    auto loaded = harness::scenario::LoadScenarios(path);
    if (!loaded.ok()) return Usage(std::string(loaded.status().message()));
    for (auto& s : *loaded) {
      if (absl::StrContains(s.name(), absl::GetFlag(FLAGS_filter))) scenarios.push_back(s);
    }
  }
  if (scenarios.empty()) return Usage("no scenario to run");

  harness::scenario::RunOptions options;
  options.target.url = absl::GetFlag(FLAGS_url);
  options.target.backend_control = absl::GetFlag(FLAGS_backend_control);
  options.target.control = absl::GetFlag(FLAGS_control);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.reconnect_slack = absl::Milliseconds(absl::GetFlag(FLAGS_reconnect_slack_ms));
  std::vector<harness::scenario::ScenarioReport> reports;
  for (const harness::v1::Scenario& s : scenarios) {
    std::fprintf(stderr, "scenario_runner: %s ...\n", s.name().c_str());
    reports.push_back(harness::scenario::RunScenario(s, options));
    std::fprintf(stderr, "scenario_runner: %s %s\n", s.name().c_str(),
                 harness::scenario::VerdictName(reports.back().verdict));
  }
  std::fputs(harness::scenario::ConsoleTable(reports).c_str(), stdout);
  const std::string suite = absl::GetFlag(FLAGS_suite);
  if (const std::string path = absl::GetFlag(FLAGS_junit); !path.empty()) {
    if (!WriteFile(path, harness::scenario::JUnitXml(reports, suite))) {
      return Usage(absl::StrCat("cannot write ", path));
    }
  }
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    if (!WriteFile(path, harness::scenario::JsonReport(reports, suite))) {
      return Usage(absl::StrCat("cannot write ", path));
    }
  }
  for (const auto& r : reports) {
    if (r.verdict == harness::scenario::Verdict::kFail) return 1;
  }
  return 0;
}
