// Protobuf wire bytes -> JSON text for a message type, by its plan, without building a
// message: each message's fields are indexed in one pass over its bytes and written out in
// field-number order with protobuf's semantics (last value wins, repeated embedded messages
// merge, the last member of a oneof wins, proto3 defaults omitted). The output equals protobuf
// 3.21's MessageToJsonString of the parsed message; ValidateWire accepts exactly what its
// ParseFromString accepts. Thread-safe: scratch space is per thread.
#ifndef BRIDGE_TRANSCODE_WIRE_TO_JSON_H_
#define BRIDGE_TRANSCODE_WIRE_TO_JSON_H_

#include <string>
#include <string_view>

#include "bridge/transcode/message_plan.h"
#include "bridge/transcode/transcode_failure.h"

namespace bridge::transcode {

struct WireToJsonOptions {
  // Also print fields without presence that hold their default value (0, "", [], {}), like
  // json_util's option of the same name.
  bool always_print_primitive_fields = false;
  // Field names as in the .proto (json_util's preserve_proto_field_names).
  bool proto_names = false;
  // Enum values as numbers (json_util's always_print_enums_as_ints).
  bool enums_as_numbers = false;
};

// Writes the JSON form of `bytes`, a serialized message of type `plan`, to `out` (replacing
// its contents). On failure returns false and fills `failure`.
bool WireToJson(PlanCache* cache, const MessagePlan& plan, std::string_view bytes,
                const WireToJsonOptions& options, std::string* out, TranscodeFailure* failure);

// Checks that `bytes` parse as a message of type `plan`.
bool ValidateWire(const MessagePlan& plan, std::string_view bytes, TranscodeFailure* failure);

}  // namespace bridge::transcode

#endif  // BRIDGE_TRANSCODE_WIRE_TO_JSON_H_
