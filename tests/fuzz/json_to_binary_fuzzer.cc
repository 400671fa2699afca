// libFuzzer target: JSON -> protobuf, held against protobuf 3.21's JsonStringToMessage.
//
// On every input: no crash or sanitizer report; when both accept, equal messages, and the
// transcoder's JSON of the message under a mapping chosen by the input's length reads back to
// it; what the transcoder accepts, json_util accepts; what json_util accepts, the transcoder
// accepts, except for the documented differences (bridge/transcode/README.md): text that is not RFC
// 8259 JSON (json_util also reads single quotes, bare keys and other extensions), integer literals
// beyond 64 bits, and an empty key in an element of a repeated field.
//
// Input: an optional type selector '0'..'3' (see fuzz_types.h), then the JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bridge/transcode/json_transcoder.h"
#include "rapidjson/error/en.h"
#include "rapidjson/reader.h"
#include "tests/bridge/transcode/transcode_testing.h"
#include "tests/fuzz/fuzz_types.h"

namespace bridge::transcode::fuzz {
namespace {

// Reads numbers as text to spot integer literals that do not fit in 64 bits.
struct NumberScan : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, NumberScan> {
  bool big_integer = false;
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    std::string_view text(s, n);
    if (text.find_first_of(".eE") != std::string_view::npos) return true;
    if (!text.empty() && text.front() == '-') text.remove_prefix(1);
    // Above 18446744073709551615 or below -9223372036854775808.
    const bool negative = s[0] == '-';
    const std::string_view limit = negative ? "9223372036854775808" : "18446744073709551615";
    if (text.size() > limit.size() || (text.size() == limit.size() && text > limit)) {
      big_integer = true;
    }
    return true;
  }
  bool Default() { return true; }
};

enum class JsonKind { kStrict, kStrictWithBigIntegers, kNotStrict };

// Whether `text` is RFC 8259 JSON, by RapidJSON (iterative, so depth cannot overflow it).
JsonKind Classify(std::string_view text) {
  rapidjson::Reader reader;
  NumberScan scan;
  std::string copy(text);
  rapidjson::StringStream stream(copy.c_str());
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag |
                              rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseNumbersAsStringsFlag;
  if (copy.size() != std::string_view(copy.c_str()).size()) return JsonKind::kNotStrict;  // NUL
  if (!reader.Parse<kFlags>(stream, scan)) return JsonKind::kNotStrict;
  return scan.big_integer ? JsonKind::kStrictWithBigIntegers : JsonKind::kStrict;
}

bool IsBlankOrNull(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return true;
  const size_t last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1) == "null";
}

std::string Text(absl::string_view s) { return std::string(s.data(), s.size()); }

// A mapping chosen by `n` (the input's length), so the inputs go through all eight.
JsonMapping MappingFor(size_t n) {
  JsonMapping mapping;
  mapping.proto_names = (n & 1) != 0;
  mapping.enums_as_numbers = (n & 2) != 0;
  mapping.emit_defaults = (n & 4) != 0;
  return mapping;
}

bool IsProto2(const google::protobuf::Message& m) {
  return m.GetDescriptor()->file()->syntax() == google::protobuf::FileDescriptor::SYNTAX_PROTO2;
}

// `bytes`, which the transcoder wrote and json_util read as `*message`, printed by the
// transcoder under `mapping` and read back: the message json_util's text under the same
// mapping reads back to (the message itself, but where JSON cannot hold it: a FieldMask path
// without a lowerCamelCase form, -0.0 in a field without presence). When the transcoder
// cannot print it (nesting beyond what it prints), json_util cannot either.
void ExpectRoundTrip(const JsonTranscoder& transcoder, testing::Oracle* oracle,
                     const google::protobuf::Descriptor* type, const std::string& bytes,
                     google::protobuf::Message* message, JsonMapping mapping) {
  // Printed proto2 defaults read back as set fields: no emit_defaults where there are some.
  if (mapping.emit_defaults && testing::ContainsMessage(message, oracle, IsProto2)) {
    mapping.emit_defaults = false;
  }
  const absl::StatusOr<std::string> printed = transcoder.BinaryToJson(type, bytes, mapping);
  auto theirs = oracle->PrintJson(*message, mapping.emit_defaults, mapping.proto_names,
                                  mapping.enums_as_numbers);
  if (!printed.ok()) {
    if (theirs.ok()) {
      Mismatch("json_util prints what the transcoder refuses to print", bytes,
               Text(printed.status().message()), *theirs);
    }
    return;
  }
  const absl::StatusOr<std::string> again = transcoder.JsonToBinary(type, *printed);
  if (!again.ok()) {
    Mismatch("the transcoder cannot read its own JSON", *printed, Text(again.status().message()),
             "");
  }
  auto read = oracle->ParseBinary(type, *again);
  if (!read.ok()) Mismatch("the transcoder wrote bytes that do not parse", *printed, "", "");
  // Where json_util cannot print the message or read its own text back, it has no verdict.
  if (!theirs.ok()) return;
  auto reference = oracle->ParseJson(type, *theirs);
  if (!reference.ok()) return;
  std::string difference;
  if (!testing::MessagesEqual(**reference, **read, &difference)) {
    Mismatch("the transcoder's JSON reads back to another message: " + difference, *printed,
             (*read)->ShortDebugString(), (*reference)->ShortDebugString());
  }
}

}  // namespace
}  // namespace bridge::transcode::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bridge::transcode;
  using namespace bridge::transcode::fuzz;
  static auto* context = new FuzzContext(/*generated_messages=*/false);
  JsonTranscoder* transcoder = &context->transcoder;
  testing::Oracle* oracle = &context->oracle;

  std::string_view json;
  const google::protobuf::Descriptor* type = SplitInput(data, size, false, &json);
  const absl::StatusOr<std::string> ours = transcoder->JsonToBinary(type, json);
  // The bridge reads "" and null as the default message; json_util refuses them.
  if (IsBlankOrNull(json)) return 0;
  auto theirs = oracle->ParseJson(type, json);
  // json_util fails a CHECK (an Any holding a well-known type given "value" twice): no verdict.
  if (theirs.status().code() == absl::StatusCode::kInternal) return 0;

  if (ours.ok() && theirs.ok()) {
    auto parsed = oracle->ParseBinary(type, *ours);
    if (!parsed.ok()) Mismatch("the transcoder wrote bytes that do not parse", json, "", "");
    std::string difference;
    if (!testing::MessagesEqual(**theirs, **parsed, &difference)) {
      Mismatch("different messages: " + difference, json, (*parsed)->ShortDebugString(),
               (*theirs)->ShortDebugString());
    }
    ExpectRoundTrip(*transcoder, oracle, type, *ours, theirs->get(), MappingFor(json.size()));
    return 0;
  }
  if (ours.ok()) {
    Mismatch("the transcoder accepts what json_util refuses", json, "ok",
             Text(theirs.status().message()));
  }
  if (theirs.ok()) {
    const std::string why = Text(ours.status().message());
    const bool not_json = why.find(": invalid JSON: ") != std::string::npos;
    const JsonKind kind = Classify(json);
    if (not_json && kind != JsonKind::kStrict) return 0;  // documented difference
    // json_util ignores an empty key (and what it holds) in an element of a repeated field.
    if (why.find(".: unknown field") != std::string::npos) return 0;
    Mismatch("json_util accepts what the transcoder refuses", json, why, "ok");
  }
  return 0;
}
