#include "bridge/transcode/json_transcoder.h"

#include "absl/strings/str_cat.h"
#include "bridge/transcode/json_to_wire.h"
#include "bridge/transcode/transcode_failure.h"
#include "bridge/transcode/wire_to_json.h"

namespace bridge::transcode {
namespace {

bool IsBlank(std::string_view json) {
  for (char c : json) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

absl::Status Invalid(std::string_view what, const google::protobuf::Descriptor* type,
                     const TranscodeFailure& failure) {
  return absl::InvalidArgumentError(absl::StrCat(absl::string_view(what.data(), what.size()),
                                                 type->full_name(), ": ", failure.Message()));
}

}  // namespace

JsonTranscoder::JsonTranscoder(const DescriptorRegistry* /*registry*/, TranscodeOptions options)
    : options_(options), plans_(std::make_unique<PlanCache>()) {}

JsonTranscoder::~JsonTranscoder() = default;

absl::StatusOr<std::string> JsonTranscoder::JsonToBinary(const google::protobuf::Descriptor* type,
                                                         std::string_view json) const {
  std::string out;
  if (IsBlank(json)) return out;
  JsonToWireOptions options;
  options.ignore_unknown_fields = options_.ignore_unknown_fields;
  TranscodeFailure failure;
  if (!JsonToWire(plans_.get(), *plans_->Get(type), json, options, &out, &failure)) {
    return Invalid("payload is not a valid ", type, failure);
  }
  return out;
}

absl::StatusOr<std::string> JsonTranscoder::BinaryToJson(const google::protobuf::Descriptor* type,
                                                         std::string_view bytes) const {
  JsonMapping mapping;
  mapping.emit_defaults = options_.always_print_primitive_fields;
  return BinaryToJson(type, bytes, mapping);
}

absl::StatusOr<std::string> JsonTranscoder::BinaryToJson(const google::protobuf::Descriptor* type,
                                                         std::string_view bytes,
                                                         const JsonMapping& mapping) const {
  WireToJsonOptions options;
  options.always_print_primitive_fields = mapping.emit_defaults;
  options.proto_names = mapping.proto_names;
  options.enums_as_numbers = mapping.enums_as_numbers;
  std::string out;
  TranscodeFailure failure;
  if (!WireToJson(plans_.get(), *plans_->Get(type), bytes, options, &out, &failure)) {
    return Invalid("bytes are not a valid ", type, failure);
  }
  return out;
}

absl::Status JsonTranscoder::ValidateBinary(const google::protobuf::Descriptor* type,
                                            std::string_view bytes) const {
  TranscodeFailure failure;
  if (!ValidateWire(*plans_->Get(type), bytes, &failure)) {
    return Invalid("payload is not a serialized ", type, failure);
  }
  return absl::OkStatus();
}

}  // namespace bridge::transcode
