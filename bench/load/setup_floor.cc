// setup_floor: the least a WebSocket server on asio does for an idle session, as the floor that
// the bridge's idle figures (bytes per connection, setups per second) are read against on the
// same machine with the same load tool. Per connection it accepts, reads the upgrade request,
// answers 101 with the Sec-WebSocket-Accept, reads the client's first frame (the `connect`),
// answers one text frame {"type":"connect_confirm"}, frees its buffer and waits for the socket
// to become readable (reads are drained and dropped; end of stream closes). No sessions, no
// protocol, no websocketpp: what is left is asio, the kernel and the allocator.
//
//   setup_floor [--listen=127.0.0.1:0] [--io_threads=N] [other flags, ignored]
//
// Other flags are ignored so run_matrix.py can start it where it starts a bridge
// (`--compare floor=bazel-bin/bench/load/setup_floor`). Prints
// "setup_floor: listening on ws://HOST:PORT/ws" and runs until SIGTERM or SIGINT.
#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "asio.hpp"
#include "bridge/common/ws_frame.h"
#include "websocketpp/base64/base64.hpp"
#include "websocketpp/sha1/sha1.hpp"

namespace {

using asio::ip::tcp;

constexpr size_t kMaxHandshake = 8192;
constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// The value of header `name` (lower case, with its colon) in `head`, trimmed; empty if absent.
std::string HeaderValue(std::string_view head, std::string_view name) {
  for (size_t pos = 0; pos < head.size();) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    if (line.size() > name.size() &&
        std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      std::string_view v = line.substr(name.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      return std::string(v);
    }
    pos = end + 2;
  }
  return "";
}

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  explicit Conn(tcp::socket socket) : socket_(std::move(socket)) {}

  void Start() { ReadMore(&Conn::OnHandshakeBytes); }

 private:
  using Step = bool (Conn::*)();

  // Reads what has arrived into buf_, then runs `step`; the step returns false to read more.
  void ReadMore(Step step) {
    const size_t have = buf_.size();
    buf_.resize(have + 1024);
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(&buf_[have], 1024),
                            [this, self, have, step](const std::error_code& ec, size_t n) {
                              buf_.resize(have + n);
                              if (ec || buf_.size() > kMaxHandshake) return;
                              if (!(this->*step)()) ReadMore(step);
                            });
  }

  bool OnHandshakeBytes() {
    const size_t end = buf_.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    const std::string key =
        HeaderValue(std::string_view(buf_).substr(0, end + 2), "sec-websocket-key:");
    const std::string protocol =
        HeaderValue(std::string_view(buf_).substr(0, end + 2), "sec-websocket-protocol:");
    std::string accept_input = key + std::string(kGuid);
    unsigned char hash[20];
    websocketpp::sha1::calc(accept_input.data(), accept_input.size(), hash);
    out_ =
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Accept: " +
        websocketpp::base64_encode(hash, sizeof hash) + "\r\n";
    if (!protocol.empty()) {
      out_ += "Sec-WebSocket-Protocol: " + protocol.substr(0, protocol.find(',')) + "\r\n";
    }
    out_ += "\r\n";
    buf_.erase(0, end + 4);
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_), [this, self](const std::error_code& ec, size_t) {
      if (ec) return;
      if (!OnFrameBytes()) ReadMore(&Conn::OnFrameBytes);
    });
    return true;
  }

  bool OnFrameBytes() {
    bridge::ws::Header header;
    if (bridge::ws::ParseHeader(buf_, &header) != bridge::ws::ParseResult::kDone ||
        buf_.size() - header.size < header.payload_size) {
      return false;
    }
    static constexpr std::string_view kConfirm = "{\"type\":\"connect_confirm\"}";
    header = bridge::ws::Header();
    header.payload_size = kConfirm.size();
    out_.clear();
    bridge::ws::AppendHeader(header, &out_);
    out_.append(kConfirm);
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_), [this, self](const std::error_code& ec, size_t) {
      if (ec) return;
      std::string().swap(buf_);
      std::string().swap(out_);
      WaitIdle();
    });
    return true;
  }

  void WaitIdle() {
    auto self = shared_from_this();
    socket_.async_wait(tcp::socket::wait_read, [this, self](const std::error_code& ec) {
      if (ec) return;
      char drain[512];
      std::error_code rec;
      const size_t n = socket_.read_some(asio::buffer(drain), rec);
      if (rec || n == 0) return;
      WaitIdle();
    });
  }

  tcp::socket socket_;
  std::string buf_;
  std::string out_;
};

void Accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](const std::error_code& ec, tcp::socket socket) {
    if (!ec) {
      socket.set_option(tcp::no_delay(true));
      std::make_shared<Conn>(std::move(socket))->Start();
    }
    Accept(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.rfind("--listen=", 0) == 0) listen = std::string(a.substr(9));
    if (a.rfind("--io_threads=", 0) == 0) threads = std::max(1, std::atoi(argv[i] + 13));
  }
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "setup_floor: --listen must be HOST:PORT\n");
    return 2;
  }
  asio::io_context io;
  std::error_code ec;
  const auto address = asio::ip::make_address(listen.substr(0, colon), ec);
  if (ec) {
    std::fprintf(stderr, "setup_floor: bad --listen address: %s\n", ec.message().c_str());
    return 2;
  }
  tcp::acceptor acceptor(io);
  const tcp::endpoint at(address, static_cast<uint16_t>(std::atoi(listen.c_str() + colon + 1)));
  acceptor.open(at.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(at, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "setup_floor: cannot listen on %s: %s\n", listen.c_str(),
                 ec.message().c_str());
    return 2;
  }
  Accept(acceptor);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](const std::error_code&, int) { io.stop(); });
  std::printf("setup_floor: listening on ws://%s:%u/ws\n",
              acceptor.local_endpoint().address().to_string().c_str(),
              acceptor.local_endpoint().port());
  std::fflush(stdout);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  return 0;
}
