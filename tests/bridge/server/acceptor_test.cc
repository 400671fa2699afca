// The accept loop on real sockets: an ephemeral port, asio's own client sockets, one io thread.
#include "bridge/server/acceptor.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <asio.hpp>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace bridge::server {
namespace {

// An acceptor whose hooks record what happened, on an io_context run by one thread.
class AcceptorTest : public ::testing::Test {
 protected:
  ~AcceptorTest() override {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  void StartAcceptor(std::chrono::milliseconds retry_delay = Acceptor::kRetryDelay) {
    Acceptor::Hooks hooks;
    hooks.next = [this]() -> Acceptor::Pending {
      absl::MutexLock lock(&mu_);
      if (refuse_next_ > 0) {
        --refuse_next_;
        return {};
      }
      sockets_.push_back(std::make_unique<asio::ip::tcp::socket>(io_));
      asio::ip::tcp::socket* socket = sockets_.back().get();
      return {socket, [this, socket] {
                absl::MutexLock lock(&mu_);
                started_.push_back(socket);
              }};
    };
    hooks.failed = [this](const std::string& reason) {
      absl::MutexLock lock(&mu_);
      failures_.push_back(reason);
    };
    acceptor_ = std::make_unique<Acceptor>(strand_, std::move(hooks), retry_delay);
    ASSERT_TRUE(acceptor_->Listen("127.0.0.1", 0, "127.0.0.1:0").ok());
    ASSERT_NE(acceptor_->port(), 0);
    acceptor_->Start();
    thread_ = std::thread([this] { io_.run(); });
  }

  // A client connection to the acceptor, from a context of the test's own.
  std::unique_ptr<asio::ip::tcp::socket> Connect() {
    auto socket = std::make_unique<asio::ip::tcp::socket>(client_io_);
    socket->connect({asio::ip::make_address("127.0.0.1"), acceptor_->port()});
    return socket;
  }

  bool AwaitStarted(size_t n) {
    absl::MutexLock lock(&mu_);
    auto done = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return started_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(30));
  }

  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  Acceptor::Strand strand_{asio::make_strand(io_)};
  asio::io_context client_io_;
  std::unique_ptr<Acceptor> acceptor_;
  std::thread thread_;
  absl::Mutex mu_;
  int refuse_next_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> sockets_ ABSL_GUARDED_BY(mu_);
  std::vector<asio::ip::tcp::socket*> started_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> failures_ ABSL_GUARDED_BY(mu_);
};

TEST_F(AcceptorTest, EachConnectionIsAcceptedIntoItsSocketAndStartedWithNagleOff) {
  StartAcceptor();
  auto a = Connect();
  auto b = Connect();
  ASSERT_TRUE(AwaitStarted(2));
  absl::MutexLock lock(&mu_);
  ASSERT_EQ(started_.size(), 2u);
  for (asio::ip::tcp::socket* s : started_) {
    EXPECT_TRUE(s->is_open());
    int nodelay = 0;
    socklen_t len = sizeof(nodelay);
    ASSERT_EQ(getsockopt(s->native_handle(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
    EXPECT_EQ(nodelay, 1);
  }
  // The two accepted sockets are the two clients' other ends.
  std::set<uint16_t> peers;
  for (asio::ip::tcp::socket* s : started_) peers.insert(s->remote_endpoint().port());
  EXPECT_EQ(peers, (std::set<uint16_t>{a->local_endpoint().port(), b->local_endpoint().port()}));
  EXPECT_TRUE(failures_.empty());
}

TEST_F(AcceptorTest, ASocketThatCannotBeMadeIsReportedAndTheLoopGoesOn) {
  {
    absl::MutexLock lock(&mu_);
    refuse_next_ = 2;
  }
  StartAcceptor(std::chrono::milliseconds(0));
  auto a = Connect();
  ASSERT_TRUE(AwaitStarted(1));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(failures_,
            (std::vector<std::string>{"cannot make a connection", "cannot make a connection"}));
}

TEST_F(AcceptorTest, AfterCloseNothingIsAcceptedAndThePortIsClosed) {
  StartAcceptor();
  auto a = Connect();
  ASSERT_TRUE(AwaitStarted(1));
  acceptor_->Close();
  // Close runs on the strand; a task posted after it runs after it.
  std::promise<void> closed;
  asio::post(strand_, [&closed] { closed.set_value(); });
  closed.get_future().wait();
  asio::ip::tcp::socket late(client_io_);
  std::error_code ec;
  late.connect({asio::ip::make_address("127.0.0.1"), acceptor_->port()}, ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(started_.size(), 1u);
}

TEST_F(AcceptorTest, AnAddressInUseIsAStartupErrorNamingTheListener) {
  StartAcceptor();
  Acceptor second(strand_, {});
  const absl::Status status =
      second.Listen("127.0.0.1", acceptor_->port(), "the listen field's value");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("cannot listen on the listen field's value: "), std::string::npos)
      << status;
}

}  // namespace
}  // namespace bridge::server
