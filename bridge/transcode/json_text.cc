#include "bridge/transcode/json_text.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace bridge::transcode {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// 1 where a byte needs a look before it is copied into a JSON string.
struct EscapeTable {
  bool special[256] = {};
  constexpr EscapeTable() {
    for (int c = 0; c < 0x20; ++c) special[c] = true;
    special[static_cast<unsigned char>('"')] = true;
    special[static_cast<unsigned char>('\\')] = true;
    special[static_cast<unsigned char>('<')] = true;
    special[static_cast<unsigned char>('>')] = true;
    for (int c = 0x7f; c < 0x100; ++c) special[c] = true;
  }
};
constexpr EscapeTable kEscape;

// Whether any of eight bytes is special in kEscape (below 0x20, '"', '\\', '<', '>', 0x7f or
// above): exact word-at-a-time tests, so long plain runs are copied without a look per byte.
inline bool AnySpecial(uint64_t x) {
  constexpr uint64_t k01 = 0x0101010101010101ull;
  constexpr uint64_t k80 = 0x8080808080808080ull;
  auto has_zero = [](uint64_t v) { return (v - k01) & ~v & k80; };
  uint64_t r = x & k80;              // 0x80 and above
  r |= (x - k01 * 0x20) & ~x & k80;  // below 0x20
  r |= has_zero(x ^ (k01 * '"')) | has_zero(x ^ (k01 * '\\')) | has_zero(x ^ (k01 * '<')) |
       has_zero(x ^ (k01 * '>')) | has_zero(x ^ (k01 * 0x7f));
  return r != 0;
}

// Code points that json_util writes as \u escapes although JSON allows them raw.
bool NeedsUnicodeEscape(uint32_t cp) {
  if (cp < 0xa0) return cp >= 0x7f || cp < 0x20 || cp == '<' || cp == '>';
  switch (cp) {
    case 0x00ad:
    case 0x06dd:
    case 0x070f:
    case 0x17b4:
    case 0x17b5:
    case 0xfeff:
    case 0xfff9:
    case 0xfffa:
    case 0xfffb:
      return true;
    default:
      return (cp >= 0x0600 && cp <= 0x0603) || (cp >= 0x200b && cp <= 0x200f) ||
             (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) ||
             (cp >= 0x206a && cp <= 0x206f) || cp == 0xe0001 || (cp >= 0x1d173 && cp <= 0x1d17a) ||
             (cp >= 0xe0020 && cp <= 0xe007f);
  }
}

char* AppendU16Escape(uint32_t unit, char* p) {
  p[0] = '\\';
  p[1] = 'u';
  p[2] = kHexDigits[(unit >> 12) & 0xf];
  p[3] = kHexDigits[(unit >> 8) & 0xf];
  p[4] = kHexDigits[(unit >> 4) & 0xf];
  p[5] = kHexDigits[unit & 0xf];
  return p + 6;
}

// Writes the escape of `cp` (which NeedsUnicodeEscape or is '"' or '\\'); returns the end.
char* AppendEscape(uint32_t cp, char* p) {
  switch (cp) {
    case '"':
      *p++ = '\\';
      *p++ = '"';
      return p;
    case '\\':
      *p++ = '\\';
      *p++ = '\\';
      return p;
    case '\b':
      *p++ = '\\';
      *p++ = 'b';
      return p;
    case '\t':
      *p++ = '\\';
      *p++ = 't';
      return p;
    case '\n':
      *p++ = '\\';
      *p++ = 'n';
      return p;
    case '\f':
      *p++ = '\\';
      *p++ = 'f';
      return p;
    case '\r':
      *p++ = '\\';
      *p++ = 'r';
      return p;
    default:
      break;
  }
  if (cp < 0x10000) return AppendU16Escape(cp, p);
  const uint32_t v = cp - 0x10000;
  p = AppendU16Escape(0xd800 + (v >> 10), p);
  return AppendU16Escape(0xdc00 + (v & 0x3ff), p);
}

constexpr char kBase64Standard[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Value of each base64 character in one alphabet, -1 elsewhere.
struct Base64Table {
  int8_t value[256] = {};
  constexpr Base64Table(char c62, char c63) {
    for (int i = 0; i < 256; ++i) value[i] = -1;
    for (int i = 0; i < 26; ++i) {
      value['A' + i] = static_cast<int8_t>(i);
      value['a' + i] = static_cast<int8_t>(26 + i);
    }
    for (int i = 0; i < 10; ++i) value['0' + i] = static_cast<int8_t>(52 + i);
    value[static_cast<unsigned char>(c62)] = 62;
    value[static_cast<unsigned char>(c63)] = 63;
  }
};
constexpr Base64Table kStandardTable('+', '/');
constexpr Base64Table kUrlSafeTable('-', '_');

// Splits off '=' padding; false when the padding is malformed.
bool StripPadding(std::string_view* text) {
  size_t n = text->size();
  size_t pads = 0;
  while (n > 0 && (*text)[n - 1] == '=') {
    --n;
    ++pads;
  }
  if (pads > 0 && (pads > 2 || text->size() % 4 != 0)) return false;
  *text = text->substr(0, n);
  return true;
}

bool DecodeWith(const Base64Table& table, std::string_view text, char* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const int a = table.value[p[i]], b = table.value[p[i + 1]], c = table.value[p[i + 2]],
              d = table.value[p[i + 3]];
    if ((a | b | c | d) < 0) return false;
    const uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    *out++ = static_cast<char>(v >> 16);
    *out++ = static_cast<char>(v >> 8);
    *out++ = static_cast<char>(v);
  }
  const size_t rest = n - i;
  if (rest == 0) return true;
  if (rest == 1) return false;
  const int a = table.value[p[i]], b = table.value[p[i + 1]];
  const int c = rest == 3 ? table.value[p[i + 2]] : 0;
  if ((a | b | c) < 0) return false;
  const uint32_t v = (a << 18) | (b << 12) | (c << 6);
  // The bits past the last whole byte must be zero.
  if (rest == 2 ? (v & 0xffff) != 0 : (v & 0xff) != 0) return false;
  *out++ = static_cast<char>(v >> 16);
  if (rest == 3) *out++ = static_cast<char>(v >> 8);
  return true;
}

// Howard Hinnant's days_from_civil / civil_from_days, proleptic Gregorian.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

bool IsLeapYear(int64_t y) { return y % 400 == 0 || (y % 4 == 0 && y % 100 != 0); }

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m];
}

constexpr int64_t kTimestampMinSeconds = -62135596800;  // 0001-01-01T00:00:00Z
constexpr int64_t kTimestampMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
constexpr int64_t kDurationMaxSeconds = 315576000000;
constexpr int32_t kNanosPerSecond = 1000000000;

// Reads text as C code does through a NUL-terminated copy: the end reads as '\0'.
class CText {
 public:
  explicit CText(std::string_view s) : s_(s.substr(0, s.find('\0'))) {}
  char operator[](size_t i) const { return i < s_.size() ? s_[i] : '\0'; }
  size_t size() const { return s_.size(); }

 private:
  std::string_view s_;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// protobuf's ParseInt (stubs/time.cc): up to `width` digits, at least one, within range.
bool ParseTimeInt(const CText& t, size_t* i, int width, int min, int max, int* out) {
  if (!IsDigit(t[*i])) return false;
  int value = 0;
  for (int n = 0; n < width && IsDigit(t[*i]); ++n, ++*i) value = value * 10 + (t[*i] - '0');
  if (value < min || value > max) return false;
  *out = value;
  return true;
}

bool ParseOffset(const CText& t, size_t* i, int64_t* offset) {
  int hours, minutes;
  if (!ParseTimeInt(t, i, 2, 0, 23, &hours)) return false;
  if (t[(*i)++] != ':') return false;
  if (!ParseTimeInt(t, i, 2, 0, 59, &minutes)) return false;
  *offset = (hours * 60 + minutes) * 60;
  return true;
}

// Writes `v` in `width` digits, zero-padded (v >= 0, below 10^width).
char* WritePadded(uint64_t v, int width, char* p) {
  for (int i = width - 1; i >= 0; --i, v /= 10) p[i] = static_cast<char>('0' + v % 10);
  return p + width;
}

// ".500", ".000001", ".000000001": 3, 6 or 9 digits, nothing for zero.
char* WriteNanos(int32_t nanos, char* p) {
  if (nanos == 0) return p;
  *p++ = '.';
  if (nanos % 1000000 == 0) return WritePadded(nanos / 1000000, 3, p);
  if (nanos % 1000 == 0) return WritePadded(nanos / 1000, 6, p);
  return WritePadded(nanos, 9, p);
}

// protobuf's safe_strtou64 as Duration uses it: spaces around, an optional '+'.
bool ParseDurationSeconds(std::string_view s, uint64_t* out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  return ParseUintString(s, std::numeric_limits<uint64_t>::max(), out);
}

// The fraction of a Duration: digits only, at most nine after leading zeros are counted.
bool ParseDurationNanos(std::string_view s, int32_t* nanos) {
  *nanos = 0;
  size_t zeros = 0;
  while (zeros < s.size() && s[zeros] == '0') ++zeros;
  const std::string_view rest = s.substr(zeros);
  if (rest.empty()) return true;
  for (char c : rest) {
    if (!IsDigit(c)) return false;
  }
  const size_t scale = zeros + rest.size();
  if (rest.size() > 9 || scale > 9) return false;
  int32_t value = 0;
  for (char c : rest) value = value * 10 + (c - '0');
  for (size_t i = scale; i < 9; ++i) value *= 10;
  *nanos = value;
  return true;
}

// Appends `path` to `out` with `convert` applied to each segment, quoted map keys left alone
// (protobuf's ConvertFieldMaskPath).
template <typename Convert>
void ConvertPath(std::string_view path, Convert convert, std::string* out) {
  bool quoted = false;
  bool escaping = false;
  size_t segment_start = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (quoted) {
      if (i == path.size()) break;
      out->push_back(path[i]);
      if (escaping) {
        escaping = false;
      } else if (path[i] == '\\') {
        escaping = true;
      } else if (path[i] == '"') {
        segment_start = i + 1;
        quoted = false;
      }
      continue;
    }
    if (i == path.size() || path[i] == '.' || path[i] == '(' || path[i] == ')' || path[i] == '"') {
      convert(path.substr(segment_start, i - segment_start), out);
      if (i < path.size()) out->push_back(path[i]);
      segment_start = i + 1;
    }
    if (i < path.size() && path[i] == '"') quoted = true;
  }
}

bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
char ToLower(char c) { return IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }
char ToUpper(char c) { return IsLower(c) ? static_cast<char>(c - 'a' + 'A') : c; }

std::string JoinPrefix(const std::string& prefix, std::string_view segment) {
  if (prefix.empty()) return std::string(segment);
  if (segment.empty()) return prefix;
  if (segment.substr(0, 2) == "[\"") return prefix + std::string(segment);
  return prefix + "." + std::string(segment);
}

// Writes `v` when it is a whole number or has at most three decimals and fits in `digits`
// significant digits (prices, counts, measurements): what "%.{digits}g" prints for it, found
// without the general shortest-digits algorithm. False when `v` is not of that kind.
bool FormatShortDecimal(double v, int digits, char* out, size_t* length) {
  static constexpr double kScale[] = {1, 10, 100, 1000};
  static constexpr uint64_t kLimit[] = {1,
                                        10,
                                        100,
                                        1000,
                                        10000,
                                        100000,
                                        1000000,
                                        10000000,
                                        100000000,
                                        1000000000,
                                        10000000000,
                                        100000000000,
                                        1000000000000,
                                        10000000000000,
                                        100000000000000,
                                        1000000000000000};
  const double a = std::fabs(v);
  if (!(a < 1e15) || a < 1e-3) return false;
  for (int k = 0; k <= 3; ++k) {
    const double r = std::nearbyint(a * kScale[k]);
    if (r >= static_cast<double>(kLimit[digits])) return false;
    // r / 10^k is exact arithmetic rounded once, as reading the decimal back would be.
    if (r / kScale[k] != a) continue;
    uint64_t n = static_cast<uint64_t>(r);
    char buf[24];
    char* end = buf + sizeof(buf);
    char* p = end;
    for (int i = 0; i < k; ++i, n /= 10) *--p = static_cast<char>('0' + n % 10);
    if (k > 0) *--p = '.';
    do {
      *--p = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n != 0);
    if (std::signbit(v)) *--p = '-';
    *length = end - p;
    std::memcpy(out, p, *length);
    return true;
  }
  return false;
}

}  // namespace

void JsonWriter::Grow(size_t n) {
  size_t size = out_->size() * 2;
  while (size - pos_ < n) size *= 2;
  out_->resize(size);
}

template <bool kStrict>
bool JsonWriter::Escape(std::string_view s) {
  Reserve(s.size() + 2);
  char* out = Data() + pos_;
  *out++ = '"';
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned char* run = p;
    while (end - p >= 8) {
      uint64_t chunk;
      std::memcpy(&chunk, p, 8);
      if (AnySpecial(chunk)) break;
      p += 8;
    }
    while (p < end && !kEscape.special[*p]) ++p;
    std::memcpy(out, run, p - run);
    out += p - run;
    if (p == end) break;
    // Room for the rest at worst: every byte a six-character escape, and the closing quote.
    pos_ = out - Data();
    Reserve((end - p) * 6 + 1);
    out = Data() + pos_;
    if (*p < 0x80) {
      if (*p == '"' || *p == '\\' || NeedsUnicodeEscape(*p)) {
        out = AppendEscape(*p, out);
      } else {
        *out++ = static_cast<char>(*p);
      }
      ++p;
      continue;
    }
    // A multi-byte sequence, read as json_util reads it: invalid bytes are dropped along
    // with the bytes of the sequence consumed so far.
    const unsigned char lead = *p;
    int more;
    uint32_t cp;
    if (lead <= 0xbf || lead >= 0xf8) {
      if (kStrict) return false;
      ++p;
      continue;
    } else if (lead <= 0xdf) {
      more = 1;
      cp = lead & 0x1f;
    } else if (lead <= 0xef) {
      more = 2;
      cp = lead & 0x0f;
    } else {
      more = 3;
      cp = lead & 0x07;
    }
    const unsigned char* start = p++;
    bool ok = true;
    for (int i = 0; i < more; ++i) {
      if (p == end) {
        ok = false;
        break;
      }
      const unsigned char c = *p++;
      cp = (cp << 6) | (c & 0x3f);
      if (c < 0x80 || c > 0xbf) {
        ok = false;
        break;
      }
    }
    if (!ok || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      if (kStrict) return false;
      continue;
    }
    // Overlong forms: json_util prints them, protobuf's parser refuses them in proto3.
    static constexpr uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
    if (kStrict && cp < kMinimum[more]) return false;
    if (cp == '"' || cp == '\\' || NeedsUnicodeEscape(cp)) {
      out = AppendEscape(cp, out);
    } else {
      std::memcpy(out, start, p - start);
      out += p - start;
    }
  }
  *out++ = '"';
  pos_ = out - Data();
  return true;
}

template bool JsonWriter::Escape<false>(std::string_view s);
template bool JsonWriter::Escape<true>(std::string_view s);

void JsonWriter::Int(int64_t v) {
  Reserve(24);
  pos_ = std::to_chars(Data() + pos_, Data() + pos_ + 24, v).ptr - Data();
}

void JsonWriter::Uint(uint64_t v) {
  Reserve(24);
  pos_ = std::to_chars(Data() + pos_, Data() + pos_ + 24, v).ptr - Data();
}

void JsonWriter::QuotedInt(int64_t v) {
  Reserve(26);
  Data()[pos_++] = '"';
  pos_ = std::to_chars(Data() + pos_, Data() + pos_ + 24, v).ptr - Data();
  Data()[pos_++] = '"';
}

void JsonWriter::QuotedUint(uint64_t v) {
  Reserve(26);
  Data()[pos_++] = '"';
  pos_ = std::to_chars(Data() + pos_, Data() + pos_ + 24, v).ptr - Data();
  Data()[pos_++] = '"';
}

bool FormatShortestAsG(double v, int precision, bool is_float, char* out, size_t* length) {
  char buf[48];
  const std::to_chars_result r =
      is_float ? std::to_chars(buf, buf + sizeof(buf), static_cast<float>(v),
                               std::chars_format::scientific)
               : std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  // buf holds "[-]d[.ddd]e(+|-)dd[d]".
  const char* p = buf;
  char* o = out;
  if (*p == '-') *o++ = *p++;
  char digits[24];
  int count = 0;
  for (; *p != 'e'; ++p) {
    if (*p != '.') digits[count++] = *p;
  }
  if (count > precision) return false;
  ++p;
  const bool negative_exponent = *p == '-';
  ++p;
  int exponent = 0;
  for (; p < r.ptr; ++p) exponent = exponent * 10 + (*p - '0');
  if (negative_exponent) exponent = -exponent;

  if (exponent < -4 || exponent >= precision) {
    *o++ = digits[0];
    if (count > 1) {
      *o++ = '.';
      std::memcpy(o, digits + 1, count - 1);
      o += count - 1;
    }
    *o++ = 'e';
    *o++ = negative_exponent ? '-' : '+';
    const int e = negative_exponent ? -exponent : exponent;
    if (e >= 100) *o++ = static_cast<char>('0' + e / 100);
    *o++ = static_cast<char>('0' + (e / 10) % 10);
    *o++ = static_cast<char>('0' + e % 10);
  } else if (exponent >= 0) {
    const int integer_digits = exponent + 1;
    for (int i = 0; i < integer_digits; ++i) *o++ = i < count ? digits[i] : '0';
    if (count > integer_digits) {
      *o++ = '.';
      std::memcpy(o, digits + integer_digits, count - integer_digits);
      o += count - integer_digits;
    }
  } else {
    *o++ = '0';
    *o++ = '.';
    for (int i = -1; i > exponent; --i) *o++ = '0';
    std::memcpy(o, digits, count);
    o += count;
  }
  *length = o - out;
  return true;
}

void JsonWriter::Double(double v) {
  if (!std::isfinite(v)) {
    Raw(std::isnan(v) ? "\"NaN\"" : v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  Reserve(32);
  size_t n;
  // For normal numbers "%.15g" reads back exactly iff the shortest form has at most 15
  // digits, and then prints those digits; subnormals have fewer significant bits and take
  // the literal route.
  if (std::fabs(v) >= std::numeric_limits<double>::min() || v == 0) {
    if (FormatShortDecimal(v, 15, Data() + pos_, &n) ||
        FormatShortestAsG(v, 15, false, Data() + pos_, &n)) {
      pos_ += n;
      return;
    }
  } else {
    char* end =
        std::to_chars(Data() + pos_, Data() + pos_ + 32, v, std::chars_format::general, 15).ptr;
    double back;
    std::from_chars(Data() + pos_, end, back);
    if (back == v) {
      pos_ = end - Data();
      return;
    }
  }
  pos_ = std::to_chars(Data() + pos_, Data() + pos_ + 32, v, std::chars_format::general, 17).ptr -
         Data();
}

void JsonWriter::Float(float v) {
  if (!std::isfinite(v)) {
    Double(v);
    return;
  }
  Reserve(32);
  size_t n;
  // SimpleFtoa reads "%.6g" back with strtof, which reports a subnormal result as an error:
  // subnormals always get "%.9g".
  if ((std::fabs(v) >= std::numeric_limits<float>::min() || v == 0) &&
      FormatShortestAsG(v, 6, true, Data() + pos_, &n)) {
    pos_ += n;
    return;
  }
  pos_ = std::to_chars(Data() + pos_, Data() + pos_ + 32, v, std::chars_format::general, 9).ptr -
         Data();
}

void JsonWriter::Base64(std::string_view bytes) {
  const size_t n = bytes.size();
  Reserve((n + 2) / 3 * 4 + 2);
  char* out = Data() + pos_;
  *out++ = '"';
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out[0] = kBase64Standard[v >> 18];
    out[1] = kBase64Standard[(v >> 12) & 63];
    out[2] = kBase64Standard[(v >> 6) & 63];
    out[3] = kBase64Standard[v & 63];
    out += 4;
  }
  if (i < n) {
    const uint32_t v = (p[i] << 16) | (i + 1 < n ? p[i + 1] << 8 : 0);
    out[0] = kBase64Standard[v >> 18];
    out[1] = kBase64Standard[(v >> 12) & 63];
    out[2] = i + 1 < n ? kBase64Standard[(v >> 6) & 63] : '=';
    out[3] = '=';
    out += 4;
  }
  *out++ = '"';
  pos_ = out - Data();
}

size_t Base64DecodedSize(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  return text.size() / 4 * 3 + (text.size() % 4 == 0 ? 0 : text.size() % 4 - 1);
}

bool Base64DecodeTo(std::string_view text, char* out) {
  if (!StripPadding(&text)) return false;
  return DecodeWith(kUrlSafeTable, text, out) || DecodeWith(kStandardTable, text, out);
}

bool Base64Decode(std::string_view text, std::string* out) {
  const size_t start = out->size();
  out->resize(start + Base64DecodedSize(text));
  if (!Base64DecodeTo(text, &(*out)[start])) {
    out->resize(start);
    return false;
  }
  return true;
}

namespace {

// The length of the valid UTF-8 sequence at p (1 to 4), or 0 when there is none.
size_t Utf8SequenceAt(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = *p;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    return end - p >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
  }
  if (c >= 0xe0 && c <= 0xef) {
    if (end - p < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && p[1] < 0xa0) return 0;   // overlong
    if (c == 0xed && p[1] >= 0xa0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (end - p < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) {
      return 0;
    }
    if (c == 0xf0 && p[1] < 0x90) return 0;   // overlong
    if (c == 0xf4 && p[1] >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

size_t AsciiPrefixLength(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (end - p >= 8) {
    uint64_t chunk;
    std::memcpy(&chunk, p, 8);
    if (chunk & 0x8080808080808080ull) break;
    p += 8;
  }
  while (p < end && *p < 0x80) ++p;
  return static_cast<size_t>(p - reinterpret_cast<const unsigned char*>(s.data()));
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    p += AsciiPrefixLength(std::string_view(reinterpret_cast<const char*>(p), end - p));
    if (p == end) break;
    const size_t n = Utf8SequenceAt(p, end);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

std::string ToValidUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const size_t n = Utf8SequenceAt(p, end);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");  // U+FFFD
      ++p;
    } else {
      out.append(reinterpret_cast<const char*>(p), n);
      p += n;
    }
  }
  return out;
}

bool ParseTimestamp(std::string_view text, int64_t* seconds, int32_t* nanos) {
  const CText t(text);
  size_t i = 0;
  int year, month, day, hour, minute, second;
  if (!ParseTimeInt(t, &i, 4, 1, 9999, &year) || t[i++] != '-') return false;
  if (!ParseTimeInt(t, &i, 2, 1, 12, &month) || t[i++] != '-') return false;
  if (!ParseTimeInt(t, &i, 2, 1, 31, &day) || t[i++] != 'T') return false;
  if (!ParseTimeInt(t, &i, 2, 0, 23, &hour) || t[i++] != ':') return false;
  if (!ParseTimeInt(t, &i, 2, 0, 59, &minute) || t[i++] != ':') return false;
  if (!ParseTimeInt(t, &i, 2, 0, 59, &second)) return false;
  if (day > DaysInMonth(year, month)) return false;
  *seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  *nanos = 0;
  if (t[i] == '.') {
    ++i;
    if (!IsDigit(t[i])) return false;
    int32_t value = 0;
    int digits = 0;
    for (; IsDigit(t[i]); ++i, ++digits) {
      if (digits < 9) value = value * 10 + (t[i] - '0');
    }
    for (; digits < 9; ++digits) value *= 10;
    *nanos = value;
  }
  const char zone = t[i++];
  if (zone == '+' || zone == '-') {
    int64_t offset;
    if (!ParseOffset(t, &i, &offset)) return false;
    *seconds += zone == '+' ? -offset : offset;
  } else if (zone != 'Z') {
    return false;
  }
  return i == t.size();
}

size_t FormatTimestamp(int64_t seconds, int32_t nanos, char* out) {
  if (seconds < kTimestampMinSeconds || seconds > kTimestampMaxSeconds || nanos < 0 ||
      nanos >= kNanosPerSecond) {
    return 0;
  }
  int64_t days = seconds / 86400;
  int64_t rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  int64_t year;
  int month, day;
  CivilFromDays(days, &year, &month, &day);
  char* p = WritePadded(year, 4, out);
  *p++ = '-';
  p = WritePadded(month, 2, p);
  *p++ = '-';
  p = WritePadded(day, 2, p);
  *p++ = 'T';
  p = WritePadded(rest / 3600, 2, p);
  *p++ = ':';
  p = WritePadded(rest / 60 % 60, 2, p);
  *p++ = ':';
  p = WritePadded(rest % 60, 2, p);
  p = WriteNanos(nanos, p);
  *p++ = 'Z';
  return p - out;
}

bool ParseDuration(std::string_view text, int64_t* seconds, int32_t* nanos) {
  if (text.empty() || text.back() != 's') return false;
  text.remove_suffix(1);
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  const size_t dot = text.rfind('.');
  uint64_t whole;
  if (!ParseDurationSeconds(text.substr(0, dot), &whole)) return false;
  int32_t fraction = 0;
  if (dot != std::string_view::npos && !ParseDurationNanos(text.substr(dot + 1), &fraction)) {
    return false;
  }
  if (whole > static_cast<uint64_t>(kDurationMaxSeconds)) return false;
  *seconds = negative ? -static_cast<int64_t>(whole) : static_cast<int64_t>(whole);
  *nanos = negative ? -fraction : fraction;
  return true;
}

DurationFormat FormatDuration(int64_t seconds, int32_t nanos, char* out, size_t* size) {
  if (seconds > kDurationMaxSeconds || seconds < -kDurationMaxSeconds ||
      nanos <= -kNanosPerSecond || nanos >= kNanosPerSecond) {
    return DurationFormat::kOutOfRange;
  }
  if ((seconds < 0 && nanos > 0) || (seconds > 0 && nanos < 0)) {
    return DurationFormat::kSignMismatch;
  }
  char* p = out;
  if (seconds < 0 || nanos < 0) *p++ = '-';
  p = std::to_chars(p, p + 20, seconds < 0 ? -seconds : seconds).ptr;
  p = WriteNanos(nanos < 0 ? -nanos : nanos, p);
  *p++ = 's';
  *size = p - out;
  return DurationFormat::kOk;
}

bool ParseFieldMask(std::string_view text, std::vector<std::string>* paths) {
  // protobuf's DecodeCompactFieldMaskPaths: "a(b,c)" is "a.b,a.c"; map keys are ["..."].
  std::vector<std::string> prefixes;
  const size_t length = text.size();
  size_t previous = 0;
  bool in_map_key = false;
  bool escaping = false;
  for (size_t i = 0; i <= length; ++i) {
    if (i != length) {
      const char c = text[i];
      if (in_map_key) {
        if (escaping) {
          escaping = false;
          continue;
        }
        if (c == '\\') {
          escaping = true;
          continue;
        }
        if (c != '"') continue;
        if (i + 1 >= length || text[i + 1] != ']') return false;
        in_map_key = false;
        ++i;
        if (i + 1 < length && text[i + 1] != '.' && text[i + 1] != ',' && text[i + 1] != ')' &&
            text[i + 1] != '(') {
          return false;
        }
        continue;
      }
      if (c == '[') {
        if (i + 1 >= length || text[i + 1] != '"') return false;
        in_map_key = true;
        ++i;
        continue;
      }
      if (c != ',' && c != ')' && c != '(') continue;
    }
    const std::string_view segment = text.substr(previous, i - previous);
    const std::string prefix = prefixes.empty() ? std::string() : prefixes.back();
    if (i < length && text[i] == '(') {
      prefixes.push_back(JoinPrefix(prefix, segment));
    } else if (!segment.empty()) {
      std::string path;
      ConvertPath(JoinPrefix(prefix, segment), AppendSnakeCase, &path);
      paths->push_back(std::move(path));
    }
    if (i < length && text[i] == ')') {
      if (prefixes.empty()) return false;
      prefixes.pop_back();
    }
    previous = i + 1;
  }
  return !in_map_key && prefixes.empty();
}

void AppendFieldMaskPathAsJson(std::string_view path, std::string* out) {
  ConvertPath(path, AppendCamelCase, out);
}

std::string ToCamelCase(std::string_view input) {
  std::string result;
  AppendCamelCase(input, &result);
  return result;
}

std::string ToSnakeCase(std::string_view input) {
  std::string result;
  AppendSnakeCase(input, &result);
  return result;
}

void AppendCamelCase(std::string_view input, std::string* out) {
  bool capitalize_next = false;
  bool was_cap = true;
  bool is_cap = false;
  bool first_word = true;
  const size_t start = out->size();
  for (size_t i = 0; i < input.size(); ++i, was_cap = is_cap) {
    const char c = input[i];
    is_cap = IsUpper(c);
    if (c == '_') {
      capitalize_next = true;
      if (out->size() != start) first_word = false;
      continue;
    }
    if (first_word) {
      // The first word ends at a capital following a lowercase letter, or a capital followed
      // by a lowercase letter ("...aB...", "...ABc...").
      if (out->size() != start && is_cap &&
          (!was_cap || (i + 1 < input.size() && IsLower(input[i + 1])))) {
        first_word = false;
        out->push_back(c);
      } else {
        out->push_back(ToLower(c));
      }
    } else if (capitalize_next) {
      capitalize_next = false;
      out->push_back(IsLower(c) ? ToUpper(c) : c);
    } else {
      out->push_back(ToLower(c));
    }
  }
}

void AppendSnakeCase(std::string_view input, std::string* out) {
  bool was_not_underscore = false;
  bool was_not_cap = false;
  for (size_t i = 0; i < input.size(); ++i) {
    const char c = input[i];
    if (IsUpper(c)) {
      // "aB" -> "a_b" and "ABc" -> "a_bc"; a leading or trailing capital gets no '_'.
      if (was_not_underscore && (was_not_cap || (i + 1 < input.size() && IsLower(input[i + 1])))) {
        out->push_back('_');
      }
      out->push_back(ToLower(c));
      was_not_underscore = true;
      was_not_cap = false;
    } else {
      out->push_back(c);
      was_not_underscore = c != '_';
      was_not_cap = true;
    }
  }
}

namespace {

// One or more decimal digits, at most `max`.
bool ParseDigits(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t value = 0;
  for (char c : s) {
    if (!IsDigit(c)) return false;
    const uint64_t digit = c - '0';
    if (value > (max - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = value;
  return true;
}

}  // namespace

bool ParseIntString(std::string_view s, int64_t min, int64_t max, int64_t* out) {
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  const uint64_t limit =
      negative ? static_cast<uint64_t>(-(min + 1)) + 1 : static_cast<uint64_t>(max);
  uint64_t magnitude;
  if (!ParseDigits(s, limit, &magnitude)) return false;
  *out = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  return true;
}

bool ParseUintString(std::string_view s, uint64_t max, uint64_t* out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  return ParseDigits(s, max, out);
}

bool ParseDoubleString(std::string_view s, double* out) {
  if (s == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (s == "Infinity" || s == "-Infinity") {
    *out = s[0] == '-' ? -std::numeric_limits<double>::infinity()
                       : std::numeric_limits<double>::infinity();
    return true;
  }
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  // strtod's syntax, through a NUL-terminated copy as json_util reads it.
  const std::string copy(s);
  const char* start = copy.c_str();
  char* end = nullptr;
  const double value = std::strtod(start, &end);
  if (end == start || *start == '\0') return false;
  while (*end == ' ' || (*end >= '\t' && *end <= '\r')) ++end;
  if (*end != '\0' || !std::isfinite(value)) return false;
  *out = value;
  return true;
}

bool ParseFloatString(std::string_view s, float* out) {
  double value;
  if (!ParseDoubleString(s, &value)) return false;
  if (std::isfinite(value) && std::fabs(value) > std::numeric_limits<float>::max()) return false;
  *out = static_cast<float>(value);
  return true;
}

bool ParseBoolString(std::string_view s, bool* out) {
  if (s.size() > 5) return false;
  char lower[5];
  for (size_t i = 0; i < s.size(); ++i) lower[i] = ToLower(s[i]);
  const std::string_view l(lower, s.size());
  if (l == "true" || l == "t" || l == "yes" || l == "y" || l == "1") {
    *out = true;
    return true;
  }
  if (l == "false" || l == "f" || l == "no" || l == "n" || l == "0") {
    *out = false;
    return true;
  }
  return false;
}

}  // namespace bridge::transcode
