// The scenario runner against the real bridge, demo backend and fault proxies: its checks fail
// when what they check is not so, a call that never ends counts as lost, a bridge at a URL gets
// the client proxy in front of it, and the reports carry what was seen.
#include "harness/scenario/runner.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "harness/backend/backend_server.h"
#include "harness/backend/demo_bridge.h"
#include "harness/scenario/report.h"

namespace harness::scenario {
namespace {

using ::testing::HasSubstr;

v1::Scenario Parse(const std::string& text) {
  v1::Scenario scenario;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &scenario)) << text;
  return scenario;
}

constexpr char kResetPeer[] = R"pb(
  name: "reset"
  steps { connect {} }
  steps {
    inject {
      proxy: "client"
      until_close: true
      toxic {
        type: "reset_peer"
        attributes { timeout: 0 }
      }
    }
  }
  steps { expect_close { code: CODE category: "network_error" reconnect: true } }
  steps { expect_reconnect { resumed: true } }
)pb";

std::string ResetPeerExpecting(int code) {
  std::string text = kResetPeer;
  text.replace(text.find("CODE"), 4, std::to_string(code));
  return text;
}

TEST(RunnerTest, AResetPeerIsA1006ThatReconnectsInsideTheBackoffWindow) {
  ScenarioReport r = RunScenario(Parse(ResetPeerExpecting(1006)), RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.reason;
  ASSERT_EQ(r.reconnects.size(), 1u);
  EXPECT_TRUE(r.reconnects[0].ok);
  EXPECT_EQ(r.reconnects[0].after_close_code, 1006);
  // Equal jitter on a 200 ms base: the first delay lies in [100, 200] ms.
  EXPECT_GE(r.reconnects[0].planned, absl::Milliseconds(100));
  EXPECT_LE(r.reconnects[0].planned, absl::Milliseconds(200));
  EXPECT_GE(r.reconnects[0].measured, r.reconnects[0].planned - absl::Milliseconds(2));
}

TEST(RunnerTest, AWrongCloseExpectationFailsWithWhatWasSeen) {
  ScenarioReport r = RunScenario(Parse(ResetPeerExpecting(1011)), RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_THAT(r.reason, HasSubstr("code 1006, expected 1011"));
  ASSERT_EQ(r.closes.size(), 1u);
  EXPECT_EQ(r.closes[0].category, "network_error");
}

TEST(RunnerTest, AWrongCategoryFailsTheCall) {
  ScenarioReport r = RunScenario(Parse(R"pb(
                                   name: "category"
                                   steps { connect {} }
                                   steps {
                                     call {
                                       id: "c"
                                       method: "demo.v1.Echo/Say"
                                       payload: '{"text":"x"}'
                                       metadata { key: "demo-fail-code" value: "14" }
                                       expect { category: "timeout" }
                                     }
                                   }
                                   steps { await_calls {} }
                                 )pb"),
                                 RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_THAT(r.reason, HasSubstr("ended service_unavailable, expected timeout"));
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].grpc_code, 14);
  EXPECT_TRUE(r.calls[0].retryable);
}

TEST(RunnerTest, ACallThatNeverEndsIsCountedLost) {
  ScenarioReport r = RunScenario(Parse(R"pb(
                                   name: "lost"
                                   timeout_ms: 1500
                                   steps { connect {} }
                                   steps {
                                     call {
                                       id: "endless"
                                       method: "demo.v1.Echo/Repeat"
                                       payload: '{"text":"x","count":0,"interval":"0.1s"}'
                                     }
                                   }
                                   steps { await_calls {} }
                                 )pb"),
                                 RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_THAT(r.reason, HasSubstr("never ended (lost)"));
  EXPECT_EQ(r.calls_lost, 1);
}

TEST(RunnerTest, TooFewStreamMessagesFail) {
  ScenarioReport r = RunScenario(Parse(R"pb(
                                   name: "short"
                                   steps { connect {} }
                                   steps {
                                     call {
                                       method: "demo.v1.Echo/Repeat"
                                       payload: '{"text":"x","count":3}'
                                       expect { ok: true stream_messages: 4 }
                                     }
                                   }
                                   steps { await_calls {} }
                                 )pb"),
                                 RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_THAT(r.reason, HasSubstr("3 stream messages, expected 4"));
}

TEST(RunnerTest, ABackendCountThatIsNotMetFailsAtTheDeadline) {
  ScenarioReport r = RunScenario(Parse(R"pb(
                                   name: "backend"
                                   timeout_ms: 1000
                                   steps { connect {} }
                                   steps { call { method: "demo.v1.Echo/Say" payload: "{}" } }
                                   steps { await_calls {} }
                                   steps { expect_backend { calls { key: "Say" value: 2 } } }
                                 )pb"),
                                 RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_THAT(r.reason, HasSubstr("Say called 1 times, expected 2"));
}

// A demo backend and a bridge in front of it, of the test's own, for scenarios run against the
// bridge's URL.
class AgainstAUrlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = backend::StartBackend("127.0.0.1:0");
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
    auto config = backend::DemoBridgeConfig(backend_.target(), "");
    ASSERT_TRUE(config.ok()) << config.status();
    auto bridge = backend::StartDemoBridge(*config);
    ASSERT_TRUE(bridge.ok()) << bridge.status();
    bridge_ = *std::move(bridge);
    options_.target.url = absl::StrCat("ws://127.0.0.1:", bridge_->server().port(), "/ws");
  }

  void TearDown() override {
    if (bridge_ != nullptr) {
      bridge_->Shutdown();
      bridge_->Wait();
    }
    if (backend_.server != nullptr) backend_.server->Shutdown();
  }

  backend::RunningBackend backend_;
  std::unique_ptr<bridge::app::BridgeApp> bridge_;
  RunOptions options_;
};

TEST_F(AgainstAUrlTest, TheClientProxyStillInjectsAndInProcessPartsAreSkipped) {
  ScenarioReport r = RunScenario(Parse(ResetPeerExpecting(1006)), options_);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.reason;

  ScenarioReport skipped = RunScenario(Parse(R"pb(
                                         name: "needs_backend_proxy"
                                         parts { backend_proxy: true }
                                         steps { connect {} }
                                       )pb"),
                                       options_);
  EXPECT_EQ(skipped.verdict, Verdict::kSkipped);
  EXPECT_THAT(skipped.reason, HasSubstr("in-process"));

  ScenarioReport drain = RunScenario(Parse(R"pb(
                                       name: "drain_elsewhere"
                                       steps { connect {} }
                                       steps { drain {} }
                                     )pb"),
                                     options_);
  EXPECT_EQ(drain.verdict, Verdict::kSkipped);
  EXPECT_THAT(drain.reason, HasSubstr("step 2 (drain)"));
}

TEST_F(AgainstAUrlTest, PublishNeedsControl) {
  const v1::Scenario scenario = Parse(R"pb(
    name: "remote_channel"
    steps { connect {} }
    steps { subscribe { channel: "news:remote" } }
    steps { publish { channel: "news:remote" count: 2 } }
    steps { expect_publications { channel: "news:remote" received: 2 } }
  )pb");
  ScenarioReport skipped = RunScenario(scenario, options_);
  EXPECT_EQ(skipped.verdict, Verdict::kSkipped);
  EXPECT_THAT(skipped.reason, HasSubstr("step 3 (publish)"));
  EXPECT_THAT(skipped.reason, HasSubstr("--control"));

  options_.target.control = absl::StrCat("127.0.0.1:", bridge_->control_port());
  ScenarioReport r = RunScenario(scenario, options_);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.reason;
}

TEST(RunnerTest, ExpectFrameChecksTheNextFrameOfItsType) {
  ScenarioReport r = RunScenario(
      Parse(R"pb(
        name: "frames"
        steps { connect {} }
        steps {
          call {
            method: "demo.v1.Echo/Say"
            payload: "{}"
            metadata { key: "demo-fail-code" value: "8" }
            metadata { key: "demo-pushback-ms" value: "250" }
            expect { category: "rate_limited" }
          }
        }
        steps {
          expect_frame { type: "error" category: "rate_limited" retry_after_ms: 250 session: false }
        }
        steps { expect_frame { type: "error" } }
        timeout_ms: 1500
      )pb"),
      RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kFail);
  ASSERT_GE(r.steps.size(), 4u);
  EXPECT_TRUE(r.steps[2].ok) << r.steps[2].detail;
  // There was one error frame only: the second expect_frame waits in vain.
  EXPECT_FALSE(r.steps[3].ok);
  EXPECT_THAT(r.reason, HasSubstr("no error frame"));
}

TEST(RunnerTest, BadScenariosAreRefusedNamingTheField) {
  EXPECT_THAT(ValidateScenario(Parse(R"pb(
                name: "x"
                steps { expect_frame { type: "seq" } }
              )pb"))
                  .message(),
              HasSubstr("steps[0].expect_frame.type"));
  EXPECT_THAT(ValidateScenario(Parse(R"pb(name: "x"
                                          client { jitter: "some" })pb"))
                  .message(),
              HasSubstr("client.jitter"));
  EXPECT_THAT(ValidateScenario(Parse(R"pb(name: "bad name")pb")).message(), HasSubstr("name"));
  EXPECT_THAT(ValidateScenario(Parse(R"pb(
                name: "x"
                steps {}
              )pb"))
                  .message(),
              HasSubstr("steps[0]"));
  EXPECT_THAT(ValidateScenario(Parse(R"pb(
                name: "x"
                steps { connect {} }
                steps {
                  inject {
                    proxy: "client"
                    enabled: false
                    toxic { type: "latency" }
                  }
                }
              )pb"))
                  .message(),
              HasSubstr("steps[1].inject: exactly one"));
  EXPECT_THAT(ValidateScenario(Parse(R"pb(
                name: "x"
                steps {
                  call {
                    method: "a/b"
                    expect { category: "nope" }
                  }
                }
              )pb"))
                  .message(),
              HasSubstr("steps[0].call.expect.category"));
  ScenarioReport r = RunScenario(Parse(R"pb(name: "x"
                                            client { jitter: "some" })pb"),
                                 RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kFail);
}

TEST(RunnerTest, LoadingNamesTheFileLineAndField) {
  const std::string dir = ::testing::TempDir();
  const std::string path = absl::StrCat(dir, "/bad.textproto");
  std::ofstream(path) << "name: \"ok\"\nsteps { connect { nope: 1 } }\n";
  auto loaded = LoadScenarios(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr(absl::StrCat(path, ":2:")));
  EXPECT_THAT(loaded.status().message(), HasSubstr("nope"));
  EXPECT_EQ(LoadScenarios(absl::StrCat(dir, "/missing")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ChannelStepsTest, EveryClientGetsEveryPublicationOnce) {
  ScenarioReport r = RunScenario(Parse(R"pb(
                                   name: "two_clients"
                                   steps { connect {} }
                                   steps { subscribe { channel: "news:two" } }
                                   steps { subscribe { channel: "news:two" client: "b" } }
                                   steps { publish { channel: "news:two" count: 5 } }
                                   steps { expect_publications { channel: "news:two" received: 5 } }
                                 )pb"),
                                 RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.reason;
  ASSERT_EQ(r.channels.size(), 2u);
  for (const ChannelReport& c : r.channels) {
    EXPECT_TRUE(c.ok) << c.detail;
    EXPECT_EQ(c.owed, 5) << c.client;
    EXPECT_EQ(c.received, 5) << c.client;
  }
  EXPECT_EQ(r.publications_lost, 0);
}

TEST(ChannelStepsTest, AWrongCountFailsWithWhatWasReceived) {
  ScenarioReport r =
      RunScenario(Parse(R"pb(
                    name: "count"
                    steps { connect {} }
                    steps { subscribe { channel: "news:count" } }
                    steps { publish { channel: "news:count" count: 3 } }
                    steps { expect_publications { channel: "news:count" received: 4 } }
                  )pb"),
                  RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_THAT(r.reason, HasSubstr("3 owed, 3 received"));
  EXPECT_THAT(r.reason, HasSubstr("3 received, expected 4"));
}

TEST(ChannelStepsTest, PublicationsThatNeverArriveAreLost) {
  // The link stalls without the client noticing (no heartbeat within the scenario): the
  // publications go out from the bridge and never reach the client.
  ScenarioReport r =
      RunScenario(Parse(R"pb(
                    name: "stalled"
                    timeout_ms: 1500
                    client { heartbeat_interval_ms: 60000 heartbeat_timeout_ms: 120000 }
                    steps { connect {} }
                    steps { subscribe { channel: "news:stall" } }
                    steps {
                      inject {
                        proxy: "client"
                        toxic {
                          type: "ws_stall"
                          stream: "downstream"
                          attributes { after_frames: 0 }
                        }
                      }
                    }
                    steps { publish { channel: "news:stall" count: 3 } }
                    steps { expect_publications { channel: "news:stall" } }
                  )pb"),
                  RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_THAT(r.reason, HasSubstr("lost offsets 1, 2, 3"));
  EXPECT_EQ(r.publications_lost, 3);
  EXPECT_EQ(r.publications_unrecovered, 0);
  const std::string json = JsonReport({r}, "faults");
  EXPECT_THAT(json, HasSubstr(R"("publicationsLost":3)"));
}

// Resume off and no history: the reconnect's resubscribe cannot recover the publications
// made while the proxy was down. `recovered` states which answer the scenario expects.
std::string UnrecoverableGapExpecting(bool recovered) {
  return absl::StrCat(
      R"pb(
        name: "gap"
        parts {
          bridge_config: "disable_resume: true "
                         "channels { namespaces { pattern: \"news:*\" history_size: 0 } }"
        }
        steps { connect {} }
        steps { subscribe { channel: "news:gap" } }
        steps { publish { channel: "news:gap" count: 1 } }
        steps { expect_publications { channel: "news:gap" received: 1 } }
        steps { inject { proxy: "client" enabled: false } }
        steps { expect_close { code: 1006 } }
        steps { publish { channel: "news:gap" count: 4 } }
        steps { inject { proxy: "client" enabled: true } }
        steps { expect_reconnect { resumed: false max_attempts: 6 } }
        steps { expect_publications { channel: "news:gap" recovered:)pb",
      recovered ? "true" : "false", " } }");
}

TEST(ChannelStepsTest, AReportedGapIsDetectedNotLost) {
  ScenarioReport r = RunScenario(Parse(UnrecoverableGapExpecting(false)), RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.reason;
  EXPECT_EQ(r.publications_lost, 0);
  EXPECT_EQ(r.publications_unrecovered, 4);
  ASSERT_EQ(r.channels.size(), 1u);
  EXPECT_EQ(r.channels[0].recovered, std::vector<bool>{false});
}

TEST(ChannelStepsTest, ExpectingRecoveryFailsWhenTheGapCannotBeFilled) {
  ScenarioReport r = RunScenario(Parse(UnrecoverableGapExpecting(true)), RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_THAT(r.reason, HasSubstr("a resubscribe reported recovered false, expected true"));
}

TEST(ChannelStepsTest, ARefusedSubscribeIsCheckedByCategory) {
  const std::string text = R"pb(
    name: "refused"
    parts { bridge_config: "channels { require_namespace: true }" }
    steps { connect {} }
    steps { subscribe { channel: "nowhere" expect_refusal: "CATEGORY" } }
  )pb";
  std::string not_found = text;
  not_found.replace(not_found.find("CATEGORY"), 8, "not_found");
  ScenarioReport r = RunScenario(Parse(not_found), RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.reason;
  std::string denied = text;
  denied.replace(denied.find("CATEGORY"), 8, "permission_denied");
  r = RunScenario(Parse(denied), RunOptions());
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_THAT(r.reason, HasSubstr("refused nowhere: not_found"));
  EXPECT_THAT(r.reason, HasSubstr("expected permission_denied"));
}

TEST(ChannelStepsTest, ChannelStepsNeedAChannel) {
  EXPECT_THAT(ValidateScenario(Parse(R"pb(
                name: "x"
                steps { publish { count: 2 } }
              )pb"))
                  .message(),
              HasSubstr("steps[0]: the channel must be set"));
  EXPECT_THAT(ValidateScenario(Parse(R"pb(
                name: "x"
                steps { subscribe { channel: "a" expect_refusal: "nope" } }
              )pb"))
                  .message(),
              HasSubstr("steps[0].subscribe.expect_refusal"));
}

ScenarioReport SampleReport() {
  ScenarioReport r;
  r.name = "a<b>&\"c\"";
  r.fault = "reset_peer";
  r.verdict = Verdict::kFail;
  r.reason = "code 1006, expected <1011>";
  r.closes.push_back(CloseReport{1006, "network_error", true});
  ReconnectReport x;
  x.attempt = 1;
  x.floor = absl::Milliseconds(0);
  x.ceiling = absl::Milliseconds(200);
  x.planned = absl::Milliseconds(150);
  x.measured = absl::Milliseconds(151);
  r.reconnects.push_back(x);
  CallReport c;
  c.id = "c1";
  c.method = "demo.v1.Echo/Say";
  c.done = true;
  c.outcome = "ok";
  r.calls.push_back(c);
  return r;
}

TEST(ReportTest, JUnitEscapesAndCountsFailures) {
  ScenarioReport skipped;
  skipped.name = "s";
  skipped.verdict = Verdict::kSkipped;
  skipped.reason = "needs the in-process bridge";
  const std::string xml = JUnitXml({SampleReport(), skipped}, "faults");
  EXPECT_THAT(xml, HasSubstr(R"(tests="2" failures="1" errors="0" skipped="1")"));
  EXPECT_THAT(xml, HasSubstr(R"(name="a&lt;b&gt;&amp;&quot;c&quot;")"));
  EXPECT_THAT(xml, HasSubstr(R"(<failure message="code 1006, expected &lt;1011&gt;">)"));
  EXPECT_THAT(xml, HasSubstr(R"(<skipped message="needs the in-process bridge"/>)"));
  EXPECT_EQ(xml.find("<b>"), std::string::npos);
}

TEST(ReportTest, JsonIsValidAndCarriesTheObservations) {
  const std::string json = JsonReport({SampleReport()}, "faults");
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok()) << json;
  EXPECT_EQ(parsed.fields().at("failed").number_value(), 1);
  const auto& scenario = parsed.fields().at("scenarios").list_value().values(0).struct_value();
  EXPECT_EQ(scenario.fields().at("name").string_value(), "a<b>&\"c\"");
  const auto& reconnect = scenario.fields().at("reconnects").list_value().values(0).struct_value();
  EXPECT_EQ(reconnect.fields().at("plannedMs").number_value(), 150);
  EXPECT_EQ(reconnect.fields().at("ceilingMs").number_value(), 200);
}

TEST(ReportTest, TheTableHasARowPerScenarioAndTheFailureBelow) {
  const std::string table = ConsoleTable({SampleReport()});
  EXPECT_THAT(table, HasSubstr("1006 network_error"));
  EXPECT_THAT(table, HasSubstr("151 in [0,200]"));
  EXPECT_THAT(table, HasSubstr("0 passed, 1 failed, 0 skipped"));
  EXPECT_THAT(table, HasSubstr("fail: code 1006, expected <1011>"));
}

}  // namespace
}  // namespace harness::scenario
