// JSON <-> protobuf wire bytes for any message type of a DescriptorRegistry, by the canonical
// protobuf JSON mapping (json_name or proto field names, int64 as strings, enums by name,
// bytes in base64, NaN/Infinity, maps, oneofs, well-known types, Any through the pool), with
// protobuf 3.21's json_util as the reference for every edge case.
//
// No message objects on the way: each message type gets a plan (message_plan.h), built on
// first use and cached, and the transcoder walks JSON (parsed with simdjson) or wire bytes
// with it directly. Errors are InvalidArgument and name the path of the offending field
// ("items[2].price: ...").
//
// Thread-safe: one instance serves all of the bridge's io threads.
#ifndef BRIDGE_TRANSCODE_JSON_TRANSCODER_H_
#define BRIDGE_TRANSCODE_JSON_TRANSCODER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bridge/transcode/descriptor_registry.h"
#include "bridge/transcode/message_plan.h"

namespace bridge::transcode {

// How messages are written as JSON, as protobuf's JsonPrintOptions, Envoy's gRPC-JSON
// transcoder and grpc-gateway name the choices. The default is protobuf's canonical mapping.
// Reading accepts every spelling whatever the mapping (either field name, enum names or
// numbers), as protobuf's parser does.
struct JsonMapping {
  bool emit_defaults = false;     // fields without presence are written at their default value
  bool proto_names = false;       // field names as in the .proto (snake_case), not lowerCamelCase
  bool enums_as_numbers = false;  // enum values as numbers, not names
  bool operator==(const JsonMapping& o) const {
    return emit_defaults == o.emit_defaults && proto_names == o.proto_names &&
           enums_as_numbers == o.enums_as_numbers;
  }
};

// The JSON mapping of each route (config `routes[].json`), by service; "*" for every service
// without a rule of its own. Calls use it with the session's choices where the rule lets them;
// channels fed by a method use the rule alone (their publications are shared by sessions).
struct JsonRule {
  JsonMapping mapping;
  bool session_may_choose = false;
};
using JsonRules = absl::flat_hash_map<std::string, JsonRule>;

// The rule for `service`: its own, else "*"'s; nullptr: the canonical mapping.
inline const JsonRule* FindJsonRule(const JsonRules& rules, const std::string& service) {
  if (rules.empty()) return nullptr;
  auto rule = rules.find(service);
  if (rule == rules.end()) rule = rules.find("*");
  return rule == rules.end() ? nullptr : &rule->second;
}

struct TranscodeOptions {
  // Unknown JSON fields (and unknown enum names) are ignored instead of refused.
  bool ignore_unknown_fields = false;
  // JSON output includes fields without presence that hold their default value.
  bool always_print_primitive_fields = false;
};

class JsonTranscoder {
 public:
  // Message types come from `registry` (or any pool: the transcoder resolves Any types in the
  // pool of the type being transcoded).
  JsonTranscoder(const DescriptorRegistry* registry, TranscodeOptions options);
  ~JsonTranscoder();

  // `json` is a JSON value of message `type`, usually an object (empty or "null": the default
  // message).
  absl::StatusOr<std::string> JsonToBinary(const google::protobuf::Descriptor* type,
                                           std::string_view json) const;
  // Wire bytes of message `type` to JSON (lowerCamelCase names, defaults omitted unless
  // always_print_primitive_fields).
  absl::StatusOr<std::string> BinaryToJson(const google::protobuf::Descriptor* type,
                                           std::string_view bytes) const;
  // The same by `mapping`.
  absl::StatusOr<std::string> BinaryToJson(const google::protobuf::Descriptor* type,
                                           std::string_view bytes,
                                           const JsonMapping& mapping) const;
  // OK when `bytes` parse as message `type` (what protobuf's ParseFromString accepts).
  absl::Status ValidateBinary(const google::protobuf::Descriptor* type,
                              std::string_view bytes) const;

 private:
  const TranscodeOptions options_;
  std::unique_ptr<PlanCache> plans_;
};

}  // namespace bridge::transcode

#endif  // BRIDGE_TRANSCODE_JSON_TRANSCODER_H_
