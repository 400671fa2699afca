#include "bridge/transcode/json_transcoder.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace bridge::transcode {
namespace {

constexpr char kTypeUrlPrefix[] = "type.googleapis.com";

std::string TypeUrl(const google::protobuf::Descriptor* type) {
  return absl::StrCat(kTypeUrlPrefix, "/", type->full_name());
}

}  // namespace

JsonTranscoder::JsonTranscoder(const DescriptorRegistry* registry, TranscodeOptions options)
    : options_(options),
      resolver_(google::protobuf::util::NewTypeResolverForDescriptorPool(kTypeUrlPrefix,
                                                                         registry->pool())) {}

JsonTranscoder::~JsonTranscoder() = default;

absl::StatusOr<std::string> JsonTranscoder::JsonToBinary(const google::protobuf::Descriptor* type,
                                                         std::string_view json) const {
  if (json.empty() || json == "null") json = "{}";
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = options_.ignore_unknown_fields;
  std::string out;
  const google::protobuf::util::Status s = google::protobuf::util::JsonToBinaryString(
      resolver_.get(), TypeUrl(type), std::string(json), &out, parse);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload is not a valid ", type->full_name(), ": ", s.message().ToString()));
  }
  return out;
}

absl::StatusOr<std::string> JsonTranscoder::BinaryToJson(const google::protobuf::Descriptor* type,
                                                         std::string_view bytes) const {
  google::protobuf::util::JsonPrintOptions print;
  std::string out;
  const google::protobuf::util::Status s = google::protobuf::util::BinaryToJsonString(
      resolver_.get(), TypeUrl(type), std::string(bytes), &out, print);
  if (!s.ok()) {
    return absl::InternalError(
        absl::StrCat("upstream reply is not a valid ", type->full_name(), ": ", s.message().ToString()));
  }
  return out;
}

}  // namespace bridge::transcode
