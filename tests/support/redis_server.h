// A redis-server child process for tests: on a free 127.0.0.1 port, no persistence, killed
// with the object. Start returns once the server answers PING; Kill and Restart (on the same
// port) simulate Redis going away and coming back.
//
// Not thread-safe: one test thread drives it.
#ifndef TESTS_SUPPORT_REDIS_SERVER_H_
#define TESTS_SUPPORT_REDIS_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bridge::testing {

class RedisServer {
 public:
  // Picks a free port (a few tries, should another process take it first) and waits up to
  // `timeout` for the server to be ready.
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(
      absl::Duration timeout = absl::Seconds(20));
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }
  // "127.0.0.1:<port>", as the broker's redis_address.
  std::string address() const;

  // SIGKILL, and waits for the process to be gone: connections drop without a goodbye.
  void Kill();
  // A new, empty server on the same port.
  absl::Status Restart(absl::Duration timeout = absl::Seconds(20));
  bool running() const { return pid_ > 0; }

 private:
  explicit RedisServer(uint16_t port) : port_(port) {}
  absl::Status Spawn(absl::Duration timeout);

  uint16_t port_;
  pid_t pid_ = -1;
  int out_fd_ = -1;     // the server's stdout and stderr
  std::string output_;  // what it printed until ready, for error messages
  std::thread drain_;   // reads the rest, so the server never blocks on a full pipe
};

}  // namespace bridge::testing

#endif  // TESTS_SUPPORT_REDIS_SERVER_H_
