#include "harness/scenario/session_steps.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/common/strings.h"
#include "bridge/protocol/error_table.h"

namespace harness::scenario {

using ::bridge::client::CloseInfo;
using ::bridge::client::SessionError;
using ::bridge::client::SessionInfo;
using ::bridge::client::State;
using ::bridge::protocol::CategoryName;

SessionSteps::SessionSteps(bridge::client::WebSocketClient& client,
                           const bridge::client::BackoffOptions& backoff,
                           absl::Duration reconnect_slack, absl::Time deadline)
    : client_(client), backoff_(backoff), reconnect_slack_(reconnect_slack), deadline_(deadline) {
  Record();
}

void SessionSteps::Record() {
  bridge::client::ClientHandlers h;
  h.on_state_change = [this](const bridge::client::StateChange& change) {
    // Taken on every change, so that an expect_state waiting on this mutex looks again.
    absl::MutexLock lock(&mu_);
    if (change.from != State::kReconnecting || change.to != State::kConnecting) return;
    if (!attempts_.empty()) attempts_.back().started_at = absl::Now();
  };
  h.on_open = [this](const SessionInfo& info) {
    absl::MutexLock lock(&mu_);
    opens_.push_back(OpenEvent{info, absl::Now()});
    session_retry_after_ = absl::ZeroDuration();
  };
  h.on_error = [this](const SessionError& error) {
    absl::MutexLock lock(&mu_);
    session_retry_after_ = std::max(session_retry_after_, error.retry_after);
  };
  h.on_close = [this](const CloseInfo& info) {
    std::function<absl::Status()> hook;
    {
      absl::MutexLock lock(&mu_);
      closes_.push_back(CloseEvent{info, session_retry_after_, absl::Now()});
      session_retry_after_ = absl::ZeroDuration();
      hook = std::move(on_next_close_);
      on_next_close_ = nullptr;
    }
    // Before the client can reconnect: its reconnect timer fires on this same thread.
    if (!hook) return;
    if (absl::Status s = hook(); !s.ok()) {
      absl::MutexLock lock(&mu_);
      hook_error_ = std::string(s.message());
    }
  };
  h.on_reconnecting = [this](int attempt, absl::Duration delay) {
    absl::MutexLock lock(&mu_);
    attempts_.push_back(AttemptEvent{attempt, delay, absl::Now()});
  };
  client_->set_handlers(std::move(h));
  const google::protobuf::OneofDescriptor* kinds =
      bridge::v1::Frame::descriptor()->FindOneofByName("kind");
  for (int i = 0; i < kinds->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* kind = kinds->field(i);
    client_->OnFrame(static_cast<bridge::v1::Frame::KindCase>(kind->number()),
                     [this, type = kind->name()](const bridge::v1::Frame& frame) {
                       absl::MutexLock lock(&mu_);
                       frames_[type].push_back(frame);
                     });
  }
}

void SessionSteps::OnNextClose(std::function<absl::Status()> hook) {
  absl::MutexLock lock(&mu_);
  on_next_close_ = std::move(hook);
}

std::vector<CloseReport> SessionSteps::Closes() {
  absl::MutexLock lock(&mu_);
  std::vector<CloseReport> out;
  for (const CloseEvent& c : closes_) {
    out.push_back(CloseReport{c.info.code, std::string(CategoryName(c.info.category)),
                              c.info.will_reconnect});
  }
  return out;
}

Observed SessionSteps::Connect(const v1::Connect& connect) {
  size_t opens_before, closes_before;
  {
    absl::MutexLock lock(&mu_);
    opens_before = opens_.size();
    closes_before = closes_.size();
  }
  // After the counts: the confirm may come back before this thread looks again.
  client_->Connect();
  if (connect.has_expect_close()) return ExpectClose(connect.expect_close());
  if (!Await([&] { return opens_.size() > opens_before || closes_.size() > closes_before; })) {
    return absl::DeadlineExceededError("no connect_confirm before the scenario's deadline");
  }
  absl::MutexLock lock(&mu_);
  if (opens_.size() == opens_before) {
    const CloseInfo& c = closes_.back().info;
    return absl::FailedPreconditionError(absl::StrCat("the connection closed with ", c.code, " (",
                                                      bridge::Sv(CategoryName(c.category)), ") ",
                                                      c.reason));
  }
  open_cursor_ = opens_.size();
  return absl::StrCat("confirmed ", opens_.back().info.conversation_id);
}

Observed SessionSteps::ExpectClose(const v1::ExpectClose& e) {
  if (!Await([&] { return closes_.size() > close_cursor_; })) {
    return absl::DeadlineExceededError("the connection did not close before the deadline");
  }
  absl::MutexLock lock(&mu_);
  if (!hook_error_.empty()) return absl::InternalError(hook_error_);
  const CloseEvent& c = closes_[close_cursor_++];
  const std::string category(CategoryName(c.info.category));
  Mismatches wrong;
  if (e.code() != 0 && c.info.code != static_cast<int>(e.code())) {
    wrong.Add("code ", c.info.code, ", expected ", e.code());
  }
  if (!e.category().empty() && category != e.category()) {
    wrong.Add("category ", category, ", expected ", e.category());
  }
  if (e.has_reconnect() && c.info.will_reconnect != e.reconnect()) {
    wrong.Add(e.reconnect() ? "the client gave up, expected it to reconnect"
                            : "the client reconnects, expected it not to");
  }
  if (e.has_retry_after_ms() && c.retry_after != absl::Milliseconds(e.retry_after_ms())) {
    wrong.Add("retryAfterMs ", absl::ToInt64Milliseconds(c.retry_after), ", expected ",
              e.retry_after_ms());
  }
  return wrong.Verdict(
      absl::StrCat("closed ", c.info.code, " ", c.info.reason, ": ", category,
                   c.info.will_reconnect ? ", reconnecting" : ", not reconnecting"));
}

int SessionSteps::CheckAttempts(const OpenEvent& open, Mismatches& wrong) {
  const absl::Time since = close_cursor_ > 0 ? closes_[close_cursor_ - 1].at : absl::InfinitePast();
  int attempts = 0;
  for (const AttemptEvent& a : attempts_) {
    if (a.scheduled_at < since || a.started_at > open.at) continue;
    ++attempts;
    // The close this attempt follows: the last one before it was scheduled.
    const CloseEvent* close = nullptr;
    for (const CloseEvent& c : closes_) {
      if (c.at <= a.scheduled_at) close = &c;
    }
    ReconnectReport r;
    r.attempt = a.attempt;
    r.after_close_code = close ? close->info.code : 0;
    r.floor =
        std::max(absl::Milliseconds(
                     close ? bridge::protocol::ClassifyClose(close->info.code).min_delay_ms : 0),
                 close ? close->retry_after : absl::ZeroDuration());
    r.ceiling = std::max(r.floor, bridge::client::BackoffCeiling(backoff_, a.attempt));
    r.planned = a.planned;
    r.measured = a.started_at - (close ? close->at : a.scheduled_at);
    const absl::Duration tick = absl::Milliseconds(2);
    if (r.planned < r.floor || r.planned > r.ceiling) {
      r.ok = false;
      wrong.Add("attempt ", a.attempt, " planned ", Ms(r.planned), ", outside [", Ms(r.floor), ", ",
                Ms(r.ceiling), "]");
    }
    if (r.measured + tick < r.planned || r.measured > r.planned + reconnect_slack_) {
      r.ok = false;
      wrong.Add("attempt ", a.attempt, " started after ", Ms(r.measured), ", planned ",
                Ms(r.planned));
    }
    reconnects_.push_back(r);
  }
  return attempts;
}

Observed SessionSteps::ExpectReconnect(const v1::ExpectReconnect& e) {
  if (!Await([&] { return opens_.size() > open_cursor_; })) {
    absl::MutexLock lock(&mu_);
    return absl::DeadlineExceededError(
        absl::StrCat("no new session before the deadline (", attempts_.size(), " attempts, client ",
                     bridge::Sv(bridge::client::StateName(client_->state())), ")"));
  }
  absl::MutexLock lock(&mu_);
  const OpenEvent open = opens_[open_cursor_++];
  Mismatches wrong;
  const int attempts = CheckAttempts(open, wrong);
  // Attempts that failed closed connections of their own; they are consumed here.
  while (close_cursor_ < closes_.size() && closes_[close_cursor_].at <= open.at) ++close_cursor_;
  const uint32_t max_attempts = e.max_attempts() > 0 ? e.max_attempts() : 1;
  if (attempts == 0) wrong.Add("a session opened without a reconnect attempt");
  if (attempts > static_cast<int>(max_attempts)) {
    wrong.Add(attempts, " attempts, expected at most ", max_attempts);
  }
  if (e.has_resumed() && open.info.resumed != e.resumed()) {
    wrong.Add("resumed ", open.info.resumed, ", expected ", e.resumed());
  }
  std::string observed =
      absl::StrCat(attempts, " attempt(s), ", open.info.resumed ? "resumed" : "new session");
  if (!reconnects_.empty()) {
    const ReconnectReport& last = reconnects_.back();
    absl::StrAppend(&observed, ", delay ", Ms(last.measured), " in [", Ms(last.floor), ", ",
                    Ms(last.ceiling), "]");
  }
  return wrong.Verdict(std::move(observed));
}

Observed SessionSteps::ExpectState(const v1::ExpectState& e) {
  auto matches = [&] {
    return e.state().empty() || bridge::client::StateName(client_->state()) == e.state();
  };
  Await(matches);
  const std::string state(bridge::client::StateName(client_->state()));
  const uint64_t attempts = client_->stats().reconnect_attempts;
  Mismatches wrong;
  if (!matches()) wrong.Add("state ", state, ", expected ", e.state());
  if (e.has_reconnect_attempts() && attempts != e.reconnect_attempts()) {
    wrong.Add(attempts, " reconnect attempts, expected ", e.reconnect_attempts());
  }
  if (!wrong.empty()) return absl::FailedPreconditionError(wrong.Joined());
  return absl::StrCat("state ", state, ", ", attempts, " reconnect attempts");
}

Observed SessionSteps::ExpectFrame(const v1::ExpectFrame& e) {
  if (!Await([&] { return frames_[e.type()].size() > frame_cursor_[e.type()]; })) {
    return absl::DeadlineExceededError(
        absl::StrCat("no ", e.type(), " frame before the scenario's deadline"));
  }
  absl::MutexLock lock(&mu_);
  const bridge::v1::Frame frame = frames_[e.type()][frame_cursor_[e.type()]++];
  std::string observed = absl::StrCat(e.type(), " seq ", frame.seq());
  Mismatches wrong;
  if (frame.has_error()) {
    const bridge::v1::Error& error = frame.error();
    const std::string category(CategoryName(error.category()));
    absl::StrAppend(
        &observed, ": ", category, error.retryable() ? " retryable" : "",
        error.retry_after_ms() > 0 ? absl::StrCat(" retryAfterMs ", error.retry_after_ms()) : "",
        error.message_id().empty() ? " (session)" : " (call)");
    if (!e.category().empty() && category != e.category()) {
      wrong.Add("category ", category, ", expected ", e.category());
    }
    if (e.has_retryable() && error.retryable() != e.retryable()) {
      wrong.Add("retryable ", error.retryable(), ", expected ", e.retryable());
    }
    if (e.has_retry_after_ms() && error.retry_after_ms() != e.retry_after_ms()) {
      wrong.Add("retryAfterMs ", error.retry_after_ms(), ", expected ", e.retry_after_ms());
    }
    if (e.has_session() && error.message_id().empty() != e.session()) {
      wrong.Add(e.session() ? "it concerns a call, expected the session"
                            : "it concerns the session, expected a call");
    }
  } else if (!e.category().empty() || e.has_retryable() || e.has_retry_after_ms()) {
    wrong.Add("only error frames have a category, retryable and retryAfterMs");
  }
  return wrong.Verdict(std::move(observed));
}

}  // namespace harness::scenario
