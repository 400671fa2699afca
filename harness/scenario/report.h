// The scenario runner's outputs: a console table, JUnit XML (for CI systems), and JSON (every
// observation, for tools). Pure functions; any thread.
#ifndef HARNESS_SCENARIO_REPORT_H_
#define HARNESS_SCENARIO_REPORT_H_

#include <string>
#include <string_view>
#include <vector>

#include "harness/scenario/results.h"

namespace harness::scenario {

// One row per scenario: verdict, fault, the category and close code seen, the reconnect delay
// against its bounds, calls and stream messages lost or duplicated, time; then each failure.
std::string ConsoleTable(const std::vector<ScenarioReport>& reports);

// <testsuites><testsuite name=suite> with one <testcase> per scenario; <failure> carries the
// failed step and the observations, <skipped> the reason.
std::string JUnitXml(const std::vector<ScenarioReport>& reports, std::string_view suite);

// {"suite": ..., "passed": N, "failed": N, "skipped": N, "scenarios": [ ... ]}
std::string JsonReport(const std::vector<ScenarioReport>& reports, std::string_view suite);

}  // namespace harness::scenario

#endif  // HARNESS_SCENARIO_REPORT_H_
