#include "harness/scenario/fault_steps.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace harness::scenario {
namespace {

// `observed` when `done` is OK, else `done`.
Observed Then(const absl::Status& done, std::string observed) {
  if (!done.ok()) return done;
  return observed;
}

}  // namespace

Observed FaultSteps::Inject(const v1::Inject& inject) {
  if (inject.has_backend_fault()) {
    return Then(parts_.AddBackendFault(inject.backend_fault()),
                absl::StrCat("backend rule ", inject.backend_fault().ShortDebugString()));
  }
  if (inject.has_enabled()) {
    if (inject.until_close()) {
      return absl::InvalidArgumentError("until_close applies to toxics only");
    }
    return Then(parts_.SetProxyEnabled(inject.proxy(), inject.enabled()),
                absl::StrCat("proxy ", inject.proxy(), inject.enabled() ? " up" : " down"));
  }
  if (!inject.has_toxic()) {
    return absl::InvalidArgumentError("inject needs toxic, enabled or backend_fault");
  }
  v1::Toxic toxic = inject.toxic();
  if (toxic.name().empty()) toxic.set_name(absl::StrCat("scenario_", toxic.type()));
  if (inject.until_close()) {
    session_.OnNextClose([parts = &parts_, proxy = inject.proxy(), name = toxic.name()] {
      return parts->RemoveToxic(proxy, name);
    });
  }
  return Then(parts_.AddToxic(inject.proxy(), toxic),
              absl::StrCat(toxic.type(), " on ", inject.proxy(), " ", toxic.stream()));
}

Observed FaultSteps::Restore() { return Then(parts_.Restore(), ""); }

Observed FaultSteps::Drain() { return Then(parts_.Drain(), ""); }

Observed FaultSteps::SwitchBridge() { return Then(parts_.SwitchBridge(), ""); }

Observed FaultSteps::ExpectBackend(const v1::ExpectBackend& e) {
  // Counts only grow: wait for each, then require it exactly (a duplicate shows as more).
  for (const auto& [method, n] : e.calls()) {
    absl::StatusOr<bool> reached = parts_.AwaitBackendCalls(method, static_cast<int>(n), deadline_);
    if (!reached.ok()) return reached.status();
  }
  absl::StatusOr<v1::BackendStats> stats = parts_.BackendStats();
  if (!stats.ok()) return stats.status();
  Mismatches wrong;
  std::vector<std::string> seen;
  for (const auto& [method, n] : e.calls()) {
    auto it = stats->calls().find(method);
    const uint64_t got = it == stats->calls().end() ? 0 : it->second;
    seen.push_back(absl::StrCat(method, " ", got));
    if (got != n) wrong.Add(method, " called ", got, " times, expected ", n);
  }
  if (!wrong.empty()) return absl::FailedPreconditionError(wrong.Joined());
  return absl::StrCat("backend calls: ", absl::StrJoin(seen, ", "));
}

}  // namespace harness::scenario
