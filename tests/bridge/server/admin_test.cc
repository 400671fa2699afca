// The admin endpoints' answers, apart from the socket.
#include "bridge/server/admin.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bridge::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

struct Fixture {
  bool draining = false;
  int drains = 0;
  std::vector<std::shared_ptr<session::SessionStats>> sessions;
  AdminHooks hooks;
  Fixture() {
    hooks.draining = [this] { return draining; };
    hooks.metrics = [] { return std::string("bridge_up 1\n"); };
    hooks.sessions = [this] { return sessions; };
    hooks.drain = [this] { ++drains; };
    hooks.now = [] { return absl::FromUnixSeconds(1'800'000'000); };
  }
};

TEST(AdminTest, HealthAndReadinessFollowTheDrain) {
  Fixture f;
  EXPECT_EQ(AnswerAdmin("/healthz", true, "/ws", f.hooks).status, 200);
  EXPECT_EQ(AnswerAdmin("/readyz", true, "/ws", f.hooks).status, 200);
  f.draining = true;
  const HttpAnswer readyz = AnswerAdmin("/readyz", true, "/ws", f.hooks);
  EXPECT_EQ(readyz.status, 503);
  EXPECT_EQ(readyz.body, "draining\n");
  EXPECT_EQ(AnswerAdmin("/healthz", true, "/ws", f.hooks).status, 200);  // alive all the same
}

TEST(AdminTest, MetricsAreThePrometheusText) {
  Fixture f;
  const HttpAnswer a = AnswerAdmin("/metrics", false, "/ws", f.hooks);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "bridge_up 1\n");
  EXPECT_THAT(a.headers, ::testing::Contains(Pair("Content-Type", "text/plain; version=0.0.4")));
}

TEST(AdminTest, DrainStartsTheDrainAndAnswersAccepted) {
  Fixture f;
  const HttpAnswer a = AnswerAdmin("/drain", true, "/ws", f.hooks);
  EXPECT_EQ(a.status, 202);
  EXPECT_EQ(f.drains, 1);
}

TEST(AdminTest, OffTheAdminPortConversationIdsAreTooShortToResume) {
  Fixture f;
  auto confirmed = std::make_shared<session::SessionStats>();
  {
    absl::MutexLock lock(&confirmed->mu);
    confirmed->conversation_id = "s-0123456789abcdef";
  }
  f.sessions = {confirmed};
  const HttpAnswer on_ws_port = AnswerAdmin("/connections", false, "/ws", f.hooks);
  EXPECT_EQ(on_ws_port.status, 200);
  EXPECT_THAT(on_ws_port.body, HasSubstr(R"("conversationId":"s-01234567...")"));
  EXPECT_THAT(on_ws_port.body, Not(HasSubstr("89abcdef")));
  const HttpAnswer on_admin = AnswerAdmin("/connections", true, "/ws", f.hooks);
  EXPECT_THAT(on_admin.body, HasSubstr(R"("conversationId":"s-0123456789abcdef")"));
}

TEST(AdminTest, ConnectionsListConfirmedSessions) {
  Fixture f;
  auto confirmed = std::make_shared<session::SessionStats>();
  {
    absl::MutexLock lock(&confirmed->mu);
    confirmed->conversation_id = "s-1";
    confirmed->started = f.hooks.now() - absl::Seconds(2);
  }
  f.sessions = {confirmed, std::make_shared<session::SessionStats>()};
  const HttpAnswer a = AnswerAdmin("/connections", true, "/ws", f.hooks);
  EXPECT_EQ(a.status, 200);
  EXPECT_THAT(a.body, HasSubstr(R"("conversationId":"s-1")"));
  EXPECT_THAT(a.body, HasSubstr(R"("uptimeMs":2000)"));
  EXPECT_THAT(a.headers, ::testing::Contains(Pair("Cache-Control", "no-store")));
}

TEST(AdminTest, AnUnknownResourceSaysWhereToGo) {
  Fixture f;
  const HttpAnswer on_admin = AnswerAdmin("/nope", true, "/ws", f.hooks);
  EXPECT_EQ(on_admin.status, 404);
  EXPECT_THAT(on_admin.body, HasSubstr("/metrics"));
  const HttpAnswer on_ws = AnswerAdmin("/nope", false, "/bridge", f.hooks);
  EXPECT_EQ(on_ws.status, 404);
  EXPECT_THAT(on_ws.body, HasSubstr("WebSocket clients connect to /bridge"));
  // Any client reaches the WebSocket port: it does not drain the bridge.
  const HttpAnswer drain_on_ws = AnswerAdmin("/drain", false, "/bridge", f.hooks);
  EXPECT_EQ(drain_on_ws.status, 404);
  EXPECT_THAT(drain_on_ws.body, HasSubstr("admin port only"));
  EXPECT_EQ(f.drains, 0);
}

TEST(AdminTest, TheDashboardIsOnePage) {
  Fixture f;
  const HttpAnswer a = AnswerAdmin("/dashboard", true, "/ws", f.hooks);
  EXPECT_EQ(a.status, 200);
  EXPECT_THAT(a.body, HasSubstr("<html"));
  EXPECT_THAT(a.body, HasSubstr(R"(fetch("connections")"));  // what it polls
}

}  // namespace
}  // namespace bridge::server
