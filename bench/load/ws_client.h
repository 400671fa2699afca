// A minimal RFC 6455 client of the bridge protocol on standalone Asio, shared by the load
// generator (ws_driver.cc) and the fan-out tool (fanout_main.cc).
//
// WsClient does the steps every connection takes: TCP connect (optionally from a given
// 127.0.0.x source address), the upgrade with subprotocol bridge.v1.json, `connect`, and
// `connect_confirm`; then it hands each text frame to its subclass. Client frames are masked
// (a per-connection xorshift key, applied eight bytes at a time). Every frame a read brings is
// handled in one pass and the sends they cause go out in one write (coalesced); one write is in
// flight at a time. Pings are answered; a close frame ends the connection. With
// WsTarget::offer_deflate, compressed messages (RFC 7692) are inflated.
//
// Threads: a WsClient and its callbacks live on the one thread that runs its io_context.
#ifndef BENCH_LOAD_WS_CLIENT_H_
#define BENCH_LOAD_WS_CLIENT_H_

#include <zlib.h>

#include <asio.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace bench::load {

inline constexpr uint8_t kOpText = 0x1;
inline constexpr uint8_t kOpClose = 0x8;
inline constexpr uint8_t kOpPing = 0x9;
inline constexpr uint8_t kOpPong = 0xA;

// Appends one masked client frame whose payload is the concatenation of `parts`.
void AppendMaskedFrame(std::string* out, uint8_t opcode,
                       std::initializer_list<std::string_view> parts, uint32_t key);
// Digits of `v` into `buf` (at least 20 bytes); returns the view.
std::string_view Digits(uint64_t v, char* buf);
// The string value after `key` ("\"type\":\"") in `text`, up to the next quote.
std::string_view FieldAfter(std::string_view text, std::string_view key);
// Decimal digits only; *ok false otherwise (or empty).
uint64_t ParseU64(std::string_view s, bool* ok);
// The leading decimal digits of `s` (a JSON number followed by anything).
std::string_view LeadingDigits(std::string_view s);
// The fd soft limit up to the hard one, or up to `want` when allowed to raise the hard one.
void RaiseFdLimit(uint64_t want);

// Connections being set up, counted from any thread: Done from the io threads, Await from the
// one that waits for them all.
struct SetupTally {
  std::mutex mu;
  std::condition_variable cv;
  int pending = 0;  // connections not yet set up or failed
  uint64_t failures = 0;
  std::string first_error;
  int64_t first_start = 0;
  int64_t last_ready = 0;  // NowNs() of the last Done

  void Done(bool ok, const std::string& error);
  // Until none is pending, or `timeout_s`; false on timeout.
  bool Await(double timeout_s) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::duration<double>(timeout_s),
                       [&] { return pending == 0; });
  }
};

// Where connections go.
struct WsTarget {
  std::string host;  // for the Host header
  uint16_t port = 0;
  std::string path = "/ws";
  asio::ip::tcp::endpoint to;
  // Offer permessage-deflate (RFC 7692). When the server takes it, compressed messages are
  // inflated before they are handled (sends stay uncompressed, which the extension allows).
  bool offer_deflate = false;
};

class WsClient {
 public:
  // `target` outlives the client. `index` names it (clientId "<client_id_prefix><index>") and
  // seeds its masking key.
  WsClient(asio::io_context& io, const WsTarget* target, int index, size_t read_buffer_bytes,
           std::string_view client_id_prefix);
  virtual ~WsClient() = default;
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Starts the steps; `source` (may be null) is the local address to connect from.
  void Connect(const asio::ip::address_v4* source);
  void Close();
  bool ready() const { return state_ == State::kReady; }
  int index() const { return index_; }
  // Whether the server accepted permessage-deflate.
  bool deflate() const { return inflater_ != nullptr; }

 protected:
  // connect_confirm arrived: the session is confirmed. Sends made here are coalesced.
  virtual void OnConfirmed() = 0;
  // A text frame after connect_confirm.
  virtual void OnText(std::string_view payload) = 0;
  // The connection failed or was closed; `confirmed` says whether connect_confirm had come.
  // Called once.
  virtual void OnFailed(bool confirmed, const std::string& what) = 0;
  // Bytes of a read (frames with their headers), before they are handled.
  virtual void OnBytesRead(size_t n) {}

  void Send(uint8_t opcode, std::initializer_list<std::string_view> parts);
  // Sends between Cork and Uncork go out in one write.
  void Cork() { corked_ = true; }
  void Uncork() {
    corked_ = false;
    Flush();
  }
  void Fail(const std::string& what);
  // Makes the read buffer this small (idle connections), once the frames read are handled.
  void ShrinkReadBuffer(size_t bytes);

 private:
  enum class State { kConnecting, kUpgrading, kConfirming, kReady, kDead };

  void ReadMore();
  void OnRead(size_t n);
  bool HandleFrame(uint8_t opcode, std::string_view payload);
  void AcceptExtensions(std::string_view response_headers);
  bool Inflate(std::string_view compressed);  // into inflated_
  void Flush();
  uint32_t NextKey() {
    key_ ^= key_ << 13;
    key_ ^= key_ >> 17;
    key_ ^= key_ << 5;
    return key_;
  }

  const WsTarget* const target_;
  const int index_;
  const std::string client_id_prefix_;
  asio::ip::tcp::socket socket_;
  State state_ = State::kConnecting;
  std::vector<char> rbuf_;
  size_t rbeg_ = 0, rend_ = 0;
  size_t shrink_to_ = 0;
  std::string active_, pending_;
  bool writing_ = false;
  bool corked_ = false;
  uint32_t key_;
  struct InflaterDeleter {
    void operator()(z_stream* z) const {
      inflateEnd(z);
      delete z;
    }
  };
  std::unique_ptr<z_stream, InflaterDeleter> inflater_;
  bool inflate_reset_ = false;  // server_no_context_takeover: each message on its own
  std::string inflated_;
};

}  // namespace bench::load

#endif  // BENCH_LOAD_WS_CLIENT_H_
