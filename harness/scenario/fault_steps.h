// The steps that act on the parts: `inject` a toxic, a proxy's state or a backend rule (a toxic
// `until_close` is removed when the connection next closes), `restore`, `drain`,
// `switch_bridge`, and `expect_backend`, which checks what the backend was called with.
//
// Threading: the runner's thread; an until_close removal runs on the client's io thread.
#ifndef HARNESS_SCENARIO_FAULT_STEPS_H_
#define HARNESS_SCENARIO_FAULT_STEPS_H_

#include "absl/time/time.h"
#include "harness/scenario/checks.h"
#include "harness/scenario/parts.h"
#include "harness/scenario/session_steps.h"
#include "proto/harness/v1/scenario.pb.h"

namespace harness::scenario {

class FaultSteps {
 public:
  // `parts` and `session` must outlive this.
  FaultSteps(ScenarioParts& parts, SessionSteps& session, absl::Time deadline)
      : parts_(parts), session_(session), deadline_(deadline) {}

  Observed Inject(const v1::Inject& inject);
  Observed Restore();
  Observed Drain();
  Observed SwitchBridge();
  Observed ExpectBackend(const v1::ExpectBackend& e);

 private:
  ScenarioParts& parts_;
  SessionSteps& session_;
  const absl::Time deadline_;
};

}  // namespace harness::scenario

#endif  // HARNESS_SCENARIO_FAULT_STEPS_H_
