// Protobuf wire-format primitives for the transcoder: tags, varints, fixed-width values, and
// WireWriter, an append-only output buffer that writes length-delimited fields without knowing
// their length in advance. Plain functions and a single-owner buffer; no shared state.
#ifndef BRIDGE_TRANSCODE_WIRE_H_
#define BRIDGE_TRANSCODE_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace bridge::transcode::wire {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

constexpr uint32_t kMaxFieldNumber = (1u << 29) - 1;

constexpr uint32_t MakeTag(uint32_t number, WireType type) { return (number << 3) | type; }

constexpr uint64_t ZigZagEncode32(int32_t v) {
  return static_cast<uint32_t>((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
}
constexpr uint64_t ZigZagEncode64(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
constexpr int32_t ZigZagDecode32(uint32_t v) {
  return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
}
constexpr int64_t ZigZagDecode64(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

inline int VarintSize(uint64_t v) {
  // 1 + floor(log2(v | 1)) / 7, computed without a loop.
  const int bits = 64 - __builtin_clzll(v | 1);
  return (bits * 9 + 64) / 64;
}

// Writes `v` at `p` (room for 10 bytes); returns the end.
inline char* EncodeVarint(uint64_t v, char* p) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// Reads a varint from [p, end). Returns the end of it, or nullptr when it is truncated or
// longer than ten bytes. Bits beyond 64 are dropped, as protobuf's parser does.
inline const char* DecodeVarint(const char* p, const char* end, uint64_t* out) {
  if (p < end && static_cast<uint8_t>(*p) < 0x80) {
    *out = static_cast<uint8_t>(*p);
    return p + 1;
  }
  uint64_t result = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p == end) return nullptr;
    const uint8_t byte = static_cast<uint8_t>(*p++);
    result |= static_cast<uint64_t>(byte & 0x7f) << (shift < 64 ? shift : 63);
    if (byte < 0x80) {
      *out = result;
      return p;
    }
  }
  return nullptr;
}

// The bits of `from` as a `To` (float <-> fixed32, double <-> fixed64).
template <typename To, typename From>
To BitCast(From from) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &from, sizeof(to));
  return to;
}

inline uint32_t LoadFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // x86-64 and aarch64 are little-endian, like the wire format
}
inline uint64_t LoadFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// An append-only buffer of wire bytes. Length-delimited values are written in place: a
// one-byte length is reserved, and when the content turns out to need a longer varint, the
// content moves right once.
class WireWriter {
 public:
  explicit WireWriter(std::string* out) : out_(out) {
    out_->resize(out_->capacity() > 64 ? out_->capacity() : 64);
    pos_ = 0;
  }

  // Makes room for `n` more bytes.
  void Reserve(size_t n) {
    if (out_->size() - pos_ < n) Grow(n);
  }

  void Varint(uint64_t v) {
    Reserve(10);
    pos_ = EncodeVarint(v, Data() + pos_) - Data();
  }
  // A pre-encoded tag (or any short byte string).
  void Raw(const char* p, size_t n) {
    Reserve(n);
    std::memcpy(Data() + pos_, p, n);
    pos_ += n;
  }
  void Fixed32(uint32_t v) { Raw(reinterpret_cast<const char*>(&v), 4); }
  void Fixed64(uint64_t v) { Raw(reinterpret_cast<const char*>(&v), 8); }
  void LengthDelimited(std::string_view bytes) {
    Reserve(bytes.size() + 10);
    pos_ = EncodeVarint(bytes.size(), Data() + pos_) - Data();
    std::memcpy(Data() + pos_, bytes.data(), bytes.size());
    pos_ += bytes.size();
  }

  // Starts a length-delimited value whose length is not known yet; returns a mark for
  // EndLength.
  size_t BeginLength() {
    Reserve(1);
    return pos_++;
  }
  void EndLength(size_t mark) {
    const size_t length = pos_ - mark - 1;
    if (length < 0x80) {
      Data()[mark] = static_cast<char>(length);
      return;
    }
    const int extra = VarintSize(length) - 1;
    Reserve(extra);
    char* start = Data() + mark + 1;
    std::memmove(start + extra, start, length);
    EncodeVarint(length, Data() + mark);
    pos_ += extra;
  }

  // Direct access for writers that know how much they append (call Reserve first).
  char* Cursor() { return Data() + pos_; }
  void Advance(size_t n) { pos_ += n; }

  size_t size() const { return pos_; }
  void Truncate(size_t size) { pos_ = size; }
  // Trims the buffer to what was written.
  void Finish() { out_->resize(pos_); }

 private:
  char* Data() { return &(*out_)[0]; }
  void Grow(size_t n) {
    size_t size = out_->size() * 2;
    while (size - pos_ < n) size *= 2;
    out_->resize(size);
  }

  std::string* out_;
  size_t pos_ = 0;
};

}  // namespace bridge::transcode::wire

#endif  // BRIDGE_TRANSCODE_WIRE_H_
