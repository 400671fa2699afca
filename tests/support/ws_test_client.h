// A blocking RFC 6455 client for tests, written from the RFC rather than on websocketpp, so
// the bridge is checked against an independent implementation. It can send what a correct
// client never would: invalid UTF-8, oversized frames, reserved bits, bad opcodes.
//
// Every wait takes a deadline; nothing sleeps. One thread at a time.
#ifndef TESTS_SUPPORT_WS_TEST_CLIENT_H_
#define TESTS_SUPPORT_WS_TEST_CLIENT_H_

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

namespace bridge::testing {

inline constexpr absl::Duration kTestTimeout = absl::Seconds(10);

class WsTestClient {
 public:
  enum Opcode : uint8_t {
    kContinuation = 0x0,
    kText = 0x1,
    kBinary = 0x2,
    kClose = 0x8,
    kPing = 0x9,
    kPong = 0xA,
  };

  struct Message {
    uint8_t opcode = 0;
    std::string payload;
  };

  // Opens a TCP connection to 127.0.0.1:`port` and performs the upgrade. A refused upgrade is
  // an error whose message holds the HTTP status line.
  using Headers = std::vector<std::pair<std::string, std::string>>;
  static absl::StatusOr<std::unique_ptr<WsTestClient>> Connect(
      uint16_t port, std::string_view path = "/ws",
      const std::vector<std::string>& subprotocols = {}, absl::Duration timeout = kTestTimeout,
      const Headers& headers = {});

  // Sends a plain HTTP GET and returns the status code and body.
  static absl::StatusOr<std::pair<int, std::string>> HttpGet(uint16_t port, std::string_view path,
                                                             absl::Duration timeout = kTestTimeout);

  ~WsTestClient();

  // The subprotocol the server selected ("" when none).
  const std::string& subprotocol() const { return subprotocol_; }

  absl::Status SendText(std::string_view text) { return SendFrame(kText, text); }
  absl::Status SendBinary(std::string_view bytes) { return SendFrame(kBinary, bytes); }
  absl::Status SendPing(std::string_view payload) { return SendFrame(kPing, payload); }
  absl::Status SendClose(uint16_t code, std::string_view reason);
  // Any frame, masked as a client must; `rsv` sets the three reserved bits.
  absl::Status SendFrame(uint8_t opcode, std::string_view payload, bool fin = true,
                         uint8_t rsv = 0);

  // The next text or binary message. Pongs are kept for NextPong; a close from the server is
  // answered, recorded, and makes this an error.
  absl::StatusOr<Message> Receive(absl::Duration timeout = kTestTimeout);
  // Receive, then require a text message.
  absl::StatusOr<std::string> ReceiveText(absl::Duration timeout = kTestTimeout);
  // The payload of the next pong control frame.
  absl::StatusOr<std::string> NextPong(absl::Duration timeout = kTestTimeout);
  // Reads (and drops data messages) until the server's close frame; returns its code.
  absl::StatusOr<int> WaitForClose(absl::Duration timeout = kTestTimeout);

  std::optional<int> close_code() const { return close_code_; }
  const std::string& close_reason() const { return close_reason_; }

 private:
  explicit WsTestClient(int fd) : fd_(fd) {}
  absl::StatusOr<Message> ReadFrame(absl::Time deadline);
  absl::Status ReadExact(char* out, size_t n, absl::Time deadline);
  absl::Status WriteAll(std::string_view data);

  int fd_;
  std::string subprotocol_;
  std::string buffered_;  // bytes read past the HTTP response
  std::vector<std::string> pongs_;
  std::optional<int> close_code_;
  std::string close_reason_;
  bool close_sent_ = false;
  uint32_t mask_counter_ = 0x5a17c0de;
};

}  // namespace bridge::testing

#endif  // TESTS_SUPPORT_WS_TEST_CLIENT_H_
