#include "harness/conformance/json_frame.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "rapidjson/error/en.h"

namespace harness::conformance {

absl::StatusOr<JsonFrame> JsonFrame::Parse(std::string text) {
  auto doc = std::make_shared<rapidjson::Document>();
  doc->Parse(text.data(), text.size());
  if (doc->HasParseError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not JSON (", rapidjson::GetParseError_En(doc->GetParseError()), " at offset ",
                     doc->GetErrorOffset(), ")"));
  }
  if (!doc->IsObject()) return absl::InvalidArgumentError("not a JSON object");
  return JsonFrame(std::move(text), std::move(doc));
}

std::string JsonFrame::type() const { return String("type").value_or(""); }

const rapidjson::Value* JsonFrame::Get(std::string_view path) const {
  const rapidjson::Value* v = doc_.get();
  for (absl::string_view part : absl::StrSplit(absl::string_view(path.data(), path.size()), '.')) {
    if (!v->IsObject()) return nullptr;
    auto it =
        v->FindMember(rapidjson::Value(part.data(), static_cast<rapidjson::SizeType>(part.size())));
    if (it == v->MemberEnd()) return nullptr;
    v = &it->value;
  }
  return v;
}

std::optional<std::string> JsonFrame::String(std::string_view path) const {
  const rapidjson::Value* v = Get(path);
  if (v == nullptr || !v->IsString()) return std::nullopt;
  return std::string(v->GetString(), v->GetStringLength());
}

std::optional<int64_t> JsonFrame::Int(std::string_view path) const {
  const rapidjson::Value* v = Get(path);
  if (v == nullptr) return std::nullopt;
  if (v->IsInt64()) return v->GetInt64();
  if (v->IsUint64()) return static_cast<int64_t>(v->GetUint64());
  int64_t out = 0;
  if (v->IsString() &&
      absl::SimpleAtoi(absl::string_view(v->GetString(), v->GetStringLength()), &out)) {
    return out;
  }
  return std::nullopt;
}

std::optional<bool> JsonFrame::Bool(std::string_view path) const {
  const rapidjson::Value* v = Get(path);
  if (v == nullptr || !v->IsBool()) return std::nullopt;
  return v->GetBool();
}

}  // namespace harness::conformance
