#include "bridge/server/acceptor.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace bridge::server {

Acceptor::Acceptor(Strand& strand, Hooks hooks, std::chrono::milliseconds retry_delay)
    : strand_(strand), hooks_(std::move(hooks)), retry_delay_(retry_delay) {}

absl::Status Acceptor::Listen(const std::string& host, uint16_t port, const std::string& name) {
  const std::string where = absl::StrCat("cannot listen on ", name, ": ");
  asio::io_context& io = strand_.get_inner_executor().context();
  std::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  auto resolved = resolver.resolve(host, std::to_string(port), ec);
  if (ec || resolved.empty()) {
    return absl::UnavailableError(absl::StrCat(where, ec ? ec.message() : "no address"));
  }
  const asio::ip::tcp::endpoint at = resolved.begin()->endpoint();
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(io);
  acceptor_->open(at.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(at, ec);
  if (!ec) acceptor_->listen(kListenBacklog, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(where, ec.message()));
  const auto local = acceptor_->local_endpoint(ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot read the bound port: ", ec.message()));
  port_ = local.port();
  return absl::OkStatus();
}

void Acceptor::Start() {
  asio::post(strand_, [this] { AcceptNext(); });
}

void Acceptor::Close() {
  // Inline when called on the strand (a drain's first step): no accept slips in between.
  asio::dispatch(strand_, [this] {
    std::error_code ec;
    if (acceptor_ != nullptr) acceptor_->close(ec);  // the pending accept: operation_aborted
    if (retry_ != nullptr) retry_->cancel();
  });
}

void Acceptor::AcceptNext() {
  if (acceptor_ == nullptr || !acceptor_->is_open()) return;
  Pending next = hooks_.next();
  if (next.socket == nullptr) {
    RetrySoon("cannot make a connection");
    return;
  }
  asio::ip::tcp::socket::lowest_layer_type& socket = *next.socket;
  acceptor_->async_accept(
      socket, asio::bind_executor(strand_, [this, &socket, start = std::move(next.start)](
                                               const std::error_code& ec) {
        if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
        if (ec) {
          RetrySoon(ec.message());
          return;
        }
        // Small frames go out at once. With Nagle's algorithm on, a stream's second reply
        // waited for the client's delayed ACK of the first (about 40 ms on Linux).
        std::error_code unset;
        socket.set_option(asio::ip::tcp::no_delay(true), unset);
        start();
        AcceptNext();
      }));
}

void Acceptor::RetrySoon(const std::string& reason) {
  hooks_.failed(reason);
  retry_ = std::make_unique<asio::steady_timer>(strand_, retry_delay_);
  retry_->async_wait([this](const std::error_code& ec) {
    if (!ec) AcceptNext();
  });
}

}  // namespace bridge::server
