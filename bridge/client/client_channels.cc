#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/client/client_impl.h"

namespace bridge::client::internal {

absl::Status ClientImpl::Subscribe(std::string channel, std::string params,
                                   SubscriptionHandlers handlers,
                                   std::optional<StreamPosition> since) {
  if (channel.empty()) return absl::InvalidArgumentError("channel is empty");
  if (auto s = CheckPayload(options_.encoding, params); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (auto s = CheckAccepting(); !s.ok()) return s;
  if (subscriptions_.count(channel) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("already subscribed to ", channel));
  }
  Frame frame;
  frame.mutable_subscribe()->set_channel(channel);
  frame.mutable_subscribe()->set_params(params);
  Subscription& sub = subscriptions_[channel];
  sub.params = std::move(params);
  sub.handlers = std::move(handlers);
  if (since.has_value()) {
    frame.mutable_subscribe()->mutable_since()->set_offset(since->offset);
    frame.mutable_subscribe()->mutable_since()->set_epoch(since->epoch);
    sub.has_position = true;
    sub.offset = since->offset;
    sub.epoch = std::move(since->epoch);
  }
  if (auto s = SendOrQueue(frame, channel); !s.ok()) {
    subscriptions_.erase(channel);
    return s;
  }
  return absl::OkStatus();
}

absl::Status ClientImpl::Unsubscribe(const std::string& channel) {
  absl::MutexLock lock(&mu_);
  auto it = subscriptions_.find(channel);
  if (it == subscriptions_.end()) {
    return absl::NotFoundError(absl::StrCat("not subscribed to ", channel));
  }
  if (it->second.unsubscribing) return absl::OkStatus();
  Frame frame;
  frame.mutable_unsubscribe()->set_channel(channel);
  if (auto s = SendOrQueue(frame, channel); !s.ok()) return s;
  it->second.unsubscribing = true;
  return absl::OkStatus();
}

void ClientImpl::FailChannelRequest(SessionError error) {
  const ChannelRequest request = channel_requests_.front();
  channel_requests_.pop_front();
  auto it = subscriptions_.find(request.channel);
  if (it == subscriptions_.end()) return;
  if (it->second.handlers.on_error) {
    Emit([h = it->second.handlers.on_error, error = std::move(error)] { h(error); });
  }
  RemoveSubscription(it);
}

void ClientImpl::RemoveSubscription(std::map<std::string, Subscription>::iterator it) {
  const std::string& channel = it->first;
  channel_requests_.erase(
      std::remove_if(channel_requests_.begin(), channel_requests_.end(),
                     [&](const ChannelRequest& r) { return r.channel == channel; }),
      channel_requests_.end());
  subscriptions_.erase(it);
}

void ClientImpl::ForgetChannelRequest(Frame::KindCase kind, const std::string& channel) {
  auto it = std::find_if(channel_requests_.begin(), channel_requests_.end(),
                         [&](const ChannelRequest& r) {
                           return r.channel == channel &&
                                  (r.kind == Frame::kSubscribe) == (kind == Frame::kSubscribed);
                         });
  if (it != channel_requests_.end()) channel_requests_.erase(it);
}

void ClientImpl::HandleChannelState(Frame::KindCase kind, const v1::ChannelState& state) {
  ForgetChannelRequest(kind, state.channel());
  auto it = subscriptions_.find(state.channel());
  if (it == subscriptions_.end()) return;
  Subscription& sub = it->second;
  ChannelEvent event;
  event.channel = state.channel();
  if (state.has_offset()) event.offset = state.offset();
  event.epoch = state.epoch();
  event.recovered = state.recovered();
  if (kind == Frame::kSubscribed) {
    if (state.has_offset()) {
      sub.has_position = true;
      sub.offset = state.offset();
      sub.epoch = state.epoch();
    }
    if (sub.handlers.on_subscribed) Emit([h = sub.handlers.on_subscribed, event] { h(event); });
    return;
  }
  if (sub.handlers.on_unsubscribed) {
    Emit([h = sub.handlers.on_unsubscribed, event] { h(event); });
  }
  RemoveSubscription(it);
}

void ClientImpl::HandlePublication(v1::Publication& p) {
  auto it = subscriptions_.find(p.channel());
  if (it == subscriptions_.end()) return;
  Subscription& sub = it->second;
  sub.has_position = true;
  sub.offset = p.offset();
  sub.epoch = p.epoch();
  if (!sub.handlers.on_publication) return;
  Publication publication{p.channel(), p.offset(), p.epoch(), std::move(*p.mutable_data())};
  Emit([h = sub.handlers.on_publication, publication = std::move(publication)] { h(publication); });
}

ChannelEvent ClientImpl::PositionOf(const std::string& channel, const Subscription& sub) {
  ChannelEvent event;
  event.channel = channel;
  if (sub.has_position) event.offset = sub.offset;
  event.epoch = sub.epoch;
  return event;
}

}  // namespace bridge::client::internal
