// Cases of groups 1 (handshake) and 2 (versions): the connect frame, the subprotocols, the
// handshake timeout, and which protocol versions a server accepts.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "harness/conformance/cases_common.h"
#include "proto/bridge/v1/frame.pb.h"

namespace harness::conformance::cases {
namespace {

// --- 1. handshake

Verdict ConfirmFields(CaseContext& ctx) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open();
  if (!ws.ok()) return Fail(absl::StrCat("open: ", ws.status().message()));
  absl::StatusOr<JsonFrame> f = Ask(
      ctx, **ws,
      R"({"type":"connect","clientId":"conf-1.1","version":"1","timestamp":"2026-11-22T10:00:00.123Z"})");
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

// Opens offering `offer`, checks the echoed subprotocol (`echo`; "" when none of ours was
// offered), and completes a JSON handshake.
Verdict JsonSubprotocol(CaseContext& ctx, const std::vector<std::string>& offer,
                        const std::string& echo) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open(offer);
  if (!ws.ok()) return Fail(absl::StrCat("open: ", ws.status().message()));
  Checks c;
  const std::string chosen = (*ws)->subprotocol();
  if (echo.empty()) {
    c.Require(chosen.empty() || chosen == "bridge.v1.json",
              absl::StrCat("subprotocol \"", chosen, "\" chosen though none of ours was offered"));
  } else {
    c.Require(chosen == echo,
              absl::StrCat("Sec-WebSocket-Protocol \"", chosen, "\", expected \"", echo, "\""));
  }
  absl::StatusOr<JsonFrame> f =
      Ask(ctx, **ws, R"({"type":"connect","clientId":"conf-sub","version":"1"})");
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
  return Refused(ctx, kPing, {{"protocol_error", false}, 1002, "protocol_error"});
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
  if (!code.ok() || *code != 4001) return Fail(absl::StrCat(seen, "; expected close 4001"));
  if ((*ws)->close_reason() != "handshake_timeout") {
    return NonStrict(absl::StrCat(seen, "; the reason word should be \"handshake_timeout\""));
  }
  return Pass(seen);
}

// --- 2. versions

Verdict VersionAccepted1(CaseContext& ctx) {
  // OpenConfirmed sends version "1".
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-version");
  if (!s.ok()) return Fail(std::string(s.status().message()));
  return Pass(Printable(s->confirm.text(), 200));
}

Verdict VersionAbsent(CaseContext& ctx) {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = ctx.Open();
  if (!ws.ok()) return Fail(absl::StrCat("open: ", ws.status().message()));
  absl::StatusOr<JsonFrame> f = Ask(ctx, **ws, R"({"type":"connect","clientId":"conf-noversion"})");
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", DescribeEnd(**ws, f.status())));
  if (f->type() != "connect_confirm") return Fail(absl::StrCat("answered ", Printable(f->text())));
  return Pass(Printable(f->text(), 200));
}

Verdict VersionUnsupported(CaseContext& ctx) {
  return Refused(ctx, R"({"type":"connect","clientId":"conf-v2","version":"2"})",
                 {{"protocol_error", false},
                  4502,
                  "unsupported_version",
                  /*error_frame_optional=*/true,
                  "version \"2\""});
}

}  // namespace

std::vector<Case> HandshakeCases() {
  const std::string group = "handshake";
  return {
      {"1.1", group, "connect is confirmed with every field",
       "connect_confirm: clientId echoed, conversationId non-empty, status confirmed, "
       "heartbeatIntervalMs and heartbeatTimeoutMs, resumed false, seq 1, timestamp",
       false, ConfirmFields},
      {"1.2", group, "subprotocol bridge.v1.json is echoed",
       "Sec-WebSocket-Protocol: bridge.v1.json; JSON connect confirmed", false,
       [](CaseContext& ctx) { return JsonSubprotocol(ctx, {"bridge.v1.json"}, "bridge.v1.json"); }},
      {"1.3", group, "no subprotocol offered means JSON",
       "no bridge subprotocol offered: JSON connect confirmed", false,
       [](CaseContext& ctx) { return JsonSubprotocol(ctx, {}, ""); }},
      {"1.4", group, "subprotocol bridge.v1.proto speaks binary frames",
       "Sec-WebSocket-Protocol: bridge.v1.proto; a binary Frame connect gets a binary "
       "connect_confirm, seq 1",
       false, BinaryConnect},
      {"1.5", group, "a first frame other than connect is refused",
       "ping before connect: error protocol_error, then close 1002", false, FrameBeforeConnect},
      {"1.6", group, "no connect within the handshake timeout closes 4001",
       "close 4001 \"handshake_timeout\" (skipped when the timeout is over max_wait_ms)", false,
       HandshakeTimeout},
  };
}

std::vector<Case> VersionCases() {
  const std::string group = "versions";
  return {
      {"2.1", group, "version \"1\" is accepted", "connect_confirm", false, VersionAccepted1},
      {"2.2", group, "an absent version means \"1\"", "connect_confirm", false, VersionAbsent},
      {"2.3", group, "version \"2\" is refused",
       "error protocol_error, then close 4502 \"unsupported_version\"", false, VersionUnsupported},
  };
}

}  // namespace harness::conformance::cases
