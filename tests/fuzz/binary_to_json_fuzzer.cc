// libFuzzer target: protobuf -> JSON, held against protobuf 3.21's ParseFromString and
// MessageToJsonString.
//
// On every input: no crash or sanitizer report; ValidateBinary accepts exactly what
// ParseFromString accepts, and BinaryToJson nothing it refuses; and when both print, the texts
// are equal or the transcoder's reads back with json_util to the message json_util's reads
// back to. Where
// json_util prints and the transcoder refuses, the refusal is one of the documented
// differences (bridge/transcode/README.md).
//
// Input: an optional type selector '0'..'4' (see fuzz_types.h), then wire bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/transcode/json_transcoder.h"
#include "tests/bridge/transcode/transcode_testing.h"
#include "tests/fuzz/fuzz_types.h"

namespace bridge::transcode::fuzz {
namespace {

std::string Text(absl::string_view s) { return std::string(s.data(), s.size()); }

// Refusals where json_util prints something for the same bytes (bridge/transcode/README.md).
bool DocumentedRefusal(const std::string& why) {
  for (const char* reason : {
           "Duration seconds and nanos have different signs",  // json_util prints garbage
           "string field holds invalid UTF-8",  // inside an Any, which json_util never checks
           "truncated", "invalid wire type", "field number 0", "end-group tag",
           "group without an end-group tag", "malformed packed field",  // ... ditto
           "messages nested too deeply",  // inside an Any, which restarts json_util's count
       }) {
    if (why.find(reason) != std::string::npos) return true;
  }
  return false;
}

bool IsAny(const google::protobuf::Message& m) {
  return m.GetDescriptor()->full_name() == "google.protobuf.Any";
}

// A wrapper (Int32Value, ...) that carries unknown fields. json_util reads a wrapper's first
// field whatever its number and wire type, and refuses the message when more follows; the
// transcoder reads the value field and ignores the rest, as protobuf does.
bool IsWrapperWithUnknownFields(const google::protobuf::Message& m) {
  const std::string& name = m.GetDescriptor()->full_name();
  return name.size() > 5 && name.compare(name.size() - 5, 5, "Value") == 0 &&
         name.rfind("google.protobuf.", 0) == 0 && name != "google.protobuf.Value" &&
         name != "google.protobuf.ListValue" && !m.GetReflection()->GetUnknownFields(m).empty();
}

// A proto2 message, whose defaults json_util prints wrongly with always_print_primitive_fields
// (bridge/transcode/README.md).
bool IsProto2(const google::protobuf::Message& m) {
  return m.GetDescriptor()->file()->syntax() == google::protobuf::FileDescriptor::SYNTAX_PROTO2;
}

// Replaces the bytes inside every Any with those of the message they parse to. json_util
// prints an Any's bytes as they come (fields in wire order, a repeated key twice, a map entry
// without a value left out); the transcoder prints the message they parse to, like the rest.
void NormalizeAnys(google::protobuf::Message* message, testing::Oracle* oracle, int depth = 0) {
  if (depth > 200) return;
  if (IsAny(*message)) {
    auto content = testing::AnyContent(*message, oracle);
    if (content == nullptr) return;
    NormalizeAnys(content.get(), oracle, depth + 1);
    message->GetReflection()->SetString(message, message->GetDescriptor()->FindFieldByNumber(2),
                                        content->SerializeAsString());
    return;
  }
  testing::ForEachSubmessage(message, [&](const auto*, google::protobuf::Message* child) {
    NormalizeAnys(child, oracle, depth + 1);
    return true;
  });
}

}  // namespace
}  // namespace bridge::transcode::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bridge::transcode;
  using namespace bridge::transcode::fuzz;
  static auto* context = new FuzzContext(/*generated_messages=*/true);
  JsonTranscoder* transcoder = &context->transcoder;
  testing::Oracle* oracle = &context->oracle;

  std::string_view bytes;
  const google::protobuf::Descriptor* type = SplitInput(data, size, true, &bytes);
  auto parsed = oracle->ParseBinary(type, bytes);
  const absl::Status valid = transcoder->ValidateBinary(type, bytes);
  if (parsed.ok() != valid.ok()) {
    Mismatch("ValidateBinary and ParseFromString disagree", bytes, Text(valid.message()),
             parsed.ok() ? "ok" : "refused");
  }
  // The mapping comes from the input's length, so every input is also printed under each
  // option, against json_util with the same options; emit_defaults only where no proto2
  // message is printed, since json_util mishandles their defaults.
  JsonMapping mapping;
  mapping.proto_names = (bytes.size() & 1) != 0;
  mapping.enums_as_numbers = (bytes.size() & 2) != 0;
  mapping.emit_defaults =
      (bytes.size() & 4) != 0 &&
      !(parsed.ok() && testing::ContainsMessage(parsed->get(), oracle, IsProto2));
  const absl::StatusOr<std::string> ours = transcoder->BinaryToJson(type, bytes, mapping);
  if (!parsed.ok()) {
    if (ours.ok()) Mismatch("BinaryToJson accepts what ParseFromString refuses", bytes, *ours, "");
    return 0;
  }
  // json_util neither reads nor prints proto2 groups; the comparison leaves them out.
  if (type == bridge::transcode::test2::Legacy::descriptor()) return 0;

  if (!ours.ok()) {
    // Bytes inside an Any are not parsed by ParseFromString; on malformed ones json_util may
    // print garbage or never return (a packed field cut short), so it is not asked.
    if (DocumentedRefusal(Text(ours.status().message()))) return 0;
    auto theirs = oracle->PrintJson(**parsed, mapping.emit_defaults, mapping.proto_names,
                                    mapping.enums_as_numbers);
    if (theirs.ok()) {
      Mismatch("json_util prints what the transcoder refuses", bytes, Text(ours.status().message()),
               *theirs);
    }
    return 0;
  }
  if (testing::ContainsMessage(parsed->get(), oracle, IsWrapperWithUnknownFields)) return 0;
  NormalizeAnys(parsed->get(), oracle);
  auto theirs = oracle->PrintJson(**parsed, mapping.emit_defaults, mapping.proto_names,
                                  mapping.enums_as_numbers);
  if (!theirs.ok()) {
    Mismatch("the transcoder prints what json_util refuses", bytes, *ours,
             Text(theirs.status().message()));
  }
  if (*ours == *theirs) return 0;
  auto mine = oracle->ParseJson(type, *ours);
  auto reference = oracle->ParseJson(type, *theirs);
  // json_util's own text may not read back (a repeated map key printed twice, a FieldMask
  // path that is not a JSON path); the transcoder's reads back whenever json_util's does.
  if (!reference.ok()) return 0;
  if (!mine.ok()) Mismatch("json_util cannot read the transcoder's JSON", bytes, *ours, *theirs);
  std::string difference;
  if (!testing::MessagesEqual(**mine, **reference, &difference)) {
    Mismatch("different JSON: " + difference, bytes, *ours, *theirs);
  }
  return 0;
}
