// The call steps: `call` starts calls on the main client and retries them as docs/protocol.md
// allows (the backoff delay, never sooner than retryAfterMs; idempotent calls on the categories
// the error table marks so); `await_calls` waits for every call started so far and checks each
// once against its expectation, counting what was lost or duplicated.
//
// Threading: the steps run on the runner's thread; outcomes and messages arrive on the client's
// io thread, retries start on a timer thread of this class.
#ifndef HARNESS_SCENARIO_CALL_STEPS_H_
#define HARNESS_SCENARIO_CALL_STEPS_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asio.hpp"
#include "bridge/client/backoff.h"
#include "bridge/client/websocket_client.h"
#include "harness/scenario/checks.h"
#include "harness/scenario/results.h"
#include "proto/harness/v1/scenario.pb.h"

namespace harness::scenario {

class CallSteps {
 public:
  // `client` must outlive this; Stop() before it is destroyed.
  CallSteps(bridge::client::WebSocketClient& client, const bridge::client::BackoffOptions& backoff,
            uint64_t seed, absl::Time deadline);
  ~CallSteps();

  // Starts `spec.count` calls (ids "callN" after the step's 1-based `index`, or spec.id).
  Observed Call(const v1::Call& spec, int index);
  // Waits for every call started since the last check, then checks each.
  Observed AwaitCalls();

  // Stops the retry timer; no call is started after it returns.
  void Stop();

  // Every call checked so far, in order.
  const std::vector<CallReport>& reports() const { return reports_; }

 private:
  // One call of the scenario across its attempts.
  struct CallState {
    v1::Call spec;
    std::string id;
    int attempts = 0;
    std::vector<absl::Time> attempt_times;
    int outcomes_of_last = 0;
    bool done = false;
    bridge::client::CallOutcome outcome;
    std::vector<std::string> messages;  // of the last attempt
  };

  // Fills `r` from `call`; an error names what differs from the call's expectation.
  static absl::Status Check(const CallState& call, CallReport& r);
  absl::Status StartAttempt(const std::shared_ptr<CallState>& call);
  void OnCallDone(const std::shared_ptr<CallState>& call, int attempt,
                  bridge::client::CallOutcome outcome);

  bridge::client::WebSocketClient& client_;
  const bridge::client::BackoffOptions backoff_;
  const absl::Time deadline_;
  std::mt19937_64 rng_;              // retries' jitter; used on the client's thread only
  std::vector<CallReport> reports_;  // runner thread only

  asio::io_context timer_io_;
  asio::executor_work_guard<asio::io_context::executor_type> timer_work_;
  std::thread timer_thread_;

  absl::Mutex mu_;
  std::vector<std::shared_ptr<CallState>> calls_ ABSL_GUARDED_BY(mu_);
  size_t checked_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace harness::scenario

#endif  // HARNESS_SCENARIO_CALL_STEPS_H_
