// JSON text -> protobuf wire bytes for a message type, by its plan, without building a
// message: the JSON is parsed with simdjson and its tree is written straight out as wire
// bytes. Accepts what protobuf 3.21's JsonStringToMessage accepts and produces a message equal
// to what it produces (see bridge/transcode/README.md for the few deliberate differences).
// Thread-safe: each thread parses with its own simdjson parser.
#ifndef BRIDGE_TRANSCODE_JSON_TO_WIRE_H_
#define BRIDGE_TRANSCODE_JSON_TO_WIRE_H_

#include <string>
#include <string_view>

#include "bridge/transcode/message_plan.h"
#include "bridge/transcode/transcode_failure.h"

namespace bridge::transcode {

struct JsonToWireOptions {
  // Unknown fields (and, like json_util, unknown enum names) are skipped instead of refused.
  bool ignore_unknown_fields = false;
};

// Writes the wire form of `json`, a value of message `plan`, to `out` (replacing its
// contents). JSON null is the default message. On failure returns false and fills `failure`.
bool JsonToWire(PlanCache* cache, const MessagePlan& plan, std::string_view json,
                const JsonToWireOptions& options, std::string* out, TranscodeFailure* failure);

}  // namespace bridge::transcode

#endif  // BRIDGE_TRANSCODE_JSON_TO_WIRE_H_
