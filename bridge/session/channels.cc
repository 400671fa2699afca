// The session's side of channels and push: subscribe / unsubscribe, publications in offset
// order without repeats, recovery with `since`, pushes, and disconnect orders from
// BridgeControl. The node (pubsub/node.h) does the fan-out; this file keeps per channel what
// the client has been given.
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/common/log.h"
#include "bridge/common/strings.h"
#include "bridge/protocol/error_table.h"
#include "bridge/session/session.h"

namespace bridge::session {
namespace {

namespace cc = protocol::close_code;
using v1::Frame;

// How many publications a channel may collect while its subscribe is being answered.
constexpr size_t kMaxHeldPublications = 4096;

}  // namespace

class Session::Link final : public pubsub::Subscriber {
 public:
  Link(Session* session, std::shared_ptr<Executor> executor, std::shared_ptr<SessionStats> stats)
      : session_(session), executor_(std::move(executor)), stats_(std::move(stats)) {}

  void OnPublication(std::shared_ptr<const pubsub::Publication> publication) override {
    executor_->Post([s = session_, p = std::move(publication)] { s->OnPublication(*p); });
  }
  void OnPush(const std::string& data) override {
    executor_->Post([s = session_, data] { s->OnPush(data); });
  }
  void OnDisconnect(int code, const std::string& reason) override {
    executor_->Post([s = session_, code, reason] { s->OnDisconnectOrder(code, reason); });
  }
  void OnUnsubscribed(const std::string& channel) override {
    executor_->Post([s = session_, channel] { s->OnUnsubscribedByNode(channel); });
  }
  void OnCheckPosition(const std::string& channel) override {
    executor_->Post([s = session_, channel] { s->OnCheckPosition(channel); });
  }
  Counts counts() const override {
    Counts c;
    c.frames_in = stats_->frames_in.load(std::memory_order_relaxed);
    c.frames_out = stats_->frames_out.load(std::memory_order_relaxed);
    c.calls = stats_->calls.load(std::memory_order_relaxed);
    return c;
  }

 private:
  Session* const session_;  // the executor drops tasks of a session that is gone
  const std::shared_ptr<Executor> executor_;
  const std::shared_ptr<SessionStats> stats_;
};

std::shared_ptr<pubsub::Subscriber> Session::MakeLink() {
  return std::make_shared<Link>(this, transport_->executor(), stats_);
}

pubsub::ClientInfo Session::ClientInfoNow() const {
  pubsub::ClientInfo info;
  info.session_id = conversation_id_;
  info.user_id = identity_.has_value() ? identity_->user_id : "";
  info.client_id = client_id_;
  info.connected_at_unix_ms = absl::ToUnixMillis(connected_at_);
  return info;
}

void Session::LeaveNode() {
  if (options_.node == nullptr) return;
  if (link_ != nullptr) {
    options_.node->RemoveSession(conversation_id_);  // its user connection included
    link_.reset();
  } else if (user_counted_ && identity_.has_value()) {
    options_.node->RemoveUserConnection(identity_->user_id, conversation_id_);
  }
  user_counted_ = false;
  channels_.clear();
}

void Session::RefuseSubscribe(const std::string& channel, v1::ErrorCategory category,
                              std::string message) {
  metrics_->subscriptions_refused.fetch_add(1, std::memory_order_relaxed);
  // The error names the channel; `unsubscribed` tells which subscribe it answers.
  SendError(category, absl::StrCat("channel ", channel, ": ", message), "channel");
  SendChannelState(channel, /*subscribed=*/false, nullptr, std::nullopt);
}

void Session::HandleSubscribe(const v1::Subscribe& subscribe) {
  const std::string& channel = subscribe.channel();
  if (options_.node == nullptr) {
    RefuseSubscribe(channel, v1::ERROR_CATEGORY_NOT_FOUND, "channels are not enabled");
    return;
  }
  if (draining_) {
    RefuseSubscribe(channel, v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, "the bridge is draining");
    return;
  }
  if (identity_.has_value() && !auth::ChannelAllowed(*identity_, channel)) {
    metrics_->permission_denials.fetch_add(1, std::memory_order_relaxed);
    RefuseSubscribe(channel, v1::ERROR_CATEGORY_PERMISSION_DENIED,
                    absl::StrCat(identity_->user_id, " may not subscribe"));
    return;
  }
  if (channels_.contains(channel)) {
    // An error alone: the subscription stands (an `unsubscribed` would say it ended).
    metrics_->subscriptions_refused.fetch_add(1, std::memory_order_relaxed);
    SendError(v1::ERROR_CATEGORY_INVALID_ARGUMENT,
              absl::StrCat("channel ", channel, ": already subscribed"), "channel");
    return;
  }
  std::optional<pubsub::Position> since;
  if (subscribe.has_since() && !subscribe.since().epoch().empty()) {
    since = pubsub::Position{subscribe.since().offset(), subscribe.since().epoch()};
  }
  // A `since` without an epoch names no position that can be honoured: a plain subscribe,
  // answered with recovered: false so the client knows to refetch.
  channels_[channel].since_asked = subscribe.has_since();
  std::shared_ptr<Executor> executor = transport_->executor();
  options_.node->Subscribe(conversation_id_, channel,
                           subscribe.params().empty() ? "{}" : subscribe.params(), since,
                           [this, executor, channel](absl::StatusOr<pubsub::HistoryResult> result) {
                             executor->Post([this, channel, result = std::move(result)]() mutable {
                               OnSubscribed(channel, std::move(result));
                             });
                           });
}

void Session::OnSubscribed(const std::string& channel,
                           absl::StatusOr<pubsub::HistoryResult> result) {
  if (state_ != State::kConfirmed && state_ != State::kDetached) return;
  auto it = channels_.find(channel);
  if (it == channels_.end() || !it->second.pending || it->second.catching_up) return;
  if (!result.ok()) {
    channels_.erase(it);
    options_.node->Unsubscribe(conversation_id_, channel);  // the history failed after the join
    RefuseSubscribe(channel, protocol::CategoryForStatus(result.status()),
                    std::string(result.status().message()));
    return;
  }
  ChannelSub& sub = it->second;
  sub.pending = false;
  sub.offset = result->top.offset;
  sub.epoch = result->top.epoch;
  SendChannelState(channel, /*subscribed=*/true, &sub,
                   sub.since_asked ? std::optional<bool>(result->recovered) : std::nullopt);
  // What was missed (up to the position just sent), then what arrived while the subscribe was
  // answered and is newer; a publication both have goes out once.
  for (const pubsub::Publication& p : result->publications) SendPublication(p);
  std::vector<std::shared_ptr<const pubsub::Publication>> held = std::move(sub.held);
  sub.held.clear();
  for (const auto& p : held) DeliverPublication(sub, *p);
}

void Session::CatchUp(const std::string& channel, ChannelSub& sub) {
  sub.pending = true;
  sub.catching_up = true;
  std::shared_ptr<Executor> executor = transport_->executor();
  options_.node->History(channel, pubsub::Position{sub.offset, sub.epoch},
                         [this, executor, channel](absl::StatusOr<pubsub::HistoryResult> result) {
                           executor->Post([this, channel, result = std::move(result)]() mutable {
                             OnCaughtUp(channel, std::move(result));
                           });
                         });
}

void Session::OnCaughtUp(const std::string& channel, absl::StatusOr<pubsub::HistoryResult> result) {
  if (state_ != State::kConfirmed && state_ != State::kDetached) return;
  auto it = channels_.find(channel);
  if (it == channels_.end() || !it->second.catching_up) return;
  ChannelSub& sub = it->second;
  sub.pending = false;
  sub.catching_up = false;
  if (result.ok() && result->recovered) {
    for (const pubsub::Publication& p : result->publications) DeliverPublication(sub, p, false);
  } else {
    // What was missed is gone (or the broker cannot say): the gap stays, counted.
    metrics_->channel_gaps.fetch_add(1, std::memory_order_relaxed);
    log::Event(log::Level::kWarn, "channel_gap_not_recovered")
        .Str("channel", channel)
        .Str("conversation", conversation_id_)
        .Str("error",
             result.ok() ? "history no longer holds it" : std::string(result.status().message()));
  }
  std::vector<std::shared_ptr<const pubsub::Publication>> held = std::move(sub.held);
  sub.held.clear();
  for (const auto& p : held) DeliverPublication(sub, *p, false);
}

void Session::OnCheckPosition(const std::string& channel) {
  if (state_ != State::kConfirmed && state_ != State::kDetached) return;
  auto it = channels_.find(channel);
  if (it == channels_.end() || it->second.pending) return;  // an answer is on its way anyway
  CatchUp(channel, it->second);
}

void Session::SendPublication(const pubsub::Publication& publication) {
  auto make = [&publication] {
    Frame frame;
    v1::Publication* out = frame.mutable_publication();
    out->set_channel(publication.channel);
    out->set_offset(publication.offset);
    out->set_epoch(publication.epoch);
    out->set_data(publication.data);
    return frame;
  };
  if (publication.encoded == nullptr) {
    Frame frame = make();
    SendFrame(frame);
    return;
  }
  // Fan-out: the first session to deliver it encodes it; the others share that encoding and
  // add their seq. The frame SendFrame gets says only its kind, for the counters.
  std::shared_ptr<const std::string> unsequenced = publication.encoded->Get(
      static_cast<size_t>(encoding_), [&] { return protocol::EncodeFrame(encoding_, make()); });
  Frame kind;
  kind.mutable_publication();
  SendFrame(kind, unsequenced.get());
}

void Session::SendChannelState(const std::string& channel, bool subscribed, const ChannelSub* sub,
                               std::optional<bool> recovered) {
  Frame frame;
  v1::ChannelState* state = subscribed ? frame.mutable_subscribed() : frame.mutable_unsubscribed();
  state->set_channel(channel);
  if (sub != nullptr) {
    state->set_offset(sub->offset);
    state->set_epoch(sub->epoch);
  }
  if (recovered.has_value()) state->set_recovered(*recovered);
  SendFrame(frame);
}

void Session::DeliverPublication(ChannelSub& sub, const pubsub::Publication& publication,
                                 bool may_catch_up) {
  if (publication.epoch == sub.epoch) {
    if (publication.offset <= sub.offset) return;  // already delivered (recovered, or a repeat)
    if (publication.offset > sub.offset + 1 && may_catch_up) {
      // Some went missing on the way (between instances): fetch them first, hold this one.
      sub.held.push_back(std::make_shared<const pubsub::Publication>(publication));
      CatchUp(publication.channel, sub);
      return;
    }
  }
  sub.offset = publication.offset;
  sub.epoch = publication.epoch;
  if (publication.exclude_session == conversation_id_) return;  // the publisher's own session
  SendPublication(publication);
}

void Session::OnPublication(const pubsub::Publication& publication) {
  if (state_ != State::kConfirmed && state_ != State::kDetached) return;
  auto it = channels_.find(publication.channel);
  if (it == channels_.end()) return;
  ChannelSub& sub = it->second;
  if (sub.pending) {
    if (sub.held.size() < kMaxHeldPublications) {
      sub.held.push_back(std::make_shared<const pubsub::Publication>(publication));
    }
    return;
  }
  DeliverPublication(sub, publication);
}

void Session::HandleUnsubscribe(const v1::Unsubscribe& unsubscribe) {
  const std::string& channel = unsubscribe.channel();
  auto it = channels_.find(channel);
  if (it == channels_.end()) {
    SendError(v1::ERROR_CATEGORY_NOT_FOUND, absl::StrCat("not subscribed to channel ", channel),
              "channel");
    return;
  }
  ChannelSub sub = std::move(it->second);
  channels_.erase(it);
  options_.node->Unsubscribe(conversation_id_, channel);
  SendChannelState(channel, /*subscribed=*/false, sub.pending ? nullptr : &sub, std::nullopt);
}

void Session::OnUnsubscribedByNode(const std::string& channel) {
  if (state_ != State::kConfirmed && state_ != State::kDetached) return;
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  ChannelSub sub = std::move(it->second);
  channels_.erase(it);
  SendChannelState(channel, /*subscribed=*/false, sub.pending ? nullptr : &sub, std::nullopt);
}

void Session::OnPush(const std::string& data) {
  if (state_ != State::kConfirmed && state_ != State::kDetached) return;
  Frame frame;
  frame.mutable_publication()->set_data(data);
  SendFrame(frame);
}

void Session::OnDisconnectOrder(int code, const std::string& reason) {
  metrics_->disconnects_ordered.fetch_add(1, std::memory_order_relaxed);
  if (state_ == State::kDetached) {
    End();
    return;
  }
  if (state_ != State::kConfirmed && state_ != State::kPending) return;
  CloseWith(code, reason);
  resumable_close_ = false;  // ordered away: no resume
  EndClaims();
}

}  // namespace bridge::session
