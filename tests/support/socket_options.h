// What this process's own TCP sockets are set to: for tests that run the bridge or a client
// in-process and check an option on its real connection.
#ifndef TESTS_SUPPORT_SOCKET_OPTIONS_H_
#define TESTS_SUPPORT_SOCKET_OPTIONS_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"

namespace bridge::testing {

// TCP_NODELAY of each connected IPv4 TCP socket of this process whose own port is
// `local_port` (0: any) and whose peer's port is `peer_port` (0: any).
inline std::vector<bool> NoDelayOfConnectedSockets(int local_port, int peer_port) {
  std::vector<bool> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = -1;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &fd)) continue;
    sockaddr_in local{};
    sockaddr_in peer{};
    socklen_t len = sizeof(local);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 ||
        local.sin_family != AF_INET) {
      continue;
    }
    len = sizeof(peer);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;  // listening
    if ((local_port != 0 && ntohs(local.sin_port) != local_port) ||
        (peer_port != 0 && ntohs(peer.sin_port) != peer_port)) {
      continue;
    }
    int nodelay = 0;
    socklen_t size = sizeof(nodelay);
    if (::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &size) != 0) continue;
    found.push_back(nodelay != 0);
  }
  return found;
}

}  // namespace bridge::testing

#endif  // TESTS_SUPPORT_SOCKET_OPTIONS_H_
