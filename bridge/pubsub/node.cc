#include "bridge/pubsub/node.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bridge/common/random_id.h"
#include "bridge/common/strings.h"
#include "bridge/protocol/error_table.h"

namespace bridge::pubsub {
namespace {

std::string NewNodeId() { return "n-" + RandomHex(8); }

bool PatternMatches(std::string_view pattern, std::string_view channel) {
  if (!pattern.empty() && pattern.back() == '*') {
    return absl::StartsWith(Sv(channel), Sv(pattern.substr(0, pattern.size() - 1)));
  }
  return pattern == channel;
}

}  // namespace

// Publications of fed channels come from feed_broker_; they are fanned out like any other.
class Node::FeedEvents final : public BrokerEvents {
 public:
  explicit FeedEvents(Node* node) : node_(node) {}
  void OnPublication(const Publication& publication) override { node_->OnPublication(publication); }
  void OnPush(const Push&) override {}
  void OnDisconnect(const DisconnectOrder&) override {}

 private:
  Node* const node_;
};

Node::Node(const v1::BridgeConfig& config, std::unique_ptr<Broker> broker, ChannelFeeds* feeds,
           Clock* clock)
    : config_(config),
      broker_(std::move(broker)),
      feeds_(feeds),
      clock_(clock),
      node_id_(NewNodeId()),
      feed_events_(std::make_unique<FeedEvents>(this)),
      feed_broker_(clock) {}

Node::~Node() { Stop(); }

absl::Status Node::Start() {
  absl::Status status = feed_broker_.Start(feed_events_.get());
  if (!status.ok()) return status;
  return broker_->Start(this);
}

void Node::Stop() {
  std::vector<std::unique_ptr<ChannelFeeds::Feed>> feeds;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& [name, channel] : channels_) {
      if (channel.feed != nullptr) feeds.push_back(std::move(channel.feed));
    }
  }
  for (auto& feed : feeds) feed->Cancel();
  broker_->Stop();
  feed_broker_.Stop();
}

absl::StatusOr<ChannelRules> Node::RulesFor(std::string_view channel) const {
  const v1::ChannelsConfig& channels = config_.channels();
  if (channel.empty()) return absl::InvalidArgumentError("the channel name is empty");
  if (channel.size() > channels.max_channel_length()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the channel name is longer than ", channels.max_channel_length(), " bytes"));
  }
  for (unsigned char c : channel) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("the channel name has a control character");
    }
  }
  ChannelRules rules;
  rules.history.size = channels.history_size();
  rules.history.ttl = absl::Milliseconds(channels.history_ttl_ms());
  for (const v1::ChannelNamespace& ns : channels.namespaces()) {
    if (!PatternMatches(ns.pattern(), channel)) continue;
    if (ns.has_history_size()) rules.history.size = ns.history_size();
    if (ns.has_history_ttl_ms()) rules.history.ttl = absl::Milliseconds(ns.history_ttl_ms());
    if (ns.has_presence()) rules.presence = ns.presence();
    rules.method = ns.method();
    return rules;
  }
  if (channels.require_namespace()) {
    return absl::NotFoundError(absl::StrCat("no channel namespace matches ", Sv(channel)));
  }
  return rules;
}

Broker& Node::BrokerFor(const ChannelRules& rules) {
  return rules.method.empty() ? *broker_ : feed_broker_;
}

void Node::AddSession(const ClientInfo& client, std::shared_ptr<Subscriber> subscriber) {
  absl::MutexLock lock(&mu_);
  SessionEntry& entry = sessions_[client.session_id];
  entry.client = client;
  entry.subscriber = std::move(subscriber);
  if (!client.user_id.empty()) users_[client.user_id].insert(client.session_id);
}

void Node::AddUserConnection(const ClientInfo& client, Done<size_t> done) {
  broker_->AddUserConnection(client, std::move(done));
}

void Node::RemoveSession(const std::string& session_id) {
  ClientInfo client;
  std::vector<std::pair<std::string, ChannelRules>> left;  // channels with presence to remove
  std::vector<std::tuple<std::string, ChannelRules, std::unique_ptr<ChannelFeeds::Feed>>> closing;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return;
    client = it->second.client;
    for (const std::string& channel : it->second.channels) {
      ChannelRules rules;
      std::unique_ptr<ChannelFeeds::Feed> feed;
      auto ch = channels_.find(channel);
      if (ch != channels_.end()) left.emplace_back(channel, ch->second.rules);
      if (LeaveLocked(session_id, channel, &rules, &feed)) {
        closing.emplace_back(channel, std::move(rules), std::move(feed));
      }
    }
    sessions_.erase(it);
    if (!client.user_id.empty()) {
      auto user = users_.find(client.user_id);
      if (user != users_.end()) {
        user->second.erase(session_id);
        if (user->second.empty()) users_.erase(user);
      }
    }
  }
  for (const auto& [channel, rules] : left) {
    if (rules.presence) broker_->RemovePresence(channel, session_id);
  }
  for (auto& [channel, rules, feed] : closing) CloseChannel(channel, rules, std::move(feed));
  if (!client.user_id.empty()) broker_->RemoveUserConnection(client.user_id, session_id);
}

bool Node::LeaveLocked(const std::string& session_id, const std::string& channel,
                       ChannelRules* rules, std::unique_ptr<ChannelFeeds::Feed>* feed) {
  auto ch = channels_.find(channel);
  if (ch == channels_.end()) return false;
  ch->second.sessions.erase(session_id);
  if (!ch->second.sessions.empty() || ch->second.state != ChannelState::kOpen) return false;
  *rules = ch->second.rules;
  *feed = std::move(ch->second.feed);
  channels_.erase(ch);
  return true;
}

void Node::CloseChannel(const std::string& channel, const ChannelRules& rules,
                        std::unique_ptr<ChannelFeeds::Feed> feed) {
  if (feed != nullptr) feed->Cancel();
  BrokerFor(rules).Unlisten(channel);
}

void Node::Subscribe(const std::string& session_id, const std::string& channel,
                     const std::string& params_json, std::optional<Position> since,
                     Done<HistoryResult> done) {
  absl::StatusOr<ChannelRules> rules = RulesFor(channel);
  if (!rules.ok()) {
    done(rules.status());
    return;
  }
  if (!rules->method.empty() && feeds_ == nullptr) {
    done(absl::UnavailableError(absl::StrCat("channel ", channel, " has no feed")));
    return;
  }
  // What runs once the channel is open: presence, then the history.
  auto reply = std::make_shared<Done<HistoryResult>>(std::move(done));
  const bool fed = !rules->method.empty();
  auto opener = std::make_shared<bool>(false);  // this subscribe opens the channel
  auto then = [this, session_id, channel, rules = *rules, since, reply, fed,
               opener](absl::Status status) mutable {
    if (!status.ok()) {
      (*reply)(status);  // OnChannelOpened took the session out of the channel
      return;
    }
    ClientInfo who;
    {
      absl::MutexLock lock(&mu_);
      auto it = sessions_.find(session_id);
      if (it == sessions_.end() || !it->second.channels.contains(channel)) {
        (*reply)(absl::CancelledError("the session left the channel"));
        return;
      }
      who = it->second.client;
      auto ch = channels_.find(channel);
      if (fed && *opener && !since.has_value() && ch != channels_.end()) {
        since = ch->second.opened_at;
      }
    }
    if (rules.presence) {
      broker_->AddPresence(channel, who);
      // Left meanwhile (RemoveSession or Unsubscribe ran between the check above and the add):
      // take the entry back, or it would stay (the broker keeps its own node's entries alive).
      bool still_in;
      {
        absl::ReaderMutexLock lock(&mu_);
        auto it = sessions_.find(session_id);
        still_in = it != sessions_.end() && it->second.channels.contains(channel);
      }
      if (!still_in) broker_->RemovePresence(channel, session_id);
    }
    BrokerFor(rules).History(channel, since, rules.history, std::move(*reply));
  };
  absl::Status refusal;
  bool open_now = false;
  bool ready = false;
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    auto session = sessions_.find(session_id);
    if (stopped_) {
      refusal = absl::UnavailableError("the bridge is stopping");
    } else if (session == sessions_.end()) {
      refusal = absl::FailedPreconditionError("the session is not confirmed");
    } else if (session->second.channels.contains(channel)) {
      refusal = absl::AlreadyExistsError(absl::StrCat("already subscribed to ", channel));
    } else if (session->second.channels.size() >= config_.channels().max_channels_per_session()) {
      refusal =
          protocol::WithCategory(absl::ResourceExhaustedError(absl::StrCat(
                                     "a session may be in at most ",
                                     config_.channels().max_channels_per_session(), " channels")),
                                 v1::ERROR_CATEGORY_LIMIT_EXCEEDED);
    } else {
      session->second.channels.insert(channel);
      auto [it, created] = channels_.try_emplace(channel);
      ChannelEntry& entry = it->second;
      entry.sessions.insert(session_id);
      if (created) {
        entry.rules = *rules;
        entry.generation = ++next_generation_;
        generation = entry.generation;
        open_now = true;
        *opener = true;
      }
      if (entry.state == ChannelState::kOpen) {
        ready = true;
      } else {
        entry.waiters.push_back(then);
      }
    }
  }
  if (!refusal.ok()) {
    (*reply)(refusal);
    return;
  }
  if (open_now) OpenChannel(channel, *rules, params_json, generation);
  if (ready) then(absl::OkStatus());
}

void Node::OpenChannel(const std::string& channel, const ChannelRules& rules,
                       const std::string& params_json, uint64_t generation) {
  if (rules.method.empty()) {
    broker_->Listen(channel, [this, channel, generation](absl::Status status) {
      OnChannelOpened(channel, generation, std::move(status));
    });
    return;
  }
  // A fed channel: its stream lives in feed_broker_, filled by the upstream's replies.
  feed_broker_.Listen(channel, [](absl::Status) {});
  std::optional<Position> opened_at;
  feed_broker_.History(channel, std::nullopt, rules.history,
                       [&opened_at](absl::StatusOr<HistoryResult> r) {
                         if (r.ok()) opened_at = r->top;  // MemoryBroker answers inline
                       });
  {
    absl::MutexLock lock(&mu_);
    auto it = channels_.find(channel);
    if (it != channels_.end() && it->second.generation == generation) {
      it->second.opened_at = opened_at;
    }
  }
  const HistoryOptions history = rules.history;
  absl::StatusOr<std::unique_ptr<ChannelFeeds::Feed>> feed = feeds_->Open(
      rules.method, channel, params_json,
      [this, channel, history](std::string json) {
        Publication publication;
        publication.channel = channel;
        publication.data = std::move(json);
        feed_broker_.Publish(std::move(publication), history, [](absl::StatusOr<Position>) {});
      },
      [this, channel, generation](absl::Status status) {
        OnFeedEnded(channel, generation, std::move(status));
      });
  if (!feed.ok()) {
    feed_broker_.Unlisten(channel);
    OnChannelOpened(channel, generation, feed.status());
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = channels_.find(channel);
    if (it != channels_.end() && it->second.generation == generation) {
      it->second.feed = *std::move(feed);
    }
  }
  // A feed that ended before it was stored was cancelled by its own end; nothing to keep.
  OnChannelOpened(channel, generation, absl::OkStatus());
}

void Node::OnChannelOpened(const std::string& channel, uint64_t generation, absl::Status status) {
  std::vector<std::function<void(absl::Status)>> waiters;
  ChannelRules rules;
  std::unique_ptr<ChannelFeeds::Feed> feed;
  bool close = false;
  bool ended = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = channels_.find(channel);
    if (it == channels_.end() || it->second.generation != generation) return;
    ChannelEntry& entry = it->second;
    ended = entry.feed_ended;
    waiters = std::move(entry.waiters);
    entry.waiters.clear();
    if (!status.ok()) {
      // Nobody can be in a channel that did not open: the waiters leave it (through
      // Unsubscribe, which finds it gone).
      for (const std::string& session_id : entry.sessions) {
        auto session = sessions_.find(session_id);
        if (session != sessions_.end()) session->second.channels.erase(channel);
      }
      channels_.erase(it);
    } else {
      entry.state = ChannelState::kOpen;
      if (entry.sessions.empty()) {
        rules = entry.rules;
        feed = std::move(entry.feed);
        channels_.erase(it);
        close = true;
      }
    }
  }
  if (close) CloseChannel(channel, rules, std::move(feed));
  for (auto& waiter : waiters) waiter(status);
  if (ended && status.ok()) OnFeedEnded(channel, generation, absl::OkStatus());
}

void Node::OnFeedEnded(const std::string& channel, uint64_t generation, absl::Status status) {
  std::vector<std::shared_ptr<Subscriber>> to;
  std::vector<std::string> left;
  ChannelRules rules;
  {
    absl::MutexLock lock(&mu_);
    auto it = channels_.find(channel);
    if (it == channels_.end() || it->second.generation != generation) {
      return;  // closed already (the feed was cancelled)
    }
    if (it->second.state != ChannelState::kOpen) {
      // Ended before the channel finished opening: its subscribers hear of it once they have
      // their answer (OnChannelOpened).
      it->second.feed_ended = true;
      return;
    }
    rules = it->second.rules;
    for (const std::string& session_id : it->second.sessions) {
      auto session = sessions_.find(session_id);
      if (session == sessions_.end()) continue;
      session->second.channels.erase(channel);
      to.push_back(session->second.subscriber);
      left.push_back(session_id);
    }
    channels_.erase(it);
  }
  feed_broker_.Unlisten(channel);
  if (rules.presence) {
    for (const std::string& session_id : left) broker_->RemovePresence(channel, session_id);
  }
  for (const auto& subscriber : to) subscriber->OnUnsubscribed(channel);
}

bool Node::Unsubscribe(const std::string& session_id, const std::string& channel) {
  ChannelRules rules;
  std::unique_ptr<ChannelFeeds::Feed> feed;
  bool close = false;
  bool presence = false;
  {
    absl::MutexLock lock(&mu_);
    auto session = sessions_.find(session_id);
    if (session == sessions_.end() || !session->second.channels.erase(channel)) return false;
    auto ch = channels_.find(channel);
    presence = ch != channels_.end() && ch->second.rules.presence;
    close = LeaveLocked(session_id, channel, &rules, &feed);
  }
  if (presence) broker_->RemovePresence(channel, session_id);
  if (close) CloseChannel(channel, rules, std::move(feed));
  return true;
}

void Node::Publish(const std::string& channel, std::string data, std::string exclude_session,
                   Done<Position> done) {
  absl::StatusOr<ChannelRules> rules = RulesFor(channel);
  if (!rules.ok()) {
    done(rules.status());
    return;
  }
  if (!rules->method.empty()) {
    done(absl::FailedPreconditionError(absl::StrCat("channel ", channel, " is fed by ",
                                                    rules->method, "; it takes no publishes")));
    return;
  }
  Publication publication;
  publication.channel = channel;
  publication.data = std::move(data);
  publication.exclude_session = std::move(exclude_session);
  broker_->Publish(std::move(publication), rules->history, std::move(done));
}

void Node::History(const std::string& channel, std::optional<Position> since,
                   Done<HistoryResult> done) {
  absl::StatusOr<ChannelRules> rules = RulesFor(channel);
  if (!rules.ok()) {
    done(rules.status());
    return;
  }
  BrokerFor(*rules).History(channel, std::move(since), rules->history, std::move(done));
}

void Node::OnDeliveryResumed() {
  std::vector<std::pair<std::shared_ptr<Subscriber>, std::string>> to;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [name, channel] : channels_) {
      if (!channel.rules.method.empty()) continue;  // fed here, never through the broker
      for (const std::string& session_id : channel.sessions) {
        auto session = sessions_.find(session_id);
        if (session != sessions_.end()) to.emplace_back(session->second.subscriber, name);
      }
    }
  }
  for (const auto& [subscriber, channel] : to) subscriber->OnCheckPosition(channel);
}

void Node::Presence(const std::string& channel, Done<std::vector<ClientInfo>> done) {
  absl::StatusOr<ChannelRules> rules = RulesFor(channel);
  if (!rules.ok()) {
    done(rules.status());
    return;
  }
  if (!rules->presence) {
    done(absl::FailedPreconditionError(absl::StrCat("channel ", channel, " keeps no presence")));
    return;
  }
  broker_->Presence(channel, std::move(done));
}

void Node::DeliverToSessions(const std::vector<std::shared_ptr<Subscriber>>& to,
                             const std::function<void(Subscriber&)>& deliver) {
  for (const auto& subscriber : to) deliver(*subscriber);
}

void Node::OnPublication(const Publication& publication) {
  std::vector<std::shared_ptr<Subscriber>> to;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = channels_.find(publication.channel);
    if (it == channels_.end()) return;
    to.reserve(it->second.sessions.size());
    // The excluded session gets it too, to keep its offsets whole; it does not pass it on.
    for (const std::string& session_id : it->second.sessions) {
      auto session = sessions_.find(session_id);
      if (session != sessions_.end()) to.push_back(session->second.subscriber);
    }
  }
  if (to.empty()) return;
  publications_delivered_.fetch_add(to.size(), std::memory_order_relaxed);
  auto copy = std::make_shared<Publication>(publication);
  copy->encoded = std::make_shared<EncodedPublication>();  // encoded once, for all of `to`
  std::shared_ptr<const Publication> shared = std::move(copy);
  DeliverToSessions(to, [&](Subscriber& s) { s.OnPublication(shared); });
}

void Node::OnPush(const Push& push) {
  std::vector<std::shared_ptr<Subscriber>> to;
  {
    absl::ReaderMutexLock lock(&mu_);
    switch (push.target) {
      case Target::kAll:
        for (const auto& [id, session] : sessions_) to.push_back(session.subscriber);
        break;
      case Target::kSession: {
        auto it = sessions_.find(push.id);
        if (it != sessions_.end()) to.push_back(it->second.subscriber);
        break;
      }
      case Target::kUser: {
        auto user = users_.find(push.id);
        if (user == users_.end()) break;
        for (const std::string& id : user->second) {
          auto it = sessions_.find(id);
          if (it != sessions_.end()) to.push_back(it->second.subscriber);
        }
        break;
      }
    }
  }
  pushes_delivered_.fetch_add(to.size(), std::memory_order_relaxed);
  DeliverToSessions(to, [&](Subscriber& s) { s.OnPush(push.data); });
}

void Node::OnDisconnect(const DisconnectOrder& order) {
  std::vector<std::shared_ptr<Subscriber>> to;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (order.target == Target::kSession) {
      auto it = sessions_.find(order.id);
      if (it != sessions_.end()) to.push_back(it->second.subscriber);
    } else if (order.target == Target::kUser) {
      auto user = users_.find(order.id);
      if (user != users_.end()) {
        for (const std::string& id : user->second) {
          auto it = sessions_.find(id);
          if (it != sessions_.end()) to.push_back(it->second.subscriber);
        }
      }
    } else {
      for (const auto& [id, session] : sessions_) to.push_back(session.subscriber);
    }
  }
  DeliverToSessions(to, [&](Subscriber& s) { s.OnDisconnect(order.code, order.reason); });
}

std::vector<Node::LocalSession> Node::ListSessions(const std::string& user_id) const {
  std::vector<LocalSession> out;
  std::vector<std::shared_ptr<Subscriber>> subscribers;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [id, session] : sessions_) {
      if (!user_id.empty() && session.client.user_id != user_id) continue;
      LocalSession local;
      local.client = session.client;
      local.channels.assign(session.channels.begin(), session.channels.end());
      std::sort(local.channels.begin(), local.channels.end());
      out.push_back(std::move(local));
      subscribers.push_back(session.subscriber);
    }
  }
  for (size_t i = 0; i < out.size(); ++i) out[i].counts = subscribers[i]->counts();
  std::sort(out.begin(), out.end(), [](const LocalSession& a, const LocalSession& b) {
    return a.client.session_id < b.client.session_id;
  });
  return out;
}

Node::Counts Node::counts() const {
  Counts counts;
  absl::ReaderMutexLock lock(&mu_);
  counts.sessions = sessions_.size();
  counts.users = users_.size();
  counts.channels = channels_.size();
  for (const auto& [id, session] : sessions_) counts.subscriptions += session.channels.size();
  counts.publications_delivered = publications_delivered_.load(std::memory_order_relaxed);
  counts.pushes_delivered = pushes_delivered_.load(std::memory_order_relaxed);
  return counts;
}

}  // namespace bridge::pubsub
