// The frame decoder (bridge/protocol/frame_codec.h) on any bytes, as a JSON text frame and as
// a binary frame: no crash or sanitizer report, and whatever decodes encodes to text that
// decodes again to the same frame (JSON: the same text; binary: an equal message).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bridge/protocol/frame_codec.h"
#include "google/protobuf/util/message_differencer.h"

namespace {

using ::bridge::protocol::DecodeBinaryFrame;
using ::bridge::protocol::DecodeJsonFrame;
using ::bridge::protocol::EncodeBinaryFrame;
using ::bridge::protocol::EncodeJsonFrame;
using ::bridge::v1::Frame;

[[noreturn]] void Mismatch(const char* what, const std::string& first, const std::string& again) {
  std::fprintf(stderr, "MISMATCH %s\nfirst: %s\nagain: %s\n", what, first.c_str(), again.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Frame frame;
  if (DecodeJsonFrame(input, &frame).ok()) {
    const std::string first = EncodeJsonFrame(frame);
    Frame again;
    if (!DecodeJsonFrame(first, &again).ok())
      Mismatch("json: the encoding does not decode", first, "");
    const std::string second = EncodeJsonFrame(again);
    if (second != first) Mismatch("json: the encoding changed", first, second);
  }
  if (DecodeBinaryFrame(input, &frame).ok()) {
    const std::string first = EncodeBinaryFrame(frame);
    Frame again;
    if (!DecodeBinaryFrame(first, &again).ok())
      Mismatch("binary: the encoding does not decode", "", "");
    // Compared as messages: protobuf writes map entries in no fixed order, so the bytes of two
    // equal frames with metadata may differ.
    if (!google::protobuf::util::MessageDifferencer::Equals(frame, again)) {
      Mismatch("binary: the frame changed", frame.DebugString(), again.DebugString());
    }
  }
  return 0;
}
