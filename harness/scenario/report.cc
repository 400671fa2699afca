#include "harness/scenario/report.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bridge/transcode/json_text.h"

namespace harness::scenario {
namespace {

using ::bridge::transcode::JsonWriter;

std::string Ms(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d)); }

int Count(const std::vector<ScenarioReport>& reports, Verdict v) {
  return static_cast<int>(std::count_if(reports.begin(), reports.end(),
                                        [v](const ScenarioReport& r) { return r.verdict == v; }));
}

// "1006 network_error" for the first close the scenario saw.
std::string FirstClose(const ScenarioReport& r) {
  if (r.closes.empty()) return "-";
  return absl::StrCat(r.closes.front().code, " ", r.closes.front().category);
}

// The first failed call's category, or the first call's.
std::string CallCategory(const ScenarioReport& r) {
  for (const CallReport& c : r.calls) {
    if (c.outcome != "ok" && !c.outcome.empty()) {
      return absl::StrCat(c.outcome, c.retryable ? " (retryable)" : " (not retryable)");
    }
  }
  return r.calls.empty() ? "-" : "ok";
}

std::string Reconnects(const ScenarioReport& r) {
  if (r.reconnects.empty()) return "-";
  std::vector<std::string> parts;
  for (const ReconnectReport& x : r.reconnects) {
    parts.push_back(absl::StrCat(Ms(x.measured), " in [", Ms(x.floor), ",", Ms(x.ceiling), "]",
                                 x.ok ? "" : "!"));
  }
  return absl::StrJoin(parts, " ");
}

std::string Xml(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 has no place for other control characters.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string Observations(const ScenarioReport& r) {
  std::string out;
  for (const StepReport& s : r.steps) {
    absl::StrAppend(&out, s.ok ? "ok   " : "FAIL ", s.name, ": ", s.detail, "\n");
  }
  for (const CallReport& c : r.calls) {
    absl::StrAppend(&out, c.ok ? "ok   " : "FAIL ", "call ", c.id, " ", c.method, ": ", c.detail,
                    " (", c.attempts, " attempts)\n");
  }
  return out;
}

}  // namespace

std::string ConsoleTable(const std::vector<ScenarioReport>& reports) {
  const char* kRow = "%-30s %-7s %-36s %-26s %-32s %-26s %-9s %6s\n";
  std::string out = absl::StrFormat(kRow, "scenario", "result", "fault", "close", "call outcome",
                                    "reconnect ms [floor,ceil]", "lost/dup", "ms");
  for (const ScenarioReport& r : reports) {
    absl::StrAppend(&out, absl::StrFormat(kRow, r.name, VerdictName(r.verdict), r.fault,
                                          FirstClose(r), CallCategory(r), Reconnects(r),
                                          absl::StrCat(r.calls_lost + r.messages_lost, "/",
                                                       r.calls_duplicated + r.messages_duplicated),
                                          Ms(r.took)));
  }
  absl::StrAppend(&out, "\n", Count(reports, Verdict::kPass), " passed, ",
                  Count(reports, Verdict::kFail), " failed, ", Count(reports, Verdict::kSkipped),
                  " skipped\n");
  for (const ScenarioReport& r : reports) {
    if (r.verdict == Verdict::kPass) continue;
    absl::StrAppend(&out, "\n", r.name, " ", VerdictName(r.verdict), ": ", r.reason, "\n",
                    Observations(r));
  }
  return out;
}

std::string JUnitXml(const std::vector<ScenarioReport>& reports, std::string_view suite) {
  absl::Duration total;
  for (const ScenarioReport& r : reports) total += r.took;
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  const std::string head = absl::StrFormat(
      "name=\"%s\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\" time=\"%.3f\"",
      Xml(suite), reports.size(), Count(reports, Verdict::kFail), Count(reports, Verdict::kSkipped),
      absl::ToDoubleSeconds(total));
  absl::StrAppend(&out, "<testsuites ", head, ">\n  <testsuite ", head, ">\n");
  for (const ScenarioReport& r : reports) {
    absl::StrAppend(&out,
                    absl::StrFormat("    <testcase classname=\"%s\" name=\"%s\" time=\"%.3f\">\n",
                                    Xml(suite), Xml(r.name), absl::ToDoubleSeconds(r.took)));
    if (r.verdict == Verdict::kFail) {
      absl::StrAppend(&out, "      <failure message=\"", Xml(r.reason), "\">", Xml(Observations(r)),
                      "</failure>\n");
    } else if (r.verdict == Verdict::kSkipped) {
      absl::StrAppend(&out, "      <skipped message=\"", Xml(r.reason), "\"/>\n");
    }
    absl::StrAppend(&out, "      <system-out>",
                    Xml(absl::StrCat(r.description, "\n", Observations(r))),
                    "</system-out>\n    </testcase>\n");
  }
  absl::StrAppend(&out, "  </testsuite>\n</testsuites>\n");
  return out;
}

std::string JsonReport(const std::vector<ScenarioReport>& reports, std::string_view suite) {
  std::string out;
  JsonWriter w(&out);
  auto key = [&w](std::string_view k) {
    w.String(k);
    w.Char(':');
  };
  w.Char('{');
  key("suite");
  w.String(suite);
  w.Char(',');
  key("passed");
  w.Int(Count(reports, Verdict::kPass));
  w.Char(',');
  key("failed");
  w.Int(Count(reports, Verdict::kFail));
  w.Char(',');
  key("skipped");
  w.Int(Count(reports, Verdict::kSkipped));
  w.Char(',');
  key("scenarios");
  w.Char('[');
  for (size_t i = 0; i < reports.size(); ++i) {
    const ScenarioReport& r = reports[i];
    if (i > 0) w.Char(',');
    w.Char('{');
    key("name");
    w.String(r.name);
    w.Char(',');
    key("fault");
    w.String(r.fault);
    w.Char(',');
    key("verdict");
    w.String(VerdictName(r.verdict));
    w.Char(',');
    key("reason");
    w.String(r.reason);
    w.Char(',');
    key("ms");
    w.Int(absl::ToInt64Milliseconds(r.took));
    w.Char(',');
    key("callsLost");
    w.Int(r.calls_lost);
    w.Char(',');
    key("callsDuplicated");
    w.Int(r.calls_duplicated);
    w.Char(',');
    key("streamMessagesLost");
    w.Int(r.messages_lost);
    w.Char(',');
    key("streamMessagesDuplicated");
    w.Int(r.messages_duplicated);
    w.Char(',');
    key("closes");
    w.Char('[');
    for (size_t j = 0; j < r.closes.size(); ++j) {
      if (j > 0) w.Char(',');
      w.Char('{');
      key("code");
      w.Int(r.closes[j].code);
      w.Char(',');
      key("category");
      w.String(r.closes[j].category);
      w.Char(',');
      key("reconnect");
      w.Bool(r.closes[j].reconnect);
      w.Char('}');
    }
    w.Char(']');
    w.Char(',');
    key("reconnects");
    w.Char('[');
    for (size_t j = 0; j < r.reconnects.size(); ++j) {
      const ReconnectReport& x = r.reconnects[j];
      if (j > 0) w.Char(',');
      w.Char('{');
      key("attempt");
      w.Int(x.attempt);
      w.Char(',');
      key("afterCloseCode");
      w.Int(x.after_close_code);
      w.Char(',');
      key("floorMs");
      w.Int(absl::ToInt64Milliseconds(x.floor));
      w.Char(',');
      key("ceilingMs");
      w.Int(absl::ToInt64Milliseconds(x.ceiling));
      w.Char(',');
      key("plannedMs");
      w.Int(absl::ToInt64Milliseconds(x.planned));
      w.Char(',');
      key("measuredMs");
      w.Int(absl::ToInt64Milliseconds(x.measured));
      w.Char(',');
      key("ok");
      w.Bool(x.ok);
      w.Char('}');
    }
    w.Char(']');
    w.Char(',');
    key("calls");
    w.Char('[');
    for (size_t j = 0; j < r.calls.size(); ++j) {
      const CallReport& c = r.calls[j];
      if (j > 0) w.Char(',');
      w.Char('{');
      key("id");
      w.String(c.id);
      w.Char(',');
      key("method");
      w.String(c.method);
      w.Char(',');
      key("outcome");
      w.String(c.done ? c.outcome : "lost");
      w.Char(',');
      key("retryable");
      w.Bool(c.retryable);
      w.Char(',');
      key("grpcCode");
      w.Int(c.grpc_code);
      w.Char(',');
      key("retryAfterMs");
      w.Int(c.retry_after_ms);
      w.Char(',');
      key("attempts");
      w.Int(c.attempts);
      w.Char(',');
      key("outcomes");
      w.Int(c.outcomes);
      w.Char(',');
      key("streamMessages");
      w.Int(c.messages);
      w.Char(',');
      key("ok");
      w.Bool(c.ok);
      w.Char(',');
      key("detail");
      w.String(c.detail);
      w.Char('}');
    }
    w.Char(']');
    w.Char(',');
    key("steps");
    w.Char('[');
    for (size_t j = 0; j < r.steps.size(); ++j) {
      const StepReport& s = r.steps[j];
      if (j > 0) w.Char(',');
      w.Char('{');
      key("name");
      w.String(s.name);
      w.Char(',');
      key("ok");
      w.Bool(s.ok);
      w.Char(',');
      key("detail");
      w.String(s.detail);
      w.Char(',');
      key("ms");
      w.Int(absl::ToInt64Milliseconds(s.took));
      w.Char('}');
    }
    w.Char(']');
    w.Char('}');
  }
  w.Char(']');
  w.Char('}');
  w.Finish();
  out.push_back('\n');
  return out;
}

}  // namespace harness::scenario
