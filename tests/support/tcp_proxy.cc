#include "tests/support/tcp_proxy.h"

#include <array>
#include <atomic>
#include <future>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asio.hpp"

namespace bridge::testing {
namespace {

using asio::ip::tcp;

// One forwarded connection: a pump each way. Lives as long as a pump holds it.
class Pipe : public std::enable_shared_from_this<Pipe> {
 public:
  explicit Pipe(tcp::socket client) : client_(std::move(client)), server_(client_.get_executor()) {}

  void Connect(const tcp::endpoint& target) {
    server_.async_connect(target, [self = shared_from_this()](const std::error_code& ec) {
      if (ec) {
        self->Close();
        return;
      }
      self->Pump(self->client_, self->server_, self->upstream_);
      self->Pump(self->server_, self->client_, self->downstream_);
    });
  }

  void Freeze() { frozen_ = true; }

  void Reset() {
    std::error_code ec;
    for (tcp::socket* s : {&client_, &server_}) {
      s->set_option(asio::socket_base::linger(true, 0), ec);
      s->close(ec);
    }
  }

 private:
  using Buffer = std::array<char, 16384>;

  // Reads from `from` and writes what came to `to`, one buffer at a time.
  void Pump(tcp::socket& from, tcp::socket& to, Buffer& buffer) {
    auto on_read = [self = shared_from_this(), &from, &to, &buffer](const std::error_code& ec,
                                                                    size_t n) {
      self->Forward(ec, n, from, to, buffer);
    };
    from.async_read_some(asio::buffer(buffer), std::move(on_read));
  }

  void Forward(const std::error_code& ec, size_t n, tcp::socket& from, tcp::socket& to,
               Buffer& buffer) {
    if (ec) {
      Close();
      return;
    }
    if (frozen_) {  // read and thrown away
      Pump(from, to, buffer);
      return;
    }
    auto on_written = [self = shared_from_this(), &from, &to, &buffer](const std::error_code& ec,
                                                                       size_t) {
      if (ec) {
        self->Close();
        return;
      }
      self->Pump(from, to, buffer);
    };
    asio::async_write(to, asio::buffer(buffer.data(), n), std::move(on_written));
  }

  // One side ended: end the other too.
  void Close() {
    std::error_code ec;
    client_.shutdown(tcp::socket::shutdown_both, ec);
    server_.shutdown(tcp::socket::shutdown_both, ec);
    client_.close(ec);
    server_.close(ec);
  }

  tcp::socket client_;
  tcp::socket server_;
  Buffer upstream_;
  Buffer downstream_;
  bool frozen_ = false;
};

}  // namespace

class TcpProxy::Impl {
 public:
  explicit Impl(uint16_t target_port)
      : acceptor_(io_), target_(asio::ip::address_v4::loopback(), target_port) {}

  ~Impl() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Listen() {
    std::error_code ec;
    const tcp::endpoint local(asio::ip::address_v4::loopback(), 0);
    acceptor_.open(local.protocol(), ec);
    if (!ec) acceptor_.bind(local, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("proxy cannot listen: ", ec.message()));
    port_ = acceptor_.local_endpoint(ec).port();
    Accept();
    thread_ = std::thread([this] { io_.run(); });
    return absl::OkStatus();
  }

  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

  // Runs `fn` on every live pipe, on the io thread, and waits for it.
  template <typename Fn>
  void ForEachPipe(Fn fn) {
    std::promise<void> done;
    asio::post(io_, [this, &fn, &done] {
      for (const std::weak_ptr<Pipe>& weak : pipes_) {
        if (std::shared_ptr<Pipe> pipe = weak.lock()) fn(*pipe);
      }
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  void Accept() {
    acceptor_.async_accept([this](const std::error_code& ec, tcp::socket socket) {
      if (ec) return;  // stopping
      ++accepted_;
      auto pipe = std::make_shared<Pipe>(std::move(socket));
      pipes_.push_back(pipe);
      pipe->Connect(target_);
      Accept();
    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  const tcp::endpoint target_;
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::vector<std::weak_ptr<Pipe>> pipes_;  // on the io thread only
  std::thread thread_;
};

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(uint16_t target_port) {
  auto impl = std::make_unique<Impl>(target_port);
  if (absl::Status s = impl->Listen(); !s.ok()) return s;
  return std::unique_ptr<TcpProxy>(new TcpProxy(std::move(impl)));
}

TcpProxy::TcpProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TcpProxy::~TcpProxy() = default;

uint16_t TcpProxy::port() const { return impl_->port(); }
int TcpProxy::accepted() const { return impl_->accepted(); }
void TcpProxy::DropAll() {
  impl_->ForEachPipe([](Pipe& pipe) { pipe.Reset(); });
}
void TcpProxy::FreezeAll() {
  impl_->ForEachPipe([](Pipe& pipe) { pipe.Freeze(); });
}

}  // namespace bridge::testing
