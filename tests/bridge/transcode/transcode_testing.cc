#include "tests/bridge/transcode/transcode_testing.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace bridge::transcode::testing {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;

absl::Status FromProtobuf(const google::protobuf::util::Status& s) {
  if (s.ok()) return absl::OkStatus();
  const std::string message(s.message().data(), s.message().size());
  return absl::InvalidArgumentError(message);
}

// Pieces of strings: every escaping path of the JSON writer.
const char* const kStringPieces[] = {
    "a",
    "Z",
    "0",
    " ",
    "hello",
    "\"",
    "\\",
    "/",
    "<",
    ">",
    "&",
    "'",
    "\n",
    "\t",
    "\r",
    "\b",
    "\f",
    "\x01",
    "\x1f",
    "\x7f",
    "\xc2\x80",
    "\xc2\x9f",
    "\xc2\xa0",
    "\xc2\xad",
    "\xc3\xa9",
    "\xd8\x80",
    "\xdb\x9d",
    "\xe2\x80\x8b",
    "\xe2\x80\xa8",
    "\xe2\x80\xa9",
    "\xe2\x81\xa0",
    "\xe2\x82\xac",
    "\xef\xbb\xbf",
    "\xef\xbf\xb9",
    "\xe4\xb8\xad",
    "\xf0\x9f\x98\x80",
    "\xf3\xa0\x80\x81",
    "\xf0\x9d\x85\xb3",
    "\xf4\x8f\xbf\xbf",
};

// The key of a map entry, as text.
std::string KeyText(const Message& entry) {
  const FieldDescriptor* key = entry.GetDescriptor()->FindFieldByNumber(1);
  const Reflection* r = entry.GetReflection();
  switch (key->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return std::to_string(r->GetInt32(entry, key));
    case FieldDescriptor::CPPTYPE_INT64:
      return std::to_string(r->GetInt64(entry, key));
    case FieldDescriptor::CPPTYPE_UINT32:
      return std::to_string(r->GetUInt32(entry, key));
    case FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(r->GetUInt64(entry, key));
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(entry, key) ? "true" : "false";
    default:
      return r->GetString(entry, key);
  }
}

// Whether the last entry of map `field` repeats the key of an earlier one.
bool HasKeyBefore(const Message& message, const FieldDescriptor* field) {
  const Reflection* r = message.GetReflection();
  const int n = r->FieldSize(message, field);
  const std::string last = KeyText(r->GetRepeatedMessage(message, field, n - 1));
  for (int i = 0; i + 1 < n; ++i) {
    if (KeyText(r->GetRepeatedMessage(message, field, i)) == last) return true;
  }
  return false;
}

}  // namespace

Oracle::Oracle(bool generated) : generated_(generated) {}

std::unique_ptr<Message> Oracle::New(const Descriptor* type) {
  if (generated_) {
    const Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(type);
    if (prototype != nullptr) return std::unique_ptr<Message>(prototype->New());
  }
  return std::unique_ptr<Message>(factory_.GetPrototype(type)->New());
}

absl::StatusOr<std::unique_ptr<Message>> Oracle::ParseJson(const Descriptor* type,
                                                           std::string_view json,
                                                           bool ignore_unknown_fields) {
  std::unique_ptr<Message> message = New(type);
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = ignore_unknown_fields;
  absl::Status s;
  try {
    s = FromProtobuf(google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(json.data(), json.size()), message.get(), options));
  } catch (const google::protobuf::FatalException& e) {
    return absl::InternalError(std::string("json_util failed a CHECK: ") + e.what());
  }
  if (!s.ok()) return s;
  return message;
}

absl::StatusOr<std::string> Oracle::PrintJson(const Message& message,
                                              bool always_print_primitive_fields,
                                              bool preserve_proto_field_names, bool enums_as_ints) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = always_print_primitive_fields;
  options.preserve_proto_field_names = preserve_proto_field_names;
  options.always_print_enums_as_ints = enums_as_ints;
  std::string out;
  absl::Status s;
  try {
    s = FromProtobuf(google::protobuf::util::MessageToJsonString(message, &out, options));
  } catch (const google::protobuf::FatalException& e) {
    return absl::InternalError(std::string("json_util failed a CHECK: ") + e.what());
  }
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::unique_ptr<Message>> Oracle::ParseBinary(const Descriptor* type,
                                                             std::string_view bytes) {
  std::unique_ptr<Message> message = New(type);
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("ParseFromString failed");
  }
  return message;
}

std::unique_ptr<Message> AnyContent(const Message& any, Oracle* oracle) {
  const Descriptor* type = any.GetDescriptor();
  const Reflection* r = any.GetReflection();
  const std::string url = r->GetString(any, type->FindFieldByNumber(1));
  const Descriptor* packed =
      type->file()->pool()->FindMessageTypeByName(url.substr(url.rfind('/') + 1));
  if (packed == nullptr) return nullptr;
  auto content = oracle->ParseBinary(packed, r->GetString(any, type->FindFieldByNumber(2)));
  return content.ok() ? *std::move(content) : nullptr;
}

namespace {

bool ContainsMessage(Message* message, Oracle* oracle,
                     const std::function<bool(const Message&)>& is, int depth) {
  if (depth > 200) return false;
  if (is(*message)) return true;
  if (message->GetDescriptor()->full_name() == "google.protobuf.Any") {
    std::unique_ptr<Message> content = AnyContent(*message, oracle);
    return content != nullptr && ContainsMessage(content.get(), oracle, is, depth + 1);
  }
  return !ForEachSubmessage(message, [&](const FieldDescriptor*, Message* child) {
    return !ContainsMessage(child, oracle, is, depth + 1);
  });
}

}  // namespace

bool ContainsMessage(Message* message, Oracle* oracle,
                     const std::function<bool(const Message&)>& is) {
  return ContainsMessage(message, oracle, is, 0);
}

bool MessagesEqual(const Message& a, const Message& b, std::string* difference) {
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  differencer.ReportDifferencesToString(difference);
  return differencer.Compare(a, b);
}

std::string MessageGenerator::String() {
  std::string s;
  const uint32_t pieces = Below(6);
  for (uint32_t i = 0; i < pieces; ++i) {
    s += kStringPieces[Below(sizeof(kStringPieces) / sizeof(kStringPieces[0]))];
  }
  return s;
}

std::string MessageGenerator::Bytes() {
  std::string s(Below(12), '\0');
  for (char& c : s) c = static_cast<char>(Below(256));
  return s;
}

std::string MessageGenerator::Identifier() {
  static const char* const kWords[] = {"foo", "bar", "baz", "qux", "a", "name", "value"};
  std::string s = kWords[Below(7)];
  if (OneIn(2)) absl::StrAppend(&s, "_", kWords[Below(7)]);
  return s;
}

double MessageGenerator::Double() {
  switch (Below(10)) {
    case 0:
      return static_cast<double>(static_cast<int64_t>(Below(2001)) - 1000);
    case 1:
      return static_cast<double>(Below(100000)) / 100;
    case 2: {
      double d;
      uint64_t bits = rng_();
      std::memcpy(&d, &bits, sizeof(d));
      return std::isfinite(d) ? d : 1.5;
    }
    case 3: {
      static const double kSpecial[] = {0.0,
                                        -0.0,
                                        std::numeric_limits<double>::max(),
                                        std::numeric_limits<double>::min(),
                                        std::numeric_limits<double>::denorm_min(),
                                        -std::numeric_limits<double>::max(),
                                        std::numeric_limits<double>::infinity(),
                                        -std::numeric_limits<double>::infinity(),
                                        std::numeric_limits<double>::quiet_NaN(),
                                        1e21,
                                        1e-7,
                                        0.1,
                                        123456789012345678.0,
                                        1e15,
                                        1e16,
                                        0.0001};
      return kSpecial[Below(sizeof(kSpecial) / sizeof(kSpecial[0]))];
    }
    default:
      return std::uniform_real_distribution<double>(-1e6, 1e6)(rng_);
  }
}

float MessageGenerator::Float() {
  switch (Below(6)) {
    case 0: {
      float f;
      uint32_t bits = static_cast<uint32_t>(rng_());
      std::memcpy(&f, &bits, sizeof(f));
      return f;
    }
    case 1:
      return static_cast<float>(Below(10000)) / 100;
    default:
      return static_cast<float>(Double());
  }
}

int64_t MessageGenerator::Int64() {
  switch (Below(4)) {
    case 0:
      return static_cast<int64_t>(Below(200)) - 100;
    case 1:
      return static_cast<int64_t>(rng_());
    case 2:
      return OneIn(2) ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
    default:
      return static_cast<int64_t>(rng_() >> Below(63));
  }
}

uint64_t MessageGenerator::Uint64() { return OneIn(3) ? Below(300) : rng_() >> Below(64); }

void MessageGenerator::Fill(Message* message, int max_depth) {
  if (FillWellKnown(message, max_depth)) return;
  const Descriptor* type = message->GetDescriptor();
  if (type->options().map_entry()) {  // both key and value, as a parsed entry has them
    AddValue(message, type->field(0), max_depth);
    AddValue(message, type->field(1), max_depth);
    return;
  }
  for (int i = 0; i < type->oneof_decl_count(); ++i) {
    const auto* oneof = type->oneof_decl(i);
    if (OneIn(3)) continue;
    FillField(message, oneof->field(Below(oneof->field_count())), max_depth);
  }
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    if (field->real_containing_oneof() != nullptr) continue;
    if (OneIn(2)) continue;
    FillField(message, field, max_depth);
  }
}

void MessageGenerator::FillField(Message* message, const FieldDescriptor* field, int depth) {
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && depth <= 0 && !field->is_map()) {
    return;
  }
  if (field->is_repeated()) {
    const uint32_t n = Below(4);
    for (uint32_t i = 0; i < n; ++i) {
      AddValue(message, field, depth);
      // Map keys are distinct, as in a parsed message.
      if (field->is_map() && HasKeyBefore(*message, field)) {
        message->GetReflection()->RemoveLast(message, field);
      }
    }
    return;
  }
  AddValue(message, field, depth);
}

// Sets a singular field or adds one element to a repeated one.
void MessageGenerator::AddValue(Message* message, const FieldDescriptor* field, int depth) {
  const Reflection* r = message->GetReflection();
  const bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      const auto v = static_cast<int32_t>(Int64());
      repeated ? r->AddInt32(message, field, v) : r->SetInt32(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      const int64_t v = Int64();
      repeated ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      const auto v = static_cast<uint32_t>(Uint64());
      repeated ? r->AddUInt32(message, field, v) : r->SetUInt32(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      const uint64_t v = Uint64();
      repeated ? r->AddUInt64(message, field, v) : r->SetUInt64(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      const double v = Double();
      repeated ? r->AddDouble(message, field, v) : r->SetDouble(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      const float v = Float();
      repeated ? r->AddFloat(message, field, v) : r->SetFloat(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      const bool v = OneIn(2);
      repeated ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* e = field->enum_type();
      int number = e->value(Below(e->value_count()))->number();
      // Open enums keep numbers they do not declare.
      if (e->file()->syntax() == google::protobuf::FileDescriptor::SYNTAX_PROTO3 && OneIn(8)) {
        number = 1000 + static_cast<int>(Below(100));
      }
      if (e->full_name() == "google.protobuf.NullValue") number = 0;
      repeated ? r->AddEnumValue(message, field, number) : r->SetEnumValue(message, field, number);
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v = field->type() == FieldDescriptor::TYPE_BYTES ? Bytes() : String();
      if (field->containing_type()->options().map_entry() && field->number() == 1 && OneIn(2)) {
        v = Identifier();
      }
      repeated ? r->AddString(message, field, std::move(v))
               : r->SetString(message, field, std::move(v));
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* child = repeated ? r->AddMessage(message, field) : r->MutableMessage(message, field);
      Fill(child, depth - 1);
      break;
    }
  }
}

bool MessageGenerator::FillWellKnown(Message* message, int depth) {
  const Descriptor* type = message->GetDescriptor();
  const std::string& name = type->full_name();
  if (name.rfind("google.protobuf.", 0) != 0) return false;
  const Reflection* r = message->GetReflection();
  auto field = [type](const char* n) { return type->FindFieldByName(n); };
  if (name == "google.protobuf.Timestamp" || name == "google.protobuf.Duration") {
    const bool timestamp = name == "google.protobuf.Timestamp";
    int64_t seconds = timestamp ? static_cast<int64_t>(rng_() % 253402300800ull) - 62135596800
                                : static_cast<int64_t>(rng_() % 631152000001ull) - 315576000000;
    if (OneIn(3)) seconds = static_cast<int64_t>(Below(100000));
    static const int32_t kUnits[] = {1, 1000, 1000000, 1000000000};
    const int32_t unit = kUnits[Below(4)];
    int32_t nanos = static_cast<int32_t>(Below(1000000000)) / unit * unit;
    if (!timestamp && seconds < 0) nanos = -nanos;
    if (!timestamp && seconds == 0 && OneIn(2)) nanos = -nanos;
    r->SetInt64(message, field("seconds"), seconds);
    r->SetInt32(message, field("nanos"), nanos);
    return true;
  }
  if (name == "google.protobuf.FieldMask") {
    const uint32_t n = Below(3);
    for (uint32_t i = 0; i < n; ++i) {
      std::string path = Identifier();
      if (OneIn(2)) absl::StrAppend(&path, ".", Identifier());
      r->AddString(message, field("paths"), path);
    }
    return true;
  }
  if (name == "google.protobuf.Value") {
    FillValue(message, depth);
    return true;
  }
  if (name == "google.protobuf.Struct" || name == "google.protobuf.ListValue") {
    const bool is_struct = name == "google.protobuf.Struct";
    const FieldDescriptor* f = field(is_struct ? "fields" : "values");
    const uint32_t n = depth > 0 ? Below(4) : 0;
    for (uint32_t i = 0; i < n; ++i) {
      Message* item = r->AddMessage(message, f);
      if (is_struct) {
        item->GetReflection()->SetString(item, item->GetDescriptor()->FindFieldByNumber(1),
                                         OneIn(2) ? Identifier() : String());
        FillValue(item->GetReflection()->MutableMessage(
                      item, item->GetDescriptor()->FindFieldByNumber(2)),
                  depth - 1);
        if (HasKeyBefore(*message, f)) r->RemoveLast(message, f);
      } else {
        FillValue(item, depth - 1);
      }
    }
    return true;
  }
  if (name == "google.protobuf.Any") {
    static const char* const kPacked[] = {
        "demo.v1.Sample.Inner",      "bridge.transcode.test.Item", "google.protobuf.Timestamp",
        "google.protobuf.Duration",  "google.protobuf.Value",      "google.protobuf.Struct",
        "google.protobuf.Empty",     "google.protobuf.Int32Value", "google.protobuf.StringValue",
        "google.protobuf.FieldMask", "google.protobuf.Any",        "demo.v1.Sample",
    };
    const Descriptor* packed = nullptr;
    for (int tries = 0; tries < 8 && packed == nullptr; ++tries) {
      packed = type->file()->pool()->FindMessageTypeByName(
          kPacked[Below(sizeof(kPacked) / sizeof(kPacked[0]))]);
    }
    if (packed == nullptr || depth <= 0) return true;  // an empty Any
    google::protobuf::DynamicMessageFactory factory;
    std::unique_ptr<Message> content(factory.GetPrototype(packed)->New());
    Fill(content.get(), depth - 1);
    r->SetString(message, field("type_url"), "type.googleapis.com/" + packed->full_name());
    r->SetString(message, field("value"), content->SerializeAsString());
    return true;
  }
  return false;  // Empty and the wrappers are plain messages
}

void MessageGenerator::FillValue(Message* value, int depth) {
  const Reflection* r = value->GetReflection();
  const Descriptor* type = value->GetDescriptor();
  switch (Below(depth > 0 ? 6 : 4)) {
    case 0:
      r->SetEnumValue(value, type->FindFieldByName("null_value"), 0);
      break;
    case 1: {
      double d = Double();
      if (!std::isfinite(d)) d = 2.5;  // JSON has no non-finite numbers
      r->SetDouble(value, type->FindFieldByName("number_value"), d);
      break;
    }
    case 2:
      r->SetString(value, type->FindFieldByName("string_value"), String());
      break;
    case 3:
      r->SetBool(value, type->FindFieldByName("bool_value"), OneIn(2));
      break;
    case 4:
      Fill(r->MutableMessage(value, type->FindFieldByName("struct_value")), depth - 1);
      break;
    default:
      Fill(r->MutableMessage(value, type->FindFieldByName("list_value")), depth - 1);
      break;
  }
}

}  // namespace bridge::transcode::testing
