#include "harness/proxy/toxic_kinds.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "bridge/common/strings.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "harness/proxy/transport_toxics.h"
#include "harness/proxy/websocket_toxics.h"

namespace harness::proxy {
namespace {

using v1::ToxicAttributes;

using ::bridge::Sv;

// The attribute at fault and why; an empty name when there is no fault.
using Problem = std::pair<std::string_view, std::string>;

// One toxic type: its attributes, what they must satisfy beyond their types, and its stage.
struct ToxicKind {
  std::string_view type;
  bool websocket;
  std::vector<std::string_view> attributes;
  Problem (*check)(const ToxicAttributes& a);
  std::shared_ptr<ToxicStage> (*make)(const ToxicAttributes& a);
};

Problem NoProblem(const ToxicAttributes&) { return {}; }

// Close codes an endpoint may send (RFC 6455 section 7.4; 1004-1006 and 1015 are reserved).
bool IsSendableCloseCode(uint32_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

Problem CheckBandwidth(const ToxicAttributes& a) {
  if (a.rate() == 0) return {"rate", "must be more than 0 (KB/s)"};
  return {};
}

Problem CheckSlicer(const ToxicAttributes& a) {
  if (a.average_size() == 0) return {"average_size", "must be more than 0"};
  if (a.size_variation() >= a.average_size()) {
    return {"size_variation", "must be less than average_size"};
  }
  return {};
}

Problem CheckWsClose(const ToxicAttributes& a) {
  if (!IsSendableCloseCode(a.code())) {
    return {"code", absl::StrCat("must be a close code an endpoint may send (1000-1003, "
                                 "1007-1014, 3000-4999), got ",
                                 a.code())};
  }
  // A control frame's payload is at most 125 bytes, two of them the code.
  if (a.reason().size() > 123) return {"reason", "must be at most 123 bytes"};
  return {};
}

Problem CheckWsCorrupt(const ToxicAttributes& a) {
  if (!CorruptionFromName(a.corruption())) {
    return {"corruption", absl::StrCat("must be bad_utf8, reserved_bits or bad_opcode, got \"",
                                       a.corruption(), "\"")};
  }
  return {};
}

std::shared_ptr<ToxicStage> MakeLatency(const ToxicAttributes& a) {
  return std::make_shared<LatencyStage>(a.latency(), a.jitter());
}

std::shared_ptr<ToxicStage> MakeBandwidth(const ToxicAttributes& a) {
  return std::make_shared<BandwidthStage>(a.rate());
}

std::shared_ptr<ToxicStage> MakeSlicer(const ToxicAttributes& a) {
  return std::make_shared<SlicerStage>(a.average_size(), a.size_variation(), a.delay());
}

std::shared_ptr<ToxicStage> MakeTimeout(const ToxicAttributes& a) {
  return std::make_shared<TimeoutStage>(a.timeout());
}

std::shared_ptr<ToxicStage> MakeResetPeer(const ToxicAttributes& a) {
  return std::make_shared<ResetPeerStage>(a.timeout());
}

std::shared_ptr<ToxicStage> MakeLimitData(const ToxicAttributes& a) {
  return std::make_shared<LimitDataStage>(a.bytes());
}

std::shared_ptr<ToxicStage> MakeWsClose(const ToxicAttributes& a) {
  return std::make_shared<WsCloseStage>(static_cast<uint16_t>(a.code()), a.reason(),
                                        a.after_frames(), a.after_ms());
}

std::shared_ptr<ToxicStage> MakeWsDropHeartbeat(const ToxicAttributes&) {
  return std::make_shared<WsDropHeartbeatStage>();
}

std::shared_ptr<ToxicStage> MakeWsStall(const ToxicAttributes& a) {
  return std::make_shared<WsStallStage>(a.after_frames());
}

std::shared_ptr<ToxicStage> MakeWsCorrupt(const ToxicAttributes& a) {
  return std::make_shared<WsCorruptStage>(a.after_frames(), *CorruptionFromName(a.corruption()));
}

const std::vector<ToxicKind>& Kinds() {
  static const auto* kinds = new std::vector<ToxicKind>{
      // type, whether it acts on WebSocket frames, attributes, check, stage
      {"latency", false, {"latency", "jitter"}, NoProblem, MakeLatency},
      {"bandwidth", false, {"rate"}, CheckBandwidth, MakeBandwidth},
      {"slicer", false, {"average_size", "size_variation", "delay"}, CheckSlicer, MakeSlicer},
      {"timeout", false, {"timeout"}, NoProblem, MakeTimeout},
      {"reset_peer", false, {"timeout"}, NoProblem, MakeResetPeer},
      {"limit_data", false, {"bytes"}, NoProblem, MakeLimitData},
      {"ws_close", true, {"code", "reason", "after_frames", "after_ms"}, CheckWsClose, MakeWsClose},
      {"ws_drop_heartbeat", true, {}, NoProblem, MakeWsDropHeartbeat},
      {"ws_stall", true, {"after_frames"}, NoProblem, MakeWsStall},
      {"ws_corrupt", true, {"after_frames", "corruption"}, CheckWsCorrupt, MakeWsCorrupt},
  };
  return *kinds;
}

const ToxicKind* FindKind(std::string_view type) {
  for (const ToxicKind& kind : Kinds()) {
    if (kind.type == type) return &kind;
  }
  return nullptr;
}

std::string Join(const std::vector<std::string_view>& names) {
  return absl::StrJoin(names, ", ",
                       [](std::string* out, std::string_view name) { out->append(name); });
}

bool Contains(const std::vector<std::string_view>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Rejects attributes the type does not take, then sets the unset ones it does take to 0 or "".
absl::Status NormalizeAttributes(const ToxicKind& kind, ToxicAttributes* attributes,
                                 std::string_view prefix) {
  const google::protobuf::Reflection* reflection = attributes->GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> set;
  reflection->ListFields(*attributes, &set);
  for (const google::protobuf::FieldDescriptor* field : set) {
    if (Contains(kind.attributes, field->name())) continue;
    return FieldError(prefix, absl::StrCat("attributes.", field->name()),
                      absl::StrCat("not an attribute of ", Sv(kind.type),
                                   kind.attributes.empty()
                                       ? std::string(" (it takes none)")
                                       : absl::StrCat(" (it takes ", Join(kind.attributes), ")")));
  }
  const google::protobuf::Descriptor* descriptor = attributes->GetDescriptor();
  for (std::string_view name : kind.attributes) {
    const google::protobuf::FieldDescriptor* field = descriptor->FindFieldByName(std::string(name));
    if (reflection->HasField(*attributes, field)) continue;
    switch (field->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT32:
        reflection->SetUInt32(attributes, field, 0);
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT64:
        reflection->SetUInt64(attributes, field, 0);
        break;
      default:
        reflection->SetString(attributes, field, "");
        break;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status FieldError(std::string_view prefix, std::string_view field, std::string_view reason) {
  return absl::InvalidArgumentError(
      absl::StrCat("field ", Sv(prefix), Sv(field), ": ", Sv(reason)));
}

absl::Status CheckName(std::string_view name, std::string_view prefix, std::string_view field) {
  if (name.empty()) return FieldError(prefix, field, "required");
  for (const char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return FieldError(prefix, field,
                        absl::StrCat("\"", Sv(name),
                                     "\" may hold only letters, digits, '_', "
                                     "'-' and '.'"));
    }
  }
  return absl::OkStatus();
}

std::string ToxicTypeList() {
  std::vector<std::string_view> types;
  for (const ToxicKind& kind : Kinds()) types.push_back(kind.type);
  return Join(types);
}

absl::Status NormalizeToxic(v1::Toxic* toxic, std::string_view prefix) {
  if (toxic->type().empty()) {
    return FieldError(prefix, "type", absl::StrCat("required (one of ", ToxicTypeList(), ")"));
  }
  const ToxicKind* kind = FindKind(toxic->type());
  if (kind == nullptr) {
    return FieldError(
        prefix, "type",
        absl::StrCat("unknown toxic type \"", toxic->type(), "\" (one of ", ToxicTypeList(), ")"));
  }
  if (toxic->stream().empty()) toxic->set_stream("downstream");
  if (toxic->stream() != "upstream" && toxic->stream() != "downstream") {
    return FieldError(
        prefix, "stream",
        absl::StrCat("must be upstream or downstream, got \"", toxic->stream(), "\""));
  }
  if (toxic->name().empty()) toxic->set_name(absl::StrCat(toxic->type(), "_", toxic->stream()));
  if (absl::Status s = CheckName(toxic->name(), prefix, "name"); !s.ok()) return s;
  if (!toxic->has_toxicity()) toxic->set_toxicity(1);
  if (!(toxic->toxicity() >= 0 && toxic->toxicity() <= 1)) {
    return FieldError(prefix, "toxicity",
                      absl::StrCat("must be from 0 to 1, got ", toxic->toxicity()));
  }
  if (absl::Status s = NormalizeAttributes(*kind, toxic->mutable_attributes(), prefix); !s.ok()) {
    return s;
  }
  const auto [attribute, reason] = kind->check(toxic->attributes());
  if (!attribute.empty()) {
    return FieldError(prefix, absl::StrCat("attributes.", Sv(attribute)), reason);
  }
  return absl::OkStatus();
}

bool IsWebSocketToxic(const v1::Toxic& toxic) {
  const ToxicKind* kind = FindKind(toxic.type());
  return kind != nullptr && kind->websocket;
}

std::shared_ptr<ToxicStage> MakeToxicStage(const v1::Toxic& toxic) {
  return FindKind(toxic.type())->make(toxic.attributes());
}

}  // namespace harness::proxy
