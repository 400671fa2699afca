#include "harness/proxy/ws_frame.h"

namespace harness::proxy {
namespace {

uint8_t Byte(std::string_view data, size_t i) { return static_cast<uint8_t>(data[i]); }

void ApplyMask(const std::array<uint8_t, 4>& mask, std::string* payload) {
  for (size_t i = 0; i < payload->size(); ++i) (*payload)[i] ^= static_cast<char>(mask[i % 4]);
}

}  // namespace

ParseResult ParseFrame(std::string_view data, WsFrame* frame, size_t* size, uint64_t max_payload) {
  if (data.size() < 2) return ParseResult::kNeedMore;
  const uint8_t b0 = Byte(data, 0);
  const uint8_t b1 = Byte(data, 1);
  size_t offset = 2;
  uint64_t length = b1 & 0x7f;
  if (length >= 126) {
    const size_t length_bytes = length == 126 ? 2 : 8;
    if (data.size() < offset + length_bytes) return ParseResult::kNeedMore;
    length = 0;
    for (size_t i = 0; i < length_bytes; ++i) length = (length << 8) | Byte(data, offset + i);
    offset += length_bytes;
  }
  if (length > max_payload) return ParseResult::kInvalid;
  const bool masked = (b1 & 0x80) != 0;
  const size_t header = offset + (masked ? 4 : 0);
  if (data.size() < header || data.size() - header < length) return ParseResult::kNeedMore;

  frame->fin = (b0 & 0x80) != 0;
  frame->rsv = (b0 >> 4) & 0x7;
  frame->opcode = b0 & 0x0f;
  frame->mask.reset();
  if (masked) {
    std::array<uint8_t, 4> mask;
    for (size_t i = 0; i < 4; ++i) mask[i] = Byte(data, offset + i);
    frame->mask = mask;
  }
  frame->payload.assign(data.substr(header, length));
  if (frame->mask) ApplyMask(*frame->mask, &frame->payload);
  *size = header + length;
  return ParseResult::kFrame;
}

std::string EncodeFrame(const WsFrame& frame) {
  std::string out;
  out.reserve(frame.payload.size() + 14);
  out.push_back(
      static_cast<char>((frame.fin ? 0x80 : 0) | ((frame.rsv & 0x7) << 4) | (frame.opcode & 0x0f)));
  const uint8_t mask_bit = frame.mask ? 0x80 : 0;
  const uint64_t n = frame.payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(mask_bit | 126));
    for (int shift = 8; shift >= 0; shift -= 8) out.push_back(static_cast<char>(n >> shift));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(n >> shift));
  }
  if (!frame.mask) return out + frame.payload;
  for (const uint8_t b : *frame.mask) out.push_back(static_cast<char>(b));
  std::string payload = frame.payload;
  ApplyMask(*frame.mask, &payload);
  return out + payload;
}

WsFrame CloseFrame(uint16_t code, std::string_view reason) {
  WsFrame frame;
  frame.opcode = kWsClose;
  frame.payload.push_back(static_cast<char>(code >> 8));
  frame.payload.push_back(static_cast<char>(code & 0xff));
  frame.payload.append(reason);
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
