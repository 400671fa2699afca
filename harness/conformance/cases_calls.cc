// Cases of groups 5 (error mapping) and 6 (streams): calls of the demo service (demo.v1.Echo),
// how their failures map onto error frames, and how each kind of stream runs and ends.
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "harness/conformance/cases_common.h"

namespace harness::conformance::cases {
namespace {

// --- 5. error mapping

// Checks more of an error frame than its ErrorSpec, given how long the call took; returns what
// to add to the report ("" for nothing).
using MoreChecks =
    std::function<std::string(Checks& c, const JsonFrame& error, absl::Duration took)>;

// A call of `members` on a fresh session, answered with the error of `spec` (its messageId
// `spec.message_id`).
Verdict CallFails(CaseContext& ctx, const std::string& members, const ErrorSpec& spec,
                  const MoreChecks& more = nullptr) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  const absl::Time start = absl::Now();
  absl::StatusOr<JsonFrame> f = Call(ctx, *s->ws, spec.message_id, members);
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", f.status().message()));
  Checks c;
  CheckError(c, *f, spec);
  const std::string extra = more ? more(c, *f, absl::Now() - start) : "";
  return c.Result(absl::StrCat(Printable(f->text(), 300), extra));
}

// A Say that the demo backend fails with `code` maps to `category`.
struct ErrorCodeRow {
  const char* id;
  int code;
  const char* category;
  std::optional<bool> retryable;  // unset: either is allowed
};

const ErrorCodeRow kErrorCodes[] = {
    {"5.2", 14, "service_unavailable", true}, {"5.3", 4, "timeout", std::nullopt},
    {"5.4", 8, "rate_limited", true},         {"5.5", 16, "authentication_failed", false},
    {"5.6", 7, "permission_denied", false},   {"5.7", 3, "invalid_argument", false},
    {"5.8", 5, "not_found", false},           {"5.9", 13, "internal", std::nullopt},
    {"5.10", 1, "cancelled", false},
};

Verdict FailCode(CaseContext& ctx, const ErrorCodeRow& row) {
  const std::string id = absl::StrCat("m-code-", row.code);
  return CallFails(ctx,
                   SayMembers(ctx, "x", absl::StrCat(R"({"demo-fail-code":")", row.code, R"("})")),
                   {row.category, row.retryable, id, row.code, std::nullopt});
}

Verdict UnaryOk(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  absl::StatusOr<JsonFrame> f = Call(ctx, *s->ws, "m-5.1", SayMembers(ctx, "hello-5.1", "{}"));
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", f.status().message()));
  Checks c;
  c.Require(f->type() == "response", absl::StrCat("type \"", f->type(), "\", expected response"));
  c.Require(f->String("messageId") == "m-5.1", "messageId is not the call's");
  c.Require(f->String("payload.text") == "hello-5.1", "payload.text is not the request's text");
  c.Require(f->Int("seq").has_value(), "seq absent");
  return c.Result(Printable(f->text(), 300));
}

Verdict UnknownMethod(CaseContext& ctx) {
  return CallFails(ctx, MethodMembers(ctx, "NoSuchMethodForConformance", R"(,"payload":{})"),
                   {"not_found", false, "m-5.11", std::nullopt, std::nullopt});
}

Verdict Pushback(CaseContext& ctx) {
  return CallFails(ctx, SayMembers(ctx, "x", R"({"demo-fail-code":"8","demo-pushback-ms":"250"})"),
                   {"rate_limited", true, "m-5.12", 8, std::nullopt},
                   [](Checks& c, const JsonFrame& f, absl::Duration) {
                     const std::optional<int64_t> after = f.Int("retryAfterMs");
                     if (c.Require(after.has_value(), "retryAfterMs absent")) {
                       c.Require(*after >= 250,
                                 absl::StrCat("retryAfterMs ", *after, ", below the pushback 250"));
                       c.Prefer(*after == 250,
                                absl::StrCat("retryAfterMs ", *after, ", the pushback was 250"));
                     }
                     return std::string();
                   });
}

Verdict CallDeadline(CaseContext& ctx) {
  return CallFails(
      ctx,
      absl::StrCat(SayMembers(ctx, "x", R"({"demo-delay-ms":"30000"})"), R"(,"timeoutMs":200)"),
      {"timeout", std::nullopt, "m-5.13", 4, std::nullopt},
      [](Checks& c, const JsonFrame&, absl::Duration took) {
        c.Prefer(took < absl::Seconds(5),
                 absl::StrCat("the deadline of 200 ms ended the call after ", Ms(took)));
        return absl::StrCat(" after ", Ms(took));
      });
}

// --- 6. streams

// Reads frames until one concerns `id` and is not a stream_message; collects the
// stream_messages on the way. Frames of other calls are errors here (there are none).
struct StreamOutcome {
  std::vector<JsonFrame> messages;
  std::optional<JsonFrame> end;  // the stream_end, error or response that ended it
  std::string problem;           // how reading failed, if it did
};

StreamOutcome ReadStream(CaseContext& ctx, RawWsClient& ws, std::string_view id) {
  StreamOutcome out;
  while (out.messages.size() <= 10000) {
    absl::StatusOr<JsonFrame> f = ctx.Next(ws);
    if (!f.ok()) {
      out.problem = std::string(f.status().message());
      return out;
    }
    if (f->String("messageId") != std::string(id)) {
      out.problem = absl::StrCat("a frame of no call of ours: ", Printable(f->text(), 200));
      return out;
    }
    if (f->type() == "stream_message") {
      out.messages.push_back(*std::move(f));
      continue;
    }
    out.end = *std::move(f);
    return out;
  }
  out.problem = "the stream did not end";
  return out;
}

// The rest of the call `id`, read and checked: `messages` stream_message frames (any number
// when unset), the frame that ends it as `check_end` wants, then nothing more for the call (the
// next frame is the pong of a ping).
StreamOutcome FinishStream(CaseContext& ctx, RawWsClient& ws, Checks& c, std::string_view id,
                           std::optional<size_t> messages,
                           const std::function<void(const JsonFrame& end)>& check_end) {
  StreamOutcome out = ReadStream(ctx, ws, id);
  c.Require(out.problem.empty(), out.problem);
  if (messages.has_value()) {
    c.Require(out.messages.size() == *messages,
              absl::StrCat(out.messages.size(), " stream_message frames, expected ", *messages));
  }
  if (out.end.has_value()) check_end(*out.end);
  RequireAlive(ctx, ws, c, "after the outcome");
  return out;
}

// The frame that ended a stream, for the report.
std::string EndText(const StreamOutcome& out) {
  return out.end.has_value() ? Printable(out.end->text(), 200) : "";
}

// Sends `frames` (the call `id` and what follows it), then FinishStream.
Verdict Stream(CaseContext& ctx, std::string_view id, const std::vector<std::string>& frames,
               std::optional<size_t> messages,
               const std::function<void(Checks&, const JsonFrame& end)>& check_end) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  for (const std::string& frame : frames) {
    if (absl::Status st = s->ws->SendText(frame); !st.ok()) return Fail(std::string(st.message()));
  }
  Checks c;
  const StreamOutcome out =
      FinishStream(ctx, *s->ws, c, id, messages, [&](const JsonFrame& end) { check_end(c, end); });
  return c.Result(EndText(out));
}

Verdict ServerStreaming(CaseContext& ctx) {
  const std::string start =
      CallFrame("r-6.1", MethodMembers(ctx, "Repeat", R"(,"payload":{"text":"t","count":3})"));
  return Stream(ctx, "r-6.1", {start}, 3, [](Checks& c, const JsonFrame& end) {
    if (!c.Require(end.type() == "stream_end",
                   absl::StrCat("ended with ", Printable(end.text(), 200)))) {
      return;
    }
    const std::optional<int64_t> code = end.Int("status.code");
    if (!code.has_value()) {
      c.Prefer(false, "status.code absent (should be written: 0)");
    } else {
      c.Require(*code == 0, absl::StrCat("status.code ", *code, ", expected 0"));
    }
  });
}

Verdict ErrorMidStream(CaseContext& ctx) {
  const std::string start = CallFrame(
      "r-6.2",
      MethodMembers(ctx, "Repeat",
                    R"(,"payload":{"text":"t","count":10},"metadata":{"demo-fail-after":"2",)"
                    R"("demo-fail-code":"13"})"));
  return Stream(ctx, "r-6.2", {start}, 2, [](Checks& c, const JsonFrame& end) {
    if (c.Require(end.type() != "stream_end", "an error mid-stream was reported as stream_end")) {
      CheckError(c, end, {"internal", std::nullopt, "r-6.2", 13, std::nullopt});
    }
  });
}

Verdict ClientStreaming(CaseContext& ctx) {
  const std::vector<std::string> frames = {
      CallFrame("c-6.3", MethodMembers(ctx, "Collect", R"(,"payload":{"text":"a"})")),
      R"({"type":"stream_send","messageId":"c-6.3","payload":{"text":"b"}})",
      R"({"type":"stream_send","messageId":"c-6.3","payload":{"text":"c"}})",
      R"({"type":"stream_end","messageId":"c-6.3"})"};
  return Stream(ctx, "c-6.3", frames, 0, [](Checks& c, const JsonFrame& end) {
    c.Require(end.type() == "response", absl::StrCat("ended with ", Printable(end.text(), 200)));
    const rapidjson::Value* texts = end.Get("payload.texts");
    c.Require(texts != nullptr && texts->IsArray() && texts->Size() == 3,
              "payload.texts does not hold the three texts sent");
  });
}

Verdict Bidi(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  Checks c;
  if (absl::Status st = SendCall(*s->ws, "b-6.4", MethodMembers(ctx, "Chat", "")); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  for (const char* text : {"one", "two"}) {
    absl::StatusOr<JsonFrame> f =
        Ask(ctx, *s->ws,
            absl::StrCat(R"({"type":"stream_send","messageId":"b-6.4","payload":{"text":")", text,
                         R"("}})"));
    if (!f.ok()) {
      c.Require(false, absl::StrCat("no reply to \"", text, "\": ", f.status().message()));
      return c.Result("");
    }
    c.Require(f->type() == "stream_message" && f->String("messageId") == "b-6.4" &&
                  f->String("payload.text") == text,
              absl::StrCat("reply to \"", text, "\": ", Printable(f->text(), 200)));
  }
  if (absl::Status st = s->ws->SendText(R"({"type":"stream_end","messageId":"b-6.4"})"); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  const StreamOutcome out = FinishStream(ctx, *s->ws, c, "b-6.4", 0, [&](const JsonFrame& end) {
    c.Require(end.type() == "stream_end" && end.Int("status.code").value_or(0) == 0,
              absl::StrCat("ended with ", Printable(end.text(), 200)));
  });
  return c.Result(EndText(out));
}

Verdict CancelStream(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  Checks c;
  absl::StatusOr<JsonFrame> first =
      Call(ctx, *s->ws, "r-6.5",
           MethodMembers(ctx, "Repeat", R"(,"payload":{"text":"t","count":0,"interval":"0.01s"})"));
  if (!first.ok() || first->type() != "stream_message") {
    c.Require(false, absl::StrCat("no first stream_message: ",
                                  first.ok() ? Printable(first->text(), 200)
                                             : std::string(first.status().message())));
    return c.Result("");
  }
  if (absl::Status st = s->ws->SendText(R"({"type":"cancel","messageId":"r-6.5"})"); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  const StreamOutcome out =
      FinishStream(ctx, *s->ws, c, "r-6.5", std::nullopt, [&](const JsonFrame& end) {
        if (end.type() == "error") {
          CheckError(c, end, {"cancelled", false, "r-6.5", std::nullopt, std::nullopt});
        } else {
          c.Require(end.type() == "stream_end" && end.Int("status.code").value_or(0) != 0,
                    absl::StrCat("the cancelled call ended with ", Printable(end.text(), 200),
                                 ", expected an error cancelled or a stream_end with a non-zero "
                                 "code"));
        }
      });
  return c.Result(out.end.has_value()
                      ? absl::StrCat(out.messages.size(), " stream_message after the cancel, then ",
                                     EndText(out))
                      : "");
}

}  // namespace

std::vector<Case> ErrorMappingCases() {
  const std::string group = "error mapping";
  std::vector<Case> cases = {
      {"5.1", group, "a unary call answers with its response",
       "response with the call's messageId and the echoed payload", true, UnaryOk},
      {"5.11", group, "an unknown method is not_found",
       "error messageId, category not_found, retryable false", true, UnknownMethod},
      {"5.12", group, "grpc-retry-pushback-ms becomes retryAfterMs",
       "demo-fail-code 8 + demo-pushback-ms 250: error rate_limited, retryable true, "
       "retryAfterMs 250",
       true, Pushback},
      {"5.13", group, "timeoutMs is the call's deadline",
       "timeoutMs 200 on a 30 s call: error timeout, grpcCode 4, soon", true, CallDeadline},
  };
  for (const ErrorCodeRow& row : kErrorCodes) {
    std::string expected =
        absl::StrCat("error messageId, category ", row.category, ", grpcCode ", row.code);
    if (row.retryable.has_value()) {
      absl::StrAppend(&expected, ", retryable ", *row.retryable ? "true" : "false");
    }
    cases.push_back(
        {row.id, group, absl::StrCat("demo-fail-code ", row.code, " maps to ", row.category),
         std::move(expected), true, [r = &row](CaseContext& ctx) { return FailCode(ctx, *r); }});
  }
  return InIdOrder(std::move(cases));
}

std::vector<Case> StreamCases() {
  const std::string group = "streams";
  return {
      {"6.1", group, "server streaming ends with one stream_end",
       "Repeat count 3: 3 stream_message, then one stream_end code 0, nothing after", true,
       ServerStreaming},
      {"6.2", group, "an error mid-stream is an error, never a stream_end",
       "Repeat with demo-fail-after 2: 2 stream_message, then one error (internal, grpcCode 13), "
       "nothing after",
       true, ErrorMidStream},
      {"6.3", group, "client streaming answers once after the half-close",
       "Collect a + stream_send b, c + stream_end: one response with the 3 texts", true,
       ClientStreaming},
      {"6.4", group, "bidi replies to each message and ends after the half-close",
       "Chat: a stream_message per stream_send, then stream_end code 0", true, Bidi},
      {"6.5", group, "a cancelled call ends with exactly one outcome",
       "cancel: one error cancelled (or stream_end non-zero), nothing after", true, CancelStream},
  };
}

}  // namespace harness::conformance::cases
