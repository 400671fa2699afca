// Encoding and decoding of protocol frames (proto/bridge/v1/frame.proto), in both encodings:
//
//   JSON   (subprotocol bridge.v1.json, text frames): {"type":"connect","clientId":"c-1",...}
//   binary (subprotocol bridge.v1.proto, binary frames): one serialized bridge.v1.Frame
//
// JSON follows the protobuf JSON mapping for field names (lowerCamelCase; original names are
// accepted too) with the envelope choices documented in frame.proto. Fields marked
// (bridge.v1.raw_json) keep the JSON text of their value, so payloads reach the transcoder
// untouched. Unknown fields are ignored.
//
// Decoding errors are absl::InvalidArgumentError with a message fit for an `error` frame; the
// JSON path of the offending field, when there is one, rides along as a payload (ErrorField).
// Functions are thread-safe; the JSON parser is per thread.
#ifndef BRIDGE_PROTOCOL_FRAME_CODEC_H_
#define BRIDGE_PROTOCOL_FRAME_CODEC_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "proto/bridge/v1/frame.pb.h"

namespace bridge::protocol {

using ::bridge::v1::Frame;

enum class Encoding {
  kJson,    // bridge.v1.json
  kBinary,  // bridge.v1.proto
};

inline constexpr std::string_view kJsonSubprotocol = "bridge.v1.json";
inline constexpr std::string_view kBinarySubprotocol = "bridge.v1.proto";

// The longest clientId a `connect` may carry, in bytes (docs/protocol.md, "connect").
inline constexpr size_t kMaxClientIdBytes = 256;
// The metadata keys of W3C trace context, in a message's metadata or the upgrade's headers
// (docs/protocol.md, "Trace context").
inline constexpr std::string_view kTraceParentKey = "traceparent";
inline constexpr std::string_view kTraceStateKey = "tracestate";

// Why a frame was refused; each is counted separately.
enum class DecodeFailure {
  kNone,
  kInvalidJson,   // not JSON at all
  kNotObject,     // JSON, but not an object
  kMissingType,   // no "type" (or, in binary, no frame kind set)
  kUnknownType,   // a "type" the protocol does not have
  kBadField,      // a field of the wrong JSON type or out of range
  kInvalidProto,  // binary frame that is not a serialized Frame
};
inline constexpr int kDecodeFailureCount = 7;
std::string_view DecodeFailureName(DecodeFailure failure);

// The result of decoding one frame.
struct DecodeError {
  DecodeFailure failure = DecodeFailure::kNone;
  std::string message;  // for the error frame
  std::string field;    // JSON path of the offending field ("resume.lastSeq"), or empty
  bool ok() const { return failure == DecodeFailure::kNone; }
};

// Decodes one JSON text frame into `frame` (cleared first).
DecodeError DecodeJsonFrame(std::string_view text, Frame* frame);

// Decodes one binary frame into `frame` (cleared first).
DecodeError DecodeBinaryFrame(std::string_view bytes, Frame* frame);

// Encodes `frame` as JSON text. Raw-JSON fields are written verbatim (they must hold JSON).
std::string EncodeJsonFrame(const Frame& frame);
void AppendJsonFrame(const Frame& frame, std::string* out);

// Encodes `frame` as a serialized Frame.
std::string EncodeBinaryFrame(const Frame& frame);

inline DecodeError DecodeFrame(Encoding encoding, std::string_view data, Frame* frame) {
  return encoding == Encoding::kJson ? DecodeJsonFrame(data, frame)
                                     : DecodeBinaryFrame(data, frame);
}
inline std::string EncodeFrame(Encoding encoding, const Frame& frame) {
  return encoding == Encoding::kJson ? EncodeJsonFrame(frame) : EncodeBinaryFrame(frame);
}

// One `batch` frame holding `frames`, each already encoded in `encoding` (as EncodeFrame wrote
// it): the same bytes as encoding a Frame whose batch holds them, without decoding them again.
std::string EncodeBatch(Encoding encoding, const std::vector<std::string>& frames);

// `unsequenced`, a frame EncodeFrame wrote without a seq, with `seq` added: in JSON the very
// text EncodeFrame writes for the frame with that seq (seq is its last member); in binary the
// field appended, which protobuf parses as the same frame. So one encoding of a publication
// serves every session that delivers it, each adding its own seq.
std::string WithSeq(Encoding encoding, std::string_view unsequenced, uint64_t seq);

// The protocol's name of the kind of `frame` ("connect_confirm"), or "" when none is set.
std::string_view FrameTypeName(const Frame& frame);

// The messageId of a client frame about a call (message, stream_send, stream_end, cancel), or ""
// for any other frame.
std::string_view MessageIdOf(const Frame& frame);

}  // namespace bridge::protocol

#endif  // BRIDGE_PROTOCOL_FRAME_CODEC_H_
