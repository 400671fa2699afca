// Cases of group 9 (channels): subscribe and unsubscribe, their refusals, publications made
// through BridgeControl.Publish (--control), and recovery with `since`.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "harness/conformance/cases_common.h"
#include "proto/bridge/v1/control.grpc.pb.h"

namespace harness::conformance::cases {
namespace {

constexpr char kNoControl[] =
    "needs --control HOST:PORT (the bridge's BridgeControl, control_listen) to publish";

// Subscribes `ws` to `channel` and checks the answer is its subscribed frame. The frame, or
// nullopt when it is not (why is in `c`).
std::optional<JsonFrame> Subscribe(CaseContext& ctx, RawWsClient& ws, const std::string& channel,
                                   Checks& c, std::string_view extra = "") {
  absl::StatusOr<std::vector<JsonFrame>> frames =
      Exchange(ctx, ws, SubscribeFrame(channel, extra), "subscribed", 1);
  if (!c.Require(frames.ok(), absl::StrCat("subscribe: ", frames.status().message()))) {
    return std::nullopt;
  }
  CheckChannelState(c, frames->front(), "subscribed", channel);
  if (c.failed()) {
    c.Require(false, absl::StrCat("subscribe answered ", Texts(*frames)));
    return std::nullopt;
  }
  return frames->front();
}

// A refused subscribe of `channel`: an error of `category` with field "channel" and no
// messageId, then unsubscribed {channel}; the session stays up.
Verdict RefusedSubscribe(CaseContext& ctx, Session& s, const std::string& channel,
                         const std::string& category) {
  // A server that accepts the subscribe answers subscribed: no use waiting for unsubscribed.
  absl::StatusOr<std::vector<JsonFrame>> frames =
      Exchange(ctx, *s.ws, SubscribeFrame(channel), "unsubscribed", 4, "subscribed");
  if (!frames.ok()) return Fail(std::string(frames.status().message()));
  Checks c;
  CheckError(c, frames->front(), {category, false, "", std::nullopt, "channel"});
  c.Require(!frames->front().Has("messageId"), "the error has a messageId");
  if (!c.failed() &&
      c.Require(frames->size() == 2,
                absl::StrCat(frames->size(), " frames, expected an error then unsubscribed"))) {
    CheckChannelState(c, (*frames)[1], "unsubscribed", channel);
  }
  RequireAlive(ctx, *s.ws, c, "the session did not stay up");
  return c.Result(Texts(*frames));
}

Verdict SubscribeAnswered(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.1");
  if (!s.ok()) return NoSession(s.status());
  Checks c;
  const std::optional<JsonFrame> sub = Subscribe(ctx, *s->ws, FreshChannel("sub"), c);
  if (!sub.has_value()) return c.Result("");
  // A subscribe without `since` recovers nothing: recovered is absent (or false).
  c.Prefer(!sub->Bool("recovered").value_or(false), "recovered true on a subscribe without since");
  return c.Result(Printable(sub->text(), 200));
}

Verdict UnsubscribeAnswered(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.2");
  if (!s.ok()) return NoSession(s.status());
  const std::string channel = FreshChannel("unsub");
  Checks c;
  if (!Subscribe(ctx, *s->ws, channel, c).has_value()) return c.Result("");
  absl::StatusOr<std::vector<JsonFrame>> unsub =
      Exchange(ctx, *s->ws, UnsubscribeFrame(channel), "unsubscribed", 1);
  if (!unsub.ok()) return Fail(absl::StrCat("unsubscribe: ", unsub.status().message()));
  CheckChannelState(c, unsub->front(), "unsubscribed", channel);
  return c.Result(Texts(*unsub));
}

Verdict UnsubscribeUnknown(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.3");
  if (!s.ok()) return NoSession(s.status());
  absl::StatusOr<JsonFrame> f = Ask(ctx, *s->ws, UnsubscribeFrame(FreshChannel("never")));
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", f.status().message()));
  Checks c;
  CheckError(c, *f, {"not_found", false, "", std::nullopt, "channel"});
  RequireAlive(ctx, *s->ws, c, "the session did not stay up");
  return c.Result(Printable(f->text(), 300));
}

Verdict SubscribeTwice(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.4");
  if (!s.ok()) return NoSession(s.status());
  const std::string channel = FreshChannel("twice");
  Checks c;
  if (!Subscribe(ctx, *s->ws, channel, c).has_value()) return c.Result("");
  // Refused with an error alone: the first subscription stands (an `unsubscribed` would say
  // it ended), as an unsubscribe then shows.
  absl::StatusOr<std::vector<JsonFrame>> again =
      Exchange(ctx, *s->ws, SubscribeFrame(channel), "error", 2, "unsubscribed");
  if (!again.ok()) return Fail(absl::StrCat("again: ", again.status().message()));
  CheckError(c, again->front(), {"invalid_argument", false, "", std::nullopt, "channel"});
  c.Require(again->size() == 1, absl::StrCat("the refusal came with ", Texts(*again)));
  absl::StatusOr<std::vector<JsonFrame>> left =
      Exchange(ctx, *s->ws, UnsubscribeFrame(channel), "unsubscribed", 2, "error");
  if (!left.ok()) return Fail(absl::StrCat("unsubscribe: ", left.status().message()));
  c.Require(
      left->front().type() == "unsubscribed",
      absl::StrCat("still subscribed after the refusal? unsubscribe answered ", Texts(*left)));
  return c.Result(absl::StrCat("again: ", Texts(*again), "; then ", Texts(*left)));
}

Verdict EmptyChannel(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.5");
  if (!s.ok()) return NoSession(s.status());
  return RefusedSubscribe(ctx, *s, "", "invalid_argument");
}

Verdict SubscribeBeforeConnect(CaseContext& ctx) {
  return Refused(ctx, SubscribeFrame(FreshChannel("early")),
                 {{"protocol_error", false}, 1002, "protocol_error"});
}

// BridgeControl.Publish at --control of {"n": n}.
absl::StatusOr<bridge::v1::PublishResponse> Publish(CaseContext& ctx, const std::string& channel,
                                                    int n) {
  auto stub = bridge::v1::BridgeControl::NewStub(
      grpc::CreateChannel(ctx.options().control, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + ctx.options().reply_timeout));
  bridge::v1::PublishRequest request;
  request.set_channel(channel);
  request.set_data(absl::StrCat("{\"n\":", n, "}"));
  bridge::v1::PublishResponse response;
  const grpc::Status status = stub->Publish(&context, request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("BridgeControl/Publish at ", ctx.options().control,
                                               ": ", status.error_message()));
  }
  return response;
}

// Checks that `f` is the publication `published` of {"n": n} on `channel`.
void CheckPublication(Checks& c, const JsonFrame& f, std::string_view channel,
                      const bridge::v1::PublishResponse& published, int64_t n) {
  if (!c.Require(f.type() == "publication",
                 absl::StrCat("got type \"", f.type(), "\", expected a publication"))) {
    return;
  }
  c.Require(f.String("channel") == std::string(channel),
            absl::StrCat("channel \"", f.String("channel").value_or(""), "\""));
  c.Require(
      f.Int("offset") == static_cast<int64_t>(published.offset()),
      absl::StrCat("offset ", f.Int("offset").value_or(-1), ", expected ", published.offset()));
  c.Require(f.String("epoch") == published.epoch(),
            absl::StrCat("epoch \"", f.String("epoch").value_or(""), "\", expected \"",
                         published.epoch(), "\""));
  c.Require(f.Int("data.n") == n,
            absl::StrCat("data ", f.Int("data.n").has_value() ? "n " : "without n ",
                         f.Int("data.n").value_or(0), ", expected {\"n\":", n, "}"));
}

Verdict PublishReceived(CaseContext& ctx) {
  if (ctx.options().control.empty()) return Skip(kNoControl);
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.7");
  if (!s.ok()) return NoSession(s.status());
  const std::string channel = FreshChannel("pub");
  Checks c;
  const std::optional<JsonFrame> sub = Subscribe(ctx, *s->ws, channel, c);
  if (!sub.has_value()) return c.Result("");
  std::vector<std::string> seen = {Printable(sub->text(), 200)};
  const int64_t base = sub->Int("offset").value_or(0);
  for (int n = 1; n <= 3; ++n) {
    absl::StatusOr<bridge::v1::PublishResponse> published = Publish(ctx, channel, n);
    if (!published.ok()) return Fail(std::string(published.status().message()));
    c.Require(
        published->offset() == static_cast<uint64_t>(base + n),
        absl::StrCat("Publish answered offset ", published->offset(), ", expected ", base + n));
    c.Require(published->epoch() == sub->String("epoch").value_or(""),
              "the publication's epoch is not the subscribed one");
    absl::StatusOr<JsonFrame> f = ctx.Next(*s->ws);
    if (!c.Require(f.ok(),
                   absl::StrCat("publication ", n, " never came: ", f.status().message()))) {
      break;
    }
    seen.push_back(Printable(f->text(), 200));
    CheckPublication(c, *f, channel, *published, n);
  }
  return c.Result(absl::StrJoin(seen, " "));
}

Verdict SinceRecovers(CaseContext& ctx) {
  if (ctx.options().control.empty()) return Skip(kNoControl);
  const std::string channel = FreshChannel("since");
  Checks c;
  // A first session learns the position, then leaves.
  std::string since;
  {
    absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.8a");
    if (!s.ok()) return NoSession(s.status());
    const std::optional<JsonFrame> sub = Subscribe(ctx, *s->ws, channel, c);
    if (!sub.has_value()) return c.Result("");
    since = absl::StrCat(R"(,"since":{"offset":)", sub->Int("offset").value_or(0), R"(,"epoch":")",
                         sub->String("epoch").value_or(""), "\"}");
  }
  // Three publications it misses.
  std::vector<bridge::v1::PublishResponse> missed;
  for (int n = 1; n <= 3; ++n) {
    absl::StatusOr<bridge::v1::PublishResponse> published = Publish(ctx, channel, n);
    if (!published.ok()) return Fail(std::string(published.status().message()));
    missed.push_back(*published);
  }
  // A second session subscribes since that position: recovered at the channel's top, then the
  // three in order (never before the subscribed answer).
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.8b");
  if (!s.ok()) return NoSession(s.status());
  const std::optional<JsonFrame> sub = Subscribe(ctx, *s->ws, channel, c, since);
  if (!sub.has_value()) return c.Result("");
  c.Require(sub->Bool("recovered") == true, "recovered is not true");
  c.Require(sub->Int("offset") == static_cast<int64_t>(missed.back().offset()),
            absl::StrCat("offset ", sub->Int("offset").value_or(-1),
                         ", expected the channel's top ", missed.back().offset()));
  std::vector<JsonFrame> publications;
  while (!c.failed() && publications.size() < missed.size()) {
    absl::StatusOr<JsonFrame> f = ctx.Next(*s->ws);
    if (!c.Require(f.ok(), absl::StrCat(publications.size(), " of ", missed.size(),
                                        " publications recovered: ", f.status().message()))) {
      break;
    }
    publications.push_back(*std::move(f));
  }
  for (size_t i = 0; i < publications.size(); ++i) {
    CheckPublication(c, publications[i], channel, missed[i], static_cast<int64_t>(i + 1));
  }
  // Nothing more: a ping's pong comes next, not a repeat.
  if (!c.failed()) RequireAlive(ctx, *s->ws, c, "after the recovered publications");
  return c.Result(absl::StrCat(Printable(sub->text(), 200), " ", Texts(publications)));
}

Verdict SinceWithoutEpoch(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.9");
  if (!s.ok()) return NoSession(s.status());
  const std::string channel = FreshChannel("noepoch");
  absl::StatusOr<std::vector<JsonFrame>> frames =
      Exchange(ctx, *s->ws, SubscribeFrame(channel, R"(,"since":{"offset":0})"), "subscribed", 4,
               "unsubscribed");
  if (!frames.ok()) return Fail(absl::StrCat("no answer: ", frames.status().message()));
  Checks c;
  CheckChannelState(c, frames->front(), "subscribed", channel);
  if (frames->front().type() == "subscribed") {
    // A position without its epoch cannot be honoured: the client must hear that nothing was
    // recovered, so that it refetches.
    const std::optional<bool> recovered = frames->front().Bool("recovered");
    c.Require(recovered.has_value(), "recovered absent, expected false (since without an epoch)");
    if (recovered.has_value()) c.Require(!*recovered, "recovered true without an epoch");
  }
  // Nothing replayed after it: a ping's pong comes next.
  RequireAlive(ctx, *s->ws, c, "after subscribed");
  return c.Result(Texts(*frames));
}

}  // namespace

std::vector<Case> ChannelCases() {
  const std::string group = "channels";
  return {
      {"9.1", group, "subscribe is answered with subscribed",
       "subscribed with the channel, offset and a non-empty epoch", false, SubscribeAnswered},
      {"9.2", group, "unsubscribe is answered with unsubscribed",
       "after subscribed: unsubscribe gets unsubscribed with the channel", false,
       UnsubscribeAnswered},
      {"9.3", group, "unsubscribing from an unknown channel is not_found",
       "error not_found, field \"channel\", no messageId; the session stays up", false,
       UnsubscribeUnknown},
      {"9.4", group, "subscribing twice is refused; the subscription stands",
       "error invalid_argument, field \"channel\", then unsubscribed; the session stays up", false,
       SubscribeTwice},
      {"9.5", group, "an empty channel name is refused",
       "error invalid_argument, field \"channel\", then unsubscribed; the session stays up", false,
       EmptyChannel},
      {"9.6", group, "subscribe before connect is a protocol error",
       "error protocol_error, then close 1002", false, SubscribeBeforeConnect},
      {"9.7", group, "a publication reaches the subscriber",
       "BridgeControl.Publish x3 (--control): publications with the channel, offsets after the "
       "subscribed one, its epoch and the data, in order (skipped without --control)",
       false, PublishReceived},
      {"9.8", group, "subscribe with since recovers what was missed",
       "3 publications after a session left; a new session's subscribe since its position: "
       "subscribed recovered true at the top offset, then the 3 in order, nothing more (skipped "
       "without --control)",
       false, SinceRecovers},
      {"9.9", group, "subscribe with since but no epoch recovers nothing, and says so",
       "since {offset 0} without an epoch: subscribed with recovered false (not absent), nothing "
       "after it",
       false, SinceWithoutEpoch},
  };
}

}  // namespace harness::conformance::cases
