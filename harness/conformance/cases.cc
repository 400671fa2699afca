// The cases of the conformance suite, by group, each checking one rule of docs/protocol.md from
// the wire. A case opens its own connections and leaves none behind.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "harness/conformance/suite.h"
#include "proto/bridge/v1/control.grpc.pb.h"
#include "proto/bridge/v1/frame.pb.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

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

// docs/protocol.md: "The close reason is a short machine-readable word (`heartbeat_timeout`),
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

// Checks an error frame against the table of docs/protocol.md.
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

// Sends `frame` before any `connect`: an `error` protocol_error, then close 1002
// protocol_error.
Verdict RefusedBeforeConnect(CaseContext& ctx, const std::string& frame) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open();
  if (!ws.ok()) return Fail(absl::StrCat("open: ", ws.status().message()));
  if (absl::Status s = (*ws)->SendText(frame); !s.ok()) return Fail(std::string(s.message()));
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
  Verdict close = ExpectClose(**ws, 1002, "protocol_error", ctx.options().reply_timeout);
  c.Require(close.outcome != Outcome::kFail, close.observed);
  c.Prefer(close.outcome != Outcome::kNonStrict, close.observed);
  return c.Result(absl::StrCat(seen, seen.empty() ? "" : "; ", close.observed));
}

Verdict FrameBeforeConnect(CaseContext& ctx) { return RefusedBeforeConnect(ctx, kPing); }

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
  return ExpectClose(*s->ws, 1007, "invalid_utf8", ctx.options().reply_timeout);
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
                                  " (the server's limit is higher; docs/protocol.md: 1009)"));
  }
  if (s->ws->close_code().has_value()) {
    const int code = *s->ws->close_code();
    const std::string seen = DescribeEnd(*s->ws, m.status());
    if (code != 1009) return Fail(absl::StrCat(seen, "; expected close 1009"));
    if (s->ws->close_reason() != "message_too_big") {
      return NonStrict(absl::StrCat(seen, "; the reason word should be \"message_too_big\""));
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
Verdict RfcViolation(CaseContext& ctx, uint8_t opcode, uint8_t rsv, std::string_view word) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  if (absl::Status st = s->ws->SendFrame(opcode, kPing, true, rsv); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  return ExpectClose(*s->ws, 1002, word, ctx.options().reply_timeout, /*drop_is_non_strict=*/true);
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

// The seqs of `frames`, for the report: "pong:2, response:3", or "none".
std::string SeqList(const std::vector<JsonFrame>& frames) {
  std::vector<std::string> parts;
  for (const JsonFrame& f : frames) {
    const std::optional<int64_t> seq = f.Int("seq");
    parts.push_back(absl::StrCat(f.type(), ":", seq.has_value() ? absl::StrCat(*seq) : "none"));
  }
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
            absl::StrCat("connect_confirm seq ", seq.has_value() ? absl::StrCat(*seq) : "none",
                         ", expected 1 (a fresh session)"));
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
  c.Require(again.confirm.Bool("resumed") == true,
            absl::StrCat("resumed is not true: ", Printable(again.confirm.text(), 300)));
  c.Require(again.confirm.String("conversationId") == std::string(conversation),
            "the conversationId changed on a resume");
  const std::optional<int64_t> seq = again.confirm.Int("seq");
  c.Require(seq == last_seq + 1,
            absl::StrCat("connect_confirm seq ", seq.has_value() ? absl::StrCat(*seq) : "none",
                         ", expected ", last_seq + 1, " (after the replayed frames)"));
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
  const std::string dead = ctx.ProbeAlive(*again->ws);
  c.Require(dead.empty(), absl::StrCat("after the connect_confirm: ", dead));
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
    if (absl::Status st = s->ws->SendText(kPing); !st.ok()) return st;
    absl::StatusOr<JsonFrame> f = ctx.Next(*s->ws);
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

Verdict ResumeBehindAck(CaseContext& ctx) {
  absl::StatusOr<AckedDrop> d = DropAfterAck(ctx, "conf-7.7");
  if (!d.ok()) return Fail(absl::StrCat("before the drop: ", d.status().message()));
  // The client claims less than it acknowledged: frame `acked` is what it says it lacks.
  const int64_t last_seq = d->acked - 1;
  std::vector<JsonFrame> replayed;
  absl::StatusOr<Session> again = Resume(ctx, "conf-7.7", d->conversation, last_seq, &replayed);
  if (!again.ok()) return Fail(absl::StrCat("resume: ", again.status().message()));
  Checks c;
  std::string how;
  if (again->confirm.Bool("resumed") == true) {
    // The server may keep acknowledged frames ("may drop them"): then the replay starts right
    // after lastSeq, with the acknowledged frame.
    how = "resumed, the acknowledged frame kept";
    CheckExactReplay(c, *again, replayed, last_seq + 1, d->acked + 1, d->conversation);
  } else {
    how = "a fresh session";
    CheckFreshSession(c, *again, replayed, d->conversation);
  }
  const std::string dead = ctx.ProbeAlive(*again->ws);
  c.Require(dead.empty(), absl::StrCat("after the connect_confirm: ", dead));
  return c.Result(absl::StrCat("ack ", d->acked, ", resume lastSeq ", last_seq, ": ", how,
                               "; replayed ", SeqList(replayed), " then ",
                               Printable(again->confirm.text(), 300)));
}

Verdict ResumeAtAck(CaseContext& ctx) {
  absl::StatusOr<AckedDrop> d = DropAfterAck(ctx, "conf-7.8");
  if (!d.ok()) return Fail(absl::StrCat("before the drop: ", d.status().message()));
  std::vector<JsonFrame> replayed;
  absl::StatusOr<Session> again = Resume(ctx, "conf-7.8", d->conversation, d->acked, &replayed);
  if (!again.ok()) return Fail(absl::StrCat("resume: ", again.status().message()));
  Checks c;
  CheckExactReplay(c, *again, replayed, d->acked + 1, d->acked + 1, d->conversation);
  const std::string dead = ctx.ProbeAlive(*again->ws);
  c.Require(dead.empty(), absl::StrCat("after the resume: ", dead));
  return c.Result(absl::StrCat("ack ", d->acked, ", resume lastSeq ", d->acked, ": replayed ",
                               SeqList(replayed), " then ", Printable(again->confirm.text(), 300)));
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
  return RefusedBeforeConnect(ctx, SubscribeFrame(FreshChannel("early")));
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
  const std::string alive = ctx.ProbeAlive(*s->ws);
  c.Require(alive.empty(), absl::StrCat("after subscribed: ", alive));
  return c.Result(Texts(*frames));
}

// --- 10. client strings

// `s` as a JSON string, quotes included: '"', '\' and control bytes escaped, every other byte
// (UTF-8 included) as it is.
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

// A fresh connection is confirmed and its ping answered: the server outlived what the case sent.
void CheckServerUp(CaseContext& ctx, Checks& c) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-still-up");
  if (!s.ok()) {
    c.Require(false,
              absl::StrCat("the server is gone: a fresh connection: ", s.status().message()));
    return;
  }
  const std::string dead = ctx.ProbeAlive(*s->ws);
  c.Require(dead.empty(), absl::StrCat("the server is gone: a fresh connection: ", dead));
}

// A Say on `ws` answered with its response: "" when so, else what came instead.
std::string NextCallWorks(CaseContext& ctx, RawWsClient& ws, const std::string& id) {
  absl::StatusOr<JsonFrame> f = Call(ctx, ws, id, SayMembers(ctx, "still-here", "{}"));
  if (!f.ok()) return absl::StrCat("no answer to the next call: ", f.status().message());
  if (f->type() != "response" || f->String("messageId") != id) {
    return absl::StrCat("the next call answered ", Printable(f->text(), 300));
  }
  return "";
}

Verdict ClientIdNonAscii(CaseContext& ctx) {
  // "Jürgen 東京 😀": two-, three- and four-byte UTF-8.
  const std::string client_id =
      "J\xc3\xbcrgen "
      "\xe6\x9d\xb1\xe4\xba\xac "
      "\xf0\x9f\x98\x80";
  absl::StatusOr<Session> s = ctx.OpenConfirmed(client_id);
  if (!s.ok()) return NoSession(s.status());
  Checks c;
  c.Require(s->confirm.String("clientId") == client_id,
            absl::StrCat("clientId echoed as \"",
                         Printable(s->confirm.String("clientId").value_or("")), "\""));
  // The client id travels with every call: the call must still work.
  const std::string call = NextCallWorks(ctx, *s->ws, "m-10.1");
  c.Require(call.empty(), call);
  CheckServerUp(ctx, c);
  return c.Result(Printable(s->confirm.text(), 300));
}

// Connects with `client_id` (any bytes): error invalid_argument, field clientId, then close
// 1002 "invalid_client_id". Returns what was seen.
std::string CheckClientIdRefused(CaseContext& ctx, Checks& c, std::string_view client_id) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open();
  if (!ws.ok()) {
    c.Require(false, absl::StrCat("open: ", ws.status().message()));
    return "";
  }
  if (absl::Status st = (*ws)->SendText(absl::StrCat(R"({"type":"connect","clientId":)",
                                                     JsonString(client_id), R"(,"version":"1"})"));
      !st.ok()) {
    c.Require(false, std::string(st.message()));
    return "";
  }
  absl::StatusOr<JsonFrame> f = ctx.Next(**ws);
  std::string seen;
  if (f.ok()) {
    seen = Printable(f->text(), 300);
    if (f->type() == "connect_confirm") {
      c.Require(false, "the clientId was confirmed");
      return seen;
    }
    CheckError(c, *f, {"invalid_argument", false, "", std::nullopt, "clientId"});
  } else {
    c.Require(false, absl::StrCat("no error frame before the close (",
                                  DescribeEnd(**ws, f.status()), ")"));
  }
  if ((*ws)->close_code().has_value() || (*ws)->connection_ended()) {
    c.Require((*ws)->close_code() == 1002,
              absl::StrCat(DescribeEnd(**ws, f.status()), ", expected close 1002"));
    c.Prefer((*ws)->close_reason() == "invalid_client_id",
             "the reason word should be \"invalid_client_id\"");
    return absl::StrCat(seen, "; ", DescribeEnd(**ws, f.status()));
  }
  Verdict close = ExpectClose(**ws, 1002, "invalid_client_id", ctx.options().reply_timeout);
  c.Require(close.outcome != Outcome::kFail, close.observed);
  c.Prefer(close.outcome != Outcome::kNonStrict, close.observed);
  return absl::StrCat(seen, seen.empty() ? "" : "; ", close.observed);
}

Verdict ClientIdRefused(CaseContext& ctx, std::string_view client_id) {
  Checks c;
  const std::string seen = CheckClientIdRefused(ctx, c, client_id);
  CheckServerUp(ctx, c);
  return c.Result(seen);
}

Verdict ClientIdTooLong(CaseContext& ctx) {
  Checks c;
  // 256 bytes is the most a clientId may hold.
  absl::StatusOr<Session> longest = ctx.OpenConfirmed(std::string(256, 'x'));
  c.Require(longest.ok(), absl::StrCat("a clientId of 256 bytes was not confirmed: ",
                                       longest.ok() ? "" : longest.status().message()));
  const std::string seen = CheckClientIdRefused(ctx, c, std::string(257, 'x'));
  CheckServerUp(ctx, c);
  return c.Result(absl::StrCat("257 bytes: ", seen));
}

// The `field` a refusal of metadata key `key` may name: metadata["key"], or with the key's
// bytes C-escaped (metadata["cl\xc3\xa9"]), which keeps a key of any bytes readable.
std::vector<std::string> MetadataFields(std::string_view key) {
  std::vector<std::string> fields = {absl::StrCat("metadata[\"", std::string(key), "\"]")};
  const std::string escaped = absl::StrCat(
      "metadata[\"", absl::CHexEscape(absl::string_view(key.data(), key.size())), "\"]");
  if (escaped != fields.front()) fields.push_back(escaped);
  return fields;
}

// A Say carrying `metadata` (a JSON object) is refused: error invalid_argument with the call's
// messageId and one of `fields`; then the session takes a next call, and the server is up.
Verdict RefusedMetadata(CaseContext& ctx, const std::string& id, const std::string& metadata,
                        const std::vector<std::string>& fields) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  absl::StatusOr<JsonFrame> f = Call(ctx, *s->ws, id, SayMembers(ctx, "x", metadata));
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", DescribeEnd(*s->ws, f.status())));
  Checks c;
  CheckError(c, *f, {"invalid_argument", false, id, std::nullopt, std::nullopt});
  if (f->type() == "error") {
    const std::string field = f->String("field").value_or("");
    c.Prefer(std::find(fields.begin(), fields.end(), field) != fields.end(),
             absl::StrCat("field \"", Printable(field), "\", expected \"",
                          Printable(fields.front()), "\""));
  }
  const std::string next = NextCallWorks(ctx, *s->ws, absl::StrCat(id, "-next"));
  c.Require(next.empty(), absl::StrCat("the session did not stay usable: ", next));
  CheckServerUp(ctx, c);
  return c.Result(Printable(f->text(), 300));
}

// Metadata {key: value}; `value_json` is the JSON string's content (escapes allowed).
Verdict RefusedMetadataEntry(CaseContext& ctx, const std::string& id, std::string_view key,
                             std::string_view value_json) {
  return RefusedMetadata(ctx, id,
                         absl::StrCat("{", JsonString(key), ":\"", std::string(value_json), "\"}"),
                         MetadataFields(key));
}

Verdict BinaryMetadataBase64(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  // The bytes 00 ff c3 bc, base64-encoded.
  absl::StatusOr<JsonFrame> f =
      Call(ctx, *s->ws, "m-10.14", SayMembers(ctx, "bin", R"({"conf-blob-bin":"AP/DvA=="})"));
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", DescribeEnd(*s->ws, f.status())));
  Checks c;
  c.Require(f->type() == "response" && f->String("messageId") == "m-10.14",
            absl::StrCat("answered ", Printable(f->text(), 300)));
  CheckServerUp(ctx, c);
  return c.Result(Printable(f->text(), 300));
}

Verdict MessageIdNonAscii(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  // "m-ü-✓-😀"
  const std::string id =
      "m-\xc3\xbc-"
      "\xe2\x9c\x93-"
      "\xf0\x9f\x98\x80";
  absl::StatusOr<JsonFrame> f = Call(ctx, *s->ws, id, SayMembers(ctx, "id", "{}"));
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", DescribeEnd(*s->ws, f.status())));
  Checks c;
  c.Require(f->type() == "response", absl::StrCat("type \"", f->type(), "\", expected response"));
  c.Require(
      f->String("messageId") == id,
      absl::StrCat("messageId echoed as \"", Printable(f->String("messageId").value_or("")), "\""));
  CheckServerUp(ctx, c);
  return c.Result(Printable(f->text(), 300));
}

Verdict MethodNonAscii(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  Checks c;
  std::vector<std::string> seen;
  // A method and a service name that exist nowhere, with non-ASCII letters.
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"m-10.17a", ctx.DemoMethod("S\xc3\xa4y")}, {"m-10.17b", "d\xc3\xa9mo.v1.Echo/Say"}};
  for (const auto& [id, method] : calls) {
    absl::StatusOr<JsonFrame> f =
        Call(ctx, *s->ws, id, absl::StrCat(R"("method":)", JsonString(method), R"(,"payload":{})"));
    if (!f.ok()) {
      c.Require(false,
                absl::StrCat(Printable(method), ": no answer: ", DescribeEnd(*s->ws, f.status())));
      break;
    }
    CheckError(c, *f, {"not_found", false, id, std::nullopt, std::nullopt});
    seen.push_back(Printable(f->text(), 250));
  }
  if (!c.failed()) {
    const std::string dead = ctx.ProbeAlive(*s->ws);
    c.Require(dead.empty(), absl::StrCat("the session did not stay up: ", dead));
  }
  CheckServerUp(ctx, c);
  return c.Result(absl::StrJoin(seen, " "));
}

Verdict ChannelNamesNonAscii(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-10.18");
  if (!s.ok()) return NoSession(s.status());
  Checks c;
  std::vector<std::string> seen;
  // Non-ASCII letters, then a control character.
  const std::vector<std::string> channels = {FreshChannel("\xc3\xbcnic\xc3\xb8"
                                                          "de-\xe6\x9d\xb1\xe4\xba\xac"),
                                             FreshChannel("bell\x07")};
  for (const std::string& channel : channels) {
    absl::StatusOr<std::vector<JsonFrame>> frames = Exchange(
        ctx, *s->ws, absl::StrCat(R"({"type":"subscribe","channel":)", JsonString(channel), "}"),
        "subscribed", 4, "unsubscribed");
    if (!frames.ok()) {
      c.Require(false, absl::StrCat("subscribe ", Printable(channel), ": ",
                                    DescribeEnd(*s->ws, frames.status())));
      break;
    }
    seen.push_back(Texts(*frames));
    const JsonFrame& first = frames->front();
    if (first.type() == "subscribed") {
      CheckChannelState(c, first, "subscribed", channel);
    } else if (c.Require(first.type() == "error",
                         absl::StrCat("subscribe ", Printable(channel), " answered ",
                                      Printable(first.text(), 200)))) {
      // Refused: with a category, naming the channel, then unsubscribed.
      c.Require(!first.String("category").value_or("").empty(), "the refusal has no category");
      c.Prefer(first.String("field") == "channel", "the refusal's field is not \"channel\"");
      if (c.Require(frames->size() == 2, absl::StrCat(frames->size(),
                                                      " frames, expected an error then "
                                                      "unsubscribed"))) {
        CheckChannelState(c, (*frames)[1], "unsubscribed", channel);
      }
    }
    const std::string dead = ctx.ProbeAlive(*s->ws);
    if (!c.Require(dead.empty(),
                   absl::StrCat("after subscribe ", Printable(channel), ": ", dead))) {
      break;
    }
  }
  CheckServerUp(ctx, c);
  return c.Result(absl::StrJoin(seen, "; "));
}

// --- 11. rate limit

// The next server message as frames: the frame, or the frames of a server `batch` in order.
absl::StatusOr<std::vector<JsonFrame>> NextFrames(CaseContext& ctx, RawWsClient& ws) {
  absl::StatusOr<JsonFrame> f = ctx.Next(ws);
  if (!f.ok()) return f.status();
  std::vector<JsonFrame> out;
  const rapidjson::Value* inner = f->type() == "batch" ? f->Get("frames") : nullptr;
  if (inner == nullptr || !inner->IsArray()) {
    out.push_back(*std::move(f));
    return out;
  }
  for (const rapidjson::Value& v : inner->GetArray()) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    v.Accept(writer);
    absl::StatusOr<JsonFrame> one =
        JsonFrame::Parse(std::string(buffer.GetString(), buffer.GetSize()));
    if (!one.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a server batch holds ", one.status().message(), ": ", Printable(f->text(), 300)));
    }
    out.push_back(*std::move(one));
  }
  return out;
}

// How many calls end the batch: where the bucket runs dry.
constexpr int kBatchCalls = 12;
// A burst the case cannot exceed in one message of reasonable size.
constexpr int kMaxBurstChecked = 20000;

Verdict BatchOverRateLimit(CaseContext& ctx) {
  const int burst = ctx.options().message_burst;
  const int strikes = ctx.options().rate_limit_strikes;
  if (burst <= 0) return Skip("--message_burst=0: the server's rate limit is not known");
  if (burst > kMaxBurstChecked) {
    return Skip(absl::StrCat("--message_burst=", burst, " is over ", kMaxBurstChecked,
                             ", more frames than one batch of this case holds"));
  }
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-11.1");
  if (!s.ok()) return NoSession(s.status());
  // The connect took a token: at most `burst` are left, so `over` frames more than the burst see
  // up to over + 1 refusals in a row, fewer when the bucket refills meanwhile. 8 over keeps them
  // below the default strikes limit (10) and leaves room for a slow server's refill; with fewer
  // strikes, 5 over, and the close 4029 may end the batch. Pings first, then the calls.
  const int over = std::clamp(strikes - 2, 5, 8);
  const int total = burst + over;
  const int calls = std::min(total, kBatchCalls);
  const int pings = total - calls;
  std::string batch = R"({"type":"batch","frames":[)";
  for (int i = 0; i < pings; ++i) absl::StrAppend(&batch, i == 0 ? "" : ",", kPing);
  std::vector<std::string> ids;
  for (int i = 0; i < calls; ++i) {
    ids.push_back(absl::StrCat("m-11.1-", i));
    absl::StrAppend(&batch, pings + i == 0 ? "" : ",", R"({"type":"message","messageId":")",
                    ids.back(), R"(",)", SayMembers(ctx, "x", "{}"), "}");
  }
  batch += "]}";
  if (absl::Status st = s->ws->SendText(batch); !st.ok()) return Fail(std::string(st.message()));

  Checks c;
  std::map<std::string, std::string> answers;  // messageId -> "response" or the error category
  std::vector<std::string> refused_ids;
  int pongs = 0;
  int refused_pings = 0;
  int64_t longest_retry_after = 0;
  bool closed = false;
  const auto check_refusal = [&](const JsonFrame& f, const std::string& id) {
    CheckError(c, f, {"rate_limited", true, id, std::nullopt, std::nullopt});
    const std::optional<int64_t> after = f.Int("retryAfterMs");
    c.Require(after.has_value() && *after > 0,
              absl::StrCat("refusal without a positive retryAfterMs: ", Printable(f.text(), 200)));
    longest_retry_after = std::max(longest_retry_after, after.value_or(0));
  };
  while (!c.failed() &&
         (static_cast<int>(answers.size()) < calls || pongs + refused_pings < pings)) {
    absl::StatusOr<std::vector<JsonFrame>> got = NextFrames(ctx, *s->ws);
    if (!got.ok()) {
      if (s->ws->close_code().has_value() || s->ws->connection_ended()) {
        closed = true;
      } else {
        c.Require(false, absl::StrCat(answers.size(), " of ", calls, " calls answered, ", pongs,
                                      " pongs and ", refused_pings, " refused pings of ", pings,
                                      ": ", got.status().message()));
      }
      break;
    }
    for (const JsonFrame& f : *got) {
      const std::string type = f.type();
      const std::string category = f.String("category").value_or("");
      const std::string id = f.String("messageId").value_or("");
      if (type == "pong") {
        ++pongs;
      } else if (id.empty()) {
        if (c.Require(type == "error" && category == "rate_limited",
                      absl::StrCat("unexpected ", Printable(f.text(), 200)))) {
          ++refused_pings;
          check_refusal(f, "");
        }
      } else if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
        c.Require(false, absl::StrCat("an answer for messageId \"", Printable(id),
                                      "\", none of the batch's: ", Printable(f.text(), 200)));
      } else if (!answers.emplace(id, type == "error" ? category : type).second) {
        c.Require(false, absl::StrCat("a second answer for ", id, ": ", Printable(f.text(), 200)));
      } else if (type == "error" && category == "rate_limited") {
        refused_ids.push_back(id);
        check_refusal(f, id);
      } else {
        c.Require(type == "response" || type == "error",
                  absl::StrCat("the answer for ", id, " is ", Printable(f.text(), 200)));
      }
    }
  }
  const int refused = static_cast<int>(refused_ids.size()) + refused_pings;
  std::string seen =
      absl::StrCat(pings, " pings and ", calls, " calls in one batch (message_burst ", burst,
                   "): ", pongs, " pongs, ", refused_pings, " pings refused, calls answered ",
                   answers.size(), ", refused ", refused_ids.size(), " (",
                   absl::StrJoin(refused_ids, ", "), "), retryAfterMs up to ", longest_retry_after);
  if (closed) {
    // The strikes limit ended the connection: what came before the close is checked above.
    absl::StrAppend(&seen, "; then ", DescribeEnd(*s->ws, absl::OkStatus()));
    c.Require(s->ws->close_code() == 4029,
              absl::StrCat(DescribeEnd(*s->ws, absl::OkStatus()), ", expected close 4029 or none"));
    c.Require(refused + 1 >= strikes,
              absl::StrCat("closed after ", refused, " refusals; rate_limit_strikes is ", strikes,
                           " (--rate_limit_strikes)"));
    c.Prefer(IsReasonWord(s->ws->close_reason()),
             "the close reason should be a short machine-readable word");
    return c.Result(seen);
  }
  if (c.failed()) return c.Result(seen);
  c.Require(refused > 0, absl::StrCat("no frame refused: ", total,
                                      " frames in one batch fit the rate limit (is each frame of "
                                      "a batch counted? is --message_burst the server's?)"));
  // Nothing more for the batch while the bucket refills; then a ping gets its pong.
  const absl::Duration refill =
      std::min(absl::Milliseconds(longest_retry_after + 10), ctx.options().reply_timeout);
  absl::StatusOr<RawWsClient::Message> extra = s->ws->Receive(refill);
  if (extra.ok()) {
    c.Require(false, absl::StrCat("after every frame was answered: ", Printable(extra->payload)));
  } else if (!absl::IsDeadlineExceeded(extra.status())) {
    c.Require(false, absl::StrCat("after every frame was answered: ",
                                  DescribeEnd(*s->ws, extra.status())));
  } else {
    const std::string dead = ctx.ProbeAlive(*s->ws);
    c.Require(dead.empty(),
              absl::StrCat("after ", Ms(refill), " for the bucket to refill: ", dead));
  }
  return c.Result(seen);
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
  add("4.7", "bad input", "invalid UTF-8 in a text frame closes 1007", "close 1007 invalid_utf8",
      false, InvalidUtf8);
  add("4.8", "bad input", "a 2 MiB message closes 1009",
      "close 1009 message_too_big (Non-strict when the server accepts it: its limit is higher)",
      false, TooBig);
  add("4.9", "bad input", "a binary frame on a JSON session is a protocol error",
      "error protocol_error; the session stays up", false,
      [](CaseContext& ctx) { return BadFrame(ctx, "\x0a\x00", std::nullopt, /*binary=*/true); });
  add("4.10", "bad input", "reserved bits set fail the connection (RFC 6455)",
      "close 1002 reserved_bits_set", false, [](CaseContext& ctx) {
        return RfcViolation(ctx, RawWsClient::kText, 0x4, "reserved_bits_set");
      });
  add("4.11", "bad input", "a reserved opcode fails the connection (RFC 6455)",
      "close 1002 invalid_opcode", false,
      [](CaseContext& ctx) { return RfcViolation(ctx, 0x3, 0, "invalid_opcode"); });

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

  add("7.6", "resume", "a resume at lastSeq 0 starts a fresh session",
      "after a TCP drop, resume {conversationId, lastSeq 0}: the first frame is connect_confirm "
      "resumed false, a new conversationId, seq 1 (no frame of the old session before it)",
      false, ResumeAtZero);
  add("7.7", "resume", "a resume behind the acknowledged frames never confirms a gap",
      "pongs to seq N, ack N, one more pong, TCP drop, resume lastSeq N-1: a fresh session "
      "(resumed false, nothing before its connect_confirm), or, if the server kept frame N, "
      "exactly N and N+1 replayed, then resumed true",
      false, ResumeBehindAck);
  add("7.8", "resume", "a resume at the acknowledged edge replays from the next frame",
      "pongs to seq N, ack N, one more pong, TCP drop, resume lastSeq N: exactly frame N+1 "
      "replayed, then connect_confirm resumed true, same conversationId, seq N+2",
      false, ResumeAtAck);

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
  add("9.9", "channels", "subscribe with since but no epoch recovers nothing, and says so",
      "since {offset 0} without an epoch: subscribed with recovered false (not absent), nothing "
      "after it",
      false, SinceWithoutEpoch);

  const std::string refused_connect =
      "error invalid_argument, field \"clientId\", then close 1002 \"invalid_client_id\"; a "
      "fresh connection is confirmed";
  const auto metadata_refused = [](const std::string& field) {
    return absl::StrCat("error invalid_argument, retryable false, the call's messageId, field ",
                        field,
                        "; the next call on the session succeeds; a fresh connection is "
                        "confirmed");
  };
  add("10.1", "client strings", "a non-ASCII clientId is accepted and calls work",
      "clientId \"J\u00fcrgen \u6771\u4eac \U0001F600\": connect_confirm echoes it exactly; a "
      "call gets its response",
      true, ClientIdNonAscii);
  add("10.2", "client strings", "a clientId with a control character is refused",
      absl::StrCat("clientId \"a\\u0001b\": ", refused_connect), false, [](CaseContext& ctx) {
        return ClientIdRefused(ctx,
                               "a\x01"
                               "b");
      });
  add("10.3", "client strings", "a clientId with a newline is refused",
      absl::StrCat("clientId \"line\\nbreak\": ", refused_connect), false,
      [](CaseContext& ctx) { return ClientIdRefused(ctx, "line\nbreak"); });
  add("10.4", "client strings", "a clientId over 256 bytes is refused",
      absl::StrCat("256 bytes: confirmed; 257 bytes: ", refused_connect), false, ClientIdTooLong);
  add("10.5", "client strings", "a non-ASCII metadata value is refused",
      absl::StrCat("{\"conf-note\":\"gr\u00fc\u00dfe\"}: ",
                   metadata_refused("metadata[\"conf-note\"]")),
      true, [](CaseContext& ctx) {
        return RefusedMetadataEntry(ctx, "m-10.5", "conf-note",
                                    "gr\xc3\xbc\xc3\x9f"
                                    "e");
      });
  add("10.6", "client strings", "a metadata value with a newline is refused",
      absl::StrCat("{\"conf-note\":\"a\\nb\"}: ", metadata_refused("metadata[\"conf-note\"]")),
      true,
      [](CaseContext& ctx) { return RefusedMetadataEntry(ctx, "m-10.6", "conf-note", "a\\nb"); });
  add("10.7", "client strings", "a metadata value with a tab is refused",
      absl::StrCat("{\"conf-note\":\"tab\\there\"}: ", metadata_refused("metadata[\"conf-note\"]")),
      true, [](CaseContext& ctx) {
        return RefusedMetadataEntry(ctx, "m-10.7", "conf-note", "tab\\there");
      });
  add("10.8", "client strings", "a metadata value with a control character is refused",
      absl::StrCat("{\"conf-note\":\"a\\u0001b\"}: ", metadata_refused("metadata[\"conf-note\"]")),
      true, [](CaseContext& ctx) {
        return RefusedMetadataEntry(ctx, "m-10.8", "conf-note", "a\\u0001b");
      });
  add("10.9", "client strings", "an upper-case metadata key is refused",
      absl::StrCat("{\"Conf-Key\":\"x\"}: ", metadata_refused("metadata[\"Conf-Key\"]")), true,
      [](CaseContext& ctx) { return RefusedMetadataEntry(ctx, "m-10.9", "Conf-Key", "x"); });
  add("10.10", "client strings", "a non-ASCII metadata key is refused",
      absl::StrCat("{\"cl\u00e9\":\"x\"}: ",
                   metadata_refused("metadata[\"cl\u00e9\"] (or its bytes C-escaped)")),
      true,
      [](CaseContext& ctx) { return RefusedMetadataEntry(ctx, "m-10.10", "cl\xc3\xa9", "x"); });
  add("10.11", "client strings", "a metadata key with the reserved prefix grpc- is refused",
      absl::StrCat("{\"grpc-conformance\":\"x\"}: ",
                   metadata_refused("metadata[\"grpc-conformance\"]")),
      true, [](CaseContext& ctx) {
        return RefusedMetadataEntry(ctx, "m-10.11", "grpc-conformance", "x");
      });
  add("10.12", "client strings", "a metadata key with the reserved prefix x-bridge- is refused",
      absl::StrCat("{\"x-bridge-client-id\":\"x\"}: ",
                   metadata_refused("metadata[\"x-bridge-client-id\"]")),
      true, [](CaseContext& ctx) {
        return RefusedMetadataEntry(ctx, "m-10.12", "x-bridge-client-id", "x");
      });
  add("10.13", "client strings", "a -bin metadata value that is not base64 is refused",
      absl::StrCat("{\"conf-blob-bin\":\"not base64!\"}: ",
                   metadata_refused("metadata[\"conf-blob-bin\"]")),
      true, [](CaseContext& ctx) {
        return RefusedMetadataEntry(ctx, "m-10.13", "conf-blob-bin", "not base64!");
      });
  add("10.14", "client strings", "a base64 -bin metadata value is accepted",
      "{\"conf-blob-bin\":\"AP/DvA==\"} (bytes 00 ff c3 bc): the call gets its response", true,
      BinaryMetadataBase64);
  add("10.15", "client strings", "metadata over 8192 bytes is invalid_argument, not a rate limit",
      absl::StrCat("one value of 9000 'a': ", metadata_refused("\"metadata\"")), true,
      [](CaseContext& ctx) {
        return RefusedMetadata(ctx, "m-10.15",
                               absl::StrCat(R"({"conf-big":")", std::string(9000, 'a'), R"("})"),
                               {"metadata"});
      });
  add("10.16", "client strings", "a non-ASCII messageId is echoed exactly",
      "messageId \"m-\u00fc-\u2713-\U0001F600\": the response carries the same messageId", true,
      MessageIdNonAscii);
  add("10.17", "client strings", "a method with non-ASCII letters is not_found",
      "demo.v1.Echo/S\u00e4y and d\u00e9mo.v1.Echo/Say: error not_found with each messageId; the "
      "session and the server stay up",
      false, MethodNonAscii);
  add("10.18", "client strings", "channel names with non-ASCII or a control character",
      "subscribe to a non-ASCII name and to one with \\u0007: subscribed with the name echoed, or "
      "an error with a category then unsubscribed; a ping still gets its pong; a fresh "
      "connection is confirmed",
      false, ChannelNamesNonAscii);

  add("11.1", "rate limit", "each frame of a batch counts; refusals carry their messageIds",
      "one batch of message_burst + 8 frames (+ 5 to + 7 under 10 strikes), pings then 12 calls: "
      "every call answered exactly once, the refused ones with error rate_limited, retryable "
      "true, retryAfterMs > 0 and their own messageId; at least one refusal; or close 4029 once "
      "rate_limit_strikes refusals came (--message_burst, --rate_limit_strikes: the server's; "
      "--message_burst=0 skips)",
      false, BatchOverRateLimit);
  return cases;
}

}  // namespace

const std::vector<Case>& AllCases() {
  static const std::vector<Case>* const cases = new std::vector<Case>(MakeCases());
  return *cases;
}

}  // namespace harness::conformance
