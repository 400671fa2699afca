// A small HTTP/1.1 server on standalone Asio, enough for the fault proxy's JSON API: one
// request per connection (answers carry "Connection: close"), a body by Content-Length up to
// 1 MiB, "Expect: 100-continue" honoured.
//
// Threading: it runs an io_context of its own on one thread. The handler runs there, one
// request at a time, and may block (the proxies' io threads are elsewhere).
#ifndef HARNESS_PROXY_HTTP_SERVER_H_
#define HARNESS_PROXY_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "asio.hpp"

namespace harness::proxy {

struct HttpRequest {
  std::string method;  // "GET"
  std::string path;    // "/proxies/bridge", without the query
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string body;  // JSON; empty for 204
};

// The body of an error answer: {"error":"<message>","status":<status>}.
std::string JsonErrorBody(int status, std::string_view message);

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Listens on `listen` (HOST:PORT, port 0 picks one) and serves with `handler`.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& listen,
                                                           Handler handler);
  // Stops serving and joins the thread.
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }

 private:
  class Exchange;

  explicit HttpServer(Handler handler) : handler_(std::move(handler)), acceptor_(io_) {}
  void AcceptNext();

  Handler handler_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_HTTP_SERVER_H_
