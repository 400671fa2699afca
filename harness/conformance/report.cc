#include "harness/conformance/report.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "bridge/common/markup.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace harness::conformance {
namespace {

using ::bridge::MarkupEscape;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string MsText(absl::Duration d) {
  return absl::StrFormat("%.0f ms", absl::ToDoubleMilliseconds(d));
}

// The observation as shown: made printable (servers can send any bytes).
std::string Shown(const std::string& text) { return Printable(text, 4000); }

}  // namespace

std::string FormatTable(const Report& report) {
  std::string out = absl::StrCat("Conformance of ", report.url, " (", Rfc3339(report.started), ", ",
                                 MsText(report.duration), ")\n\n");
  absl::StrAppendFormat(&out, "%-6s %-11s %9s  %s\n", "case", "outcome", "time", "title");
  for (const CaseResult& r : report.results) {
    absl::StrAppendFormat(&out, "%-6s %-11s %9s  %s\n", r.id, OutcomeLabel(r.outcome),
                          MsText(r.duration), r.title);
    if (r.outcome != Outcome::kPass) {
      absl::StrAppend(&out, "         expected: ", r.expected, "\n");
      absl::StrAppend(&out, "         observed: ", Shown(r.observed), "\n");
    }
  }
  const Counts c = Count(report);
  absl::StrAppendFormat(&out, "\n%d cases: %d pass, %d non-strict, %d fail, %d skipped\n",
                        c.total(), c.pass, c.non_strict, c.fail, c.skipped);
  return out;
}

std::string ToJson(const Report& report) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  const auto str = [&w](const std::string& s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  w.Key("url");
  str(report.url);
  w.Key("demoService");
  str(report.demo_service);
  w.Key("started");
  str(Rfc3339(report.started));
  w.Key("durationMs");
  w.Int64(absl::ToInt64Milliseconds(report.duration));
  const Counts c = Count(report);
  w.Key("summary");
  w.StartObject();
  w.Key("pass");
  w.Int(c.pass);
  w.Key("nonStrict");
  w.Int(c.non_strict);
  w.Key("fail");
  w.Int(c.fail);
  w.Key("skipped");
  w.Int(c.skipped);
  w.Key("total");
  w.Int(c.total());
  w.EndObject();
  w.Key("cases");
  w.StartArray();
  for (const CaseResult& r : report.results) {
    w.StartObject();
    w.Key("id");
    str(r.id);
    w.Key("group");
    str(r.group);
    w.Key("title");
    str(r.title);
    w.Key("outcome");
    str(OutcomeName(r.outcome));
    w.Key("expected");
    str(r.expected);
    w.Key("observed");
    str(Shown(r.observed));
    w.Key("durationMs");
    w.Int64(absl::ToInt64Milliseconds(r.duration));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

std::string ToHtml(const Report& report) {
  const Counts c = Count(report);
  std::string out = R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Bridge protocol conformance</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em;margin-bottom:.2em}
.meta{color:#555;margin-bottom:1em}
.summary span{display:inline-block;padding:.4em .8em;margin-right:.5em;border-radius:4px;font-weight:600}
table{border-collapse:collapse;width:100%;margin-top:1em}
th,td{border:1px solid #ccc;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:#eee}
td.detail{font-family:ui-monospace,monospace;font-size:.85em;white-space:pre-wrap;word-break:break-all}
tr.pass td.outcome,.summary .pass{background:#c8efc8}
tr.non_strict td.outcome,.summary .non_strict{background:#fde9a9}
tr.fail td.outcome,.summary .fail{background:#f6b8b8}
tr.skipped td.outcome,.summary .skipped{background:#dde3ea}
tr.fail{background:#fff1f1}
tr.non_strict{background:#fffbea}
.verdict{font-size:1.2em;font-weight:700;padding:.3em .6em;display:inline-block;border-radius:4px}
.verdict.pass{color:#155d15}
.verdict.fail{color:#8a1010}
</style></head><body>
)";
  absl::StrAppend(&out, "<h1>Bridge protocol conformance</h1>\n<div class=\"meta\">Server <code>",
                  MarkupEscape(report.url), "</code> &middot; started ",
                  MarkupEscape(Rfc3339(report.started)), " &middot; took ",
                  MarkupEscape(MsText(report.duration)), " &middot; demo service <code>",
                  MarkupEscape(report.demo_service), "</code></div>\n");
  out += "<div class=\"summary\">";
  for (Outcome outcome : kOutcomes) {
    absl::StrAppend(&out, "<span class=\"", OutcomeName(outcome), "\">", c.of(outcome), " ",
                    OutcomeLabel(outcome), "</span>");
  }
  absl::StrAppend(&out, " of ", c.total(), " cases</div>\n");
  absl::StrAppend(&out, "<p class=\"verdict ", c.fail == 0 ? "pass" : "fail", "\">",
                  c.fail == 0 ? "No case failed"
                              : absl::StrCat(c.fail, c.fail == 1 ? " case" : " cases", " failed"),
                  c.non_strict > 0 ? absl::StrCat("; ", c.non_strict, " non-strict") : "",
                  "</p>\n");
  absl::StrAppend(&out,
                  "<table>\n<tr><th>Case</th><th>Group</th><th>Title</th><th>Outcome</th>"
                  "<th>Expected</th><th>Observed</th><th>Time</th></tr>\n");
  for (const CaseResult& r : report.results) {
    absl::StrAppend(&out, "<tr class=\"", OutcomeName(r.outcome), "\" id=\"case-",
                    MarkupEscape(r.id), "\"><td>", MarkupEscape(r.id), "</td><td>",
                    MarkupEscape(r.group), "</td><td>", MarkupEscape(r.title),
                    "</td><td class=\"outcome\">", OutcomeLabel(r.outcome),
                    "</td><td class=\"detail\">", MarkupEscape(r.expected),
                    "</td><td class=\"detail\">", MarkupEscape(Shown(r.observed)), "</td><td>",
                    MarkupEscape(MsText(r.duration)), "</td></tr>\n");
  }
  absl::StrAppend(&out, "</table>\n</body></html>\n");
  return out;
}

absl::Status WriteReports(const Report& report, const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("mkdir ", dir, ": ", std::strerror(errno)));
  }
  for (const auto& [name, text] :
       {std::pair<std::string, std::string>{"conformance.json", ToJson(report)},
        {"conformance.html", ToHtml(report)}}) {
    const std::string path = absl::StrCat(dir, "/", name);
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (!file) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace harness::conformance
