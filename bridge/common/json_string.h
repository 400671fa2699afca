// The JSON string literal of the bridge's own text: frames and log lines.
//
// Payloads are the transcoder's (bridge/transcode/json_text.h, JsonWriter::String), which
// writes what protobuf's json_util writes byte for byte ('<', '>' and some invisible code
// points escaped too, bytes that are not UTF-8 dropped), so that transcoded payloads match
// protobuf's; the bridge's own text needs only JSON's rules. Any thread.
#ifndef BRIDGE_COMMON_JSON_STRING_H_
#define BRIDGE_COMMON_JSON_STRING_H_

#include <string>
#include <string_view>

namespace bridge {

// Appends `s` quoted, with '"', '\\' and the control characters below 0x20 escaped (\n, \r,
// \t, \b, \f, else \u00XX); every other byte, UTF-8 included, passes through.
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace bridge

#endif  // BRIDGE_COMMON_JSON_STRING_H_
