// Cases of groups 3 (heartbeat), 4 (bad input) and 8 (close codes): what a server does with
// frames on a confirmed session, well-formed or not, and how it closes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "harness/conformance/cases_common.h"

namespace harness::conformance::cases {
namespace {

// --- 3. heartbeat

Verdict PingPong(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  absl::StatusOr<JsonFrame> f =
      Ask(ctx, *s->ws, R"({"type":"ping","timestamp":"2026-11-22T10:00:01Z"})");
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
  if (!code.ok() || *code != 4000) return Fail(absl::StrCat(seen, "; expected close 4000"));
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
    const std::string shown = seq.has_value() ? absl::StrCat(*seq) : "none";
    seqs.push_back(absl::StrCat(f.type(), ":", shown));
    c.Require(seq == expected, absl::StrCat(f.type(), " has seq ", shown, ", expected ", expected));
    ++expected;
  };
  take(s->confirm);
  // Pongs and an error frame: every server frame counts.
  for (const std::string send : {kPing, kPing, R"({"type":"teleport"})", kPing, kPing}) {
    absl::StatusOr<JsonFrame> f = Ask(ctx, *s->ws, send);
    if (!f.ok()) {
      c.Require(false, absl::StrCat("no answer to ", send, ": ", f.status().message()));
      break;
    }
    take(*f);
  }
  return c.Result(absl::StrCat("seq seen: ", absl::StrJoin(seqs, ", ")));
}

// --- 4. bad input

// A frame that a confirmed session answers with an error protocol_error and survives.
struct BadFrameRow {
  const char* id;
  const char* title;
  const char* expected;
  std::string_view frame;
  const char* field;  // the field the error names; "" when none is due
  bool binary;
};

constexpr BadFrameRow kBadFrames[] = {
    {"4.1", "invalid JSON is a protocol error",
     "error protocol_error; the session stays up (ping/pong)", "{\"type\":", "", false},
    {"4.2", "a non-object is a protocol error", "error protocol_error; the session stays up",
     "[1,2,3]", "", false},
    {"4.3", "a missing type is a protocol error",
     "error protocol_error, field \"type\"; the session stays up", R"({"clientId":"x"})", "type",
     false},
    {"4.4", "an unknown type is a protocol error",
     "error protocol_error, field \"type\"; the session stays up", R"({"type":"teleport"})", "type",
     false},
    {"4.5", "a field of the wrong type is a protocol error",
     "{\"type\":\"cancel\",\"messageId\":7}: error protocol_error, field \"messageId\"; the "
     "session stays up",
     R"({"type":"cancel","messageId":7})", "messageId", false},
    {"4.9", "a binary frame on a JSON session is a protocol error",
     "error protocol_error; the session stays up", "\x0a", "", true},
};

Verdict BadFrame(CaseContext& ctx, const BadFrameRow& row) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  absl::Status sent = row.binary ? s->ws->SendBinary(row.frame) : s->ws->SendText(row.frame);
  if (!sent.ok()) return Fail(std::string(sent.message()));
  Checks c;
  absl::StatusOr<JsonFrame> f = ctx.Next(*s->ws);
  if (!f.ok()) {
    c.Require(false, absl::StrCat("no error frame: ", DescribeEnd(*s->ws, f.status())));
    return c.Result("");
  }
  CheckError(c, *f, {"protocol_error", false, "", std::nullopt, row.field});
  RequireAlive(ctx, *s->ws, c, "the session did not stay up");
  return c.Result(Printable(f->text(), 300));
}

// A frame after which the server must close the connection with `code` and `reason`.
struct ClosingFrameRow {
  const char* id;
  const char* title;
  const char* expected;
  uint8_t opcode;
  uint8_t rsv;
  std::string_view payload;
  int code;
  const char* reason;
  // RFC 6455 section 5.2 and 5.5 violations: the server may fail the connection without a
  // close frame.
  bool drop_is_non_strict;
};

constexpr ClosingFrameRow kClosingFrames[] = {
    {"4.7", "invalid UTF-8 in a text frame closes 1007", "close 1007 invalid_utf8",
     RawWsClient::kText, 0, "{\"type\":\"ping\",\"x\":\"\xc3\x28\"}", 1007, "invalid_utf8", false},
    {"4.10", "reserved bits set fail the connection (RFC 6455)", "close 1002 reserved_bits_set",
     RawWsClient::kText, 0x4, kPing, 1002, "reserved_bits_set", true},
    {"4.11", "a reserved opcode fails the connection (RFC 6455)", "close 1002 invalid_opcode", 0x3,
     0, kPing, 1002, "invalid_opcode", true},
};

Verdict ClosingFrame(CaseContext& ctx, const ClosingFrameRow& row) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  if (absl::Status st = s->ws->SendFrame(row.opcode, row.payload, true, row.rsv); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  return ExpectClose(*s->ws, row.code, row.reason, ctx.options().reply_timeout,
                     row.drop_is_non_strict);
}

Verdict UnknownFieldsIgnored(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  absl::StatusOr<JsonFrame> f =
      Ask(ctx, *s->ws, R"({"type":"ping","futureField":{"x":[1,2]},"v2":true})");
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", DescribeEnd(*s->ws, f.status())));
  if (f->type() != "pong") return Fail(absl::StrCat("answered ", Printable(f->text(), 300)));
  return Pass(Printable(f->text(), 200));
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
    const std::string seen = DescribeEnd(*s->ws, m.status());
    if (*s->ws->close_code() != 1009) return Fail(absl::StrCat(seen, "; expected close 1009"));
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

// --- 8. close codes

Verdict NormalClose(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  if (absl::Status st = s->ws->SendClose(1000, "bye"); !st.ok()) {
    return Fail(std::string(st.message()));
  }
  return ExpectClose(*s->ws, 1000, "", ctx.options().reply_timeout);
}

}  // namespace

std::vector<Case> HeartbeatCases() {
  const std::string group = "heartbeat";
  return {
      {"3.1", group, "ping gets pong", "pong with seq and timestamp", false, PingPong},
      {"3.2", group, "a WebSocket ping control frame gets a pong control frame",
       "pong control frame with the ping's payload", false, ControlPing},
      {"3.3", group, "a silent client is closed 4000 after heartbeatTimeoutMs",
       "close 4000 \"heartbeat_timeout\" between heartbeatTimeoutMs and one interval later "
       "(skipped when heartbeatTimeoutMs is over max_wait_ms)",
       false, HeartbeatTimeout},
      {"3.4", group, "pings keep a session alive",
       "pings every half interval for 1.5 x heartbeatTimeoutMs: every one answered, no close",
       false, PingsKeepAlive},
      {"3.5", group, "seq grows by 1 on every server frame",
       "connect_confirm seq 1, then pong, pong, error, pong, pong with seq 2..6", false,
       SeqGrowsByOne},
  };
}

std::vector<Case> BadInputCases() {
  const std::string group = "bad input";
  std::vector<Case> cases = {
      {"4.6", group, "unknown fields are ignored", "a ping with extra members gets a pong", false,
       UnknownFieldsIgnored},
      {"4.8", group, "a 2 MiB message closes 1009",
       "close 1009 message_too_big (Non-strict when the server accepts it: its limit is higher)",
       false, TooBig},
  };
  for (const BadFrameRow& row : kBadFrames) {
    cases.push_back({row.id, group, row.title, row.expected, false,
                     [r = &row](CaseContext& ctx) { return BadFrame(ctx, *r); }});
  }
  for (const ClosingFrameRow& row : kClosingFrames) {
    cases.push_back({row.id, group, row.title, row.expected, false,
                     [r = &row](CaseContext& ctx) { return ClosingFrame(ctx, *r); }});
  }
  return InIdOrder(std::move(cases));
}

std::vector<Case> CloseCodeCases() {
  return {{"8.1", "close codes", "a client close 1000 is answered with 1000", "close 1000", false,
           NormalClose}};
}

}  // namespace harness::conformance::cases
