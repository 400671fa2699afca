#include "harness/common/raw_ws_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bridge/common/strings.h"
#include "bridge/common/ws_frame.h"

namespace harness {
namespace {

using ::bridge::Sv;

absl::Status WaitFor(int fd, short events, absl::Time deadline) {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("timed out");
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (rc > 0) return absl::OkStatus();
    if (rc == 0) return absl::DeadlineExceededError("timed out");
    if (errno != EINTR) return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
  }
}

// Connects to one address without blocking past `deadline`; the socket stays
// blocking after.
absl::StatusOr<int> DialAddress(const addrinfo &ai, absl::Time deadline) {
  const int fd = ::socket(ai.ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  if (::connect(fd, ai.ai_addr, ai.ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      const int err = errno;
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(err)));
    }
    if (absl::Status s = WaitFor(fd, POLLOUT, deadline); !s.ok()) {
      ::close(fd);
      return absl::DeadlineExceededError("connect: timed out");
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(err)));
    }
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

absl::StatusOr<int> Dial(std::string_view host, uint16_t port, absl::Time deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *found = nullptr;
  const std::string name(host);
  const std::string service = absl::StrCat(port);
  if (const int rc = ::getaddrinfo(name.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolve ", name, ": ", ::gai_strerror(rc)));
  }
  absl::Status last = absl::UnavailableError(absl::StrCat("resolve ", name, ": no address"));
  for (const addrinfo *ai = found; ai != nullptr; ai = ai->ai_next) {
    absl::StatusOr<int> fd = DialAddress(*ai, deadline);
    if (fd.ok()) {
      ::freeaddrinfo(found);
      return fd;
    }
    last = fd.status();
  }
  ::freeaddrinfo(found);
  return last;
}

// "host:port" for the Host header; IPv6 literals in brackets.
std::string HostHeader(std::string_view host, uint16_t port) {
  if (host.find(':') != std::string_view::npos) return absl::StrCat("[", Sv(host), "]:", port);
  return absl::StrCat(Sv(host), ":", port);
}

absl::Status WaitReadable(int fd, absl::Time deadline) { return WaitFor(fd, POLLIN, deadline); }

// Reads an HTTP response head (and whatever follows it) from `fd`.
absl::StatusOr<std::string> ReadHttpHead(int fd, absl::Time deadline, std::string *rest) {
  std::string data;
  while (true) {
    const size_t end = data.find("\r\n\r\n");
    if (end != std::string::npos) {
      *rest = data.substr(end + 4);
      return data.substr(0, end);
    }
    if (auto s = WaitReadable(fd, deadline); !s.ok()) return s;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return absl::UnavailableError("connection closed during the HTTP response");
    data.append(buf, static_cast<size_t>(n));
  }
}

int StatusCode(const std::string &head) {
  std::vector<absl::string_view> parts = absl::StrSplit(head, absl::MaxSplits(' ', 2));
  int code = 0;
  if (parts.size() >= 2) (void)absl::SimpleAtoi(parts[1], &code);
  return code;
}

std::string Header(const std::string &head, std::string_view name) {
  for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::EqualsIgnoreCase(line.substr(0, colon), Sv(name))) {
      return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<RawWsClient>> RawWsClient::Connect(
    uint16_t port, std::string_view path, const std::vector<std::string> &subprotocols,
    absl::Duration timeout, const Headers &headers) {
  return Connect("127.0.0.1", port, path, subprotocols, timeout, headers);
}

absl::StatusOr<std::unique_ptr<RawWsClient>> RawWsClient::Connect(
    std::string_view host, uint16_t port, std::string_view path,
    const std::vector<std::string> &subprotocols, absl::Duration timeout, const Headers &headers) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<int> fd = Dial(host, port, deadline);
  if (!fd.ok()) return fd.status();
  std::unique_ptr<RawWsClient> client(new RawWsClient(*fd, timeout));
  std::string request =
      absl::StrCat("GET ", Sv(path), " HTTP/1.1\r\nHost: ", HostHeader(host, port),
                   "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: "
                   "13\r\n");
  if (!subprotocols.empty()) {
    absl::StrAppend(&request, "Sec-WebSocket-Protocol: ", absl::StrJoin(subprotocols, ", "),
                    "\r\n");
  }
  for (const auto &[name, value] : headers) absl::StrAppend(&request, name, ": ", value, "\r\n");
  request += "\r\n";
  if (auto s = client->WriteAll(request); !s.ok()) return s;
  absl::StatusOr<std::string> head = ReadHttpHead(*fd, deadline, &client->buffered_);
  if (!head.ok()) return head.status();
  if (StatusCode(*head) != 101) {
    return absl::FailedPreconditionError(head->substr(0, head->find("\r\n")));
  }
  // RFC 6455's sample key has this known accept value.
  if (Header(*head, "Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") {
    return absl::InternalError("bad Sec-WebSocket-Accept");
  }
  client->subprotocol_ = Header(*head, "Sec-WebSocket-Protocol");
  return client;
}

absl::StatusOr<std::pair<int, std::string>> RawWsClient::HttpGet(uint16_t port,
                                                                 std::string_view path,
                                                                 absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<int> fd = Dial("127.0.0.1", port, deadline);
  if (!fd.ok()) return fd.status();
  RawWsClient holder(*fd, timeout);
  if (auto s = holder.WriteAll(absl::StrCat("GET ", Sv(path), " HTTP/1.1\r\nHost: 127.0.0.1:", port,
                                            "\r\nConnection: close\r\n\r\n"));
      !s.ok()) {
    return s;
  }
  std::string body;
  absl::StatusOr<std::string> head = ReadHttpHead(*fd, deadline, &body);
  if (!head.ok()) return head.status();
  size_t length = 0;
  if (!absl::SimpleAtoi(Header(*head, "Content-Length"), &length)) length = 0;
  while (body.size() < length) {
    if (auto s = WaitReadable(*fd, deadline); !s.ok()) return s;
    char buf[4096];
    const ssize_t n = ::recv(*fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    body.append(buf, static_cast<size_t>(n));
  }
  return std::make_pair(StatusCode(*head), body);
}

absl::Status RawWsClient::SetReceiveBuffer(int bytes) {
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) != 0) {
    return absl::InternalError(absl::StrCat("setsockopt(SO_RCVBUF): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

RawWsClient::~RawWsClient() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status RawWsClient::WriteAll(std::string_view data) {
  const absl::Time deadline = absl::Now() + write_timeout_;
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (absl::Status s = WaitFor(fd_, POLLOUT, deadline); !s.ok()) {
          return absl::DeadlineExceededError("send: timed out (the peer does not read)");
        }
        continue;
      }
      return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status RawWsClient::SendFrame(uint8_t opcode, std::string_view payload, bool fin,
                                    uint8_t rsv) {
  bridge::ws::Frame frame;
  frame.fin = fin;
  frame.rsv = rsv & 0x7;
  frame.opcode = opcode & 0xf;
  frame.payload.assign(payload.data(), payload.size());
  // A fixed sequence of masks: the bytes on the wire are the same on every run.
  mask_counter_ = mask_counter_ * 1664525u + 1013904223u;
  bridge::ws::Mask mask;
  for (int i = 0; i < 4; ++i) mask[i] = static_cast<uint8_t>((mask_counter_ >> (8 * i)) & 0xff);
  frame.mask = mask;
  return WriteAll(bridge::ws::EncodeFrame(frame));
}

absl::Status RawWsClient::SendClose(uint16_t code, std::string_view reason) {
  close_sent_ = true;
  return SendFrame(kClose, bridge::ws::ClosePayload(code, reason));
}

absl::Status RawWsClient::ReadMore(absl::Time deadline) {
  while (true) {
    if (auto s = WaitReadable(fd_, deadline); !s.ok()) return s;
    char buf[65536];
    const ssize_t got = ::recv(fd_, buf, sizeof(buf), 0);
    if (got == 0) {
      connection_ended_ = true;
      return absl::UnavailableError("connection closed");
    }
    if (got < 0) {
      if (errno == EINTR) continue;
      connection_ended_ = true;
      return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
    }
    buffered_.append(buf, static_cast<size_t>(got));
    return absl::OkStatus();
  }
}

absl::StatusOr<RawWsClient::Message> RawWsClient::ReadFrame(absl::Time deadline) {
  Message message;
  while (true) {
    bridge::ws::Frame frame;
    size_t size = 0;
    const bridge::ws::ParseResult r = bridge::ws::ParseFrame(buffered_, &frame, &size);
    if (r == bridge::ws::ParseResult::kNeedMore) {
      if (auto s = ReadMore(deadline); !s.ok()) return s;
      continue;
    }
    if (r == bridge::ws::ParseResult::kTooBig) {
      return absl::InternalError("the server sent a frame over 64 MiB");
    }
    buffered_.erase(0, size);
    if (frame.mask) return absl::InternalError("server frames must not be masked");
    if (frame.is_control()) return Message{frame.opcode, std::move(frame.payload)};
    if (frame.opcode != kContinuation) message.opcode = frame.opcode;
    message.payload += frame.payload;
    if (frame.fin) return message;
  }
}

absl::Status RawWsClient::OnClose(const std::string &payload) {
  close_code_ = payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) |
                                          static_cast<unsigned char>(payload[1])
                                    : 1005;
  close_reason_ = payload.size() > 2 ? payload.substr(2) : "";
  if (!close_sent_) {
    close_sent_ = true;
    (void)SendFrame(kClose, payload.substr(0, 2));
  }
  return absl::UnavailableError(
      absl::StrCat("the server closed with ", *close_code_, " ", close_reason_));
}

absl::StatusOr<RawWsClient::Message> RawWsClient::Receive(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (close_code_.has_value()) return absl::UnavailableError("the server closed");
    absl::StatusOr<Message> m = ReadFrame(deadline);
    if (!m.ok()) return m.status();
    switch (m->opcode) {
      case kPong:
        pongs_.push_back(std::move(m->payload));
        continue;
      case kPing:
        if (auto s = SendFrame(kPong, m->payload); !s.ok()) return s;
        continue;
      case kClose:
        return OnClose(m->payload);
      default:
        return m;
    }
  }
}

absl::StatusOr<std::string> RawWsClient::ReceiveText(absl::Duration timeout) {
  absl::StatusOr<Message> m = Receive(timeout);
  if (!m.ok()) return m.status();
  if (m->opcode != kText) return absl::InternalError("expected a text message");
  return std::move(m->payload);
}

absl::StatusOr<std::string> RawWsClient::NextPong(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (pongs_.empty()) {
    if (close_code_.has_value()) return absl::UnavailableError("the server closed");
    absl::StatusOr<Message> m = ReadFrame(deadline);
    if (!m.ok()) return m.status();
    if (m->opcode == kPong) {
      pongs_.push_back(std::move(m->payload));
    } else if (m->opcode == kPing) {
      if (auto s = SendFrame(kPong, m->payload); !s.ok()) return s;
    } else if (m->opcode == kClose) {
      return OnClose(m->payload);
    }
  }
  std::string p = std::move(pongs_.front());
  pongs_.erase(pongs_.begin());
  return p;
}

absl::StatusOr<int> RawWsClient::WaitForClose(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!close_code_.has_value()) {
    absl::StatusOr<Message> m = Receive(deadline - absl::Now());
    if (!m.ok() && !close_code_.has_value()) return m.status();
  }
  return *close_code_;
}

}  // namespace harness
