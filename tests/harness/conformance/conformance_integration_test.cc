// The conformance suite against the real bridge and demo backend in-process: every case is
// expected to pass (or be one of the documented Non-strict ones), and the reports name every
// case.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/conformance/report.h"
#include "harness/conformance/runner.h"
#include "harness/conformance/suite.h"
#include "tests/support/test_bridge.h"

namespace harness::conformance {
namespace {

using ::testing::HasSubstr;

// Timeouts short enough for the timing cases to run in a second or two.
// BridgeControl on a free port, for the channel cases that publish.
constexpr char kFastTimeouts[] =
    "heartbeat_interval_ms: 500 heartbeat_timeout_ms: 1000 handshake_timeout_ms: 1000 "
    "control_listen: \"127.0.0.1:0\"";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ConformanceIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { StartBridge(kFastTimeouts); }

  // (Re)starts the bridge with `config` and points the options at it.
  void StartBridge(const std::string& config) {
    bridge_.reset();
    auto bridge = bridge::testing::TestBridge::Start(config);
    ASSERT_TRUE(bridge.ok()) << bridge.status();
    bridge_ = *std::move(bridge);
    auto target = ParseWsUrl(absl::StrCat("ws://127.0.0.1:", bridge_->port(), "/ws"));
    ASSERT_TRUE(target.ok()) << target.status();
    options_.target = *target;
    options_.max_wait = absl::Seconds(5);
    ASSERT_NE(bridge_->app().control_port(), 0);
    options_.control = absl::StrCat("127.0.0.1:", bridge_->app().control_port());
  }

  std::unique_ptr<bridge::testing::TestBridge> bridge_;
  SuiteOptions options_;
};

TEST_F(ConformanceIntegrationTest, TheBridgePassesEveryCase) {
  const Report report = RunSuite(options_, AllCases(), "");
  ASSERT_EQ(report.results.size(), AllCases().size());
  for (const CaseResult& r : report.results) {
    SCOPED_TRACE(absl::StrCat(r.id, " ", r.title, ": ", r.observed));
    EXPECT_EQ(r.outcome, Outcome::kPass) << OutcomeName(r.outcome);
  }
  std::cout << FormatTable(report);

  // The reports are written and name every case.
  // Kept with the test's outputs (bazel-testlogs/.../test.outputs) for a person to open.
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  const std::string dir =
      absl::StrCat(outputs != nullptr ? outputs : ::testing::TempDir(), "/conformance-report");
  ASSERT_TRUE(WriteReports(report, dir).ok());
  const std::string json = ReadFile(dir + "/conformance.json");
  const std::string html = ReadFile(dir + "/conformance.html");
  EXPECT_THAT(json, HasSubstr(absl::StrCat("\"url\":\"", options_.target.url, "\"")));
  EXPECT_THAT(html, HasSubstr(options_.target.url));
  for (const Case& c : AllCases()) {
    EXPECT_THAT(json, HasSubstr(absl::StrCat("\"id\":\"", c.id, "\""))) << c.id;
    EXPECT_THAT(html, HasSubstr(absl::StrCat("id=\"case-", c.id, "\""))) << c.id;
  }
  EXPECT_THAT(json, HasSubstr(absl::StrCat("\"fail\":0")));
  EXPECT_THAT(json, HasSubstr(R"("group":"channels")"));
}

TEST_F(ConformanceIntegrationTest, WithoutControlThePublishingChannelCasesAreSkipped) {
  options_.control.clear();
  const Report report = RunSuite(options_, AllCases(), "9.");
  ASSERT_EQ(report.results.size(), 9u);
  for (const CaseResult& r : report.results) {
    SCOPED_TRACE(absl::StrCat(r.id, " ", r.title, ": ", r.observed));
    if (r.id == "9.7" || r.id == "9.8") {
      EXPECT_EQ(r.outcome, Outcome::kSkipped);
      EXPECT_THAT(r.observed, HasSubstr("--control"));
    } else {
      EXPECT_EQ(r.outcome, Outcome::kPass);
    }
  }
}

// The bridge drops what a client acknowledged: a resume behind the ack gets a fresh session
// (the case also accepts a server that kept the frame and replays it).
TEST_F(ConformanceIntegrationTest, AResumeBehindTheAckGetsAFreshSession) {
  const Report report = RunSuite(options_, AllCases(), "7.7");
  ASSERT_EQ(report.results.size(), 1u);
  EXPECT_EQ(report.results[0].outcome, Outcome::kPass) << report.results[0].observed;
  EXPECT_THAT(report.results[0].observed, HasSubstr("a fresh session"));
}

// A rate limit of one frame per second: its refusals ask for a wait of up to a second, longer
// than the fast heartbeat timeout.
constexpr char kSlowRefill[] =
    "heartbeat_interval_ms: 5000 heartbeat_timeout_ms: 10000 max_messages_per_second: 1 "
    "message_burst: 4 control_listen: \"127.0.0.1:0\"";

// A low rate limit, given to the suite: the refusals carry their messageIds and every call is
// answered once.
TEST_F(ConformanceIntegrationTest, TheRateLimitCaseWithTheServersLimits) {
  StartBridge(absl::StrCat(kSlowRefill, " rate_limit_strikes: 100"));
  options_.message_burst = 4;
  options_.rate_limit_strikes = 100;
  const Report report = RunSuite(options_, AllCases(), "11.1");
  ASSERT_EQ(report.results.size(), 1u);
  const CaseResult& r = report.results[0];
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.observed;
  // Twelve calls, no ping: three fit the tokens left after the connect; nine are refused.
  EXPECT_THAT(r.observed, HasSubstr("0 pings and 12 calls"));
  EXPECT_THAT(r.observed, HasSubstr("calls answered 12, refused 9"));
  EXPECT_THAT(r.observed, HasSubstr("m-11.1-11"));
}

// With strikes below the refusals the batch brings, the connection ends with 4029: the case
// checks what came before it.
TEST_F(ConformanceIntegrationTest, TheRateLimitCaseAcceptsTheStrikesClose) {
  StartBridge(absl::StrCat(kSlowRefill, " rate_limit_strikes: 3"));
  options_.message_burst = 4;
  options_.rate_limit_strikes = 3;
  const Report report = RunSuite(options_, AllCases(), "11.1");
  ASSERT_EQ(report.results.size(), 1u);
  const CaseResult& r = report.results[0];
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.observed;
  EXPECT_THAT(r.observed, HasSubstr("close 4029"));
}

// A batch that fits the server's real limit while the suite was told a smaller one: nothing is
// refused, as with a server that counts a batch as one frame, and the case says so.
TEST_F(ConformanceIntegrationTest, TheRateLimitCaseFailsWhenNothingIsRefused) {
  StartBridge(absl::StrCat(kFastTimeouts, " max_messages_per_second: 500 message_burst: 1000"));
  options_.message_burst = 200;
  const Report report = RunSuite(options_, AllCases(), "11.1");
  ASSERT_EQ(report.results.size(), 1u);
  EXPECT_EQ(report.results[0].outcome, Outcome::kFail);
  EXPECT_THAT(report.results[0].observed, HasSubstr("no frame refused"));
}

TEST_F(ConformanceIntegrationTest, AnUnknownRateLimitSkipsTheCase) {
  options_.message_burst = 0;
  const Report report = RunSuite(options_, AllCases(), "11.1");
  ASSERT_EQ(report.results.size(), 1u);
  EXPECT_EQ(report.results[0].outcome, Outcome::kSkipped);
}

}  // namespace
}  // namespace harness::conformance
