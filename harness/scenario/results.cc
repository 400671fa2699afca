#include "harness/scenario/results.h"

namespace harness::scenario {

const char* VerdictName(Verdict verdict) {
  static constexpr const char* kNames[] = {"pass", "fail", "skipped"};
  const auto i = static_cast<size_t>(verdict);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "unknown";
}

}  // namespace harness::scenario
