// Cases of group 7 (resume): what a server replays when a client comes back after a TCP drop,
// when it starts a fresh session instead, and that a resent call is answered from the session
// rather than called again.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "harness/conformance/cases_common.h"

namespace harness::conformance::cases {
namespace {

// Connects with resume {conversation, last_seq}; the frames before connect_confirm go to
// `replayed`.
absl::StatusOr<Session> Resume(CaseContext& ctx, std::string_view client_id,
                               const std::string& conversation, int64_t last_seq,
                               std::vector<JsonFrame>* replayed) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open();
  if (!ws.ok()) return ws.status();
  if (absl::Status st =
          (*ws)->SendText(absl::StrCat(R"({"type":"connect","clientId":")", std::string(client_id),
                                       R"(","version":"1","resume":{"conversationId":")",
                                       conversation, R"(","lastSeq":)", last_seq, "}}"));
      !st.ok()) {
    return st;
  }
  while (replayed->size() <= 100) {
    absl::StatusOr<JsonFrame> f = ctx.Next(**ws);
    if (!f.ok()) return f.status();
    if (f->type() == "connect_confirm") return Session{*std::move(ws), *std::move(f)};
    replayed->push_back(*std::move(f));
  }
  return absl::InternalError("more than 100 frames before connect_confirm");
}

// "none" or the seq of `seq`, for the report.
std::string SeqText(std::optional<int64_t> seq) {
  return seq.has_value() ? absl::StrCat(*seq) : "none";
}

// The seqs of `frames`, for the report: "pong:2, response:3", or "none".
std::string SeqList(const std::vector<JsonFrame>& frames) {
  std::vector<std::string> parts;
  for (const JsonFrame& f : frames)
    parts.push_back(absl::StrCat(f.type(), ":", SeqText(f.Int("seq"))));
  return parts.empty() ? "none" : absl::StrJoin(parts, ", ");
}

// Checks that a resume of `old_conversation` was answered with a fresh session: nothing before
// its connect_confirm, resumed false, a new conversationId, seq 1.
void CheckFreshSession(Checks& c, const Session& again, const std::vector<JsonFrame>& replayed,
                       std::string_view old_conversation) {
  c.Require(replayed.empty(),
            absl::StrCat(replayed.size(), " frames before the connect_confirm (", SeqList(replayed),
                         "): frames of the old session ahead of a fresh one"));
  const std::optional<bool> resumed = again.confirm.Bool("resumed");
  c.Require(resumed != true, "resumed is true");
  c.Prefer(resumed.has_value(), "resumed absent (should be written: false)");
  const std::string id = again.confirm.String("conversationId").value_or("");
  if (id == old_conversation) {
    c.Require(false, absl::StrCat("the connect_confirm names the old conversation \"", id,
                                  "\": the old session's connect_confirm replayed, or the "
                                  "session resumed while saying resumed false"));
  } else {
    c.Require(!id.empty(), "conversationId empty or absent");
  }
  const std::optional<int64_t> seq = again.confirm.Int("seq");
  c.Require(seq == 1,
            absl::StrCat("connect_confirm seq ", SeqText(seq), ", expected 1 (a fresh session)"));
}

// Checks the connect_confirm of a resume of `conversation`: resumed true, the same
// conversationId.
void CheckResumed(Checks& c, const Session& again, std::string_view conversation) {
  c.Require(again.confirm.Bool("resumed") == true,
            absl::StrCat("resumed is not true: ", Printable(again.confirm.text(), 300)));
  c.Require(again.confirm.String("conversationId") == std::string(conversation),
            "the conversationId changed on a resume");
}

// Checks that a resume replayed exactly the frames `first_seq`..`last_seq`, in order, then
// confirmed with resumed true, the same conversation and the next seq.
void CheckExactReplay(Checks& c, const Session& again, const std::vector<JsonFrame>& replayed,
                      int64_t first_seq, int64_t last_seq, std::string_view conversation) {
  std::vector<int64_t> want;
  for (int64_t seq = first_seq; seq <= last_seq; ++seq) want.push_back(seq);
  std::vector<int64_t> got;
  for (const JsonFrame& f : replayed) got.push_back(f.Int("seq").value_or(-1));
  c.Require(got == want,
            absl::StrCat("replayed ", SeqList(replayed), ", expected seq ", first_seq,
                         first_seq == last_seq ? "" : absl::StrCat(" to ", last_seq), " exactly"));
  CheckResumed(c, again, conversation);
  const std::optional<int64_t> seq = again.confirm.Int("seq");
  c.Require(seq == last_seq + 1, absl::StrCat("connect_confirm seq ", SeqText(seq), ", expected ",
                                              last_seq + 1, " (after the replayed frames)"));
}

// The answer to a resend of the call `id` that `first` answered: the same response, the call
// not run again.
void CheckSameAnswer(Checks& c, const JsonFrame& first, const JsonFrame& second,
                     std::string_view id) {
  c.Require(second.type() == "response" && second.String("messageId") == std::string(id),
            absl::StrCat("the resend answered ", Printable(second.text(), 300)));
  // The demo reply carries the time the backend received the call: a second call differs.
  const rapidjson::Value* a = first.Get("payload");
  const rapidjson::Value* b = second.Get("payload");
  c.Require(a != nullptr && b != nullptr && *a == *b,
            "the resend's payload differs from the first answer's (the call ran again)");
}

// The call `id` of `members`, answered with a response: the response, or why not.
absl::StatusOr<JsonFrame> Answered(CaseContext& ctx, RawWsClient& ws, std::string_view id,
                                   const std::string& members) {
  absl::StatusOr<JsonFrame> f = Call(ctx, ws, id, members);
  if (!f.ok()) return absl::UnavailableError(absl::StrCat("no answer: ", f.status().message()));
  if (f->type() != "response") {
    return absl::FailedPreconditionError(
        absl::StrCat("the call answered ", Printable(f->text(), 300)));
  }
  return f;
}

Verdict ResumeReplays(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-resume");
  if (!s.ok()) return NoSession(s.status());
  const std::string conversation = s->confirm.String("conversationId").value_or("");
  const int64_t confirm_seq = s->confirm.Int("seq").value_or(0);
  Checks c;
  // Two frames the client will claim it missed: a pong, and the reply of a call if the demo
  // service is there.
  std::vector<JsonFrame> missed;
  const auto record = [&](absl::StatusOr<JsonFrame> f) {
    if (c.Require(f.ok(), absl::StrCat("before the drop: ", f.status().message()))) {
      missed.push_back(*std::move(f));
    }
  };
  record(Ask(ctx, *s->ws, kPing));
  if (!ctx.demo_missing().has_value()) {
    record(Call(ctx, *s->ws, "m-7.1", SayMembers(ctx, "before-drop", "{}")));
  }
  if (c.failed()) return c.Result("");
  s->ws.reset();  // the TCP connection drops without a close frame

  std::vector<JsonFrame> replayed;
  absl::StatusOr<Session> again = Resume(ctx, "conf-resume", conversation, confirm_seq, &replayed);
  if (!c.Require(again.ok(), absl::StrCat("resume: ", again.status().message()))) {
    return c.Result("");
  }
  int64_t last = confirm_seq;
  for (size_t i = 0; i < replayed.size(); ++i) {
    const JsonFrame& f = replayed[i];
    const std::optional<int64_t> seq = f.Int("seq");
    c.Require(seq.has_value() && *seq > last,
              absl::StrCat("replayed ", f.type(), " seq ", SeqText(seq), " after ", last));
    if (i < missed.size()) {
      const int64_t want = missed[i].Int("seq").value_or(-1);
      c.Require(f.type() == missed[i].type() && seq == want,
                absl::StrCat("replayed ", f.type(), " seq ", seq.value_or(-1), ", expected ",
                             missed[i].type(), " seq ", want));
    }
    if (seq.has_value()) last = *seq;
  }
  CheckResumed(c, *again, conversation);
  c.Require(replayed.size() == missed.size(),
            absl::StrCat(replayed.size(), " frames replayed before connect_confirm, expected ",
                         missed.size(), " (", SeqList(missed), ")"));
  const std::optional<int64_t> seq = again->confirm.Int("seq");
  c.Require(seq.has_value() && *seq > last,
            "connect_confirm's seq does not follow the replayed frames");
  RequireAlive(ctx, *again->ws, c, "after the resume");
  return c.Result(absl::StrCat("replayed ", SeqList(replayed), " then ",
                               Printable(again->confirm.text(), 300)));
}

Verdict ResendNotCalledTwice(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  const std::string members = SayMembers(ctx, "once-7.2", "{}");
  absl::StatusOr<JsonFrame> first = Answered(ctx, *s->ws, "m-7.2", members);
  if (!first.ok()) return Fail(std::string(first.status().message()));
  absl::StatusOr<JsonFrame> second = Call(ctx, *s->ws, "m-7.2", members);
  if (!second.ok()) {
    return Fail(absl::StrCat("no answer to the resend: ", second.status().message()));
  }
  Checks c;
  CheckSameAnswer(c, *first, *second, "m-7.2");
  return c.Result(absl::StrCat("first ", Printable(first->text(), 250), "; resend ",
                               Printable(second->text(), 250)));
}

Verdict ResendReplaysFailure(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  // The backend fails the first call with this key and answers every later one: a resend
  // that reaches the backend gets a response instead of the failure again. INVALID_ARGUMENT,
  // which no retry policy retries, so the server's own retries do not hide the failure.
  const std::string key =
      absl::StrCat("conformance-7.3-", s->confirm.String("conversationId").value_or(""), "-",
                   absl::ToUnixMicros(absl::Now()));
  const std::string members =
      SayMembers(ctx, "x",
                 absl::StrCat(R"({"demo-fail-first":"1","demo-fail-code":"3","demo-attempt-key":")",
                              key, R"("})"));
  absl::StatusOr<JsonFrame> first = Call(ctx, *s->ws, "m-7.3", members);
  if (!first.ok()) return Fail(absl::StrCat("no answer: ", first.status().message()));
  if (first->type() == "response") {
    return Skip(
        absl::StrCat("the first call (demo-fail-first 1, code 3) succeeded, so the server "
                     "retried it upstream; nothing to replay: ",
                     Printable(first->text(), 300)));
  }
  if (first->type() != "error") {
    return Fail(absl::StrCat("the first call (demo-fail-first 1) answered ",
                             Printable(first->text(), 300)));
  }
  absl::StatusOr<JsonFrame> second = Call(ctx, *s->ws, "m-7.3", members);
  if (!second.ok()) {
    return Fail(absl::StrCat("no answer to the resend: ", second.status().message()));
  }
  Checks c;
  c.Require(second->type() == "error",
            absl::StrCat("the resend answered ", Printable(second->text(), 300),
                         ": it called upstream again"));
  c.Require(second->String("messageId") == "m-7.3", "the replayed error lacks the messageId");
  c.Require(second->String("category") == first->String("category"),
            "the replayed error has another category");
  return c.Result(Printable(second->text(), 300));
}

Verdict ResumeUnknown(CaseContext& ctx) {
  constexpr char kUnknown[] = "conformance-no-such-conversation";
  absl::StatusOr<Session> s = ctx.OpenConfirmed(
      "conf-unknown",
      absl::StrCat(R"(,"resume":{"conversationId":")", kUnknown, R"(","lastSeq":3})"));
  if (!s.ok()) return NoSession(s.status());
  Checks c;
  CheckFreshSession(c, *s, {}, kUnknown);
  return c.Result(Printable(s->confirm.text(), 300));
}

Verdict ResendAfterResume(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-resend");
  if (!s.ok()) return NoSession(s.status());
  const std::string conversation = s->confirm.String("conversationId").value_or("");
  const std::string members = SayMembers(ctx, "resent-7.5", "{}");
  absl::StatusOr<JsonFrame> first = Answered(ctx, *s->ws, "m-7.5", members);
  if (!first.ok()) return Fail(std::string(first.status().message()));
  const int64_t last_seq = first->Int("seq").value_or(0);
  s->ws.reset();  // the TCP connection drops without a close frame
  std::vector<JsonFrame> replayed;
  absl::StatusOr<Session> again = Resume(ctx, "conf-resend", conversation, last_seq, &replayed);
  if (!again.ok()) return Fail(absl::StrCat("resume: ", again.status().message()));
  if (again->confirm.Bool("resumed") != true) {
    return Fail(
        absl::StrCat("the resume was refused (see 7.1): ", Printable(again->confirm.text(), 300)));
  }
  Checks c;
  c.Require(replayed.empty(), absl::StrCat(replayed.size(), " frames replayed after lastSeq ",
                                           last_seq, ", the last frame sent"));
  // The client does not know the answer arrived: it resends the call, same messageId.
  absl::StatusOr<JsonFrame> second = Call(ctx, *again->ws, "m-7.5", members);
  if (!c.Require(second.ok(),
                 absl::StrCat("no answer to the resend: ", second.status().message()))) {
    return c.Result("");
  }
  CheckSameAnswer(c, *first, *second, "m-7.5");
  return c.Result(absl::StrCat("resend after the resume: ", Printable(second->text(), 300)));
}

Verdict ResumeAtZero(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-7.6");
  if (!s.ok()) return NoSession(s.status());
  const std::string conversation = s->confirm.String("conversationId").value_or("");
  // A pong after the confirm: with the confirm, what the old session holds.
  if (const std::string dead = ctx.ProbeAlive(*s->ws); !dead.empty()) {
    return Fail(absl::StrCat("before the drop: ", dead));
  }
  s->ws.reset();  // the TCP connection drops without a close frame
  // lastSeq 0: the client claims it never saw the connect_confirm (seq 1) of that session.
  std::vector<JsonFrame> replayed;
  absl::StatusOr<Session> again = Resume(ctx, "conf-7.6", conversation, 0, &replayed);
  if (!again.ok()) return Fail(absl::StrCat("resume: ", again.status().message()));
  Checks c;
  CheckFreshSession(c, *again, replayed, conversation);
  RequireAlive(ctx, *again->ws, c, "after the connect_confirm");
  return c.Result(absl::StrCat("before the connect_confirm: ", SeqList(replayed), "; then ",
                               Printable(again->confirm.text(), 300)));
}

// A session left behind by a TCP drop after: pongs up to seq `acked`, `ack` {seq: acked}, and one
// more pong (seq acked + 1, which shows the ack was read before it).
struct AckedDrop {
  std::string conversation;
  int64_t acked = 0;
};

absl::StatusOr<AckedDrop> DropAfterAck(CaseContext& ctx, std::string_view client_id) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed(client_id);
  if (!s.ok()) return s.status();
  AckedDrop out;
  out.conversation = s->confirm.String("conversationId").value_or("");
  int64_t last = s->confirm.Int("seq").value_or(0);
  const auto pong = [&]() -> absl::Status {
    absl::StatusOr<JsonFrame> f = Ask(ctx, *s->ws, kPing);
    if (!f.ok()) return f.status();
    const std::optional<int64_t> seq = f->Int("seq");
    if (f->type() != "pong" || seq != last + 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "ping answered with ", Printable(f->text(), 200), ", expected a pong seq ", last + 1));
    }
    last = *seq;
    return absl::OkStatus();
  };
  for (int i = 0; i < 3; ++i) {
    if (absl::Status st = pong(); !st.ok()) return st;
  }
  out.acked = last;
  if (absl::Status st = s->ws->SendText(absl::StrCat(R"({"type":"ack","seq":)", last, "}"));
      !st.ok()) {
    return st;
  }
  if (absl::Status st = pong(); !st.ok()) return st;
  s->ws.reset();  // the TCP connection drops without a close frame
  return out;
}

// After DropAfterAck, a resume at lastSeq `acked - behind`: the frames after lastSeq up to
// acked + 1 replayed, then resumed true. With `fresh_allowed`, a fresh session instead is right
// too (the server dropped the acknowledged frames that lastSeq claims missing).
Verdict ResumeNearAck(CaseContext& ctx, std::string_view client_id, int64_t behind,
                      bool fresh_allowed) {
  absl::StatusOr<AckedDrop> d = DropAfterAck(ctx, client_id);
  if (!d.ok()) return Fail(absl::StrCat("before the drop: ", d.status().message()));
  const int64_t last_seq = d->acked - behind;
  std::vector<JsonFrame> replayed;
  absl::StatusOr<Session> again = Resume(ctx, client_id, d->conversation, last_seq, &replayed);
  if (!again.ok()) return Fail(absl::StrCat("resume: ", again.status().message()));
  Checks c;
  std::string how = "resumed";
  if (fresh_allowed && again->confirm.Bool("resumed") != true) {
    how = "a fresh session";
    CheckFreshSession(c, *again, replayed, d->conversation);
  } else {
    if (fresh_allowed) how = "resumed, the acknowledged frame kept";
    CheckExactReplay(c, *again, replayed, last_seq + 1, d->acked + 1, d->conversation);
  }
  RequireAlive(ctx, *again->ws, c, "after the connect_confirm");
  return c.Result(absl::StrCat("ack ", d->acked, ", resume lastSeq ", last_seq, ": ", how,
                               "; replayed ", SeqList(replayed), " then ",
                               Printable(again->confirm.text(), 300)));
}

Verdict ResumeBehindAck(CaseContext& ctx) {
  // The client claims less than it acknowledged: frame `acked` is what it says it lacks. The
  // server may keep acknowledged frames ("may drop them"): then the replay starts right after
  // lastSeq, with the acknowledged frame.
  return ResumeNearAck(ctx, "conf-7.7", 1, /*fresh_allowed=*/true);
}

Verdict ResumeAtAck(CaseContext& ctx) {
  return ResumeNearAck(ctx, "conf-7.8", 0, /*fresh_allowed=*/false);
}

}  // namespace

std::vector<Case> ResumeCases() {
  const std::string group = "resume";
  return {
      {"7.1", group, "a resume replays the missed frames, then confirms",
       "after a TCP drop, connect with resume {conversationId, lastSeq 1}: every frame with seq > "
       "1 in order, then connect_confirm resumed true, same conversationId",
       false, ResumeReplays},
      {"7.2", group, "a resent messageId is not called twice",
       "the same message again: the same response (same payload), no second call", true,
       ResendNotCalledTwice},
      {"7.3", group, "a resent failed call replays its failure",
       "demo-fail-first 1 (code 3), then the same messageId again: the same error, not a new "
       "call",
       true, ResendReplaysFailure},
      {"7.4", group, "an unknown conversation starts a fresh session",
       "connect_confirm resumed false, a new conversationId, seq 1", false, ResumeUnknown},
      {"7.5", group, "a message resent after a resume is answered from the session",
       "call, TCP drop, resume after its response, the same message again: the same response, "
       "no second call",
       true, ResendAfterResume},
      {"7.6", group, "a resume at lastSeq 0 starts a fresh session",
       "after a TCP drop, resume {conversationId, lastSeq 0}: the first frame is connect_confirm "
       "resumed false, a new conversationId, seq 1 (no frame of the old session before it)",
       false, ResumeAtZero},
      {"7.7", group, "a resume behind the acknowledged frames never confirms a gap",
       "pongs to seq N, ack N, one more pong, TCP drop, resume lastSeq N-1: a fresh session "
       "(resumed false, nothing before its connect_confirm), or, if the server kept frame N, "
       "exactly N and N+1 replayed, then resumed true",
       false, ResumeBehindAck},
      {"7.8", group, "a resume at the acknowledged edge replays from the next frame",
       "pongs to seq N, ack N, one more pong, TCP drop, resume lastSeq N: exactly frame N+1 "
       "replayed, then connect_confirm resumed true, same conversationId, seq N+2",
       false, ResumeAtAck},
  };
}

}  // namespace harness::conformance::cases
