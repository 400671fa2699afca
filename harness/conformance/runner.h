// Runs the selected cases of the suite, one after another, against one server, and collects
// their results into a Report. Runs on the caller's thread.
#ifndef HARNESS_CONFORMANCE_RUNNER_H_
#define HARNESS_CONFORMANCE_RUNNER_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "harness/conformance/suite.h"

namespace harness::conformance {

struct CaseResult {
  std::string id;
  std::string group;
  std::string title;
  std::string expected;
  Outcome outcome = Outcome::kPass;
  std::string observed;
  absl::Duration duration;
};

struct Report {
  std::string url;
  std::string demo_service;
  absl::Time started;
  absl::Duration duration;
  std::vector<CaseResult> results;
};

struct Counts {
  int pass = 0;
  int non_strict = 0;
  int fail = 0;
  int skipped = 0;
  int total() const { return pass + non_strict + fail + skipped; }
  int of(Outcome outcome) const;
};
Counts Count(const Report& report);

// Whether the server has the demo service: nullopt when it answered a probe call of
// `<demo_service>/Say` with anything but not_found, else why it is taken as missing.
std::optional<std::string> ProbeDemoService(const SuiteOptions& options);

// Runs every case of `cases` that `filter` selects (see CaseSelected). Cases that need the
// demo service are Skipped when the probe finds it missing. `progress`, if set, sees each
// result as it is made.
Report RunSuite(const SuiteOptions& options, const std::vector<Case>& cases,
                std::string_view filter,
                const std::function<void(const CaseResult&)>& progress = nullptr);

}  // namespace harness::conformance

#endif  // HARNESS_CONFORMANCE_RUNNER_H_
