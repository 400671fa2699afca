#include "tests/support/redis_server.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace bridge::testing {
namespace {

constexpr char kRedisServer[] = "/usr/bin/redis-server";
constexpr char kReady[] = "Ready to accept connections";

// A port nobody listened on a moment ago.
absl::StatusOr<uint16_t> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("bind: ", std::strerror(err)));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

absl::Status Ping(uint16_t port, absl::Duration timeout) {
  redisContext* ctx = redisConnectWithTimeout("127.0.0.1", port, absl::ToTimeval(timeout));
  if (ctx == nullptr) return absl::InternalError("redisConnect: out of memory");
  absl::Status status;
  if (ctx->err != 0) {
    status = absl::UnavailableError(absl::StrCat("connect: ", ctx->errstr));
  } else {
    redisSetTimeout(ctx, absl::ToTimeval(timeout));
    auto* reply = static_cast<redisReply*>(redisCommand(ctx, "PING"));
    if (reply == nullptr) {
      status = absl::UnavailableError(absl::StrCat("PING: ", ctx->errstr));
    } else {
      if (reply->type != REDIS_REPLY_STATUS || std::strcmp(reply->str, "PONG") != 0) {
        status = absl::UnavailableError("PING: no PONG");
      }
      freeReplyObject(reply);
    }
  }
  redisFree(ctx);
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(absl::Duration timeout) {
  absl::Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<uint16_t> port = FreePort();
    if (!port.ok()) return port.status();
    auto server = std::unique_ptr<RedisServer>(new RedisServer(*port));
    last = server->Spawn(timeout);
    if (last.ok()) return server;
    // Someone else took the port between our look and the server's bind: another one.
    if (!absl::StrContains(server->output_, "Address already in use")) return last;
  }
  return last;
}

RedisServer::~RedisServer() { Kill(); }

std::string RedisServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

absl::Status RedisServer::Spawn(absl::Duration timeout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  std::vector<std::string> args = {
      kRedisServer,   "--port", absl::StrCat(port_), "--bind", "127.0.0.1", "--save", "",
      "--appendonly", "no",     "--daemonize",       "no",     "--logfile", ""};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Dies with the test, however the test ends.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    execv(kRedisServer, argv.data());
    _exit(127);
  }
  close(fds[1]);
  pid_ = pid;
  out_fd_ = fds[0];
  output_.clear();

  // Ready once it says so (or gone, if its output ends first).
  const absl::Time deadline = absl::Now() + timeout;
  bool ready = false;
  while (!ready) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd p = {out_fd_, POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    char buf[4096];
    const ssize_t got = read(out_fd_, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    output_.append(buf, static_cast<size_t>(got));
    ready = absl::StrContains(output_, kReady);
  }
  absl::Status status = ready ? Ping(port_, deadline - absl::Now() + absl::Seconds(1))
                              : absl::UnavailableError("redis-server did not get ready");
  if (!status.ok()) {
    Kill();
    return absl::UnavailableError(absl::StrCat("redis-server on port ", port_, ": ",
                                               status.message(), "; it said:\n", output_));
  }
  drain_ = std::thread([fd = out_fd_] {
    char buf[4096];
    while (true) {
      const ssize_t got = read(fd, buf, sizeof(buf));
      if (got > 0 || (got < 0 && errno == EINTR)) continue;
      break;
    }
  });
  return absl::OkStatus();
}

void RedisServer::Kill() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  if (drain_.joinable()) drain_.join();
  if (out_fd_ >= 0) {
    close(out_fd_);
    out_fd_ = -1;
  }
}

absl::Status RedisServer::Restart(absl::Duration timeout) {
  Kill();
  return Spawn(timeout);
}

}  // namespace bridge::testing
