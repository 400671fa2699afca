#include "harness/conformance/suite.h"

#include <iterator>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace harness::conformance {
namespace {

absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

struct OutcomeWords {
  Outcome outcome;
  const char* name;
  const char* label;
};

// Each outcome's two spellings, in one place.
constexpr OutcomeWords kOutcomeWords[] = {
    {Outcome::kPass, "pass", "Pass"},
    {Outcome::kNonStrict, "non_strict", "Non-strict"},
    {Outcome::kFail, "fail", "Fail"},
    {Outcome::kSkipped, "skipped", "Skipped"},
};
static_assert(std::size(kOutcomeWords) == std::size(kOutcomes), "every outcome has its words");

const OutcomeWords* WordsFor(Outcome outcome) {
  for (const OutcomeWords& w : kOutcomeWords) {
    if (w.outcome == outcome) return &w;
  }
  return nullptr;
}

}  // namespace

const char* OutcomeName(Outcome outcome) {
  const OutcomeWords* w = WordsFor(outcome);
  return w != nullptr ? w->name : "unknown";
}

const char* OutcomeLabel(Outcome outcome) {
  const OutcomeWords* w = WordsFor(outcome);
  return w != nullptr ? w->label : "?";
}

bool Checks::Require(bool ok, std::string_view what) {
  if (!ok) failures_.emplace_back(what);
  return ok;
}

bool Checks::Prefer(bool ok, std::string_view what) {
  if (!ok) deviations_.emplace_back(what);
  return ok;
}

Verdict Checks::Result(std::string_view observed) const {
  std::string text;
  if (!failures_.empty()) text = absl::StrJoin(failures_, "; ");
  if (!deviations_.empty()) {
    if (!text.empty()) text += "; ";
    absl::StrAppend(&text, failures_.empty() ? "" : "also: ", absl::StrJoin(deviations_, "; "));
  }
  if (!observed.empty()) {
    if (!text.empty()) text += " -- ";
    text += observed;
  }
  if (!failures_.empty()) return Fail(std::move(text));
  if (!deviations_.empty()) return NonStrict(std::move(text));
  return Pass(std::move(text));
}

absl::StatusOr<Target> ParseWsUrl(std::string_view url) {
  Target t;
  t.url = std::string(url);
  absl::string_view rest = Av(url);
  if (!absl::ConsumePrefix(&rest, "ws://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", Av(url), "\" is not a ws:// URL (wss:// is not supported)"));
  }
  const size_t slash = rest.find_first_of("/?");
  absl::string_view authority = rest.substr(0, slash);
  t.path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!t.path.empty() && t.path[0] == '?') t.path = "/" + t.path;
  absl::string_view port_text;
  if (absl::ConsumePrefix(&authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return absl::InvalidArgumentError("unclosed [ in URL");
    t.host = std::string(authority.substr(0, close));
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty() && !absl::ConsumePrefix(&after, ":")) {
      return absl::InvalidArgumentError("junk after ] in URL");
    }
    port_text = after;
  } else {
    const size_t colon = authority.rfind(':');
    t.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (t.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no host in \"", Av(url), "\""));
  }
  uint32_t port = 80;
  if (!port_text.empty() && (!absl::SimpleAtoi(port_text, &port) || port == 0 || port > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat("bad port \"", port_text, "\""));
  }
  t.port = static_cast<uint16_t>(port);
  return t;
}

std::string CaseContext::DemoMethod(std::string_view name) const {
  return absl::StrCat(options_.demo_service, "/", Av(name));
}

absl::StatusOr<std::unique_ptr<RawWsClient>> CaseContext::Open(
    const std::vector<std::string>& subprotocols) const {
  return RawWsClient::Connect(options_.target.host, options_.target.port, options_.target.path,
                              subprotocols, options_.reply_timeout);
}

absl::StatusOr<JsonFrame> CaseContext::Next(RawWsClient& ws, absl::Duration timeout) const {
  absl::StatusOr<RawWsClient::Message> m = ws.Receive(timeout);
  if (!m.ok()) {
    if (absl::IsDeadlineExceeded(m.status())) {
      return absl::DeadlineExceededError(
          absl::StrCat("no frame within ", absl::FormatDuration(timeout)));
    }
    return m.status();
  }
  if (m->opcode != RawWsClient::kText) {
    return absl::InvalidArgumentError(absl::StrCat("a binary message (", m->payload.size(),
                                                   " bytes) where a text frame was expected"));
  }
  absl::StatusOr<JsonFrame> frame = JsonFrame::Parse(m->payload);
  if (!frame.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(frame.status().message(), ": ", Printable(m->payload)));
  }
  return frame;
}

absl::StatusOr<CaseContext::Session> CaseContext::OpenConfirmed(
    std::string_view client_id, std::string_view connect_extra) const {
  absl::StatusOr<std::unique_ptr<RawWsClient>> ws = Open();
  if (!ws.ok()) return absl::UnavailableError(absl::StrCat("open: ", ws.status().message()));
  const std::string connect = absl::StrCat(
      R"({"type":"connect","clientId":")", Av(client_id),
      R"(","version":"1","timestamp":"2026-11-22T10:00:00.000Z")", Av(connect_extra), "}");
  if (absl::Status s = (*ws)->SendText(connect); !s.ok()) return s;
  absl::StatusOr<JsonFrame> confirm = Next(**ws);
  if (!confirm.ok()) {
    return absl::UnavailableError(absl::StrCat("connect: ", confirm.status().message()));
  }
  if (confirm->type() != "connect_confirm") {
    return absl::FailedPreconditionError(
        absl::StrCat("connect answered with ", Printable(confirm->text())));
  }
  return Session{*std::move(ws), *std::move(confirm)};
}

std::string CaseContext::ProbeAlive(RawWsClient& ws) const {
  if (absl::Status s = ws.SendText(R"({"type":"ping"})"); !s.ok()) {
    return absl::StrCat("the session is gone (ping not sent: ", s.message(), ")");
  }
  absl::StatusOr<JsonFrame> f = Next(ws);
  if (!f.ok()) return absl::StrCat("the session is gone (ping: ", f.status().message(), ")");
  if (f->type() != "pong") return absl::StrCat("ping answered with ", Printable(f->text()));
  return "";
}

bool CaseSelected(std::string_view id, std::string_view filter) {
  if (filter.empty()) return true;
  for (absl::string_view entry : absl::StrSplit(Av(filter), ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    if (absl::ConsumeSuffix(&entry, "*") || absl::EndsWith(entry, ".")) {
      if (absl::StartsWith(Av(id), entry)) return true;
    } else if (Av(id) == entry || absl::StartsWith(Av(id), absl::StrCat(entry, "."))) {
      return true;
    }
  }
  return false;
}

std::string Printable(std::string_view bytes, size_t max) {
  std::string out;
  const size_t n = std::min(bytes.size(), max);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x20 || c >= 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (bytes.size() > max) absl::StrAppend(&out, "... (", bytes.size(), " bytes)");
  return out;
}

}  // namespace harness::conformance
