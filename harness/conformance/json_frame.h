// A server frame of a JSON session, parsed on its own (rapidjson) rather than with the
// bridge's codec, so the suite judges a server by the wire text alone. Any thread; a
// JsonFrame is immutable once parsed.
#ifndef HARNESS_CONFORMANCE_JSON_FRAME_H_
#define HARNESS_CONFORMANCE_JSON_FRAME_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "rapidjson/document.h"

namespace harness::conformance {

class JsonFrame {
 public:
  // A JSON object, or an error naming what the text is instead.
  static absl::StatusOr<JsonFrame> Parse(std::string text);

  const std::string& text() const { return text_; }
  // The "type" member, or "" when it is absent or not a string.
  std::string type() const;
  // The value at a dotted path of object members ("status.code"), or nullptr.
  const rapidjson::Value* Get(std::string_view path) const;
  bool Has(std::string_view path) const { return Get(path) != nullptr; }
  std::optional<std::string> String(std::string_view path) const;
  // A JSON integer, or a string holding one (the protobuf JSON mapping writes 64-bit
  // integers as strings).
  std::optional<int64_t> Int(std::string_view path) const;
  std::optional<bool> Bool(std::string_view path) const;

 private:
  JsonFrame(std::string text, std::shared_ptr<rapidjson::Document> doc)
      : text_(std::move(text)), doc_(std::move(doc)) {}

  std::string text_;
  std::shared_ptr<rapidjson::Document> doc_;
};

}  // namespace harness::conformance

#endif  // HARNESS_CONFORMANCE_JSON_FRAME_H_
