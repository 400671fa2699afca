#include "harness/proxy/ws_frame.h"

namespace harness::proxy {

WsFrame CloseFrame(uint16_t code, std::string_view reason) {
  WsFrame frame;
  frame.opcode = kWsClose;
  frame.payload = ::bridge::ws::ClosePayload(code, reason);
  return frame;
}

std::optional<Corruption> CorruptionFromName(std::string_view name) {
  if (name == "bad_utf8") return Corruption::kBadUtf8;
  if (name == "reserved_bits") return Corruption::kReservedBits;
  if (name == "bad_opcode") return Corruption::kBadOpcode;
  return std::nullopt;
}

bool CanCorrupt(const WsFrame& frame, Corruption corruption) {
  if (corruption == Corruption::kBadUtf8) return frame.opcode == kWsText;
  return !frame.is_control();
}

void Corrupt(Corruption corruption, WsFrame* frame) {
  switch (corruption) {
    case Corruption::kBadUtf8:
      // 0xFF starts no UTF-8 sequence; it replaces a byte in the middle, so the payload keeps
      // its length and a JSON parser would not notice before a UTF-8 check does.
      if (frame->payload.empty()) {
        frame->payload = "\xff";
      } else {
        frame->payload[frame->payload.size() / 2] = '\xff';
      }
      return;
    case Corruption::kReservedBits:
      frame->rsv = 0x7;
      return;
    case Corruption::kBadOpcode:
      frame->opcode = 0x3;
      return;
  }
}

}  // namespace harness::proxy
