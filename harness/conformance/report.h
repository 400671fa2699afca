// Writers of a conformance Report: a console table, JSON (conformance.json) and a
// self-contained HTML page (conformance.html) a person reads at a glance. Pure functions but
// WriteReports; any thread.
#ifndef HARNESS_CONFORMANCE_REPORT_H_
#define HARNESS_CONFORMANCE_REPORT_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "harness/conformance/runner.h"

namespace harness::conformance {

// Each case on a line (id, outcome, time, title), the observation under every case that did
// not pass, and the counts.
std::string FormatTable(const Report& report);

// {"url", "demoService", "started" (RFC 3339), "durationMs", "summary": {pass, nonStrict,
// fail, skipped, total}, "cases": [{id, group, title, outcome, expected, observed,
// durationMs}]}.
std::string ToJson(const Report& report);

// One page with inline CSS and no scripts: summary counts, then a colored row per case with
// its expected and observed text.
std::string ToHtml(const Report& report);

// Writes `dir`/conformance.json and `dir`/conformance.html (creating `dir` if needed).
absl::Status WriteReports(const Report& report, const std::string& dir);

}  // namespace harness::conformance

#endif  // HARNESS_CONFORMANCE_REPORT_H_
