#include "bridge/transcode/message_plan.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/common/strings.h"
#include "bridge/transcode/json_text.h"
#include "google/protobuf/descriptor.pb.h"

namespace bridge::transcode {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::EnumDescriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::FileDescriptor;

// Field numbers below this are looked up in a dense table.
constexpr uint32_t kDenseNumberLimit = 1024;
// Enum ranges up to this size are looked up in a dense table.
constexpr int64_t kDenseEnumRange = 256;

uint64_t Load(const char* p, size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

// A cheap hash of a field name: its length and its first and last eight bytes.
uint64_t NameHash(std::string_view s) {
  const size_t n = s.size();
  uint64_t h;
  if (n >= 8) {
    h = Load(s.data(), 8) * 0x9e3779b97f4a7c15ull ^
        Load(s.data() + n - 8, 8) * 0xc2b2ae3d27d4eb4full;
  } else {
    h = Load(s.data(), n) * 0x9e3779b97f4a7c15ull;
  }
  h ^= n * 0x165667b19e3779f9ull;
  return h ^ (h >> 29);
}

WellKnownType ClassifyMessage(const Descriptor* type) {
  static const auto* kByName = new absl::flat_hash_map<std::string, WellKnownType>{
      {"google.protobuf.Any", WellKnownType::kAny},
      {"google.protobuf.Timestamp", WellKnownType::kTimestamp},
      {"google.protobuf.Duration", WellKnownType::kDuration},
      {"google.protobuf.FieldMask", WellKnownType::kFieldMask},
      {"google.protobuf.Struct", WellKnownType::kStruct},
      {"google.protobuf.Value", WellKnownType::kValue},
      {"google.protobuf.ListValue", WellKnownType::kListValue},
      {"google.protobuf.Empty", WellKnownType::kEmpty},
      {"google.protobuf.DoubleValue", WellKnownType::kDoubleValue},
      {"google.protobuf.FloatValue", WellKnownType::kFloatValue},
      {"google.protobuf.Int64Value", WellKnownType::kInt64Value},
      {"google.protobuf.UInt64Value", WellKnownType::kUInt64Value},
      {"google.protobuf.Int32Value", WellKnownType::kInt32Value},
      {"google.protobuf.UInt32Value", WellKnownType::kUInt32Value},
      {"google.protobuf.BoolValue", WellKnownType::kBoolValue},
      {"google.protobuf.StringValue", WellKnownType::kStringValue},
      {"google.protobuf.BytesValue", WellKnownType::kBytesValue},
  };
  auto it = kByName->find(type->full_name());
  return it == kByName->end() ? WellKnownType::kNone : it->second;
}

wire::WireType WireTypeOf(FieldDescriptor::Type type) {
  switch (type) {
    case FieldDescriptor::TYPE_DOUBLE:
    case FieldDescriptor::TYPE_FIXED64:
    case FieldDescriptor::TYPE_SFIXED64:
      return wire::kFixed64;
    case FieldDescriptor::TYPE_FLOAT:
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_SFIXED32:
      return wire::kFixed32;
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES:
    case FieldDescriptor::TYPE_MESSAGE:
      return wire::kLengthDelimited;
    case FieldDescriptor::TYPE_GROUP:
      return wire::kStartGroup;
    default:
      return wire::kVarint;
  }
}

uint8_t EncodeTag(uint32_t number, wire::WireType type, char* out) {
  return static_cast<uint8_t>(wire::EncodeVarint(wire::MakeTag(number, type), out) - out);
}

// The value json_util prints for an unset field under always_print_primitive_fields.
std::string DefaultJson(const FieldDescriptor* field) {
  std::string out;
  JsonWriter w(&out);
  if (field->is_map()) {
    w.Raw("{}");
  } else if (field->is_repeated()) {
    w.Raw("[]");
  } else {
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        w.Int(field->default_value_int32());
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        w.Uint(field->default_value_uint32());
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        w.QuotedInt(field->default_value_int64());
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        w.QuotedUint(field->default_value_uint64());
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        w.Double(field->default_value_double());
        break;
      case FieldDescriptor::CPPTYPE_FLOAT:
        w.Float(field->default_value_float());
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        w.Bool(field->default_value_bool());
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        if (field->type() == FieldDescriptor::TYPE_BYTES) {
          w.Base64(field->default_value_string());
        } else {
          w.String(field->default_value_string());
        }
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        w.String(field->default_value_enum()->name());
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        break;
    }
  }
  w.Finish();
  return out;
}

}  // namespace

bool IsWrapper(WellKnownType type) {
  return type >= WellKnownType::kDoubleValue && type <= WellKnownType::kBytesValue;
}

EnumPlan::EnumPlan(const EnumDescriptor* descriptor)
    : descriptor_(descriptor),
      closed_(descriptor->file()->syntax() != FileDescriptor::SYNTAX_PROTO3),
      is_null_value_(descriptor->full_name() == "google.protobuf.NullValue") {
  int64_t min = 0, max = -1;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const int64_t n = descriptor->value(i)->number();
    if (i == 0 || n < min) min = n;
    if (i == 0 || n > max) max = n;
  }
  quoted_names_.reserve(descriptor->value_count());
  for (int i = 0; i < descriptor->value_count(); ++i) {
    std::string quoted;
    JsonWriter w(&quoted);
    w.String(descriptor->value(i)->name());
    w.Finish();
    quoted.reserve(JsonWriter::kPadding);  // for JsonWriter::Padded
    quoted_names_.push_back(std::move(quoted));
  }
  const bool dense = max - min < kDenseEnumRange;
  if (dense) {
    dense_min_ = static_cast<int32_t>(min);
    dense_.assign(max - min + 1, nullptr);
  }
  // The first value declared with a number names it (aliases come later).
  for (int i = descriptor->value_count() - 1; i >= 0; --i) {
    const int32_t n = descriptor->value(i)->number();
    if (dense) {
      dense_[n - dense_min_] = &quoted_names_[i];
    } else {
      sparse_[n] = &quoted_names_[i];
    }
  }
  for (int i = 0; i < descriptor->value_count(); ++i) {
    numbers_.emplace(descriptor->value(i)->name(), descriptor->value(i)->number());
  }
}

const std::string* EnumPlan::QuotedName(int32_t number) const {
  if (!dense_.empty()) {
    const int64_t i = static_cast<int64_t>(number) - dense_min_;
    return i >= 0 && i < static_cast<int64_t>(dense_.size()) ? dense_[i] : nullptr;
  }
  auto it = sparse_.find(number);
  return it == sparse_.end() ? nullptr : it->second;
}

bool EnumPlan::FindNumber(std::string_view name, int32_t* number) const {
  auto it = numbers_.find(Sv(name));
  if (it == numbers_.end()) return false;
  *number = it->second;
  return true;
}

int MessagePlan::FindByNumberSlow(uint32_t number) const {
  auto it = std::lower_bound(fields.begin(), fields.end(), number,
                             [](const FieldPlan& f, uint32_t n) { return f.number < n; });
  return it != fields.end() && it->number == number ? static_cast<int>(it - fields.begin()) : -1;
}

int MessagePlan::FindByName(std::string_view name) const {
  if (names.empty()) return -1;
  const size_t mask = names.size() - 1;
  for (size_t i = NameHash(name) & mask;; i = (i + 1) & mask) {
    const NameSlot& slot = names[i];
    if (slot.field < 0) return -1;
    if (SameName(std::string_view(slot.data, slot.size), name)) return slot.field;
  }
}

PlanCache::PlanCache() = default;
PlanCache::~PlanCache() = default;

const MessagePlan* PlanCache::Get(const Descriptor* type) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = plans_.find(type);
    if (it != plans_.end()) return it->second.get();
  }
  absl::MutexLock lock(&mu_);
  return Build(type);
}

const MessagePlan* PlanCache::FindByName(const MessagePlan& context, std::string_view full_name) {
  const Descriptor* type =
      context.descriptor->file()->pool()->FindMessageTypeByName(std::string(full_name));
  return type == nullptr ? nullptr : Get(type);
}

const EnumPlan* PlanCache::BuildEnum(const EnumDescriptor* type) {
  std::unique_ptr<EnumPlan>& slot = enums_[type];
  if (slot == nullptr) slot = std::make_unique<EnumPlan>(type);
  return slot.get();
}

MessagePlan* PlanCache::Build(const Descriptor* type) {
  std::unique_ptr<MessagePlan>& slot = plans_[type];
  if (slot != nullptr) return slot.get();
  slot = std::make_unique<MessagePlan>();
  // Nested types are built below with the map growing; keep the raw pointer.
  MessagePlan* plan = slot.get();
  plan->descriptor = type;
  plan->well_known = ClassifyMessage(type);
  plan->map_entry = type->options().map_entry();
  for (int i = 0; i < type->oneof_decl_count(); ++i) {
    plan->oneof_names.push_back(type->oneof_decl(i)->name());
  }

  std::vector<const FieldDescriptor*> by_number;
  for (int i = 0; i < type->field_count(); ++i) by_number.push_back(type->field(i));
  std::sort(
      by_number.begin(), by_number.end(),
      [](const FieldDescriptor* a, const FieldDescriptor* b) { return a->number() < b->number(); });
  plan->fields.resize(by_number.size());
  for (size_t i = 0; i < by_number.size(); ++i) FillField(by_number[i], &plan->fields[i]);
  for (int i = 0; i < type->field_count(); ++i) {
    plan->declaration_order.push_back(plan->FindByNumberSlow(type->field(i)->number()));
  }

  uint32_t max_number = 0;
  for (const FieldPlan& f : plan->fields) max_number = std::max(max_number, f.number);
  plan->by_number.assign(std::min(max_number + 1, kDenseNumberLimit), -1);
  for (size_t i = 0; i < plan->fields.size(); ++i) {
    if (plan->fields[i].number < plan->by_number.size()) {
      plan->by_number[plan->fields[i].number] = static_cast<int32_t>(i);
    }
  }

  size_t capacity = 4;
  while (capacity < plan->fields.size() * 4) capacity *= 2;
  plan->names.assign(capacity, {});
  auto insert = [plan](const std::string& name, int field) {
    if (plan->FindByName(name) >= 0) return;  // a json_name equal to another field's name
    const size_t mask = plan->names.size() - 1;
    size_t i = NameHash(name) & mask;
    while (plan->names[i].field >= 0) i = (i + 1) & mask;
    plan->names[i] = {name.data(), static_cast<uint32_t>(name.size()), field};
  };
  for (size_t i = 0; i < plan->fields.size(); ++i) insert(plan->fields[i].json_name, i);
  for (size_t i = 0; i < plan->fields.size(); ++i) insert(plan->fields[i].name, i);
  return plan;
}

void PlanCache::FillField(const FieldDescriptor* field, FieldPlan* f) {
  f->descriptor = field;
  f->type = field->type();
  f->number = field->number();
  f->wire_type = WireTypeOf(field->type());
  f->repeated = field->is_repeated();
  f->map = field->is_map();
  f->packable = field->is_packable();
  f->packed = field->is_packed();
  f->presence = !field->is_repeated() && field->has_presence();
  f->utf8 = field->type() == FieldDescriptor::TYPE_STRING &&
            field->file()->syntax() == FileDescriptor::SYNTAX_PROTO3;
  if (field->containing_oneof() != nullptr) {
    f->oneof = field->containing_oneof()->index();
    f->real_oneof = field->real_containing_oneof() != nullptr;
  }
  f->name = field->name();
  f->json_name = field->json_name();
  for (auto [name, key] : {std::pair{&f->json_name, &f->json_key}, {&f->name, &f->proto_key}}) {
    JsonWriter w(key);
    w.String(*name);
    w.Char(':');
    w.Finish();
    key->reserve(JsonWriter::kPadding);  // for JsonWriter::Padded
  }
  f->tag_size = EncodeTag(f->number, f->wire_type, f->tag);
  f->packed_tag_size = EncodeTag(f->number, wire::kLengthDelimited, f->packed_tag);
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    f->message = Build(field->message_type());
  } else {
    f->default_json = DefaultJson(field);
  }
  if (field->is_repeated()) f->default_json = DefaultJson(field);
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
    f->enumeration = BuildEnum(field->enum_type());
    if (!field->is_repeated()) {
      f->default_number_json = absl::StrCat(field->default_value_enum()->number());
    }
  }
}

}  // namespace bridge::transcode
