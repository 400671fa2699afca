// The Broker contract, run against every broker: MemoryBroker in-process and RedisBroker on a
// real redis-server. Then what only several RedisBroker instances sharing one Redis can show
// (delivery to every node, presence across nodes, dead nodes' entries expiring) and Redis going
// away and coming back.
#include <hiredis/hiredis.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bridge/common/clock.h"
#include "bridge/config/config.h"
#include "bridge/pubsub/broker.h"
#include "bridge/pubsub/memory_broker.h"
#include "bridge/pubsub/redis_broker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "tests/support/tcp_proxy.h"

namespace bridge::pubsub {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Long enough for a loaded machine; reached only when something is wrong.
constexpr absl::Duration kTimeout = absl::Seconds(20);

// Thread-safe: broker threads read it while the test advances it.
class TestClock : public Clock {
 public:
  absl::Time Now() override {
    return absl::FromUnixSeconds(1'800'000'000) + absl::Nanoseconds(offset_ns_.load());
  }
  absl::Duration Monotonic() override { return absl::Nanoseconds(offset_ns_.load()); }
  void Advance(absl::Duration d) { offset_ns_ += absl::ToInt64Nanoseconds(d); }

 private:
  std::atomic<int64_t> offset_ns_{0};
};

// What a broker delivered to its node.
class Recorder : public BrokerEvents {
 public:
  void OnPublication(const Publication& p) override {
    absl::MutexLock lock(&mu_);
    publications_.push_back(p);
  }
  void OnPush(const Push& push) override {
    absl::MutexLock lock(&mu_);
    pushes_.push_back(push);
  }
  void OnDisconnect(const DisconnectOrder& order) override {
    absl::MutexLock lock(&mu_);
    disconnects_.push_back(order);
  }
  void OnDeliveryResumed() override {
    absl::MutexLock lock(&mu_);
    ++resumes_;
  }
  // Waits until delivery was resumed `n` times; false on timeout.
  bool WaitResumes(int n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return resumes_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kTimeout);
  }
  int resumes() {
    absl::MutexLock lock(&mu_);
    return resumes_;
  }

  // Waits until `n` publications arrived (and returns them all).
  std::vector<Publication> WaitPublications(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return publications_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kTimeout);
    return publications_;
  }
  std::vector<Push> WaitPushes(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pushes_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kTimeout);
    return pushes_;
  }
  std::vector<DisconnectOrder> WaitDisconnects(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return disconnects_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kTimeout);
    return disconnects_;
  }
  std::vector<Publication> publications() {
    absl::MutexLock lock(&mu_);
    return publications_;
  }

 private:
  absl::Mutex mu_;
  std::vector<Publication> publications_ ABSL_GUARDED_BY(mu_);
  std::vector<Push> pushes_ ABSL_GUARDED_BY(mu_);
  std::vector<DisconnectOrder> disconnects_ ABSL_GUARDED_BY(mu_);
  int resumes_ ABSL_GUARDED_BY(mu_) = 0;
};

// Where a `done` lands, and how often it ran.
template <typename T>
class Slot {
 public:
  std::function<void(T)> Callback() {
    return [state = state_](T value) {
      absl::MutexLock lock(&state->mu);
      ++state->calls;
      state->value.emplace(std::move(value));
    };
  }
  // The value, or DEADLINE_EXCEEDED should the done not run in time.
  T Wait() {
    absl::MutexLock lock(&state_->mu);
    auto called = [s = state_.get()]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) { return s->calls > 0; };
    if (!state_->mu.AwaitWithTimeout(absl::Condition(&called), kTimeout)) {
      return T(absl::DeadlineExceededError("the done did not run"));
    }
    return *state_->value;
  }
  int calls() {
    absl::MutexLock lock(&state_->mu);
    return state_->calls;
  }

 private:
  struct State {
    absl::Mutex mu;
    int calls ABSL_GUARDED_BY(mu) = 0;
    std::optional<T> value ABSL_GUARDED_BY(mu);
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

// Blocking forms of the broker's calls, for readable tests.
absl::StatusOr<Position> Publish(Broker& broker, const std::string& channel,
                                 const std::string& data, const HistoryOptions& history,
                                 const std::string& exclude = "") {
  Slot<absl::StatusOr<Position>> slot;
  Publication p;
  p.channel = channel;
  p.data = data;
  p.exclude_session = exclude;
  broker.Publish(std::move(p), history, slot.Callback());
  return slot.Wait();
}

absl::Status Listen(Broker& broker, const std::string& channel) {
  Slot<absl::Status> slot;
  broker.Listen(channel, slot.Callback());
  return slot.Wait();
}

absl::StatusOr<HistoryResult> History(Broker& broker, const std::string& channel,
                                      std::optional<Position> since,
                                      const HistoryOptions& history) {
  Slot<absl::StatusOr<HistoryResult>> slot;
  broker.History(channel, std::move(since), history, slot.Callback());
  return slot.Wait();
}

absl::Status SendPush(Broker& broker, Target target, const std::string& id,
                      const std::string& data) {
  Slot<absl::Status> slot;
  broker.SendPush(Push{target, id, data}, slot.Callback());
  return slot.Wait();
}

absl::Status SendDisconnect(Broker& broker, Target target, const std::string& id, int code,
                            const std::string& reason) {
  Slot<absl::Status> slot;
  broker.SendDisconnect(DisconnectOrder{target, id, code, reason}, slot.Callback());
  return slot.Wait();
}

absl::StatusOr<std::vector<ClientInfo>> Presence(Broker& broker, const std::string& channel) {
  Slot<absl::StatusOr<std::vector<ClientInfo>>> slot;
  broker.Presence(channel, slot.Callback());
  return slot.Wait();
}

absl::StatusOr<size_t> AddUser(Broker& broker, const ClientInfo& client) {
  Slot<absl::StatusOr<size_t>> slot;
  broker.AddUserConnection(client, slot.Callback());
  return slot.Wait();
}

absl::StatusOr<std::vector<ClientInfo>> UserConnections(Broker& broker, const std::string& user) {
  Slot<absl::StatusOr<std::vector<ClientInfo>>> slot;
  broker.UserConnections(user, slot.Callback());
  return slot.Wait();
}

ClientInfo Client(const std::string& session, const std::string& user = "",
                  int64_t connected_at = 1700000000000) {
  return ClientInfo{session, user, absl::StrCat("client-", session), connected_at};
}

std::vector<std::string> Sessions(const std::vector<ClientInfo>& clients) {
  std::vector<std::string> out;
  for (const ClientInfo& c : clients) out.push_back(c.session_id);
  return out;
}

std::vector<uint64_t> Offsets(const std::vector<Publication>& publications) {
  std::vector<uint64_t> out;
  for (const Publication& p : publications) out.push_back(p.offset);
  return out;
}

std::vector<std::string> Data(const std::vector<Publication>& publications) {
  std::vector<std::string> out;
  for (const Publication& p : publications) out.push_back(p.data);
  return out;
}

// A broker and what it delivered.
struct TestNode {
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Recorder> events = std::make_unique<Recorder>();
  RedisBroker& redis() { return static_cast<RedisBroker&>(*broker); }
};

RedisBrokerOptions RedisOptions(const std::string& address, Clock* clock) {
  RedisBrokerOptions options;
  options.address = address;
  options.prefix = "test";
  options.clock = clock;
  options.connect_timeout = absl::Seconds(5);
  options.reconnect_backoff_min = absl::Milliseconds(20);
  options.reconnect_backoff_max = absl::Milliseconds(200);
  return options;
}

TestNode StartRedisNode(RedisBrokerOptions options) {
  TestNode node;
  node.broker = std::make_unique<RedisBroker>(std::move(options));
  const absl::Status started = node.broker->Start(node.events.get());
  EXPECT_TRUE(started.ok()) << started;
  return node;
}

// ---- The contract, for every broker ---------------------------------------------------

enum class Kind { kMemory, kRedis };

class BrokerContractTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == Kind::kRedis) {
      absl::StatusOr<std::unique_ptr<testing::RedisServer>> server = testing::RedisServer::Start();
      ASSERT_TRUE(server.ok()) << server.status();
      redis_ = std::move(*server);
      node_.broker = std::make_unique<RedisBroker>(RedisOptions(redis_->address(), &clock_));
    } else {
      node_.broker = std::make_unique<MemoryBroker>(&clock_);
    }
    ASSERT_TRUE(node_.broker->Start(node_.events.get()).ok());
  }
  void TearDown() override {
    if (node_.broker != nullptr) node_.broker->Stop();
  }

  Broker& broker() { return *node_.broker; }
  Recorder& events() { return *node_.events; }

  TestClock clock_;
  std::unique_ptr<testing::RedisServer> redis_;
  TestNode node_;
};

TEST_P(BrokerContractTest, Name) {
  EXPECT_EQ(broker().name(), GetParam() == Kind::kRedis ? "redis" : "memory");
}

TEST_P(BrokerContractTest, OffsetsCountFromOneInAStableEpoch) {
  const HistoryOptions history{10, absl::ZeroDuration()};
  absl::StatusOr<HistoryResult> fresh = History(broker(), "news", std::nullopt, history);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->top.offset, 0u);
  EXPECT_FALSE(fresh->top.epoch.empty());
  EXPECT_FALSE(fresh->recovered);

  for (uint64_t want = 1; want <= 3; ++want) {
    absl::StatusOr<Position> p =
        Publish(broker(), "news", absl::StrCat("{\"n\":", want, "}"), history);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->offset, want);
    EXPECT_EQ(p->epoch, fresh->top.epoch);
  }
  // Another channel has a stream of its own.
  absl::StatusOr<Position> other = Publish(broker(), "sport", "1", history);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->offset, 1u);

  absl::StatusOr<HistoryResult> top = History(broker(), "news", std::nullopt, history);
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_EQ(top->top.offset, 3u);
  EXPECT_EQ(top->top.epoch, fresh->top.epoch);
  EXPECT_THAT(top->publications, IsEmpty());
}

TEST_P(BrokerContractTest, DeliversToListenersInOrderUntilUnlisten) {
  const HistoryOptions history{0, absl::ZeroDuration()};
  ASSERT_TRUE(Listen(broker(), "room").ok());
  ASSERT_TRUE(Listen(broker(), "marker").ok());
  ASSERT_TRUE(Publish(broker(), "room", "\"a\"", history, "session-1").ok());
  ASSERT_TRUE(Publish(broker(), "room", "\"b\"", history).ok());
  ASSERT_TRUE(Publish(broker(), "elsewhere", "\"x\"", history).ok());  // nobody listens

  std::vector<Publication> got = events().WaitPublications(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].channel, "room");
  EXPECT_EQ(got[0].offset, 1u);
  EXPECT_EQ(got[0].data, "\"a\"");
  EXPECT_EQ(got[0].exclude_session, "session-1");
  EXPECT_FALSE(got[0].epoch.empty());
  EXPECT_EQ(got[1].offset, 2u);
  EXPECT_EQ(got[1].epoch, got[0].epoch);
  EXPECT_EQ(got[1].exclude_session, "");

  broker().Unlisten("room");
  ASSERT_TRUE(Publish(broker(), "room", "\"after\"", history).ok());
  // One connection delivers both channels, in order: the marker comes after anything for
  // "room" would have.
  ASSERT_TRUE(Publish(broker(), "marker", "\"end\"", history).ok());
  got = events().WaitPublications(3);
  EXPECT_THAT(Data(got), ElementsAre("\"a\"", "\"b\"", "\"end\""));
}

TEST_P(BrokerContractTest, ListensNest) {
  const HistoryOptions history{0, absl::ZeroDuration()};
  ASSERT_TRUE(Listen(broker(), "room").ok());
  ASSERT_TRUE(Listen(broker(), "room").ok());
  ASSERT_TRUE(Listen(broker(), "marker").ok());
  broker().Unlisten("room");
  ASSERT_TRUE(Publish(broker(), "room", "1", history).ok());
  EXPECT_THAT(Data(events().WaitPublications(1)), ElementsAre("1"));

  broker().Unlisten("room");
  ASSERT_TRUE(Publish(broker(), "room", "2", history).ok());
  ASSERT_TRUE(Publish(broker(), "marker", "end", history).ok());
  EXPECT_THAT(Data(events().WaitPublications(2)), ElementsAre("1", "end"));
}

TEST_P(BrokerContractTest, ManyPublicationsArriveInOffsetOrder) {
  const HistoryOptions history{5, absl::ZeroDuration()};
  ASSERT_TRUE(Listen(broker(), "fast").ok());
  constexpr int kCount = 200;
  std::vector<Slot<absl::StatusOr<Position>>> slots(kCount);
  for (int i = 0; i < kCount; ++i) {
    Publication p;
    p.channel = "fast";
    p.data = absl::StrCat(i);
    broker().Publish(std::move(p), history, slots[i].Callback());
  }
  for (auto& slot : slots) ASSERT_TRUE(slot.Wait().ok());
  std::vector<Publication> got = events().WaitPublications(kCount);
  ASSERT_EQ(got.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(got[i].offset, static_cast<uint64_t>(i + 1));
}

TEST_P(BrokerContractTest, HistoryRecoversWhatCameAfter) {
  const HistoryOptions history{10, absl::ZeroDuration()};
  absl::StatusOr<Position> first = Publish(broker(), "ch", "1", history, "s");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(Publish(broker(), "ch", "{\"two\": \"with spaces\"}", history).ok());
  ASSERT_TRUE(Publish(broker(), "ch", "3", history).ok());

  absl::StatusOr<HistoryResult> r = History(broker(), "ch", *first, history);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->recovered);
  EXPECT_EQ(r->top.offset, 3u);
  EXPECT_EQ(r->top.epoch, first->epoch);
  EXPECT_THAT(Offsets(r->publications), ElementsAre(2u, 3u));
  EXPECT_THAT(Data(r->publications), ElementsAre("{\"two\": \"with spaces\"}", "3"));
  for (const Publication& p : r->publications) {
    EXPECT_EQ(p.channel, "ch");
    EXPECT_EQ(p.epoch, first->epoch);
  }

  // From the very start, and from the top (nothing missed).
  r = History(broker(), "ch", Position{0, first->epoch}, history);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->recovered);
  EXPECT_THAT(Offsets(r->publications), ElementsAre(1u, 2u, 3u));
  r = History(broker(), "ch", Position{3, first->epoch}, history);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->recovered);
  EXPECT_THAT(r->publications, IsEmpty());
}

TEST_P(BrokerContractTest, HistoryTrimmedBySizeIsNotRecovered) {
  const HistoryOptions history{2, absl::ZeroDuration()};
  std::string epoch;
  for (int i = 1; i <= 4; ++i) {
    absl::StatusOr<Position> p = Publish(broker(), "ch", absl::StrCat(i), history);
    ASSERT_TRUE(p.ok()) << p.status();
    epoch = p->epoch;
  }
  absl::StatusOr<HistoryResult> r = History(broker(), "ch", Position{1, epoch}, history);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->recovered);
  EXPECT_THAT(r->publications, IsEmpty());
  EXPECT_EQ(r->top.offset, 4u);

  r = History(broker(), "ch", Position{2, epoch}, history);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->recovered);
  EXPECT_THAT(Data(r->publications), ElementsAre("3", "4"));
}

TEST_P(BrokerContractTest, HistoryOfAnotherEpochIsNotRecovered) {
  const HistoryOptions history{10, absl::ZeroDuration()};
  ASSERT_TRUE(Publish(broker(), "ch", "1", history).ok());
  ASSERT_TRUE(Publish(broker(), "ch", "2", history).ok());
  absl::StatusOr<HistoryResult> r = History(broker(), "ch", Position{1, "another-life"}, history);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->recovered);
  EXPECT_THAT(r->publications, IsEmpty());
  EXPECT_EQ(r->top.offset, 2u);
  // An offset beyond the top is not of this stream either.
  r = History(broker(), "ch", Position{7, r->top.epoch}, history);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->recovered);
}

TEST_P(BrokerContractTest, HistoryOlderThanTtlIsNotRecovered) {
  const HistoryOptions history{10, absl::Seconds(60)};
  absl::StatusOr<Position> first = Publish(broker(), "ch", "1", history);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(Publish(broker(), "ch", "2", history).ok());  // at 0 s
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(Publish(broker(), "ch", "3", history).ok());  // at 30 s

  absl::StatusOr<HistoryResult> r = History(broker(), "ch", *first, history);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->recovered);
  EXPECT_THAT(Data(r->publications), ElementsAre("2", "3"));

  clock_.Advance(absl::Seconds(40));  // 70 s: "2" is too old, "3" is not
  r = History(broker(), "ch", *first, history);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->recovered);
  EXPECT_THAT(r->publications, IsEmpty());
  EXPECT_EQ(r->top.offset, 3u);
  r = History(broker(), "ch", Position{2, first->epoch}, history);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->recovered);
  EXPECT_THAT(Data(r->publications), ElementsAre("3"));
}

TEST_P(BrokerContractTest, NoHistoryStillCountsOffsets) {
  const HistoryOptions none{0, absl::ZeroDuration()};
  ASSERT_TRUE(Publish(broker(), "ch", "1", none).ok());
  absl::StatusOr<Position> second = Publish(broker(), "ch", "2", none);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->offset, 2u);
  absl::StatusOr<HistoryResult> r = History(broker(), "ch", *second, none);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->recovered);  // nothing missed
  r = History(broker(), "ch", Position{1, second->epoch}, none);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->recovered);
}

TEST_P(BrokerContractTest, PushAndDisconnectReachTheNode) {
  ASSERT_TRUE(SendPush(broker(), Target::kUser, "alice", "{\"hi\":1}").ok());
  ASSERT_TRUE(SendPush(broker(), Target::kAll, "", "[]").ok());
  ASSERT_TRUE(SendDisconnect(broker(), Target::kSession, "conv-7", 4403, "banned: spam").ok());

  std::vector<Push> pushes = events().WaitPushes(2);
  ASSERT_EQ(pushes.size(), 2u);
  EXPECT_EQ(pushes[0].target, Target::kUser);
  EXPECT_EQ(pushes[0].id, "alice");
  EXPECT_EQ(pushes[0].data, "{\"hi\":1}");
  EXPECT_EQ(pushes[1].target, Target::kAll);
  EXPECT_EQ(pushes[1].data, "[]");
  std::vector<DisconnectOrder> orders = events().WaitDisconnects(1);
  ASSERT_EQ(orders.size(), 1u);
  EXPECT_EQ(orders[0].target, Target::kSession);
  EXPECT_EQ(orders[0].id, "conv-7");
  EXPECT_EQ(orders[0].code, 4403);
  EXPECT_EQ(orders[0].reason, "banned: spam");
}

TEST_P(BrokerContractTest, PresenceListsWhoIsIn) {
  broker().AddPresence("room", Client("s1", "alice", 11));
  broker().AddPresence("room", Client("s2", "", 22));
  broker().AddPresence("other", Client("s3"));
  absl::StatusOr<std::vector<ClientInfo>> in = Presence(broker(), "room");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_THAT(Sessions(*in), UnorderedElementsAre("s1", "s2"));
  for (const ClientInfo& c : *in) {
    const ClientInfo want = c.session_id == "s1" ? Client("s1", "alice", 11) : Client("s2", "", 22);
    EXPECT_EQ(c.user_id, want.user_id);
    EXPECT_EQ(c.client_id, want.client_id);
    EXPECT_EQ(c.connected_at_unix_ms, want.connected_at_unix_ms);
  }
  broker().RemovePresence("room", "s1");
  in = Presence(broker(), "room");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_THAT(Sessions(*in), ElementsAre("s2"));
  in = Presence(broker(), "nobody-here");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_THAT(*in, IsEmpty());
}

TEST_P(BrokerContractTest, UserConnectionsAreCounted) {
  EXPECT_EQ(AddUser(broker(), Client("s1", "alice")).value_or(0), 1u);
  EXPECT_EQ(AddUser(broker(), Client("s2", "alice")).value_or(0), 2u);
  EXPECT_EQ(AddUser(broker(), Client("s2", "alice")).value_or(0), 2u);  // the same again
  EXPECT_EQ(AddUser(broker(), Client("s3", "bob")).value_or(0), 1u);
  broker().RemoveUserConnection("alice", "s1");
  EXPECT_EQ(AddUser(broker(), Client("s4", "alice")).value_or(0), 2u);
  absl::StatusOr<std::vector<ClientInfo>> alice = UserConnections(broker(), "alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_THAT(Sessions(*alice), UnorderedElementsAre("s2", "s4"));
  EXPECT_EQ((*alice)[0].client_id, absl::StrCat("client-", (*alice)[0].session_id));
  absl::StatusOr<std::vector<ClientInfo>> nobody = UserConnections(broker(), "nobody");
  ASSERT_TRUE(nobody.ok()) << nobody.status();
  EXPECT_TRUE(nobody->empty());
}

TEST_P(BrokerContractTest, AfterStopDonesStillRunOnce) {
  broker().Stop();
  broker().Stop();  // idempotent
  Slot<absl::StatusOr<Position>> published;
  Publication p;
  p.channel = "ch";
  broker().Publish(p, HistoryOptions{}, published.Callback());
  EXPECT_FALSE(published.Wait().ok());
  Slot<absl::Status> listened, pushed;
  broker().Listen("ch", listened.Callback());
  broker().SendPush(Push{}, pushed.Callback());
  EXPECT_FALSE(pushed.Wait().ok());
  Slot<absl::StatusOr<HistoryResult>> history;
  broker().History("ch", std::nullopt, HistoryOptions{}, history.Callback());
  Slot<absl::StatusOr<std::vector<ClientInfo>>> presence;
  broker().Presence("ch", presence.Callback());
  Slot<absl::StatusOr<size_t>> users;
  broker().AddUserConnection(Client("s", "u"), users.Callback());
  // Whatever they answer (MemoryBroker still serves reads), they answer.
  listened.Wait().IgnoreError();
  history.Wait().IgnoreError();
  presence.Wait().IgnoreError();
  users.Wait().IgnoreError();
  EXPECT_EQ(published.calls() + listened.calls() + pushed.calls() + history.calls() +
                presence.calls() + users.calls(),
            6);
}

INSTANTIATE_TEST_SUITE_P(Brokers, BrokerContractTest,
                         ::testing::Values(Kind::kMemory, Kind::kRedis),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kRedis ? "Redis" : "Memory";
                         });

// ---- Several RedisBroker instances on one Redis ----------------------------------------

class RedisBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::RedisServer>> server = testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    redis_ = std::move(*server);
  }
  void TearDown() override {
    for (TestNode& node : nodes_) node.broker->Stop();
  }
  RedisBrokerOptions Options() { return RedisOptions(redis_->address(), &clock_); }
  TestNode& AddNode(RedisBrokerOptions options) {
    nodes_.push_back(StartRedisNode(std::move(options)));
    return nodes_.back();
  }
  TestNode& AddNode() { return AddNode(Options()); }

  TestClock clock_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::deque<TestNode> nodes_;
};

TEST_F(RedisBrokerTest, PublishReachesEveryListeningNode) {
  TestNode& a = AddNode();
  TestNode& b = AddNode();
  TestNode& c = AddNode();  // publishes, does not listen
  ASSERT_NE(a.redis().node_id(), b.redis().node_id());
  const HistoryOptions history{10, absl::ZeroDuration()};
  ASSERT_TRUE(Listen(*a.broker, "room").ok());
  ASSERT_TRUE(Listen(*a.broker, "marker").ok());
  ASSERT_TRUE(Listen(*b.broker, "room").ok());
  ASSERT_TRUE(Listen(*c.broker, "marker").ok());

  ASSERT_TRUE(Publish(*c.broker, "room", "1", history, "s-1").ok());
  ASSERT_TRUE(Publish(*b.broker, "room", "2", history).ok());
  for (TestNode* node : {&a, &b}) {
    std::vector<Publication> got = node->events->WaitPublications(2);
    EXPECT_THAT(Data(got), ElementsAre("1", "2"));
    EXPECT_THAT(Offsets(got), ElementsAre(1u, 2u));
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].exclude_session, "s-1");
  }

  a.broker->Unlisten("room");
  ASSERT_TRUE(Publish(*c.broker, "room", "3", history).ok());
  ASSERT_TRUE(Publish(*c.broker, "marker", "end", history).ok());
  EXPECT_THAT(Data(b.events->WaitPublications(3)), ElementsAre("1", "2", "3"));
  EXPECT_THAT(Data(a.events->WaitPublications(3)), ElementsAre("1", "2", "end"));
  EXPECT_THAT(Data(c.events->WaitPublications(1)), ElementsAre("end"));
}

TEST_F(RedisBrokerTest, PublishersOnSeveralNodesShareOneStream) {
  TestNode& a = AddNode();
  TestNode& b = AddNode();
  const HistoryOptions history{100, absl::ZeroDuration()};
  ASSERT_TRUE(Listen(*a.broker, "ch").ok());
  constexpr int kEach = 50;
  std::vector<Slot<absl::StatusOr<Position>>> slots(2 * kEach);
  for (int i = 0; i < kEach; ++i) {
    for (int n = 0; n < 2; ++n) {
      Publication p;
      p.channel = "ch";
      p.data = absl::StrCat(n, "-", i);
      (n == 0 ? a : b).broker->Publish(std::move(p), history, slots[2 * i + n].Callback());
    }
  }
  std::string epoch;
  for (auto& slot : slots) {
    absl::StatusOr<Position> p = slot.Wait();
    ASSERT_TRUE(p.ok()) << p.status();
    if (epoch.empty()) epoch = p->epoch;
    EXPECT_EQ(p->epoch, epoch);
  }
  std::vector<Publication> got = a.events->WaitPublications(2 * kEach);
  ASSERT_EQ(got.size(), 2u * kEach);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].offset, i + 1);
  absl::StatusOr<HistoryResult> r = History(*b.broker, "ch", Position{0, epoch}, history);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->recovered);
  EXPECT_EQ(Data(r->publications), Data(got));
}

TEST_F(RedisBrokerTest, PushAndDisconnectReachEveryNode) {
  TestNode& a = AddNode();
  TestNode& b = AddNode();
  ASSERT_TRUE(SendPush(*a.broker, Target::kSession, "conv-1", "{}").ok());
  ASSERT_TRUE(SendDisconnect(*b.broker, Target::kUser, "bob", 4000, "bye").ok());
  for (TestNode* node : {&a, &b}) {
    std::vector<Push> pushes = node->events->WaitPushes(1);
    ASSERT_EQ(pushes.size(), 1u);
    EXPECT_EQ(pushes[0].target, Target::kSession);
    EXPECT_EQ(pushes[0].id, "conv-1");
    std::vector<DisconnectOrder> orders = node->events->WaitDisconnects(1);
    ASSERT_EQ(orders.size(), 1u);
    EXPECT_EQ(orders[0].id, "bob");
    EXPECT_EQ(orders[0].code, 4000);
    EXPECT_EQ(orders[0].reason, "bye");
  }
}

TEST_F(RedisBrokerTest, PresenceAndUsersAcrossNodes) {
  TestNode& a = AddNode();
  TestNode& b = AddNode();
  a.broker->AddPresence("room", Client("s1", "alice"));
  b.broker->AddPresence("room", Client("s2", "bob"));
  // Each node's commands run in order: its Presence comes after its AddPresence.
  ASSERT_TRUE(Presence(*a.broker, "room").ok());
  ASSERT_TRUE(Presence(*b.broker, "room").ok());
  for (TestNode* node : {&a, &b}) {
    absl::StatusOr<std::vector<ClientInfo>> in = Presence(*node->broker, "room");
    ASSERT_TRUE(in.ok()) << in.status();
    EXPECT_THAT(Sessions(*in), UnorderedElementsAre("s1", "s2"));
  }
  a.broker->RemovePresence("room", "s1");
  ASSERT_TRUE(Presence(*a.broker, "room").ok());
  absl::StatusOr<std::vector<ClientInfo>> in = Presence(*b.broker, "room");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_THAT(Sessions(*in), ElementsAre("s2"));

  EXPECT_EQ(AddUser(*a.broker, Client("s1", "alice")).value_or(0), 1u);
  EXPECT_EQ(AddUser(*b.broker, Client("s2", "alice")).value_or(0), 2u);
  absl::StatusOr<std::vector<ClientInfo>> both = UserConnections(*a.broker, "alice");
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_THAT(Sessions(*both), UnorderedElementsAre("s1", "s2"));
  a.broker->RemoveUserConnection("alice", "s1");
  ASSERT_TRUE(Presence(*a.broker, "room").ok());
  EXPECT_EQ(AddUser(*b.broker, Client("s3", "alice")).value_or(0), 2u);
}

TEST_F(RedisBrokerTest, EntriesOfAStoppedNodeExpireAndALiveNodeKeepsItsOwn) {
  RedisBrokerOptions options = Options();
  options.presence_ttl = absl::Milliseconds(900);  // refreshed every 300 ms
  TestNode& live = AddNode(options);
  TestNode& dead = AddNode(options);
  TestNode& observer = AddNode(options);
  live.broker->AddPresence("room", Client("live"));
  dead.broker->AddPresence("room", Client("dead"));
  ASSERT_EQ(AddUser(*live.broker, Client("live", "carol")).value_or(0), 1u);
  ASSERT_EQ(AddUser(*dead.broker, Client("dead", "carol")).value_or(0), 2u);
  ASSERT_TRUE(Presence(*live.broker, "room").ok());
  dead.broker->Stop();  // as a crashed instance: its entries stay behind

  absl::StatusOr<std::vector<ClientInfo>> in = Presence(*observer.broker, "room");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_THAT(Sessions(*in), UnorderedElementsAre("live", "dead"));

  // The live node refreshes at its clock's time: 600 ms on, its entries expire at 1500 ms.
  clock_.Advance(absl::Milliseconds(600));
  const uint64_t before = live.redis().stats().refreshes;
  ASSERT_TRUE(live.redis().AwaitStats(
      [before](const RedisBroker::Stats& s) { return s.refreshes > before; }, kTimeout));
  ASSERT_TRUE(Presence(*live.broker, "room").ok());  // the refresh has run: it was queued first

  clock_.Advance(absl::Milliseconds(600));  // 1200 ms: past the dead node's 900
  in = Presence(*observer.broker, "room");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_THAT(Sessions(*in), ElementsAre("live"));
  EXPECT_EQ(AddUser(*observer.broker, Client("other", "carol")).value_or(0), 2u);
}

TEST_F(RedisBrokerTest, StopFailsPendingDones) {
  absl::StatusOr<std::unique_ptr<testing::TcpProxy>> proxy =
      testing::TcpProxy::Start(redis_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  RedisBrokerOptions options = Options();
  options.address = absl::StrCat("127.0.0.1:", (*proxy)->port());
  options.command_timeout = absl::Minutes(10);  // nothing but Stop ends the wait
  TestNode& node = AddNode(options);
  ASSERT_TRUE(Listen(*node.broker, "before").ok());
  (*proxy)->FreezeAll();

  Slot<absl::StatusOr<Position>> published;
  Publication p;
  p.channel = "ch";
  node.broker->Publish(p, HistoryOptions{}, published.Callback());
  Slot<absl::Status> listened, pushed;
  node.broker->Listen("ch", listened.Callback());
  node.broker->SendPush(Push{}, pushed.Callback());
  Slot<absl::StatusOr<HistoryResult>> history;
  node.broker->History("ch", std::nullopt, HistoryOptions{}, history.Callback());
  Slot<absl::StatusOr<std::vector<ClientInfo>>> presence;
  node.broker->Presence("ch", presence.Callback());
  Slot<absl::StatusOr<size_t>> users;
  node.broker->AddUserConnection(Client("s", "u"), users.Callback());
  EXPECT_EQ(published.calls() + listened.calls() + pushed.calls() + history.calls() +
                presence.calls() + users.calls(),
            0);

  node.broker->Stop();
  EXPECT_EQ(published.calls() + listened.calls() + pushed.calls() + history.calls() +
                presence.calls() + users.calls(),
            6);
  EXPECT_EQ(published.Wait().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(listened.Wait().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(pushed.Wait().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(history.Wait().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(presence.Wait().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(users.Wait().status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RedisBrokerTest, SilentRedisCountsAsLostAndTheBrokerReconnects) {
  absl::StatusOr<std::unique_ptr<testing::TcpProxy>> proxy =
      testing::TcpProxy::Start(redis_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  RedisBrokerOptions options = Options();
  options.address = absl::StrCat("127.0.0.1:", (*proxy)->port());
  options.command_timeout = absl::Seconds(1);
  TestNode& node = AddNode(options);
  ASSERT_TRUE(Listen(*node.broker, "ch").ok());
  const uint64_t connects = node.redis().stats().connects;
  (*proxy)->FreezeAll();

  absl::StatusOr<Position> p = Publish(*node.broker, "ch", "lost", HistoryOptions{});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnavailable) << p.status();
  // Both connections given up (the subscriber's after an unanswered PING) and made again.
  ASSERT_TRUE(node.redis().AwaitStats(
      [connects](const RedisBroker::Stats& s) { return s.connects >= connects + 2 && s.connected; },
      kTimeout));
  p = Publish(*node.broker, "ch", "through", HistoryOptions{});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(Data(node.events->WaitPublications(1)), ElementsAre("through"));
}

TEST_F(RedisBrokerTest, RedisRestartGivesErrorsThenRecovers) {
  TestNode& a = AddNode();
  TestNode& b = AddNode();
  const HistoryOptions history{10, absl::ZeroDuration()};
  ASSERT_TRUE(Listen(*a.broker, "ch").ok());
  a.broker->AddPresence("room", Client("a1"));
  absl::StatusOr<Position> before = Publish(*b.broker, "ch", "before", history);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_THAT(Data(a.events->WaitPublications(1)), ElementsAre("before"));

  EXPECT_EQ(a.events->resumes(), 0);  // the first connection is no resume
  const uint64_t a_lost = a.redis().stats().disconnects;
  const uint64_t b_lost = b.redis().stats().disconnects;
  redis_->Kill();
  absl::StatusOr<Position> lost = Publish(*b.broker, "ch", "lost", history);
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable) << lost.status();
  EXPECT_EQ(Presence(*b.broker, "room").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(SendPush(*b.broker, Target::kAll, "", "{}").code(), absl::StatusCode::kUnavailable);
  // Not subscribed while Redis is away (yet counted: the subscription comes back with Redis).
  ASSERT_TRUE(
      a.redis().AwaitStats([](const RedisBroker::Stats& s) { return !s.connected; }, kTimeout));
  EXPECT_EQ(Listen(*a.broker, "later").code(), absl::StatusCode::kUnavailable);

  // Both nodes saw both their connections go (idle ones too), so being connected again below
  // means connected to the new Redis.
  for (auto [node, lost_before] : {std::pair{&a, a_lost}, std::pair{&b, b_lost}}) {
    ASSERT_TRUE(node->redis().AwaitStats(
        [n = lost_before](const RedisBroker::Stats& s) { return s.disconnects >= n + 2; },
        kTimeout));
  }
  ASSERT_TRUE(redis_->Restart().ok());
  ASSERT_TRUE(a.redis().WaitConnected(kTimeout));
  ASSERT_TRUE(b.redis().WaitConnected(kTimeout));
  // Each node is told its delivery was interrupted, once it is subscribed again.
  EXPECT_TRUE(a.events->WaitResumes(1));
  EXPECT_TRUE(b.events->WaitResumes(1));

  // A new Redis: a new epoch, offsets from 1; what came before cannot be recovered.
  absl::StatusOr<Position> after = Publish(*b.broker, "ch", "after", history);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->offset, 1u);
  EXPECT_NE(after->epoch, before->epoch);
  ASSERT_TRUE(Publish(*b.broker, "later", "later too", history).ok());
  EXPECT_THAT(Data(a.events->WaitPublications(3)), ElementsAre("before", "after", "later too"));
  absl::StatusOr<HistoryResult> r = History(*b.broker, "ch", *before, history);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->recovered);

  // The node put its presence back on reconnecting, before anything sent afterwards.
  ASSERT_TRUE(Presence(*a.broker, "room").ok());
  absl::StatusOr<std::vector<ClientInfo>> in = Presence(*b.broker, "room");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_THAT(Sessions(*in), ElementsAre("a1"));
}

TEST_F(RedisBrokerTest, ScriptsFlushedFromRedisAreSentAgain) {
  TestNode& node = AddNode();
  const HistoryOptions history{10, absl::ZeroDuration()};
  ASSERT_TRUE(Publish(*node.broker, "ch", "1", history).ok());
  redisContext* admin = redisConnect("127.0.0.1", redis_->port());
  ASSERT_NE(admin, nullptr);
  ASSERT_EQ(admin->err, 0) << admin->errstr;
  auto* reply = static_cast<redisReply*>(redisCommand(admin, "SCRIPT FLUSH"));
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->type, REDIS_REPLY_STATUS);
  freeReplyObject(reply);
  redisFree(admin);

  absl::StatusOr<Position> p = Publish(*node.broker, "ch", "2", history);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->offset, 2u);
  absl::StatusOr<HistoryResult> r = History(*node.broker, "ch", Position{0, p->epoch}, history);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Data(r->publications), ElementsAre("1", "2"));
}

TEST(RedisBrokerConfigTest, StartRejectsABadAddressAndAnAbsentRedis) {
  Recorder events;
  RedisBrokerOptions options;
  options.address = "no-port";
  RedisBroker bad(options);
  EXPECT_EQ(bad.Start(&events).code(), absl::StatusCode::kInvalidArgument);

  // Nobody listens on a port just taken from a server that is gone.
  absl::StatusOr<std::unique_ptr<testing::RedisServer>> server = testing::RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  options.address = (*server)->address();
  (*server)->Kill();
  options.connect_timeout = absl::Milliseconds(300);
  RedisBroker absent(options);
  EXPECT_EQ(absent.Start(&events).code(), absl::StatusCode::kUnavailable);
}

TEST(RedisBrokerConfigTest, OptionsFromConfig) {
  v1::BrokerConfig config;
  config::ApplyDefaults(&config);
  RedisBrokerOptions options = RedisBrokerOptions::FromConfig(config);
  EXPECT_EQ(options.address, "127.0.0.1:6379");
  EXPECT_EQ(options.prefix, "bridge");
  EXPECT_EQ(options.presence_ttl, absl::Seconds(30));
  config.set_redis_address("unix:/run/redis.sock");
  config.set_redis_prefix("prod");
  config.set_presence_ttl_ms(1500);
  options = RedisBrokerOptions::FromConfig(config);
  EXPECT_EQ(options.address, "unix:/run/redis.sock");
  EXPECT_EQ(options.prefix, "prod");
  EXPECT_EQ(options.presence_ttl, absl::Milliseconds(1500));
}

}  // namespace
}  // namespace bridge::pubsub
