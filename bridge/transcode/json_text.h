// Text forms of the protobuf JSON mapping, shared by both directions of the transcoder:
// JsonWriter (an append-only JSON output buffer with protobuf's string escaping and number
// formatting), base64 in both alphabets, UTF-8 validation, and the string forms of
// google.protobuf.Timestamp, Duration and FieldMask. Output matches protobuf 3.21's json_util
// byte for byte. Plain functions and a single-owner buffer; no shared state.
#ifndef BRIDGE_TRANSCODE_JSON_TEXT_H_
#define BRIDGE_TRANSCODE_JSON_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace bridge::transcode {

// Appends JSON text to a std::string it owns while writing.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {
    out_->resize(out_->capacity() > 128 ? out_->capacity() : 128);
  }

  void Reserve(size_t n) {
    if (out_->size() - pos_ < n) Grow(n);
  }
  void Char(char c) {
    Reserve(1);
    Data()[pos_++] = c;
  }
  void Raw(std::string_view s) {
    Reserve(s.size());
    std::memcpy(Data() + pos_, s.data(), s.size());
    pos_ += s.size();
  }
  // Raw() for short strings whose buffer holds at least kPadding bytes (a std::string with
  // that capacity): copies a fixed-size block, without a call to memcpy.
  static constexpr size_t kPadding = 32;
  void Padded(const std::string& s) {
    if (s.size() > kPadding || s.capacity() < kPadding) {
      Raw(s);
      return;
    }
    Reserve(kPadding);
    std::memcpy(Data() + pos_, s.data(), kPadding);
    pos_ += s.size();
  }
  // A quoted, escaped JSON string. Escapes what protobuf's json_util escapes (control
  // characters, '"', '\\', '<', '>', U+007F-U+009F and a few invisible code points) and drops
  // bytes that are not UTF-8, as it does.
  void String(std::string_view s) { Escape<false>(s); }
  // String() for text that must be UTF-8 (proto3 strings): false, leaving the output
  // unusable, when it is not (overlong forms and surrogates included).
  bool Utf8String(std::string_view s) { return Escape<true>(s); }
  void Int(int64_t v);
  void Uint(uint64_t v);
  void QuotedInt(int64_t v);
  void QuotedUint(uint64_t v);
  void Bool(bool v) { Raw(v ? std::string_view("true") : std::string_view("false")); }
  // Like protobuf's SimpleDtoa / SimpleFtoa ("%.15g" / "%.6g" when that reads back exactly,
  // else "%.17g" / "%.9g"); NaN and infinities as the strings "NaN", "Infinity", "-Infinity".
  void Double(double v);
  void Float(float v);
  // Standard base64 with padding, quoted.
  void Base64(std::string_view bytes);

  size_t size() const { return pos_; }
  void Truncate(size_t size) { pos_ = size; }
  void Finish() { out_->resize(pos_); }

 private:
  char* Data() { return &(*out_)[0]; }
  void Grow(size_t n);
  template <bool kStrict>
  bool Escape(std::string_view s);

  std::string* out_;
  size_t pos_ = 0;
};

// Formats like printf("%.{precision}g") for the value's shortest round-trip digits when they
// fit in `precision` digits; returns false (writing nothing) when they do not. Exposed for
// tests.
bool FormatShortestAsG(double v, int precision, bool is_float, char* out, size_t* length);

// Decodes base64 as protobuf's json_util does: the URL-safe alphabet or the standard one (not
// mixed), padding optional but exact when present, unused trailing bits zero. Appends to
// `out`; false when `text` is not base64.
bool Base64Decode(std::string_view text, std::string* out);
// The decoded size of `text`, valid only when Base64Decode succeeds.
size_t Base64DecodedSize(std::string_view text);
// Decodes into `out`, which has room for Base64DecodedSize(text) bytes.
bool Base64DecodeTo(std::string_view text, char* out);

// Strict UTF-8: no overlong forms, surrogates or code points above U+10FFFF.
bool IsValidUtf8(std::string_view s);
// How many bytes `s` starts with that are ASCII (below 0x80); eight at a time.
size_t AsciiPrefixLength(std::string_view s);
// `s` with every byte that does not start a valid sequence replaced by U+FFFD: for text a
// backend controls (a status message) on its way into a frame, which must be UTF-8.
std::string ToValidUtf8(std::string_view s);

// google.protobuf.Timestamp: RFC 3339 text and seconds/nanos.
// Parses like protobuf 3.21: "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)", digits beyond
// nine in the fraction ignored.
bool ParseTimestamp(std::string_view text, int64_t* seconds, int32_t* nanos);
// Room that FormatTimestamp and FormatDuration need.
constexpr size_t kTimeTextSize = 40;
// Writes to `out` (kTimeTextSize bytes) and returns the length, or 0 when out of range
// (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z).
size_t FormatTimestamp(int64_t seconds, int32_t nanos, char* out);

// google.protobuf.Duration: "-1.500s".
bool ParseDuration(std::string_view text, int64_t* seconds, int32_t* nanos);
enum class DurationFormat { kOk, kOutOfRange, kSignMismatch };
// Writes to `out` (kTimeTextSize bytes) and sets `size` when kOk.
DurationFormat FormatDuration(int64_t seconds, int32_t nanos, char* out, size_t* size);

// google.protobuf.FieldMask: the JSON form is "fooBar,baz.quxQuux" (compact form with
// parentheses accepted); the proto form holds snake_case paths.
bool ParseFieldMask(std::string_view text, std::vector<std::string>* paths);
// Appends the JSON form of one path ("foo_bar.baz" -> "fooBar.baz").
void AppendFieldMaskPathAsJson(std::string_view path, std::string* out);

// Protobuf's name conversions (util/internal/utility.cc), used by FieldMask.
std::string ToCamelCase(std::string_view input);
std::string ToSnakeCase(std::string_view input);
void AppendCamelCase(std::string_view input, std::string* out);
void AppendSnakeCase(std::string_view input, std::string* out);

// Strings accepted for numeric fields, as json_util reads them.
// [+-]?[0-9]+ within range.
bool ParseIntString(std::string_view s, int64_t min, int64_t max, int64_t* out);
bool ParseUintString(std::string_view s, uint64_t max, uint64_t* out);
// strtod's syntax (no leading or trailing space), finite; "NaN", "Infinity", "-Infinity".
bool ParseDoubleString(std::string_view s, double* out);
// As above, within float range.
bool ParseFloatString(std::string_view s, float* out);
// "true", "t", "yes", "y", "1" and the negatives, any case.
bool ParseBoolString(std::string_view s, bool* out);

// One JSON object written into a JsonWriter: `{` now, `}` when it goes, fields separated as
// they come.
//
//   JsonObject o(w);
//   o.Str("name", n).Int("count", 3);
class JsonObject {
 public:
  explicit JsonObject(JsonWriter& w) : w_(w) { w_.Char('{'); }
  ~JsonObject() { w_.Char('}'); }
  JsonObject& Str(std::string_view key, std::string_view value) {
    return Put(key, &JsonWriter::String, value);
  }
  JsonObject& Int(std::string_view key, int64_t value) { return Put(key, &JsonWriter::Int, value); }
  JsonObject& Uint(std::string_view key, uint64_t value) {
    return Put(key, &JsonWriter::Uint, value);
  }
  JsonObject& Double(std::string_view key, double value) {
    return Put(key, &JsonWriter::Double, value);
  }
  JsonObject& Bool(std::string_view key, bool value) { return Put(key, &JsonWriter::Bool, value); }
  // An array of objects, one per item, each written by `write(JsonObject&, item)`.
  template <typename T, typename F>
  JsonObject& Array(std::string_view key, const std::vector<T>& items, F write) {
    Key(key);
    w_.Char('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) w_.Char(',');
      JsonObject item(w_);
      write(item, items[i]);
    }
    w_.Char(']');
    return *this;
  }

 private:
  // Writes `"key":` (after a comma unless first).
  void Key(std::string_view key) {
    if (!first_) w_.Char(',');
    first_ = false;
    w_.String(key);
    w_.Char(':');
  }
  // One field: its key, then its value by one of the writer's methods.
  template <typename V>
  JsonObject& Put(std::string_view key, void (JsonWriter::*write)(V), V value) {
    Key(key);
    (w_.*write)(value);
    return *this;
  }

  JsonWriter& w_;
  bool first_ = true;
};

}  // namespace bridge::transcode

#endif  // BRIDGE_TRANSCODE_JSON_TEXT_H_
