// JSON <-> protobuf wire bytes for any message type of a DescriptorRegistry, by the canonical
// protobuf JSON mapping (int64 as strings, enums by name, bytes in base64, well-known types).
// This one uses protobuf's own json_util; thread-safe.
#ifndef BRIDGE_TRANSCODE_JSON_TRANSCODER_H_
#define BRIDGE_TRANSCODE_JSON_TRANSCODER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "bridge/transcode/descriptor_registry.h"
#include "google/protobuf/util/type_resolver.h"

namespace bridge::transcode {

struct TranscodeOptions {
  // Unknown JSON fields are ignored instead of refused.
  bool ignore_unknown_fields = false;
};

class JsonTranscoder {
 public:
  JsonTranscoder(const DescriptorRegistry* registry, TranscodeOptions options);
  ~JsonTranscoder();

  // `json` is a JSON object of message `type` (empty or "null": the default message). Errors
  // are InvalidArgument and name the offending field.
  absl::StatusOr<std::string> JsonToBinary(const google::protobuf::Descriptor* type,
                                           std::string_view json) const;
  // Wire bytes of message `type` to JSON (lowerCamelCase, defaults omitted).
  absl::StatusOr<std::string> BinaryToJson(const google::protobuf::Descriptor* type,
                                           std::string_view bytes) const;

 private:
  const TranscodeOptions options_;
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver_;
};

}  // namespace bridge::transcode

#endif  // BRIDGE_TRANSCODE_JSON_TRANSCODER_H_
