// The conformance suite against a deliberately wrong server: the cases that check what it
// gets wrong report Fail and say what they saw, and the call cases are Skipped for want of
// the demo service.
#include "tests/harness/conformance/broken_server.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/conformance/runner.h"
#include "harness/conformance/suite.h"

namespace harness::conformance {
namespace {

using ::testing::HasSubstr;

class BrokenServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::BrokenServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto target = ParseWsUrl(absl::StrCat("ws://127.0.0.1:", server_->port(), "/ws"));
    ASSERT_TRUE(target.ok());
    options_.target = *target;
    // The missing pong is waited for this long.
    options_.reply_timeout = absl::Milliseconds(500);
    options_.max_wait = absl::Seconds(2);
  }

  std::map<std::string, CaseResult> Run(const std::string& filter) {
    std::map<std::string, CaseResult> by_id;
    for (CaseResult& r : RunSuite(options_, AllCases(), filter).results) by_id[r.id] = r;
    return by_id;
  }

  // Runs case `id` alone: it ends in `outcome`, and what it observed says each of `said`.
  void ExpectCase(const std::string& id, Outcome outcome, const std::vector<std::string>& said) {
    auto r = Run(id);
    ASSERT_EQ(r.count(id), 1u) << id;
    EXPECT_EQ(r[id].outcome, outcome) << id;
    for (const std::string& words : said) EXPECT_THAT(r[id].observed, HasSubstr(words)) << id;
  }

  std::unique_ptr<testing::BrokenServer> server_;
  SuiteOptions options_;
};

TEST_F(BrokenServerTest, AConfirmWithoutSeqFails) {
  ExpectCase("1.1", Outcome::kFail,
             {"seq absent", "clientId not echoed", R"("clientId":"someone-else")"});
}

TEST_F(BrokenServerTest, AMissingPongFails) { ExpectCase("3.1", Outcome::kFail, {"no pong"}); }

TEST_F(BrokenServerTest, TheWrongCloseForAFrameBeforeConnectFails) {
  ExpectCase("1.5", Outcome::kFail, {"no error frame", "close 1000", "expected close 1002"});
}

TEST_F(BrokenServerTest, SeqChecksFailWithoutSeq) {
  ExpectCase("3.5", Outcome::kFail, {"connect_confirm has seq none, expected 1"});
}

TEST_F(BrokenServerTest, CallCasesAreSkippedWithoutTheDemoService) {
  auto r = Run("5.,6.1");
  ASSERT_EQ(r.size(), 14u);
  for (const auto& [id, result] : r) {
    EXPECT_EQ(result.outcome, Outcome::kSkipped) << id;
    EXPECT_THAT(result.observed, HasSubstr("has no demo.v1.Echo")) << id;
    EXPECT_THAT(result.observed, HasSubstr("not_found")) << id;
  }
}

TEST_F(BrokenServerTest, ALongerHandshakeTimeoutThanMaxWaitIsSkipped) {
  // The broken server never closes an idle connection.
  options_.max_wait = absl::Milliseconds(200);
  ExpectCase("1.6", Outcome::kSkipped, {"max_wait_ms"});
}

TEST_F(BrokenServerTest, ChannelCasesCatchABareSubscribedAndMissingRefusals) {
  auto r = Run("9.1,9.3,9.4,9.5");
  EXPECT_EQ(r["9.1"].outcome, Outcome::kFail);
  EXPECT_THAT(r["9.1"].observed, HasSubstr("offset absent"));
  EXPECT_THAT(r["9.1"].observed, HasSubstr("epoch absent"));
  EXPECT_EQ(r["9.3"].outcome, Outcome::kFail);
  EXPECT_THAT(r["9.3"].observed, HasSubstr(R"(expected an error frame, got type "unsubscribed")"));
  // Subscribed twice: the second subscribe is answered as the first, not refused.
  EXPECT_EQ(r["9.4"].outcome, Outcome::kFail);
  EXPECT_EQ(r["9.5"].outcome, Outcome::kFail);
  EXPECT_THAT(r["9.5"].observed, HasSubstr("expected an error frame"));
}

TEST_F(BrokenServerTest, PublishingCasesAreSkippedWithoutControlAndFailWithAControlDown) {
  auto skipped = Run("9.7,9.8");
  ASSERT_EQ(skipped.size(), 2u);
  for (const auto& [id, result] : skipped) {
    EXPECT_EQ(result.outcome, Outcome::kSkipped) << id;
    EXPECT_THAT(result.observed, HasSubstr("--control")) << id;
  }
  // Port 1 on loopback: nothing serves BridgeControl there.
  options_.control = "127.0.0.1:1";
  ExpectCase("9.8", Outcome::kFail, {});
}

TEST_F(BrokenServerTest, AConfirmedClientIdWithAControlCharacterFails) {
  ExpectCase("10.2", Outcome::kFail, {"the clientId was confirmed"});
}

TEST_F(BrokenServerTest, ABatchAnsweredWithSomeoneElsesIdFails) {
  // The server answers the batch once, with messageId "probe", and its pings never.
  ExpectCase("11.1", Outcome::kFail, {R"(an answer for messageId "probe", none of the batch's)"});
}

}  // namespace
}  // namespace harness::conformance
