// A deliberately wrong bridge-protocol server for testing the conformance suite: websocketpp
// on 127.0.0.1 port 0, on a thread of its own, with these flaws:
//   - connect_confirm without seq (and with someone else's clientId),
//   - ping frames never answered with pong,
//   - a first frame other than connect closed with 1000 instead of error + 1002,
//   - every call answered not_found (so it has no demo service),
//   - every subscribe answered with a bare subscribed (no channel, offset or epoch), never
//     refused, and every unsubscribe with unsubscribed, even of a channel never joined.
// Start and the destructor run on the test's thread.
#ifndef TESTS_HARNESS_CONFORMANCE_BROKEN_SERVER_H_
#define TESTS_HARNESS_CONFORMANCE_BROKEN_SERVER_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"

namespace harness::conformance::testing {

class BrokenServer {
 public:
  static absl::StatusOr<std::unique_ptr<BrokenServer>> Start();
  virtual ~BrokenServer() = default;
  virtual uint16_t port() const = 0;
};

}  // namespace harness::conformance::testing

#endif  // TESTS_HARNESS_CONFORMANCE_BROKEN_SERVER_H_
