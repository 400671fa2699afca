#include "harness/scenario/channel_steps.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/protocol/error_table.h"

namespace harness::scenario {

using ::bridge::client::ChannelEvent;
using ::bridge::client::CloseInfo;
using ::bridge::client::SessionError;
using ::bridge::client::WebSocketClient;

ChannelSteps::ChannelSteps(WebSocketClient& main, const ClientMaker& clients, ScenarioParts& parts,
                           absl::Time deadline)
    : main_(main), clients_(clients), parts_(parts), deadline_(deadline) {}

absl::StatusOr<WebSocketClient*> ChannelSteps::ClientNamed(const std::string& name) {
  if (name == kMainClient) return &main_;
  auto it = others_.find(name);
  if (it != others_.end()) return it->second.get();
  std::unique_ptr<WebSocketClient> client = clients_.Other(name, others_.size());
  bridge::client::ClientHandlers h;
  h.on_open = [this, name](const bridge::client::SessionInfo&) {
    absl::MutexLock lock(&mu_);
    ++other_opens_[name];
  };
  h.on_close = [this, name](const CloseInfo& info) {
    absl::MutexLock lock(&mu_);
    other_closes_[name].push_back(info);
  };
  (*client)->set_handlers(std::move(h));
  WebSocketClient* raw = client.get();
  others_[name] = std::move(client);
  (*raw)->Connect();
  if (!Await([&] { return other_opens_[name] > 0 || !other_closes_[name].empty(); })) {
    return absl::DeadlineExceededError(
        absl::StrCat("client ", name, ": no connect_confirm before the scenario's deadline"));
  }
  absl::MutexLock lock(&mu_);
  if (other_opens_[name] == 0) {
    const CloseInfo& c = other_closes_[name].front();
    return absl::FailedPreconditionError(
        absl::StrCat("client ", name, ": the connection closed ", c.code, " ", c.reason));
  }
  return raw;
}

Observed ChannelSteps::Subscribe(const v1::Subscribe& spec) {
  const std::string name = ClientName(spec.client());
  const Key key(name, spec.channel());
  absl::StatusOr<WebSocketClient*> client = ClientNamed(name);
  if (!client.ok()) return client.status();
  std::shared_ptr<ChannelSub> sub;
  {
    absl::MutexLock lock(&mu_);
    if (subs_.count(key) > 0 && !subs_[key]->refused && !subs_[key]->unsubscribed) {
      return absl::InvalidArgumentError(
          absl::StrCat("client ", name, " is already subscribed to ", spec.channel()));
    }
    sub = std::make_shared<ChannelSub>();
    sub->client = name;
    sub->channel = spec.channel();
    // Publications happen on this thread only (publish steps): every later one is owed.
    sub->owed_from = published_[spec.channel()].size();
    subs_[key] = sub;
  }
  bridge::client::SubscriptionHandlers h;
  h.on_subscribed = [this, sub](const ChannelEvent& e) {
    absl::MutexLock lock(&mu_);
    sub->subscribed.push_back(e);
  };
  h.on_publication = [this, sub](const bridge::client::Publication& p) {
    absl::MutexLock lock(&mu_);
    sub->received.push_back(p);
  };
  h.on_unsubscribed = [this, sub](const ChannelEvent&) {
    absl::MutexLock lock(&mu_);
    sub->unsubscribed = true;
  };
  h.on_error = [this, sub](const SessionError& error) {
    absl::MutexLock lock(&mu_);
    sub->refused = true;
    sub->refusal = error;
  };
  if (absl::Status s = (**client)->Subscribe(spec.channel(), spec.params(), std::move(h));
      !s.ok()) {
    return absl::InternalError(absl::StrCat("the client refused to subscribe ", name, " to ",
                                            spec.channel(), ": ", s.message()));
  }
  if (!Await([&] { return !sub->subscribed.empty() || sub->refused || sub->unsubscribed; })) {
    return absl::DeadlineExceededError(absl::StrCat("client ", name, ": no answer to subscribe ",
                                                    spec.channel(),
                                                    " before the scenario's deadline"));
  }
  absl::MutexLock lock(&mu_);
  if (!sub->subscribed.empty()) {
    const ChannelEvent& e = sub->subscribed.front();
    std::string observed = absl::StrCat(name, " subscribed to ", spec.channel(), " at offset ",
                                        e.offset.value_or(0), " epoch ", e.epoch);
    if (!spec.expect_refusal().empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(observed, ", expected a refusal (", spec.expect_refusal(), ")"));
    }
    return observed;
  }
  const std::string category(bridge::protocol::CategoryName(sub->refusal.category));
  std::string observed = absl::StrCat(name, " refused ", spec.channel(), ": ",
                                      sub->refused ? category : "unsubscribed without an error",
                                      " ", sub->refusal.message);
  if (spec.expect_refusal().empty()) return absl::FailedPreconditionError(observed);
  if (!sub->refused || category != spec.expect_refusal()) {
    return absl::FailedPreconditionError(
        absl::StrCat(observed, ", expected ", spec.expect_refusal()));
  }
  return observed;
}

Observed ChannelSteps::Publish(const v1::Publish& spec) {
  const int count = spec.count() > 0 ? static_cast<int>(spec.count()) : 1;
  uint64_t first = 0, last = 0;
  for (int i = 0; i < count; ++i) {
    if (i > 0 && spec.interval_ms() > 0) {
      // A paced publisher: the pace is the fault's timing, not a wait for a condition.
      absl::SleepFor(absl::Milliseconds(spec.interval_ms()));
    }
    const int64_t n = ++next_n_[spec.channel()];
    absl::StatusOr<bridge::v1::PublishResponse> r =
        parts_.Publish(spec.channel(), absl::StrCat("{\"n\":", n, "}"));
    if (!r.ok()) {
      if (r.status().code() == absl::StatusCode::kUnimplemented) return r.status();
      return absl::Status(r.status().code(), absl::StrCat("publication ", i + 1, " of ", count,
                                                          ": ", r.status().message()));
    }
    absl::MutexLock lock(&mu_);
    published_[spec.channel()].push_back(Published{r->offset(), r->epoch(), n});
    if (i == 0) first = r->offset();
    last = r->offset();
  }
  return absl::StrCat(count, " publications to ", spec.channel(), ", offsets ", first, "..", last);
}

absl::StatusOr<std::vector<std::shared_ptr<ChannelSub>>> ChannelSteps::SubsOf(
    const v1::ExpectPublications& e) {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<ChannelSub>> subs;
  if (e.clients_size() == 0) {
    for (const auto& [key, sub] : subs_) {
      if (key.second == e.channel() && !sub->refused) subs.push_back(sub);
    }
  }
  for (const std::string& client : e.clients()) {
    auto it = subs_.find({ClientName(client), e.channel()});
    if (it == subs_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("client ", ClientName(client), " never subscribed to ", e.channel()));
    }
    subs.push_back(it->second);
  }
  if (subs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("nobody subscribed to ", e.channel()));
  }
  return subs;
}

Observed ChannelSteps::ExpectPublications(const v1::ExpectPublications& e) {
  absl::StatusOr<std::vector<std::shared_ptr<ChannelSub>>> subs = SubsOf(e);
  if (!subs.ok()) return subs.status();
  Await([&] {
    return std::all_of(subs->begin(), subs->end(), [&](const std::shared_ptr<ChannelSub>& s) {
      return Settled(*s, published_[s->channel]);
    });
  });
  absl::MutexLock lock(&mu_);
  std::vector<std::string> details, failures;
  for (const std::shared_ptr<ChannelSub>& sub : *subs) {
    ChannelReport r = CheckChannel(*sub, published_[sub->channel], e);
    details.push_back(r.detail);
    if (!r.ok) failures.push_back(r.detail);
    Keep(std::move(r));
  }
  if (!failures.empty()) return absl::DataLossError(absl::StrJoin(failures, "; "));
  return absl::StrJoin(details, "; ");
}

void ChannelSteps::Keep(ChannelReport r) {
  auto same = std::find_if(reports_.begin(), reports_.end(), [&](const ChannelReport& x) {
    return x.client == r.client && x.channel == r.channel;
  });
  if (same != reports_.end()) {
    *same = std::move(r);
  } else {
    reports_.push_back(std::move(r));
  }
}

}  // namespace harness::scenario
