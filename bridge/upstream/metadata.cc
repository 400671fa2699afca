#include "bridge/upstream/metadata.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bridge/common/strings.h"

namespace bridge::upstream {

bool IsLegalMetadataKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    const bool legal =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!legal) return false;
  }
  return true;
}

bool IsBinaryMetadataKey(std::string_view key) {
  return key.size() > 4 && key.substr(key.size() - 4) == "-bin";
}

bool IsLegalMetadataValue(std::string_view key, std::string_view value) {
  if (IsBinaryMetadataKey(key)) return true;
  for (char c : value) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b > 0x7e) return false;
  }
  return true;
}

bool IsReservedMetadataKey(std::string_view key) {
  return absl::StartsWith(Sv(key), "grpc-") || absl::StartsWith(Sv(key), "x-bridge-") ||
         key == "te" || key == "content-type" || key == "user-agent" || key == "host";
}

std::string PercentEncodeMetadataValue(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b <= 0x7e && b != '%') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    }
  }
  return out;
}

size_t MetadataEntrySize(std::string_view key, std::string_view value) {
  const size_t value_size = IsBinaryMetadataKey(key) ? (value.size() * 4 + 2) / 3 : value.size();
  return key.size() + value_size + 32;
}

size_t MetadataListSize(const Metadata& metadata) {
  size_t size = 0;
  for (const auto& [key, value] : metadata) size += MetadataEntrySize(key, value);
  return size;
}

absl::Status CheckMetadata(const Metadata& metadata) {
  for (const auto& [key, value] : metadata) {
    if (!IsLegalMetadataKey(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata key \"", absl::CHexEscape(key), "\" is not a legal gRPC key"));
    }
    if (!IsLegalMetadataValue(key, value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the value of metadata key \"", key, "\" is not printable ASCII, as gRPC requires"));
    }
  }
  return absl::OkStatus();
}

}  // namespace bridge::upstream
