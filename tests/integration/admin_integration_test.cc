// The admin listener through the real bridge and backend: /metrics values after known traffic
// (frames by type, calls by method and status, latency histograms), /healthz and /readyz,
// /connections, the WebSocket port refusing admin paths, and the dashboard rendered by headless
// Chromium showing the live session.
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_bridge.h"
#include "tests/support/ws_test_client.h"

namespace bridge {
namespace {

using ::bridge::testing::WsTestClient;
using ::testing::HasSubstr;

constexpr char kConnect[] = R"({"type":"connect","clientId":"dash-client","version":"1"})";

std::string Say(const std::string& id, const std::string& extra = "") {
  return absl::StrCat(R"({"type":"message","messageId":")", id,
                      R"(","method":"demo.v1.Echo/Say","payload":{"text":"hi"})", extra, "}");
}

// The value of the sample `line` starts with ("name{labels}"), or -1.
double Sample(const std::string& metrics, const std::string& line) {
  for (absl::string_view l : absl::StrSplit(metrics, '\n')) {
    if (l.size() > line.size() && l.substr(0, line.size()) == line && l[line.size()] == ' ') {
      return std::stod(std::string(l.substr(line.size() + 1)));
    }
  }
  return -1;
}

class AdminTest : public ::testing::Test {
 protected:
  // GET `path` on the admin port until `done(body)` or a deadline: a call's figures are counted
  // as its answer is written, so they may trail the answer the client already has.
  std::string GetWhen(const std::string& path,
                      const std::function<bool(const std::string&)>& done) {
    const absl::Time deadline = absl::Now() + testing::kTestTimeout;
    std::string body;
    do {
      auto got = WsTestClient::HttpGet(admin_, path);
      EXPECT_TRUE(got.ok()) << got.status();
      if (!got.ok()) return "";
      body = got->second;
    } while (!done(body) && absl::Now() < deadline);
    return body;
  }

  void SetUp() override {
    auto bridge = testing::TestBridge::Start(R"(admin_listen: "127.0.0.1:0")");
    ASSERT_TRUE(bridge.ok()) << bridge.status();
    bridge_ = *std::move(bridge);
    admin_ = bridge_->app().server().admin_port();
    ASSERT_NE(admin_, 0);
    ASSERT_NE(admin_, bridge_->port());
  }

  // Connects, makes two good calls and a failing one, and waits for each answer.
  std::unique_ptr<WsTestClient> Traffic() {
    auto ws = WsTestClient::Connect(bridge_->port());
    EXPECT_TRUE(ws.ok()) << ws.status();
    if (!ws.ok()) return nullptr;
    EXPECT_TRUE((*ws)->SendText(kConnect).ok());
    EXPECT_THAT((*ws)->ReceiveText().value_or(""), HasSubstr("connect_confirm"));
    EXPECT_TRUE((*ws)->SendText(Say("1")).ok());
    EXPECT_THAT((*ws)->ReceiveText().value_or(""), HasSubstr(R"("type":"response")"));
    EXPECT_TRUE((*ws)->SendText(Say("2")).ok());
    EXPECT_THAT((*ws)->ReceiveText().value_or(""), HasSubstr(R"("type":"response")"));
    EXPECT_TRUE((*ws)->SendText(Say("3", R"(,"metadata":{"demo-fail-code":"5"})")).ok());
    EXPECT_THAT((*ws)->ReceiveText().value_or(""), HasSubstr(R"("category":"not_found")"));
    return *std::move(ws);
  }

  std::unique_ptr<testing::TestBridge> bridge_;
  uint16_t admin_ = 0;
};

TEST_F(AdminTest, MetricsCountFramesByTypeCallsByMethodAndStatusAndLatencies) {
  auto ws = Traffic();
  const std::string m = GetWhen("/metrics", [](const std::string& body) {
    return Sample(body, "bridge_added_latency_seconds_count") == 3;
  });
  EXPECT_EQ(Sample(m, R"(bridge_frames_in_total{type="connect"})"), 1);
  EXPECT_EQ(Sample(m, R"(bridge_frames_in_total{type="message"})"), 3);
  EXPECT_EQ(Sample(m, R"(bridge_frames_out_total{type="connect_confirm"})"), 1);
  EXPECT_EQ(Sample(m, R"(bridge_frames_out_total{type="response"})"), 2);
  EXPECT_EQ(Sample(m, R"(bridge_frames_out_total{type="error"})"), 1);
  EXPECT_EQ(Sample(m, R"(bridge_calls_total{method="/demo.v1.Echo/Say",code="0"})"), 2);
  EXPECT_EQ(Sample(m, R"(bridge_calls_total{method="/demo.v1.Echo/Say",code="5"})"), 1);
  EXPECT_EQ(Sample(m, R"(bridge_upstream_latency_seconds_count{method="/demo.v1.Echo/Say"})"), 3);
  EXPECT_EQ(
      Sample(m, R"(bridge_upstream_latency_seconds_bucket{method="/demo.v1.Echo/Say",le="+Inf"})"),
      3);
  EXPECT_EQ(Sample(m, R"(bridge_added_latency_seconds_count)"), 3);
  EXPECT_GT(Sample(m, R"(bridge_upstream_latency_seconds_sum{method="/demo.v1.Echo/Say"})"), 0);
  EXPECT_EQ(Sample(m, R"(bridge_error_frames_total{category="not_found"})"), 1);
}

TEST_F(AdminTest, AdminPathsLiveOnTheAdminPortOnly) {
  auto health = WsTestClient::HttpGet(admin_, "/healthz");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->first, 200);
  auto ready = WsTestClient::HttpGet(admin_, "/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->first, 200);
  for (const char* path : {"/metrics", "/healthz", "/connections", "/dashboard"}) {
    auto on_ws_port = WsTestClient::HttpGet(bridge_->port(), path);
    ASSERT_TRUE(on_ws_port.ok()) << on_ws_port.status();
    EXPECT_EQ(on_ws_port->first, 404) << path;
  }
  auto unknown = WsTestClient::HttpGet(admin_, "/nope");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->first, 404);
  // No WebSocket on the admin port.
  EXPECT_FALSE(WsTestClient::Connect(admin_).ok());
}

TEST_F(AdminTest, ConnectionsListEachSessionWithItsFigures) {
  auto ws = Traffic();
  const std::string body = GetWhen("/connections", [](const std::string& b) {
    return b.find(R"("callsEnded":3)") != std::string::npos;
  });
  EXPECT_THAT(body, HasSubstr(R"("conversationId":"s-1")"));
  EXPECT_THAT(body, HasSubstr(R"("clientId":"dash-client")"));
  EXPECT_THAT(body, HasSubstr(R"("calls":3)"));
  EXPECT_THAT(body, HasSubstr(R"("callsEnded":3)"));
  EXPECT_THAT(body, HasSubstr(R"("callErrors":1)"));
  EXPECT_THAT(body, HasSubstr(R"("framesIn":4)"));
  EXPECT_THAT(body, HasSubstr(R"("lastError":"not_found: demo failure 5")"));
}

TEST_F(AdminTest, DrainThroughTheAdminPortClosesSessionsAndKeepsAnswering) {
  auto ws = Traffic();
  ASSERT_NE(ws, nullptr);
  auto drain = WsTestClient::HttpGet(admin_, "/drain");
  ASSERT_TRUE(drain.ok()) << drain.status();
  EXPECT_EQ(drain->first, 202);
  EXPECT_THAT(ws->ReceiveText().value_or(""), HasSubstr(R"("category":"server_shutdown")"));
  auto code = ws->WaitForClose();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1001);
  // The admin port still answers: not ready, alive, and the drain counted.
  auto ready = WsTestClient::HttpGet(admin_, "/readyz");
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(ready->first, 503);
  auto health = WsTestClient::HttpGet(admin_, "/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->first, 200);
  auto metrics = WsTestClient::HttpGet(admin_, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(Sample(metrics->second, "bridge_drains_requested_total"), 1);
  // No new WebSocket connections.
  EXPECT_FALSE(WsTestClient::Connect(bridge_->port()).ok());
}

// Headless Chromium (Debian's chromium) loads the dashboard, which fetches /connections and
// renders a row per session.
TEST_F(AdminTest, TheDashboardShowsTheLiveSessionInChromium) {
  auto ws = Traffic();
  GetWhen("/connections",
          [](const std::string& b) { return b.find(R"("callsEnded":3)") != std::string::npos; });
  const std::string profile = absl::StrCat(::testing::TempDir(), "/chromium-profile");
  const std::string command = absl::StrCat(
      "/usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync "
      "--user-data-dir=",
      profile, " --virtual-time-budget=3000 --dump-dom http://127.0.0.1:", admin_,
      "/dashboard 2>/dev/null");
  std::FILE* chromium = ::popen(command.c_str(), "r");
  ASSERT_NE(chromium, nullptr);
  std::string dom;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), chromium)) > 0) dom.append(buffer, n);
  const int status = ::pclose(chromium);
  ASSERT_EQ(status, 0) << "chromium failed; is Debian's chromium installed? " << command;
  EXPECT_THAT(dom, HasSubstr(R"(data-conversation="s-1")"));
  EXPECT_THAT(dom, HasSubstr("dash-client"));
  EXPECT_THAT(dom, HasSubstr("anonymous"));
  EXPECT_THAT(dom, HasSubstr("33.3 %"));  // one call of three failed
  EXPECT_THAT(dom, HasSubstr("not_found: demo failure 5"));
  EXPECT_THAT(dom, HasSubstr(R"(<span id="status" class="">live</span>)"));
}

}  // namespace
}  // namespace bridge
