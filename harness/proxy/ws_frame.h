// RFC 6455 frames for the fault proxy's WebSocket toxics: the shared codec's frames
// (bridge/common/ws_frame.h) and the rewrites the toxics make (close frames, corruption). Pure
// functions; any thread.
#ifndef HARNESS_PROXY_WS_FRAME_H_
#define HARNESS_PROXY_WS_FRAME_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bridge/common/ws_frame.h"

namespace harness::proxy {

// The proxy's names for the shared RFC 6455 codec (bridge/common/ws_frame.h).
using WsFrame = ::bridge::ws::Frame;
using ::bridge::ws::EncodeFrame;
using ::bridge::ws::ParseFrame;
using ::bridge::ws::ParseResult;
inline constexpr uint8_t kWsContinuation = ::bridge::ws::kContinuation;
inline constexpr uint8_t kWsText = ::bridge::ws::kText;
inline constexpr uint8_t kWsBinary = ::bridge::ws::kBinary;
inline constexpr uint8_t kWsClose = ::bridge::ws::kClose;
inline constexpr uint8_t kWsPing = ::bridge::ws::kPing;
inline constexpr uint8_t kWsPong = ::bridge::ws::kPong;

// Frames with a bigger payload are not cut; the stream carrying one goes on as plain bytes.
inline constexpr uint64_t kMaxFramePayload = ::bridge::ws::kMaxPayload;

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
