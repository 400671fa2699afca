// The cases of the conformance suite, by group, each checking one rule of PROTOCOL.md from
// the wire. A case opens its own connections and leaves none behind.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "harness/conformance/suite.h"
#include "proto/bridge/v1/control.grpc.pb.h"
#include "proto/bridge/v1/frame.pb.h"

namespace harness::conformance {
namespace {

using Session = CaseContext::Session;

constexpr char kPing[] = R"({"type":"ping"})";

std::string Ms(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d), " ms"); }

// The verdict for a session that could not be opened and confirmed.
Verdict NoSession(const absl::Status& status) {
  return Fail(absl::StrCat("could not open a confirmed session: ", status.message()));
}

// What the client saw of a close: "close 1002 \"protocol_error\"" or how the connection ended.
std::string DescribeEnd(const RawWsClient& ws, const absl::Status& status) {
  if (ws.close_code().has_value()) {
    return absl::StrCat("close ", *ws.close_code(), " \"", Printable(ws.close_reason()), "\"");
  }
  if (ws.connection_ended()) return "the TCP connection ended without a close frame";
  return absl::StrCat("no close (", status.message(), ")");
}

// PROTOCOL.md: "The close reason is a short machine-readable word (`heartbeat_timeout`),
// never internal detail." Empty is allowed.
bool IsReasonWord(std::string_view reason) {
  if (reason.size() > 40) return false;
  for (const char ch : reason) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

// Waits for the server's close frame and checks its code (Fail) and reason word (Non-strict).
// A TCP end without a close frame is Non-strict when `drop_is_non_strict` (RFC 6455 lets a
// server fail the connection that way), else a failure.
Verdict ExpectClose(RawWsClient& ws, int code, std::string_view reason, absl::Duration timeout,
                    bool drop_is_non_strict = false, std::string_view before = "") {
  const absl::Time start = absl::Now();
  absl::StatusOr<int> got = ws.WaitForClose(timeout);
  const std::string prefix = before.empty() ? "" : absl::StrCat(std::string(before), "; ");
  if (!got.ok()) {
    if (ws.connection_ended() && drop_is_non_strict) {
      return NonStrict(absl::StrCat(prefix, "the TCP connection ended without a close frame ",
                                    "(expected close ", code, ")"));
    }
    return Fail(absl::StrCat(prefix, DescribeEnd(ws, got.status()), "; expected close ", code,
                             " within ", Ms(timeout)));
  }
  const std::string seen =
      absl::StrCat(prefix, DescribeEnd(ws, absl::OkStatus()), " after ", Ms(absl::Now() - start));
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

// Checks an error frame against the table of PROTOCOL.md.
struct ErrorSpec {
  std::string category;
  std::optional<bool> retryable;  // unset: either is allowed (idempotent-only categories)
  std::string message_id;         // "" for a session error
  std::optional<int> grpc_code;
  std::optional<std::string> field;  // for protocol errors: the offending field's path
};

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

// --- 1. handshake

Verdict ConfirmFields(CaseContext& ctx) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open();
  if (!ws.ok()) return Fail(absl::StrCat("open: ", ws.status().message()));
  if (absl::Status s = (*ws)->SendText(
          R"({"type":"connect","clientId":"conf-1.1","version":"1","timestamp":"2026-11-22T10:00:00.123Z"})");
      !s.ok()) {
    return Fail(std::string(s.message()));
  }
  absl::StatusOr<JsonFrame> f = ctx.Next(**ws);
  if (!f.ok()) return Fail(absl::StrCat("no connect_confirm: ", f.status().message()));
  Checks c;
  c.Require(f->type() == "connect_confirm", absl::StrCat("type \"", f->type(), "\""));
  c.Require(f->String("clientId") == "conf-1.1", "clientId not echoed");
  c.Require(!f->String("conversationId").value_or("").empty(), "conversationId empty or absent");
  c.Require(f->String("status") == "confirmed", "status is not \"confirmed\"");
  const std::optional<int64_t> interval = f->Int("heartbeatIntervalMs");
  const std::optional<int64_t> timeout = f->Int("heartbeatTimeoutMs");
  c.Require(interval.has_value() && *interval > 0, "heartbeatIntervalMs absent or not positive");
  c.Require(timeout.has_value() && *timeout > 0, "heartbeatTimeoutMs absent or not positive");
  if (interval.has_value() && timeout.has_value()) {
    c.Prefer(*timeout >= *interval, "heartbeatTimeoutMs is shorter than heartbeatIntervalMs");
  }
  const std::optional<bool> resumed = f->Bool("resumed");
  if (resumed.has_value()) {
    c.Require(!*resumed, "resumed is true on a fresh session");
  } else {
    c.Prefer(false, "resumed absent (should be written: false)");
  }
  const std::optional<int64_t> seq = f->Int("seq");
  c.Require(seq.has_value(), "seq absent");
  if (seq.has_value()) c.Require(*seq == 1, absl::StrCat("seq ", *seq, ", expected 1"));
  c.Prefer(f->String("timestamp").has_value(), "timestamp absent");
  return c.Result(Printable(f->text()));
}

// Opens offering `offer`, checks the echoed subprotocol, and completes a JSON handshake.
Verdict JsonSubprotocol(CaseContext& ctx, const std::vector<std::string>& offer,
                        std::string_view echo) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open(offer);
  if (!ws.ok()) return Fail(absl::StrCat("open: ", ws.status().message()));
  Checks c;
  const std::string chosen = (*ws)->subprotocol();
  if (echo.empty()) {
    c.Require(chosen.empty() || chosen == "bridge.v1.json",
              absl::StrCat("subprotocol \"", chosen, "\" chosen though none of ours was offered"));
  } else {
    c.Require(chosen == echo, absl::StrCat("Sec-WebSocket-Protocol \"", chosen, "\", expected \"",
                                           std::string(echo), "\""));
  }
  if (absl::Status s = (*ws)->SendText(R"({"type":"connect","clientId":"conf-sub","version":"1"})");
      !s.ok()) {
    return Fail(std::string(s.message()));
  }
  absl::StatusOr<JsonFrame> f = ctx.Next(**ws);
  if (!f.ok()) {
    c.Require(false, absl::StrCat("no JSON connect_confirm: ", f.status().message()));
    return c.Result("");
  }
  c.Require(f->type() == "connect_confirm", absl::StrCat("answered ", Printable(f->text())));
  return c.Result(absl::StrCat("subprotocol \"", chosen, "\"; ", Printable(f->text(), 200)));
}

Verdict BinaryConnect(CaseContext& ctx) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open({"bridge.v1.proto"});
  if (!ws.ok()) return Fail(absl::StrCat("open: ", ws.status().message()));
  Checks c;
  c.Require((*ws)->subprotocol() == "bridge.v1.proto",
            absl::StrCat("Sec-WebSocket-Protocol \"", (*ws)->subprotocol(),
                         "\", expected \"bridge.v1.proto\""));
  bridge::v1::Frame connect;
  connect.mutable_connect()->set_client_id("conf-bin");
  connect.mutable_connect()->set_version("1");
  if (absl::Status s = (*ws)->SendBinary(connect.SerializeAsString()); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  absl::StatusOr<RawWsClient::Message> m = (*ws)->Receive(ctx.options().reply_timeout);
  if (!m.ok()) {
    c.Require(false, absl::StrCat("no answer: ", DescribeEnd(**ws, m.status())));
    return c.Result("");
  }
  if (!c.Require(m->opcode == RawWsClient::kBinary, "the answer is not a binary message")) {
    return c.Result(Printable(m->payload));
  }
  bridge::v1::Frame confirm;
  if (!c.Require(confirm.ParseFromString(m->payload), "the answer is not a serialized Frame")) {
    return c.Result(Printable(m->payload));
  }
  c.Require(confirm.kind_case() == bridge::v1::Frame::kConnectConfirm,
            "the answer is not connect_confirm");
  c.Require(confirm.connect_confirm().client_id() == "conf-bin", "clientId not echoed");
  c.Require(confirm.seq() == 1, absl::StrCat("seq ", confirm.seq(), ", expected 1"));
  return c.Result(Printable(confirm.ShortDebugString(), 300));
}

Verdict FrameBeforeConnect(CaseContext& ctx) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open();
  if (!ws.ok()) return Fail(absl::StrCat("open: ", ws.status().message()));
  if (absl::Status s = (*ws)->SendText(kPing); !s.ok()) return Fail(std::string(s.message()));
  Checks c;
  absl::StatusOr<JsonFrame> f = ctx.Next(**ws);
  std::string seen;
  if (f.ok()) {
    CheckError(c, *f, {"protocol_error", false, "", std::nullopt, std::nullopt});
    seen = Printable(f->text(), 300);
  } else {
    c.Require(false, absl::StrCat("no error frame before the close (",
                                  DescribeEnd(**ws, f.status()), ")"));
  }
  if ((*ws)->close_code().has_value() || (*ws)->connection_ended()) {
    c.Require((*ws)->close_code() == 1002,
              absl::StrCat(DescribeEnd(**ws, f.status()), ", expected close 1002"));
    return c.Result(seen);
  }
  Verdict close = ExpectClose(**ws, 1002, "", ctx.options().reply_timeout);
  c.Require(close.outcome != Outcome::kFail, close.observed);
  return c.Result(absl::StrCat(seen, seen.empty() ? "" : "; ", close.observed));
}

Verdict HandshakeTimeout(CaseContext& ctx) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open();
  if (!ws.ok()) return Fail(absl::StrCat("open: ", ws.status().message()));
  const absl::Time start = absl::Now();
  absl::StatusOr<int> code = (*ws)->WaitForClose(ctx.options().max_wait);
  if (!code.ok() && !(*ws)->connection_ended()) {
    return Skip(absl::StrCat("no close within max_wait_ms (", Ms(ctx.options().max_wait),
                             "): the server's handshake timeout is longer (default 10 s); "
                             "raise --max_wait_ms to check it"));
  }
  const std::string seen =
      absl::StrCat(DescribeEnd(**ws, code.status()), " after ", Ms(absl::Now() - start));
  if (!code.ok()) return Fail(absl::StrCat(seen, "; expected close 4001"));
  if (*code != 4001) return Fail(absl::StrCat(seen, "; expected close 4001"));
  if ((*ws)->close_reason() != "handshake_timeout") {
    return NonStrict(absl::StrCat(seen, "; the reason word should be \"handshake_timeout\""));
  }
  return Pass(seen);
}

// --- 2. versions

Verdict VersionAccepted(CaseContext& ctx, std::string_view version_member) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-version", version_member);
  if (!s.ok()) return Fail(std::string(s.status().message()));
  return Pass(Printable(s->confirm.text(), 200));
}

Verdict VersionAccepted1(CaseContext& ctx) {
  // OpenConfirmed sends version "1".
  return VersionAccepted(ctx, "");
}

Verdict VersionAbsent(CaseContext& ctx) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open();
  if (!ws.ok()) return Fail(absl::StrCat("open: ", ws.status().message()));
  if (absl::Status s = (*ws)->SendText(R"({"type":"connect","clientId":"conf-noversion"})");
      !s.ok()) {
    return Fail(std::string(s.message()));
  }
  absl::StatusOr<JsonFrame> f = ctx.Next(**ws);
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", DescribeEnd(**ws, f.status())));
  if (f->type() != "connect_confirm") return Fail(absl::StrCat("answered ", Printable(f->text())));
  return Pass(Printable(f->text(), 200));
}

Verdict VersionUnsupported(CaseContext& ctx) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open();
  if (!ws.ok()) return Fail(absl::StrCat("open: ", ws.status().message()));
  if (absl::Status s = (*ws)->SendText(R"({"type":"connect","clientId":"conf-v2","version":"2"})");
      !s.ok()) {
    return Fail(std::string(s.message()));
  }
  Checks c;
  std::string seen;
  absl::StatusOr<JsonFrame> f = ctx.Next(**ws);
  if (f.ok()) {
    seen = Printable(f->text(), 300);
    if (f->type() == "connect_confirm") {
      c.Require(false, "version \"2\" was confirmed");
      return c.Result(seen);
    }
    CheckError(c, *f, {"protocol_error", false, "", std::nullopt, std::nullopt});
  } else {
    c.Prefer(false, "no error frame before the close");
  }
  if (!(*ws)->close_code().has_value()) {
    Verdict close = ExpectClose(**ws, 4502, "unsupported_version", ctx.options().reply_timeout);
    c.Require(close.outcome != Outcome::kFail, close.observed);
    c.Prefer(close.outcome != Outcome::kNonStrict, close.observed);
    if (close.outcome == Outcome::kPass) absl::StrAppend(&seen, "; ", close.observed);
  } else {
    c.Require(*(*ws)->close_code() == 4502,
              absl::StrCat(DescribeEnd(**ws, absl::OkStatus()), ", expected close 4502"));
  }
  return c.Result(seen);
}

// --- 3. heartbeat

Verdict PingPong(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  if (absl::Status st = s->ws->SendText(R"({"type":"ping","timestamp":"2026-11-22T10:00:01Z"})");
      !st.ok()) {
    return Fail(std::string(st.message()));
  }
  absl::StatusOr<JsonFrame> f = ctx.Next(*s->ws);
  if (!f.ok()) return Fail(absl::StrCat("no pong: ", f.status().message()));
  Checks c;
  c.Require(f->type() == "pong", absl::StrCat("type \"", f->type(), "\", expected \"pong\""));
  c.Require(f->Int("seq").has_value(), "seq absent");
  c.Prefer(f->String("timestamp").has_value(), "timestamp absent");
  return c.Result(Printable(f->text(), 200));
}

Verdict ControlPing(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  if (absl::Status st = s->ws->SendPing("conformance-3.2"); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  absl::StatusOr<std::string> pong = s->ws->NextPong(ctx.options().reply_timeout);
  if (!pong.ok()) {
    return Fail(absl::StrCat("no pong control frame: ", DescribeEnd(*s->ws, pong.status())));
  }
  if (*pong != "conformance-3.2") {
    return Fail(absl::StrCat("pong payload \"", Printable(*pong),
                             "\", RFC 6455 requires the ping's (\"conformance-3.2\")"));
  }
  return Pass("pong control frame with the ping's payload");
}

Verdict HeartbeatTimeout(CaseContext& ctx) {
  const absl::Time start = absl::Now();
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  const int64_t timeout_ms = s->confirm.Int("heartbeatTimeoutMs").value_or(0);
  const int64_t interval_ms = s->confirm.Int("heartbeatIntervalMs").value_or(0);
  if (timeout_ms <= 0) return Fail("connect_confirm has no heartbeatTimeoutMs to check against");
  const absl::Duration timeout = absl::Milliseconds(timeout_ms);
  if (timeout > ctx.options().max_wait) {
    return Skip(absl::StrCat("heartbeatTimeoutMs is ", timeout_ms, " ms, over max_wait_ms (",
                             Ms(ctx.options().max_wait), "); raise --max_wait_ms to check it"));
  }
  // A server that checks on its heartbeat ticks may close up to one interval late.
  const absl::Duration late = timeout + absl::Milliseconds(interval_ms) + absl::Seconds(2);
  absl::StatusOr<int> code = s->ws->WaitForClose(late + absl::Seconds(3));
  const absl::Duration elapsed = absl::Now() - start;
  const std::string seen = absl::StrCat(DescribeEnd(*s->ws, code.status()), " after ", Ms(elapsed),
                                        " of silence (heartbeatTimeoutMs ", timeout_ms, ")");
  if (!code.ok()) return Fail(absl::StrCat(seen, "; expected close 4000"));
  if (*code != 4000) return Fail(absl::StrCat(seen, "; expected close 4000"));
  if (elapsed < timeout * 0.9) {
    return Fail(absl::StrCat(seen, "; closed before heartbeatTimeoutMs had passed"));
  }
  Checks c;
  c.Prefer(elapsed <= late, absl::StrCat("closed more than one interval + 2 s late"));
  c.Prefer(s->ws->close_reason() == "heartbeat_timeout",
           "the reason word should be \"heartbeat_timeout\"");
  return c.Result(seen);
}

Verdict PingsKeepAlive(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  const int64_t timeout_ms = s->confirm.Int("heartbeatTimeoutMs").value_or(0);
  const int64_t interval_ms = s->confirm.Int("heartbeatIntervalMs").value_or(0);
  if (timeout_ms <= 0 || interval_ms <= 0) return Fail("connect_confirm has no heartbeat settings");
  const absl::Duration span = absl::Milliseconds(timeout_ms) * 1.5;
  if (span > ctx.options().max_wait) {
    return Skip(absl::StrCat("1.5 x heartbeatTimeoutMs (", Ms(span), ") is over max_wait_ms (",
                             Ms(ctx.options().max_wait), ")"));
  }
  // A ping every half interval, for 1.5 heartbeat timeouts: the session must stay up.
  const absl::Duration every = absl::Milliseconds(interval_ms) / 2;
  const absl::Time end = absl::Now() + span;
  int pings = 0;
  while (absl::Now() < end) {
    if (std::string dead = ctx.ProbeAlive(*s->ws); !dead.empty()) {
      return Fail(absl::StrCat("after ", pings, " pings every ", Ms(every), ": ", dead));
    }
    ++pings;
    // Nothing is due from the server meanwhile; the wait ends at its deadline.
    absl::StatusOr<RawWsClient::Message> m = s->ws->Receive(every);
    if (m.ok()) return Fail(absl::StrCat("unexpected frame ", Printable(m->payload)));
    if (!absl::IsDeadlineExceeded(m.status())) {
      return Fail(absl::StrCat("after ", pings, " pings: ", DescribeEnd(*s->ws, m.status())));
    }
  }
  return Pass(
      absl::StrCat(pings, " pings every ", Ms(every), " kept the session up for ", Ms(span)));
}

Verdict SeqGrowsByOne(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  Checks c;
  std::vector<std::string> seqs;
  int64_t expected = 1;
  const auto take = [&](const JsonFrame& f) {
    const std::optional<int64_t> seq = f.Int("seq");
    seqs.push_back(seq.has_value() ? absl::StrCat(f.type(), ":", *seq)
                                   : absl::StrCat(f.type(), ":none"));
    c.Require(seq.has_value() && *seq == expected,
              absl::StrCat(f.type(), " has seq ", seq.has_value() ? absl::StrCat(*seq) : "none",
                           ", expected ", expected));
    ++expected;
  };
  take(s->confirm);
  // Pongs and an error frame: every server frame counts.
  const std::vector<std::string> sends = {kPing, kPing, R"({"type":"teleport"})", kPing, kPing};
  for (const std::string& send : sends) {
    if (absl::Status st = s->ws->SendText(send); !st.ok()) return Fail(std::string(st.message()));
    absl::StatusOr<JsonFrame> f = ctx.Next(*s->ws);
    if (!f.ok()) {
      c.Require(false, absl::StrCat("no answer to ", send, ": ", f.status().message()));
      break;
    }
    take(*f);
  }
  return c.Result(absl::StrCat("seq seen: ", absl::StrJoin(seqs, ", ")));
}

// --- 4. bad input after the handshake

// Sends `bad` on a confirmed session: an error protocol_error naming `field`, then a ping
// proves the session is up.
Verdict BadFrame(CaseContext& ctx, std::string_view bad, std::optional<std::string> field,
                 bool binary = false) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  absl::Status sent = binary ? s->ws->SendBinary(bad) : s->ws->SendText(bad);
  if (!sent.ok()) return Fail(std::string(sent.message()));
  Checks c;
  absl::StatusOr<JsonFrame> f = ctx.Next(*s->ws);
  if (!f.ok()) {
    c.Require(false, absl::StrCat("no error frame: ", DescribeEnd(*s->ws, f.status())));
    return c.Result("");
  }
  CheckError(c, *f, {"protocol_error", false, "", std::nullopt, std::move(field)});
  const std::string dead = ctx.ProbeAlive(*s->ws);
  c.Require(dead.empty(), absl::StrCat("the session did not stay up: ", dead));
  return c.Result(Printable(f->text(), 300));
}

Verdict UnknownFieldsIgnored(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  if (absl::Status st = s->ws->SendText(R"({"type":"ping","futureField":{"x":[1,2]},"v2":true})");
      !st.ok()) {
    return Fail(std::string(st.message()));
  }
  absl::StatusOr<JsonFrame> f = ctx.Next(*s->ws);
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", DescribeEnd(*s->ws, f.status())));
  if (f->type() != "pong") return Fail(absl::StrCat("answered ", Printable(f->text(), 300)));
  return Pass(Printable(f->text(), 200));
}

Verdict InvalidUtf8(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  if (absl::Status st = s->ws->SendText("{\"type\":\"ping\",\"x\":\"\xc3\x28\"}"); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  return ExpectClose(*s->ws, 1007, "", ctx.options().reply_timeout);
}

Verdict TooBig(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  const std::string big =
      absl::StrCat(R"({"type":"ping","pad":")", std::string(2 << 20, 'a'), R"("})");
  // The server may stop reading (and close) before all of it is written.
  const absl::Status sent = s->ws->SendText(big);
  absl::StatusOr<RawWsClient::Message> m = s->ws->Receive(ctx.options().reply_timeout);
  if (m.ok()) {
    return NonStrict(absl::StrCat("a 2 MiB message was accepted and answered with ",
                                  Printable(m->payload, 200),
                                  " (the server's limit is higher; PROTOCOL.md: 1009)"));
  }
  if (s->ws->close_code().has_value()) {
    const int code = *s->ws->close_code();
    const std::string seen = DescribeEnd(*s->ws, m.status());
    if (code != 1009) return Fail(absl::StrCat(seen, "; expected close 1009"));
    if (!IsReasonWord(s->ws->close_reason())) {
      return NonStrict(absl::StrCat(
          seen, "; the close reason should be a short machine-readable word (heartbeat_timeout)"));
    }
    return Pass(seen);
  }
  if (s->ws->connection_ended()) {
    return NonStrict("the TCP connection ended without a close frame (expected close 1009)");
  }
  return Fail(absl::StrCat("no answer and no close to a 2 MiB message (",
                           sent.ok() ? m.status().message() : sent.message(), ")"));
}

// RFC 6455 section 5.2 and 5.5: the server must fail the connection.
Verdict RfcViolation(CaseContext& ctx, uint8_t opcode, uint8_t rsv) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  if (absl::Status st = s->ws->SendFrame(opcode, kPing, true, rsv); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  return ExpectClose(*s->ws, 1002, "", ctx.options().reply_timeout, /*drop_is_non_strict=*/true);
}

// --- 5. error mapping

// Sends `message` (a JSON object's members after "type") and returns the first frame that
// concerns `id`.
absl::StatusOr<JsonFrame> Call(CaseContext& ctx, RawWsClient& ws, std::string_view id,
                               std::string_view members,
                               std::optional<absl::Duration> timeout = std::nullopt) {
  if (absl::Status st =
          ws.SendText(absl::StrCat(R"({"type":"message","messageId":")", std::string(id), R"(",)",
                                   std::string(members), "}"));
      !st.ok()) {
    return st;
  }
  return ctx.Next(ws, timeout.value_or(ctx.options().reply_timeout));
}

std::string SayMembers(CaseContext& ctx, std::string_view text, std::string_view metadata) {
  return absl::StrCat(R"("method":")", ctx.DemoMethod("Say"), R"(","payload":{"text":")",
                      std::string(text), R"("},"metadata":)", std::string(metadata));
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

// A Say that the demo backend fails with `code`: the error frame of `spec`.
Verdict FailCode(CaseContext& ctx, int code, ErrorSpec spec) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  spec.message_id = absl::StrCat("m-code-", code);
  spec.grpc_code = code;
  absl::StatusOr<JsonFrame> f =
      Call(ctx, *s->ws, spec.message_id,
           SayMembers(ctx, "x", absl::StrCat(R"({"demo-fail-code":")", code, R"("})")));
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", f.status().message()));
  Checks c;
  CheckError(c, *f, spec);
  return c.Result(Printable(f->text(), 300));
}

Verdict UnknownMethod(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  absl::StatusOr<JsonFrame> f =
      Call(ctx, *s->ws, "m-5.11",
           absl::StrCat(R"("method":")", ctx.DemoMethod("NoSuchMethodForConformance"),
                        R"(","payload":{})"));
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", f.status().message()));
  Checks c;
  CheckError(c, *f, {"not_found", false, "m-5.11", std::nullopt, std::nullopt});
  return c.Result(Printable(f->text(), 300));
}

Verdict Pushback(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  absl::StatusOr<JsonFrame> f =
      Call(ctx, *s->ws, "m-5.12",
           SayMembers(ctx, "x", R"({"demo-fail-code":"8","demo-pushback-ms":"250"})"));
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", f.status().message()));
  Checks c;
  CheckError(c, *f, {"rate_limited", true, "m-5.12", 8, std::nullopt});
  const std::optional<int64_t> after = f->Int("retryAfterMs");
  c.Require(after.has_value(), "retryAfterMs absent");
  if (after.has_value()) {
    c.Require(*after >= 250, absl::StrCat("retryAfterMs ", *after, ", below the pushback 250"));
    c.Prefer(*after == 250, absl::StrCat("retryAfterMs ", *after, ", the pushback was 250"));
  }
  return c.Result(Printable(f->text(), 300));
}

Verdict CallDeadline(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  const absl::Time start = absl::Now();
  absl::StatusOr<JsonFrame> f = Call(
      ctx, *s->ws, "m-5.13",
      absl::StrCat(SayMembers(ctx, "x", R"({"demo-delay-ms":"30000"})"), R"(,"timeoutMs":200)"));
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", f.status().message()));
  const absl::Duration took = absl::Now() - start;
  Checks c;
  CheckError(c, *f, {"timeout", std::nullopt, "m-5.13", 4, std::nullopt});
  c.Prefer(took < absl::Seconds(5),
           absl::StrCat("the deadline of 200 ms ended the call after ", Ms(took)));
  return c.Result(absl::StrCat(Printable(f->text(), 300), " after ", Ms(took)));
}

// --- 6. streams

// Reads frames until one concerns `id` and is not a stream_message; collects the
// stream_messages on the way. Frames of other calls are errors here (there are none).
struct StreamOutcome {
  std::vector<JsonFrame> messages;
  std::optional<JsonFrame> end;  // the stream_end, error or response that ended it
  std::string problem;           // how reading failed, if it did
};

StreamOutcome ReadStream(CaseContext& ctx, RawWsClient& ws, std::string_view id,
                         size_t max_messages = 10000) {
  StreamOutcome out;
  while (out.messages.size() <= max_messages) {
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

// After a call's outcome: nothing more for it. The next frame must be the pong of a ping.
void CheckNothingAfter(CaseContext& ctx, RawWsClient& ws, Checks& c) {
  const std::string after = ctx.ProbeAlive(ws);
  c.Require(after.empty(), absl::StrCat("after the outcome: ", after));
}

Verdict ServerStreaming(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  if (absl::Status st = s->ws->SendText(
          absl::StrCat(R"({"type":"message","messageId":"r-6.1","method":")",
                       ctx.DemoMethod("Repeat"), R"(","payload":{"text":"t","count":3}})"));
      !st.ok()) {
    return Fail(std::string(st.message()));
  }
  StreamOutcome out = ReadStream(ctx, *s->ws, "r-6.1");
  Checks c;
  c.Require(out.problem.empty(), out.problem);
  c.Require(out.messages.size() == 3,
            absl::StrCat(out.messages.size(), " stream_message frames, expected 3"));
  if (out.end.has_value()) {
    c.Require(out.end->type() == "stream_end",
              absl::StrCat("ended with ", Printable(out.end->text(), 200)));
    if (out.end->type() == "stream_end") {
      const std::optional<int64_t> code = out.end->Int("status.code");
      if (!code.has_value()) {
        c.Prefer(false, "status.code absent (should be written: 0)");
      } else {
        c.Require(*code == 0, absl::StrCat("status.code ", *code, ", expected 0"));
      }
    }
  }
  CheckNothingAfter(ctx, *s->ws, c);
  return c.Result(out.end.has_value() ? Printable(out.end->text(), 200) : "");
}

Verdict ErrorMidStream(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  if (absl::Status st = s->ws->SendText(absl::StrCat(
          R"({"type":"message","messageId":"r-6.2","method":")", ctx.DemoMethod("Repeat"),
          R"(","payload":{"text":"t","count":10},"metadata":{"demo-fail-after":"2",)",
          R"("demo-fail-code":"13"}})"));
      !st.ok()) {
    return Fail(std::string(st.message()));
  }
  StreamOutcome out = ReadStream(ctx, *s->ws, "r-6.2");
  Checks c;
  c.Require(out.problem.empty(), out.problem);
  c.Require(out.messages.size() == 2,
            absl::StrCat(out.messages.size(), " stream_message frames, expected 2"));
  if (out.end.has_value()) {
    c.Require(out.end->type() != "stream_end", "an error mid-stream was reported as stream_end");
    if (out.end->type() != "stream_end") {
      CheckError(c, *out.end, {"internal", std::nullopt, "r-6.2", 13, std::nullopt});
    }
  }
  CheckNothingAfter(ctx, *s->ws, c);
  return c.Result(out.end.has_value() ? Printable(out.end->text(), 200) : "");
}

Verdict ClientStreaming(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  const std::vector<std::string> sends = {
      absl::StrCat(R"({"type":"message","messageId":"c-6.3","method":")", ctx.DemoMethod("Collect"),
                   R"(","payload":{"text":"a"}})"),
      R"({"type":"stream_send","messageId":"c-6.3","payload":{"text":"b"}})",
      R"({"type":"stream_send","messageId":"c-6.3","payload":{"text":"c"}})",
      R"({"type":"stream_end","messageId":"c-6.3"})"};
  for (const std::string& send : sends) {
    if (absl::Status st = s->ws->SendText(send); !st.ok()) return Fail(std::string(st.message()));
  }
  StreamOutcome out = ReadStream(ctx, *s->ws, "c-6.3");
  Checks c;
  c.Require(out.problem.empty(), out.problem);
  c.Require(out.messages.empty(), "stream_message frames for a client-streaming call");
  if (out.end.has_value()) {
    c.Require(out.end->type() == "response",
              absl::StrCat("ended with ", Printable(out.end->text(), 200)));
    const rapidjson::Value* texts = out.end->Get("payload.texts");
    c.Require(texts != nullptr && texts->IsArray() && texts->Size() == 3,
              "payload.texts does not hold the three texts sent");
  }
  CheckNothingAfter(ctx, *s->ws, c);
  return c.Result(out.end.has_value() ? Printable(out.end->text(), 200) : "");
}

Verdict Bidi(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  Checks c;
  if (absl::Status st = s->ws->SendText(absl::StrCat(
          R"({"type":"message","messageId":"b-6.4","method":")", ctx.DemoMethod("Chat"), R"("})"));
      !st.ok()) {
    return Fail(std::string(st.message()));
  }
  for (const char* text : {"one", "two"}) {
    if (absl::Status st = s->ws->SendText(absl::StrCat(
            R"({"type":"stream_send","messageId":"b-6.4","payload":{"text":")", text, R"("}})"));
        !st.ok()) {
      return Fail(std::string(st.message()));
    }
    absl::StatusOr<JsonFrame> f = ctx.Next(*s->ws);
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
  StreamOutcome out = ReadStream(ctx, *s->ws, "b-6.4");
  c.Require(out.problem.empty(), out.problem);
  c.Require(out.messages.empty(), "stream_message frames after the half-close");
  if (out.end.has_value()) {
    c.Require(out.end->type() == "stream_end" && out.end->Int("status.code").value_or(0) == 0,
              absl::StrCat("ended with ", Printable(out.end->text(), 200)));
  }
  CheckNothingAfter(ctx, *s->ws, c);
  return c.Result(out.end.has_value() ? Printable(out.end->text(), 200) : "");
}

Verdict CancelStream(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  if (absl::Status st = s->ws->SendText(absl::StrCat(
          R"({"type":"message","messageId":"r-6.5","method":")", ctx.DemoMethod("Repeat"),
          R"(","payload":{"text":"t","count":0,"interval":"0.01s"}})"));
      !st.ok()) {
    return Fail(std::string(st.message()));
  }
  Checks c;
  absl::StatusOr<JsonFrame> first = ctx.Next(*s->ws);
  if (!first.ok() || first->type() != "stream_message") {
    c.Require(false, absl::StrCat("no first stream_message: ",
                                  first.ok() ? Printable(first->text(), 200)
                                             : std::string(first.status().message())));
    return c.Result("");
  }
  if (absl::Status st = s->ws->SendText(R"({"type":"cancel","messageId":"r-6.5"})"); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  StreamOutcome out = ReadStream(ctx, *s->ws, "r-6.5");
  c.Require(out.problem.empty(), out.problem);
  if (out.end.has_value()) {
    const JsonFrame& end = *out.end;
    if (end.type() == "error") {
      CheckError(c, end, {"cancelled", false, "r-6.5", std::nullopt, std::nullopt});
    } else {
      c.Require(end.type() == "stream_end" && end.Int("status.code").value_or(0) != 0,
                absl::StrCat("the cancelled call ended with ", Printable(end.text(), 200),
                             ", expected an error cancelled or a stream_end with a non-zero "
                             "code"));
    }
  }
  CheckNothingAfter(ctx, *s->ws, c);
  return c.Result(out.end.has_value()
                      ? absl::StrCat(out.messages.size(), " stream_message after the cancel, then ",
                                     Printable(out.end->text(), 200))
                      : "");
}

// --- 7. resume

Verdict ResumeReplays(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-resume");
  if (!s.ok()) return NoSession(s.status());
  const std::string conversation = s->confirm.String("conversationId").value_or("");
  const int64_t confirm_seq = s->confirm.Int("seq").value_or(0);
  Checks c;
  // Two frames the client will claim it missed: a pong, and the reply of a call if the demo
  // service is there.
  std::vector<std::string> missed;
  std::vector<int64_t> missed_seq;
  const auto record = [&](absl::StatusOr<JsonFrame> f) {
    if (!f.ok()) {
      c.Require(false, absl::StrCat("before the drop: ", f.status().message()));
      return;
    }
    missed.push_back(f->type());
    missed_seq.push_back(f->Int("seq").value_or(-1));
  };
  if (absl::Status st = s->ws->SendText(kPing); !st.ok()) return Fail(std::string(st.message()));
  record(ctx.Next(*s->ws));
  if (!ctx.demo_missing().has_value()) {
    record(Call(ctx, *s->ws, "m-7.1", SayMembers(ctx, "before-drop", "{}")));
  }
  if (c.failed()) return c.Result("");
  // The TCP connection drops without a close frame.
  s->ws.reset();

  absl::StatusOr<Session> again = [&]() -> absl::StatusOr<Session> {
    absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open();
    if (!ws.ok()) return ws.status();
    if (absl::Status st = (*ws)->SendText(absl::StrCat(
            R"({"type":"connect","clientId":"conf-resume","version":"1","resume":{)",
            R"("conversationId":")", conversation, R"(","lastSeq":)", confirm_seq, "}}"));
        !st.ok()) {
      return st;
    }
    std::vector<std::string> seen;
    int64_t last = confirm_seq;
    size_t replayed = 0;
    while (true) {
      absl::StatusOr<JsonFrame> f = ctx.Next(**ws);
      if (!f.ok()) return f.status();
      const std::optional<int64_t> seq = f->Int("seq");
      if (f->type() == "connect_confirm") {
        c.Require(f->Bool("resumed") == true,
                  absl::StrCat("resumed is not true: ", Printable(f->text(), 300)));
        c.Require(f->String("conversationId") == conversation,
                  "the conversationId changed on a resume");
        c.Require(replayed == missed.size(),
                  absl::StrCat(replayed, " frames replayed before connect_confirm, expected ",
                               missed.size(), " (", absl::StrJoin(missed, ", "), ")"));
        c.Require(seq.has_value() && *seq > last,
                  "connect_confirm's seq does not follow the replayed frames");
        return Session{*std::move(ws), *std::move(f)};
      }
      c.Require(seq.has_value() && *seq > last,
                absl::StrCat("replayed ", f->type(), " seq ",
                             seq.has_value() ? absl::StrCat(*seq) : "none", " after ", last));
      if (replayed < missed.size()) {
        c.Require(f->type() == missed[replayed] && seq == missed_seq[replayed],
                  absl::StrCat("replayed ", f->type(), " seq ", seq.value_or(-1), ", expected ",
                               missed[replayed], " seq ", missed_seq[replayed]));
      }
      ++replayed;
      if (seq.has_value()) last = *seq;
      if (replayed > 100) return absl::InternalError("more than 100 frames replayed");
    }
  }();
  if (!again.ok()) {
    c.Require(false, absl::StrCat("resume: ", again.status().message()));
    return c.Result("");
  }
  const std::string dead = ctx.ProbeAlive(*again->ws);
  c.Require(dead.empty(), absl::StrCat("after the resume: ", dead));
  return c.Result(absl::StrCat("replayed ", absl::StrJoin(missed, ", "), " then ",
                               Printable(again->confirm.text(), 300)));
}

Verdict ResendNotCalledTwice(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  const std::string members = SayMembers(ctx, "once-7.2", "{}");
  absl::StatusOr<JsonFrame> first = Call(ctx, *s->ws, "m-7.2", members);
  if (!first.ok()) return Fail(absl::StrCat("no answer: ", first.status().message()));
  if (first->type() != "response") {
    return Fail(absl::StrCat("the first call answered ", Printable(first->text(), 300)));
  }
  absl::StatusOr<JsonFrame> second = Call(ctx, *s->ws, "m-7.2", members);
  if (!second.ok()) {
    return Fail(absl::StrCat("no answer to the resend: ", second.status().message()));
  }
  Checks c;
  c.Require(second->type() == "response" && second->String("messageId") == "m-7.2",
            absl::StrCat("the resend answered ", Printable(second->text(), 300)));
  // The demo reply carries the time the backend received the call: a second call differs.
  const rapidjson::Value* a = first->Get("payload");
  const rapidjson::Value* b = second->Get("payload");
  c.Require(a != nullptr && b != nullptr && *a == *b,
            "the resend's payload differs from the first answer's (the call ran again)");
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

Verdict ResendAfterResume(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-resend");
  if (!s.ok()) return NoSession(s.status());
  const std::string conversation = s->confirm.String("conversationId").value_or("");
  const std::string members = SayMembers(ctx, "resent-7.5", "{}");
  absl::StatusOr<JsonFrame> first = Call(ctx, *s->ws, "m-7.5", members);
  if (!first.ok()) return Fail(absl::StrCat("no answer: ", first.status().message()));
  if (first->type() != "response") {
    return Fail(absl::StrCat("the call answered ", Printable(first->text(), 300)));
  }
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
  if (!second.ok()) {
    c.Require(false, absl::StrCat("no answer to the resend: ", second.status().message()));
    return c.Result("");
  }
  c.Require(second->type() == "response" && second->String("messageId") == "m-7.5",
            absl::StrCat("the resend answered ", Printable(second->text(), 300)));
  const rapidjson::Value* a = first->Get("payload");
  const rapidjson::Value* b = second->Get("payload");
  c.Require(a != nullptr && b != nullptr && *a == *b,
            "the resend's payload differs from the first answer's (the call ran again)");
  return c.Result(absl::StrCat("resend after the resume: ", Printable(second->text(), 300)));
}

Verdict ResumeUnknown(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed(
      "conf-unknown",
      R"(,"resume":{"conversationId":"conformance-no-such-conversation","lastSeq":3})");
  if (!s.ok()) return NoSession(s.status());
  Checks c;
  const std::optional<bool> resumed = s->confirm.Bool("resumed");
  c.Require(resumed.has_value() ? !*resumed : true, "resumed is true for an unknown conversation");
  c.Prefer(resumed.has_value(), "resumed absent (should be written: false)");
  const std::string id = s->confirm.String("conversationId").value_or("");
  c.Require(!id.empty() && id != "conformance-no-such-conversation",
            absl::StrCat("conversationId \"", id, "\", expected a fresh one"));
  c.Require(s->confirm.Int("seq") == 1, "seq of the fresh session's connect_confirm is not 1");
  return c.Result(Printable(s->confirm.text(), 300));
}

// --- 8. close codes

Verdict NormalClose(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  if (absl::Status st = s->ws->SendClose(1000, "bye"); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  return ExpectClose(*s->ws, 1000, "", ctx.options().reply_timeout);
}

// --- 9. channels

// A channel name no earlier run used, so its history holds only this case's publications.
std::string FreshChannel(std::string_view what) {
  return absl::StrCat("conformance:", std::string(what), ":", absl::ToUnixMicros(absl::Now()));
}

std::string SubscribeFrame(std::string_view channel, std::string_view extra = "") {
  return absl::StrCat(R"({"type":"subscribe","channel":")", std::string(channel), "\"",
                      std::string(extra), "}");
}

// Sends `frame` and reads the answer frames until one of type `until` or `or_until` (or `max`
// frames).
absl::StatusOr<std::vector<JsonFrame>> Exchange(CaseContext& ctx, RawWsClient& ws,
                                                const std::string& frame, std::string_view until,
                                                int max = 4, std::string_view or_until = "") {
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

// Checks a subscribed / unsubscribed frame: its channel, and for subscribed offset and epoch.
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

// A refused subscribe: an error with field "channel", then unsubscribed {channel}.
Verdict RefusedSubscribe(CaseContext& ctx, Session& s, const std::string& channel,
                         std::string_view category, std::string_view observed_before = "") {
  // A server that accepts the subscribe answers subscribed: no use waiting for unsubscribed.
  absl::StatusOr<std::vector<JsonFrame>> frames =
      Exchange(ctx, *s.ws, SubscribeFrame(channel), "unsubscribed", 4, "subscribed");
  const std::string before(observed_before);
  if (!frames.ok()) return Fail(absl::StrCat(before, frames.status().message()));
  Checks c;
  CheckError(c, frames->front(), {std::string(category), false, "", std::nullopt, "channel"});
  c.Require(!frames->front().Has("messageId"), "the error has a messageId");
  if (!c.failed() &&
      c.Require(frames->size() == 2,
                absl::StrCat(frames->size(), " frames, expected an error then unsubscribed"))) {
    CheckChannelState(c, (*frames)[1], "unsubscribed", channel);
  }
  const std::string alive = ctx.ProbeAlive(*s.ws);
  c.Require(alive.empty(), absl::StrCat("the session did not stay up: ", alive));
  return c.Result(absl::StrCat(before, Texts(*frames)));
}

Verdict SubscribeAnswered(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.1");
  if (!s.ok()) return NoSession(s.status());
  const std::string channel = FreshChannel("sub");
  absl::StatusOr<std::vector<JsonFrame>> frames =
      Exchange(ctx, *s->ws, SubscribeFrame(channel), "subscribed", 1);
  if (!frames.ok()) return Fail(absl::StrCat("no answer: ", frames.status().message()));
  Checks c;
  CheckChannelState(c, frames->front(), "subscribed", channel);
  // A subscribe without `since` recovers nothing: recovered is absent (or false).
  c.Prefer(!frames->front().Bool("recovered").value_or(false),
           "recovered true on a subscribe without since");
  return c.Result(Texts(*frames));
}

Verdict UnsubscribeAnswered(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.2");
  if (!s.ok()) return NoSession(s.status());
  const std::string channel = FreshChannel("unsub");
  absl::StatusOr<std::vector<JsonFrame>> sub =
      Exchange(ctx, *s->ws, SubscribeFrame(channel), "subscribed", 1);
  if (!sub.ok()) return Fail(absl::StrCat("subscribe: ", sub.status().message()));
  Checks c;
  CheckChannelState(c, sub->front(), "subscribed", channel);
  if (c.failed()) return c.Result(Texts(*sub));
  absl::StatusOr<std::vector<JsonFrame>> unsub =
      Exchange(ctx, *s->ws, absl::StrCat(R"({"type":"unsubscribe","channel":")", channel, "\"}"),
               "unsubscribed", 1);
  if (!unsub.ok()) return Fail(absl::StrCat("unsubscribe: ", unsub.status().message()));
  CheckChannelState(c, unsub->front(), "unsubscribed", channel);
  return c.Result(Texts(*unsub));
}

Verdict UnsubscribeUnknown(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.3");
  if (!s.ok()) return NoSession(s.status());
  const std::string channel = FreshChannel("never");
  if (absl::Status st =
          s->ws->SendText(absl::StrCat(R"({"type":"unsubscribe","channel":")", channel, "\"}"));
      !st.ok()) {
    return Fail(std::string(st.message()));
  }
  absl::StatusOr<JsonFrame> f = ctx.Next(*s->ws);
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", f.status().message()));
  Checks c;
  CheckError(c, *f, {"not_found", false, "", std::nullopt, "channel"});
  const std::string alive = ctx.ProbeAlive(*s->ws);
  c.Require(alive.empty(), absl::StrCat("the session did not stay up: ", alive));
  return c.Result(Printable(f->text(), 300));
}

Verdict SubscribeTwice(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.4");
  if (!s.ok()) return NoSession(s.status());
  const std::string channel = FreshChannel("twice");
  absl::StatusOr<std::vector<JsonFrame>> first =
      Exchange(ctx, *s->ws, SubscribeFrame(channel), "subscribed", 1);
  if (!first.ok()) return Fail(absl::StrCat("first subscribe: ", first.status().message()));
  if (first->front().type() != "subscribed") {
    return Fail(absl::StrCat("first subscribe answered ", Texts(*first)));
  }
  // Refused with an error alone: the first subscription stands (an `unsubscribed` would say
  // it ended), as an unsubscribe then shows.
  absl::StatusOr<std::vector<JsonFrame>> again =
      Exchange(ctx, *s->ws, SubscribeFrame(channel), "error", 2, "unsubscribed");
  if (!again.ok()) return Fail(absl::StrCat("again: ", again.status().message()));
  Checks c;
  CheckError(c, again->front(), {"invalid_argument", false, "", std::nullopt, "channel"});
  c.Require(again->size() == 1, absl::StrCat("the refusal came with ", Texts(*again)));
  absl::StatusOr<std::vector<JsonFrame>> left =
      Exchange(ctx, *s->ws, absl::StrCat(R"({"type":"unsubscribe","channel":")", channel, "\"}"),
               "unsubscribed", 2, "error");
  if (!left.ok()) return Fail(absl::StrCat("unsubscribe: ", left.status().message()));
  c.Require(
      left->front().type() == "unsubscribed",
      absl::StrCat("still subscribed after the refusal? unsubscribe answered ", Texts(*left)));
  return c.Result(absl::StrCat(Texts(*first), "; again: ", Texts(*again), "; then ", Texts(*left)));
}

Verdict EmptyChannel(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.5");
  if (!s.ok()) return NoSession(s.status());
  return RefusedSubscribe(ctx, *s, "", "invalid_argument");
}

Verdict SubscribeBeforeConnect(CaseContext& ctx) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open();
  if (!ws.ok()) return Fail(absl::StrCat("open: ", ws.status().message()));
  if (absl::Status st = (*ws)->SendText(SubscribeFrame(FreshChannel("early"))); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  Checks c;
  absl::StatusOr<JsonFrame> f = ctx.Next(**ws);
  std::string seen;
  if (f.ok()) {
    CheckError(c, *f, {"protocol_error", false, "", std::nullopt, std::nullopt});
    seen = Printable(f->text(), 300);
  } else {
    c.Require(false, absl::StrCat("no error frame before the close (",
                                  DescribeEnd(**ws, f.status()), ")"));
  }
  if ((*ws)->close_code().has_value() || (*ws)->connection_ended()) {
    c.Require((*ws)->close_code() == 1002,
              absl::StrCat(DescribeEnd(**ws, f.status()), ", expected close 1002"));
    return c.Result(seen);
  }
  Verdict close = ExpectClose(**ws, 1002, "", ctx.options().reply_timeout);
  c.Require(close.outcome != Outcome::kFail, close.observed);
  return c.Result(absl::StrCat(seen, seen.empty() ? "" : "; ", close.observed));
}

// BridgeControl.Publish at --control.
absl::StatusOr<bridge::v1::PublishResponse> Publish(CaseContext& ctx, const std::string& channel,
                                                    const std::string& data) {
  auto stub = bridge::v1::BridgeControl::NewStub(
      grpc::CreateChannel(ctx.options().control, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + ctx.options().reply_timeout));
  bridge::v1::PublishRequest request;
  request.set_channel(channel);
  request.set_data(data);
  bridge::v1::PublishResponse response;
  const grpc::Status status = stub->Publish(&context, request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("BridgeControl/Publish at ", ctx.options().control,
                                               ": ", status.error_message()));
  }
  return response;
}

constexpr char kNoControl[] =
    "needs --control HOST:PORT (the bridge's BridgeControl, control_listen) to publish";

// Checks that `f` is the publication of `channel` at `offset` in `epoch` carrying {"n": n}.
void CheckPublication(Checks& c, const JsonFrame& f, std::string_view channel, uint64_t offset,
                      std::string_view epoch, int64_t n) {
  if (!c.Require(f.type() == "publication",
                 absl::StrCat("got type \"", f.type(), "\", expected a publication"))) {
    return;
  }
  c.Require(f.String("channel") == std::string(channel),
            absl::StrCat("channel \"", f.String("channel").value_or(""), "\""));
  c.Require(f.Int("offset") == static_cast<int64_t>(offset),
            absl::StrCat("offset ", f.Int("offset").value_or(-1), ", expected ", offset));
  c.Require(f.String("epoch") == std::string(epoch),
            absl::StrCat("epoch \"", f.String("epoch").value_or(""), "\", expected \"",
                         std::string(epoch), "\""));
  c.Require(f.Int("data.n") == n,
            absl::StrCat("data ", f.Int("data.n").has_value() ? "n " : "without n ",
                         f.Int("data.n").value_or(0), ", expected {\"n\":", n, "}"));
}

Verdict PublishReceived(CaseContext& ctx) {
  if (ctx.options().control.empty()) return Skip(kNoControl);
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.7");
  if (!s.ok()) return NoSession(s.status());
  const std::string channel = FreshChannel("pub");
  absl::StatusOr<std::vector<JsonFrame>> sub =
      Exchange(ctx, *s->ws, SubscribeFrame(channel), "subscribed", 1);
  if (!sub.ok()) return Fail(absl::StrCat("subscribe: ", sub.status().message()));
  Checks c;
  CheckChannelState(c, sub->front(), "subscribed", channel);
  if (c.failed()) return c.Result(Texts(*sub));
  std::vector<std::string> seen = {Texts(*sub)};
  for (int n = 1; n <= 3; ++n) {
    absl::StatusOr<bridge::v1::PublishResponse> published =
        Publish(ctx, channel, absl::StrCat("{\"n\":", n, "}"));
    if (!published.ok()) return Fail(std::string(published.status().message()));
    const int64_t base = sub->front().Int("offset").value_or(0);
    c.Require(
        published->offset() == static_cast<uint64_t>(base + n),
        absl::StrCat("Publish answered offset ", published->offset(), ", expected ", base + n));
    absl::StatusOr<JsonFrame> f = ctx.Next(*s->ws);
    if (!f.ok()) {
      c.Require(false, absl::StrCat("publication ", n, " never came: ", f.status().message()));
      break;
    }
    seen.push_back(Printable(f->text(), 200));
    CheckPublication(c, *f, channel, published->offset(), published->epoch(), n);
    c.Require(published->epoch() == sub->front().String("epoch").value_or(""),
              "the publication's epoch is not the subscribed one");
  }
  return c.Result(absl::StrJoin(seen, " "));
}

Verdict SinceRecovers(CaseContext& ctx) {
  if (ctx.options().control.empty()) return Skip(kNoControl);
  const std::string channel = FreshChannel("since");
  Checks c;
  // A first session learns the position, then leaves.
  uint64_t offset = 0;
  std::string epoch;
  {
    absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.8a");
    if (!s.ok()) return NoSession(s.status());
    absl::StatusOr<std::vector<JsonFrame>> sub =
        Exchange(ctx, *s->ws, SubscribeFrame(channel), "subscribed", 1);
    if (!sub.ok()) return Fail(absl::StrCat("subscribe: ", sub.status().message()));
    CheckChannelState(c, sub->front(), "subscribed", channel);
    if (c.failed()) return c.Result(Texts(*sub));
    offset = static_cast<uint64_t>(sub->front().Int("offset").value_or(0));
    epoch = sub->front().String("epoch").value_or("");
  }
  // Three publications it misses.
  std::vector<bridge::v1::PublishResponse> missed;
  for (int n = 1; n <= 3; ++n) {
    absl::StatusOr<bridge::v1::PublishResponse> published =
        Publish(ctx, channel, absl::StrCat("{\"n\":", n, "}"));
    if (!published.ok()) return Fail(std::string(published.status().message()));
    missed.push_back(*published);
  }
  // A second session subscribes since that position: recovered, and the three in order.
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-9.8b");
  if (!s.ok()) return NoSession(s.status());
  absl::StatusOr<std::vector<JsonFrame>> frames = Exchange(
      ctx, *s->ws,
      SubscribeFrame(channel,
                     absl::StrCat(R"(,"since":{"offset":)", offset, R"(,"epoch":")", epoch, "\"}")),
      "subscribed", 4);
  if (!frames.ok()) return Fail(absl::StrCat("subscribe since: ", frames.status().message()));
  // The subscribed answer, then the recovered publications (never before it).
  if (c.Require(frames->front().type() == "subscribed",
                absl::StrCat("the first answer is \"", frames->front().type(),
                             "\", expected subscribed"))) {
    CheckChannelState(c, frames->front(), "subscribed", channel);
    c.Require(frames->front().Bool("recovered") == true, "recovered is not true");
    c.Require(frames->front().Int("offset") == static_cast<int64_t>(missed.back().offset()),
              absl::StrCat("offset ", frames->front().Int("offset").value_or(-1),
                           ", expected the channel's top ", missed.back().offset()));
  }
  std::vector<JsonFrame> publications;
  while (!c.failed() && publications.size() < missed.size()) {
    absl::StatusOr<JsonFrame> f = ctx.Next(*s->ws);
    if (!f.ok()) {
      c.Require(false, absl::StrCat(publications.size(), " of ", missed.size(),
                                    " publications recovered: ", f.status().message()));
      break;
    }
    publications.push_back(*std::move(f));
  }
  for (size_t i = 0; i < publications.size(); ++i) {
    CheckPublication(c, publications[i], channel, missed[i].offset(), missed[i].epoch(),
                     static_cast<int64_t>(i + 1));
  }
  // Nothing more: a ping's pong comes next, not a repeat.
  if (!c.failed()) {
    const std::string alive = ctx.ProbeAlive(*s->ws);
    c.Require(alive.empty(), absl::StrCat("after the recovered publications: ", alive));
  }
  return c.Result(absl::StrCat(Texts(*frames), " ", Texts(publications)));
}

std::vector<Case> MakeCases() {
  std::vector<Case> cases;
  const auto add = [&](std::string id, std::string group, std::string title, std::string expected,
                       bool needs_demo, std::function<Verdict(CaseContext&)> run) {
    cases.push_back(Case{std::move(id), std::move(group), std::move(title), std::move(expected),
                         needs_demo, std::move(run)});
  };
  const auto error_case = [&](std::string id, int code, std::string category,
                              std::optional<bool> retryable) {
    std::string expected =
        absl::StrCat("error messageId, category ", category, ", grpcCode ", code);
    if (retryable.has_value())
      absl::StrAppend(&expected, ", retryable ", *retryable ? "true" : "false");
    add(std::move(id), "error mapping",
        absl::StrCat("demo-fail-code ", code, " maps to ", category), std::move(expected), true,
        [code, category, retryable](CaseContext& ctx) {
          return FailCode(ctx, code, {category, retryable, "", std::nullopt, std::nullopt});
        });
  };

  add("1.1", "handshake", "connect is confirmed with every field",
      "connect_confirm: clientId echoed, conversationId non-empty, status confirmed, "
      "heartbeatIntervalMs and heartbeatTimeoutMs, resumed false, seq 1, timestamp",
      false, ConfirmFields);
  add("1.2", "handshake", "subprotocol bridge.v1.json is echoed",
      "Sec-WebSocket-Protocol: bridge.v1.json; JSON connect confirmed", false,
      [](CaseContext& ctx) { return JsonSubprotocol(ctx, {"bridge.v1.json"}, "bridge.v1.json"); });
  add("1.3", "handshake", "no subprotocol offered means JSON",
      "no bridge subprotocol offered: JSON connect confirmed", false,
      [](CaseContext& ctx) { return JsonSubprotocol(ctx, {}, ""); });
  add("1.4", "handshake", "subprotocol bridge.v1.proto speaks binary frames",
      "Sec-WebSocket-Protocol: bridge.v1.proto; a binary Frame connect gets a binary "
      "connect_confirm, seq 1",
      false, BinaryConnect);
  add("1.5", "handshake", "a first frame other than connect is refused",
      "ping before connect: error protocol_error, then close 1002", false, FrameBeforeConnect);
  add("1.6", "handshake", "no connect within the handshake timeout closes 4001",
      "close 4001 \"handshake_timeout\" (skipped when the timeout is over max_wait_ms)", false,
      HandshakeTimeout);

  add("2.1", "versions", "version \"1\" is accepted", "connect_confirm", false, VersionAccepted1);
  add("2.2", "versions", "an absent version means \"1\"", "connect_confirm", false, VersionAbsent);
  add("2.3", "versions", "version \"2\" is refused",
      "error protocol_error, then close 4502 \"unsupported_version\"", false, VersionUnsupported);

  add("3.1", "heartbeat", "ping gets pong", "pong with seq and timestamp", false, PingPong);
  add("3.2", "heartbeat", "a WebSocket ping control frame gets a pong control frame",
      "pong control frame with the ping's payload", false, ControlPing);
  add("3.3", "heartbeat", "a silent client is closed 4000 after heartbeatTimeoutMs",
      "close 4000 \"heartbeat_timeout\" between heartbeatTimeoutMs and one interval later "
      "(skipped when heartbeatTimeoutMs is over max_wait_ms)",
      false, HeartbeatTimeout);
  add("3.4", "heartbeat", "pings keep a session alive",
      "pings every half interval for 1.5 x heartbeatTimeoutMs: every one answered, no close", false,
      PingsKeepAlive);
  add("3.5", "heartbeat", "seq grows by 1 on every server frame",
      "connect_confirm seq 1, then pong, pong, error, pong, pong with seq 2..6", false,
      SeqGrowsByOne);

  add("4.1", "bad input", "invalid JSON is a protocol error",
      "error protocol_error; the session stays up (ping/pong)", false,
      [](CaseContext& ctx) { return BadFrame(ctx, "{\"type\":", std::nullopt); });
  add("4.2", "bad input", "a non-object is a protocol error",
      "error protocol_error; the session stays up", false,
      [](CaseContext& ctx) { return BadFrame(ctx, "[1,2,3]", std::nullopt); });
  add("4.3", "bad input", "a missing type is a protocol error",
      "error protocol_error, field \"type\"; the session stays up", false,
      [](CaseContext& ctx) { return BadFrame(ctx, R"({"clientId":"x"})", "type"); });
  add("4.4", "bad input", "an unknown type is a protocol error",
      "error protocol_error, field \"type\"; the session stays up", false,
      [](CaseContext& ctx) { return BadFrame(ctx, R"({"type":"teleport"})", "type"); });
  add("4.5", "bad input", "a field of the wrong type is a protocol error",
      "{\"type\":\"cancel\",\"messageId\":7}: error protocol_error, field \"messageId\"; the "
      "session stays up",
      false, [](CaseContext& ctx) {
        return BadFrame(ctx, R"({"type":"cancel","messageId":7})", "messageId");
      });
  add("4.6", "bad input", "unknown fields are ignored", "a ping with extra members gets a pong",
      false, UnknownFieldsIgnored);
  add("4.7", "bad input", "invalid UTF-8 in a text frame closes 1007",
      "close 1007 with a machine-readable reason word", false, InvalidUtf8);
  add("4.8", "bad input", "a 2 MiB message closes 1009",
      "close 1009 with a machine-readable reason word (Non-strict when the server accepts it: its "
      "limit is higher)",
      false, TooBig);
  add("4.9", "bad input", "a binary frame on a JSON session is a protocol error",
      "error protocol_error; the session stays up", false,
      [](CaseContext& ctx) { return BadFrame(ctx, "\x0a\x00", std::nullopt, /*binary=*/true); });
  add("4.10", "bad input", "reserved bits set fail the connection (RFC 6455)",
      "close 1002 with a machine-readable reason word", false,
      [](CaseContext& ctx) { return RfcViolation(ctx, RawWsClient::kText, 0x4); });
  add("4.11", "bad input", "a reserved opcode fails the connection (RFC 6455)",
      "close 1002 with a machine-readable reason word", false,
      [](CaseContext& ctx) { return RfcViolation(ctx, 0x3, 0); });

  add("5.1", "error mapping", "a unary call answers with its response",
      "response with the call's messageId and the echoed payload", true, UnaryOk);
  error_case("5.2", 14, "service_unavailable", true);
  error_case("5.3", 4, "timeout", std::nullopt);
  error_case("5.4", 8, "rate_limited", true);
  error_case("5.5", 16, "authentication_failed", false);
  error_case("5.6", 7, "permission_denied", false);
  error_case("5.7", 3, "invalid_argument", false);
  error_case("5.8", 5, "not_found", false);
  error_case("5.9", 13, "internal", std::nullopt);
  error_case("5.10", 1, "cancelled", false);
  add("5.11", "error mapping", "an unknown method is not_found",
      "error messageId, category not_found, retryable false", true, UnknownMethod);
  add("5.12", "error mapping", "grpc-retry-pushback-ms becomes retryAfterMs",
      "demo-fail-code 8 + demo-pushback-ms 250: error rate_limited, retryable true, "
      "retryAfterMs 250",
      true, Pushback);
  add("5.13", "error mapping", "timeoutMs is the call's deadline",
      "timeoutMs 200 on a 30 s call: error timeout, grpcCode 4, soon", true, CallDeadline);

  add("6.1", "streams", "server streaming ends with one stream_end",
      "Repeat count 3: 3 stream_message, then one stream_end code 0, nothing after", true,
      ServerStreaming);
  add("6.2", "streams", "an error mid-stream is an error, never a stream_end",
      "Repeat with demo-fail-after 2: 2 stream_message, then one error (internal, grpcCode 13), "
      "nothing after",
      true, ErrorMidStream);
  add("6.3", "streams", "client streaming answers once after the half-close",
      "Collect a + stream_send b, c + stream_end: one response with the 3 texts", true,
      ClientStreaming);
  add("6.4", "streams", "bidi replies to each message and ends after the half-close",
      "Chat: a stream_message per stream_send, then stream_end code 0", true, Bidi);
  add("6.5", "streams", "a cancelled call ends with exactly one outcome",
      "cancel: one error cancelled (or stream_end non-zero), nothing after", true, CancelStream);

  add("7.1", "resume", "a resume replays the missed frames, then confirms",
      "after a TCP drop, connect with resume {conversationId, lastSeq 1}: every frame with seq > "
      "1 in order, then connect_confirm resumed true, same conversationId",
      false, ResumeReplays);
  add("7.2", "resume", "a resent messageId is not called twice",
      "the same message again: the same response (same payload), no second call", true,
      ResendNotCalledTwice);
  add("7.3", "resume", "a resent failed call replays its failure",
      "demo-fail-first 1 (code 3), then the same messageId again: the same error, not a new "
      "call",
      true, ResendReplaysFailure);
  add("7.4", "resume", "an unknown conversation starts a fresh session",
      "connect_confirm resumed false, a new conversationId, seq 1", false, ResumeUnknown);

  add("7.5", "resume", "a message resent after a resume is answered from the session",
      "call, TCP drop, resume after its response, the same message again: the same response, "
      "no second call",
      true, ResendAfterResume);

  add("8.1", "close codes", "a client close 1000 is answered with 1000", "close 1000", false,
      NormalClose);

  add("9.1", "channels", "subscribe is answered with subscribed",
      "subscribed with the channel, offset and a non-empty epoch", false, SubscribeAnswered);
  add("9.2", "channels", "unsubscribe is answered with unsubscribed",
      "after subscribed: unsubscribe gets unsubscribed with the channel", false,
      UnsubscribeAnswered);
  add("9.3", "channels", "unsubscribing from an unknown channel is not_found",
      "error not_found, field \"channel\", no messageId; the session stays up", false,
      UnsubscribeUnknown);
  add("9.4", "channels", "subscribing twice is refused; the subscription stands",
      "error invalid_argument, field \"channel\", then unsubscribed; the session stays up", false,
      SubscribeTwice);
  add("9.5", "channels", "an empty channel name is refused",
      "error invalid_argument, field \"channel\", then unsubscribed; the session stays up", false,
      EmptyChannel);
  add("9.6", "channels", "subscribe before connect is a protocol error",
      "error protocol_error, then close 1002", false, SubscribeBeforeConnect);
  add("9.7", "channels", "a publication reaches the subscriber",
      "BridgeControl.Publish x3 (--control): publications with the channel, offsets after the "
      "subscribed one, its epoch and the data, in order (skipped without --control)",
      false, PublishReceived);
  add("9.8", "channels", "subscribe with since recovers what was missed",
      "3 publications after a session left; a new session's subscribe since its position: "
      "subscribed recovered true at the top offset, then the 3 in order, nothing more (skipped "
      "without --control)",
      false, SinceRecovers);
  return cases;
}

}  // namespace

const std::vector<Case>& AllCases() {
  static const std::vector<Case>* const cases = new std::vector<Case>(MakeCases());
  return *cases;
}

}  // namespace harness::conformance
