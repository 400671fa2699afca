#include "harness/scenario/checks.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"

namespace harness::scenario {

std::string Ms(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d), " ms"); }

int64_t NumberField(const std::string& json, absl::string_view key) {
  const size_t at = json.find(absl::StrCat("\"", key, "\""));
  if (at == std::string::npos) return 0;
  size_t i = json.find(':', at);
  if (i == std::string::npos) return 0;
  ++i;
  while (i < json.size() && (json[i] == ' ' || json[i] == '"')) ++i;
  size_t end = i;
  while (end < json.size() && json[end] >= '0' && json[end] <= '9') ++end;
  int64_t value = 0;
  return absl::SimpleAtoi(json.substr(i, end - i), &value) ? value : 0;
}

bool AwaitUntil(absl::Mutex& mu, absl::Time deadline, const std::function<bool()>& ready) {
  absl::MutexLock lock(&mu);
  return mu.AwaitWithDeadline(absl::Condition(&ready), deadline);
}

std::string Mismatches::Joined() const { return absl::StrJoin(wrong_, "; "); }

Observed Mismatches::Verdict(std::string observed) const {
  if (wrong_.empty()) return observed;
  return absl::FailedPreconditionError(absl::StrCat(observed, ": ", Joined()));
}

}  // namespace harness::scenario
