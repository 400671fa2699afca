// The protocol conformance suite: checks any server at a ws:// URL against docs/protocol.md, case
// by numbered case, and reports Pass, Non-strict, Fail or Skipped for each.
//
//   conformance --url=ws://127.0.0.1:8080/ws --report_dir=/tmp/conformance --cases=3.,4.7
//   conformance --url=ws://127.0.0.1:8080/ws --control=127.0.0.1:8081 --cases=9.
//
// Exit code 0 when no case failed, 1 when one did, 2 for bad flags.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "harness/conformance/report.h"
#include "harness/conformance/runner.h"
#include "harness/conformance/suite.h"

ABSL_FLAG(std::string, url, "", "The server to check: ws://HOST:PORT/PATH (required).");
ABSL_FLAG(std::string, report_dir, "",
          "Directory to write conformance.json and conformance.html to. Empty: no files.");
ABSL_FLAG(std::string, cases, "",
          "Cases to run: comma-separated ids (\"1.2,4.7\") and prefixes (\"3.\" for group 3). "
          "Empty: all.");
ABSL_FLAG(int64_t, max_wait_ms, 15000,
          "Longest wait for a timeout to fire (handshake, heartbeat); cases that would need "
          "longer are Skipped.");
ABSL_FLAG(int64_t, reply_timeout_ms, 10000, "How long to wait for an answer due at once.");
ABSL_FLAG(std::string, demo_service, "demo.v1.Echo",
          "The demo service the call cases use; they are Skipped when the server lacks it.");
ABSL_FLAG(std::string, control, "",
          "HOST:PORT of the server's bridge.v1.BridgeControl (control_listen), for the channel "
          "cases that publish; they are Skipped without it.");
ABSL_FLAG(int32_t, message_burst, 200,
          "The server's rate limit burst (message_burst): the rate limit case sends one batch of "
          "more frames than this. 0 skips that case.");
ABSL_FLAG(int32_t, rate_limit_strikes, 10,
          "How many rate-limit refusals in a row the server answers with close 4029 "
          "(rate_limit_strikes).");
ABSL_FLAG(bool, list, false, "Print the cases (id, title, expected) and exit.");

namespace {

int BadFlags(const std::string& message) {
  std::fprintf(stderr, "conformance: %s\n", message.c_str());
  return 2;
}

// absl exits 1 on an unknown flag; the suite's contract is 2 for any bad flag.
std::string UnknownFlag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    arg = arg.substr(arg[1] == '-' ? 2 : 1);
    arg = arg.substr(0, arg.find('='));
    if (arg.empty()) continue;
    if (absl::FindCommandLineFlag(arg) != nullptr) continue;
    if (absl::StartsWith(arg, "no") && absl::FindCommandLineFlag(arg.substr(2)) != nullptr) {
      continue;
    }
    return arg;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Checks a server against the bridge protocol (docs/protocol.md). Usage: conformance "
      "--url=ws://HOST:PORT/PATH [--report_dir=DIR] [--cases=PATTERN] [--max_wait_ms=N] "
      "[--demo_service=NAME] [--control=HOST:PORT] [--message_burst=N] "
      "[--rate_limit_strikes=N]");
  if (const std::string unknown = UnknownFlag(argc, argv); !unknown.empty()) {
    return BadFlags(absl::StrCat("unknown flag --", unknown));
  }
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) return BadFlags(absl::StrCat("unexpected argument \"", rest[1], "\""));

  const std::vector<harness::conformance::Case>& cases = harness::conformance::AllCases();
  const std::string filter = absl::GetFlag(FLAGS_cases);
  int selected = 0;
  for (const auto& c : cases) selected += harness::conformance::CaseSelected(c.id, filter);
  if (selected == 0) return BadFlags(absl::StrCat("--cases=", filter, " selects no case"));
  if (absl::GetFlag(FLAGS_list)) {
    for (const auto& c : cases) {
      if (!harness::conformance::CaseSelected(c.id, filter)) continue;
      std::printf("%-5s %s\n      expected: %s\n", c.id.c_str(), c.title.c_str(),
                  c.expected.c_str());
    }
    return 0;
  }

  const std::string url = absl::GetFlag(FLAGS_url);
  if (url.empty()) return BadFlags("--url=ws://HOST:PORT/PATH is required");
  absl::StatusOr<harness::conformance::Target> target = harness::conformance::ParseWsUrl(url);
  if (!target.ok()) return BadFlags(absl::StrCat("--url: ", target.status().message()));
  if (absl::GetFlag(FLAGS_max_wait_ms) <= 0) return BadFlags("--max_wait_ms must be positive");
  if (absl::GetFlag(FLAGS_reply_timeout_ms) <= 0) {
    return BadFlags("--reply_timeout_ms must be positive");
  }
  if (absl::GetFlag(FLAGS_demo_service).empty()) return BadFlags("--demo_service is empty");
  if (absl::GetFlag(FLAGS_message_burst) < 0) return BadFlags("--message_burst is negative");
  if (absl::GetFlag(FLAGS_rate_limit_strikes) <= 0) {
    return BadFlags("--rate_limit_strikes must be positive");
  }

  harness::conformance::SuiteOptions options;
  options.target = *target;
  options.max_wait = absl::Milliseconds(absl::GetFlag(FLAGS_max_wait_ms));
  options.reply_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_reply_timeout_ms));
  options.demo_service = absl::GetFlag(FLAGS_demo_service);
  options.control = absl::GetFlag(FLAGS_control);
  options.message_burst = absl::GetFlag(FLAGS_message_burst);
  options.rate_limit_strikes = absl::GetFlag(FLAGS_rate_limit_strikes);

  std::fprintf(stderr, "conformance: %d cases against %s\n", selected, url.c_str());
  harness::conformance::Report report = harness::conformance::RunSuite(
      options, cases, filter, [](const harness::conformance::CaseResult& r) {
        std::fprintf(stderr, "  %-5s %s\n", r.id.c_str(),
                     harness::conformance::OutcomeName(r.outcome));
      });
  std::fputs(harness::conformance::FormatTable(report).c_str(), stdout);
  if (const std::string dir = absl::GetFlag(FLAGS_report_dir); !dir.empty()) {
    if (absl::Status written = harness::conformance::WriteReports(report, dir); !written.ok()) {
      std::fprintf(stderr, "conformance: %s\n", std::string(written.message()).c_str());
      return 1;
    }
    std::printf("Reports: %s/conformance.json, %s/conformance.html\n", dir.c_str(), dir.c_str());
  }
  return harness::conformance::Count(report).fail == 0 ? 0 : 1;
}
