// The conformance suite's vocabulary: numbered cases, their outcomes, and the context a case
// runs in (the server's address, the limits on waiting, helpers to open sessions).
//
// A case runs on the runner's thread, one at a time, and opens connections of its own.
#ifndef HARNESS_CONFORMANCE_SUITE_H_
#define HARNESS_CONFORMANCE_SUITE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "harness/common/raw_ws_client.h"
#include "harness/conformance/json_frame.h"

namespace harness::conformance {

enum class Outcome {
  kPass,       // as docs/protocol.md says
  kNonStrict,  // works, but deviates from a SHOULD or a detail (a close reason word, ...)
  kFail,       // what was observed is not what docs/protocol.md says
  kSkipped,    // not checkable here (the server lacks the demo service, a timeout too long)
};

// Every outcome, in the order reports list them.
inline constexpr Outcome kOutcomes[] = {Outcome::kPass, Outcome::kNonStrict, Outcome::kFail,
                                        Outcome::kSkipped};

// "pass", "non_strict", "fail", "skipped": the machine-readable name (JSON and JUnit reports).
const char* OutcomeName(Outcome outcome);
// "Pass", "Non-strict", "Fail", "Skipped": the label people read (text and HTML reports).
const char* OutcomeLabel(Outcome outcome);

struct Verdict {
  Outcome outcome = Outcome::kPass;
  std::string observed;  // what the server did (or why the case was skipped)
};

inline Verdict Pass(std::string observed) { return {Outcome::kPass, std::move(observed)}; }
inline Verdict NonStrict(std::string observed) {
  return {Outcome::kNonStrict, std::move(observed)};
}
inline Verdict Fail(std::string observed) { return {Outcome::kFail, std::move(observed)}; }
inline Verdict Skip(std::string why) { return {Outcome::kSkipped, std::move(why)}; }

// Collects the checks of one case: a failed Require makes it Fail, a failed Prefer makes it
// Non-strict (unless something failed).
class Checks {
 public:
  bool Require(bool ok, std::string_view what);
  bool Prefer(bool ok, std::string_view what);
  bool failed() const { return !failures_.empty(); }
  // The verdict, its observation listing every check that did not hold, then `observed`.
  Verdict Result(std::string_view observed) const;

 private:
  std::vector<std::string> failures_;
  std::vector<std::string> deviations_;
};

// Where the server is.
struct Target {
  std::string url;  // as given: ws://host:port/path
  std::string host;
  uint16_t port = 0;
  std::string path;  // with the query, if any
};

// Parses ws://host[:port][/path][?query] (port 80 by default; [v6] literals allowed).
absl::StatusOr<Target> ParseWsUrl(std::string_view url);

struct SuiteOptions {
  Target target;
  // Cap on long waits (handshake and heartbeat timeouts); cases that would need longer are
  // skipped.
  absl::Duration max_wait = absl::Seconds(15);
  // How long to wait for an answer that should come at once.
  absl::Duration reply_timeout = absl::Seconds(10);
  // The demo service (demo.v1.Echo) that the call cases need.
  std::string demo_service = "demo.v1.Echo";
  // HOST:PORT of the server's bridge.v1.BridgeControl, for the channel cases that publish.
  // Empty: they are skipped.
  std::string control;
  // The server's per-connection rate limit: the most frames it admits at once (the bridge's
  // message_burst) and how many refusals in a row close the connection with 4029
  // (rate_limit_strikes). The rate limit case sends one batch of more frames than
  // `message_burst`; 0 skips it.
  int message_burst = 200;
  int rate_limit_strikes = 10;
};

class CaseContext {
 public:
  CaseContext(const SuiteOptions& options, std::optional<std::string> demo_missing)
      : options_(options), demo_missing_(std::move(demo_missing)) {}

  const SuiteOptions& options() const { return options_; }
  // Why the demo service is unavailable, if it is.
  const std::optional<std::string>& demo_missing() const { return demo_missing_; }
  // "demo.v1.Echo/Say" for "Say".
  std::string DemoMethod(std::string_view name) const;

  // Opens a WebSocket, offering `subprotocols`.
  absl::StatusOr<std::unique_ptr<RawWsClient>> Open(const std::vector<std::string>& subprotocols = {
                                                        "bridge.v1.json"}) const;
  // The next data message as a JSON frame (a binary message or non-object is an error).
  absl::StatusOr<JsonFrame> Next(RawWsClient& ws) const { return Next(ws, options_.reply_timeout); }
  absl::StatusOr<JsonFrame> Next(RawWsClient& ws, absl::Duration timeout) const;

  // A JSON session, confirmed. `connect_extra` is appended to the connect frame's members
  // (",\"resume\":{...}").
  struct Session {
    std::unique_ptr<RawWsClient> ws;
    JsonFrame confirm;
  };
  absl::StatusOr<Session> OpenConfirmed(std::string_view client_id = "conformance",
                                        std::string_view connect_extra = "") const;

  // Sends a ping and expects the next frame to be a pong: "" when so, else what came.
  std::string ProbeAlive(RawWsClient& ws) const;

 private:
  const SuiteOptions& options_;
  std::optional<std::string> demo_missing_;
};

struct Case {
  std::string id;     // "1.1"
  std::string group;  // "handshake"
  std::string title;
  std::string expected;
  bool needs_demo = false;
  std::function<Verdict(CaseContext&)> run;
};

// Every case, in order.
const std::vector<Case>& AllCases();

// `filter`: empty (all), or a comma-separated list of case ids ("1.2,4.6") and prefixes
// ("3." or "3" for group 3, "4.1*" for 4.1, 4.10, ...).
bool CaseSelected(std::string_view id, std::string_view filter);

// Bytes from the server made readable: control bytes and bytes >= 0x80 as \xNN, at most
// `max` bytes kept.
std::string Printable(std::string_view bytes, size_t max = 600);

}  // namespace harness::conformance

#endif  // HARNESS_CONFORMANCE_SUITE_H_
