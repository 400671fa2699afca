// The bridge's accept loop: binds the listening socket, accepts connections one after another
// on a strand it is given, turns Nagle's algorithm off on each, and hands each to whoever made
// its socket. A failed accept (out of descriptors, for one) is reported and tried again after a
// delay, neither in a spin nor never. Close ends the loop: the pending accept ends, and nothing
// is handed over after it.
//
// The loop is the bridge's own rather than websocketpp's: websocketpp runs each accept's
// handler on the new connection's strand, where nothing else can stop the loop without racing
// it. This one runs on the strand the drain runs on (server.cc), so Close and the accepts take
// turns.
//
// Threading: Listen before the io threads run; Start and Close from anywhere (Start posts to the
// strand, Close runs at once when called on it); the callbacks run on the strand. The acceptor must
// outlive its io threads' work.
#ifndef BRIDGE_SERVER_ACCEPTOR_H_
#define BRIDGE_SERVER_ACCEPTOR_H_

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace bridge::server {

class Acceptor {
 public:
  using Strand = asio::strand<asio::io_context::executor_type>;

  // The next connection to accept into: its socket, and what starts it once accepted. A null
  // socket means none could be made (counted and retried like a failed accept).
  struct Pending {
    asio::ip::tcp::socket::lowest_layer_type* socket = nullptr;  // TLS: the stream's socket
    std::function<void()> start;
  };

  struct Hooks {
    std::function<Pending()> next;
    // A failed accept, with the reason; the loop tries again after the retry delay.
    std::function<void(const std::string& reason)> failed;
  };

  static constexpr int kListenBacklog = 1024;
  static constexpr std::chrono::milliseconds kRetryDelay{50};

  Acceptor(Strand& strand, Hooks hooks, std::chrono::milliseconds retry_delay = kRetryDelay);

  // Binds host:port (port 0: any free one). Errors say "cannot listen on `name`: why".
  absl::Status Listen(const std::string& host, uint16_t port, const std::string& name);
  // The bound port, after Listen.
  uint16_t port() const { return port_; }
  // Starts the loop.
  void Start();
  // Ends the loop; idempotent.
  void Close();

 private:
  void AcceptNext();
  void RetrySoon(const std::string& reason);

  Strand& strand_;
  const Hooks hooks_;
  const std::chrono::milliseconds retry_delay_;
  uint16_t port_ = 0;
  // On strand_.
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::unique_ptr<asio::steady_timer> retry_;
};

}  // namespace bridge::server

#endif  // BRIDGE_SERVER_ACCEPTOR_H_
