// What every kind of step shares: a step answers what it observed or why it failed, names
// durations the same way, lists the differences from its expectation, and waits for what its
// client threads record until the scenario's deadline.
//
// Threading: Mismatches and the functions are plain values; AwaitUntil blocks its caller.
#ifndef HARNESS_SCENARIO_CHECKS_H_
#define HARNESS_SCENARIO_CHECKS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace harness::scenario {

// A step's outcome: what it observed (the step report's detail), or why it failed.
using Observed = absl::StatusOr<std::string>;

// "250 ms".
std::string Ms(absl::Duration d);

// The integer at `key` of a flat JSON object ({"sequence":"3"} or {"n":3}), or 0 when the key
// is missing or its value is not a number.
int64_t NumberField(const std::string& json, absl::string_view key);

// Waits until `ready` (evaluated with `mu` held) or `deadline`; false at the deadline.
bool AwaitUntil(absl::Mutex& mu, absl::Time deadline, const std::function<bool()>& ready);

// How what a step saw differs from what it expected, one phrase each.
class Mismatches {
 public:
  template <typename... Parts>
  void Add(const Parts&... parts) {
    wrong_.push_back(absl::StrCat(parts...));
  }
  bool empty() const { return wrong_.empty(); }
  // "a; b; c".
  std::string Joined() const;
  // `observed` when nothing differs, else FAILED_PRECONDITION "observed: a; b".
  Observed Verdict(std::string observed) const;

 private:
  std::vector<std::string> wrong_;
};

}  // namespace harness::scenario

#endif  // HARNESS_SCENARIO_CHECKS_H_
