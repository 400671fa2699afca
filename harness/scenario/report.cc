#include "harness/scenario/report.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bridge/common/markup.h"
#include "bridge/transcode/json_text.h"

namespace harness::scenario {
namespace {

using ::bridge::MarkupEscape;

using ::bridge::transcode::JsonObject;
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

std::string Observations(const ScenarioReport& r) {
  std::string out;
  for (const StepReport& s : r.steps) {
    absl::StrAppend(&out, s.ok ? "ok   " : "FAIL ", s.name, ": ", s.detail, "\n");
  }
  for (const CallReport& c : r.calls) {
    absl::StrAppend(&out, c.ok ? "ok   " : "FAIL ", "call ", c.id, " ", c.method, ": ", c.detail,
                    " (", c.attempts, " attempts)\n");
  }
  for (const ChannelReport& c : r.channels) {
    absl::StrAppend(&out, c.ok ? "ok   " : "FAIL ", "channel ", c.detail, "\n");
  }
  return out;
}

}  // namespace

std::string ConsoleTable(const std::vector<ScenarioReport>& reports) {
  const char* kRow = "%-30s %-7s %-36s %-26s %-32s %-26s %-9s %6s\n";
  std::string out = absl::StrFormat(kRow, "scenario", "result", "fault", "close", "call outcome",
                                    "reconnect ms [floor,ceil]", "lost/dup", "ms");
  for (const ScenarioReport& r : reports) {
    absl::StrAppend(
        &out,
        absl::StrFormat(
            kRow, r.name, VerdictName(r.verdict), r.fault, FirstClose(r), CallCategory(r),
            Reconnects(r),
            absl::StrCat(r.calls_lost + r.messages_lost + r.publications_lost, "/",
                         r.calls_duplicated + r.messages_duplicated + r.publications_duplicated),
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
      MarkupEscape(suite), reports.size(), Count(reports, Verdict::kFail),
      Count(reports, Verdict::kSkipped), absl::ToDoubleSeconds(total));
  absl::StrAppend(&out, "<testsuites ", head, ">\n  <testsuite ", head, ">\n");
  for (const ScenarioReport& r : reports) {
    absl::StrAppend(
        &out,
        absl::StrFormat("    <testcase classname=\"%s\" name=\"%s\" time=\"%.3f\">\n",
                        MarkupEscape(suite), MarkupEscape(r.name), absl::ToDoubleSeconds(r.took)));
    if (r.verdict == Verdict::kFail) {
      absl::StrAppend(&out, "      <failure message=\"", MarkupEscape(r.reason), "\">",
                      MarkupEscape(Observations(r)), "</failure>\n");
    } else if (r.verdict == Verdict::kSkipped) {
      absl::StrAppend(&out, "      <skipped message=\"", MarkupEscape(r.reason), "\"/>\n");
    }
    absl::StrAppend(&out, "      <system-out>",
                    MarkupEscape(absl::StrCat(r.description, "\n", Observations(r))),
                    "</system-out>\n    </testcase>\n");
  }
  absl::StrAppend(&out, "  </testsuite>\n</testsuites>\n");
  return out;
}

std::string JsonReport(const std::vector<ScenarioReport>& reports, std::string_view suite) {
  std::string out;
  JsonWriter w(&out);
  {
    JsonObject top(w);
    top.Str("suite", suite)
        .Int("passed", Count(reports, Verdict::kPass))
        .Int("failed", Count(reports, Verdict::kFail))
        .Int("skipped", Count(reports, Verdict::kSkipped));
    top.Array("scenarios", reports, [](JsonObject& o, const ScenarioReport& r) {
      o.Str("name", r.name)
          .Str("fault", r.fault)
          .Str("verdict", VerdictName(r.verdict))
          .Str("reason", r.reason)
          .Int("ms", absl::ToInt64Milliseconds(r.took))
          .Int("callsLost", r.calls_lost)
          .Int("callsDuplicated", r.calls_duplicated)
          .Int("streamMessagesLost", r.messages_lost)
          .Int("streamMessagesDuplicated", r.messages_duplicated)
          .Int("publicationsLost", r.publications_lost)
          .Int("publicationsDuplicated", r.publications_duplicated)
          .Int("publicationsUnrecovered", r.publications_unrecovered);
      o.Array("closes", r.closes, [](JsonObject& c, const CloseReport& x) {
        c.Int("code", x.code).Str("category", x.category).Bool("reconnect", x.reconnect);
      });
      o.Array("reconnects", r.reconnects, [](JsonObject& c, const ReconnectReport& x) {
        c.Int("attempt", x.attempt)
            .Int("afterCloseCode", x.after_close_code)
            .Int("floorMs", absl::ToInt64Milliseconds(x.floor))
            .Int("ceilingMs", absl::ToInt64Milliseconds(x.ceiling))
            .Int("plannedMs", absl::ToInt64Milliseconds(x.planned))
            .Int("measuredMs", absl::ToInt64Milliseconds(x.measured))
            .Bool("ok", x.ok);
      });
      o.Array("calls", r.calls, [](JsonObject& c, const CallReport& x) {
        c.Str("id", x.id)
            .Str("method", x.method)
            .Str("outcome", x.done ? x.outcome : "lost")
            .Bool("retryable", x.retryable)
            .Int("grpcCode", x.grpc_code)
            .Int("retryAfterMs", x.retry_after_ms)
            .Int("attempts", x.attempts)
            .Int("outcomes", x.outcomes)
            .Int("streamMessages", x.messages)
            .Bool("ok", x.ok)
            .Str("detail", x.detail);
      });
      o.Array("channels", r.channels, [](JsonObject& c, const ChannelReport& x) {
        c.Str("client", x.client)
            .Str("channel", x.channel)
            .Int("owed", x.owed)
            .Int("received", x.received)
            .Int("lost", x.lost)
            .Int("duplicated", x.duplicated)
            .Int("outOfOrder", x.out_of_order)
            .Int("unrecovered", x.unrecovered)
            .Int("wrongPayload", x.wrong_payload)
            .Int("resubscribes", x.resubscribes);
        // Each resubscribe's `recovered`, in order: "true,false".
        std::vector<std::string> recovered;
        for (bool b : x.recovered) recovered.push_back(b ? "true" : "false");
        c.Str("recovered", absl::StrJoin(recovered, ",")).Bool("ok", x.ok).Str("detail", x.detail);
      });
      o.Array("steps", r.steps, [](JsonObject& c, const StepReport& x) {
        c.Str("name", x.name)
            .Bool("ok", x.ok)
            .Str("detail", x.detail)
            .Int("ms", absl::ToInt64Milliseconds(x.took));
      });
    });
  }
  w.Finish();
  out.push_back('\n');
  return out;
}

}  // namespace harness::scenario
