// RFC 6455 framing, the one codec of the project: the bridge writes its outgoing frame headers
// with it, and the harness (its own WebSocket client, the fault proxy) and the load tools read
// and write whole frames with it. Frames are checked only as far as cutting them needs; judging
// them (opcodes, UTF-8, masking rules) is the endpoints' business. Pure functions; any thread.
#ifndef BRIDGE_COMMON_WS_FRAME_H_
#define BRIDGE_COMMON_WS_FRAME_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bridge::ws {

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

using Mask = std::array<uint8_t, 4>;

// What precedes a frame's payload.
struct Header {
  bool fin = true;
  uint8_t rsv = 0;  // RSV1, RSV2, RSV3 as bits 2, 1, 0
  uint8_t opcode = kText;
  std::optional<Mask> mask;  // client-to-server frames are masked
  uint64_t payload_size = 0;
  size_t size = 0;  // the header's own bytes, 2 to 14 (set by ParseHeader)
};

// A whole frame, its payload unmasked.
struct Frame {
  bool fin = true;
  uint8_t rsv = 0;
  uint8_t opcode = kText;
  std::optional<Mask> mask;
  std::string payload;

  bool is_control() const { return (opcode & 0x8) != 0; }
};

// The default bound on a payload a reader accepts: a peer cannot make it hold more.
inline constexpr uint64_t kMaxPayload = uint64_t{64} << 20;

enum class ParseResult {
  kDone,      // a header (or frame) was read
  kNeedMore,  // the buffer holds only part of it
  kTooBig,    // its payload is over the bound given
};

// Appends `header` (its payload_size and mask included; `size` is ignored) to `out`.
void AppendHeader(const Header& header, std::string* out);

// Reads the header at the front of `data`.
ParseResult ParseHeader(std::string_view data, Header* header, uint64_t max_payload = kMaxPayload);

// XORs `size` bytes at `data` with `mask`, the first byte taking the mask's byte at
// `offset % 4`; eight bytes at a time.
void ApplyMask(const Mask& mask, char* data, size_t size, size_t offset = 0);

// Reads the frame at the front of `data`; on kDone, `*frame` holds it (payload unmasked) and
// `*size` the bytes it took.
ParseResult ParseFrame(std::string_view data, Frame* frame, size_t* size,
                       uint64_t max_payload = kMaxPayload);

// The bytes of `frame` on the wire, its payload masked with `frame.mask` when set.
std::string EncodeFrame(const Frame& frame);

// A close frame's payload: the code (big-endian) and the reason.
std::string ClosePayload(uint16_t code, std::string_view reason);

}  // namespace bridge::ws

#endif  // BRIDGE_COMMON_WS_FRAME_H_
