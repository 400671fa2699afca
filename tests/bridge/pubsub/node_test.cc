// The node over a MemoryBroker, without sessions: subscribers that record what reaches them,
// and channel feeds the test drives (replies and ends at any moment, also before the channel
// has finished opening).
#include "bridge/pubsub/node.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bridge/config/config.h"
#include "bridge/pubsub/memory_broker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bridge::pubsub {
namespace {

using ::testing::ElementsAre;

class RecordingSubscriber final : public Subscriber {
 public:
  void OnPublication(std::shared_ptr<const Publication> p) override {
    publications.push_back(p->data);
  }
  void OnPush(const std::string& data) override { pushes.push_back(data); }
  void OnDisconnect(int code, const std::string&) override { disconnects.push_back(code); }
  void OnUnsubscribed(const std::string& channel) override { unsubscribed.push_back(channel); }
  void OnCheckPosition(const std::string& channel) override { checks.push_back(channel); }
  Counts counts() const override { return {}; }

  std::vector<std::string> publications, pushes, unsubscribed, checks;
  std::vector<int> disconnects;
};

// Feeds whose Open runs a script: replies, and perhaps the end, before Open even returns.
class ScriptedFeeds final : public ChannelFeeds {
 public:
  class ScriptedFeed final : public Feed {
   public:
    explicit ScriptedFeed(int* cancels) : cancels_(cancels) {}
    void Cancel() override { ++*cancels_; }

   private:
    int* cancels_;
  };

  absl::StatusOr<std::unique_ptr<Feed>> Open(const std::string& method, const std::string&,
                                             const std::string& params,
                                             std::function<void(std::string)> on_message,
                                             std::function<void(absl::Status)> on_end) override {
    ++opens;
    last_params = params;
    this->on_message = on_message;
    this->on_end = on_end;
    for (const std::string& reply : replies_at_open) on_message(reply);
    if (end_at_open) on_end(absl::OkStatus());
    return std::unique_ptr<Feed>(new ScriptedFeed(&cancels));
  }

  std::vector<std::string> replies_at_open;
  bool end_at_open = false;
  int opens = 0;
  int cancels = 0;
  std::string last_params;
  std::function<void(std::string)> on_message;
  std::function<void(absl::Status)> on_end;
};

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::ApplyDefaults(&config_);
    v1::ChannelNamespace* ns = config_.mutable_channels()->add_namespaces();
    ns->set_pattern("fed:*");
    ns->set_method("demo.v1.Echo/Repeat");
    node_ = std::make_unique<Node>(config_, std::make_unique<MemoryBroker>(), &feeds_);
    ASSERT_TRUE(node_->Start().ok());
  }

  std::shared_ptr<RecordingSubscriber> Add(const std::string& id) {
    auto s = std::make_shared<RecordingSubscriber>();
    ClientInfo info;
    info.session_id = id;
    node_->AddSession(info, s);
    return s;
  }

  absl::StatusOr<HistoryResult> Subscribe(const std::string& id, const std::string& channel,
                                          const std::string& params = "{}") {
    absl::StatusOr<HistoryResult> out = absl::UnknownError("no answer");
    node_->Subscribe(id, channel, params, std::nullopt,
                     [&out](absl::StatusOr<HistoryResult> r) { out = std::move(r); });
    return out;  // MemoryBroker and the scripted feeds answer inline
  }

  v1::BridgeConfig config_;
  ScriptedFeeds feeds_;
  std::unique_ptr<Node> node_;
};

TEST_F(NodeTest, AFeedThatEndsWhileItsChannelOpensStillReachesItsFirstSubscriber) {
  feeds_.replies_at_open = {"1", "2", "3"};
  feeds_.end_at_open = true;
  auto s = Add("s-1");
  absl::StatusOr<HistoryResult> r = Subscribe("s-1", "fed:a", R"({"text":"x"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(feeds_.last_params, R"({"text":"x"})");
  // The opener gets everything the feed produced, from the history, then hears of the end.
  ASSERT_EQ(r->publications.size(), 3u);
  EXPECT_EQ(r->publications[0].data, "1");
  EXPECT_EQ(r->publications[2].offset, 3u);
  EXPECT_THAT(s->unsubscribed, ElementsAre("fed:a"));
  EXPECT_EQ(node_->counts().channels, 0u);
  EXPECT_EQ(node_->counts().subscriptions, 0u);
}

TEST_F(NodeTest, AFeedIsOpenedOnceAndCancelledWithItsLastSubscriber) {
  auto a = Add("s-1");
  auto b = Add("s-2");
  ASSERT_TRUE(Subscribe("s-1", "fed:b").ok());
  ASSERT_TRUE(Subscribe("s-2", "fed:b").ok());
  EXPECT_EQ(feeds_.opens, 1);
  feeds_.on_message("tick");
  EXPECT_THAT(a->publications, ElementsAre("tick"));
  EXPECT_THAT(b->publications, ElementsAre("tick"));
  EXPECT_TRUE(node_->Unsubscribe("s-1", "fed:b"));
  EXPECT_EQ(feeds_.cancels, 0);
  node_->RemoveSession("s-2");
  EXPECT_EQ(feeds_.cancels, 1);
  EXPECT_EQ(node_->counts().channels, 0u);
}

TEST_F(NodeTest, PushesAndDisconnectsFindTheirTargets) {
  auto a = Add("s-1");
  ClientInfo user;
  user.session_id = "s-2";
  user.user_id = "ann";
  auto b = std::make_shared<RecordingSubscriber>();
  node_->AddSession(user, b);
  node_->SendPush({Target::kUser, "ann", "\"u\""}, [](absl::Status) {});
  node_->SendPush({Target::kSession, "s-1", "\"s\""}, [](absl::Status) {});
  node_->SendPush({Target::kAll, "", "\"all\""}, [](absl::Status) {});
  EXPECT_THAT(a->pushes, ElementsAre("\"s\"", "\"all\""));
  EXPECT_THAT(b->pushes, ElementsAre("\"u\"", "\"all\""));
  node_->SendDisconnect({Target::kUser, "ann", 4501, "x"}, [](absl::Status) {});
  EXPECT_TRUE(a->disconnects.empty());
  EXPECT_THAT(b->disconnects, ElementsAre(4501));
}

TEST_F(NodeTest, BadChannelNamesAndLimitsAreRefused) {
  config_.mutable_channels()->set_max_channels_per_session(1);
  Add("s-1");
  EXPECT_EQ(Subscribe("s-1", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Subscribe("s-1", std::string(300, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Subscribe("s-1", "a\nb").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Subscribe("nobody", "a").status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Subscribe("s-1", "a").ok());
  EXPECT_EQ(Subscribe("s-1", "a").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Subscribe("s-1", "b").status().code(), absl::StatusCode::kResourceExhausted);
  config_.mutable_channels()->set_require_namespace(true);
  EXPECT_EQ(node_->RulesFor("other").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(node_->RulesFor("fed:x").ok());
}

TEST_F(NodeTest, AnInterruptedDeliveryHasEverySubscriberCheckItsChannels) {
  auto a = Add("s-1");
  ASSERT_TRUE(Subscribe("s-1", "x").ok());
  ASSERT_TRUE(Subscribe("s-1", "fed:c").ok());
  node_->OnDeliveryResumed();
  EXPECT_THAT(a->checks, ElementsAre("x"));  // fed channels never went through the broker
}

}  // namespace
}  // namespace bridge::pubsub
