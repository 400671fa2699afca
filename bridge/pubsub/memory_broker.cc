#include "bridge/pubsub/memory_broker.h"

#include <utility>

#include "bridge/common/random_id.h"

namespace bridge::pubsub {
namespace {

constexpr uint64_t kSweepEvery = 1024;

absl::Status Stopped() { return absl::UnavailableError("the broker is stopped"); }

}  // namespace

std::string NewEpoch() { return RandomHex(8); }

MemoryBroker::MemoryBroker(Clock* clock) : clock_(clock) {}

absl::Status MemoryBroker::Start(BrokerEvents* events) {
  absl::MutexLock lock(&mu_);
  events_ = events;
  return absl::OkStatus();
}

void MemoryBroker::Stop() {
  absl::MutexLock lock(&mu_);
  events_ = nullptr;
}

void MemoryBroker::Trim(Stream& stream, const HistoryOptions& history, absl::Time now) {
  while (stream.entries.size() > history.size) stream.entries.pop_front();
  if (history.ttl > absl::ZeroDuration()) {
    while (!stream.entries.empty() && now - stream.entries.front().at > history.ttl) {
      stream.entries.pop_front();
    }
  }
}

void MemoryBroker::SweepLocked(absl::Time now) {
  for (auto it = streams_.begin(); it != streams_.end();) {
    const Stream& s = it->second;
    // A stream keeps its epoch and offset while anyone may still recover from it: for its
    // history's ttl after the last publish (an hour when the history has no age limit).
    const absl::Duration keep = s.ttl > absl::ZeroDuration() ? s.ttl : absl::Hours(1);
    if (!listens_.contains(it->first) && now - s.last_publish > keep) {
      streams_.erase(it++);
    } else {
      ++it;
    }
  }
}

void MemoryBroker::Publish(Publication publication, const HistoryOptions& history,
                           Done<Position> done) {
  absl::StatusOr<Position> position = Stopped();
  {
    absl::MutexLock lock(&mu_);
    if (events_ != nullptr) {
      const absl::Time now = clock_->Now();
      Stream& stream = streams_[publication.channel];
      if (stream.epoch.empty()) stream.epoch = NewEpoch();
      publication.offset = ++stream.offset;
      publication.epoch = stream.epoch;
      stream.last_publish = now;
      stream.ttl = history.ttl;
      position = Position{publication.offset, publication.epoch};
      if (history.size > 0) {
        stream.entries.push_back({publication, now});
      }
      Trim(stream, history, now);
      if (listens_.contains(publication.channel)) events_->OnPublication(publication);
      if (++publishes_ % kSweepEvery == 0) SweepLocked(now);
    }
  }
  done(std::move(position));
}

void MemoryBroker::Listen(const std::string& channel, StatusDone done) {
  {
    absl::MutexLock lock(&mu_);
    ++listens_[channel];
  }
  done(absl::OkStatus());
}

void MemoryBroker::Unlisten(const std::string& channel) {
  absl::MutexLock lock(&mu_);
  auto it = listens_.find(channel);
  if (it != listens_.end() && --it->second <= 0) listens_.erase(it);
}

void MemoryBroker::History(const std::string& channel, std::optional<Position> since,
                           const HistoryOptions& history, Done<HistoryResult> done) {
  HistoryResult result;
  {
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(channel);
    if (it == streams_.end()) {
      // A stream never published to (or forgotten): a fresh epoch, so a later `since` from a
      // forgotten life does not match.
      it = streams_.emplace(channel, Stream{}).first;
      it->second.epoch = NewEpoch();
      it->second.last_publish = clock_->Now();
      it->second.ttl = history.ttl;
    }
    Stream& stream = it->second;
    Trim(stream, history, clock_->Now());
    result.top = {stream.offset, stream.epoch};
    if (since.has_value()) {
      if (since->epoch == stream.epoch && since->offset <= stream.offset) {
        // Everything after since.offset must still be held: the oldest entry is at most
        // since.offset + 1 (or nothing is missing at all).
        const uint64_t first_held =
            stream.entries.empty() ? stream.offset + 1 : stream.entries.front().publication.offset;
        if (since->offset + 1 >= first_held) {
          result.recovered = true;
          for (const Entry& e : stream.entries) {
            if (e.publication.offset > since->offset) result.publications.push_back(e.publication);
          }
        }
      }
    }
  }
  done(std::move(result));
}

void MemoryBroker::SendPush(Push push, StatusDone done) {
  bool delivered = false;
  {
    absl::MutexLock lock(&mu_);
    if (events_ != nullptr) {
      events_->OnPush(push);
      delivered = true;
    }
  }
  done(delivered ? absl::OkStatus() : Stopped());
}

void MemoryBroker::SendDisconnect(DisconnectOrder order, StatusDone done) {
  bool delivered = false;
  {
    absl::MutexLock lock(&mu_);
    if (events_ != nullptr) {
      events_->OnDisconnect(order);
      delivered = true;
    }
  }
  done(delivered ? absl::OkStatus() : Stopped());
}

void MemoryBroker::AddPresence(const std::string& channel, const ClientInfo& client) {
  absl::MutexLock lock(&mu_);
  presence_[channel][client.session_id] = client;
}

void MemoryBroker::RemovePresence(const std::string& channel, const std::string& session_id) {
  absl::MutexLock lock(&mu_);
  auto it = presence_.find(channel);
  if (it == presence_.end()) return;
  it->second.erase(session_id);
  if (it->second.empty()) presence_.erase(it);
}

void MemoryBroker::Presence(const std::string& channel, Done<std::vector<ClientInfo>> done) {
  std::vector<ClientInfo> clients;
  {
    absl::MutexLock lock(&mu_);
    auto it = presence_.find(channel);
    if (it != presence_.end()) {
      for (const auto& [id, client] : it->second) clients.push_back(client);
    }
  }
  done(std::move(clients));
}

void MemoryBroker::AddUserConnection(const ClientInfo& client, Done<size_t> done) {
  size_t count = 0;
  {
    absl::MutexLock lock(&mu_);
    auto& sessions = users_[client.user_id];
    sessions[client.session_id] = client;
    count = sessions.size();
  }
  done(count);
}

void MemoryBroker::RemoveUserConnection(const std::string& user_id, const std::string& session_id) {
  absl::MutexLock lock(&mu_);
  auto it = users_.find(user_id);
  if (it == users_.end()) return;
  it->second.erase(session_id);
  if (it->second.empty()) users_.erase(it);
}

void MemoryBroker::UserConnections(const std::string& user_id, Done<std::vector<ClientInfo>> done) {
  std::vector<ClientInfo> clients;
  {
    absl::MutexLock lock(&mu_);
    auto it = users_.find(user_id);
    if (it != users_.end()) {
      for (const auto& [id, client] : it->second) clients.push_back(client);
    }
  }
  done(std::move(clients));
}

size_t MemoryBroker::stream_count() {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

}  // namespace bridge::pubsub
