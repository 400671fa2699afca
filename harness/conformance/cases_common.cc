#include "harness/conformance/cases_common.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace harness::conformance::cases {

namespace {

// The numbers of a case id: {4, 10} for "4.10".
std::vector<int> IdNumbers(std::string_view id) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(absl::string_view(id.data(), id.size()), '.')) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n)) n = 0;
    out.push_back(n);
  }
  return out;
}

}  // namespace

std::vector<Case> InIdOrder(std::vector<Case> cases) {
  std::stable_sort(cases.begin(), cases.end(),
                   [](const Case& a, const Case& b) { return IdNumbers(a.id) < IdNumbers(b.id); });
  return cases;
}

std::string Ms(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d), " ms"); }

Verdict NoSession(const absl::Status& status) {
  return Fail(absl::StrCat("could not open a confirmed session: ", status.message()));
}

std::string DescribeEnd(const RawWsClient& ws, const absl::Status& status) {
  if (ws.close_code().has_value()) {
    return absl::StrCat("close ", *ws.close_code(), " \"", Printable(ws.close_reason()), "\"");
  }
  if (ws.connection_ended()) return "the TCP connection ended without a close frame";
  return absl::StrCat("no close (", status.message(), ")");
}

bool IsReasonWord(std::string_view reason) {
  if (reason.size() > 40) return false;
  for (const char ch : reason) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

Verdict ExpectClose(RawWsClient& ws, int code, std::string_view reason, absl::Duration timeout,
                    bool drop_is_non_strict) {
  const absl::Time start = absl::Now();
  absl::StatusOr<int> got = ws.WaitForClose(timeout);
  if (!got.ok()) {
    if (ws.connection_ended() && drop_is_non_strict) {
      return NonStrict(absl::StrCat("the TCP connection ended without a close frame ",
                                    "(expected close ", code, ")"));
    }
    return Fail(absl::StrCat(DescribeEnd(ws, got.status()), "; expected close ", code, " within ",
                             Ms(timeout)));
  }
  const std::string seen =
      absl::StrCat(DescribeEnd(ws, absl::OkStatus()), " after ", Ms(absl::Now() - start));
  if (*got != code) return Fail(absl::StrCat(seen, "; expected close ", code));
  if (!reason.empty() && ws.close_reason() != reason) {
    return NonStrict(
        absl::StrCat(seen, "; the reason word should be \"", std::string(reason), "\""));
  }
  if (!IsReasonWord(ws.close_reason())) {
    return NonStrict(absl::StrCat(
        seen, "; the close reason should be a short machine-readable word (heartbeat_timeout)"));
  }
  return Pass(seen);
}

void Fold(Checks& c, const Verdict& verdict) {
  c.Require(verdict.outcome != Outcome::kFail, verdict.observed);
  c.Prefer(verdict.outcome != Outcome::kNonStrict, verdict.observed);
}

void CheckError(Checks& c, const JsonFrame& f, const ErrorSpec& spec) {
  if (!c.Require(f.type() == "error",
                 absl::StrCat("expected an error frame, got type \"", f.type(), "\""))) {
    return;
  }
  const std::string category = f.String("category").value_or("");
  c.Require(category == spec.category,
            absl::StrCat("category \"", category, "\", expected \"", spec.category, "\""));
  if (spec.retryable.has_value()) {
    const std::optional<bool> retryable = f.Bool("retryable");
    if (!retryable.has_value()) {
      // Absent reads as false in the protobuf JSON mapping: a detail when false is right.
      if (*spec.retryable) {
        c.Require(false, "retryable absent, expected true");
      } else {
        c.Prefer(false, "retryable absent (should be written: false)");
      }
    } else {
      c.Require(*retryable == *spec.retryable,
                absl::StrCat("retryable ", *retryable ? "true" : "false", ", expected ",
                             *spec.retryable ? "true" : "false"));
    }
  }
  if (!spec.message_id.empty()) {
    const std::string id = f.String("messageId").value_or("");
    c.Require(id == spec.message_id,
              absl::StrCat("messageId \"", id, "\", expected \"", spec.message_id, "\""));
  }
  if (spec.grpc_code.has_value()) {
    const std::optional<int64_t> code = f.Int("grpcCode");
    if (!code.has_value()) {
      c.Prefer(false, absl::StrCat("grpcCode absent, expected ", *spec.grpc_code));
    } else {
      c.Require(*code == *spec.grpc_code,
                absl::StrCat("grpcCode ", *code, ", expected ", *spec.grpc_code));
    }
  }
  if (spec.field.has_value() && !spec.field->empty()) {
    const std::string field = f.String("field").value_or("");
    c.Prefer(field == *spec.field,
             absl::StrCat("field \"", field, "\", expected \"", *spec.field, "\""));
  }
  c.Prefer(f.String("message").has_value() && !f.String("message")->empty(), "no message text");
}

absl::StatusOr<JsonFrame> Ask(CaseContext& ctx, RawWsClient& ws, std::string_view text) {
  if (absl::Status st = ws.SendText(text); !st.ok()) return st;
  return ctx.Next(ws);
}

bool RequireAlive(CaseContext& ctx, RawWsClient& ws, Checks& c, std::string_view when) {
  const std::string dead = ctx.ProbeAlive(ws);
  return c.Require(dead.empty(), absl::StrCat(std::string(when), ": ", dead));
}

void CheckServerUp(CaseContext& ctx, Checks& c) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-still-up");
  if (!s.ok()) {
    c.Require(false,
              absl::StrCat("the server is gone: a fresh connection: ", s.status().message()));
    return;
  }
  RequireAlive(ctx, *s->ws, c, "the server is gone: a fresh connection");
}

std::string MethodMembers(const CaseContext& ctx, std::string_view name, std::string_view rest) {
  return absl::StrCat(R"("method":")", ctx.DemoMethod(name), "\"", std::string(rest));
}

std::string SayMembers(const CaseContext& ctx, std::string_view text, std::string_view metadata) {
  return MethodMembers(ctx, "Say",
                       absl::StrCat(R"(,"payload":{"text":")", std::string(text),
                                    R"("},"metadata":)", std::string(metadata)));
}

std::string CallFrame(std::string_view id, std::string_view members) {
  return absl::StrCat(R"({"type":"message","messageId":")", std::string(id), R"(",)",
                      std::string(members), "}");
}

absl::Status SendCall(RawWsClient& ws, std::string_view id, std::string_view members) {
  return ws.SendText(CallFrame(id, members));
}

absl::StatusOr<JsonFrame> Call(CaseContext& ctx, RawWsClient& ws, std::string_view id,
                               std::string_view members, std::optional<absl::Duration> timeout) {
  if (absl::Status st = SendCall(ws, id, members); !st.ok()) return st;
  return ctx.Next(ws, timeout.value_or(ctx.options().reply_timeout));
}

std::string NextCallWorks(CaseContext& ctx, RawWsClient& ws, const std::string& id) {
  absl::StatusOr<JsonFrame> f = Call(ctx, ws, id, SayMembers(ctx, "still-here", "{}"));
  if (!f.ok()) return absl::StrCat("no answer to the next call: ", f.status().message());
  if (f->type() != "response" || f->String("messageId") != id) {
    return absl::StrCat("the next call answered ", Printable(f->text(), 300));
  }
  return "";
}

std::string CheckRefused(CaseContext& ctx, Checks& c, std::string_view first,
                         const Refusal& refusal) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open();
  if (!ws.ok()) {
    c.Require(false, absl::StrCat("open: ", ws.status().message()));
    return "";
  }
  absl::StatusOr<JsonFrame> f = Ask(ctx, **ws, first);
  std::string seen;
  if (f.ok()) {
    seen = Printable(f->text(), 300);
    if (f->type() == "connect_confirm") {
      c.Require(false, absl::StrCat(refusal.refused, " was confirmed"));
      return seen;
    }
    CheckError(c, *f, refusal.error);
  } else if (refusal.error_frame_optional) {
    c.Prefer(false, "no error frame before the close");
  } else {
    c.Require(false, absl::StrCat("no error frame before the close (",
                                  DescribeEnd(**ws, f.status()), ")"));
  }
  std::string end;
  if ((*ws)->close_code().has_value() || (*ws)->connection_ended()) {
    end = DescribeEnd(**ws, f.status());
    c.Require((*ws)->close_code() == refusal.close_code,
              absl::StrCat(end, ", expected close ", refusal.close_code));
    c.Prefer((*ws)->close_reason() == refusal.reason,
             absl::StrCat("the reason word should be \"", refusal.reason, "\""));
  } else {
    const Verdict close =
        ExpectClose(**ws, refusal.close_code, refusal.reason, ctx.options().reply_timeout);
    Fold(c, close);
    end = close.observed;
  }
  return absl::StrCat(seen, seen.empty() ? "" : "; ", end);
}

Verdict Refused(CaseContext& ctx, std::string_view first, const Refusal& refusal) {
  Checks c;
  const std::string seen = CheckRefused(ctx, c, first, refusal);
  return c.Result(seen);
}

std::string FreshChannel(std::string_view what) {
  return absl::StrCat("conformance:", std::string(what), ":", absl::ToUnixMicros(absl::Now()));
}

std::string SubscribeFrame(std::string_view channel, std::string_view extra) {
  return absl::StrCat(R"({"type":"subscribe","channel":")", std::string(channel), "\"",
                      std::string(extra), "}");
}

std::string UnsubscribeFrame(std::string_view channel) {
  return absl::StrCat(R"({"type":"unsubscribe","channel":")", std::string(channel), "\"}");
}

absl::StatusOr<std::vector<JsonFrame>> Exchange(CaseContext& ctx, RawWsClient& ws,
                                                const std::string& frame, std::string_view until,
                                                int max, std::string_view or_until) {
  if (absl::Status st = ws.SendText(frame); !st.ok()) return st;
  std::vector<JsonFrame> out;
  while (static_cast<int>(out.size()) < max) {
    absl::StatusOr<JsonFrame> f = ctx.Next(ws);
    if (!f.ok()) {
      return absl::Status(f.status().code(),
                          absl::StrCat(f.status().message(), " (after ", out.size(), " frames)"));
    }
    out.push_back(*std::move(f));
    if (out.back().type() == until || (!or_until.empty() && out.back().type() == or_until)) {
      break;
    }
  }
  return out;
}

std::string Texts(const std::vector<JsonFrame>& frames) {
  std::vector<std::string> texts;
  for (const JsonFrame& f : frames) texts.push_back(Printable(f.text(), 200));
  return absl::StrJoin(texts, " ");
}

void CheckChannelState(Checks& c, const JsonFrame& f, std::string_view type,
                       std::string_view channel) {
  if (!c.Require(f.type() == type, absl::StrCat("got type \"", f.type(), "\", expected \"",
                                                std::string(type), "\""))) {
    return;
  }
  // The protobuf JSON mapping leaves an empty string out: an absent channel is "".
  c.Require(f.String("channel").value_or("") == channel,
            absl::StrCat("channel \"", f.String("channel").value_or(""), "\", expected \"",
                         std::string(channel), "\""));
  c.Require(f.Int("seq").has_value(), "seq absent");
  if (type == "subscribed") {
    // The protobuf JSON mapping writes an optional field that is set, also when it is 0.
    c.Require(f.Int("offset").has_value(), "offset absent");
    c.Require(!f.String("epoch").value_or("").empty(), "epoch absent or empty");
  }
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto b = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (b < 0x20 || b == 0x7f) {
      absl::StrAppendFormat(&out, "\\u%04x", b);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace harness::conformance::cases
