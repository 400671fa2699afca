// A blocking RFC 6455 client, written from the RFC rather than on websocketpp,
// so servers are checked against an independent implementation. It can send
// what a correct client never would: invalid UTF-8, oversized frames, reserved
// bits, bad opcodes, and it can drop the TCP connection without a close frame.
// The conformance suite and the tests use it.
//
// Every wait takes a deadline; nothing sleeps. One thread at a time.
#ifndef HARNESS_COMMON_RAW_WS_CLIENT_H_
#define HARNESS_COMMON_RAW_WS_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/common/ws_frame.h"

namespace harness {

class RawWsClient {
 public:
  static constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);

  // The codec's opcodes (bridge/common/ws_frame.h), as RawWsClient::kText and so on.
  static constexpr uint8_t kContinuation = bridge::ws::kContinuation;
  static constexpr uint8_t kText = bridge::ws::kText;
  static constexpr uint8_t kBinary = bridge::ws::kBinary;
  static constexpr uint8_t kClose = bridge::ws::kClose;
  static constexpr uint8_t kPing = bridge::ws::kPing;
  static constexpr uint8_t kPong = bridge::ws::kPong;

  struct Message {
    uint8_t opcode = 0;
    std::string payload;
  };

  using Headers = std::vector<std::pair<std::string, std::string>>;

  // Opens a TCP connection to `host`:`port` (a name or an IPv4/IPv6 literal)
  // and performs the upgrade. A refused upgrade is an error whose message holds
  // the HTTP status line. `timeout` bounds the connect and the upgrade, and
  // every later write.
  static absl::StatusOr<std::unique_ptr<RawWsClient>> Connect(
      std::string_view host, uint16_t port, std::string_view path = "/ws",
      const std::vector<std::string> &subprotocols = {}, absl::Duration timeout = kDefaultTimeout,
      const Headers &headers = {});
  // The same on 127.0.0.1.
  static absl::StatusOr<std::unique_ptr<RawWsClient>> Connect(
      uint16_t port, std::string_view path = "/ws",
      const std::vector<std::string> &subprotocols = {}, absl::Duration timeout = kDefaultTimeout,
      const Headers &headers = {});

  // Sends a plain HTTP GET to 127.0.0.1:`port` and returns the status code and
  // body.
  static absl::StatusOr<std::pair<int, std::string>> HttpGet(
      uint16_t port, std::string_view path, absl::Duration timeout = kDefaultTimeout);

  // Closes the socket without a close frame (the peer sees the TCP connection
  // end).
  ~RawWsClient();

  // Fixes the socket's receive buffer at about `bytes` (the kernel no longer grows it): a
  // reader that stops reading then holds little on its side of the connection.
  absl::Status SetReceiveBuffer(int bytes);

  // The subprotocol the server selected ("" when none).
  const std::string &subprotocol() const { return subprotocol_; }

  absl::Status SendText(std::string_view text) { return SendFrame(kText, text); }
  absl::Status SendBinary(std::string_view bytes) { return SendFrame(kBinary, bytes); }
  absl::Status SendPing(std::string_view payload) { return SendFrame(kPing, payload); }
  absl::Status SendClose(uint16_t code, std::string_view reason);
  // Any frame, masked as a client must; `rsv` sets the three reserved bits.
  absl::Status SendFrame(uint8_t opcode, std::string_view payload, bool fin = true,
                         uint8_t rsv = 0);

  // The next text or binary message. Pongs are kept for NextPong; a close from
  // the server is answered, recorded, and makes this an error.
  absl::StatusOr<Message> Receive(absl::Duration timeout = kDefaultTimeout);
  // Receive, then require a text message.
  absl::StatusOr<std::string> ReceiveText(absl::Duration timeout = kDefaultTimeout);
  // The payload of the next pong control frame.
  absl::StatusOr<std::string> NextPong(absl::Duration timeout = kDefaultTimeout);
  // Reads (and drops data messages) until the server's close frame; returns its
  // code.
  absl::StatusOr<int> WaitForClose(absl::Duration timeout = kDefaultTimeout);

  std::optional<int> close_code() const { return close_code_; }
  const std::string &close_reason() const { return close_reason_; }
  // True once the server ended the TCP connection (with or without a close
  // frame).
  bool connection_ended() const { return connection_ended_; }

 private:
  RawWsClient(int fd, absl::Duration write_timeout) : fd_(fd), write_timeout_(write_timeout) {}
  absl::StatusOr<Message> ReadFrame(absl::Time deadline);
  // Appends what the socket has to buffered_, waiting for it until `deadline`.
  absl::Status ReadMore(absl::Time deadline);
  absl::Status WriteAll(std::string_view data);
  // Records the server's close frame, answers it once, and returns the error
  // Receive gives.
  absl::Status OnClose(const std::string &payload);

  int fd_;
  absl::Duration write_timeout_;
  std::string subprotocol_;
  std::string buffered_;  // bytes read past the HTTP response
  std::vector<std::string> pongs_;
  std::optional<int> close_code_;
  std::string close_reason_;
  bool close_sent_ = false;
  bool connection_ended_ = false;
  uint32_t mask_counter_ = 0x5a17c0de;
};

}  // namespace harness

#endif  // HARNESS_COMMON_RAW_WS_CLIENT_H_
