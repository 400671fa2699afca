// A TCP forwarder on 127.0.0.1 (port 0) in front of a server, for network faults a server
// never causes itself: every connection cut at once without a close handshake (DropAll), or
// gone silent in both directions while the sockets stay open (FreezeAll). Connections made
// afterwards are forwarded normally.
//
// Its own io thread does the forwarding; the methods may be called from any thread and return
// once the change is made.
#ifndef TESTS_SUPPORT_TCP_PROXY_H_
#define TESTS_SUPPORT_TCP_PROXY_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"

namespace bridge::testing {

class TcpProxy {
 public:
  // Listens on 127.0.0.1:0 and forwards to 127.0.0.1:`target_port`.
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(uint16_t target_port);
  ~TcpProxy();

  uint16_t port() const;
  // Resets (RST) both sides of every open connection.
  void DropAll();
  // Open connections stop forwarding: bytes from either side are read and discarded.
  void FreezeAll();
  // Connections accepted so far.
  int accepted() const;

 private:
  class Impl;
  explicit TcpProxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bridge::testing

#endif  // TESTS_SUPPORT_TCP_PROXY_H_
