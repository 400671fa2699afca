// The websocketpp configurations of the bridge's server, and its inbound fast path.
//
// Plain TCP and TLS (BridgeConfig.tls), each with and without permessage-deflate. Logging is
// compiled out; the bridge reports through counters and its own logs.
//
// Inbound: websocketpp 0.8.2 unmasks a client's frame one byte at a time and checks a text
// frame's UTF-8 one byte at a time, a fifth of the bridge's CPU at 16 KiB messages.
// hybi13::process_payload_bytes is specialized below: it unmasks eight bytes at a time, feeds
// websocketpp's UTF-8 validator only from the first byte that is not ASCII, so the checks and
// errors (1007 for bad UTF-8) stay websocketpp's, and bounds what a compressed message inflates
// to by max_frame_bytes (1009).
#ifndef BRIDGE_SERVER_WS_CONFIG_H_
#define BRIDGE_SERVER_WS_CONFIG_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "bridge/common/ws_frame.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/server/close_reasons.h"
#include "bridge/transcode/json_text.h"
#include "websocketpp/config/asio.hpp"
#include "websocketpp/config/asio_no_tls.hpp"
#include "websocketpp/extensions/permessage_deflate/enabled.hpp"
#include "websocketpp/server.hpp"

namespace bridge::server {

// Per-connection data that websocketpp keeps inside each connection (config::connection_base):
// the subprotocol chosen at the upgrade and the session the connection serves. The session
// changes when the connection resumes an older one.
struct ConnectionSlot {
  protocol::Encoding encoding = protocol::Encoding::kJson;
  std::string upgrade_token;  // from `Authorization: Bearer` or the `bearer, <token>` pair
  std::string client_ip;      // counted against max_connections_per_ip while open
  absl::Mutex core_mu;
  // The SessionCore<Config> of the server the connection belongs to (one Config per server).
  std::shared_ptr<void> core ABSL_GUARDED_BY(core_mu);

  template <typename Core>
  std::shared_ptr<Core> GetCore() {
    absl::MutexLock lock(&core_mu);
    return std::static_pointer_cast<Core>(core);
  }
  void SetCore(std::shared_ptr<void> c) {
    absl::MutexLock lock(&core_mu);
    core = std::move(c);
  }
};

// Bytes websocketpp reads from a connection's socket at a time. The buffer lives inside every
// connection object, idle or not (websocketpp's default: 16 KiB). BRIDGE_READ_BUFFER_BYTES
// overrides it for measurements (bench/load/README.md).
#ifndef BRIDGE_READ_BUFFER_BYTES
#define BRIDGE_READ_BUFFER_BYTES 16384
#endif
inline constexpr size_t kReadBufferBytes = BRIDGE_READ_BUFFER_BYTES;

// The websocketpp configurations: plain TCP, and TLS (BridgeConfig.tls). Logging is compiled
// out; the bridge reports through counters and its own logs.
struct PlainConfig : public websocketpp::config::asio {
  typedef PlainConfig type;
  typedef websocketpp::config::asio base;
  typedef ConnectionSlot connection_base;
  static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
  static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
  static const size_t connection_read_buffer_size = kReadBufferBytes;
};

struct TlsConfig : public websocketpp::config::asio_tls {
  typedef TlsConfig type;
  typedef websocketpp::config::asio_tls base;
  typedef ConnectionSlot connection_base;
  static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
  static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
  static const size_t connection_read_buffer_size = kReadBufferBytes;
};

// The same with permessage-deflate (RFC 7692, BridgeConfig.permessage_deflate): offered to
// clients that ask for it; websocketpp compresses and inflates the messages of connections that
// negotiated it.
template <typename Base>
struct DeflateConfig : public Base {
  typedef DeflateConfig type;
  typedef websocketpp::extensions::permessage_deflate::enabled<
      typename Base::permessage_deflate_config>
      permessage_deflate_type;
};
using PlainDeflateConfig = DeflateConfig<PlainConfig>;
using TlsDeflateConfig = DeflateConfig<TlsConfig>;

// Compressed bytes inflated at a time (see BRIDGE_PAYLOAD below): at most about 1 MiB
// once inflated.
inline constexpr size_t kInflateSlice = 1024;

// Unmasks `len` bytes of a client frame in place with websocketpp's prepared key (the 4-byte
// mask, rotated to where the payload stands); returns the key rotated past them, as
// websocketpp::frame::byte_mask_circ does (the masking itself: ws::ApplyMask).
inline size_t UnmaskInPlace(uint8_t* data, size_t len, size_t prepared_key) {
  const uint32_t key = static_cast<uint32_t>(prepared_key);
  ws::Mask mask;
  std::memcpy(mask.data(), &key, 4);
  ws::ApplyMask(mask, reinterpret_cast<char*>(data), len);
  return websocketpp::frame::circshift_prepared_key(prepared_key, len % 4);
}

}  // namespace bridge::server

namespace websocketpp::processor {

// `len` bytes of payload of the current frame, in the read buffer; see the top of this file.
// With permessage-deflate, websocketpp checks max_message_size against the bytes on the wire
// and inflates without a bound, so a frame within max_frame_bytes could grow a thousandfold
// (deflate's ratio is at most about 1032:1) in memory before anything looks at it. Here a
// compressed payload is inflated kInflateSlice bytes at a time, and the message fails with
// message_too_big (close 1009, as an uncompressed message over the limit does) as soon as it
// passes max_message_size. Without the extension (is_enabled() is constant false) that branch
// compiles away.
#define BRIDGE_PAYLOAD(CONFIG)                                                           \
  template <>                                                                            \
  inline size_t hybi13<CONFIG>::process_payload_bytes(uint8_t* buf, size_t len,          \
                                                      lib::error_code& ec) {             \
    if (frame::get_masked(m_basic_header)) {                                             \
      m_current_msg->prepared_key =                                                      \
          ::bridge::server::UnmaskInPlace(buf, len, m_current_msg->prepared_key);        \
    }                                                                                    \
    std::string& out = m_current_msg->msg_ptr->get_raw_payload();                        \
    const size_t offset = out.size();                                                    \
    if (m_permessage_deflate.is_enabled() && m_current_msg->msg_ptr->get_compressed()) { \
      for (size_t done = 0; done < len; done += ::bridge::server::kInflateSlice) {       \
        ec = m_permessage_deflate.decompress(                                            \
            buf + done, std::min(len - done, ::bridge::server::kInflateSlice), out);     \
        if (ec) return 0;                                                                \
        if (out.size() > base::m_max_message_size) {                                     \
          ec = make_error_code(error::message_too_big);                                  \
          return 0;                                                                      \
        }                                                                                \
      }                                                                                  \
    } else {                                                                             \
      out.append(reinterpret_cast<char*>(buf), len);                                     \
    }                                                                                    \
    if (m_current_msg->msg_ptr->get_opcode() == frame::opcode::TEXT) {                   \
      size_t ascii = 0;                                                                  \
      if (m_current_msg->validator.complete()) {                                         \
        ascii = ::bridge::transcode::AsciiPrefixLength(                                  \
            std::string_view(out.data() + offset, out.size() - offset));                 \
      }                                                                                  \
      if (!m_current_msg->validator.decode(out.begin() + offset + ascii, out.end())) {   \
        ec = make_error_code(error::invalid_utf8);                                       \
        return 0;                                                                        \
      }                                                                                  \
    }                                                                                    \
    m_bytes_needed -= len;                                                               \
    return len;                                                                          \
  }

BRIDGE_PAYLOAD(::bridge::server::PlainConfig)
BRIDGE_PAYLOAD(::bridge::server::TlsConfig)
BRIDGE_PAYLOAD(::bridge::server::PlainDeflateConfig)
BRIDGE_PAYLOAD(::bridge::server::TlsDeflateConfig)
#undef BRIDGE_PAYLOAD

}  // namespace websocketpp::processor

namespace websocketpp {

// Every close of the bridge's connections, websocketpp's own included: websocketpp's body of
// connection::close, with the reason put through CloseReasonWord (close_reasons.h), so a
// close websocketpp makes on a client's RFC 6455 violation carries a word, not a sentence.
#define BRIDGE_CLOSE_WITH_WORDS(CONFIG)                                                   \
  template <>                                                                             \
  inline void connection<CONFIG>::close(close::status::value const code,                  \
                                        std::string const& reason, lib::error_code& ec) { \
    const std::string_view word = ::bridge::server::CloseReasonWord(reason);              \
    const std::string truncated(word.substr(0, frame::limits::close_reason_size));        \
    scoped_lock_type lock(m_connection_state_lock);                                       \
    if (m_state != session::state::open) {                                                \
      ec = error::make_error_code(error::invalid_state);                                  \
      return;                                                                             \
    }                                                                                     \
    ec = this->send_close_frame(code, truncated, false, close::status::terminal(code));   \
  }

BRIDGE_CLOSE_WITH_WORDS(::bridge::server::PlainConfig)
BRIDGE_CLOSE_WITH_WORDS(::bridge::server::TlsConfig)
BRIDGE_CLOSE_WITH_WORDS(::bridge::server::PlainDeflateConfig)
BRIDGE_CLOSE_WITH_WORDS(::bridge::server::TlsDeflateConfig)
#undef BRIDGE_CLOSE_WITH_WORDS

}  // namespace websocketpp

#endif  // BRIDGE_SERVER_WS_CONFIG_H_
