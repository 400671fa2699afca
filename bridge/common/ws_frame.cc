#include "bridge/common/ws_frame.h"

#include <cstring>

namespace bridge::ws {

void AppendHeader(const Header& header, std::string* out) {
  char bytes[14];
  size_t n = 0;
  bytes[n++] = static_cast<char>((header.fin ? 0x80 : 0) | ((header.rsv & 0x7) << 4) |
                                 (header.opcode & 0x0f));
  const uint8_t mask_bit = header.mask ? 0x80 : 0;
  const uint64_t size = header.payload_size;
  if (size < 126) {
    bytes[n++] = static_cast<char>(mask_bit | size);
  } else if (size <= 0xffff) {
    bytes[n++] = static_cast<char>(mask_bit | 126);
    bytes[n++] = static_cast<char>(size >> 8);
    bytes[n++] = static_cast<char>(size & 0xff);
  } else {
    bytes[n++] = static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) bytes[n++] = static_cast<char>(size >> shift);
  }
  if (header.mask) {
    std::memcpy(bytes + n, header.mask->data(), 4);
    n += 4;
  }
  out->append(bytes, n);
}

ParseResult ParseHeader(std::string_view data, Header* header, uint64_t max_payload) {
  if (data.size() < 2) return ParseResult::kNeedMore;
  const auto byte = [&data](size_t i) { return static_cast<uint8_t>(data[i]); };
  size_t offset = 2;
  uint64_t size = byte(1) & 0x7f;
  if (size >= 126) {
    const size_t size_bytes = size == 126 ? 2 : 8;
    if (data.size() < offset + size_bytes) return ParseResult::kNeedMore;
    size = 0;
    for (size_t i = 0; i < size_bytes; ++i) size = (size << 8) | byte(offset + i);
    offset += size_bytes;
  }
  if (size > max_payload) return ParseResult::kTooBig;
  const bool masked = (byte(1) & 0x80) != 0;
  if (masked && data.size() < offset + 4) return ParseResult::kNeedMore;
  header->fin = (byte(0) & 0x80) != 0;
  header->rsv = (byte(0) >> 4) & 0x7;
  header->opcode = byte(0) & 0x0f;
  header->mask.reset();
  if (masked) {
    Mask mask;
    for (size_t i = 0; i < 4; ++i) mask[i] = byte(offset + i);
    header->mask = mask;
    offset += 4;
  }
  header->payload_size = size;
  header->size = offset;
  return ParseResult::kDone;
}

void ApplyMask(const Mask& mask, char* data, size_t size, size_t offset) {
  uint8_t key[8];
  for (size_t i = 0; i < 8; ++i) key[i] = mask[(offset + i) % 4];
  uint64_t key8;
  std::memcpy(&key8, key, 8);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    w ^= key8;
    std::memcpy(data + i, &w, 8);
  }
  for (; i < size; ++i) data[i] = static_cast<char>(data[i] ^ key[i % 8]);
}

ParseResult ParseFrame(std::string_view data, Frame* frame, size_t* size, uint64_t max_payload) {
  Header header;
  const ParseResult r = ParseHeader(data, &header, max_payload);
  if (r != ParseResult::kDone) return r;
  if (data.size() - header.size < header.payload_size) return ParseResult::kNeedMore;
  frame->fin = header.fin;
  frame->rsv = header.rsv;
  frame->opcode = header.opcode;
  frame->mask = header.mask;
  frame->payload.assign(data.substr(header.size, header.payload_size));
  if (frame->mask) ApplyMask(*frame->mask, frame->payload.data(), frame->payload.size());
  *size = header.size + header.payload_size;
  return ParseResult::kDone;
}

std::string EncodeFrame(const Frame& frame) {
  Header header;
  header.fin = frame.fin;
  header.rsv = frame.rsv;
  header.opcode = frame.opcode;
  header.mask = frame.mask;
  header.payload_size = frame.payload.size();
  std::string out;
  out.reserve(frame.payload.size() + 14);
  AppendHeader(header, &out);
  const size_t start = out.size();
  out.append(frame.payload);
  if (frame.mask) ApplyMask(*frame.mask, out.data() + start, frame.payload.size());
  return out;
}

std::string ClosePayload(uint16_t code, std::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xff));
  payload.append(reason);
  return payload;
}

}  // namespace bridge::ws
