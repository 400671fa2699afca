#include "harness/proxy/http_server.h"

#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "bridge/config/config.h"

namespace harness::proxy {
namespace {

using asio::ip::tcp;

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kMaxBodyBytes = 1 << 20;

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    default:
      return "Internal Server Error";
  }
}

HttpResponse ErrorResponse(int status, std::string_view message) {
  return {status, JsonErrorBody(status, message)};
}

}  // namespace

std::string JsonErrorBody(int status, std::string_view message) {
  std::string escaped;
  for (const char c : message) {
    if (c == '"' || c == '\\') {
      escaped.push_back('\\');
      escaped.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&escaped, "\\u", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad4));
    } else {
      escaped.push_back(c);
    }
  }
  return absl::StrCat(R"({"error":")", escaped, R"(","status":)", status, "}");
}

// One request and its answer, on one connection.
class HttpServer::Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(tcp::socket socket, const Handler& handler)
      : socket_(std::move(socket)), handler_(handler) {}

  void Run() {
    asio::async_read_until(socket_, asio::dynamic_buffer(buffer_, kMaxHeadBytes + kMaxBodyBytes),
                           "\r\n\r\n",
                           [self = shared_from_this()](const std::error_code& error, size_t size) {
                             if (!error) self->OnHead(size);
                           });
  }

 private:
  void OnHead(size_t head_size) {
    head_size_ = head_size;
    const absl::string_view head(buffer_.data(), head_size);
    std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
    std::vector<absl::string_view> request_line = absl::StrSplit(lines[0], ' ');
    if (request_line.size() != 3 || !absl::StartsWith(request_line[2], "HTTP/1.")) {
      Respond(ErrorResponse(400, "malformed request line"));
      return;
    }
    request_.method = std::string(request_line[0]);
    request_.path = std::string(request_line[1].substr(0, request_line[1].find('?')));
    bool expect_continue = false;
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == absl::string_view::npos) continue;
      const absl::string_view name = absl::StripAsciiWhitespace(lines[i].substr(0, colon));
      const absl::string_view value = absl::StripAsciiWhitespace(lines[i].substr(colon + 1));
      if (absl::EqualsIgnoreCase(name, "content-length") && !absl::SimpleAtoi(value, &body_size_)) {
        Respond(ErrorResponse(400, "malformed Content-Length"));
        return;
      }
      if (absl::EqualsIgnoreCase(name, "expect")) {
        expect_continue = absl::EqualsIgnoreCase(value, "100-continue");
      }
    }
    if (body_size_ > kMaxBodyBytes) {
      Respond(ErrorResponse(413, "the body is larger than 1 MiB"));
      return;
    }
    if (buffer_.size() >= head_size_ + body_size_ || !expect_continue) {
      ReadBody();
      return;
    }
    out_ = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](const std::error_code& error, size_t) {
                        if (!error) self->ReadBody();
                      });
  }

  void ReadBody() {
    const size_t total = head_size_ + body_size_;
    if (buffer_.size() >= total) {
      Dispatch();
      return;
    }
    asio::async_read(socket_, asio::dynamic_buffer(buffer_),
                     asio::transfer_exactly(total - buffer_.size()),
                     [self = shared_from_this()](const std::error_code& error, size_t) {
                       if (!error) self->Dispatch();
                     });
  }

  void Dispatch() {
    request_.body = buffer_.substr(head_size_, body_size_);
    Respond(handler_(request_));
  }

  void Respond(const HttpResponse& response) {
    out_ = absl::StrCat("HTTP/1.1 ", response.status, " ", ReasonPhrase(response.status), "\r\n");
    if (!response.body.empty()) absl::StrAppend(&out_, "Content-Type: application/json\r\n");
    absl::StrAppend(&out_, "Content-Length: ", response.body.size(),
                    "\r\nConnection: close\r\n\r\n", response.body);
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](const std::error_code&, size_t) {
                        std::error_code ignored;
                        self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
                        self->socket_.close(ignored);
                      });
  }

  tcp::socket socket_;
  const Handler& handler_;
  std::string buffer_;
  size_t head_size_ = 0;
  size_t body_size_ = 0;
  HttpRequest request_;
  std::string out_;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen,
                                                              Handler handler) {
  absl::StatusOr<bridge::config::HostPort> host_port = bridge::config::ParseHostPort(listen);
  if (!host_port.ok()) return host_port.status();
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(handler)));
  std::error_code error;
  tcp::resolver resolver(server->io_);
  const tcp::resolver::results_type results =
      resolver.resolve(host_port->host, std::to_string(host_port->port), error);
  if (!error && results.empty()) error = asio::error::host_not_found;
  if (!error) server->acceptor_.open(results.begin()->endpoint().protocol(), error);
  if (!error) server->acceptor_.set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) server->acceptor_.bind(results.begin()->endpoint(), error);
  if (!error) server->acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (!error) server->port_ = server->acceptor_.local_endpoint(error).port();
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen, ": ", error.message()));
  }
  server->AcceptNext();
  server->thread_ = std::thread([s = server.get()] { s->io_.run(); });
  return server;
}

HttpServer::~HttpServer() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void HttpServer::AcceptNext() {
  acceptor_.async_accept([this](const std::error_code& error, tcp::socket socket) {
    if (error == asio::error::operation_aborted) return;
    if (!error) std::make_shared<Exchange>(std::move(socket), handler_)->Run();
    AcceptNext();
  });
}

}  // namespace harness::proxy
