// RFC 6455 frames for the fault proxy's WebSocket toxics: a parser that takes one complete
// frame off the front of a byte buffer, an encoder, and the rewrites the toxics make (close
// frames, corruption). Frames are checked only as far as cutting them needs; judging them is
// the endpoints' business. Pure functions; any thread.
#ifndef HARNESS_PROXY_WS_FRAME_H_
#define HARNESS_PROXY_WS_FRAME_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace harness::proxy {

enum WsOpcode : uint8_t {
  kWsContinuation = 0x0,
  kWsText = 0x1,
  kWsBinary = 0x2,
  kWsClose = 0x8,
  kWsPing = 0x9,
  kWsPong = 0xA,
};

struct WsFrame {
  bool fin = true;
  uint8_t rsv = 0;  // RSV1, RSV2, RSV3 as bits 2, 1, 0
  uint8_t opcode = kWsText;
  // Set on client-to-server frames, which must be masked.
  std::optional<std::array<uint8_t, 4>> mask;
  std::string payload;  // unmasked

  bool is_control() const { return (opcode & 0x8) != 0; }
};

// Frames with a bigger payload are not cut; the stream carrying one goes on as plain bytes.
inline constexpr uint64_t kMaxFramePayload = uint64_t{64} << 20;

enum class ParseResult {
  kFrame,     // a frame was taken
  kNeedMore,  // the buffer holds only part of a frame
  kInvalid,   // not a frame this parser cuts (a payload over `max_payload`)
};

// Parses the frame at the front of `data`. On kFrame, `*frame` holds it (payload unmasked)
// and `*size` the number of bytes it took.
ParseResult ParseFrame(std::string_view data, WsFrame* frame, size_t* size,
                       uint64_t max_payload = kMaxFramePayload);

// The bytes of `frame` on the wire, its payload masked with `frame.mask` when set.
std::string EncodeFrame(const WsFrame& frame);

// An unmasked close frame (server to client) with `code` and `reason`.
WsFrame CloseFrame(uint16_t code, std::string_view reason);

// What ws_corrupt does to a frame.
enum class Corruption {
  kBadUtf8,       // a text frame's payload gets a byte that is never valid UTF-8
  kReservedBits,  // RSV1-3 set, with no extension negotiated
  kBadOpcode,     // opcode 0x3, reserved for future data frames
};

// "bad_utf8", "reserved_bits", "bad_opcode".
std::optional<Corruption> CorruptionFromName(std::string_view name);

// Whether `corruption` applies to `frame`: bad UTF-8 to text frames, the others to any data
// frame (text, binary, continuation).
bool CanCorrupt(const WsFrame& frame, Corruption corruption);

// Corrupts `frame` in place; its mask (if any) is kept, so EncodeFrame re-masks it correctly.
void Corrupt(Corruption corruption, WsFrame* frame);

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_WS_FRAME_H_
