// Scenario files (proto/harness/v1/scenario.proto in text format): reading them and checking
// them before anything runs, so a mistake in a file is named by its field, not found mid-run.
//
// Threading: plain functions of their arguments; any thread.
#ifndef HARNESS_SCENARIO_SCENARIO_FILE_H_
#define HARNESS_SCENARIO_SCENARIO_FILE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/harness/v1/scenario.pb.h"

namespace harness::scenario {

// Checks `scenario` (errors name the field) without running it.
absl::Status ValidateScenario(const v1::Scenario& scenario);

// Reads a text-format Scenario (or, for a directory, every *.textproto in it, by name).
// Errors name the file, line and column.
absl::StatusOr<std::vector<v1::Scenario>> LoadScenarios(const std::string& path);

}  // namespace harness::scenario

#endif  // HARNESS_SCENARIO_SCENARIO_FILE_H_
