// The steps about the main client's session: connect, expect_close, expect_reconnect,
// expect_state and expect_frame. It records every close, reconnect attempt, session and frame
// the client reports, with the time each arrived, and checks them against the expectation of
// each step and against docs/protocol.md's reconnect bounds.
//
// Threading: the steps run on the runner's thread; the client's handlers record on its io
// thread, under a mutex of this class.
#ifndef HARNESS_SCENARIO_SESSION_STEPS_H_
#define HARNESS_SCENARIO_SESSION_STEPS_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/client/backoff.h"
#include "bridge/client/websocket_client.h"
#include "harness/scenario/checks.h"
#include "harness/scenario/results.h"
#include "proto/harness/v1/scenario.pb.h"

namespace harness::scenario {

class SessionSteps {
 public:
  // Sets `client`'s handlers; it must outlive this and be destroyed first.
  SessionSteps(bridge::client::WebSocketClient& client,
               const bridge::client::BackoffOptions& backoff, absl::Duration reconnect_slack,
               absl::Time deadline);

  Observed Connect(const v1::Connect& connect);
  Observed ExpectClose(const v1::ExpectClose& e);
  Observed ExpectReconnect(const v1::ExpectReconnect& e);
  Observed ExpectState(const v1::ExpectState& e);
  Observed ExpectFrame(const v1::ExpectFrame& e);

  // Runs `hook` on the client's thread when the connection next closes, before the client can
  // reconnect. An error it returns fails the next expect_close.
  void OnNextClose(std::function<absl::Status()> hook);

  // Every close so far, in order.
  std::vector<CloseReport> Closes();
  // Every reconnect attempt the expect_reconnect steps checked, in order.
  const std::vector<ReconnectReport>& reconnects() const { return reconnects_; }

 private:
  struct CloseEvent {
    bridge::client::CloseInfo info;
    absl::Duration retry_after;  // the largest retryAfterMs of the session's error frames
    absl::Time at;
  };
  struct AttemptEvent {
    int attempt = 0;
    absl::Duration planned;
    absl::Time scheduled_at;
    absl::Time started_at = absl::InfiniteFuture();
  };
  struct OpenEvent {
    bridge::client::SessionInfo info;
    absl::Time at;
  };

  void Record();
  bool Await(const std::function<bool()>& ready) { return AwaitUntil(mu_, deadline_, ready); }
  // The reconnect attempts between the last close consumed and `open`, each against its bounds.
  int CheckAttempts(const OpenEvent& open, Mismatches& wrong) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  bridge::client::WebSocketClient& client_;
  const bridge::client::BackoffOptions backoff_;
  const absl::Duration reconnect_slack_;
  const absl::Time deadline_;
  std::vector<ReconnectReport> reconnects_;  // runner thread only

  absl::Mutex mu_;
  std::vector<CloseEvent> closes_ ABSL_GUARDED_BY(mu_);
  std::vector<AttemptEvent> attempts_ ABSL_GUARDED_BY(mu_);
  std::vector<OpenEvent> opens_ ABSL_GUARDED_BY(mu_);
  absl::Duration session_retry_after_ ABSL_GUARDED_BY(mu_);
  std::function<absl::Status()> on_next_close_ ABSL_GUARDED_BY(mu_);
  std::string hook_error_ ABSL_GUARDED_BY(mu_);
  size_t close_cursor_ ABSL_GUARDED_BY(mu_) = 0;
  size_t open_cursor_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::vector<bridge::v1::Frame>> frames_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, size_t> frame_cursor_ ABSL_GUARDED_BY(mu_);
};

}  // namespace harness::scenario

#endif  // HARNESS_SCENARIO_SESSION_STEPS_H_
